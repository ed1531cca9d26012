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
from gateway.caps import now_clock
from gateway.checks import bad_field, check_int

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


HOT = const(1)
KEY_MAINTENANCE = const(2)
KEY_MEASUREMENT = const(4)
KEY_WORK = const(6)
ALL_FLAGS = const(7)  # every flag above

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

    def find(self, permit_id):
        for slot in range(self.capacity):
            if self.ids[slot] and self.ids[slot] == permit_id:
                return slot
        return -1

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

    def active_count(self, now_s):
        # Permits inside their window now (status reply).
        n = 0
        now_c = self.clock(now_s)
        for slot in range(self.capacity):
            if self.ids[slot] and self.in_window_c(slot, now_c):
                n += 1
        return n
