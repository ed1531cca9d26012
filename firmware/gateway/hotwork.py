# Hot work (R-HOT-1, R-HOT-2): the permit side of the hot-work relay, the permits' life
# (window opens, ends, revoked) and the fire watch that follows every hot-work permit
# whose window was open: for fire_watch_s (default 3 600 s, the regulations' one hour)
# the permit's fire-watcher must stay in the zone; leaving early is an alarm naming them.
#
# The watch is timed on the monotonic clock, added up tick by tick, and a snapshot keeps
# what has elapsed: after a power cut the watch resumes where it was, so power-off time
# never counts towards it (a watch is never shorter than fire_watch_s of watching).
from gateway import events
from gateway.checks import check_int
from gateway.elapsed import Stopwatch
from gateway.permits import HOT, ID_MAX, KEY_WORK
from gateway.reasons import (
    OK,
    REFUSE_UNKNOWN_PERMIT,
    WHY_CLOCK_UNSET,
    WHY_NO_PERMIT,
    WHY_VIDEO,
    WHY_WATCHER_ABSENT,
    WHY_WORKER_ABSENT,
)

# A fire watch in a snapshot: [permit id, watcher, elapsed s, elapsed ms, times left, away]
WATCH_LEN = 6


class HotWork:
    def __init__(self, book, is_present, emit, fire_watch_s=3600):
        check_int("fire_watch_s", fire_watch_s, 0, 86400)
        self.book = book
        self.fire_watch_s = fire_watch_s
        self._is_present = is_present
        self._emit = emit
        cap = book.capacity  # book.issue keeps hot permits + watches within it
        self._w_used = bytearray(cap)
        self._w_permit = [0] * cap
        self._w_watcher = [0] * cap
        self._w_left = [0] * cap  # times the watcher left during the watch
        self._w_away = bytearray(cap)
        self._w_clock = [Stopwatch() for _ in range(cap)]
        self.watching = 0  # fire watches running
        self.alarm = False  # R-HOT-2: a fire-watcher is away during a watch
        self.slot = -1  # the hot-work permit in its window at the last reasons() call

    # ---- commands ----

    def revoke(self, permit_id, now_ms):
        check_int("permit_id", permit_id, 1, ID_MAX)
        slot = self.book.find(permit_id)
        if slot < 0:
            return REFUSE_UNKNOWN_PERMIT
        self._finish(slot, events.PERMIT_REVOKED, now_ms)
        return OK

    # ---- every tick ----

    def tick(self, now_ms, now_s):
        # now_s counts from the book's epoch_s (gateway/permits.py).
        book = self.book
        now_c = book.clock(now_s)
        if now_c > 0:
            for slot in range(book.capacity):
                if not book.ids[slot]:
                    continue
                if now_c >= book.c_ends[slot]:
                    self._finish(slot, events.PERMIT_ENDED, now_ms)
                elif book.c_starts[slot] <= now_c:
                    book.began[slot] = 1
        self._watch(now_ms)

    def reasons(self, now_s):
        # The permit and people conditions of the hot-work relay (R-HOT-1, R-HOT-2).
        if self.book.clock(now_s) <= 0:
            self.slot = -1
            return WHY_CLOCK_UNSET | WHY_NO_PERMIT
        book = self.book
        slot = book.hot_in_window(now_s)
        self.slot = slot
        if slot < 0:
            return WHY_NO_PERMIT
        why = 0
        if not self._is_present(book.watchers[slot]):
            why |= WHY_WATCHER_ABSENT
        if not book.any_worker_present(slot, self._is_present):
            why |= WHY_WORKER_ABSENT
        return why

    def key_work(self, now_s, video_ok):
        # R-VIDEO-2: key maintenance and key measurement only under video.
        book = self.book
        now_c = book.clock(now_s)
        for slot in range(book.capacity):
            if not book.ids[slot] or not book.flags[slot] & KEY_WORK:
                continue
            open_now = book.in_window_c(slot, now_c)
            if open_now and not video_ok:
                if not book.halted[slot]:
                    book.halted[slot] = 1
                    self._emit(events.KEY_WORK_HALTED, book.ids[slot], WHY_VIDEO, book.jobs[slot])
            elif book.halted[slot]:
                book.halted[slot] = 0
                if open_now:
                    self._emit(events.KEY_WORK_RESUMED, book.ids[slot], 0, book.jobs[slot])

    def permit_valid(self, permit_id, now_s, video_ok):
        # The ticket's own conditions: in the book, inside its window on a set clock, and
        # under video when it is hot or key work (R-VIDEO-2, R-HOT-2).
        book = self.book
        slot = book.find(permit_id)
        if slot < 0 or not book.in_window(slot, now_s):
            return False
        return video_ok or not book.flags[slot] & (HOT | KEY_WORK)

    # ---- fire watch ----

    def _finish(self, slot, kind, now_ms):
        book = self.book
        hot_begun = book.flags[slot] & HOT and book.began[slot]
        permit_id = book.ids[slot]
        watcher = book.watchers[slot]
        book.remove(slot, kind)
        if hot_begun:
            self._start_watch(permit_id, watcher, now_ms, 0, 0, 0, 0, True)
            self._watch(now_ms)

    def _start_watch(self, permit_id, watcher, now_ms, s, ms, left, away, new):
        w = 0
        while self._w_used[w]:  # room was kept at issue (REFUSE_WATCH_FULL)
            w += 1
        self._w_used[w] = 1
        self._w_permit[w] = permit_id
        self._w_watcher[w] = watcher
        self._w_left[w] = left
        self._w_away[w] = away
        self._w_clock[w].start(now_ms, s, ms)
        self.watching += 1
        if new:
            self._emit(events.FIRE_WATCH_START, watcher, permit_id, self.fire_watch_s)

    def _watch(self, now_ms):
        away_any = False
        for w in range(len(self._w_used)):
            if not self._w_used[w]:
                continue
            clock = self._w_clock[w]
            clock.advance(now_ms)
            watcher = self._w_watcher[w]
            if clock.s >= self.fire_watch_s:
                self._w_used[w] = 0
                clock.stop()
                self.watching -= 1
                self._emit(events.FIRE_WATCH_END, watcher, self._w_permit[w], self._w_left[w])
                continue
            present = self._is_present(watcher)
            if not present and not self._w_away[w]:
                self._w_away[w] = 1
                self._w_left[w] += 1
                left_s = self.fire_watch_s - clock.s
                self._emit(events.FIRE_WATCH_LEFT, watcher, self._w_permit[w], left_s)
            elif present and self._w_away[w]:
                self._w_away[w] = 0
                left_s = self.fire_watch_s - clock.s
                self._emit(events.FIRE_WATCH_BACK, watcher, self._w_permit[w], left_s)
            if self._w_away[w]:
                away_any = True
        self.alarm = away_any

    # ---- persistence ----

    def watches(self):
        out = []
        for w in range(len(self._w_used)):
            if self._w_used[w]:
                c = self._w_clock[w]
                out.append(
                    [
                        self._w_permit[w],
                        self._w_watcher[w],
                        c.s,
                        c.ms,
                        self._w_left[w],
                        self._w_away[w],
                    ]
                )
        return out
