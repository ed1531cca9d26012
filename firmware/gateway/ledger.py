# The ledger (R-ID-1): who is in the zone (underground, for a shaft) and since when.
# Fixed capacity, preallocated: rows are dense parallel arrays (removal moves the last row
# into the hole) and an open-addressing table maps tag -> row, so a lookup costs a few
# probes and nothing on the path of a crossing allocates.
#
# Times: since_s is the wall clock in unix seconds (0 = unknown then), as the snapshot
# stores it; since_ms is the monotonic clock kept modulo 2**30 like MicroPython's
# ticks_ms, so ages are exact up to 12.4 days. A unix time is a big int on a 32-bit
# board, so the crossing path writes and moves since_s as bytes (set_since, remove):
# reading or storing it as an int would allocate one each time.
from array import array

try:
    import uctypes
except ImportError:
    uctypes = None

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


TICKS_MASK = const(0x3FFFFFFF)
MAX_CAPACITY = const(8192)

# Row flags
FLAG_OVERSTAY = const(1)  # the overstay alarm fired for this stay
FLAG_OVER_CAP = const(2)  # entered over the cap (R-CAP-11)
FLAG_UNKNOWN = const(4)  # tag not in the roster at entry


def ticks_age(now_ms, then_ms):
    # Milliseconds from then_ms to now_ms on the wrapping 2**30 clock; never negative, so
    # a clock jump of days reads as "long ago", which is the safe side for every timeout.
    return (now_ms - then_ms) & TICKS_MASK


def _u32s(n):
    # From a range, so no temporary buffer the size of the array is made.
    return array("I", range(n))


def _bytes_of(arr, n):
    # The array's memory as bytes, written through without a copy.
    if uctypes is not None:
        return uctypes.bytearray_at(uctypes.addressof(arr), n)
    return memoryview(arr).cast("B")


def _home(tag, mask):
    return (tag ^ (tag >> 11) ^ (tag >> 21)) & mask


