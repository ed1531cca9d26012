# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, permits and hot work
# (R-HOT-1..3, R-VIDEO-2). Each behaviour is shown firing and not firing; rules are named by
# their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face gateway),
# tests/flashtap.py.

from appkit import WATCHER, WELDER, hot_permit, roster, staffed_in_parts
from apprig import NOW_S, of_kind, person_of, rig_in_parts
from flashtap import JournalBoard, journal_index, snapshot_interlocks
from hostcalls import in_parts

from gateway import events as ev
from gatewire import messages
from gatewire.errors import E_REFUSED


@in_parts
def test_a_permit_ended_by_its_window_cannot_be_revoked_and_says_so():
    rig = yield from staffed_in_parts()
    now = rig.board.rtc
    assert hot_permit(rig, 6, start_s=now - 60, end_s=now + 5).ok
    yield
    rig.run_s(10)
    yield
    r = rig.request("permit-revoke", permit_id=6)
    yield
    assert r.code == E_REFUSED and "ended" in r.text, r


@in_parts
def test_permits_are_issued_listed_and_revoked_by_command():
    rig = yield from staffed_in_parts()
    before = rig.last_seq()
    yield
    assert hot_permit(rig, 1).ok
    yield
    listing = rig.call("permit-list")
    yield
    assert listing["total"] == 1
    p = listing["permits"][0]
    assert p["permit_id"] == 1 and p["fire_watcher"] == person_of(WATCHER)
    assert p["workers"] == [person_of(WELDER)] and p["measure_ref"] == "STM-1"
    assert rig.call("status")["permits_active"] == 1
    yield
    # R-HOT-1: one job, one ticket: an overlapping hot-work permit and a reused id are refused.
    r = hot_permit(rig, 2)
    yield
    assert r.code == E_REFUSED and "overlap" in r.text, r
    r = hot_permit(rig, 1, start_s=rig.board.rtc + 7200, end_s=rig.board.rtc + 9000)
    yield
    assert r.code == E_REFUSED, r
    yield from rig.power_cut_in_parts()
    assert rig.call("permit-list")["total"] == 1
    yield
    rig.call("permit-revoke", permit_id=1)
    yield
    assert rig.call("permit-list")["total"] == 0
    yield
    r = rig.request("permit-revoke", permit_id=1)
    yield
    assert r.code == E_REFUSED, r
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [e[3] for e in of_kind(evs, ev.PERMIT_ISSUED)] == [1]
    assert [e[3] for e in of_kind(evs, ev.PERMIT_REVOKED)] == [1]


@in_parts
def test_r_hot_2_3_a_permit_names_people_in_the_roster():
    # R-HOT-2 (the fire-watcher) and R-HOT-3 (registered workers): both on the roster.
    rig = yield from staffed_in_parts()
    now = rig.board.rtc
    before = rig.last_seq()
    yield
    permit = {
        "permit_id": 9,
        "job_id": 79,
        "measure_ref": "STM-9",
        "start_s": now - 60,
        "end_s": now + 3600,
        "fire_watcher": person_of(WATCHER),
        "workers": [person_of(WELDER), 999999],
        "flags": messages.PERMIT_HOT_WORK,
    }
    r = rig.request("permit-issue", **permit)
    yield
    assert r.code == E_REFUSED and r.field == "workers", r
    assert "worker 999999 is not in this gateway's roster" in r.text, r
    permit["workers"] = [person_of(WELDER)]
    permit["fire_watcher"] = 888888
    r = rig.request("permit-issue", **permit)
    yield
    assert r.code == E_REFUSED and r.field == "fire_watcher", r
    assert "fire-watcher 888888 is not in this gateway's roster" in r.text, r
    assert rig.call("permit-list")["total"] == 0
    yield
    assert not of_kind((yield from rig.fetch_in_parts(before + 1)), ev.PERMIT_ISSUED)
    yield
    # Not firing: everyone named is on the roster; a key-work permit needs no watcher.
    permit["fire_watcher"] = person_of(WATCHER)
    rig.call("permit-issue", **permit)
    yield
    permit.update(permit_id=10, fire_watcher=0, flags=messages.PERMIT_KEY_MAINTENANCE)
    rig.call("permit-issue", **permit)
    yield
    assert rig.call("permit-list")["total"] == 2


