# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, evacuation and all-
# clear (R-EVAC-1..3, R-GAS-1), the lost-snapshot confirmation. Each behaviour is shown
# firing and not firing; rules are named by their IDs. Shared rig: tests/apprig.py,
# tests/appkit.py (a staffed face gateway), tests/flashtap.py.

from appkit import LEADER, RESCUER, roster, staffed_in_parts
from apprig import of_kind, person_of, rig_in_parts, roster_entry
from hostcalls import in_parts

from gateway import app, reasons, roles, snapshot
from gateway import events as ev
from gatewire.errors import E_REFUSED


@in_parts
def test_r_evac_1_the_dispatcher_and_a_team_leader_may_evacuate_others_may_not():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    before = rig.last_seq()
    yield
    r = rig.request("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False, by=person_of(1))
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    r = rig.request("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False, by=424242)
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    assert not of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_START)
    yield
    assert rig.board.work and not rig.call("status")["evacuating"]
    yield
    # A team leader in the roster may.
    rig.call("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False, by=person_of(LEADER))
    yield
    rig.step(100)
    yield
    start = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_START)
    yield
    assert [(e[3], e[4], e[5]) for e in start] == [
        (person_of(LEADER), reasons.CAUSE_TEAM_LEADER, reasons.EVAC_REASON_FIRE)
    ]
    b = rig.board
    assert not b.work and b.sounder and b.lamp == 3 and b.refused
    rig.call("all-clear")
    yield
    rig.step(100)
    yield
    assert b.work and not b.sounder
    # And the dispatcher, at the host.
    before = rig.last_seq()
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_FLOOD_WARNING, drill=False)
    yield
    start = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_START)
    yield
    assert [(e[3], e[4]) for e in start] == [(0, reasons.CAUSE_DISPATCHER)]


@in_parts
def test_r_evac_1_the_mine_leader_on_duty_may_evacuate_and_give_the_all_clear():
    rig = yield from rig_in_parts()
    rig.call("hello", min_version=1, max_version=1)
    yield
    boss = 11
    people = roster()
    people.append(roster_entry(boss, role=roles.MINE_LEADER))
    yield from rig.load_roster_in_parts(people, part_size=100)
    yield
    rig.ready()
    yield
    rig.cross(1)
    yield
    before = rig.last_seq()
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False, by=person_of(boss))
    yield
    rig.step(100)
    yield
    start = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_START)
    yield
    assert [(e[3], e[4], e[5]) for e in start] == [
        (person_of(boss), reasons.CAUSE_MINE_LEADER, reasons.EVAC_REASON_FIRE)
    ]
    assert not rig.board.work and rig.board.refused
    # The same authority lifts it; a miner could not.
    r = rig.request("all-clear", by=person_of(1))
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    assert rig.call("status")["evacuating"]
    yield
    rig.call("all-clear", by=person_of(boss))
    yield
    rig.step(100)
    yield
    assert rig.board.work and not rig.call("status")["evacuating"]


@in_parts
def test_r_evac_1_an_all_clear_needs_the_authority_of_an_evacuation():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False)
    yield
    before = rig.last_seq()
    yield
    # Firing: a miner and someone in no roster may not let people back in.
    r = rig.request("all-clear", by=person_of(1))
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    assert "person 1001 is a miner" in r.text and "R-EVAC-1" in r.text, r
    r = rig.request("all-clear", by=999999)
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    assert "person 999999 is not in this gateway's roster" in r.text, r
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert not of_kind(evs, ev.EVAC_END)
    assert [e[4] for e in of_kind(evs, ev.COMMAND_REFUSED)] == [E_REFUSED, E_REFUSED]
    assert rig.call("status")["evacuating"] and not rig.board.work
    yield
    # Not firing: a team leader may, and is named; so may the dispatcher (by absent).
    rig.call("all-clear", by=person_of(LEADER))
    yield
    end = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_END)
    yield
    assert [e[3] for e in end] == [person_of(LEADER)]
    rig.call("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=True, by=person_of(LEADER))
    yield
    before = rig.last_seq()
    yield
    rig.call("all-clear")
    yield
    assert [e[3] for e in of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_END)] == [0]
    yield
    assert not rig.call("status")["evacuating"]


