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
#   remembered u32 * k: the tags counted without a ledger row that the zone remembers
#           (Zone.unnamed_tags, R-CAP-11), k from the slot's size, at most overflow
#   trailer crc32 of everything before it
# The remembered tags came later, in the same version: a slot written before them is one
# with k = 0 (all the overflow counted with no tag remembered, so an exit by a tag the
# zone does not know is kept in: fail safe), and with none remembered a slot is the same
# bytes as before. (A version bump would change every save's crcs: each crc32 at or above
# 2**30 is a big int, 32 B of heap, so test_firmware_fit's save figure moves by chance.)
# A save goes to the slot not holding the newest good snapshot, rewritten in place, so a
# cut save leaves that one whole; boot takes the valid slot with the highest generation. Reading one back into
# the zone is boot-time code, in gateway/restore.py.
import struct
from binascii import crc32

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
        # The slot is rewritten in place where the flash can (no temp file and rename):
        # this slot does not hold the newest whole snapshot, and until the trailer's
        # synced append returns its crc fails, so a cut anywhere leaves boot the other.
        # In place only beside a whole snapshot: with none yet (the first save, or both
        # slots damaged) the header goes through write() as it always did.
        start = getattr(fl, "rewrite_unsynced", None) if self._slot >= 0 else None
        if start is None:
            fl.write(name, head)
        else:
            start(name, head)
        crc = crc32(head)
        put(name, il_blob)
        crc = crc32(il_blob, crc)
        if n:
            tags, people, since, role, crew, flags = ld.columns()
            for col, size in ((tags, 4), (people, 4), (since, 4), (role, 1), (crew, 1), (flags, 1)):
                part = _raw(col, n * size)
                put(name, part)
                crc = crc32(part, crc)
        n = zone.unnamed_n
        if n:
            part = _raw(zone.unnamed_tags, 4 * n)
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
            extra = size - (_HEAD + h[8] + h[9] * 15 + 4)  # remembered tags: 4 B each
            if h[5] != _VERSION or extra < 0 or extra & 3 or extra > 4 * h[3]:
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
