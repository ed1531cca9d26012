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
from array import array
from binascii import crc32

from gateway import roles
from gateway.caps import EPOCH_S
from gateway.events import ROSTER_LOADED

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MAX_ID = const(0x3FFFFFFF)  # tag and person ids stay small ints on a 32-bit board
_U32_MAX = 0xFFFFFFFF
MAX_PEOPLE = const(8000)
ROSTER_SLOTS = ("roster.a", "roster.b")
STAGING = "roster.part"
_MAGIC = b"SGR1"
_HEAD = const(16)
_REC = const(14)
_REC_FMT = "<IIIBB"
_CHUNK = const(36)  # records per read or write buffer (504 bytes)


def _u32s(n):
    # Built from a range, so no temporary buffer as big as the array itself is made.
    return array("I", range(n))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entry(pos, e):
    # Returns a message naming what is wrong with roster entry number pos, or None.
    if not isinstance(e, (list, tuple)) or len(e) != 5:
        return "roster entry %d: expected [tag, person, role, cert_expiry_s, crew]" % pos
    tag, person, role, cert, crew = e[0], e[1], e[2], e[3], e[4]
    if not _is_int(tag) or not 0 < tag <= MAX_ID:
        return "roster entry %d: tag %r is not 1..%d" % (pos, tag, MAX_ID)
    if not _is_int(person) or not 0 < person <= MAX_ID:
        return "roster entry %d (tag %d): person %r is not 1..%d" % (pos, tag, person, MAX_ID)
    if not roles.is_role(role):
        return "roster entry %d (tag %d): role %r is not 1..%d" % (pos, tag, role, roles.MAX_ROLE)
    if not _is_int(cert) or not 0 <= cert <= _U32_MAX:
        return "roster entry %d (tag %d): cert_expiry_s %r is not 0..%d" % (
            pos,
            tag,
            cert,
            _U32_MAX,
        )
    if not roles.is_crew(crew):
        return "roster entry %d (tag %d): crew %r is not 0, 1 or 2" % (pos, tag, crew)
    return None


def _table(n):
    # An open-addressing table of row + 1 (0 = empty) for n keys, at most half full.
    size = 1
    while size < 2 * n:
        size <<= 1
    t = array("H", range(size))
    for i in range(size):
        t[i] = 0
    return t


def first_twice(keys):
    # Index of the first key that equals an earlier one, or -1. O(n) by hashing.
    t = _table(len(keys))
    mask = len(t) - 1
    for i in range(len(keys)):
        k = keys[i]
        h = (k ^ (k >> 11) ^ (k >> 21)) & mask
        while t[h]:
            if keys[t[h] - 1] == k:
                return i
            h = (h + 1) & mask
        t[h] = i + 1
    return -1


class RamFlash:
    # The slice of the Flash interface a roster uses, in RAM: for a Zone built without a
    # board (rule tests). Never used on a board.
    def __init__(self):
        self.files = {}

    def write(self, name, data):
        self.files[name] = bytearray(data)

    def append(self, name, data):
        self.files.setdefault(name, bytearray()).extend(data)

    def size(self, name):
        f = self.files.get(name)
        return None if f is None else len(f)

    def read_at(self, name, offset, n):
        f = self.files.get(name)
        return None if f is None else bytes(f[offset : offset + n])

    def remove(self, name):
        self.files.pop(name, None)

    def reader(self, name):
        return _RamReader(self.files[name])


class _RamReader:
    def __init__(self, data):
        self._data = data
        self._pos = 0

    def seek(self, pos):
        self._pos = pos
        return pos

    def readinto(self, buf):
        n = len(buf)
        got = self._data[self._pos : self._pos + n]
        buf[: len(got)] = got
        self._pos += len(got)
        return len(got)

    def close(self):
        pass


