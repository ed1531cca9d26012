# Orders only the right people may give, over each rule's whole domain (CPython; the
# single cases run under MicroPython in tests/test_app_evacuation.py, test_app_time.py):
#   R-EVAC-1: every role code 1..255, and people in no roster, against evacuate and
#   all-clear: both accepted exactly for a team leader or the mine leader on duty, the
#   dispatcher always;
#   time-set: every step around the 2 s tolerance, and far, with and without the
#   backwards flag: refused exactly when more than 2 s back without the flag, and each
#   change logged with the old and the new time;
#   R-CAP-9/11: a temporary cap against the people inside, with and without below_count.
from apprig import NOW_S, Rig, person_of, roster_entry
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import app, reasons, roles
from gateway import events as ev
from gatewire.errors import E_REFUSED

ROLES = range(1, roles.MAX_ROLE + 1)
# R-EVAC-1: the team leader and the mine leader on duty (带班矿领导), no other role.
UNDERGROUND_AUTHORITY = (roles.TEAM_LEADER, roles.MINE_LEADER)
NOBODY = 999999  # in no roster
_rigs = {}


def _rig(name, setup):
    # One gateway per property, kept across examples: a board boots in tens of ms, and
    # hundreds of examples each booting one would be most of the run.
    rig = _rigs.get(name)
    if rig is None:
        rig = Rig()
        rig.clock_runs = False
        rig.call("hello", min_version=1, max_version=1)
        setup(rig)
        _rigs[name] = rig
    return rig


def _one_per_role(rig):
    rig.load_roster([roster_entry(r, role=r) for r in ROLES])  # tag r has role code r
    rig.ready()


def _keep_log_room(rig):
    if rig.gw.log.unacked() > 200:
        rig.ack(rig.last_seq())


def _evacuating(rig, on):
    st_ = rig.call("status")
    if on and not st_["evacuating"]:
        rig.call("evacuate", reason=reasons.EVAC_REASON_OTHER, drill=False)
    elif not on and st_["evacuating"]:
        rig.call("all-clear")


def _expect_authority(r, allowed, role):
    if allowed:
        assert r.ok, (role, r)
    else:
        assert r.code == E_REFUSED and r.field == "by", (role, r)


def test_r_evac_1_every_role_code_against_evacuate_and_all_clear():
    rig = _rig("roles", _one_per_role)
    for role in ROLES:
        allowed = role in UNDERGROUND_AUTHORITY  # R-EVAC-1, besides the dispatcher
        _evacuating(rig, False)
        r = rig.request(
            "evacuate", reason=reasons.EVAC_REASON_FIRE, drill=False, by=person_of(role)
        )
        _expect_authority(r, allowed, role)
        assert rig.call("status")["evacuating"] == allowed
        _evacuating(rig, True)
        r = rig.request("all-clear", by=person_of(role))
        _expect_authority(r, allowed, role)
        assert rig.call("status")["evacuating"] == (not allowed)
        _keep_log_room(rig)


@settings(max_examples=150, deadline=None)
@given(
    who=st.one_of(st.sampled_from([0, NOBODY]), st.integers(1, roles.MAX_ROLE)),
    order=st.sampled_from(["evacuate", "all-clear"]),
    evacuating=st.booleans(),
    drill=st.booleans(),
)
def test_r_evac_1_who_may_give_an_order_in_any_state(who, order, evacuating, drill):
    # who: 0 the dispatcher, NOBODY someone in no roster, else the person with that role.
    rig = _rig("roles", _one_per_role)
    _evacuating(rig, evacuating)
    before = rig.last_seq()
    fields = {} if who == 0 else {"by": NOBODY if who == NOBODY else person_of(who)}
    if order == "evacuate":
        fields.update(reason=reasons.EVAC_REASON_DRILL if drill else 3, drill=drill)
    r = rig.request(order, **fields)
    allowed = who == 0 or who in UNDERGROUND_AUTHORITY
    if not allowed:
        assert r.code == E_REFUSED and r.field == "by", r
        named = "person %d" % fields["by"]
        assert named in r.text and "R-EVAC-1" in r.text, r
        assert rig.call("status")["evacuating"] == evacuating  # nothing changed
        kinds = [e[2] for e in rig.events_after(before)]
        assert kinds == [ev.COMMAND_REFUSED], kinds
    elif order == "all-clear":
        # Allowed to give it; refused only when there is nothing to clear.
        assert r.ok == evacuating, r
        assert not rig.call("status")["evacuating"]
    else:
        # Allowed to give it; only a drill during a real evacuation is refused (R-EVAC-3).
        real_in_force = evacuating
        assert r.ok == (not (drill and real_in_force)), r
        assert rig.call("status")["evacuating"]
    _keep_log_room(rig)


