# Loading a roster (gateway/roster.py): a load's parts staged on flash, the commit that
# sorts them into a new slot. Imported only while a load runs and let go after it, so its
# code is in a board's heap only then (roster.Roster.begin / commit / abort).
import struct
from array import array
from binascii import crc32

from gateway import roles
from gateway.caps import EPOCH_S
from gateway.events import ROSTER_LOADED
from gateway.ledger import _table, first_twice
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

_STEP_PEOPLE = 1000  # records a commit phase handles at most (about 0.2 s on a Pico)


def _u32s(n):
    # Built from a range, so no temporary buffer as big as the array itself is made.
    return array("I", range(n))


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
    # and on any error. The tag order is found by sorting the tags as a list of small
    # ints (in C), not by moving records around in Python.
    if r._new_total < 0:
        raise ValueError("no roster load in progress (begin first)")
    n = r._new_total
    if r._new_n != n:
        raise ValueError("roster load has %d of the %d entries announced" % (r._new_n, n))
    fl = r._flash
    tags = _u32s(n)
    people = _u32s(n)
    _scan_staging(r, tags, people)
    big = n > _STEP_PEOPLE  # a small roster commits in one step, a big one in about five
    if big:
        yield
    i = first_twice(people)
    if i >= 0:
        j = 0
        while people[j] != people[i]:
            j += 1
        abort(r)
        a, b = (tags[j], tags[i]) if tags[j] < tags[i] else (tags[i], tags[j])
        raise ValueError(
            "roster: person %d holds tags %d and %d (R-ID-1: one person, one tag)"
            % (people[i], a, b)
        )
    people = None
    order = sorted(tags)
    for k in range(1, n):
        if order[k] == order[k - 1]:
            abort(r)
            raise ValueError("roster: tag %d appears twice" % order[k])
    if big:
        yield
    perm = _permutation(tags, order)
    tags = None
    order = None
    if big:
        yield
    slot = 1 - r._slot if r._slot >= 0 else 0
    gen = r.gen + 1
    for _ in _write_slot(r, ROSTER_SLOTS[slot], gen, perm):
        yield
    perm = None
    r._close()
    r._use(slot)
    r._new_total = -1
    fl.remove(STAGING)
    if log and r._emit is not None:
        r._emit(ROSTER_LOADED, 0, r.n, 0)


def _scan_staging(r, tags, people):
    f = r._flash.reader(STAGING)
    try:
        buf = bytearray(CHUNK * REC)
        i = 0
        n = len(tags)
        while i < n:
            k = n - i if n - i < CHUNK else CHUNK
            if f.readinto(memoryview(buf)[: k * REC]) != k * REC:
                raise ValueError("roster staging file is short")
            off = 0
            for _ in range(k):
                tags[i] = buf[off] | buf[off + 1] << 8 | buf[off + 2] << 16 | buf[off + 3] << 24
                people[i] = (
                    buf[off + 4] | buf[off + 5] << 8 | buf[off + 6] << 16 | buf[off + 7] << 24
                )
                off += REC
                i += 1
    finally:
        f.close()


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


def _write_slot(r, name, gen, perm):
    fl = r._flash
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
        while j < n:
            k = n - j if n - j < CHUNK else CHUNK
            for m in range(k):
                src.seek(perm[j + m] * REC)
                if src.readinto(views[m]) != REC:
                    raise ValueError("roster staging file is short")
            part = buf if k == CHUNK else rec[: k * REC]
            fl.append(name, part)
            crc = crc32(part, crc)
            j += k
            if j % (_STEP_PEOPLE // CHUNK * CHUNK) == 0:
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
