# R-CAP-11: the recount (muster) order through the whole gateway, under CPython
# (tests/test_recount.py runs the zone's part and an order of each outcome under
# MicroPython). A signed recount from whoever may order people out sets the count a
# physical count found: down only to the people the zone knows by row or remembered tag,
# only onto the count the muster was taken against, RECOUNT on flash before the count
# moves (replayed after a power cut).
from apprig import OTHER_KEY, of_kind, person_of, rig_in_parts
from hostcalls import in_parts
from recountrig import COUNTER, LEDGER, MINER, excess_rig, recount_events, roster
from tornboard import TornBoard
from tornflash import PowerCut

from gateway import app, snapshot
from gateway import events as ev
from gateway.eventlog import LogFull
from gatewire import messages
from gatewire.errors import E_AUTH_BAD, E_AUTH_MISSING, E_FULL, E_REFUSED


@in_parts
def test_a_recount_onto_a_count_that_moved_since_the_muster_is_refused():
    rig = yield from excess_rig()
    rig.cross(11)  # came in after the count was taken
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER)
    assert r.code == E_REFUSED and r.field == "was", r
    assert "the zone counts 11, not the 10" in r.text, r
    assert rig.call("status")["occupants"] == 11
    yield
    r = rig.request("recount", found=10, was=10, counted_by=COUNTER)
    assert r.code == E_REFUSED and r.field == "was", r
    # Not firing: against the count as it stands.
    assert rig.call("recount", found=10, was=11, counted_by=COUNTER)["after"] == 10


@in_parts
def test_a_recount_that_finds_someone_uncounted_raises_the_count_and_can_be_undone():
    rig = yield from rig_in_parts()
    yield from rig.load_roster_in_parts(roster())
    yield from rig.ready_in_parts()
    yield from rig.cross_in_parts(1)
    yield from rig.cross_in_parts(2)
    seq = rig.last_seq()
    assert rig.call("recount", found=4, was=2, counted_by=COUNTER) == {"before": 2, "after": 4}
    assert rig.call("status")["occupants"] == 4
    assert recount_events(rig.events_after(seq)) == [
        (ev.RECOUNT_ORDERED, COUNTER, 0, 4),
        (ev.RECOUNT, COUNTER, 2, 4),
    ]
    # Those found are counted without a row and no tag: a later count may take them off,
    # never the two named.
    r = rig.request("recount", found=1, was=4, counted_by=COUNTER)
    assert r.code == E_REFUSED and "2 are in by name" in r.text, r
    assert rig.call("recount", found=3, was=4, counted_by=COUNTER)["after"] == 3
    r = rig.request("recount", found=3, was=3, counted_by=COUNTER)
    assert r.code == E_REFUSED and "nothing changed" in r.text, r
    assert rig.call("status")["occupants"] == 3


@in_parts
def test_r_evac_1_a_recount_needs_a_giver_who_may_order_people_out():
    rig = yield from excess_rig()
    seq = rig.last_seq()
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER, by=person_of(MINER))
    assert r.code == E_REFUSED and r.field == "by" and "miner" in r.text, r
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER, by=4242)
    assert r.code == E_REFUSED and r.field == "by" and "not in this gateway's roster" in r.text
    yield
    # Unauthenticated: unsigned, or signed with another key. Nothing runs.
    env = rig.envelope("recount", signed=False, found=9, was=10, counted_by=COUNTER)
    rig.send(env)
    assert rig.reply_to("recount", env[messages.KEY_ID]).code == E_AUTH_MISSING
    r = rig.request("recount", key=OTHER_KEY, found=9, was=10, counted_by=COUNTER)
    assert r.code == E_AUTH_BAD, r
    assert rig.call("status")["occupants"] == 10
    evs = rig.events_after(seq)
    assert of_kind(evs, ev.RECOUNT) == [] and of_kind(evs, ev.RECOUNT_ORDERED) == []
    yield
    # Not firing: the dispatcher (no by) and a team leader.
    assert rig.call("recount", found=9, was=10, counted_by=COUNTER)["after"] == 9


