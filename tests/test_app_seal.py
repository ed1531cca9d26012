# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, the seal (R-SEAL-1)
# and commands that change nothing. Each behaviour is shown firing and not firing; rules are
# named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face gateway),
# tests/flashtap.py.

from appkit import hot_permit, staffed_in_parts
from apprig import of_kind
from hostcalls import in_parts

from gateway import events as ev
from gatewire.errors import E_REFUSED


@in_parts
def test_r_seal_1_a_sealed_zone_has_cap_zero_and_every_entry_alarms():
    rig = yield from staffed_in_parts()
    before = rig.last_seq()
    yield
    rig.call("seal", reason="stopped working")
    yield
    rig.step(100)
    yield
    st = rig.call("status")
    yield
    assert st["sealed"] and st["cap"] == 0 and not st["work_allowed"]
    assert rig.board.refused and not rig.board.work
    rig.cross(1)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert of_kind(evs, ev.SEALED)
    assert [e[3] for e in of_kind(evs, ev.SEALED_ENTRY)] == [1]
    assert rig.occupants()[0] == 1  # counted all the same (R-CAP-11)
    yield
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    yield
    assert rig.call("status")["sealed"] and not rig.board.work
    yield
    # Unsealed: the cap is back and an entry is no violation.
    rig.call("unseal")
    yield
    rig.step(100)
    yield
    before = rig.last_seq()
    yield
    rig.cross(2)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert not of_kind(evs, ev.SEALED_ENTRY) and of_kind(evs, ev.ENTRY)
    st = rig.call("status")
    yield
    assert not st["sealed"] and st["cap"] == 25 and rig.board.work


@in_parts
def test_commands_that_change_nothing_are_refused_saying_so():
    # One choice for all: a command that would change nothing is refused (E_REFUSED) with
    # words saying so, logs COMMAND_REFUSED and no change event, and changes nothing.
    rig = yield from staffed_in_parts()
    before = rig.last_seq()
    yield
    r = rig.request("unseal")
    yield
    assert r.code == E_REFUSED and "not sealed" in r.text and "nothing changed" in r.text, r
    r = rig.request("all-clear")
    yield
    assert r.code == E_REFUSED and "no evacuation" in r.text and "nothing changed" in r.text
    r = rig.request("permit-revoke", permit_id=77)
    yield
    assert r.code == E_REFUSED and "permit 77" in r.text and "nothing changed" in r.text, r
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert not of_kind(evs, ev.UNSEALED) and not of_kind(evs, ev.EVAC_END)
    assert not of_kind(evs, ev.PERMIT_REVOKED) and len(of_kind(evs, ev.COMMAND_REFUSED)) == 3
    # Each does change something once there is something to change, and only once.
    rig.call("seal")
    yield
    r = rig.request("seal")
    yield
    assert r.code == E_REFUSED and "already sealed" in r.text, r
    assert rig.call("status")["sealed"]
    yield
    rig.call("unseal")
    yield
    assert not rig.call("status")["sealed"]
    yield
    assert hot_permit(rig, 5).ok
    yield
    rig.call("permit-revoke", permit_id=5)
    yield
    r = rig.request("permit-revoke", permit_id=5)  # revoked already
    yield
    assert r.code == E_REFUSED and "nothing changed" in r.text, r
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert len(of_kind(evs, ev.SEALED)) == 1 and len(of_kind(evs, ev.UNSEALED)) == 1
    assert [e[3] for e in of_kind(evs, ev.PERMIT_REVOKED)] == [5]