@in_parts
def test_a_permit_needs_the_wall_clock():
    rig = yield from rig_in_parts(rtc_s=0)
    yield from rig.load_roster_in_parts(roster())
    yield
    r = hot_permit(rig, 1, start_s=NOW_S, end_s=NOW_S + 3600)
    yield
    assert r.code == E_REFUSED and "clock" in r.text, r


@in_parts
def test_r_hot_1_the_hot_work_relay_needs_every_condition():
    rig = yield from staffed_in_parts()
    b = rig.board
    hot_permit(rig, 1)
    yield
    rig.step(500)
    yield
    assert not b.hot  # nobody named is in
    rig.cross(WELDER)
    yield
    assert not b.hot  # the fire-watcher is not in (R-HOT-2)
    rig.cross(WATCHER)
    yield
    assert b.hot and b.work
    # Each failing condition drops it at once.
    rig.gas = (6000, 0, 0)  # above 0.5 % methane: no hot work, other work goes on
    rig.step(500)
    yield
    assert not b.hot and b.work
    rig.gas = (2000, 0, 0)
    rig.step(500, 10)
    yield
    assert not b.hot  # the gas hold-off: 5 s at or below 0.5 % first
    rig.step(500)
    yield
    assert b.hot
    rig.cross(WATCHER, into=False)
    yield
    assert not b.hot
    rig.cross(WATCHER)
    yield
    assert b.hot
    rig.gas = (2000, 0, 1)  # the sensor flags a fault: gas unknown
    rig.step(500)
    yield
    assert not b.hot and not b.work
    rig.gas = (2000, 0, 0)
    rig.step(500, 11)  # healthy for the 5 s gas hold-off
    yield
    assert b.hot
    # R-HOT-2: revoked, the relay drops and the fire watch begins; leaving early alarms.
    before = rig.last_seq()
    yield
    rig.call("permit-revoke", permit_id=1)
    yield
    rig.step(100)
    yield
    assert not b.hot and b.work
    rig.cross(WATCHER, into=False)
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert of_kind(evs, ev.FIRE_WATCH_START) and of_kind(evs, ev.FIRE_WATCH_LEFT)
    assert b.sounder


@in_parts
def test_r_hot_2_a_fire_watch_follows_hot_work_that_a_power_cut_interrupted():
    rig = yield from staffed_in_parts()
    now = rig.board.rtc
    hot_permit(rig, 1, start_s=now - 60, end_s=now + 600)
    yield
    rig.cross(WELDER)
    yield
    rig.cross(WATCHER)
    yield
    assert rig.board.hot
    before = rig.last_seq()
    yield
    yield from rig.power_cut_in_parts(rtc_s=now + 900)  # back after the permit's window ended
    rig.ready()
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    ended = of_kind(evs, ev.PERMIT_ENDED)
    assert [(e[3], e[5]) for e in ended] == [(1, 1)], ended  # its window had begun
    watch = of_kind(evs, ev.FIRE_WATCH_START)
    assert [(e[3], e[4]) for e in watch] == [(person_of(WATCHER), 1)]
    # Not firing: a permit that ended before its window ever opened needs no watch.
    before = rig.last_seq()
    yield
    now = rig.board.rtc
    hot_permit(rig, 2, start_s=now + 100, end_s=now + 200)
    yield
    yield from rig.power_cut_in_parts(rtc_s=now + 300)
    rig.ready()
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert [(e[3], e[5]) for e in of_kind(evs, ev.PERMIT_ENDED)] == [(2, 0)]
    assert not of_kind(evs, ev.FIRE_WATCH_START)


@in_parts
def test_r_hot_2_hot_work_is_on_flash_as_begun_before_the_relay_closes():
    rig = yield from staffed_in_parts(board_class=JournalBoard)
    hot_permit(rig, 1)
    yield
    rig.cross(WELDER)
    yield
    j = rig.board.journal
    del j[:]
    rig.cross(WATCHER)
    yield
    closed = journal_index(j, lambda it: it[0] == "hot")
    assert closed > 0
    states = [it for it in j[:closed] if it[0] == "state"]
    permits = snapshot_interlocks(states[-1][1])[1]  # [version, permits, ...]
    assert [(p[0], p[7]) for p in permits] == [(1, 1)]  # permit 1, began
