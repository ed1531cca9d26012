"""A hot-work permit's whole life at a coal face (R-HOT-1, R-HOT-2): one job, one safety
measure, one ticket, issued by dispatch for a window; the hot-work relay is on only inside
the window, with a named welder and the named fire-watcher in the zone, video up and
methane at most 0.5 %. When the window ends, the fire watch runs for an hour; the watcher
leaves early, which alarms and is logged naming them, comes back, and the watch completes.

The hour passes with advance() on a virtual board; the methane reading drifts a little
meanwhile, as a real one does (a reading frozen for gas_stuck_s is a stuck-sensor fault).
On a real bench time passes for real: the window is two minutes and the fire watch is
shortened to two by config (fire_watch_s), so the scenario ends in minutes.
"""

from gateway import events as ev
from gateway import roles
from gateway.permits import HOT
from gateway.reasons import WHY_GAS_HOT, WHY_WATCHER_ABSENT
from shaftgate.link.client import GatewayError

from .hil_bench import (
    GAS_HOLDOFF_S,
    VIDEO_HOLDOFF_S,
    Person,
    face_config,
    morning_crew,
    outputs_text,
)

PERMIT_ID = 501
JOB_ID = 77
WELDER = Person(39001, 9001, roles.WELDER, roles.CREW_PRODUCTION)
HELPER = Person(39003, 9003, roles.WELDER, roles.CREW_PRODUCTION)
WATCHER = Person(39002, 9002, roles.SAFETY_INSPECTOR, roles.CREW_NONE)


