# The state snapshot on flash, binary: what replaying the event log's crossings alone
# would not bring back after a power cut (who is in since when, the cap override, the
# interlocks' state, the seal). The ledger's row arrays go to flash as they are, streamed
# in a few appends, so a save allocates well under 1 KB whatever the headcount (the CBOR
# snapshot built one int object per field: 50 KB with 300 in) and a boot decodes nothing
# twice and sorts nothing.
#
# Two slots written alternately; each is
#   header  "SGS1", generation u32, seq u32, overflow u16, sealed u8, version u8,
#           override cap i32 (-1 none), override expiry u32, interlocks bytes u32, rows u32
#   the interlocks' snapshot as CBOR (small: permits, watches, evacuation, gas)
#   columns tag u32 * rows, person u32 * rows, since_s u32 * rows, role, crew, flags u8 * rows
#   trailer crc32 of everything before it
# A save goes to the slot not holding the newest good snapshot, so a cut save leaves that
# one whole; boot takes the valid slot with the highest generation.
import struct
from binascii import crc32

from gateway import roles
from gateway.caps import now_clock, unix_hi, unix_lo

SLOTS = ("state.a", "state.b")
_MAGIC = b"SGS1"
_HEAD_FMT = "<4sIIHBBiIII"
_HEAD = 32
_VERSION = 1
_U32_MAX = 0xFFFFFFFF

try:
    import uctypes
except ImportError:
    uctypes = None


def _raw(arr, n):
    # The first n bytes of an array's memory, without a copy.
    if uctypes is not None:
        return uctypes.bytearray_at(uctypes.addressof(arr), n)
    return memoryview(arr).cast("B")[:n]


class SnapshotError(ValueError):
    pass


class Snapshots:
    def __init__(self, flash):
        self._flash = flash
        self.gen = 0
        self._slot = -1  # the slot holding the newest good snapshot, -1: none
        self._head = bytearray(_HEAD)
        self._tail = bytearray(4)
        self._gen_of = [-1] * len(SLOTS)  # each slot's generation, -1: not whole
        self._seq_of = [0] * len(SLOTS)

    def save(self, seq, zone, il_blob, sealed):
        # Durable on return (the last append is synced): the caller may then act or reply.
        fl = self._flash
        ld = zone.ledger
        pol = zone.policy
        n = ld.n
        cap = pol.override_cap
        slot = 1 - self._slot if self._slot >= 0 else 0
        name = SLOTS[slot]
        gen = self.gen + 1
        head = self._head
        struct.pack_into(
            _HEAD_FMT,
            head,
            0,
            _MAGIC,
            gen,
            seq,
            ld.overflow,
            1 if sealed else 0,
            _VERSION,
            cap,
            pol.override_expiry_s if cap >= 0 else 0,
            len(il_blob),
            n,
        )
        # The parts unsynced where the flash can (one sync per part would copy the file's
        # last block to a fresh one each time: an erase per part on littlefs), the trailer
        # synced: the whole slot is on flash when save returns, and a cut before that
        # leaves a slot whose crc fails, so boot takes the other one.
        put = getattr(fl, "append_unsynced", fl.append)
        fl.write(name, head)
        crc = crc32(head)
        put(name, il_blob)
        crc = crc32(il_blob, crc)
        if n:
            tags, people, since, role, crew, flags = ld.columns()
            for col, size in ((tags, 4), (people, 4), (since, 4), (role, 1), (crew, 1), (flags, 1)):
                part = _raw(col, n * size)
                put(name, part)
                crc = crc32(part, crc)
        struct.pack_into("<I", self._tail, 0, crc & _U32_MAX)
        fl.append(name, self._tail)
        self.gen = gen
        self._slot = slot

    def covered(self):
        # The seq the newest whole snapshot covers, or None (read before boot logs
        # anything: the log must still hold every event after it, R-DATA-2).
        slot = self._newest()
        return self._seq_of[slot] if slot >= 0 else None

    def load(self, zone, now_ms, now_s):
        # Restores the zone from the newest valid slot; returns (seq, interlocks CBOR,
        # sealed), or None if there is no snapshot at all. SnapshotError if there are
        # snapshots and none is whole (the zone untouched), or the newest holds a bad row
        # (the zone left empty).
        fl = self._flash
        best_slot = self._newest()
        if best_slot < 0:
            for name in SLOTS:
                if fl.size(name) is not None:
                    raise SnapshotError("state snapshot: no slot is whole (damaged or cut)")
            return None
        # The chosen slot's rows are read from flash straight into the ledger's arrays
        # (the boot's heap peak holds no copy of them); each slot was checked whole
        # through a small buffer, and the header is checked again as read.
        result = _restore(
            fl, SLOTS[best_slot], self._head, self._gen_of[best_slot], zone, now_ms, now_s
        )
        self.gen = self._gen_of[best_slot]
        self._slot = best_slot
        return result

    def _newest(self):
        # The slot holding the newest whole snapshot, -1 if none.
        gens = self._gen_of
        best = -1
        for i in range(len(SLOTS)):
            gens[i] = self._check(SLOTS[i])
            self._seq_of[i] = struct.unpack_from("<I", self._head, 8)[0] if gens[i] >= 0 else 0
            if gens[i] >= 0 and (best < 0 or gens[i] > gens[best]):
                best = i
        return best

    def _check(self, name):
        # _valid() of a slot read through a 256-byte buffer, never the whole file: the
        # generation of a whole snapshot, else -1. Leaves its header in self._head.
        fl = self._flash
        size = fl.size(name)
        if size is None or size < _HEAD + 4:
            return -1
        head = self._head
        f = fl.reader(name)
        try:
            if f.readinto(head) != _HEAD or head[:4] != _MAGIC:
                return -1
            h = struct.unpack_from(_HEAD_FMT, head, 0)
            if h[5] != _VERSION or size != _HEAD + h[8] + h[9] * 15 + 4:
                return -1
            crc = crc32(head)
            left = size - 4 - _HEAD
            buf = bytearray(256)
            mv = memoryview(buf)
            while left > 0:
                got = f.readinto(buf)
                if not got:
                    return -1
                k = got if got < left else left
                crc = crc32(buf if k == 256 else mv[:k], crc)
                left -= k
            f.seek(size - 4)
            tail = self._tail
            if f.readinto(tail) != 4 or struct.unpack_from("<I", tail, 0)[0] != crc & _U32_MAX:
                return -1
            return h[1]
        finally:
            f.close()


