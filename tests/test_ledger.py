# micropython-test
# The ledger (R-ID-1): who is in and since when, bounded, with its tag table checked
# against a plain dict through thousands of adds and removes, collisions included.
from hostcalls import in_parts
from mpcheck import raises
from zonekit import NOW_S

from gateway import roles
from gateway.ledger import FLAG_OVER_CAP, FLAG_OVERSTAY, TICKS_MASK, Ledger, ticks_age


def test_add_find_remove():
    ld = Ledger(4)
    r = ld.add(7, 1007, roles.MINER, roles.CREW_PRODUCTION, 0, NOW_S, 5000)
    assert r == 0 and ld.n == 1 and ld.count == 1
    assert ld.find(7) == 0 and ld.find(8) == -1
    assert ld.person(0) == 1007 and ld.role(0) == roles.MINER
    assert ld.since_s(0) == NOW_S and ld.since_ms(0) == 5000
    assert ld.find_person(1007) == 0 and ld.find_person(1008) == -1
    ld.remove(0)
    assert ld.n == 0 and ld.find(7) == -1


def test_full_ledger_refuses_a_row():
    ld = Ledger(2)
    assert ld.add(1, 1, 1, 0, 0, 0, 0) >= 0
    assert ld.add(2, 2, 1, 0, 0, 0, 0) >= 0
    assert ld.full
    assert ld.add(3, 3, 1, 0, 0, 0, 0) == -1
    assert ld.n == 2 and ld.find(3) == -1


def test_overflow_is_counted():
    ld = Ledger(1)
    ld.add(1, 1, 1, 0, 0, 0, 0)
    ld.overflow += 2
    assert ld.count == 3 and ld.n == 1


def test_crew_counts_follow_adds_and_removes():
    ld = Ledger(8)
    ld.add(1, 1, 1, roles.CREW_PRODUCTION, 0, 0, 0)
    ld.add(2, 2, 1, roles.CREW_MAINTENANCE, 0, 0, 0)
    ld.add(3, 3, 1, roles.CREW_MAINTENANCE, 0, 0, 0)
    ld.add(4, 4, 1, roles.CREW_NONE, 0, 0, 0)
    assert list(ld.crew_count) == [1, 1, 2]
    ld.remove(ld.find(2))
    ld.remove(ld.find(1))
    assert list(ld.crew_count) == [1, 0, 1]


def test_colliding_tags_survive_removal_from_the_middle_of_a_run():
    # Capacity 4 gives 8 slots; tags below 2048 that are equal mod 8 share a home slot.
    ld = Ledger(4)
    for t in (1, 9, 17, 25):
        ld.add(t, t, 1, 0, 0, 0, 0)
    ld.remove(ld.find(9))
    assert ld.find(9) == -1
    for t in (1, 17, 25):
        assert ld.tag(ld.find(t)) == t
    ld.remove(ld.find(1))
    assert ld.tag(ld.find(25)) == 25 and ld.tag(ld.find(17)) == 17
    ld.add(33, 33, 1, 0, 0, 0, 0)
    for t in (17, 25, 33):
        assert ld.tag(ld.find(t)) == t


@in_parts
def test_table_agrees_with_a_dict_over_many_operations():
    ld = Ledger(64)
    model = {}
    seed = 12345
    for step in range(6000):
        # The product is a big int under MicroPython (small ints stop at 2**30): garbage
        # every step, collected between the parts (a part per check, tests/hostcalls.py).
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        tag = 1 + (seed >> 8) % 150
        if tag in model:
            ld.remove(ld.find(tag))
            del model[tag]
        elif len(model) < 64:
            r = ld.add(tag, tag + 1, 1, tag % 3, 0, step, step)
            assert r >= 0
            model[tag] = step
        if step % 97 == 0:
            for t in range(1, 151):
                r = ld.find(t)
                if t in model:
                    assert r >= 0 and ld.tag(r) == t and ld.since_s(r) == model[t]
                else:
                    assert r == -1
            assert ld.n == len(model)
            assert ld.crew_count[0] + ld.crew_count[1] + ld.crew_count[2] == len(model)
            yield


def test_restart_clears_overstay_keeps_other_flags():
    ld = Ledger(2)
    r = ld.add(1, 1, 1, 0, FLAG_OVER_CAP, NOW_S, 100)
    ld.set_flag(r, FLAG_OVERSTAY)
    ld.restart(r, NOW_S + 60, 60100)
    assert ld.flags(r) == FLAG_OVER_CAP
    assert ld.since_s(r) == NOW_S + 60 and ld.since_ms(r) == 60100


def test_ticks_age_wraps_and_is_never_negative():
    assert ticks_age(5000, 2000) == 3000
    assert ticks_age(100, TICKS_MASK - 99) == 200  # across the 2**30 wrap
    assert ticks_age((1 << 40) + 100, ((1 << 40) - 100) & TICKS_MASK) == 200
    assert ticks_age(0, 1) == TICKS_MASK  # "long ago", never negative


def test_clear_empties_everything():
    ld = Ledger(4)
    for t in (1, 2, 3):
        ld.add(t, t, 1, 1, 0, 0, 0)
    ld.overflow = 2
    ld.clear()
    assert ld.count == 0 and ld.find(2) == -1 and list(ld.crew_count) == [0, 0, 0]


def test_capacity_checked():
    raises(ValueError, Ledger, 0)
    raises(ValueError, Ledger, 100000)