def test_hot_work_permit_lifecycle_with_fire_watch(board, report):
    crew = morning_crew(8)
    config = face_config("gw-face1", "coal_face")
    face = board.gate(config, [*crew, WELDER, HELPER, WATCHER])
    # (issued ahead by, window, fire watch, drift step) in seconds
    lead_s, window_s, watch_s, step_s = 600, 3600, 3600, 300
    if not face.io.virtual_clock:
        lead_s, window_s, watch_s, step_s = 20, 120, 120, 10
        face.client.config_set({"fire_watch_s": watch_s})
        report.note("real board: window and fire watch shortened to %d s" % watch_s)
    drift = _Drift(face, step_s)
    board.advance(VIDEO_HOLDOFF_S + 1, why="cameras live for the hold-off")
    face.walk_in([p.tag for p in crew], why="the shift")

    now = board.now_s()
    start_s, end_s = now + lead_s, now + lead_s + window_s
    face.client.permit_issue(
        permit_id=PERMIT_ID,
        job_id=JOB_ID,
        measure_ref="HW-0615-01",
        start_s=start_s,
        end_s=end_s,
        workers=[WELDER.person_id, HELPER.person_id],
        fire_watcher=WATCHER.person_id,
        flags=HOT,
    )
    report.drive(
        face.name,
        "permit %d issued: job %d, welders %d and %d, fire-watcher %d, window from %d s "
        "ahead for %d s"
        % (
            PERMIT_ID,
            JOB_ID,
            WELDER.person_id,
            HELPER.person_id,
            WATCHER.person_id,
            lead_s,
            window_s,
        ),
    )
    listed = face.client.permit_list()["permits"]
    report.expect(
        face.name,
        "the permit is in the book",
        [p["permit_id"] for p in listed] == [PERMIT_ID],
    )
    try:
        face.client.permit_issue(
            permit_id=PERMIT_ID + 1,
            job_id=JOB_ID + 1,
            measure_ref="HW-0615-02",
            start_s=start_s + window_s // 2,
            end_s=end_s + window_s // 2,
            workers=[HELPER.person_id],
            fire_watcher=WATCHER.person_id,
            flags=HOT,
        )
        overlap_refused = False
    except GatewayError as e:
        overlap_refused = e.code_name == "refused"
        report.observe(face.name, "second ticket: %s" % e.text)
    report.expect(
        face.name, "an overlapping second hot-work ticket is refused (R-HOT-1)", overlap_refused
    )

    face.walk_in([WELDER.tag, HELPER.tag], why="welders to the work place")
    report.expect(
        face.name, "hot-work relay off before the window", not face.io.outputs()["hot_relay"]
    )
    drift.advance_to(start_s + 5, board)
    out = face.io.outputs()
    report.expect(
        face.name,
        "window open, watcher not in the zone: hot-work relay off (%s)" % outputs_text(out),
        not out["hot_relay"] and out["work_relay"],
    )
    face.walk_in([WATCHER.tag], why="fire-watcher arrives")
    face.wait_outputs(
        lambda o: o["hot_relay"], "hot-work relay on: window, welders, watcher, video, gas"
    )

    face.io.gas(6000, 0)
    report.drive(face.name, "methane 0.60 % (above the 0.5 % hot-work limit)")
    face.wait_outputs(
        lambda o: not o["hot_relay"] and o["work_relay"], "hot work stopped, face work goes on"
    )
    face.io.gas(2000, 0)
    report.drive(face.name, "methane back to 0.20 %")
    # The hold-off's time: the mine's clock is the scenario's (hil_bench.py).
    board.advance(GAS_HOLDOFF_S + 1, why="methane low for the gas hold-off")
    face.wait_outputs(lambda o: o["hot_relay"], "hot-work relay on again")

    face.walk_out([WATCHER.tag], why="watcher steps out during the work")
    out = face.io.outputs()
    report.expect(face.name, "hot-work relay off without the watcher", not out["hot_relay"])
    face.walk_in([WATCHER.tag], why="watcher back")
    face.wait_outputs(lambda o: o["hot_relay"], "hot-work relay on again")

    drift.advance_to(end_s + 2, board)
    out = face.io.outputs()
    report.expect(
        face.name, "window over: hot-work relay off (%s)" % outputs_text(out), not out["hot_relay"]
    )
    face.catch_up()
    starts = face.events(ev.FIRE_WATCH_START)
    report.expect(
        face.name,
        "FIRE_WATCH_START: watcher %d, permit %d, %d s to watch"
        % (WATCHER.person_id, PERMIT_ID, watch_s),
        [(e["tag"], e["a"], e["b"]) for e in starts] == [(WATCHER.person_id, PERMIT_ID, watch_s)],
    )
    watch_began = board.now_s()
    face.walk_out([WELDER.tag, HELPER.tag], why="welders done")

    drift.advance_to(watch_began + watch_s // 3, board)
    face.walk_out([WATCHER.tag], why="the watcher leaves early")
    out = face.io.outputs()
    report.expect(
        face.name,
        "fire-watch alarm: %s" % outputs_text(out),
        out["sounder"] and out["lamp"] == 2,
    )
    face.catch_up()
    left = face.events(ev.FIRE_WATCH_LEFT)
    report.expect(
        face.name,
        "FIRE_WATCH_LEFT names watcher %d, about %d s of watch left (logged %s)"
        % (WATCHER.person_id, watch_s * 2 // 3, left[0]["b"] if left else None),
        len(left) == 1
        and left[0]["tag"] == WATCHER.person_id
        and abs(left[0]["b"] - watch_s * 2 // 3) <= 20,
    )
    drift.advance_to(board.now_s() + watch_s // 12, board)
    face.walk_in([WATCHER.tag], why="the watcher comes back")
    out = face.io.outputs()
    report.expect(
        face.name, "alarm over: %s" % outputs_text(out), not out["sounder"] and out["lamp"] == 1
    )
    face.catch_up()
    back = face.events(ev.FIRE_WATCH_BACK)
    report.expect(
        face.name,
        "FIRE_WATCH_BACK names watcher %d" % WATCHER.person_id,
        [e["tag"] for e in back] == [WATCHER.person_id],
    )

    drift.advance_to(watch_began + watch_s + watch_s // 12 + 30, board)
    face.catch_up()
    ended = face.events(ev.FIRE_WATCH_END)
    report.expect(
        face.name,
        "FIRE_WATCH_END: watcher %d, permit %d, left once" % (WATCHER.person_id, PERMIT_ID),
        [(e["tag"], e["a"], e["b"]) for e in ended] == [(WATCHER.person_id, PERMIT_ID, 1)],
    )
    face.walk_out([WATCHER.tag], why="watch over, the watcher leaves")
    out = face.io.outputs()
    report.expect(face.name, "no alarm after the watch: %s" % outputs_text(out), not out["sounder"])

    face.catch_up()
    hot_off = face.events(ev.HOT_OFF)
    reasons = [e["a"] for e in hot_off]
    report.expect(
        face.name,
        "HOT_OFF logged for the methane (0x%x) and the absent watcher (0x%x): %s"
        % (WHY_GAS_HOT, WHY_WATCHER_ABSENT, ["0x%x" % r for r in reasons]),
        any(r & WHY_GAS_HOT for r in reasons) and any(r & WHY_WATCHER_ABSENT for r in reasons),
    )
    report.expect(
        face.name,
        "HOT_ON each time under permit %d, job %d, watcher %d"
        % (PERMIT_ID, JOB_ID, WATCHER.person_id),
        {(e["tag"], e["a"], e["b"]) for e in face.events(ev.HOT_ON)}
        == {(PERMIT_ID, JOB_ID, WATCHER.person_id)},
    )
    ended = face.events(ev.PERMIT_ENDED)
    report.expect(
        face.name,
        "PERMIT_ENDED once, its window had begun",
        [(e["tag"], e["b"]) for e in ended] == [(PERMIT_ID, 1)],
    )
    report.expect(face.name, "no gas sensor fault all along", not face.events(ev.GAS_FAULT))
    report.observe(face.name, "events: %s" % dict(face.kinds()))
    face.expect_event_log_whole()


class _Drift:
    """Lets the mine clock run to a time, moving the methane reading by a few ppm every
    step, as a live sensor's reading does."""

    def __init__(self, gate, step_s):
        self.gate = gate
        self.step_s = step_s
        self.n = 0

    def advance_to(self, when_s, board):
        passed = 0
        while board.now_s() < when_s:
            step = min(self.step_s, when_s - board.now_s())
            board.advance(step)
            passed += step
            self.n += 1
            self.gate.io.gas(2000 + (self.n % 5) * 10, 0)
        self.gate.report.drive("mine", "%d s pass, methane drifting 0.20-0.21 %%" % passed)
