# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, temporary caps by
# command (R-CAP-9, R-CAP-11). Each behaviour is shown firing and not firing; rules are
# named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face gateway),
# tests/flashtap.py.

from appkit import staffed_in_parts
from apprig import of_kind
from hostcalls import in_parts

from gateway import events as ev
from gatewire.errors import E_REFUSED


@in_parts
def test_r_cap_9_a_temporary_cap_by_signed_command_warns_fills_and_expires():
    rig = yield from staffed_in_parts()
    b = rig.board
    now = b.rtc
    r = rig.request("cap-override", cap=41, expiry_s=now + 600, reason="rectification")
    yield
    assert r.code == E_REFUSED and r.field == "cap", r  # above the legal 40 (R-CAP-2)
    rig.call("cap-override", cap=5, expiry_s=now + 600, reason="rectification")
    yield
    st = rig.call("status")
    yield
    assert st["cap"] == 5 and st["override_active"]
    before = rig.last_seq()
    yield
    for t in (1, 2, 3):
        rig.cross(t)
    yield
    assert b.lamp == 1 and not b.refused  # not firing: below 80 %
    rig.cross(5)
    yield
    assert b.lamp == 2 and not b.refused  # R-CAP-6 early warning: amber
    rig.cross(6)
    yield
    assert b.lamp == 3 and b.refused  # at the cap: red, entry refused
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    yield
    assert rig.call("status")["cap"] == 5
    yield
    rig.cross(7)  # R-CAP-11: counted, and a violation naming the tag
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [e[3] for e in of_kind(evs, ev.OVER_CAP_ENTRY)] == [7]
    assert of_kind(evs, ev.CAP_WARNING) and of_kind(evs, ev.CAP_FULL)
    assert rig.occupants()[0] == 6
    yield
    before = rig.last_seq()
    yield
    yield from rig.run_s_in_parts(600)
    yield
    assert of_kind((yield from rig.fetch_in_parts(before + 1)), ev.CAP_OVERRIDE_ENDED)
    yield
    st = rig.call("status")
    yield
    assert st["cap"] == 25 and not st["override_active"]


@in_parts
def test_r_cap_11_a_temporary_cap_below_the_count_needs_below_count_and_is_logged():
    rig = yield from staffed_in_parts()
    rig.clock_runs = False
    now = rig.board.rtc
    for t in (1, 3, 5):
        rig.cross(t)
    yield
    before = rig.last_seq()
    yield
    # Firing: a cap under the 3 inside is refused, logged with both numbers, unchanged.
    r = rig.request("cap-override", cap=2, expiry_s=now + 600, reason="roof bolting")
    yield
    assert r.code == E_REFUSED and r.field == "below_count", r
    assert "cap 2 is below the 3 people" in r.text, r
    st = rig.call("status")
    yield
    assert st["cap"] == 25 and not st["override_active"]
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [(e[4], e[5]) for e in of_kind(evs, ev.CAP_OVERRIDE_REFUSED)] == [(2, 3)]
    assert not of_kind(evs, ev.CAP_OVERRIDE_SET)
    # Not firing: a cap at the count is no reduction below it.
    rig.call("cap-override", cap=3, expiry_s=now + 600, reason="roof bolting")
    yield
    assert rig.call("status")["cap"] == 3 and not of_kind(
        (yield from rig.fetch_in_parts(before + 1)), ev.CAP_OVER
    )
    yield
    # On the explicit flag it is set, and the zone is over its cap at once.
    before = rig.last_seq()
    yield
    rig.call("cap-override", cap=2, expiry_s=now + 600, reason="roof bolting", below_count=True)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [e[4] for e in of_kind(evs, ev.CAP_OVERRIDE_SET)] == [2]
    assert [(e[4], e[5]) for e in of_kind(evs, ev.CAP_OVER)] == [(3, 2)]
    assert not of_kind(evs, ev.CAP_OVERRIDE_REFUSED)
    assert rig.board.lamp == 3 and rig.board.refused


@in_parts
def test_r_cap_9_a_temporary_cap_is_cleared_by_command_and_a_clear_of_none_says_so():
    rig = yield from staffed_in_parts()
    now = rig.board.rtc
    before = rig.last_seq()
    yield
    # Firing: nothing to clear is refused, logged only as a refused command.
    r = rig.request("cap-override-clear")
    yield
    assert r.code == E_REFUSED and "no temporary cap" in r.text and "nothing changed" in r.text
    assert not of_kind((yield from rig.fetch_in_parts(before + 1)), ev.CAP_OVERRIDE_ENDED)
    yield
    # Not firing: a temporary cap in force ends now, and the configured cap is back.
    rig.call("cap-override", cap=5, expiry_s=now + 600, reason="roof bolting")
    yield
    assert rig.call("status")["cap"] == 5
    yield
    rig.call("cap-override-clear", reason="done early")
    yield
    st = rig.call("status")
    yield
    assert st["cap"] == 25 and not st["override_active"]
    ended = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.CAP_OVERRIDE_ENDED)
    yield
    assert [(e[4], e[5]) for e in ended] == [(5, 2)]  # cap 5, b=2 cleared
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    yield
    assert rig.call("status")["cap"] == 25


@in_parts
def test_r_cap_9_a_temporary_cap_lasts_more_than_nothing_and_at_most_seven_days():
    rig = yield from staffed_in_parts()
    rig.clock_runs = False
    now = rig.board.rtc
    r = rig.request("cap-override", cap=5, expiry_s=now, reason="x")
    yield
    assert r.code == E_REFUSED and "must end after" in r.text, r
    r = rig.request("cap-override", cap=5, expiry_s=now + 604801, reason="x")
    yield
    assert r.code == E_REFUSED and "604801 s" in r.text and "7 days" in r.text, r
    assert not rig.call("status")["override_active"]
    yield
    rig.call("cap-override", cap=5, expiry_s=now + 604800, reason="x")  # the documented week
    yield
    assert rig.call("status")["override_active"]
    yield
    rig.call("cap-override", cap=6, expiry_s=now + 1, reason="x")
    yield
    assert rig.call("status")["cap"] == 6
