# micropython-test
# R-ID-4 for the people an order names (gateway/certified.py): a
# leader who gives an all-clear or a recount, and whoever counted for a recount, must be in
# the roster with a certificate valid now; while the wall clock is unset no certificate
# can be checked, so they are refused too. The dispatcher (no `by`) holds no roster
# certificate. An evacuation is never refused for a certificate: withdrawing people is
# always allowed (R-EVAC-1). A refusal changes nothing and is evidence.
import sys

from apprig import NOW_S, of_kind, person_of, rig_in_parts, roster_entry
from hostcalls import in_parts
from recountrig import COUNTER, LEADER, excess_rig, recount_events, roster

from gateway import app, reasons, roles, snapshot
from gateway import events as ev
from gatewire import messages
from gatewire.errors import E_REFUSED

LAPSED = 13  # a team leader whose certificate expired a second ago
UNCERTIFIED = 14  # the mine leader on duty, no certificate on record
LAPSED_COUNTER = 15  # a miner whose certificate expired
PEOPLE = (
    roster_entry(LAPSED, role=roles.TEAM_LEADER, cert_s=NOW_S - 1),
    roster_entry(UNCERTIFIED, role=roles.MINE_LEADER, cert_s=0),
    roster_entry(LAPSED_COUNTER, cert_s=NOW_S - 1),
)
FIRE = reasons.EVAC_REASON_FIRE


def _evacuating_rig():
    rig = yield from rig_in_parts()
    yield from rig.load_roster_in_parts(roster(PEOPLE))
    yield from rig.ready_in_parts()
    yield from rig.cross_in_parts(1)
    return rig


def _refused(r, field, words):
    assert r.code == E_REFUSED and r.field == field, r
    assert words in r.text and "R-ID-4" in r.text, r


@in_parts
def test_r_id_4_an_evacuation_is_never_refused_for_a_certificate_its_all_clear_is():
    rig = yield from _evacuating_rig()
    seq = rig.last_seq()
    # A leader whose certificate lapsed, and one with none, may still order people out.
    rig.call("evacuate", reason=FIRE, drill=False, by=person_of(LAPSED))
    rig.call("evacuate", reason=FIRE, drill=False, by=person_of(UNCERTIFIED))
    yield
    evs = rig.events_after(seq)
    assert [e[3:5] for e in of_kind(evs, ev.EVAC_START)] == [
        (person_of(LAPSED), reasons.CAUSE_TEAM_LEADER)
    ]
    assert [e[3:5] for e in of_kind(evs, ev.EVAC_JOIN)] == [
        (person_of(UNCERTIFIED), reasons.CAUSE_MINE_LEADER)
    ]
    evs = None
    assert not rig.board.work
    yield
    # Firing: neither may let people back in; nothing changes, each refusal is evidence.
    seq = rig.last_seq()
    r = rig.request("all-clear", by=person_of(LAPSED))
    _refused(r, "by", "person %d (by) has no valid certificate" % person_of(LAPSED))
    r = rig.request("all-clear", by=person_of(UNCERTIFIED))
    _refused(r, "by", "expired or none on record")
    yield
    # The checks' code left the heap with each refusal (gateway/certified.py, commands.py).
    assert "gateway.certified" not in sys.modules and "gateway.commands" not in sys.modules
    evs = rig.events_after(seq)
    assert of_kind(evs, ev.EVAC_END) == []
    assert [e[3:5] for e in of_kind(evs, ev.COMMAND_REFUSED)] == [
        (messages.ALL_CLEAR, E_REFUSED)
    ] * 2
    evs = None
    assert rig.call("status")["evacuating"] and not rig.board.work
    yield
    # Not firing: a team leader with a valid certificate.
    rig.call("all-clear", by=person_of(LEADER))
    assert [e[3] for e in of_kind(rig.events_after(seq), ev.EVAC_END)] == [person_of(LEADER)]
    assert not rig.call("status")["evacuating"]