@in_parts
def test_a_recount_only_raises_while_the_zone_state_is_unconfirmed():
    rig = yield from excess_rig()
    for name in snapshot.SLOTS:
        rig.board.flash.write(name, b"\xff\x00 damaged")
    rig.power_cut()
    rig.ready()
    assert rig.gw.system & app.SYS_STATE_LOST
    yield
    count = rig.call("status")["occupants"]
    r = rig.request("recount", found=count - 1, was=count, counted_by=COUNTER)
    assert r.code == E_REFUSED and "unconfirmed" in r.text, r
    assert rig.call("recount", found=count + 1, was=count, counted_by=COUNTER)["after"] == count + 1


def _ok_sent(rig, rid):
    for obj in rig.inbox:
        if obj[messages.KEY_ID] == rid and obj[messages.KEY_TYPE] == messages.OK:
            return True
    return False


@in_parts
def test_a_recount_survives_a_power_cut_at_every_flash_operation():
    # Cut at each flash operation from the moment the order arrives (part of it
    # written), until a round runs with no cut: after the reboot the count is the
    # recount's if its RECOUNT is in the log (the snapshot, or RECOUNT replayed), else
    # the old one, and the recount's whenever the OK had left. One rig throughout: each
    # round recounts from the count it finds, down to 9 (the excess cleared) or up to 10
    # (one found).
    rig = yield from excess_rig(TornBoard)
    answered = 0
    op = 0
    while True:
        was = rig.gw.zone.count
        found = 9 if was == 10 else 10
        mark = rig.gw.log.last_seq
        env = rig.envelope("recount", found=found, was=was, counted_by=COUNTER)
        rid = env[messages.KEY_ID]
        flash = rig.board.flash
        flash.arm(op, 3)
        rig.send(env)
        cut = False
        try:
            for _ in range(10):
                rig.step(10)
                if _ok_sent(rig, rid):
                    break
        except PowerCut:
            cut = True
            rig._collect()  # what left the board before the power went
        ok = _ok_sent(rig, rid)
        flash.disarm()
        rig.power_cut()
        z = rig.gw.zone
        logged = [e for e in rig.events_after(mark) if e[2] == ev.RECOUNT]
        assert [e[3:6] for e in logged] in ([], [(COUNTER, was, found)]), logged
        assert z.count == (found if logged else was), (op, ok, was, z.count, logged)
        assert logged or not ok, (op, "OK sent, RECOUNT lost")
        assert z.unnamed_n == 1 and z.ledger.n == LEDGER, op
        answered += ok
        yield
        if not cut:
            break
        op += 1
    assert answered > 0 and op > 3, (answered, op)


@in_parts
def test_r_evac_3_a_phantom_holds_an_evacuation_open_until_the_muster_recounts_it():
    # Everyone out but the count stays 1 (the excess): no ZONE_CLEAR, the zone reads as
    # one unaccounted. The muster at the assembly point finds nobody missing: the recount
    # to 0 clears the zone, logged with the time to clear.
    rig = yield from excess_rig()
    rig.call("evacuate", reason=1, drill=False)
    for t in range(1, 10):
        yield from rig.cross_in_parts(t, into=False)
    seq = rig.last_seq()
    assert rig.call("status")["occupants"] == 1
    rig.step(500, 4)
    assert of_kind(rig.events_after(seq), ev.ZONE_CLEAR) == []
    yield
    assert rig.call("recount", found=0, was=1, counted_by=COUNTER)["after"] == 0
    rig.step(500, 2)
    evs = rig.events_after(seq)
    assert [e[5] for e in of_kind(evs, ev.RECOUNT)] == [0]
    assert len(of_kind(evs, ev.ZONE_CLEAR)) == 1
    assert rig.call("status")["evacuating"]  # the all-clear is still dispatch's to give


@in_parts
def test_a_recount_the_log_cannot_take_changes_nothing():
    # RECOUNT must be on flash before the count moves: a log that refuses it (full, the
    # reserve gone) leaves the count as it was and the order answered `full`.
    rig = yield from excess_rig()
    log = rig.gw.log
    append = log.append_clock

    def refuse_recount(clock_s, kind, tag, a, b, reserved=False, keep=-1):
        if kind == ev.RECOUNT:
            raise LogFull("no room (test)")
        return append(clock_s, kind, tag, a, b, reserved, keep)

    log.append_clock = refuse_recount
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER)
    assert r.code == E_FULL and "nothing changed" in r.text, r
    assert rig.gw.zone.count == 10
    log.append_clock = append
    yield
    rig.power_cut()
    assert rig.gw.zone.count == 10
    assert rig.call("recount", found=9, was=10, counted_by=COUNTER)["after"] == 9
