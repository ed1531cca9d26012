"""No video, no work (R-VIDEO-1): mid-shift, one of a coal face's two cameras stops
beating. The work relay drops once its heartbeat is stale (video_timeout_ms, 10 s), the
alarm sounds; the people inside stay counted. When the camera is back, the relay returns
only after every camera has been live, without a gap, for the hold-off (5 s)."""

from gateway import events as ev
from gateway.reasons import WHY_VIDEO

from .hil_bench import VIDEO_HOLDOFF_S, face_config, morning_crew, outputs_text

VIDEO_TIMEOUT_S = 10
BEAT_PERIOD_S = 0.5  # a camera's last beat may be this much older than its switching off
STEP_S = 0.5


def test_video_loss_mid_shift_and_its_return(board, report):
    crew = morning_crew(12)
    face = board.gate(face_config("gw-face1", "coal_face", cameras=2), crew)
    waited = board.advance_until(face, lambda o: o["work_relay"], STEP_S, 15)
    report.expect(
        face.name,
        "work relay on once both cameras were live for the hold-off (after %s s)" % waited,
        waited is not None and waited >= VIDEO_HOLDOFF_S - 1,
    )
    face.walk_in([p.tag for p in crew], why="the shift at work")
    face.expect_status(lamp=1, entry_refused=False, why="mid-shift")
    face.catch_up()

    face.io.video(1, False)
    report.drive(face.name, "camera 1 stops beating")
    lost_after = board.advance_until(face, lambda o: not o["work_relay"], STEP_S, 20)
    out = face.io.outputs()
    report.observe(face.name, "after %s s: %s" % (lost_after, outputs_text(out)))
    report.expect(
        face.name,
        "work relay dropped once the heartbeat was stale (%s s, timeout %d s)"
        % (lost_after, VIDEO_TIMEOUT_S),
        lost_after is not None
        and VIDEO_TIMEOUT_S - BEAT_PERIOD_S <= lost_after <= VIDEO_TIMEOUT_S + 1.5,
    )
    report.expect(
        face.name,
        "alarm: amber lamp and sounder, entry still permitted",
        out["lamp"] == 2 and out["sounder"] and not out["entry_refused"],
    )
    face.expect_status(why="people stay counted without video")
    status = face.status()
    report.expect(face.name, "status: video not ok, work not allowed", not status["video_ok"])

    board.advance(30, why="half a minute without video")
    report.expect(face.name, "work relay still off", not face.io.outputs()["work_relay"])

    face.io.video(1, True)
    report.drive(face.name, "camera 1 beats again")
    back_at = len(face.io.output_history())
    back_after = board.advance_until(face, lambda o: o["work_relay"], STEP_S, 15)
    report.expect(
        face.name,
        "work relay back only after the hold-off: %s s after the camera (hold-off %d s)"
        % (back_after, VIDEO_HOLDOFF_S),
        back_after is not None and VIDEO_HOLDOFF_S - 0.05 <= back_after <= VIDEO_HOLDOFF_S + 1.5,
    )
    flicker = [o for _, o in face.io.output_history()[back_at:-1] if o["work_relay"]]
    report.expect(face.name, "work relay never on during the hold-off", not flicker)
    out = face.io.outputs()
    report.expect(
        face.name,
        "lamp green, sounder off: %s" % outputs_text(out),
        out["lamp"] == 1 and not out["sounder"],
    )

    face.catch_up()
    lost = face.events(ev.VIDEO_LOST)
    report.expect(
        face.name,
        "VIDEO_LOST for camera 1 once, its beat %s ms old" % (lost[0]["a"] if lost else "?"),
        len(lost) == 1 and lost[0]["tag"] == 1 and lost[0]["a"] > VIDEO_TIMEOUT_S * 1000,
    )
    off = [e for e in face.events(ev.WORK_OFF) if e["a"] & WHY_VIDEO]
    report.expect(face.name, "WORK_OFF logged with the video reason", len(off) == 1)
    ok = face.events(ev.VIDEO_OK)[-1]
    # Without video from the drop until the hold-off after the camera's return ended.
    assert back_after is not None
    outage_s = 30 + back_after
    report.expect(
        face.name,
        "VIDEO_OK logs %d s without video (%.1f s driven)" % (ok["a"], outage_s),
        abs(ok["a"] - outage_s) <= 1.5,
    )
    work_on = face.events(ev.WORK_ON)[-1]
    report.expect(face.name, "WORK_ON after VIDEO_OK", work_on["seq"] > ok["seq"])
    face.expect_status(why="nobody lost meanwhile")
    face.expect_event_log_whole()
