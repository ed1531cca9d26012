# micropython-test
# No video, no work (R-VIDEO-1): gateway/video.py on its own.
from interlock_rig import Log
from mpcheck import raises

from gateway import events
from gateway.reasons import WHY_VIDEO
from gateway.video import NO_CAMERA, Video
from gatewire.errors import ProtocolError


def _video(cameras=1, timeout_ms=10000, holdoff_ms=5000):
    log = Log()
    return Video(cameras, timeout_ms, holdoff_ms, log), log


def _beat_all(v, beats, now_ms, alive=None):
    for i in range(v.cameras):
        if alive is None or alive[i]:
            beats[i] = now_ms
    v.on_beats(beats, v.cameras, now_ms)


def _live(v, beats, start_ms, end_ms, step_ms=1000, alive=None):
    t = start_ms
    while t <= end_ms:
        _beat_all(v, beats, t, alive)
        t += step_ms
    return t - step_ms


def test_boot_is_no_video_until_beats_change_and_the_holdoff_passes():
    # R-VIDEO-1 fail safe at boot: a value seen at boot may be stale; only a change counts.
    v, log = _video()
    beats = [0] * 8
    beats[0] = 500
    v.on_beats(beats, 1, 1000)  # fresh-looking, but not seen to change
    assert not v.ok and v.reasons() == WHY_VIDEO
    _live(v, beats, 2000, 6999)
    assert not v.ok  # live since 2000: hold-off of 5000 not over at 6000
    _beat_all(v, beats, 7000)
    assert v.ok and v.reasons() == 0
    ok = log.of(events.VIDEO_OK)
    assert len(ok) == 1 and ok[0][3] == 1
    assert not log.of(events.VIDEO_LOST) and not v.alarm


def test_a_stale_heartbeat_drops_video_at_once_with_alarm_and_event():
    # R-VIDEO-1 firing: older than the timeout -> lost; exactly the timeout -> not yet.
    v, log = _video()
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    v.tick(t + 10000)  # age == timeout: still live (not firing)
    assert v.ok and not v.alarm
    v.tick(t + 10001)
    assert not v.ok and v.alarm and v.reasons() == WHY_VIDEO
    assert log.of(events.VIDEO_LOST) == [(events.VIDEO_LOST, 0, 10001, 1)]


def test_video_returns_only_after_all_cameras_held_off():
    # R-VIDEO-1: back only after the hold-off, with every camera live throughout it.
    v, log = _video(cameras=2, holdoff_ms=5000)
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    t = _live(v, beats, t + 1000, t + 12000, alive=[True, False])
    assert not v.ok and v.alarm
    assert [e[1] for e in log.of(events.VIDEO_LOST)] == [1]
    back = t + 1000
    t = _live(v, beats, back, back + 4000)
    assert not v.ok and not v.alarm  # camera 1 live again, hold-off still running
    _beat_all(v, beats, back + 5000)
    assert v.ok
    assert len(log.of(events.VIDEO_OK)) == 2


def test_a_camera_lost_during_the_holdoff_restarts_it():
    v, log = _video(cameras=2, holdoff_ms=5000)
    beats = [0] * 8
    t = _live(v, beats, 1000, 4000)
    t = _live(v, beats, t + 1000, t + 11000, alive=[True, False])  # cam 1 goes stale
    assert not v.ok
    assert not v.ok and [e[1] for e in log.of(events.VIDEO_LOST)] == [1]
    back = t + 1000
    _live(v, beats, back, back + 4000)
    assert not v.ok  # camera 1 needs its own full hold-off
    _beat_all(v, beats, back + 5000)
    assert v.ok


def test_a_gap_between_beats_longer_than_the_timeout_restarts_the_holdoff():
    # Sparse ticks must not hide an outage: the beats themselves show the gap.
    v, log = _video(holdoff_ms=5000)
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    beats[0] = t + 10500  # next beat 10.5 s after the last: the camera was out between
    v.on_beats(beats, 1, t + 10500)
    assert not v.ok
    assert log.of(events.VIDEO_LOST) == [(events.VIDEO_LOST, 0, 10500, 1)]
    _live(v, beats, t + 11500, t + 15000)
    assert not v.ok  # live again since t + 10500: hold-off ends at t + 15500
    _beat_all(v, beats, t + 15500)
    assert v.ok


def test_zero_cameras_configured_is_no_video_no_work():
    v, log = _video(cameras=0)
    beats = [0] * 8
    for t in range(1000, 30000, 1000):
        v.on_beats(beats, 0, t)
    assert not v.ok and v.alarm
    assert log.of(events.VIDEO_LOST) == [(events.VIDEO_LOST, NO_CAMERA, -1, 0)]


def test_a_camera_the_hal_stops_reporting_is_lost():
    v, log = _video(cameras=2)
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    beats[0] = t + 100
    v.on_beats(beats, 1, t + 100)  # the HAL reports one camera only
    assert not v.ok and v.alarm
    assert [e[1] for e in log.of(events.VIDEO_LOST)] == [1]


def test_no_camera_beating_after_boot_alarms_after_the_timeout():
    v, log = _video()
    beats = [0] * 8
    v.on_beats(beats, 1, 1000)
    v.tick(11000)
    assert not v.alarm  # not yet: the timeout from boot has not passed
    v.tick(11001)
    assert v.alarm and not v.ok
    assert log.of(events.VIDEO_LOST) == [(events.VIDEO_LOST, 0, 11001, 1)]


