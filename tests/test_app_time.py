# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, time-set: the wall
# clock, its range, steps back. Each behaviour is shown firing and not firing; rules are
# named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face gateway),
# tests/flashtap.py.

from appkit import staffed_in_parts
from apprig import NOW_S, of_kind, rig_in_parts
from hostcalls import in_parts

from gateway import events as ev
from gatewire.errors import E_BAD_FIELD, E_REFUSED


@in_parts
def test_time_set_sets_the_wall_clock_and_logs_the_step():
    rig = yield from rig_in_parts(rtc_s=0)
    rig.step(100)
    st = rig.call("status")
    yield
    assert st["now_s"] == 0 and st["shift"] == 0  # unknown: the strictest cap applies
    assert st["cap"] == 25 and rig.board.refused  # R-ID-4: certificates unverifiable
    before = rig.last_seq()
    yield
    rig.call("time-set", time_s=NOW_S)
    yield
    rig.step(100)
    assert rig.board.rtc >= NOW_S and rig.call("status")["now_s"] >= NOW_S
    assert not rig.board.refused
    ts = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_SET)
    yield
    assert len(ts) == 1 and ts[0][4] == NOW_S and ts[0][1] == NOW_S
    r = rig.raw_request("time-set", {0: 1000})  # 1970: a host whose clock was never set
    yield
    assert r.code == E_BAD_FIELD and r.field == "time_s"
    assert rig.board.rtc >= NOW_S
    rig.call("time-set", time_s=NOW_S + 100)
    yield
    assert of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_SET)[-1][4] in (99, 100)


@in_parts
def test_time_set_holds_2038_and_the_clock_range_end_and_refuses_past_2054():
    # The firmware's clock seconds (gateway/caps.py) run from 2020 to 2054-01-09T13:37:03Z
    # (2**30 - 1 s): exact across 2**31 (2038, where a signed 32-bit unix time wraps) and
    # at the end of the range; past it the clock reads as unknown (fail safe) and a
    # time-set beyond it is refused, changing nothing.
    rig = yield from rig_in_parts(rtc_s=0)
    rig.step(100)
    t2038 = 0x7FFFFFFF + 5
    before = rig.last_seq()
    yield
    rig.call("time-set", time_s=t2038)
    yield
    assert rig.call("status")["now_s"] in (t2038, t2038 + 1)
    ts = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_SET)
    yield
    assert len(ts) == 1 and ts[0][1] == t2038  # the record's unix time, exact
    end = 2651578623
    rig.call("time-set", time_s=end)
    yield
    st = rig.call("status")
    yield
    assert st["now_s"] == end and not rig.board.refused
    r = rig.raw_request("time-set", {0: end + 1})
    yield
    assert r.code == E_BAD_FIELD and r.field == "time_s" and "2054" in r.text
    assert rig.call("status")["now_s"] == end  # refused: the clock as it was
    rig.step(1500)  # the board's clock runs past the range
    st = rig.call("status")
    yield
    assert st["now_s"] == 0 and st["shift"] == 0  # unknown: the strictest cap
    assert rig.board.refused  # certificates unverifiable: entry refused (R-ID-4)


@in_parts
def test_time_set_back_beyond_the_tolerance_needs_the_backwards_flag():
    rig = yield from staffed_in_parts()
    rig.clock_runs = False  # the wall clock stands still, so every step is exact
    b = rig.board
    start = b.rtc
    before = rig.last_seq()
    yield
    # Firing: 25 minutes back is refused and changes nothing; the attempt is on record.
    r = rig.request("time-set", time_s=start - 1500)
    yield
    assert r.code == E_REFUSED and r.field == "backwards", r
    assert "back 1500 s" in r.text and "backwards" in r.text, r
    assert b.rtc == start
    refused = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_BACK_REFUSED)
    yield
    assert [(e[1], e[3], e[4]) for e in refused] == [(start, start - 1500, -1500)]
    r = rig.request("time-set", time_s=start - 3, backwards=False)
    yield
    assert r.code == E_REFUSED and b.rtc == start, r
    assert not of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_SET)
    # Not firing: within the tolerance, forward, or back on the explicit flag.
    rig.call("time-set", time_s=start - 2)
    yield
    rig.call("time-set", time_s=start + 60)
    yield
    rig.call("time-set", time_s=start - 1500, backwards=True)
    yield
    assert b.rtc == start - 1500
    sets = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.TIME_SET)
    yield
    # Logged at the new time, the old one in tag, the step in a, b=1 for a step back.
    assert [(e[1], e[3], e[4], e[5]) for e in sets] == [
        (start - 2, start, -2, 0),
        (start + 60, start - 2, 62, 0),
        (start - 1500, start + 60, -1560, 1),
    ]
