# Direction of travel from two read points: outer (0) and inner (1). Readers report a tag
# over and over while it is in their field, so each tag in the doorway gets a track:
# the point it came from (origin), the last point it was read at, and when. A crossing
# completes once the tag was read at the other point and has then gone `settle_ms`
# without a read at its origin; so someone dithering in the overlap of the two fields, or
# turning back, never counts, and a crowd is simply several tracks at once. A track ends
# `window_ms` after its last read; one that reached the other point but left by the way
# it came is a TURNED_BACK event, one read at a single point only is nobody crossing.
#
# R-ID-2 tag-person separation, as a doorway can see it: readers only cover the entrance,
# and a person walks through a read field in seconds. A tag that goes on being read in
# the doorway for `still_ms` without completing a crossing (hung on a hook, dropped,
# left with a colleague at the door) is the observable sign of a tag without its person.
from array import array

from gateway.events import DOORWAY_FULL, TAG_BATTERY_LOW, TAG_STATIONARY, TURNED_BACK
from gateway.ledger import TICKS_MASK, ticks_age

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


OUTER = const(0)
INNER = const(1)

# Track flags. The zone owns REFUSED and REFUSAL_LOGGED; the doorway clears them when a
# crossing completes, since they are about the approach just made.
VISITED = const(1)  # read at the point opposite its origin
REFUSED = const(2)  # the zone would refuse this approach now
REFUSAL_LOGGED = const(4)
STILL_LOGGED = const(8)
BATTERY_LOGGED = const(16)
LEFT = const(32)  # just went out: lingering outside is no approach until read inside again
_KEPT_ON_CROSSING = const(16)  # BATTERY_LOGGED: one report a passage is enough


def _u32s(n):
    return array("I", range(n))


class Doorway:
    # on_cross(tag, into_zone) is called from tick() for each completed crossing.
    def __init__(self, capacity, settle_ms, window_ms, still_ms, emit, on_cross):
        self.capacity = capacity
        self.settle_ms = settle_ms
        self.window_ms = window_ms
        self.still_ms = still_ms  # 0: no stationary-tag alarm
        self._emit = emit
        self._on_cross = on_cross
        self.n = 0
        self._tag = _u32s(capacity)
        self._origin = bytearray(capacity)
        self._last = bytearray(capacity)
        self._flags = bytearray(capacity)
        self._t_origin = _u32s(capacity)  # last read at the origin
        self._t_last = _u32s(capacity)  # last read anywhere
        self._t_since = _u32s(capacity)  # track start or last crossing
        self._full_logged = False

    def find(self, tag):
        tags = self._tag
        for i in range(self.n):
            if tags[i] == tag:
                return i
        return -1

    def read(self, point, tag, battery_low, now_ms):
        # Returns the slot of a track this read started, else -1.
        m = now_ms & TICKS_MASK
        i = self.find(tag)
        new = -1
        if i < 0:
            i = self.n
            if i >= self.capacity:
                # Not tracked: this person's crossing goes uncounted, so say so (once
                # while the doorway stays full); the beam counter will show the gap too.
                if not self._full_logged:
                    self._full_logged = True
                    self._emit(DOORWAY_FULL, tag, self.capacity, 0)
                return -1
            self.n = i + 1
            self._tag[i] = tag
            self._origin[i] = point
            self._last[i] = point
            self._flags[i] = 0
            self._t_origin[i] = m
            self._t_since[i] = m
            new = i
        elif point == self._origin[i]:
            self._t_origin[i] = m
        else:
            self._flags[i] = (self._flags[i] | VISITED) & ~LEFT
        self._last[i] = point
        self._t_last[i] = m
        if battery_low and not self._flags[i] & BATTERY_LOGGED:
            self._flags[i] = self._flags[i] | BATTERY_LOGGED
            self._emit(TAG_BATTERY_LOW, tag, point, 0)
        return new

    def tick(self, now_ms):
        m = now_ms & TICKS_MASK
        i = 0
        while i < self.n:
            origin = self._origin[i]
            last = self._last[i]
            if last != origin and ticks_age(m, self._t_origin[i]) >= self.settle_ms:
                self._origin[i] = last
                self._t_origin[i] = self._t_last[i]
                self._t_since[i] = m
                kept = self._flags[i] & _KEPT_ON_CROSSING
                self._flags[i] = kept if origin == OUTER else kept | LEFT
                self._on_cross(self._tag[i], origin == OUTER)
                origin = last
            if ticks_age(m, self._t_last[i]) >= self.window_ms:
                if self._flags[i] & VISITED:
                    self._emit(TURNED_BACK, self._tag[i], origin, 0)
                self._drop(i)
                continue
            if (
                self.still_ms
                and not self._flags[i] & STILL_LOGGED
                and ticks_age(m, self._t_since[i]) >= self.still_ms
            ):
                self._flags[i] = self._flags[i] | STILL_LOGGED
                self._emit(
                    TAG_STATIONARY, self._tag[i], last, ticks_age(m, self._t_since[i]) // 1000
                )
            i += 1
        if self.n < self.capacity:
            self._full_logged = False

    def _drop(self, i):
        last = self.n - 1
        if i != last:
            self._tag[i] = self._tag[last]
            self._origin[i] = self._origin[last]
            self._last[i] = self._last[last]
            self._flags[i] = self._flags[last]
            self._t_origin[i] = self._t_origin[last]
            self._t_last[i] = self._t_last[last]
            self._t_since[i] = self._t_since[last]
        self.n = last

    def clear(self):
        self.n = 0
        self._full_logged = False

    def tag(self, i):
        return self._tag[i]

    def origin(self, i):
        return self._origin[i]

    def flags(self, i):
        return self._flags[i]

    def set_flags(self, i, flags):
        self._flags[i] = flags

    def approaching(self, i):
        # Is track i someone coming from outside towards the zone?
        return self._origin[i] == OUTER and not self._flags[i] & LEFT

    def waiting_refused(self):
        # Is anyone approaching from outside whom the zone would refuse?
        for i in range(self.n):
            if self._flags[i] & REFUSED and self.approaching(i):
                return True
        return False
