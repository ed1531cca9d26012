# micropython-test
# The roster (R-ID-1, R-ID-4): chunked loading that is all-or-nothing, validation that
# names the bad entry, lookups by tag, and certificate expiry.
from hostcalls import in_parts
from mpcheck import raises
from tornflash import PowerCut, TornFlash, fresh_root
from zonekit import NOW_S, Recorder

from gateway import events, roles
from gateway.caps import EPOCH_S
from gateway.roster import MAX_ID, MAX_PEOPLE, ROSTER_SLOTS, Roster
from hal.flashfs import FileFlash

YEAR_S = 365 * 86400


def entry(tag, person=None, role=roles.MINER, cert=NOW_S + YEAR_S, crew=roles.CREW_PRODUCTION):
    return [tag, person if person is not None else 1000 + tag, role, cert, crew]


def loaded(entries, chunk=3):
    r = Roster()
    r.begin(len(entries))
    for i in range(0, len(entries), chunk):
        r.add(entries[i : i + chunk])
    r.commit()
    return r


def rel(now_s):
    return now_s - EPOCH_S


def test_load_in_chunks_and_find_every_tag():
    tags = [50, 3, 999, 17, 2, 400, 8, 77]
    r = loaded([entry(t) for t in tags])
    assert r.n == len(tags)
    for t in tags:
        i = r.find(t)
        assert i >= 0 and r.tag(i) == t and r.person(i) == 1000 + t
    for t in (1, 4, 1000, MAX_ID):
        assert r.find(t) == -1


def test_entries_keep_their_fields_through_the_sort():
    r = loaded([entry(9, 5, roles.WELDER, NOW_S + 10, roles.CREW_MAINTENANCE), entry(4, 6)])
    i = r.find(9)
    assert r.person(i) == 5
    assert r.role(i) == roles.WELDER
    assert r.crew(i) == roles.CREW_MAINTENANCE
    assert r.cert_expiry_s(i) == NOW_S + 10
    assert sorted(e[0] for e in r.entries()) == [4, 9]


def test_half_loaded_roster_is_never_used():
    r = loaded([entry(1), entry(2)])
    r.begin(3)
    r.add([entry(10), entry(11)])
    assert r.loading
    assert r.find(1) >= 0 and r.find(10) == -1  # old roster still answers
    e = raises(ValueError, r.commit)
    assert "2 of the 3" in str(e)
    assert r.find(10) == -1 and r.loading  # still the old one; the load stays open
    r.add([entry(12)])
    r.commit()
    assert r.find(1) == -1 and r.find(12) >= 0 and not r.loading


def test_bad_entry_names_itself_and_adds_nothing_from_its_chunk():
    r = Roster()
    r.begin(4)
    r.add([entry(1)])
    e = raises(ValueError, r.add, [entry(2), entry(3, role=0)])
    assert "entry 2" in str(e) and "tag 3" in str(e) and "role" in str(e)
    r.add([entry(2), entry(3), entry(4)])
    r.commit()
    assert r.n == 4


def test_ids_must_be_small_ints():
    # Ids above 2**30-1 would be big ints on a 32-bit board: refused.
    r = Roster()
    r.begin(1)
    e = raises(ValueError, r.add, [entry(MAX_ID + 1)])
    assert "tag" in str(e)
    e = raises(ValueError, r.add, [entry(5, person=MAX_ID + 1)])
    assert "person" in str(e)
    raises(ValueError, r.add, [entry(0)])
    raises(ValueError, r.add, [entry(True)])
    r.add([entry(MAX_ID, person=MAX_ID)])
    r.commit()
    assert r.find(MAX_ID) == 0


def test_other_fields_are_checked():
    r = Roster()
    r.begin(1)
    raises(ValueError, r.add, [entry(5, cert=-1)])
    raises(ValueError, r.add, [entry(5, cert=1 << 32)])
    raises(ValueError, r.add, [entry(5, crew=3)])
    raises(ValueError, r.add, [entry(5, role=256)])
    raises(ValueError, r.add, [[5, 6, 1, 0]])
    raises(ValueError, r.add, "not a list")
    raises(ValueError, r.add, [entry(5), entry(6)])  # more than announced
    assert r.loading


def test_r_id_1_duplicate_tag_refused_and_old_roster_kept():
    r = loaded([entry(1)])
    r.begin(2)
    r.add([entry(7, 1), entry(7, 2)])
    e = raises(ValueError, r.commit)
    assert "tag 7" in str(e)
    assert r.find(1) >= 0 and r.find(7) == -1 and not r.loading