def _restore(fl, name, head, gen, zone, now_ms, now_s):
    # The ledger's columns are read into its arrays as they are (no int per field, no
    # copy of the slot in the heap); each stay's monotonic start is rebuilt from its
    # wall-clock start in 16-bit halves, so no big int is made per row either. A bad
    # snapshot leaves the zone empty (restore_start(0, -1, 0)) and raises SnapshotError.
    f = fl.reader(name)
    try:
        if f.readinto(head) != _HEAD:
            raise SnapshotError("state snapshot: slot changed while read")
        _magic, got_gen, seq, overflow, sealed, _v, cap, expiry, il_len, n = struct.unpack_from(
            _HEAD_FMT, head, 0
        )
        if got_gen != gen or head[:4] != _MAGIC:
            raise SnapshotError("state snapshot: slot changed while read")
        pol = zone.policy
        top = pol.legal[0] if pol.legal[0] > pol.legal[1] else pol.legal[1]
        if cap < -1 or cap > top or (cap >= 0 and expiry < 1):
            raise SnapshotError("state snapshot: temporary cap %d outside 0..%d" % (cap, top))
        il_blob = fl.read_at(name, _HEAD, il_len)
        if il_blob is None or len(il_blob) != il_len:
            raise SnapshotError("state snapshot: slot changed while read")
        il_blob = bytes(il_blob)
        base = _HEAD + il_len
        ld = zone.ledger
        m = n if n <= ld.capacity else ld.capacity  # a smaller ledger now: the rest counted
        zone.restore_start(overflow + n - m, cap, expiry)
        cols = ld.columns()
        sizes = (4, 4, 4, 1, 1, 1)
        offset = base
        for c in range(6):
            if m:
                f.seek(offset)
                if f.readinto(_raw(cols[c], m * sizes[c])) != m * sizes[c]:
                    zone.restore_start(0, -1, 0)
                    raise SnapshotError("state snapshot: slot changed while read")
            offset += n * sizes[c]
    finally:
        f.close()
    # Every row checked before the zone is in use (rows past a smaller ledger as well).
    bad = _bad_row(cols, m)
    if bad < 0 and m < n:
        bad = _bad_dropped(fl, name, base, m, n)
    if bad >= 0:
        zone.restore_start(0, -1, 0)
        raise SnapshotError(
            "state snapshot row %d: %s out of range"
            % (bad >> 1, "role or crew" if bad & 1 else "tag or person")
        )
    dup = ld.reindex(m)
    if dup >= 0:
        tags = _raw(cols[0], 4 * m)
        zone.restore_start(0, -1, 0)
        raise SnapshotError("state snapshot: tag %d appears twice" % _u32(tags, 4 * dup))
    # reindex() clears the ledger's count of unnamed people: set it again, or the
    # headcount after a reboot would leave them out (fail unsafe: the cap).
    ld.overflow = overflow + n - m
    _ages(ld, _raw(cols[2], 4 * m), 0, m, now_ms, now_clock(now_s, zone.policy.epoch_s))
    zone.restore_finish(now_ms, now_s)
    return seq, il_blob, sealed == 1


