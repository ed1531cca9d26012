# The roster (R-ID-1, R-ID-4): tag -> person, role, certificate expiry, crew.
# Parallel arrays sorted by tag and searched by bisection: 14 bytes a person, so 2,000
# people take 28 KB on a board where a dict of tuples would take several times that.
# Loading is begin / add(chunk)... / commit: lookups use the old roster until commit
# swaps the new one in whole, so a half-loaded roster is never used.
from array import array

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


def _u32s(n):
    # Built from a range, so no temporary buffer as big as the array itself is made (on
    # a board that would double the peak heap of a roster load). Contents are set later.
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


def heapsort(keys, others=()):
    # In place, by keys, carrying the parallel arrays along; no extra memory.
    n = len(keys)
    start = n // 2 - 1
    while start >= 0:
        _sift(keys, others, start, n)
        start -= 1
    end = n - 1
    while end > 0:
        _swap(keys, others, 0, end)
        _sift(keys, others, 0, end)
        end -= 1


def _sift(keys, others, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and keys[child + 1] > keys[child]:
            child += 1
        if keys[root] >= keys[child]:
            return
        _swap(keys, others, root, child)
        root = child


def _swap(keys, others, i, j):
    keys[i], keys[j] = keys[j], keys[i]
    for a in others:
        a[i], a[j] = a[j], a[i]


class Roster:
    def __init__(self, emit=None):
        self._emit = emit
        self.n = 0
        self._tag = _u32s(0)
        self._person = _u32s(0)
        self._cert = _u32s(0)  # seconds after EPOCH_S; 0: none or long expired
        self._role = bytearray(0)
        self._crew = bytearray(0)
        self._new = None  # the roster being loaded: [tag, person, cert, role, crew] arrays
        self._new_n = 0

    @property
    def loading(self):
        return self._new is not None

    def begin(self, count):
        # Starts loading a roster of exactly `count` people; a load in progress is dropped.
        if not _is_int(count) or not 0 <= count <= MAX_PEOPLE:
            raise ValueError("roster size %r is not 0..%d" % (count, MAX_PEOPLE))
        self._new = None  # let the old staging go before allocating the new one
        self._new = [_u32s(count), _u32s(count), _u32s(count), bytearray(count), bytearray(count)]
        self._new_n = 0

    def add(self, entries):
        # A chunk of [tag, person, role, cert_expiry_s, crew] entries. The whole chunk is
        # checked first: a bad entry raises ValueError naming it and adds nothing.
        new = self._new
        if new is None:
            raise ValueError("no roster load in progress (begin first)")
        if not isinstance(entries, (list, tuple)):
            raise ValueError("roster chunk: expected a list of entries")
        n = self._new_n
        if n + len(entries) > len(new[0]):
            raise ValueError(
                "roster chunk of %d entries overflows the %d announced (%d already loaded)"
                % (len(entries), len(new[0]), n)
            )
        for k in range(len(entries)):
            msg = _check_entry(n + k, entries[k])
            if msg is not None:
                raise ValueError(msg)
        for e in entries:
            new[0][n] = e[0]
            new[1][n] = e[1]
            rel = e[3] - EPOCH_S
            new[2][n] = rel if rel > 0 else 0
            new[3][n] = e[2]
            new[4][n] = e[4]
            n += 1
        self._new_n = n

    def commit(self, log=True):
        # log=False: a roster restored from flash at boot, not a new one (no ROSTER_LOADED).
        # Swaps the loaded roster in. Raises ValueError if fewer entries arrived than
        # announced (the load stays open for more) or if a tag or a person appears twice
        # (R-ID-1: one person, one tag; the load is dropped). The old roster stays in use
        # on any error.
        new = self._new
        if new is None:
            raise ValueError("no roster load in progress (begin first)")
        if self._new_n != len(new[0]):
            raise ValueError(
                "roster load has %d of the %d entries announced" % (self._new_n, len(new[0]))
            )
        tags = new[0]
        people = new[1]
        # Sorted by person first to find a person twice without a copy of the ids (a
        # copy would raise the peak heap of a reload), then by tag for lookups.
        heapsort(people, (tags, new[2], new[3], new[4]))
        for i in range(1, len(people)):
            if people[i] == people[i - 1]:
                self._new = None
                raise ValueError(
                    "roster: person %d holds tags %d and %d (R-ID-1: one person, one tag)"
                    % (people[i], tags[i - 1], tags[i])
                )
        heapsort(tags, (people, new[2], new[3], new[4]))
        for i in range(1, len(tags)):
            if tags[i] == tags[i - 1]:
                self._new = None
                raise ValueError("roster: tag %d appears twice" % tags[i])
        self._tag, self._person, self._cert, self._role, self._crew = new
        self.n = len(tags)
        self._new = None
        if log and self._emit is not None:
            self._emit(ROSTER_LOADED, 0, self.n, 0)

    def abort(self):
        self._new = None

    def find(self, tag):
        # Index of tag, or -1. Bisection over the sorted tag array; allocates nothing.
        tags = self._tag
        lo = 0
        hi = self.n
        while lo < hi:
            mid = (lo + hi) >> 1
            t = tags[mid]
            if t < tag:
                lo = mid + 1
            elif t > tag:
                hi = mid
            else:
                return mid
        return -1

    def find_person(self, person):
        # Index of the person's entry, or -1. A scan: for commands, not for crossings.
        people = self._person
        for i in range(self.n):
            if people[i] == person:
                return i
        return -1

    def tag(self, i):
        return self._tag[i]

    def person(self, i):
        return self._person[i]

    def role(self, i):
        return self._role[i]

    def crew(self, i):
        return self._crew[i]

    def cert_ok(self, i, now_rel_s):
        # now_rel_s: wall clock minus EPOCH_S, or -1 when unknown (then nothing is valid).
        # A certificate is valid up to, not including, its expiry second.
        return 0 <= now_rel_s < self._cert[i]

    def cert_expiry_s(self, i):
        c = self._cert[i]
        return c + EPOCH_S if c else 0

    def entries(self):
        # The roster as [tag, person, role, cert_expiry_s, crew] lists (for persisting it;
        # an expiry before 2020 reads back as 0, which is just as expired).
        out = []
        for i in range(self.n):
            out.append(
                [self._tag[i], self._person[i], self._role[i], self.cert_expiry_s(i), self._crew[i]]
            )
        return out
