# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, the event log full:
# entries refused before events are dropped, an ack clears it. Each behaviour is shown
# firing and not firing; rules are named by their IDs. Shared rig: tests/apprig.py,
# tests/appkit.py (a staffed face gateway), tests/flashtap.py.

from appkit import bad_reads_in_parts, roster
from apprig import of_kind, rig_in_parts
from hostcalls import in_parts

from gateway import app
from gateway import events as ev


@in_parts
def test_a_full_log_refuses_entries_before_dropping_events_and_an_ack_clears_it():
    rig = yield from rig_in_parts(config={"log_capacity": 64})
    yield from rig.ready_in_parts()
    yield
    assert not rig.board.refused and not rig.board.sounder
    fed = 0
    while not rig.board.refused and fed < 80:
        rig.board.reads.append((7, 1 + fed, -70, 0))
        fed += 1
        rig.step(10)
        yield
    assert rig.board.refused and rig.board.sounder and rig.board.lamp == 3
    assert rig.gw.system & app.SYS_LOG_FULL
    evs = yield from rig.fetch_in_parts(1)
    yield
    # Not one event dropped: every read is on record, and the alarm is there too.
    assert len(of_kind(evs, ev.READ_POINT_UNKNOWN)) == fed
    assert [e[0] for e in evs] == list(range(1, len(evs) + 1))
    assert len(of_kind(evs, ev.LOG_FULL)) == 1
    rig.ack(evs[-1][0])
    yield
    rig.step(10)
    yield
    assert not rig.gw.system & app.SYS_LOG_FULL
    assert not rig.board.refused and not rig.board.sounder and rig.board.lamp != 3


@in_parts
def test_a_crossing_the_full_log_could_not_record_still_survives_a_power_cut():
    # R-ID-1, R-CAP-11: someone who walks in regardless is counted, and stays counted.
    rig = yield from rig_in_parts(config={"log_capacity": 64})
    yield from rig.load_roster_in_parts(roster())
    yield
    yield from rig.ready_in_parts()
    yield
    yield from bad_reads_in_parts(rig, 70)
    yield
    assert rig.gw.lost_events > 0  # the log is full: ordinary events are being dropped
    before = rig.gw.lost_events
    rig.cross(1)
    yield
    assert rig.gw.lost_events > before  # the ENTRY itself found no room
    assert rig.occupants()[0] == 1
    yield
    yield from rig.power_cut_in_parts()
    assert rig.occupants()[0] == 1
    yield
    assert rig.gw.system & app.SYS_LOG_FULL


@in_parts
def test_a_log_with_room_refuses_nobody():
    rig = yield from rig_in_parts(config={"log_capacity": 64})
    yield from rig.ready_in_parts()
    yield
    yield from bad_reads_in_parts(rig, 20)
    yield
    assert not rig.board.refused and not rig.gw.system & app.SYS_LOG_FULL
