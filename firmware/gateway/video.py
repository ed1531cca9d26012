# No video, no work (R-VIDEO-1, R-VIDEO-2): the zone's cameras are live only while every
# configured camera's heartbeat is fresh, and video counts as back only after all of
# them have stayed live, without a gap, for the hold-off.
#
# A camera is live once its heartbeat value has been seen to change (a value seen at boot
# may be stale, and a frozen HAL value may look fresh again after ticks_ms wraps) and
# stays live while both that change and the beat itself are at most timeout_ms old. Once
# stale it stays stale until a new value arrives: a latch, so no wrap can revive it.
from gateway import events
from gateway.elapsed import Stopwatch, ticks_diff
from gateway.reasons import WHY_VIDEO
from gatewire.errors import E_BAD_FIELD, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MAX_CAMERAS = const(8)
NO_CAMERA = const(255)  # VIDEO_LOST tag when no camera is configured

_UNKNOWN = const(0)  # boot: no change seen yet, still within timeout_ms of the first call
_LIVE = const(1)
_STALE = const(2)


def _check_int(name, value, lo, hi):
    if type(value) is not int or value < lo or value > hi:
        raise ProtocolError(E_BAD_FIELD, "%s must be an integer %d..%d" % (name, lo, hi), name)


_SKEW_MS = const(1000)  # how far a heartbeat may be stamped after the step's clock read


class Video:
    def __init__(self, cameras, timeout_ms, holdoff_ms, emit):
        _check_int("cameras", cameras, 0, MAX_CAMERAS)
        _check_int("video_timeout_ms", timeout_ms, 1, 0x1FFFFFFF)
        _check_int("video_holdoff_ms", holdoff_ms, 0, 0x1FFFFFFF)
        self.cameras = cameras
        self.timeout_ms = timeout_ms
        self.holdoff_ms = holdoff_ms
        self._emit = emit
        self._beat = [0] * MAX_CAMERAS  # last heartbeat value seen from the HAL
        self._seen = bytearray(MAX_CAMERAS)  # a value has been seen (not yet a change)
        self._state = bytearray(MAX_CAMERAS)
        self._changed_ms = [0] * MAX_CAMERAS  # now_ms when the value last changed
        self._live_since_ms = [0] * MAX_CAMERAS  # now_ms since when live without a gap
        self._held = bytearray(MAX_CAMERAS)  # live for at least holdoff_ms (latched)
        self._boot_ms = 0
        self._booted = False
        self._outage = Stopwatch()
        self.ok = False  # all cameras live and held: work may go on
        self.alarm = False  # a camera is stale, or there is none

    def reasons(self):
        return 0 if self.ok else WHY_VIDEO

    def on_beats(self, beats, n, now_ms):
        # beats[i]: ticks_ms of camera i's last heartbeat; n: how many the HAL reported.
        self._boot(now_ms)
        if type(n) is not int or n < 0:
            n = 0
        if n > len(beats):
            n = len(beats)
        for i in range(self.cameras):
            if i >= n:
                # A camera the HAL no longer reports: its old value proves nothing.
                self._seen[i] = 0
                self._stale(i, now_ms)
                continue
            value = beats[i]
            if type(value) is not int:
                self._seen[i] = 0
                self._stale(i, now_ms)
                continue
            if not self._seen[i]:
                self._seen[i] = 1
                self._beat[i] = value
                continue
            if value == self._beat[i]:
                continue
            gap_ms = ticks_diff(value, self._beat[i])
            gap = gap_ms > self.timeout_ms
            if gap and self._state[i] == _LIVE:
                # Out between two beats that no tick saw: still an outage on record.
                self._emit(events.VIDEO_LOST, i, gap_ms, self.cameras)
            self._beat[i] = value
            self._changed_ms[i] = now_ms
            if self._state[i] != _LIVE or gap:
                self._live_since_ms[i] = now_ms
                self._held[i] = 0
            self._state[i] = _LIVE
        self.tick(now_ms)

    def tick(self, now_ms):
        self._boot(now_ms)
        timeout = self.timeout_ms
        all_held = self.cameras > 0
        for i in range(self.cameras):
            state = self._state[i]
            if state == _LIVE:
                age = ticks_diff(now_ms, self._beat[i])
                # A beat stamped (by an IRQ) just after this step read the clock is fresh.
                # The change-age test is what drops a value frozen up to _SKEW_MS ahead of
                # the clock on time (test_a_frozen_heartbeat_is_lost_timeout_ms_after_...).
                if (
                    age < -_SKEW_MS
                    or age > timeout
                    or ticks_diff(now_ms, self._changed_ms[i]) > timeout
                ):
                    self._stale(i, now_ms)
                    all_held = False
                    continue
                if not self._held[i]:
                    if ticks_diff(now_ms, self._live_since_ms[i]) >= self.holdoff_ms:
                        self._held[i] = 1
                    else:
                        all_held = False
            else:
                all_held = False
                if state == _UNKNOWN and ticks_diff(now_ms, self._boot_ms) > timeout:
                    self._stale(i, now_ms)
        if self.cameras == 0 and not self.alarm:
            self._emit(events.VIDEO_LOST, NO_CAMERA, -1, 0)
        self.alarm = self.cameras == 0 or self._any_stale()
        if all_held:
            if not self.ok:
                self._outage.advance(now_ms)
                self.ok = True
                self._outage.stop()
                self._emit(events.VIDEO_OK, 0, self._outage.s, self.cameras)
        elif self.ok:
            self.ok = False
            self._outage.start(now_ms)

    def _any_stale(self):
        for i in range(self.cameras):
            if self._state[i] == _STALE:
                return True
        return False

    def _boot(self, now_ms):
        if not self._booted:
            self._booted = True
            self._boot_ms = now_ms
            self._outage.start(now_ms)

    def _stale(self, i, now_ms):
        if self._state[i] == _STALE:
            return
        self._state[i] = _STALE
        self._held[i] = 0
        age = ticks_diff(now_ms, self._beat[i]) if self._seen[i] else -1
        self._emit(events.VIDEO_LOST, i, age, self.cameras)
