# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, video and gas
# (R-VIDEO-1, R-GAS-1, R-GAS-2). Each behaviour is shown firing and not firing; rules are
# named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face gateway),
# tests/flashtap.py.

from appkit import staffed_in_parts
from apprig import of_kind
from hostcalls import in_parts

from gateway import events as ev
from gateway import reasons


@in_parts
def test_r_video_1_no_video_no_work():
    rig = yield from staffed_in_parts()
    b = rig.board
    assert b.work
    before = rig.last_seq()
    yield
    rig.video = False
    rig.step(1000, 9)
    yield
    assert b.work  # not firing: within the 10 s timeout
    rig.step(1000, 2)
    yield
    assert not b.work and b.sounder
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert of_kind(evs, ev.VIDEO_LOST)
    assert of_kind(evs, ev.WORK_OFF)[0][4] & reasons.WHY_VIDEO
    rig.video = True
    rig.step(1000, 3)
    yield
    assert not b.work  # back, but not yet for the hold-off
    rig.step(1000, 3)
    yield
    assert b.work


@in_parts
def test_r_gas_1_work_needs_safe_gas_from_a_healthy_sensor():
    rig = yield from staffed_in_parts()
    b = rig.board
    rig.gas = (9999, 23, 0)
    rig.step(500, 2)
    yield
    assert b.work  # not firing: just under both limits
    rig.gas = (10000, 0, 0)
    rig.step(500)
    yield
    assert not b.work
    rig.gas = (2000, 0, 0)
    rig.step(500, 10)
    yield
    assert not b.work and not rig.call("status")["gas_ok"]  # the 5 s gas hold-off
    yield
    rig.step(500)
    yield
    assert b.work
    rig.gas = None  # the sensor goes silent
    rig.step(1000, 4)
    yield
    assert b.work
    rig.step(1000, 2)
    yield
    assert not b.work
    rig.gas = (2000, 0, 0)
    rig.step(500, 11)  # healthy for the 5 s gas hold-off
    yield
    assert b.work
    rig.gas = (-5, 0, 0)  # out of range: a fault, not a reading
    rig.step(500)
    yield
    assert not b.work
    rig.gas = (2000000, -3, 0)
    rig.step(500)
    yield
    st = rig.call("status")  # still answers, without readings no sensor can give
    yield
    assert not st["gas_ok"] and "ch4_ppm" not in st and "co_ppm" not in st
    rig.gas = (2000, 7, 0)
    rig.step(500)
    yield
    st = rig.call("status")
    yield
    assert st["ch4_ppm"] == 2000 and st["co_ppm"] == 7


@in_parts
def test_r_gas_2_the_peak_of_an_exceedance_survives_a_power_cut():
    rig = yield from staffed_in_parts()
    before = rig.last_seq()
    yield
    rig.gas = (10500, 0, 0)
    rig.step(500, 2)
    yield
    rig.gas = (14000, 0, 0)
    rig.step(500, 2)
    yield
    yield from rig.power_cut_in_parts()
    rig.ready(ch4_ppm=3000)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert of_kind(evs, ev.GAS_OVER) and of_kind(evs, ev.GAS_PEAK)
    end = of_kind(evs, ev.GAS_OVER_END)
    assert len(end) == 1 and end[0][3] == 1 + 128 and end[0][4] == 14000, end
