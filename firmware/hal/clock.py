# Wall clock for the boards: kept from the tick counter after the host's time-set, read
# as the firmware's clock seconds (seconds since EPOCH_S, gateway/caps.py), and the civil
# date for machine.RTC. Pure: runs in CPython tests too.
try:
    from micropython import const
except ImportError:

    def const(__x):  # positional-only like micropython.const
        return __x


try:
    from time import ticks_add, ticks_diff
except ImportError:
    # CPython: the same modular arithmetic as MicroPython's 30-bit ms ticks.
    _TICKS_PERIOD = 1 << 30
    _TICKS_HALF = 1 << 29

    def ticks_diff(__a, __b):
        return ((__a - __b + _TICKS_HALF) & (_TICKS_PERIOD - 1)) - _TICKS_HALF

    def ticks_add(__t, __delta):
        return (__t + __delta) & (_TICKS_PERIOD - 1)


# gateway/caps.py's time base (tests/test_caps.py holds them equal): clock seconds
# 1..CLOCK_MAX_S are small ints on a 32-bit board, so reading the clock allocates nothing.
EPOCH_S = 1_577_836_800  # 2020-01-01T00:00Z
CLOCK_MAX_S = const(0x3FFFFFFF)
RTC_MIN_S = 1_577_836_801  # anything earlier is a host with no clock itself
RTC_MAX_S = 2_651_578_623  # EPOCH_S + CLOCK_MAX_S: 2054-01-09T13:37:03Z
_REANCHOR_MS = const(86_400_000)  # well inside the ticks half-period of 6.2 days


def civil_from_unix(t):
    # (year, month, day, weekday Monday=0, hour, minute, second) in UTC; integer-only
    # because boards have single-precision floats.
    days = t // 86400
    secs = t - days * 86400
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    # Days since 0000-03-01 in the proleptic Gregorian calendar, split into 400-year eras.
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return (year, month, day, weekday, secs // 3600, secs // 60 % 60, secs % 60)


class WallClock:
    # Anchored at the host's time-set: now_s = anchor + elapsed ticks, in clock seconds.
    # Set from unix seconds (the wire's), converted once there; a unix time is past
    # 2**30, a big int on a 32-bit board, while clock seconds stay small ints until 2054,
    # so reading the clock allocates nothing. The second last read is kept with the tick
    # at which the next one begins, so a read within the same second does no arithmetic.
    def __init__(self):
        self._anchor_s = 0
        self._anchor_ms = 0
        self._last_s = 0
        self._next_ms = 0  # ticks_ms at which _last_s stops being the time

    def is_set(self):
        return self._anchor_s != 0

    def set(self, t, now_ms):
        if isinstance(t, bool) or not isinstance(t, int):
            raise TypeError("rtc seconds must be an int, got %s" % type(t).__name__)
        if t < RTC_MIN_S or t > RTC_MAX_S:
            raise ValueError(
                "rtc seconds %d outside %d..%d (2020-01-01..2054-01-09 UTC)"
                % (t, RTC_MIN_S, RTC_MAX_S)
            )
        c = t - EPOCH_S
        self._anchor_s = c
        self._anchor_ms = now_ms
        self._last_s = c
        self._next_ms = ticks_add(now_ms, 1000)

    def now_s(self, now_ms):
        if self._anchor_s == 0:
            return 0
        if 0 < ticks_diff(self._next_ms, now_ms) <= 1000:
            return self._last_s
        elapsed_ms = ticks_diff(now_ms, self._anchor_ms)
        if elapsed_ms < 0:
            # Not read for over 6 days: the ticks wrapped and the elapsed time is lost.
            # A wrong clock is worse than none (permits, certificates): unset it.
            self._anchor_s = 0
            return 0
        if elapsed_ms >= _REANCHOR_MS:
            whole_s = elapsed_ms // 1000
            self._anchor_s += whole_s
            self._anchor_ms = ticks_add(self._anchor_ms, whole_s * 1000)
            elapsed_ms -= whole_s * 1000
        now = self._anchor_s + elapsed_ms // 1000
        if now > CLOCK_MAX_S:
            # Past what clock seconds hold (2054): unknown, never a wrapped time.
            self._anchor_s = 0
            return 0
        self._last_s = now
        self._next_ms = ticks_add(self._anchor_ms, (elapsed_ms // 1000 + 1) * 1000)
        return now