def test_a_frozen_value_never_revives_even_when_the_clock_wraps_onto_it():
    # ticks_ms wraps at 2**30: a camera frozen at 5000 looks 0 ms old again 2**30 ms later.
    v, _log = _video()
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    v.tick(t + 20000)
    assert not v.ok
    for t2 in range(t + (1 << 30) - 2000, t + (1 << 30) + 20000, 1000):
        v.on_beats(beats, 1, t2)
        assert not v.ok


def test_a_frozen_heartbeat_is_lost_timeout_ms_after_it_last_changed_not_later():
    # A camera whose beats are stamped just after the step read the clock (allowed up to
    # 1 s ahead) and then freezes: the beat itself still looks young for that second, but
    # the value stopped changing timeout_ms ago, and a frozen value is no video
    # (R-VIDEO-1). Pins the change-age check in Video.tick (issue 14: removing it lived).
    v, log = _video()
    beats = [0] * 8
    t = 1000
    while t <= 10000:
        beats[0] = t + 800  # stamped 800 ms after this step's clock read
        v.on_beats(beats, 1, t)
        t += 1000
    last_change = t - 1000
    assert v.ok
    v.tick(last_change + 10000)  # the change is exactly timeout_ms old: not yet
    assert v.ok and not v.alarm
    v.tick(last_change + 10001)
    assert not v.ok and v.alarm
    assert log.of(events.VIDEO_LOST) == [(events.VIDEO_LOST, 0, 10001 - 800, 1)]


def test_a_new_heartbeat_value_that_is_already_older_than_the_timeout_is_no_video():
    # The value changed (so the change is fresh), but the beat it reports is 10.5 s old:
    # the camera's last sign of life is past the timeout, and that alone drops video
    # (the beat-age check; the change-age check cannot see this case).
    v, log = _video()
    beats = [0] * 8
    t = _live(v, beats, 1000, 20000)
    assert v.ok
    beats[0] = t + 1000 - 10500
    v.on_beats(beats, 1, t + 1000)
    assert not v.ok and v.alarm
    assert log.of(events.VIDEO_LOST)[-1] == (events.VIDEO_LOST, 0, 10500, 1)
    # Not firing: a beat exactly timeout_ms old is still live.
    v2, _ = _video()
    t = _live(v2, beats, 1000, 20000)
    beats[0] = t + 1000 - 10000
    v2.on_beats(beats, 1, t + 1000)
    assert v2.ok


def test_a_beat_from_the_future_or_not_an_int_is_not_live():
    v, _log = _video()
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    beats[0] = t + 5000  # later than now: another clock, or garbage
    v.on_beats(beats, 1, t + 1000)
    assert not v.ok and v.alarm
    v2, _ = _video()
    t = _live(v2, beats, 1000, 10000)
    assert v2.ok
    beats[0] = None
    v2.on_beats(beats, 1, t + 1000)
    assert not v2.ok and v2.alarm


def test_ticks_wraparound_keeps_live_video_live():
    v, log = _video()
    beats = [0] * 8
    start = (1 << 30) - 8000
    t = start
    for _ in range(20):
        t = (t + 1000) & 0x3FFFFFFF
        beats[0] = t
        v.on_beats(beats, 1, t)
    assert t < 20000 and v.ok
    assert not log.of(events.VIDEO_LOST)


def test_holdoff_zero_returns_with_the_first_live_beat():
    v, _log = _video(holdoff_ms=0)
    beats = [0] * 8
    v.on_beats(beats, 1, 1000)
    beats[0] = 2000
    v.on_beats(beats, 1, 2000)
    assert v.ok


def test_bad_configuration_raises_naming_the_argument():
    log = Log()
    e = raises(ProtocolError, Video, 9, 10000, 5000, log)
    assert e.field == "cameras"
    e = raises(ProtocolError, Video, 1, 0, 5000, log)
    assert e.field == "video_timeout_ms"
    e = raises(ProtocolError, Video, 1, 10000, -1, log)
    assert e.field == "video_holdoff_ms"
    e = raises(ProtocolError, Video, True, 10000, 5000, log)
    assert e.field == "cameras"


def test_a_beat_stamped_just_after_the_clock_read_is_fresh_but_a_future_one_is_not():
    # R-VIDEO-1: a heartbeat IRQ may stamp a beat a moment after the step read ticks_ms
    # (seen on the virtual board as false VIDEO_LOST events); a beat far in the future is
    # no heartbeat the gateway can trust.
    v, log = _video()
    beats = [0] * 8
    t = _live(v, beats, 1000, 10000)
    assert v.ok
    beats[0] = t + 1005
    v.on_beats(beats, 1, t + 1000)  # stamped 5 ms after the read: fresh
    v.tick(t + 1000)
    assert v.ok and not log.of(events.VIDEO_LOST)
    beats[0] = t + 60000
    v.on_beats(beats, 1, t + 2000)  # 58 s ahead of the clock: not a live camera
    v.tick(t + 2000)
    assert not v.ok and log.of(events.VIDEO_LOST)