@in_parts
def test_r_evac_1_only_who_may_order_an_evacuation_may_confirm_a_lost_state():
    rig = yield from staffed_in_parts()
    for name in snapshot.SLOTS:
        rig.board.flash.write(name, b"\xff\x00 damaged")
    yield
    yield from rig.power_cut_in_parts()
    rig.ready()
    yield
    r = rig.request("all-clear", by=person_of(1))
    yield
    assert r.code == E_REFUSED and r.field == "by", r
    assert rig.gw.system & app.SYS_STATE_LOST and not rig.board.work
    before = rig.last_seq()
    yield
    rig.call("all-clear", by=person_of(LEADER))
    yield
    confirmed = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.STATE_CONFIRMED)
    yield
    assert [e[4] for e in confirmed] == [person_of(LEADER)]
    assert not rig.gw.system & app.SYS_STATE_LOST


@in_parts
def test_an_evacuation_holds_across_a_power_cut_until_all_clear():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_ACCIDENT_SIGNS, drill=False)
    yield
    yield from rig.power_cut_in_parts()
    rig.ready()
    yield
    rig.step(500, 10)
    yield
    assert rig.call("status")["evacuating"]
    yield
    assert not rig.board.work and rig.board.sounder and rig.board.refused
    # R-EVAC-3: "zone clear" when the last person leaves, then the all-clear.
    before = rig.last_seq()
    yield
    rig.cross(1, into=False)
    yield
    assert of_kind((yield from rig.fetch_in_parts(before + 1)), ev.ZONE_CLEAR)
    yield
    rig.call("all-clear")
    yield
    rig.step(100)
    yield
    assert rig.board.work
    r = rig.request("all-clear")
    yield
    assert r.code == E_REFUSED  # nothing to clear


@in_parts
def test_a_lost_snapshot_keeps_work_off_and_entry_refused_until_all_clear():
    # Fail safe: the damaged state file may have held an evacuation or a seal. Work stays
    # off and entry refused until a signed all-clear confirms the zone; then it resumes.
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_ACCIDENT_SIGNS, drill=False)
    yield
    rig.call("seal")
    yield
    for name in snapshot.SLOTS:
        rig.board.flash.write(name, b"\xff\x00 damaged")
    yield
    yield from rig.power_cut_in_parts()
    rig.ready()
    yield
    rig.step(500, 10)
    yield
    assert rig.gw.system & app.SYS_STATE_LOST
    assert not rig.board.work and rig.board.refused
    before = rig.last_seq()
    yield
    rig.call("all-clear")
    yield
    rig.step(100, 2)
    yield
    assert of_kind((yield from rig.fetch_in_parts(before + 1)), ev.STATE_CONFIRMED)
    yield
    assert not rig.gw.system & app.SYS_STATE_LOST
    assert rig.board.work


@in_parts
def test_an_intact_snapshot_needs_no_confirmation():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    yield from rig.power_cut_in_parts()
    rig.ready()
    yield
    rig.step(500, 10)
    yield
    assert not rig.gw.system & app.SYS_STATE_LOST
    assert rig.board.work and not rig.board.refused


@in_parts
def test_r_evac_3_a_drill_is_marked_and_timed():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    before = rig.last_seq()
    yield
    rig.call("evacuate", reason=reasons.EVAC_REASON_DRILL, drill=True)
    yield
    st = rig.call("status")
    yield
    assert st["evacuating"] and st["drill"]
    rig.run_s(20)
    yield
    rig.cross(1, into=False)
    yield
    rig.call("all-clear")
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert of_kind(evs, ev.DRILL_START) and not of_kind(evs, ev.EVAC_START)
    clear = of_kind(evs, ev.ZONE_CLEAR)[0]
    assert clear[3] == 1 and clear[4] >= 20
    assert of_kind(evs, ev.EVAC_END)[0][5] == 1


@in_parts
def test_r_gas_1_methane_evacuates_and_all_clear_waits_for_safe_gas():
    rig = yield from staffed_in_parts()
    before = rig.last_seq()
    yield
    rig.gas = (15000, 0, 0)
    rig.step(500, 2)
    yield
    start = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.EVAC_START)
    yield
    assert start and start[0][4] == reasons.CAUSE_GAS
    r = rig.request("all-clear")
    yield
    assert r.code == E_REFUSED and "gas" in r.text
    rig.gas = (3000, 0, 0)
    rig.step(500, 11)  # safe for the 5 s gas hold-off
    yield
    rig.call("all-clear")
    yield
    assert not rig.call("status")["evacuating"]


@in_parts
def test_a_rescuer_may_enter_during_an_evacuation_others_are_refused():
    rig = yield from staffed_in_parts()
    rig.call("evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False)
    yield
    before = rig.last_seq()
    yield
    rig.cross(RESCUER)
    yield
    rig.cross(1)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [e[3] for e in of_kind(evs, ev.EVACUATION_ENTRY)] == [1]
    assert rig.occupants()[0] == 2