def test_r_id_1_one_person_with_two_tags_refused():
    r = loaded([entry(1)])
    r.begin(2)
    r.add([entry(7, 55), entry(8, 55)])
    e = raises(ValueError, r.commit)
    assert "person 55" in str(e) and "R-ID-1" in str(e)
    assert r.find(1) >= 0 and r.find(7) == -1


def test_add_or_commit_without_begin_refused():
    r = Roster()
    raises(ValueError, r.add, [entry(1)])
    raises(ValueError, r.commit)
    raises(ValueError, r.begin, -1)
    raises(ValueError, r.begin, 100000)


def test_abort_drops_the_load():
    r = loaded([entry(1)])
    r.begin(1)
    r.add([entry(2)])
    r.abort()
    raises(ValueError, r.commit)
    assert r.find(1) >= 0


def test_find_person():
    r = loaded([entry(5, 77), entry(9, 78)])
    assert r.tag(r.find_person(78)) == 9
    assert r.find_person(79) == -1


def test_r_id_4_certificate_valid_until_expiry():
    r = loaded([entry(1, cert=NOW_S + 60)])
    i = r.find(1)
    assert r.cert_ok(i, rel(NOW_S))
    assert r.cert_ok(i, rel(NOW_S + 59))
    assert not r.cert_ok(i, rel(NOW_S + 60))  # the expiry second is already invalid


def test_r_id_4_no_certificate_or_no_clock_is_never_valid():
    r = loaded([entry(1, cert=0), entry(2, cert=NOW_S + YEAR_S), entry(3, cert=1000)])
    assert not r.cert_ok(r.find(1), rel(NOW_S))
    assert not r.cert_ok(r.find(3), rel(NOW_S))
    assert not r.cert_ok(r.find(2), -1)
    assert r.cert_ok(r.find(2), rel(NOW_S))


def test_commit_emits_roster_loaded():
    rec = Recorder()
    r = Roster(rec)
    r.begin(2)
    r.add([entry(1), entry(2)])
    r.commit()
    assert rec.log == [(events.ROSTER_LOADED, 0, 2, 0)]


def test_empty_roster_loads():
    r = loaded([entry(1)])
    r.begin(0)
    r.commit()
    assert r.n == 0 and r.find(1) == -1


@in_parts
def test_two_thousand_people():
    # On files, as on a board whose flash is not its heap (the default in-RAM stand-in,
    # gateway/ramflash.py, would hold the staging file and the new one in the heap), and
    # in parts as the gateway runs a load (tests/hostcalls.py): a part per chunk received,
    # a part per step of the commit.
    n = 2000
    r = Roster(flash=FileFlash(fresh_root()))
    r.begin(n)
    # Tags arrive in a scrambled order; 7919 is prime, so k*7919 mod n visits all.
    for start in range(0, n, 250):
        r.add([entry(1 + (k * 7919) % n) for k in range(start, start + 250)])
        yield
    for _ in r.commit_steps():
        yield
    assert r.n == n
    for t in (1, 2, 999, 1000, 2000):
        assert r.tag(r.find(t)) == t
    assert r.find(2001) == -1


# ---- the commit's two-digit sort (gateway/rosterload.py) ----

LOW = 1 << 17  # a tag's low digit in the commit's sort: 17 bits; the high one 13


def _spread(tags):
    # The tags in an order that is neither theirs nor its reverse.
    return [tags[(k * 7) % len(tags)] for k in range(len(tags))] if len(tags) % 7 else tags[::-1]


def test_the_commits_packed_keys_hold_every_row_and_tag():
    # A staging row (or a place in an order) is 13 bits of a packed key and a tag 30
    # (17 + 13): a larger roster or tag would overflow into the other field.
    assert MAX_PEOPLE <= 1 << 13 and MAX_ID < 1 << 30


def test_tags_that_share_their_low_bits_are_sorted_by_their_high_bits():
    tags = [
        5,
        5 + LOW,
        5 + 3 * LOW,
        4 + LOW,
        LOW - 1,
        LOW,
        1,
        6 + 8191 * LOW,
        MAX_ID - LOW,
        MAX_ID,
        2 + 3 * LOW,
    ]
    r = loaded([entry(t, person=100 + k) for k, t in enumerate(_spread(tags))], chunk=4)
    assert [e[0] for e in r.entries()] == sorted(tags)
    for k, t in enumerate(_spread(tags)):
        i = r.find(t)
        assert r.tag(i) == t and r.person(i) == 100 + k


