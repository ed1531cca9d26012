# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, people: crossings, the
# ledger and the occupants across power cuts. Each behaviour is shown firing and not firing;
# rules are named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a staffed face
# gateway), tests/flashtap.py.

from appkit import bad_reads_in_parts, staffed_in_parts
from apprig import GATEWAY_ID, of_kind, person_of
from hostcalls import in_parts

from gateway import app
from gateway import events as ev
from gateway.eventlog import genesis_digest, verify_chain


@in_parts
def test_a_crossing_in_then_out_changes_the_count_and_the_occupants():
    rig = yield from staffed_in_parts()
    assert rig.occupants() == (0, [])
    yield
    rig.cross(1)
    yield
    t1 = rig.board.rtc
    rig.cross(5)
    yield
    total, rows = rig.occupants()
    yield
    assert total == 2 and [r[:2] for r in rows] == [(1, 1001), (5, 1005)]
    assert t1 - 3 <= rows[0][2] <= t1
    assert rig.call("status")["occupants"] == 2
    yield
    rig.cross(1, into=False)
    yield
    assert rig.occupants()[0] == 1
    yield
    # R-ID-1: an exit nobody saw enter is an event, never a negative count.
    before = rig.last_seq()
    yield
    rig.cross(7, into=False)
    yield
    rig.step(500, 12)  # read inside once only: told at the end of the doorway's window
    yield
    assert rig.occupants()[0] == 1
    yield
    assert of_kind((yield from rig.fetch_in_parts(before + 1)), ev.MISSED_ENTRY)[0][3] == 7
    yield
    # An unknown tag is counted, with person 0 (R-ID-4 evidence).
    rig.cross(99)
    yield
    total, rows = rig.occupants()
    yield
    assert total == 2 and (99, 0) in [r[:2] for r in rows]


@in_parts
def test_a_power_cut_mid_shift_restores_the_ledger_exactly():
    rig = yield from staffed_in_parts()
    for t in (1, 2, 3, 4, 5, 6):
        rig.cross(t)
    yield
    rig.cross(2, into=False)
    yield
    expect = rig.occupants()
    yield
    yield from rig.power_cut_in_parts()
    assert rig.occupants() == expect
    yield
    assert rig.gw.system == 0
    # Twice over, and after more crossings that only the log holds.
    rig.cross(7)
    yield
    rig.cross(3, into=False)
    yield
    expect = rig.occupants()
    yield
    yield from rig.power_cut_in_parts()
    yield from rig.power_cut_in_parts()
    assert rig.occupants() == expect
    yield
    assert expect[0] == 5


@in_parts
def test_the_ledger_is_restored_after_an_ack_removed_old_segments():
    rig = yield from staffed_in_parts()
    for t in (1, 2, 3):
        rig.cross(t)
    yield
    yield from bad_reads_in_parts(rig, 140)  # fill more than one segment (128 records)
    yield
    last = (yield from rig.fetch_in_parts(1))[-1][0]
    yield
    rig.ack(last)
    yield
    assert "ev00000001" not in rig.board.flash.names()  # the old segment is gone
    yield
    rig.cross(4)
    yield
    rig.cross(1, into=False)
    yield
    expect = rig.occupants()
    yield
    yield from rig.power_cut_in_parts()
    assert rig.occupants() == expect
    yield
    assert [r[0] for r in expect[1]] == [2, 3, 4]
    assert not rig.gw.system & app.SYS_STATE_LOST


@in_parts
def test_no_event_is_lost_or_changed_across_power_cuts():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    seen = yield from rig.fetch_in_parts(1)
    yield
    rig.ack(seen[len(seen) // 2][0])
    yield
    rig.cross(2)
    yield
    yield from rig.step_in_parts(100, 20)
    yield
    before = yield from rig.fetch_in_parts(seen[-1][0] + 1)
    yield
    last = before[-1][0] if before else seen[-1][0]
    yield from rig.power_cut_in_parts()
    after = yield from rig.fetch_in_parts(rig.acked + 1)
    yield
    have = {}
    for e in after:
        have[e[0]] = e
    for seq in range(rig.acked + 1, last + 1):
        assert have[seq] == rig.seen[seq], seq  # _keep also checks each against the first
    yield
    assert min(have) == rig.acked + 1
    new = [e for e in after if e[0] > last]
    assert new[0][0] == last + 1 and of_kind(new, ev.BOOT)  # numbers go on, none reused
    everything = [rig.seen[s] for s in sorted(rig.seen)]
    yield
    verify_chain(everything, genesis_digest(GATEWAY_ID), 0)


@in_parts
def test_a_stay_is_timed_from_the_wall_clock_across_a_power_cut():
    # Overstay (the positioning standard's dwell time) counts the time before the cut.
    rig = yield from staffed_in_parts(config={"max_dwell_s": 600})
    rig.cross(1)
    yield
    yield from rig.run_s_in_parts(400)
    yield
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    yield
    before = rig.last_seq()
    yield
    yield from rig.run_s_in_parts(150)
    yield
    assert not of_kind(
        (yield from rig.fetch_in_parts(before + 1)), ev.OVERSTAY
    )  # 557 s in: not yet
    yield
    yield from rig.run_s_in_parts(60)
    yield
    over = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.OVERSTAY)
    yield
    assert len(over) == 1 and over[0][3] == 1 and over[0][4] == person_of(1)
