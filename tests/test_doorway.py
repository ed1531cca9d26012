# micropython-test
# Direction from two read points (gateway/doorway.py): a read at one point only,
# repeated reads, several people at once, turning back, dithering in the overlap, and the
# R-ID-2 signs a doorway can see (a tag read on and on without crossing, low battery).
from zonekit import Recorder

from gateway import events
from gateway.doorway import INNER, OUTER, REFUSED, Doorway

SETTLE_MS = 2000
WINDOW_MS = 8000
STILL_MS = 60000


class Rig:
    def __init__(self, capacity=8, still_ms=STILL_MS, t=1000):
        self.rec = Recorder()
        self.crossed = []
        self.d = Doorway(capacity, SETTLE_MS, WINDOW_MS, still_ms, self.rec, self._on_cross)
        self.t = t

    def _on_cross(self, tag, into_zone):
        self.crossed.append((tag, into_zone))

    def read(self, tag, points, step_ms=250, battery_low=0):
        for p in points:
            self.d.read(p, tag, battery_low, self.t)
            self.advance(step_ms)

    def advance(self, ms):
        end = self.t + ms
        while self.t < end:
            self.t += 50 if end - self.t >= 50 else end - self.t
            self.d.tick(self.t)


def test_outer_then_inner_is_one_entry():
    r = Rig()
    r.read(7, (OUTER, OUTER, INNER, INNER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, True)]
    assert r.d.n == 0


def test_inner_then_outer_is_one_exit():
    r = Rig()
    r.read(7, (INNER, OUTER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, False)]


def test_crossing_waits_for_settle_after_last_origin_read():
    r = Rig()
    r.read(7, (OUTER,), step_ms=0)
    r.read(7, (INNER,), step_ms=0)
    r.advance(SETTLE_MS - 100)
    assert r.crossed == []
    r.advance(200)
    assert r.crossed == [(7, True)]


def test_read_at_one_point_only_is_no_crossing():
    r = Rig()
    r.read(7, (OUTER, OUTER, OUTER))
    r.read(8, (INNER, INNER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == []
    assert r.rec.log == []  # nobody crossed and nobody turned back
    assert r.d.n == 0


def test_repeated_reads_count_once():
    r = Rig()
    r.read(7, (OUTER,) * 12, step_ms=100)
    r.read(7, (INNER,) * 12, step_ms=100)
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, True)]


def test_several_people_crossing_together():
    r = Rig()
    # Three tags in, one out, their reads interleaved as a group passes.
    for p in (OUTER, OUTER, INNER, INNER):
        for tag in (1, 2, 3):
            r.d.read(p, tag, 0, r.t)
        r.d.read(INNER if p == OUTER else OUTER, 9, 0, r.t)
        r.advance(200)
    r.advance(WINDOW_MS + 1000)
    assert sorted(r.crossed) == [(1, True), (2, True), (3, True), (9, False)]


def test_turning_back_in_the_doorway_is_no_crossing_and_an_event():
    r = Rig()
    r.read(7, (OUTER, OUTER, INNER, OUTER, OUTER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == []
    assert r.rec.of(events.TURNED_BACK) == [(events.TURNED_BACK, 7, OUTER, 0)]


def test_no_turned_back_event_after_a_real_crossing():
    r = Rig()
    r.read(7, (OUTER, INNER))
    r.advance(WINDOW_MS + 1000)
    assert r.rec.of(events.TURNED_BACK) == []


def test_dithering_in_the_overlap_then_going_in_counts_once():
    r = Rig()
    r.read(7, (OUTER, INNER) * 10, step_ms=300)
    assert r.crossed == []  # read at the origin all along: not yet across
    r.read(7, (INNER, INNER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, True)]


def test_in_and_straight_back_out_is_two_crossings():
    r = Rig()
    r.read(7, (OUTER, INNER, INNER))
    r.advance(SETTLE_MS + 500)
    assert r.crossed == [(7, True)]
    r.read(7, (INNER, OUTER, OUTER))
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, True), (7, False)]