def test_a_tag_twice_is_found_among_tags_that_only_share_their_low_bits():
    # Firing: 5 + 3 * LOW twice, apart, among tags of the same low digit (not firing:
    # the test above, where none is twice).
    r = loaded([entry(1)])
    tags = [5, 5 + 3 * LOW, 5 + LOW, 9, 5 + 2 * LOW, 5 + 3 * LOW, 5 + 4 * LOW]
    r.begin(len(tags))
    r.add([entry(t, person=200 + k) for k, t in enumerate(tags)])
    e = raises(ValueError, r.commit)
    assert "tag %d appears twice" % (5 + 3 * LOW) in str(e)
    assert r.find(1) >= 0 and r.find(9) == -1 and not r.loading


def _big(n, tag_of, person_of=None, old=None):
    # A Roster on files with `old` loaded, then a load of n people begun and staged in
    # chunks of 100, a part per chunk (`r = yield from _big(...)`).
    r = Roster(flash=FileFlash(fresh_root()))
    if old is not None:
        r.begin(len(old))
        r.add(old)
        r.commit()
    r.begin(n)
    for start in range(0, n, 100):
        r.add(
            [
                entry(tag_of(k), person=None if person_of is None else person_of(k))
                for k in range(start, min(n, start + 100))
            ]
        )
        yield
    return r


@in_parts
def test_a_big_roster_in_tag_order_or_in_reverse_commits_over_steps_in_tag_order():
    # In order and reversed: the inputs on which a quicksort with its pivot at the end
    # (MicroPython's list.sort) is quadratic; the commit spreads them before sorting.
    n = 1100
    for tag_of in (lambda k: 10 + 3 * k, lambda k: 10 + 3 * (n - 1 - k)):
        r = yield from _big(n, tag_of)
        steps = 0
        for _ in r.commit_steps():
            steps += 1
            yield
        assert steps > 4 and r.n == n  # over several steps
        last = 0
        for i in range(n):
            t = r.tag(i)
            assert t > last and r.person(i) == 1000 + t
            last = t
        assert r.find(10) == 0 and r.find(10 + 3 * (n - 1)) == n - 1 and r.find(11) == -1
        yield


@in_parts
def test_a_person_twice_far_apart_in_a_big_roster_is_refused_naming_both_tags():
    n = 1100
    old = [entry(1), entry(2)]
    # Row 1050 holds the person of row 3 again (tags 13 and 1060).
    r = yield from _big(n, lambda k: 10 + k, lambda k: 5003 if k == 1050 else 5000 + k, old)
    e = raises(ValueError, r.commit)
    assert "person 5003 holds tags 13 and 1060" in str(e) and "R-ID-1" in str(e)
    assert not r.loading and r.n == 2 and r.find(1) == 0 and r.find(13) == -1


def _reopened(r):
    # The next boot's roster, on the same flash.
    back = Roster(flash=r._flash)
    assert back.open()
    return back


@in_parts
def test_a_cut_at_any_step_of_a_big_commit_leaves_the_old_roster_or_the_new():
    # A power cut after each step of the commit (the board's RAM gone, the commit's
    # generator with it): the next boot opens the old roster whole until the last step
    # has run, then the new one whole. The write's own flash operations are cut one by
    # one in tests/test_durable_orders.py.
    n = 1001  # just over one step's people: every phase split
    old = [entry(1), entry(2), entry(3)]
    r = yield from _big(n, lambda j: 2000 - j, old=old)
    steps = 0
    for _ in r.commit_steps():
        steps += 1
        yield
    back = _reopened(r)
    assert back.gen == 2 and back.n == n
    assert back.find(1000) == 0 and back.find(2000) == n - 1 and back.find(1) == -1
    assert steps >= 6, steps  # one per phase at least
    for k in range(steps + 1):
        r = yield from _big(n, lambda j: 2000 - j, old=old)
        g = r.commit_steps()
        for _ in range(k):
            next(g)
        g.close()  # the cut: no further step runs
        back = _reopened(r)
        assert back.gen == 1 and [e[0] for e in back.entries()] == [1, 2, 3], k
        yield