BASE_S = NOW_S + 50_000_000  # room to move far either way above 2020


@settings(max_examples=200, deadline=None)
@given(
    delta=st.one_of(st.integers(-6, 6), st.integers(-40_000_000, 40_000_000)),
    backwards=st.booleans(),
)
def test_time_set_every_step_around_the_tolerance(delta, backwards):
    rig = _rig("clock", lambda r: None)
    b = rig.board
    b.rtc = BASE_S
    before = rig.last_seq()
    fields = {"time_s": BASE_S + delta}
    if backwards:
        fields["backwards"] = True
    r = rig.request("time-set", **fields)
    back = delta < -app.CLOCK_BACK_TOLERANCE_S
    evs = rig.events_after(before)
    if back and not backwards:
        assert r.code == E_REFUSED and r.field == "backwards", r
        assert "back %d s" % -delta in r.text, r
        assert b.rtc == BASE_S
        assert [(e[1], e[3], e[4]) for e in evs if e[2] == ev.TIME_BACK_REFUSED] == [
            (BASE_S, BASE_S + delta, delta)
        ]
        assert not [e for e in evs if e[2] == ev.TIME_SET]
    else:
        assert r.ok, r
        assert b.rtc == BASE_S + delta
        sets = [(e[1], e[3], e[4], e[5]) for e in evs if e[2] == ev.TIME_SET]
        assert sets == [(BASE_S + delta, BASE_S, delta, 1 if back else 0)]
        assert not [e for e in evs if e[2] == ev.TIME_BACK_REFUSED]
    _keep_log_room(rig)


INSIDE = 5


def _five_inside(rig):
    rig.load_roster([roster_entry(t) for t in range(1, 11)])
    rig.ready()
    for t in range(1, INSIDE + 1):
        rig.cross(t)
    assert rig.call("status")["occupants"] == INSIDE


@settings(max_examples=100, deadline=None)
@given(cap=st.integers(0, 25), below_count=st.booleans())  # 25: the production shift's legal cap
def test_r_cap_11_a_temporary_cap_against_the_people_inside(cap, below_count):
    rig = _rig("cap", _five_inside)
    now = rig.board.rtc
    before = rig.last_seq()
    fields = {"cap": cap, "expiry_s": now + 3600, "reason": "rectification"}
    if below_count:
        fields["below_count"] = True
    r = rig.request("cap-override", **fields)
    evs = rig.events_after(before)
    refused = [(e[4], e[5]) for e in evs if e[2] == ev.CAP_OVERRIDE_REFUSED]
    if cap < INSIDE and not below_count:
        assert r.code == E_REFUSED and r.field == "below_count", r
        assert refused == [(cap, INSIDE)]
        assert not [e for e in evs if e[2] == ev.CAP_OVERRIDE_SET]
    else:
        assert r.ok, r
        assert refused == []
        assert [e[4] for e in evs if e[2] == ev.CAP_OVERRIDE_SET] == [cap]
        st_ = rig.call("status")
        assert st_["cap"] == cap
        # R-CAP-11: below the count the zone is over its cap at once, and shows it.
        assert (st_["occupants"] > st_["cap"]) == (cap < INSIDE)
        if cap < INSIDE:
            assert rig.board.lamp == 3 and rig.board.refused
    _keep_log_room(rig)
