# Loading a roster (gateway/roster.py): a load's parts staged on flash, the commit that
# sorts them into a new slot. Imported only while a load runs and let go after it, so its
# code is in a board's heap only then (roster.Roster.begin / commit / abort).
import struct
from array import array
from binascii import crc32

from gateway import roles
from gateway.caps import EPOCH_S
from gateway.events import ROSTER_LOADED
from gateway.roster import (
    CHUNK,
    HEAD,
    MAGIC,
    MAX_ID,
    MAX_PEOPLE,
    REC,
    REC_FMT,
    ROSTER_SLOTS,
    STAGING,
    U32_MAX,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


_STEP_PEOPLE = 1000  # records a commit phase handles at most (about 0.2 s on a Pico)
# Records a phase reads one by one at their own places (a seek each): 1,000 took 0.35-0.45 s
# of pico board time (bench boards), against 0.1 s for 1,000 read in order.
_SEEK_PEOPLE = const(500)
# Chunks of the new slot a write phase appends at most: 16 x 504 B = 8,064 B, so a phase
# fills at most three fresh 4 KB blocks (three erases, 135 ms at the W25Q16's typical
# 45 ms) and programs 32 pages, beside ~0.15 s of reading and copying on a Pico.
_WRITE_CHUNKS = const(16)
# What _scan puts in keys for each staging row.
_PERSON = const(0)
_TAG = const(1)
_LOW = const(2)  # the tag's low 17 bits, then the row's 13
_ROW_BITS = const(13)  # MAX_PEOPLE < 2**13: a row or a place in an order fits
_ROW_MASK = const(0x1FFF)
_LOW_MASK = const(0x1FFFF)
# A prime above MAX_PEOPLE: row i goes to keys[i * _SPREAD % n], every place once.
# MicroPython's list.sort is a quicksort with its pivot taken from the end, quadratic on
# a list already in order: a roster file in tag or person order (2,000 sorted: 16 ms in
# the WebAssembly VM, about 0.5 s on a Pico, against 1 ms in no order; 8,000 would
# outlast the watchdog). So no list is sorted in the order it was read.
_SPREAD = const(8009)

_SEQUENCES = (list, tuple)  # one tuple, not one per isinstance call
# EPOCH_S's four bytes, little-endian: subtracted byte by byte from a packed cert expiry.
_EPOCH_LE = struct.pack("<I", EPOCH_S)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_entry(pos, e):
    # Returns a message naming what is wrong with roster entry number pos, or None.
    # Allocates nothing for a good entry (a board checks 100 per roster-load part).
    if not isinstance(e, _SEQUENCES) or len(e) != 5:
        return "roster entry %d: expected [tag, person, role, cert_expiry_s, crew]" % pos
    tag = e[0]
    person = e[1]
    role = e[2]
    cert = e[3]
    crew = e[4]
    if not _is_int(tag) or not 0 < tag <= MAX_ID:
        return "roster entry %d: tag %r is not 1..%d" % (pos, tag, MAX_ID)
    if not _is_int(person) or not 0 < person <= MAX_ID:
        return "roster entry %d (tag %d): person %r is not 1..%d" % (pos, tag, person, MAX_ID)
    if not roles.is_role(role):
        return "roster entry %d (tag %d): role %r is not 1..%d" % (pos, tag, role, roles.MAX_ROLE)
    if not _is_int(cert) or not 0 <= cert <= U32_MAX:
        return "roster entry %d (tag %d): cert_expiry_s %r is not 0..%d" % (
            pos,
            tag,
            cert,
            U32_MAX,
        )
    if not roles.is_crew(crew):
        return "roster entry %d (tag %d): crew %r is not 0, 1 or 2" % (pos, tag, crew)
    return None


def begin(r, count):
    # Starts loading a roster of exactly `count` people; a load in progress is dropped.
    if not _is_int(count) or not 0 <= count <= MAX_PEOPLE:
        raise ValueError("roster size %r is not 0..%d" % (count, MAX_PEOPLE))
    r._flash.write(STAGING, b"")
    r._new_total = count
    r._new_n = 0


def add(r, entries):
    # A chunk of [tag, person, role, cert_expiry_s, crew] entries. The whole chunk is
    # checked first: a bad entry raises ValueError naming it and adds nothing.
    if r._new_total < 0:
        raise ValueError("no roster load in progress (begin first)")
    if not isinstance(entries, (list, tuple)):
        raise ValueError("roster chunk: expected a list of entries")
    n = r._new_n
    if n + len(entries) > r._new_total:
        raise ValueError(
            "roster chunk of %d entries overflows the %d announced (%d already loaded)"
            % (len(entries), r._new_total, n)
        )
    for k in range(len(entries)):
        msg = _check_entry(n + k, entries[k])
        if msg is not None:
            raise ValueError(msg)
    if not entries:
        return
    data = bytearray(REC * len(entries))
    off = 0
    for e in entries:
        # cert_expiry_s is a big int on a board (past 2**30): packed as it is, and the
        # epoch subtracted from its bytes, so no big int is made per entry.
        struct.pack_into(REC_FMT, data, off, e[0], e[1], e[3], e[2], e[4])
        _less_epoch(data, off + 8)
        off += REC
    r._flash.append(STAGING, data)
    r._new_n = n + len(entries)


def _less_epoch(data, at):
    # data[at:at + 4], a little-endian u32 t, becomes max(t - EPOCH_S, 0).
    borrow = 0
    for k in range(4):
        v = data[at + k] - _EPOCH_LE[k] - borrow
        borrow = 1 if v < 0 else 0
        data[at + k] = v & 0xFF
    if borrow:
        for k in range(4):
            data[at + k] = 0


def commit_steps(r, log=True):
    # The commit as phases (a generator), each short on a board: the gateway runs one
    # per step. Raises ValueError if fewer entries arrived than announced (the load
    # stays open for more) or if a tag or a person appears twice (R-ID-1: one person,
    # one tag; the load is dropped). The old roster stays in use until the last phase
    # and on any error, and nothing is written before every check has passed.
    #
    # The heap it needs is one list of n small ints and one array of n u16 (12 KB for
    # 2,000 people), reused from phase to phase; every sort is list.sort in place (C,
    # no copy). The tag order is found in two sorts of packed small ints (a tag is 30
    # bits, a staging row 13, more than a small int holds together): first by the
    # tag's low 17 bits with the row, then by its high 13 bits with the place in that
    # first order, which keeps rows of equal high bits in low-bit order (a radix sort
    # in two digits). A hash table of the tags (the way before) needed 32 KB.
    if r._new_total < 0:
        raise ValueError("no roster load in progress (begin first)")
    n = r._new_total
    if r._new_n != n:
        raise ValueError("roster load has %d of the %d entries announced" % (r._new_n, n))
    # A roster of _SEEK_PEOPLE or fewer commits in one step. A big one goes over
    # several, each under 0.4 s of pico board time (bench boards): a scan's last part
    # and the sort after it are steps apart, as are _high_keys' and _write_slot's parts.
    big = n > _STEP_PEOPLE
    keys = [0] * n
    # R-ID-1: one person, one tag. Persons sorted: one held twice sits beside itself.
    for _ in _scan(r, keys, _PERSON):
        yield
    if big:
        yield
    keys.sort()
    for k in range(1, n):
        if keys[k] == keys[k - 1]:
            p = keys[k]
            keys = None
            a, b = _tags_of(r, p)
            abort(r)
            raise ValueError(
                "roster: person %d holds tags %d and %d (R-ID-1: one person, one tag)" % (p, a, b)
            )
    if big:
        yield
    for _ in _scan(r, keys, _TAG):
        yield
    if big:
        yield
    keys.sort()
    for k in range(1, n):
        if keys[k] == keys[k - 1]:
            abort(r)
            raise ValueError("roster: tag %d appears twice" % keys[k])
    if big:
        yield
    # First digit: the low 17 bits of each tag with its staging row, sorted.
    for _ in _scan(r, keys, _LOW):
        yield
    if big:
        yield
    keys.sort()
    rows = array("H", range(n))  # rows[p]: the staging row p-th in low-bit order
    for p in range(n):
        rows[p] = keys[p] & _ROW_MASK
    if big:
        yield
    # Second digit: the high 13 bits with the place p in the first order, sorted; then
    # each entry becomes the staging row it stands for (perm[k]: the k-th smallest tag's
    # row), in place.
    for _ in _high_keys(r, keys, rows):
        yield
    if big:
        yield
    keys.sort()
    for k in range(n):
        keys[k] = rows[keys[k] & _ROW_MASK]
    rows = None
    if big:
        yield
    slot = 1 - r._slot if r._slot >= 0 else 0
    gen = r.gen + 1
    for _ in _write_slot(r, ROSTER_SLOTS[slot], gen, keys):
        yield
    keys = None
    r._close()
    r._use(slot)
    r._new_total = -1
    r._flash.remove(STAGING)
    if log and r._emit is not None:
        r._emit(ROSTER_LOADED, 0, r.n, 0)


def _scan(r, keys, what):
    # Row i's key (what) into keys[i * _SPREAD % n], the staging file read in order.
    # Yields after every _STEP_PEOPLE rows but the last ones (a step each).
    f = r._flash.reader(STAGING)
    try:
        buf = bytearray(CHUNK * REC)
        n = len(keys)
        step = _SPREAD % n if n else 0
        at = 0  # i * _SPREAD % n, kept by adding
        i = 0
        pause = _STEP_PEOPLE
        while i < n:
            k = n - i if n - i < CHUNK else CHUNK
            # A view only for the last, short chunk: one per chunk would be 56 B each.
            part = buf if k == CHUNK else memoryview(buf)[: k * REC]
            if f.readinto(part) != k * REC:
                raise ValueError("roster staging file is short")
            off = 0 if what != _PERSON else 4
            for _ in range(k):
                v = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | buf[off + 3] << 24
                if what == _LOW:
                    v = (v & _LOW_MASK) << _ROW_BITS | i
                keys[at] = v
                at += step
                if at >= n:
                    at -= n
                off += REC
                i += 1
            if i >= pause and i < n:
                pause += _STEP_PEOPLE
                yield
    finally:
        f.close()


def _high_keys(r, keys, rows):
    # keys[spread place of p] = the high 13 bits of row rows[p]'s tag, then p. The tags
    # are read where they are in the staging file (the rows in low-bit order). Yields
    # after every _SEEK_PEOPLE rows but the last ones.
    f = r._flash.reader(STAGING)
    try:
        b = bytearray(4)
        n = len(keys)
        step = _SPREAD % n if n else 0
        at = 0
        for p in range(n):
            f.seek(rows[p] * REC)
            if f.readinto(b) != 4:
                raise ValueError("roster staging file is short")
            # tag >> 17, from its two high bytes
            keys[at] = (b[2] | b[3] << 8) >> 1 << _ROW_BITS | p
            at += step
            if at >= n:
                at -= n
            if (p + 1) % _SEEK_PEOPLE == 0 and p + 1 < n:
                yield
    finally:
        f.close()


def _tags_of(r, person):
    # The tags of the first two staging rows that hold person, smaller first.
    f = r._flash.reader(STAGING)
    try:
        b = bytearray(REC)
        found = []
        while len(found) < 2 and f.readinto(b) == REC:
            if b[4] | b[5] << 8 | b[6] << 16 | b[7] << 24 == person:
                found.append(b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)
    finally:
        f.close()
    found.sort()
    return found[0], found[1]


def _write_slot(r, name, gen, perm):
    # The new slot: its header, the records in tag order, a crc32 trailer. The records
    # go unsynced, _WRITE_CHUNKS chunks a phase (the file stays open between phases,
    # or is reopened for append if another file was written meanwhile), and only the
    # trailer is synced: a sync per chunk copies the file's partly written last block
    # to a freshly erased one each time on littlefs, an erase per chunk (56 for 2,000
    # people, 1.4 s of a phase's 1.7 s on the pico profile). A cut before the trailer
    # is on flash leaves this slot short or failing its crc, so the next boot opens the
    # old roster, which is in the other slot and untouched (Roster.open).
    fl = r._flash
    # Looked up once, as gateway/snapshot.py does; a flash without it syncs each part.
    put = getattr(fl, "append_unsynced", fl.append)
    n = len(perm)
    head = bytearray(HEAD)
    head[:4] = MAGIC
    struct.pack_into("<II", head, 4, gen, n)
    fl.write(name, head)
    crc = crc32(head)
    src = fl.reader(STAGING)
    try:
        buf = bytearray(CHUNK * REC)
        rec = memoryview(buf)
        # One view per record slot, made once: a slice per record would allocate.
        views = [rec[m * REC : (m + 1) * REC] for m in range(CHUNK)]
        j = 0
        chunks = 0
        while j < n:
            k = n - j if n - j < CHUNK else CHUNK
            for m in range(k):
                src.seek(perm[j + m] * REC)
                if src.readinto(views[m]) != REC:
                    raise ValueError("roster staging file is short")
            part = buf if k == CHUNK else rec[: k * REC]
            put(name, part)
            crc = crc32(part, crc)
            j += k
            chunks += 1
            if chunks == _WRITE_CHUNKS and j < n:
                chunks = 0
                yield
    finally:
        src.close()
    tail = bytearray(4)
    struct.pack_into("<I", tail, 0, crc & U32_MAX)
    fl.append(name, tail)


def abort(r):
    if r._new_total >= 0:
        r._new_total = -1
        r._flash.remove(STAGING)
