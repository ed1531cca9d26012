# micropython-test
# R-CAP-11: the recount (muster) order. With the ledger full, people past it are counted
# without a row and the zone remembers a few of their tags; an exit by a tag neither named
# nor remembered is kept in (DOUBTFUL_CROSSING b=256), so the count stays one too high
# until someone counts the zone. A recount sets the count a physical count found, through
# those counted with no tag kept only: never below the people the zone knows by row or by
# remembered tag. The zone's part, its replay after a power cut, and one order of each
# outcome through the gateway; tests/test_recount_app.py has the rest of the gateway's.
from apprig import of_kind, person_of
from hostcalls import in_parts
from recountrig import COUNTER, LEADER, MINER, excess_rig, recount_events
from zonekit import make_zone, reads, restore, settle, snapshot, walk_in, walk_in_group, walk_out

from gateway import events as ev
from gateway import recount
from gatewire import messages
from gatewire.errors import E_REFUSED

TAGS = list(range(1, 11))


def _excess_zone():
    # A shaft whose ledger holds 2 and memory 1: 1 and 2 named, 3 remembered, 5 counted
    # with no tag kept; 4 (came in unseen) walks out: kept in, said. Counts 4, 3 inside.
    z, rec, c = make_zone(
        "shaft", "shaft", TAGS, shaft_cap=100, ledger_capacity=2, unnamed_memory=1
    )
    walk_in_group(z, c, [1, 2])
    walk_in(z, c, 3)
    walk_in(z, c, 5)
    reads(z, c, 4, (0, 0))
    settle(z, c)
    walk_out(z, c, 4)
    assert z.count == 4 and z.ledger.overflow == 2 and z.unnamed_n == 1
    assert rec.of(ev.DOUBTFUL_CROSSING)[-1][1] == 4
    rec.clear()
    return z, rec, c


def test_r_cap_11_a_recount_clears_the_excess_and_never_the_known():
    z, rec, c = _excess_zone()
    recount.apply(z, 4, 3)
    assert z.count == 3 and z.ledger.overflow == 1 and z.unnamed_n == 1
    # The remembered one is still known: its own exit un-counts it.
    walk_out(z, c, 3)
    assert z.count == 2 and rec.of(ev.EXIT)[-1][1:] == (3, person_of(3), 2)
    # Asked below the named (the command refuses; the zone holds them regardless).
    recount.apply(z, 2, 0)
    assert z.count == 2 and z.ledger.n == 2
    # Up: found uncounted, counted without a row and no tag kept.
    recount.apply(z, 2, 5)
    assert z.count == 5 and z.ledger.overflow == 3 and z.unnamed_n == 0
    assert z.level > 0 or z.count < z.cap  # refreshed (no stale level)


@in_parts
def test_r_cap_11_a_recount_is_replayed_after_a_power_cut():
    # RECOUNT logged after the snapshot: replayed onto the restored zone it gives the same
    # count. Replayed onto a count other than its before (a crossing the replay added),
    # the higher reading stands: in doubt, in.
    z, _rec, c = _excess_zone()
    snap = snapshot(z)
    recount.apply(z, 4, 3)
    count = z.count
    now_s = c.s
    z = None
    yield
    z, _rec, c = make_zone("shaft", "shaft", TAGS, shaft_cap=100, ledger_capacity=2)
    restore(z, snap, c.ms, now_s)
    recount.replay(z, 4, 3)
    assert z.count == count == 3 and z.unnamed_n == 1
    z = None
    yield
    z, _rec, c = make_zone("shaft", "shaft", TAGS, shaft_cap=100, ledger_capacity=2)
    restore(z, snap, c.ms, now_s)
    z.replay(ev.ENTRY, 6, now_s, c.ms)  # counted before the recount's before was read
    recount.replay(z, 4, 3)
    assert z.count == 4
    # A damaged record's fields are not applied.
    recount.replay(z, -1, 0)
    recount.replay(z, 4, 0x10000)
    assert z.count == 4


@in_parts
def test_r_cap_11_a_recount_order_refused_below_the_known_then_clearing_the_excess():
    rig = yield from excess_rig()
    seq = rig.last_seq()
    r = rig.request("recount", found=8, was=10, counted_by=COUNTER)
    assert r.code == E_REFUSED and r.field == "found", r
    assert "8 found, but 9 are in by name or remembered tag" in r.text, r
    yield
    r = rig.request("recount", found=9, was=11, counted_by=COUNTER)
    assert r.code == E_REFUSED and r.field == "was", r
    yield
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER, by=person_of(MINER))
    assert r.code == E_REFUSED and r.field == "by" and "miner" in r.text, r
    yield
    assert rig.call("status")["occupants"] == 10
    yield
    body = rig.call("recount", found=9, was=10, counted_by=COUNTER, by=person_of(LEADER))
    assert body == {"before": 10, "after": 9}
    yield
    assert rig.call("status")["occupants"] == 9
    yield
    evs = rig.events_after(seq)
    assert recount_events(evs) == [
        (ev.RECOUNT_ORDERED, COUNTER, 0, 8),
        (ev.RECOUNT_ORDERED, COUNTER, 0, 9),
        (ev.RECOUNT_ORDERED, COUNTER, person_of(LEADER), 9),
        (ev.RECOUNT, COUNTER, 10, 9),
    ]
    refused = of_kind(evs, ev.COMMAND_REFUSED)
    assert [(e[3], e[4]) for e in refused] == [(messages.RECOUNT, E_REFUSED)] * 3
    kinds = [e[2] for e in evs]
    assert kinds.index(ev.RECOUNT) < kinds.index(ev.COMMAND)
    evs = None
    yield
    # The named and the remembered are still known: each one's exit un-counts them.
    yield from rig.cross_in_parts(9, into=False)
    assert rig.call("status")["occupants"] == 8
