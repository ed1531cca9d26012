# micropython-test
# Hot work (R-HOT-1, R-HOT-2) and key work under video (R-VIDEO-2): gateway/hotwork.py
# with its permit book.
from hostcalls import in_parts
from interlock_rig import T0_S, ZONE, Log, People
from mpcheck import raises

from gateway import events, permitissue
from gateway.hotwork import HotWork
from gateway.permits import HOT, KEY_MAINTENANCE, KEY_MEASUREMENT, PermitBook
from gateway.reasons import (
    OK,
    REFUSE_UNKNOWN_PERMIT,
    REFUSE_WATCH_FULL,
    WHY_CLOCK_UNSET,
    WHY_NO_PERMIT,
    WHY_VIDEO,
    WHY_WATCHER_ABSENT,
    WHY_WORKER_ABSENT,
)
from gatewire.errors import ProtocolError

WATCHER = 50


class Site:
    # A hot-work desk: the book, the hot-work rules, the people and a clock.
    def __init__(self, fire_watch_s=3600, capacity=8):
        self.log = Log()
        self.people = People()
        self.book = PermitBook(ZONE, self.log, capacity)
        self.hw = HotWork(self.book, self.people.is_present, self.log, fire_watch_s)
        self.now_ms = 1000
        self.now_s = T0_S

    def issue(self, permit_id=1, start_off_s=0, length_s=600, flags=HOT, watcher=WATCHER):
        start = self.now_s + start_off_s
        return permitissue.issue(
            self.book, permit_id, ZONE, 100 + permit_id, "STM-%d" % permit_id, start,
            start + length_s, watcher, [51, 52], flags, self.now_s,
            watches_busy=self.hw.watching,
        )  # fmt: skip

    def run(self, seconds):
        for _ in range(seconds):
            self.now_ms += 1000
            self.now_s += 1
            self.hw.tick(self.now_ms, self.now_s)

    def run_in_parts(self, seconds, part_s=600):
        # run() in parts for a test in parts (tests/hostcalls.py): a tick makes garbage
        # while the wall clock is a Unix time (a big int on a 32-bit MicroPython), which a
        # board collects between its steps and this port only between host calls.
        while seconds > 0:
            n = min(seconds, part_s)
            self.run(n)
            seconds -= n
            yield


def test_the_permit_conditions_of_the_hot_work_relay():
    # R-HOT-1 and R-HOT-2: a permit in its window, the watcher and a named worker present.
    s = Site()
    assert s.hw.reasons(0) == WHY_CLOCK_UNSET | WHY_NO_PERMIT
    assert s.hw.reasons(s.now_s) == WHY_NO_PERMIT
    assert s.issue(start_off_s=10) == OK
    s.run(1)
    assert s.hw.reasons(s.now_s) == WHY_NO_PERMIT  # not yet open
    s.run(9)
    assert s.hw.reasons(s.now_s) == WHY_WATCHER_ABSENT | WHY_WORKER_ABSENT
    s.people.enter(51)
    assert s.hw.reasons(s.now_s) == WHY_WATCHER_ABSENT
    s.people.enter(WATCHER)
    assert s.hw.reasons(s.now_s) == 0 and s.hw.slot == s.book.find(1)
    s.people.leave(51)
    assert s.hw.reasons(s.now_s) == WHY_WORKER_ABSENT
    s.people.enter(52)
    assert s.hw.reasons(s.now_s) == 0
    assert s.hw.reasons(0) == WHY_CLOCK_UNSET | WHY_NO_PERMIT  # the clock lost: no permit
    s.run(600)
    assert s.hw.reasons(s.now_s) == WHY_NO_PERMIT  # the window is over