class Roster:
    def __init__(self, emit=None, flash=None):
        self._emit = emit
        self._flash = flash if flash is not None else RamFlash()
        self.n = 0
        self.gen = 0
        self._slot = -1  # index in ROSTER_SLOTS of the file in force, -1: none
        self._f = None  # its open reader
        self._tagbuf = bytearray(4)
        self._rec = bytearray(_REC)
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
        head = fl.read_at(name, 0, _HEAD)
        if head is None or len(head) != _HEAD or head[:4] != _MAGIC:
            return -1
        gen, n = struct.unpack_from("<II", head, 4)
        if n > MAX_PEOPLE or size != _HEAD + n * _REC + 4:
            return -1
        f = fl.reader(name)
        try:
            buf = bytearray(_CHUNK * _REC)
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
            if f.readinto(tail) != 4 or struct.unpack_from("<I", tail, 0)[0] != crc & _U32_MAX:
                return -1
        finally:
            f.close()
        return gen

    def _use(self, slot):
        name = ROSTER_SLOTS[slot]
        head = self._flash.read_at(name, 0, _HEAD)
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
        if not _is_int(count) or not 0 <= count <= MAX_PEOPLE:
            raise ValueError("roster size %r is not 0..%d" % (count, MAX_PEOPLE))
        self._flash.write(STAGING, b"")
        self._new_total = count
        self._new_n = 0

    def add(self, entries):
        # A chunk of [tag, person, role, cert_expiry_s, crew] entries. The whole chunk is
        # checked first: a bad entry raises ValueError naming it and adds nothing.
        if self._new_total < 0:
            raise ValueError("no roster load in progress (begin first)")
        if not isinstance(entries, (list, tuple)):
            raise ValueError("roster chunk: expected a list of entries")
        n = self._new_n
        if n + len(entries) > self._new_total:
            raise ValueError(
                "roster chunk of %d entries overflows the %d announced (%d already loaded)"
                % (len(entries), self._new_total, n)
            )
        for k in range(len(entries)):
            msg = _check_entry(n + k, entries[k])
            if msg is not None:
                raise ValueError(msg)
        if not entries:
            return
        data = bytearray(_REC * len(entries))
        off = 0
        for e in entries:
            rel = e[3] - EPOCH_S
            struct.pack_into(_REC_FMT, data, off, e[0], e[1], rel if rel > 0 else 0, e[2], e[4])
            off += _REC
        self._flash.append(STAGING, data)
        self._new_n = n + len(entries)

    def commit(self, log=True):
        # Makes the loaded roster the one in force, at once: commit_steps() run through.
        for _ in self.commit_steps(log):
            pass

    def commit_steps(self, log=True):
        # The commit as phases (a generator), each short on a board: the gateway runs one
        # per step. Raises ValueError if fewer entries arrived than announced (the load
        # stays open for more) or if a tag or a person appears twice (R-ID-1: one person,
        # one tag; the load is dropped). The old roster stays in use until the last phase
        # and on any error. The tag order is found by sorting the tags as a list of small
        # ints (in C), not by moving records around in Python.
        if self._new_total < 0:
            raise ValueError("no roster load in progress (begin first)")
        n = self._new_total
        if self._new_n != n:
            raise ValueError("roster load has %d of the %d entries announced" % (self._new_n, n))
        fl = self._flash
        tags = _u32s(n)
        people = _u32s(n)
        self._scan_staging(tags, people)
        yield
        i = first_twice(people)
        if i >= 0:
            j = 0
            while people[j] != people[i]:
                j += 1
            self.abort()
            a, b = (tags[j], tags[i]) if tags[j] < tags[i] else (tags[i], tags[j])
            raise ValueError(
                "roster: person %d holds tags %d and %d (R-ID-1: one person, one tag)"
                % (people[i], a, b)
            )
        people = None
        yield
        order = sorted(tags)
        for k in range(1, n):
            if order[k] == order[k - 1]:
                self.abort()
                raise ValueError("roster: tag %d appears twice" % order[k])
        yield
        perm = self._permutation(tags, order)
        tags = None
        order = None
        yield
        slot = 1 - self._slot if self._slot >= 0 else 0
        gen = self.gen + 1
        for _ in self._write_slot(ROSTER_SLOTS[slot], gen, perm):
            yield
        perm = None
        self._close()
        self._use(slot)
        self._new_total = -1
        fl.remove(STAGING)
        if log and self._emit is not None:
            self._emit(ROSTER_LOADED, 0, self.n, 0)

    def _scan_staging(self, tags, people):
        f = self._flash.reader(STAGING)
        try:
            buf = bytearray(_CHUNK * _REC)
            i = 0
            n = len(tags)
            while i < n:
                k = n - i if n - i < _CHUNK else _CHUNK
                if f.readinto(memoryview(buf)[: k * _REC]) != k * _REC:
                    raise ValueError("roster staging file is short")
                off = 0
                for _ in range(k):
                    tags[i] = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | buf[off + 3] << 24
                    people[i] = (
                        buf[off + 4] | buf[off + 5] << 8 | buf[off + 6] << 16 | buf[off + 7] << 24
                    )
                    off += _REC
                    i += 1
        finally:
            f.close()

    @staticmethod
    def _permutation(tags, order):
        # perm[k] = staging row of the k-th smallest tag, through a tag -> row table.
        n = len(tags)
        t = _table(n)
        mask = len(t) - 1
        for i in range(n):
            k = tags[i]
            h = (k ^ (k >> 11) ^ (k >> 21)) & mask
            while t[h]:
                h = (h + 1) & mask
            t[h] = i + 1
        perm = array("H", range(n))
        for j in range(n):
            k = order[j]
            h = (k ^ (k >> 11) ^ (k >> 21)) & mask
            while tags[t[h] - 1] != k:
                h = (h + 1) & mask
            perm[j] = t[h] - 1
        return perm

    def _write_slot(self, name, gen, perm):
        fl = self._flash
        n = len(perm)
        head = bytearray(_HEAD)
        head[:4] = _MAGIC
        struct.pack_into("<II", head, 4, gen, n)
        fl.write(name, head)
        crc = crc32(head)
        src = fl.reader(STAGING)
        try:
            buf = bytearray(_CHUNK * _REC)
            rec = memoryview(buf)
            # One view per record slot, made once: a slice per record would allocate.
            views = [rec[m * _REC : (m + 1) * _REC] for m in range(_CHUNK)]
            j = 0
            while j < n:
                k = n - j if n - j < _CHUNK else _CHUNK
                for m in range(k):
                    src.seek(perm[j + m] * _REC)
                    if src.readinto(views[m]) != _REC:
                        raise ValueError("roster staging file is short")
                part = buf if k == _CHUNK else rec[: k * _REC]
                fl.append(name, part)
                crc = crc32(part, crc)
                j += k
                if j % (8 * _CHUNK) == 0:
                    yield
        finally:
            src.close()
        tail = bytearray(4)
        struct.pack_into("<I", tail, 0, crc & _U32_MAX)
        fl.append(name, tail)

    def abort(self):
        if self._new_total >= 0:
            self._new_total = -1
            self._flash.remove(STAGING)

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
            f.seek(_HEAD + mid * _REC)
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
        f.seek(_HEAD + i * _REC)
        if f.readinto(r) != _REC:
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
        f.seek(_HEAD + i * _REC)
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
