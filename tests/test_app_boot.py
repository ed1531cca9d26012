# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, boot and power cuts:
# the outputs safe from the first instant until the state is restored. Each behaviour is
# shown firing and not firing; rules are named by their IDs. Shared rig: tests/apprig.py,
# tests/appkit.py (a staffed face gateway), tests/flashtap.py.

from appkit import WATCHER, WELDER, first_values, hot_permit, outputs, staffed_in_parts
from apprig import GATEWAY_ID, KEY, NOW_S, SAFE, fresh_root
from flashtap import WatchedBoard
from hostcalls import in_parts

from gateway import app, store


@in_parts
def test_outputs_are_safe_from_the_first_instant_of_boot_until_restored():
    # First boot on a provisioned board: every flash access of the restore happens with
    # every output already in its safe state (de-energised = stop), and that is the first
    # value each output ever takes.
    root = fresh_root()
    b = WatchedBoard(root)
    b.rtc = NOW_S
    b.flash.write(store.KEY_FILE, KEY)
    store.write_cbor(b.flash, store.CONFIG_FILE, {"gateway_id": GATEWAY_ID, "zone_id": "z"})
    b.at_flash = []
    # The boot a phase per part, as gateway/boot.py runs it on a board (staged).
    gw = app.Gateway(b, staged=True)
    yield
    while gw.boot_step():
        yield
    assert len(b.at_flash) > 5
    for seen in b.at_flash:
        assert seen == SAFE, seen
    assert first_values(b.history) == SAFE
    assert outputs(b) == SAFE
    gw.step()
    yield
    assert not b.work and not b.hot


@in_parts
def test_after_a_power_cut_outputs_stay_safe_until_the_inputs_are_known_again():
    rig = yield from staffed_in_parts()
    hot_permit(rig)
    yield
    rig.cross(WATCHER)
    yield
    rig.cross(WELDER)
    yield
    rig.step(500)
    yield
    assert rig.board.work and rig.board.hot  # not firing: both relays were on
    rig.board_class = WatchedBoard
    gw = yield from rig.power_cut_in_parts()
    b = rig.board
    for seen in b.at_flash:
        assert seen == SAFE, seen
    assert first_values(b.history) == SAFE
    assert gw.zone.count == 2  # restored before the first step
    # Video is fresh only once a heartbeat is seen to change, and held for the hold-off.
    rig.step(500, 8)
    yield
    assert not b.work and not b.hot
    rig.step(500, 6)
    yield
    assert b.work and b.hot
