# Pulse inputs behind Pin IRQs: the beam / turnstile counter and the camera heartbeats.
# The on_* handlers run inside interrupts (hard IRQs on the Pico): they only store small
# ints into preallocated slots, never allocate. Pure: CPython tests pass fake ticks.
from hal.clock import ticks_diff


class PulseCounter:
    # Counts an edge only after the input was quiet for debounce_ms: a turnstile's relay
    # contact bounces for a few ms, a body in the beam takes far longer than that.
    def __init__(self, ticks_ms, debounce_ms):
        if debounce_ms < 0:
            raise ValueError("debounce_ms must be >= 0, got %d" % debounce_ms)
        self._ticks_ms = ticks_ms
        self._debounce_ms = debounce_ms
        self._last_ms = 0
        self._seen = False
        self.count = 0

    def on_edge(self, _pin=None):
        now = self._ticks_ms()
        quiet = not self._seen or not 0 <= ticks_diff(now, self._last_ms) < self._debounce_ms
        self._seen = True
        self._last_ms = now
        if quiet:
            self.count += 1


class BeatTable:
    # The last heartbeat tick of each camera, as the IRQ stored it. A value changes only
    # when a beat arrives (a camera never heard reports the tick of the board's start),
    # so the video rule can take "unchanged" as "no beat" even after ticks_ms wraps
    # (gateway/video.py latches a stale camera until its value changes).
    def __init__(self, cameras, ticks_ms):
        if cameras < 1:
            raise ValueError("need at least one camera input, got %d" % cameras)
        self._raw = [ticks_ms()] * cameras
        self._ticks_ms = ticks_ms
        self.cameras = cameras
        self.handlers = tuple(self._handler(i) for i in range(cameras))

    def _handler(self, i):
        raw = self._raw
        ticks_ms = self._ticks_ms

        def on_beat(_pin=None):
            raw[i] = ticks_ms()

        return on_beat

    def fill(self, out):
        n = self.cameras
        for i in range(n):
            out[i] = self._raw[i]
        return n
