# The zone's permit book (R-HOT-1, R-VIDEO-2): authenticated permits (the app checks the
# command's HMAC before this sees it), bounded, in fixed slots so that the per-tick checks
# allocate nothing. One permit is one job, one safety technical measure, one ticket: a
# permit id, a job id, the measure's reference (a text, as gatewire's permit carries it),
# a window [start_s, end_s) in wall-clock seconds, named workers and, for hot work, a
# named fire-watcher who is none of them.
#
# Flags: HOT (hot work: the hot-work relay, gas at most 0.5 %, the fire watch) and the
# R-VIDEO-2 kinds KEY_MAINTENANCE / KEY_MEASUREMENT (valid only while video is up). Only
# one hot-work permit may be in the book for any instant: a second one whose window
# overlaps is refused, so the relay can never be on under two tickets.
#
# Windows are kept as given (unix seconds: the wire, the snapshot, the listing) and, for
# the checks every tick, as clock seconds bounded to the clock's range (caps.clock_bound),
# so that a tick compares small ints; now_s counts from the book's epoch_s (caps.now_clock).
from gateway import events
from gateway.caps import clock_bound, now_clock
from gateway.checks import bad_field, check_int
from gateway.reasons import (
    OK,
    REFUSE_BOOK_FULL,
    REFUSE_CLOCK_UNSET,
    REFUSE_DUPLICATE,
    REFUSE_ENDED,
    REFUSE_OVERLAP,
    REFUSE_WATCH_FULL,
    REFUSE_WRONG_ZONE,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


HOT = const(1)
KEY_MAINTENANCE = const(2)
KEY_MEASUREMENT = const(4)
KEY_WORK = const(6)
_ALL_FLAGS = const(7)

MAX_WORKERS = const(16)  # gatewire.messages.PERMIT_WORKERS_MAX
MEASURE_REF_MAX = const(32)  # characters, as gatewire's names
MAX_CAPACITY = const(32)
ID_MAX = const(0x3FFFFFFF)  # ids and person ids: small ints on a 32-bit board
TIME_MAX = 0xFFFFFFFF  # wall-clock seconds as the event log stores them (u32)

# An entry of entries() / restore(): [permit id, job id, measure ref, start_s, end_s,
# watcher, flags, began (0/1), [workers]]
ENTRY_LEN = const(9)


class PermitBook:
    def __init__(self, zone_id, emit, capacity=8, max_window_s=43200, epoch_s=0):
        if not isinstance(zone_id, str) or not zone_id:
            raise bad_field("zone_id", "expected a non-empty text")
        check_int("permit_capacity", capacity, 1, MAX_CAPACITY)
        # One ticket covers one job in one shift; 12 h is the longest shift pattern.
        check_int("max_permit_s", max_window_s, 60, 86400)
        self.zone_id = zone_id
        self.epoch_s = epoch_s
        self.capacity = capacity
        self.max_window_s = max_window_s
        self._emit = emit
        self.ids = [0] * capacity  # 0: free slot
        self.jobs = [0] * capacity
        self.measures = [""] * capacity
        self.starts = [0] * capacity
        self.ends = [0] * capacity
        self.c_starts = [0] * capacity  # clock_bound(starts[slot])
        self.c_ends = [0] * capacity
        self.watchers = [0] * capacity
        self.flags = [0] * capacity
        self.workers = [[0] * MAX_WORKERS for _ in range(capacity)]
        self.n_workers = bytearray(capacity)
        self.began = bytearray(capacity)  # its window was seen open (hot work may have been done)
        self.halted = bytearray(capacity)  # R-VIDEO-2: key work halted for lack of video
        self.count = 0

    def validate(self, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags):
        # Raises ProtocolError(E_BAD_FIELD) naming the first bad field; changes nothing.
        check_int("permit_id", permit_id, 1, ID_MAX)
        check_int("job_id", job_id, 1, ID_MAX)
        if not isinstance(measure_ref, str) or not 1 <= len(measure_ref) <= MEASURE_REF_MAX:
            raise bad_field("measure_ref", "expected a text of 1..%d characters" % MEASURE_REF_MAX)
        check_int("start_s", start_s, 1, TIME_MAX)
        check_int("end_s", end_s, 1, TIME_MAX)
        if end_s <= start_s:
            raise bad_field("end_s", "the window must end after it starts")
        if end_s - start_s > self.max_window_s:
            raise bad_field("end_s", "the window is longer than %d s" % self.max_window_s)
        check_int("flags", flags, 1, _ALL_FLAGS)
        if not isinstance(workers, (list, tuple)) or not 1 <= len(workers) <= MAX_WORKERS:
            raise bad_field("workers", "expected 1..%d person ids" % MAX_WORKERS)
        for i in range(len(workers)):
            check_int("workers", workers[i], 1, ID_MAX)
            for j in range(i):
                if workers[j] == workers[i]:
                    raise bad_field("workers", "person %d named twice" % workers[i])
        if flags & HOT:
            check_int("watcher", watcher, 1, ID_MAX)  # R-HOT-2: a dedicated person on site
        else:
            check_int("watcher", watcher, 0, ID_MAX)
        if watcher and watcher in workers:
            raise bad_field("watcher", "the fire-watcher must not be one of the workers")

    def issue(
        self,
        permit_id,
        zone_id,
        job_id,
        measure_ref,
        start_s,
        end_s,
        watcher,
        workers,
        flags,
        now_s,
        watches_busy=0,
    ):
        # Returns OK or a REFUSE_* code; raises ProtocolError for a malformed field.
        if not isinstance(zone_id, str):
            raise bad_field("zone_id", "expected a text")
        self.validate(permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags)
        if zone_id != self.zone_id:
            return REFUSE_WRONG_ZONE
        now_c = self.clock(now_s)
        if not now_c:
            return REFUSE_CLOCK_UNSET
        if clock_bound(end_s) <= now_c:
            return REFUSE_ENDED
        if self.find(permit_id) >= 0:
            return REFUSE_DUPLICATE
        if flags & HOT and self._overlapping(start_s, end_s) >= 0:
            return REFUSE_OVERLAP  # R-HOT-1: one job, one ticket
        if self.count >= self.capacity:
            return REFUSE_BOOK_FULL
        # R-HOT-2: each hot permit ends in a fire watch; keep a watch slot for it.
        if flags & HOT and self.hot_count() + watches_busy >= self.capacity:
            return REFUSE_WATCH_FULL
        self._put(permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags, 0)
        self._emit(events.PERMIT_ISSUED, permit_id, job_id, flags)
        return OK

    def _put(self, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags, began):
        slot = self.ids.index(0)
        self.ids[slot] = permit_id
        self.jobs[slot] = job_id
        self.measures[slot] = measure_ref
        self.starts[slot] = start_s
        self.ends[slot] = end_s
        self.c_starts[slot] = clock_bound(start_s)
        self.c_ends[slot] = clock_bound(end_s)
        self.watchers[slot] = watcher
        self.flags[slot] = flags
        row = self.workers[slot]
        for i in range(MAX_WORKERS):
            row[i] = workers[i] if i < len(workers) else 0
        self.n_workers[slot] = len(workers)
        self.began[slot] = 1 if began else 0
        self.halted[slot] = 0
        self.count += 1

    def _overlapping(self, start_s, end_s, skip=-1):
        for slot in range(self.capacity):
            if slot == skip or not self.ids[slot] or not self.flags[slot] & HOT:
                continue
            if start_s < self.ends[slot] and self.starts[slot] < end_s:
                return slot
        return -1

    def find(self, permit_id):
        for slot in range(self.capacity):
            if self.ids[slot] and self.ids[slot] == permit_id:
                return slot
        return -1

    def hot_count(self):
        n = 0
        for slot in range(self.capacity):
            if self.ids[slot] and self.flags[slot] & HOT:
                n += 1
        return n

    def clock(self, now_s):
        # now_s as clock seconds, 0 while the wall clock is unknown.
        return now_clock(now_s, self.epoch_s)

    def in_window(self, slot, now_s):
        return self.in_window_c(slot, self.clock(now_s))

    def in_window_c(self, slot, now_c):
        return 0 < now_c and self.c_starts[slot] <= now_c and now_c < self.c_ends[slot]

    def hot_in_window(self, now_s):
        now_c = self.clock(now_s)
        if now_c <= 0:
            return -1
        for slot in range(self.capacity):
            if self.ids[slot] and self.flags[slot] & HOT and self.in_window_c(slot, now_c):
                return slot
        return -1

    def any_worker_present(self, slot, is_present):
        row = self.workers[slot]
        for i in range(self.n_workers[slot]):
            if is_present(row[i]):
                return True
        return False

    def remove(self, slot, kind):
        # kind: events.PERMIT_REVOKED or events.PERMIT_ENDED
        permit_id = self.ids[slot]
        self.ids[slot] = 0
        self.count -= 1
        self._emit(kind, permit_id, self.jobs[slot], self.began[slot])

    def entry(self, slot):
        return [
            self.ids[slot],
            self.jobs[slot],
            self.measures[slot],
            self.starts[slot],
            self.ends[slot],
            self.watchers[slot],
            self.flags[slot],
            self.began[slot],
            self.workers[slot][: self.n_workers[slot]],
        ]

    def entries(self):
        return [self.entry(slot) for slot in range(self.capacity) if self.ids[slot]]

    def listing(self):
        # The permit-list reply: the permit fields by name (tests/messages_schema.py PERMIT_FIELDS).
        out = []
        for slot in range(self.capacity):
            if self.ids[slot]:
                out.append(
                    {
                        "permit_id": self.ids[slot],
                        "job_id": self.jobs[slot],
                        "measure_ref": self.measures[slot],
                        "start_s": self.starts[slot],
                        "end_s": self.ends[slot],
                        "workers": self.workers[slot][: self.n_workers[slot]],
                        "fire_watcher": self.watchers[slot],
                        "flags": self.flags[slot],
                    }
                )
        return out

    def active_count(self, now_s):
        # Permits inside their window now (status reply).
        n = 0
        now_c = self.clock(now_s)
        for slot in range(self.capacity):
            if self.ids[slot] and self.in_window_c(slot, now_c):
                n += 1
        return n

    def check_entries(self, items):
        # Raises ProtocolError unless items is a list restore() can take whole.
        if not isinstance(items, list) or len(items) > self.capacity:
            raise bad_field("permits", "expected a list of at most %d permits" % self.capacity)
        for k in range(len(items)):
            e = items[k]
            if not isinstance(e, list) or len(e) != ENTRY_LEN:
                raise bad_field("permits", "each permit is a list of %d fields" % ENTRY_LEN)
            self.validate(e[0], e[1], e[2], e[3], e[4], e[5], e[8], e[6])
            check_int("began", e[7], 0, 1)
            for j in range(k):
                other = items[j]
                if other[0] == e[0]:
                    raise bad_field("permit_id", "permit %d stored twice" % e[0])
                if e[6] & HOT and other[6] & HOT and e[3] < other[4] and other[3] < e[4]:
                    raise bad_field(
                        "start_s", "hot-work permits %d and %d overlap" % (other[0], e[0])
                    )

    def restore(self, items):
        self.check_entries(items)
        for slot in range(self.capacity):
            self.ids[slot] = 0
        self.count = 0
        for e in items:
            self._put(e[0], e[1], e[2], e[3], e[4], e[5], e[8], e[6], e[7])