class Ledger:
    def __init__(self, capacity):
        if not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
            raise ValueError("ledger capacity %r is not 1..%d" % (capacity, MAX_CAPACITY))
        self.capacity = capacity
        size = 1
        while size < 2 * capacity:
            size <<= 1
        self._mask = size - 1
        self._slot = array("H", range(size))  # row + 1, 0 = empty (cleared below)
        self._tag = _u32s(capacity)
        self._person = _u32s(capacity)
        self._since_s = _u32s(capacity)
        self._since_b = _bytes_of(self._since_s, 4 * capacity)  # little-endian on both ports
        self._since_ms = _u32s(capacity)
        self._role = bytearray(capacity)
        self._crew = bytearray(capacity)
        self._flags = bytearray(capacity)
        self.crew_count = array("H", range(3))  # people in by roles.CREW_*
        self.clear()

    @property
    def count(self):
        return self.n + self.overflow

    @property
    def full(self):
        return self.n >= self.capacity

    def find(self, tag):
        slot = self._slot
        tags = self._tag
        mask = self._mask
        i = _home(tag, mask)
        while True:
            r = slot[i]
            if r == 0:
                return -1
            if tags[r - 1] == tag:
                return r - 1
            i = (i + 1) & mask

    def find_person(self, person):
        for r in range(self.n):
            if self._person[r] == person:
                return r
        return -1

    def add(self, tag, person, role, crew, flags, now_s, now_ms):
        # Row of the new entry, or -1 when full (the caller counts it in overflow). The
        # caller makes sure the tag is not already in.
        r = self.n
        if r >= self.capacity:
            return -1
        self._tag[r] = tag
        self._person[r] = person
        self._role[r] = role
        self._crew[r] = crew
        self._flags[r] = flags
        self._since_s[r] = now_s
        self._since_ms[r] = now_ms & TICKS_MASK
        slot = self._slot
        mask = self._mask
        i = _home(tag, mask)
        while slot[i]:
            i = (i + 1) & mask
        slot[i] = r + 1
        self.n = r + 1
        self.crew_count[crew] += 1
        return r

    def restart(self, r, now_s, now_ms):
        # The same tag entered again without an exit between (a missed exit): the stay
        # starts over, so overstay is measured from this entry.
        self._since_s[r] = now_s
        self._since_ms[r] = now_ms & TICKS_MASK
        self._flags[r] = self._flags[r] & ~FLAG_OVERSTAY

    def remove(self, r):
        self.crew_count[self._crew[r]] -= 1
        self._unslot(r)
        last = self.n - 1
        if r != last:
            # Move the last row into the hole and repoint its slot.
            slot = self._slot
            mask = self._mask
            tag = self._tag[last]
            i = _home(tag, mask)
            while slot[i] != last + 1:
                i = (i + 1) & mask
            slot[i] = r + 1
            self._tag[r] = tag
            self._person[r] = self._person[last]
            b = self._since_b
            i = 4 * r
            j = 4 * last
            b[i] = b[j]
            b[i + 1] = b[j + 1]
            b[i + 2] = b[j + 2]
            b[i + 3] = b[j + 3]
            self._since_ms[r] = self._since_ms[last]
            self._role[r] = self._role[last]
            self._crew[r] = self._crew[last]
            self._flags[r] = self._flags[last]
        self.n = last

    def _unslot(self, r):
        # Linear-probing deletion by shifting back later entries of the same run, so no
        # tombstones accumulate and lookups stay short.
        slot = self._slot
        mask = self._mask
        tags = self._tag
        i = _home(tags[r], mask)
        while slot[i] != r + 1:
            i = (i + 1) & mask
        slot[i] = 0
        hole = i
        j = i
        while True:
            j = (j + 1) & mask
            v = slot[j]
            if v == 0:
                return
            k = _home(tags[v - 1], mask)
            # v may move into the hole unless its home lies cyclically in (hole, j].
            if hole <= j:
                stays = hole < k <= j
            else:
                stays = k > hole or k <= j
            if not stays:
                slot[hole] = v
                slot[j] = 0
                hole = j

    def tag(self, r):
        return self._tag[r]

    def person(self, r):
        return self._person[r]

    def role(self, r):
        return self._role[r]

    def crew(self, r):
        return self._crew[r]

    def flags(self, r):
        return self._flags[r]

    def set_flag(self, r, bit):
        self._flags[r] = self._flags[r] | bit

    def since_s(self, r):
        return self._since_s[r]

    def set_since(self, r, hi, lo):
        # since_s of row r from its 16-bit halves (caps.unix_hi / unix_lo): no big int.
        b = self._since_b
        i = 4 * r
        b[i] = lo & 0xFF
        b[i + 1] = lo >> 8
        b[i + 2] = hi & 0xFF
        b[i + 3] = hi >> 8

    def since_ms(self, r):
        return self._since_ms[r]

    def columns(self):
        # The row arrays, for the binary snapshot (gateway/snapshot.py), which writes them
        # to flash as they are instead of one int object per field.
        return (self._tag, self._person, self._since_s, self._role, self._crew, self._flags)

    def set_since_ms(self, r, ms):
        self._since_ms[r] = ms & TICKS_MASK

    def reindex(self, n):
        # After the row arrays were filled in bulk (gateway/snapshot.py): n rows in use,
        # the tag table and crew counts rebuilt. Returns the first row whose tag an
        # earlier row holds (a damaged snapshot), else -1; then the ledger is cleared.
        self.clear()
        slot = self._slot
        mask = self._mask
        tags = self._tag
        for r in range(n):
            tag = tags[r]
            i = _home(tag, mask)
            while slot[i]:
                if tags[slot[i] - 1] == tag:
                    self.clear()
                    return r
                i = (i + 1) & mask
            slot[i] = r + 1
            self.crew_count[self._crew[r]] += 1
        self.n = n
        return -1

    def clear(self):
        slot = self._slot
        for i in range(len(slot)):
            slot[i] = 0
        self.n = 0  # named rows
        self.overflow = 0  # people who entered while the ledger was full: counted, unnamed
        for c in range(3):
            self.crew_count[c] = 0