@in_parts
def test_a_fire_watch_follows_the_permit_and_ends_with_an_event():
    # R-HOT-2 not firing: the watcher stays the whole hour.
    s = Site(fire_watch_s=3600)
    s.issue()
    s.people.enter(WATCHER, 51)
    s.run(600)
    assert s.log.of(events.PERMIT_ENDED) == [(events.PERMIT_ENDED, 1, 101, 1)]
    assert s.log.of(events.FIRE_WATCH_START) == [(events.FIRE_WATCH_START, WATCHER, 1, 3600)]
    assert s.hw.watching == 1 and not s.hw.alarm
    yield from s.run_in_parts(3599)
    assert s.hw.watching == 1 and not s.log.of(events.FIRE_WATCH_END)
    s.run(1)
    assert s.hw.watching == 0
    assert s.log.of(events.FIRE_WATCH_END) == [(events.FIRE_WATCH_END, WATCHER, 1, 0)]
    assert not s.log.of(events.FIRE_WATCH_LEFT)


@in_parts
def test_a_watcher_leaving_early_alarms_naming_them():
    # R-HOT-2 firing: the dedicated person must stay on site after the work.
    s = Site(fire_watch_s=3600)
    s.issue()
    s.people.enter(WATCHER, 51)
    s.run(600)
    yield from s.run_in_parts(1000)
    s.people.leave(WATCHER)
    s.run(1)
    assert s.hw.alarm
    assert s.log.of(events.FIRE_WATCH_LEFT) == [(events.FIRE_WATCH_LEFT, WATCHER, 1, 2599)]
    s.run(10)
    assert len(s.log.of(events.FIRE_WATCH_LEFT)) == 1  # one alarm event, not one a tick
    s.people.enter(WATCHER)
    s.run(1)
    assert not s.hw.alarm
    assert s.log.of(events.FIRE_WATCH_BACK) == [(events.FIRE_WATCH_BACK, WATCHER, 1, 2588)]
    yield from s.run_in_parts(2588)
    assert s.log.of(events.FIRE_WATCH_END) == [(events.FIRE_WATCH_END, WATCHER, 1, 1)]


def test_revoking_an_open_permit_starts_the_fire_watch_at_once():
    s = Site()
    s.issue()
    s.run(5)
    assert s.hw.revoke(1, s.now_ms) == OK
    assert s.book.count == 0
    assert s.log.of(events.PERMIT_REVOKED) == [(events.PERMIT_REVOKED, 1, 101, 1)]
    assert s.hw.watching == 1 and s.hw.alarm  # the watcher is not even in the zone
    assert s.log.of(events.FIRE_WATCH_LEFT) == [(events.FIRE_WATCH_LEFT, WATCHER, 1, 3600)]


def test_a_permit_revoked_before_its_window_needs_no_fire_watch():
    s = Site()
    s.issue(start_off_s=100)
    s.run(5)
    assert s.hw.revoke(1, s.now_ms) == OK
    assert s.log.of(events.PERMIT_REVOKED) == [(events.PERMIT_REVOKED, 1, 101, 0)]
    assert s.hw.watching == 0 and not s.log.of(events.FIRE_WATCH_START)
    assert s.hw.revoke(1, s.now_ms) == REFUSE_UNKNOWN_PERMIT
    assert raises(ProtocolError, s.hw.revoke, "1", s.now_ms).field == "permit_id"


def test_a_window_open_for_its_first_second_only_still_needs_a_fire_watch():
    # The window opens at start_s itself: hot work may have been done in that second.
    s = Site()
    s.issue(start_off_s=1)
    s.run(1)
    assert s.hw.revoke(1, s.now_ms) == OK
    assert s.hw.watching == 1


def test_key_work_permits_need_no_watch_and_no_watcher():
    s = Site()
    assert s.issue(flags=KEY_MAINTENANCE, watcher=0) == OK
    s.run(700)
    assert s.log.of(events.PERMIT_ENDED) and not s.log.of(events.FIRE_WATCH_START)