def test_r_id_2_tag_read_on_and_on_without_crossing_alarms_once():
    r = Rig(still_ms=STILL_MS)
    for _ in range(STILL_MS // 1000 + 30):
        r.read(7, (OUTER,), step_ms=1000)
    got = r.rec.of(events.TAG_STATIONARY)
    assert len(got) == 1
    assert got[0][1] == 7 and got[0][2] == OUTER
    assert got[0][3] >= STILL_MS // 1000


def test_r_id_2_tag_lying_in_the_overlap_alarms_too():
    r = Rig(still_ms=STILL_MS)
    for _ in range(STILL_MS // 1000 + 10):
        r.read(7, (OUTER, INNER), step_ms=500)
    assert len(r.rec.of(events.TAG_STATIONARY)) == 1
    assert r.crossed == []


def test_r_id_2_no_stationary_alarm_for_people_walking_through():
    r = Rig(still_ms=STILL_MS)
    for tag in range(1, 40):
        r.read(tag, (OUTER, OUTER, INNER, INNER), step_ms=500)
        r.advance(1000)
    r.advance(WINDOW_MS + 1000)
    assert r.rec.of(events.TAG_STATIONARY) == []
    assert len(r.crossed) == 39


def test_r_id_2_stationary_alarm_rearms_after_the_tag_crosses():
    r = Rig(still_ms=STILL_MS)
    r.read(7, (OUTER,) * (STILL_MS // 1000 + 5), step_ms=1000)
    assert len(r.rec.of(events.TAG_STATIONARY)) == 1
    r.read(7, (INNER,) * (STILL_MS // 1000 + 5), step_ms=1000)
    got = r.rec.of(events.TAG_STATIONARY)
    assert r.crossed == [(7, True)]
    assert len(got) == 2 and got[1][2] == INNER


def test_stationary_alarm_off_when_configured_zero():
    r = Rig(still_ms=0)
    for _ in range(100):
        r.read(7, (OUTER,), step_ms=1000)
    assert r.rec.of(events.TAG_STATIONARY) == []


def test_low_battery_reported_once_per_passage():
    r = Rig()
    r.read(7, (OUTER, OUTER, INNER, INNER), battery_low=1)
    r.advance(WINDOW_MS + 1000)
    assert r.rec.of(events.TAG_BATTERY_LOW) == [(events.TAG_BATTERY_LOW, 7, OUTER, 0)]
    r.read(8, (OUTER, INNER), battery_low=0)
    r.advance(WINDOW_MS + 1000)
    assert len(r.rec.of(events.TAG_BATTERY_LOW)) == 1


def test_full_doorway_reports_once_and_recovers():
    r = Rig(capacity=2)
    r.read(1, (OUTER,), step_ms=0)
    r.read(2, (OUTER,), step_ms=0)
    assert r.d.read(OUTER, 3, 0, r.t) == -1
    assert r.d.read(OUTER, 4, 0, r.t) == -1
    assert r.rec.of(events.DOORWAY_FULL) == [(events.DOORWAY_FULL, 3, 2, 0)]
    r.advance(WINDOW_MS + 1000)
    assert r.d.read(OUTER, 3, 0, r.t) >= 0


def test_read_returns_slot_only_for_a_new_track():
    r = Rig()
    slot = r.d.read(OUTER, 7, 0, r.t)
    assert slot == 0
    assert r.d.read(OUTER, 7, 0, r.t) == -1
    assert r.d.read(INNER, 7, 0, r.t) == -1


def test_refusal_flags_cleared_by_the_crossing():
    r = Rig()
    slot = r.d.read(OUTER, 7, 0, r.t)
    r.d.set_flags(slot, r.d.flags(slot) | REFUSED)
    assert r.d.waiting_refused()
    r.read(7, (INNER, INNER))
    r.advance(SETTLE_MS + 500)
    assert r.crossed == [(7, True)]
    assert not r.d.waiting_refused()


def test_crossing_across_the_ticks_wrap():
    # MicroPython's ticks_ms wraps at 2**30; a crossing spanning it still counts.
    r = Rig(t=(1 << 30) - 300)
    r.read(7, (OUTER, OUTER, INNER, INNER))
    r.t &= (1 << 30) - 1
    r.advance(WINDOW_MS + 1000)
    assert r.crossed == [(7, True)]
    assert r.d.n == 0
