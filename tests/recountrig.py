# A gateway whose count is one too high, as R-CAP-11 leaves it (tests/test_recount.py,
# tests/test_recount_app.py): the ledger full, one counted without a row and no tag kept,
# who then leaves by a tag the zone does not know, kept in and said. Not a test file.
from array import array

from apprig import of_kind, person_of, rig_in_parts, roster_entry
from fakeboard import FakeBoard

from gateway import events as ev
from gateway import roles
from gateway.doorway import DECIDED_KEPT_IN, DOUBT_UNNAMED

LEADER = 12  # a team leader, outside the zone
MINER = 11  # outside the zone
COUNTER = person_of(11)  # who counted (a person id, recorded)
LEDGER = 8  # the smallest ledger config allows: 8 named, the 9th remembered, the 10th not


def roster(extra=()):
    # extra: more roster entries (tests/test_order_certificates.py's uncertified people).
    out = []
    for t in range(1, 13):
        out.append(roster_entry(t, role=roles.TEAM_LEADER if t == LEADER else roles.MINER))
    out.extend(extra)
    return out


def excess_rig(board_class=FakeBoard, extra=()):
    # `rig = yield from excess_rig()`: 10 counted in (8 named, 9 remembered, 10 counted
    # with no tag kept), then 10 leaves and is kept in: the zone counts 10 with 9 inside.
    # A zone's memory holds 32 tags; one here reaches the same state in 10 crossings
    # instead of 41.
    rig = yield from rig_in_parts(config={"ledger_capacity": LEDGER}, board_class=board_class)
    yield from rig.load_roster_in_parts(roster(extra))
    yield from rig.ready_in_parts()
    rig.gw.zone.unnamed_tags = array("I", [0])
    for t in range(1, 11):
        yield from rig.cross_in_parts(t)
    seq = rig.last_seq()
    yield from rig.cross_in_parts(10, into=False)
    said = of_kind(rig.events_after(seq), ev.DOUBTFUL_CROSSING)
    assert [e[3:6] for e in said] == [(10, DECIDED_KEPT_IN, DOUBT_UNNAMED)]
    yield
    # Acked: the snapshot holds the state, so a reboot's zone (its memory 32 again)
    # restores 9 remembered and 10 not, rather than replaying 10 into the memory.
    rig.ack(rig.last_seq())
    z = rig.gw.zone
    assert z.count == 10 and z.ledger.n == LEDGER and z.unnamed_n == 1
    yield
    return rig


def recount_events(events):
    return [e[2:6] for e in events if e[2] in (ev.RECOUNT_ORDERED, ev.RECOUNT)]