@in_parts
def test_the_watch_survives_a_reboot_without_counting_the_power_cut():
    s = Site(fire_watch_s=3600)
    s.issue()
    s.people.enter(WATCHER)
    s.run(600)
    yield from s.run_in_parts(1000)
    saved = s.hw.watches()
    assert saved == [[1, WATCHER, 1000, 0, 0, 0]]
    s2 = Site(fire_watch_s=3600)
    s2.people.enter(WATCHER)
    permitissue.check_watches(s2.hw, saved, 0)
    permitissue.restore_watches(s2.hw, saved, 5)  # ticks restart at boot
    s2.now_ms = 5
    yield from s2.run_in_parts(2599)
    assert s2.hw.watching == 1
    s2.run(1)
    assert s2.log.items == [(events.FIRE_WATCH_END, WATCHER, 1, 0)]


def test_a_bad_watch_list_is_refused():
    s = Site(capacity=2)
    for bad in ("x", [[1, 50, 0, 0, 0]], [[0, 50, 0, 0, 0, 0]], [[1, 50, 0, 1000, 0, 0]]):
        raises(ProtocolError, permitissue.check_watches, s.hw, bad, 0)
    raises(ProtocolError, permitissue.check_watches, s.hw, [[1, 50, 0, 0, 0, 0]] * 2, 1)  # no room


def test_a_hot_permit_is_refused_while_fire_watches_fill_the_book():
    s = Site(capacity=2)
    s.issue(permit_id=1, length_s=10)
    s.run(10)
    s.issue(permit_id=2, length_s=10)
    s.run(10)
    assert s.hw.watching == 2
    assert s.issue(permit_id=3) == REFUSE_WATCH_FULL
    assert s.issue(permit_id=3, flags=KEY_MEASUREMENT, watcher=0) == OK


def test_a_fire_watch_of_zero_seconds_ends_at_once():
    s = Site(fire_watch_s=0)
    s.issue(length_s=5)
    s.run(5)
    assert s.hw.watching == 0
    assert s.log.of(events.FIRE_WATCH_END) == [(events.FIRE_WATCH_END, WATCHER, 1, 0)]


def test_a_clock_set_back_does_not_cancel_the_fire_watch():
    s = Site()
    s.issue()
    s.run(5)
    s.now_s -= 3600  # the host corrects the clock: the window looks unopened now
    s.run(1)
    assert s.hw.reasons(s.now_s) == WHY_NO_PERMIT
    s.hw.revoke(1, s.now_ms)
    assert s.hw.watching == 1


def test_key_work_is_halted_without_video_and_resumed_with_it():
    # R-VIDEO-2: key maintenance and key measurement only under video.
    s = Site()
    s.issue(permit_id=3, flags=KEY_MAINTENANCE, watcher=0, start_off_s=10)
    s.hw.key_work(s.now_s, False)  # not open yet: nothing to halt (not firing)
    assert not s.log.of(events.KEY_WORK_HALTED)
    assert not s.hw.permit_valid(3, s.now_s, True)
    s.run(10)
    assert s.hw.permit_valid(3, s.now_s, True)
    assert not s.hw.permit_valid(3, s.now_s, False)
    s.hw.key_work(s.now_s, True)
    assert not s.log.of(events.KEY_WORK_HALTED)
    s.hw.key_work(s.now_s, False)
    s.hw.key_work(s.now_s, False)
    assert s.log.of(events.KEY_WORK_HALTED) == [(events.KEY_WORK_HALTED, 3, WHY_VIDEO, 103)]
    s.hw.key_work(s.now_s, True)
    assert s.log.of(events.KEY_WORK_RESUMED) == [(events.KEY_WORK_RESUMED, 3, 0, 103)]


def test_permit_validity_of_plain_hot_work_also_needs_video():
    s = Site()
    s.issue()
    s.run(1)
    assert s.hw.permit_valid(1, s.now_s, True)
    assert not s.hw.permit_valid(1, s.now_s, False)
    assert not s.hw.permit_valid(1, 0, True)
    assert not s.hw.permit_valid(2, s.now_s, True)


def test_fire_watch_argument_is_checked():
    log = Log()
    book = PermitBook(ZONE, log)
    assert raises(ProtocolError, HotWork, book, None, log, -1).field == "fire_watch_s"
    assert raises(ProtocolError, HotWork, book, None, log, 86401).field == "fire_watch_s"