@in_parts
def test_r_id_4_with_the_wall_clock_unset_only_the_dispatcher_gives_the_all_clear():
    rig = yield from _evacuating_rig()
    rig.call("evacuate", reason=FIRE, drill=False, by=person_of(LEADER))
    yield
    yield from rig.power_cut_in_parts(rtc_s=0)  # the RTC lost its time: certificates unknown
    assert rig.call("status")["evacuating"]
    yield
    seq = rig.last_seq()
    # Still obeyed: a further order to withdraw, from the same leader.
    rig.call("evacuate", reason=FIRE, drill=False, by=person_of(LEADER))
    assert len(of_kind(rig.events_after(seq), ev.EVAC_JOIN)) == 1
    yield
    r = rig.request("all-clear", by=person_of(LEADER))
    _refused(r, "by", "the wall clock is not set: the certificate of person %d" % person_of(LEADER))
    assert rig.call("status")["evacuating"]
    yield
    # Not firing: the dispatcher's all-clear needs no roster certificate.
    rig.call("all-clear")
    assert [e[3] for e in of_kind(rig.events_after(seq), ev.EVAC_END)] == [0]


@in_parts
def test_r_id_4_a_lost_state_is_confirmed_by_a_certified_leader_only():
    rig = yield from _evacuating_rig()
    for name in snapshot.SLOTS:
        rig.board.flash.write(name, b"\xff\x00 damaged")
    yield from rig.power_cut_in_parts()
    assert rig.gw.system & app.SYS_STATE_LOST
    yield
    r = rig.request("all-clear", by=person_of(LAPSED))
    _refused(r, "by", "has no valid certificate")
    assert rig.gw.system & app.SYS_STATE_LOST
    yield
    seq = rig.last_seq()
    rig.call("all-clear", by=person_of(LEADER))
    assert not rig.gw.system & app.SYS_STATE_LOST
    confirmed = of_kind(rig.events_after(seq), ev.STATE_CONFIRMED)
    assert [e[4] for e in confirmed] == [person_of(LEADER)]


@in_parts
def test_r_id_4_a_recount_needs_a_certified_giver_and_a_rostered_certified_counter():
    rig = yield from excess_rig(extra=PEOPLE)
    seq = rig.last_seq()
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER, by=person_of(LAPSED))
    _refused(r, "by", "person %d (by) has no valid certificate" % person_of(LAPSED))
    r = rig.request("recount", found=9, was=10, counted_by=4242)
    _refused(r, "counted_by", "person 4242 (counted_by) is not in this gateway's roster")
    yield
    lapsed = person_of(LAPSED_COUNTER)
    r = rig.request("recount", found=9, was=10, counted_by=lapsed, by=person_of(LEADER))
    _refused(r, "counted_by", "person %d (counted_by) has no valid certificate" % lapsed)
    assert rig.call("status")["occupants"] == 10
    yield
    # Every order is evidence (RECOUNT_ORDERED, then COMMAND_REFUSED); no RECOUNT.
    evs = rig.events_after(seq)
    assert recount_events(evs) == [
        (ev.RECOUNT_ORDERED, COUNTER, person_of(LAPSED), 9),
        (ev.RECOUNT_ORDERED, 4242, 0, 9),
        (ev.RECOUNT_ORDERED, lapsed, person_of(LEADER), 9),
    ]
    assert len(of_kind(evs, ev.COMMAND_REFUSED)) == 3
    evs = None
    yield
    # Not firing: a certified leader, counted by a certified person.
    body = rig.call("recount", found=9, was=10, counted_by=COUNTER, by=person_of(LEADER))
    assert body == {"before": 10, "after": 9}
    assert "gateway.certified" not in sys.modules and "gateway.commands" not in sys.modules


@in_parts
def test_r_id_4_no_recount_while_the_wall_clock_is_unset():
    rig = yield from excess_rig()
    yield from rig.power_cut_in_parts(rtc_s=0)
    assert rig.gw.zone.count == 10
    yield
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER)
    _refused(r, "counted_by", "the wall clock is not set")
    r = rig.request("recount", found=9, was=10, counted_by=COUNTER, by=person_of(LEADER))
    _refused(r, "by", "the wall clock is not set")
    assert rig.gw.zone.count == 10
    yield
    # Not firing: once the clock is set.
    rig.call("time-set", time_s=NOW_S + 3600)
    assert rig.call("recount", found=9, was=10, counted_by=COUNTER)["after"] == 9