def _bad_row(cols, m):
    # The first row out of range, as row * 2 (+1: role or crew), else -1. Read in bytes:
    # a u32 past 2**30 would be a big int.
    tags = _raw(cols[0], 4 * m)
    people = _raw(cols[1], 4 * m)
    role = cols[3]
    crew = cols[4]
    for k in range(m):
        o = 4 * k
        if tags[o + 3] > 0x3F or people[o + 3] > 0x3F or _u32(tags, o) == 0:
            return k * 2
        if role[k] > roles.MAX_ROLE or crew[k] > 2:
            return k * 2 + 1
    return -1


def _bad_dropped(fl, name, base, m, n):
    # As _bad_row for the rows a smaller ledger drops (rare: read from flash then).
    d = n - m
    tags = fl.read_at(name, base + 4 * m, 4 * d)
    people = fl.read_at(name, base + 4 * n + 4 * m, 4 * d)
    role = fl.read_at(name, base + 12 * n + m, d)
    crew = fl.read_at(name, base + 13 * n + m, d)
    for k in range(d):
        o = 4 * k
        if tags[o + 3] > 0x3F or people[o + 3] > 0x3F or _u32(tags, o) == 0:
            return (m + k) * 2
        if role[k] > roles.MAX_ROLE or crew[k] > 2:
            return (m + k) * 2 + 1
    return -1


_EPOCH_HI = 1577836800 >> 16  # caps.EPOCH_S in 16-bit halves
_EPOCH_LO = 1577836800 & 0xFFFF
_MAX_AGE_MS = 0x1FFFFFFF  # zone's longest exact age
_MAX_AGE_S = _MAX_AGE_MS // 1000


def _ages(ld, data, since, n, now_ms, now_c):
    # since_ms of each row: now_ms less its age from the wall clock, as zone._since_ms
    # gives it (0 when either clock is unknown). now_c: clock seconds (caps.now_clock).
    known = now_c > 0
    now_hi = unix_hi(now_c)
    now_lo = unix_lo(now_c)
    for r in range(n):
        o = since + 4 * r
        hi = data[o + 2] | data[o + 3] << 8
        lo = data[o] | data[o + 1] << 8
        age_ms = 0
        if known and (hi > _EPOCH_HI or (hi == _EPOCH_HI and lo >= _EPOCH_LO)):
            d = now_hi - hi
            if 0 <= d < 0x2000:
                age = d * 65536 + now_lo - lo
                if age > _MAX_AGE_S:
                    age_ms = _MAX_AGE_MS
                elif age > 0:  # a start after now is "just now", as zone._since_ms
                    age_ms = age * 1000
            elif d >= 0x2000:
                age_ms = _MAX_AGE_MS
        ld.set_since_ms(r, now_ms - age_ms)


def _u32(b, o):
    # A small int (ids are below 2**30): no tuple, no big int.
    return b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24
