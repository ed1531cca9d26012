# The roster (R-ID-1, R-ID-4): tag -> person, role, certificate expiry, crew.
# It lives on flash, not in the heap: a file of fixed-size records sorted by tag,
# searched in place by bisection through one open reader and two preallocated buffers,
# so 2,000 people cost a Pico no heap at all (in RAM they took 28 KB of its 192 KB) and a
# lookup allocates nothing. Nothing is decoded or sorted at boot: the file is written
# sorted, once, when a load commits.
#
# File (ROSTER_SLOTS, two, written alternately so a cut commit leaves the old one whole):
#   header  "SGR1", generation u32, count u32, reserved u32          16 bytes
#   records tag u32, person u32, cert u32 (s after EPOCH_S), role u8, crew u8   14 each
#   trailer crc32 of everything before it                                   4 bytes
# Boot opens the valid slot with the highest generation. A load is begin / add(chunk)...
# / commit: parts go to a staging file as records in arrival order, lookups use the old
# roster until commit has written and opened the new slot, so a half-loaded roster is
# never used.
import struct
from binascii import crc32

from gateway.caps import EPOCH_S

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MAX_ID = const(0x3FFFFFFF)  # tag and person ids stay small ints on a 32-bit board
U32_MAX = 0xFFFFFFFF
MAX_PEOPLE = const(8000)
ROSTER_SLOTS = ("roster.a", "roster.b")
STAGING = "roster.part"
MAGIC = b"SGR1"
HEAD = const(16)
REC = const(14)
REC_FMT = "<IIIBB"
CHUNK = const(36)  # records per read or write buffer (504 bytes)


def _loader():
    from gateway import rosterload

    return rosterload


def _unload():
    # The load's code leaves the heap with the load (imported again by the next one).
    from gateway.store import unload

    unload("rosterload")


