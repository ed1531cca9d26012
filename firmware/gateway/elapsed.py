# Time arithmetic for the interlocks. now_ms is board.ticks_ms(): it wraps, and on a
# 32-bit board an int at or above 2**30 is a heap object, so plain subtraction of
# unwrapped milliseconds would allocate on every tick. Differences are taken modulo 2**30
# (MicroPython's ticks period on 32-bit ports); plain monotonic ints (CPython tests, 64-bit
# ports) give the same answer while the two times are less than 2**29 ms (6.2 days) apart.
# Longer spans (an evacuation, an exceedance, a fire watch) are added up tick by tick in a
# Stopwatch, so they never alias.
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def ticks_diff(end_ms, start_ms):
    d = (end_ms - start_ms) & _MASK
    if d >= _HALF:
        d = d - _MASK - 1  # not "- 2**30": that constant is a big int on a 32-bit board
    return d


class Stopwatch:
    # Elapsed time as whole seconds plus milliseconds, both small ints for 34 years.
    # advance() must run at least every 6.2 days while running (the app ticks many times
    # a second); a clock that appears to go backwards adds nothing.
    def __init__(self):
        self.running = False
        self.s = 0
        self.ms = 0
        self._last_ms = 0

    def start(self, now_ms, s=0, ms=0):
        self.running = True
        self.s = s
        self.ms = ms
        self._last_ms = now_ms

    def stop(self):
        self.running = False

    def advance(self, now_ms):
        if not self.running:
            return
        d = ticks_diff(now_ms, self._last_ms)
        self._last_ms = now_ms
        if d <= 0:
            return
        ms = self.ms + d
        if ms >= 1000:
            self.s += ms // 1000
            ms = ms % 1000
        self.ms = ms

    def ceil_s(self):
        # A duration on record is never rounded down to less than it was (R-GAS-2).
        return self.s + 1 if self.ms else self.s