class _SlotWrites:
    # A FileFlash that counts what is written to the roster slots: the synced calls
    # (on littlefs each copies the file's partly written last block to a freshly erased
    # one: an erase) and the bytes (unsynced ones fill fresh 4 KB blocks: an erase per
    # block begun).
    def __init__(self):
        self.inner = FileFlash(fresh_root())
        self.synced = 0
        self.bytes = 0

    def _count(self, name, data, synced):
        if name in ROSTER_SLOTS:
            self.synced += synced
            self.bytes += len(data)

    def write(self, name, data):
        self._count(name, data, 1)
        self.inner.write(name, data)

    def append(self, name, data):
        self._count(name, data, 1)
        self.inner.append(name, data)

    def append_unsynced(self, name, data):
        self._count(name, data, 0)
        self.inner.append_unsynced(name, data)

    def size(self, name):
        return self.inner.size(name)

    def read_at(self, name, offset, n):
        return self.inner.read_at(name, offset, n)

    def reader(self, name):
        return self.inner.reader(name)

    def remove(self, name):
        self.inner.remove(name)


SECTOR = 4096


@in_parts
def test_no_phase_of_a_big_commit_erases_more_than_a_few_sectors():
    # Issue 9 item 4 (no step >= 1 s): the new slot was appended synced 504 bytes at a
    # time, an erase each (45 ms typical on the Pico's flash), 27 in one phase: 1.4 s of
    # flash in the step (bench boards). Now a phase makes at most one synced write and
    # 8 KB of unsynced ones: at most four erases, 180 ms.
    n = 1200
    fl = _SlotWrites()
    r = Roster(flash=fl)
    r.begin(n)
    for start in range(0, n, 100):
        r.add([entry(1 + (k * 7) % n) for k in range(start, start + 100)])
        yield
    worst_synced = 0
    worst_bytes = 0
    total = 0
    g = r.commit_steps()
    while True:
        fl.synced = 0
        fl.bytes = 0
        try:
            next(g)
            done = False
        except StopIteration:
            done = True
        worst_synced = max(worst_synced, fl.synced)
        worst_bytes = max(worst_bytes, fl.bytes)
        total += fl.bytes
        if done:
            break
        yield
    assert total == 16 + 14 * n + 4  # the whole slot was written
    assert worst_synced <= 1, worst_synced
    assert worst_bytes <= 2 * SECTOR, worst_bytes
    back = _reopened(r)
    assert back.gen == 1 and back.n == n and back.find(n) == n - 1


@in_parts
def test_a_cut_at_a_flash_write_of_a_big_commits_new_slot_leaves_the_old_roster_or_the_new():
    # The slot's records go unsynced over several phases, the trailer synced last: a
    # cut in the first write phase, in the second, at the trailer (a torn file, zeros or
    # erased bytes past the cut) leaves a slot the next boot passes over for the old
    # roster; a cut once the trailer is on flash (at the staging file's removal) leaves
    # the new one whole. Mutating calls of the commit: the header (0), 34 chunks of 36
    # records (1-34; the first phase ends after chunk 16), the trailer (35), the
    # staging file's removal (36).
    n = 1200
    old = [entry(1), entry(2), entry(3)]
    for op, after, fill, new in (
        (1, 100, None, False),
        (17, 0, None, False),
        (17, 200, 0, False),
        (30, 300, 0xFF, False),
        (34, 50, 0, False),
        (35, 2, None, False),
        (36, 0, None, True),
    ):
        fl = TornFlash.on_files()
        r = Roster(flash=fl)
        r.begin(len(old))
        r.add(old)
        r.commit()
        r.begin(n)
        for start in range(0, n, 100):
            r.add([entry(2000 - k) for k in range(start, start + 100)])
            yield
        fl.arm(op, after, fill)
        cut = False
        g = r.commit_steps()
        try:
            for _ in g:
                yield
        except PowerCut:
            cut = True
        assert cut, op
        g = r = None  # the board's RAM gone
        fl.reboot()
        back = Roster(flash=fl)
        assert back.open()
        if new:
            assert back.gen == 2 and back.n == n and back.find(801) == 0, op
        else:
            assert back.gen == 1 and [e[0] for e in back.entries()] == [1, 2, 3], op
        yield


def test_role_names():
    assert roles.name(roles.RESCUE) == "rescue"
    assert roles.code_of("team_leader") == roles.TEAM_LEADER
    assert roles.name(200) == "role-200"
    assert roles.code_of("role-200") == 200
    raises(ValueError, roles.name, 0)
    raises(ValueError, roles.code_of, "pilot")