class Roster:
    def __init__(self, emit=None, flash=None):
        self._emit = emit
        if flash is None:
            from gateway.ramflash import RamFlash

            flash = RamFlash()
        self._flash = flash
        self.n = 0
        self.gen = 0
        self._slot = -1  # index in ROSTER_SLOTS of the file in force, -1: none
        self._f = None  # its open reader
        self._tagbuf = bytearray(4)
        self._rec = bytearray(REC)
        self._row = -1  # the record in _rec
        self._person = 0
        self._cert = 0
        self._role = 0
        self._crew = 0
        self._new_total = -1  # the load in progress: entries announced, -1: none
        self._new_n = 0

    @property
    def loading(self):
        return self._new_total >= 0

    # ---- boot ----

    def open(self):
        # Opens the newest valid slot. Returns False if roster files exist and none is
        # valid (the caller fails safe: every tag unknown), True otherwise.
        fl = self._flash
        self._close()
        best = -1
        best_gen = -1
        seen = False
        for i in range(len(ROSTER_SLOTS)):
            size = fl.size(ROSTER_SLOTS[i])
            if size is None:
                continue
            seen = True
            gen = self._valid(ROSTER_SLOTS[i], size)
            if gen > best_gen:
                best = i
                best_gen = gen
        if best < 0:
            return not seen
        self._use(best)
        return True

    def _valid(self, name, size):
        # The slot's generation if its header, size and checksum agree, else -1.
        fl = self._flash
        head = fl.read_at(name, 0, HEAD)
        if head is None or len(head) != HEAD or head[:4] != MAGIC:
            return -1
        gen, n = struct.unpack_from("<II", head, 4)
        if n > MAX_PEOPLE or size != HEAD + n * REC + 4:
            return -1
        f = fl.reader(name)
        try:
            buf = bytearray(CHUNK * REC)
            crc = 0
            left = size - 4
            while left > 0:
                k = left if left < len(buf) else len(buf)
                mv = memoryview(buf)[:k]
                if f.readinto(mv) != k:
                    return -1
                crc = crc32(mv, crc)
                left -= k
            tail = bytearray(4)
            if f.readinto(tail) != 4 or struct.unpack_from("<I", tail, 0)[0] != crc & U32_MAX:
                return -1
        finally:
            f.close()
        return gen

    def _use(self, slot):
        name = ROSTER_SLOTS[slot]
        head = self._flash.read_at(name, 0, HEAD)
        self.gen, self.n = struct.unpack_from("<II", head, 4)
        self._slot = slot
        self._f = self._flash.reader(name)
        self._row = -1

    def _close(self):
        if self._f is not None:
            self._f.close()
        self._f = None
        self._slot = -1
        self.n = 0
        self._row = -1

    # ---- loading ----

    def begin(self, count):
        # Starts loading a roster of exactly `count` people; a load in progress is dropped.
        _loader().begin(self, count)

    def add(self, entries):
        # A chunk of [tag, person, role, cert_expiry_s, crew] entries. The whole chunk is
        # checked first: a bad entry raises ValueError naming it and adds nothing.
        _loader().add(self, entries)

    def commit(self, log=True):
        # Makes the loaded roster the one in force, at once: commit_steps() run through.
        for _ in self.commit_steps(log):
            pass

    def commit_steps(self, log=True):
        # The commit as phases (a generator), each short on a board: the gateway runs one
        # per step (gateway/rosterload.py says what each does and what it refuses).
        try:
            for _ in _loader().commit_steps(self, log):
                yield
        finally:
            if self._new_total < 0:
                _unload()

    def abort(self):
        if self._new_total >= 0:
            _loader().abort(self)
        _unload()

    # ---- lookups: no allocation ----

    def find(self, tag):
        # Index of tag, or -1. Bisection over the sorted records, in the file.
        f = self._f
        if f is None:
            return -1
        b = self._tagbuf
        lo = 0
        hi = self.n
        while lo < hi:
            mid = (lo + hi) >> 1
            f.seek(HEAD + mid * REC)
            f.readinto(b)
            t = b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24
            if t < tag:
                lo = mid + 1
            elif t > tag:
                hi = mid
            else:
                self._load(mid)
                return mid
        return -1

    def _load(self, i):
        # Fetches record i into the one-record cache the accessors read.
        if i == self._row:
            return
        r = self._rec
        f = self._f
        if f is None:
            raise IndexError("roster record %d: no roster" % i)
        f.seek(HEAD + i * REC)
        if f.readinto(r) != REC:
            raise OSError(5, "roster record %d unreadable" % i)
        self._person = r[4] | r[5] << 8 | r[6] << 16 | r[7] << 24
        # Kept below 2**30: a small int on a board. An expiry that far out (2054) is
        # read as 2054, still long valid.
        c = r[8] | r[9] << 8 | r[10] << 16 | (r[11] & 0x3F) << 24
        self._cert = c if not r[11] & 0xC0 else 0x3FFFFFFF
        self._role = r[12]
        self._crew = r[13]
        self._row = i

    def find_person(self, person):
        # Index of the person's entry, or -1. A scan: for commands, not for crossings.
        for i in range(self.n):
            self._load(i)
            if self._person == person:
                return i
        return -1

    def tag(self, i):
        f = self._f
        if f is None:
            raise IndexError("roster record %d: no roster" % i)
        f.seek(HEAD + i * REC)
        b = self._tagbuf
        f.readinto(b)
        return b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24

    def person(self, i):
        self._load(i)
        return self._person

    def role(self, i):
        self._load(i)
        return self._role

    def crew(self, i):
        self._load(i)
        return self._crew

    def cert_ok(self, i, now_rel_s):
        # now_rel_s: wall clock minus EPOCH_S, or -1 when unknown (then nothing is valid).
        # A certificate is valid up to, not including, its expiry second.
        self._load(i)
        return 0 <= now_rel_s < self._cert

    def cert_expiry_s(self, i):
        self._load(i)
        c = self._cert
        return c + EPOCH_S if c else 0

    def entries(self):
        # The roster as [tag, person, role, cert_expiry_s, crew] lists, in tag order (an
        # expiry before 2020 reads back as 0, which is just as expired). For tests and
        # tools, not the board's loop.
        out = []
        for i in range(self.n):
            out.append(
                [self.tag(i), self.person(i), self.role(i), self.cert_expiry_s(i), self.crew(i)]
            )
        return out
