# micropython-test
# R-EVAC: while a zone is evacuating, only mine rescue may walk in. Every role code a
# roster can carry (1..255, the named ones and a mine's own) is tried against an
# evacuating zone: rescue is admitted silently; every other entry is refused at the door
# and, walked in anyway, counted and logged as EVACUATION_ENTRY (issue 14: a rule that let
# visitors and contractors in lived because the tests tried only rescue and a miner).
from hostcalls import in_parts
from zonekit import crew_roster, load_roster, make_zone, person, walk_in

from gateway import events as ev
from gateway import roles
from gateway.zone import REFUSE_EVACUATION

FIRST_TAG = 1000


def _zone_with_every_role():
    # In parts (tests/hostcalls.py), as a board gets its roster over the link: the zone,
    # the roster's entries, their load.
    z, rec, c = make_zone("coal_face", "face")
    yield
    entries = []
    for role in range(1, roles.MAX_ROLE + 1):
        # Crew none: crews must not be what refuses anyone here.
        entries += crew_roster([FIRST_TAG + role], crew=roles.CREW_NONE, role=role)
    yield
    load_roster(z, entries)
    rec.clear()
    yield
    return z, rec, c


@in_parts
def test_r_evac_only_rescue_walks_into_an_evacuating_zone_unrefused():
    z, rec, c = yield from _zone_with_every_role()
    z.set_evacuating(True)
    for role in range(1, roles.MAX_ROLE + 1):
        walk_in(z, c, FIRST_TAG + role)
        yield  # a part per walk: each is 10 s of ticks
    refused = sorted(
        e[1] - FIRST_TAG for e in rec.of(ev.ENTRY_REFUSED) if e[3] == REFUSE_EVACUATION
    )
    logged = sorted(e[1] - FIRST_TAG for e in rec.of(ev.EVACUATION_ENTRY))
    others = [r for r in range(1, roles.MAX_ROLE + 1) if r != roles.RESCUE]
    assert refused == others, [r for r in range(1, 256) if (r in refused) != (r in others)]
    assert logged == others
    for e in rec.of(ev.EVACUATION_ENTRY):
        assert e[2] == person(e[1])
    # The count is the truth: everyone who walked in is inside, refused or not.
    assert z.count == roles.MAX_ROLE


@in_parts
def test_no_role_is_refused_for_evacuation_when_the_zone_is_not_evacuating():
    z, rec, c = yield from _zone_with_every_role()
    for role in (roles.MINER, roles.VISITOR, roles.CONTRACTOR, roles.RESCUE, 200):
        walk_in(z, c, FIRST_TAG + role)
        yield
    assert [e for e in rec.of(ev.ENTRY_REFUSED) if e[3] == REFUSE_EVACUATION] == []
    assert rec.of(ev.EVACUATION_ENTRY) == []
