# Gas (R-GAS-1, R-GAS-2): methane and CO from the zone's sensor, in ppm (1 % = 10 000 ppm).
# Gas is "known" only while the last sample is fresh and healthy; unknown gas is unsafe
# for work and hot work (fail safe), and alarms.
#
# A faulty or silent sensor does NOT order an evacuation by itself: the Coal Mine Safety
# Regulations answer a failed monitor with manual measurement (the gas inspector's
# portable detector) while it is repaired, not with withdrawal; an automatic evacuation
# on every sensor glitch would teach crews to ignore the sounder, and would reward
# tampering with a sensor by stopping the whole zone's count of who is in. The fault stops
# work and hot work at once, sounds the alarm and is logged; the dispatcher or a team
# leader can order the evacuation (R-EVAC-1). An evacuation already ordered by gas stays
# until a healthy sensor shows gas back below the stop level (see evacuation.py).
#
# Faults (tag of GAS_FAULT):
#   FAULT_FLAGGED  the sensor's own fault flags are not 0
#   FAULT_RANGE    a reading is not an int, negative, or above what the sensor can measure
#                  (default 1 000 000 ppm CH4 = 100 %, 10 000 ppm CO: beyond any real
#                  electrochemical CO cell; a mine sets the range of its own sensor)
#   FAULT_STUCK    the same (CH4, CO) pair for longer than stuck_s. Default 1 800 s: at a
#                  coal face methane drifts by more than one 0.01 % step within minutes
#                  (ventilation, cutting, desorption), so half an hour of identical pairs is
#                  a frozen sensor or a wrapped head, while still being caught well inside a
#                  shift and long enough not to stop production on a calm spell.
#   FAULT_SILENT   no sample for longer than silent_ms (default 5 000 ms), or none within
#                  silent_ms of boot
#
# Recovery hold-off: stopping is immediate, but after gas was unknown (boot, fault,
# silence) or high, work comes back only once gas has been known and below the stop
# levels without a break for holdoff_ms (default 5 000 ms), and hot work only once CH4 has
# also stayed at or below the hot-work limit that long. Until then the reason that last
# held (WHY_GAS_UNKNOWN, WHY_GAS_HIGH, WHY_GAS_HOT) stays, so a flapping sensor or
# methane hovering at a limit holds the relays off instead of switching machinery power
# on and off with every sample. Alarms follow the gas itself, without the hold-off.
from gateway import events
from gateway.elapsed import Stopwatch, ticks_diff
from gateway.reasons import WHY_GAS_HIGH, WHY_GAS_HOT, WHY_GAS_UNKNOWN
from gatewire.errors import E_BAD_FIELD, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


FAULT_FLAGGED = const(1)
FAULT_RANGE = const(2)
FAULT_STUCK = const(4)
FAULT_SILENT = const(8)  # R-DATA-1: a silent or stuck sensor is a data anomaly, alarmed at once

CH4 = const(1)  # GAS_OVER / GAS_PEAK / GAS_OVER_END tag
CO = const(2)
SPANS_REBOOT = const(128)  # added to GAS_OVER_END's tag: the duration excludes power-off time

_NONE = const(-1)


def _positive(name, value, hi=0x3FFFFFFF):
    if type(value) is not int or value < 1 or value > hi:
        raise ProtocolError(E_BAD_FIELD, "%s must be an integer 1..%d" % (name, hi), name)
    return value


class _Exceedance:
    # R-GAS-2: one gas over its limit, recorded at its start, each higher peak (by at
    # least step_ppm, so a power cut mid-exceedance still leaves the peak so far on
    # flash), and its end with peak and duration.
    def __init__(self, gas, limit_ppm, emit):
        self.gas = gas
        self.limit_ppm = limit_ppm
        self.step_ppm = limit_ppm // 10 if limit_ppm >= 10 else 1
        self._emit = emit
        self.over = False
        self.peak_ppm = 0
        self.reported_ppm = 0
        self.spans_reboot = False
        self.clock = Stopwatch()

    def sample(self, ppm, now_ms):
        if not self.over:
            if ppm >= self.limit_ppm:
                self.over = True
                self.spans_reboot = False
                self.peak_ppm = ppm
                self.reported_ppm = ppm
                self.clock.start(now_ms)
                self._emit(events.GAS_OVER, self.gas, ppm, self.limit_ppm)
            return
        self.clock.advance(now_ms)
        if ppm < self.limit_ppm:
            self.over = False
            self.clock.stop()
            tag = self.gas + SPANS_REBOOT if self.spans_reboot else self.gas
            self._emit(events.GAS_OVER_END, tag, self.peak_ppm, self.clock.ceil_s())
            return
        if ppm > self.peak_ppm:
            self.peak_ppm = ppm
            if ppm >= self.reported_ppm + self.step_ppm:
                self.reported_ppm = ppm
                self._emit(events.GAS_PEAK, self.gas, ppm, self.clock.s)

    def snapshot(self):
        if not self.over:
            return [0, 0, 0, 0]
        return [1, self.peak_ppm, self.clock.s, self.clock.ms]

    def restore(self, item, now_ms):
        if item[0]:
            self.over = True
            self.spans_reboot = True
            self.peak_ppm = item[1]
            self.reported_ppm = item[1]
            self.clock.start(now_ms, item[2], item[3])
        else:
            self.over = False
            self.clock.stop()


class Gas:
    def __init__(
        self,
        emit,
        ch4_stop_ppm=10000,
        ch4_evac_ppm=15000,
        co_evac_ppm=24,
        ch4_hot_max_ppm=5000,
        silent_ms=5000,
        stuck_s=1800,
        ch4_max_ppm=1000000,
        co_max_ppm=10000,
        holdoff_ms=5000,
    ):
        _positive("ch4_stop_ppm", ch4_stop_ppm)
        _positive("ch4_evac_ppm", ch4_evac_ppm)
        _positive("co_evac_ppm", co_evac_ppm)
        _positive("ch4_hot_max_ppm", ch4_hot_max_ppm)
        _positive("gas_silent_ms", silent_ms, 0x1FFFFFFF)
        _positive("gas_stuck_s", stuck_s, 500000)  # x1000 stays inside ticks_diff's span
        _positive("ch4_max_ppm", ch4_max_ppm)
        _positive("co_max_ppm", co_max_ppm)
        if type(holdoff_ms) is not int or holdoff_ms < 0 or holdoff_ms > 0x1FFFFFFF:
            raise ProtocolError(
                E_BAD_FIELD,
                "gas_holdoff_ms must be an integer 0..%d" % 0x1FFFFFFF,
                "gas_holdoff_ms",
            )
        if ch4_evac_ppm < ch4_stop_ppm:
            raise ProtocolError(
                E_BAD_FIELD, "ch4_evac_ppm must not be below ch4_stop_ppm", "ch4_evac_ppm"
            )
        if ch4_hot_max_ppm > ch4_stop_ppm:
            raise ProtocolError(
                E_BAD_FIELD, "ch4_hot_max_ppm must not be above ch4_stop_ppm", "ch4_hot_max_ppm"
            )
        if ch4_max_ppm < ch4_evac_ppm:
            raise ProtocolError(E_BAD_FIELD, "ch4_max_ppm must cover ch4_evac_ppm", "ch4_max_ppm")
        if co_max_ppm < co_evac_ppm:
            raise ProtocolError(E_BAD_FIELD, "co_max_ppm must cover co_evac_ppm", "co_max_ppm")
        self.ch4_stop_ppm = ch4_stop_ppm
        self.ch4_evac_ppm = ch4_evac_ppm
        self.co_evac_ppm = co_evac_ppm
        self.ch4_hot_max_ppm = ch4_hot_max_ppm
        self.silent_ms = silent_ms
        self.stuck_ms = stuck_s * 1000
        self.ch4_max_ppm = ch4_max_ppm
        self.co_max_ppm = co_max_ppm
        self.holdoff_ms = holdoff_ms
        self._emit = emit
        self.ch4_ppm = _NONE  # last healthy reading (or -1)
        self.co_ppm = _NONE
        self.sensor_flags = 0
        self.fault = 0  # FAULT_* bits now
        self.known = False  # a fresh, healthy sample: the readings above can be trusted
        self.evac_demand = False  # R-GAS-1: known, and CH4 or CO at its evacuation level
        self.high = False  # known, and CH4 at the stop level or CO at its limit (no hold-off)
        self._work_why = WHY_GAS_UNKNOWN  # what holds work off, the hold-off included
        self._hot_why = 0  # WHY_GAS_HOT while it holds hot work off, the hold-off included
        self._clear = False  # known and below the stop levels since _clear_ms, no break
        self._clear_ms = 0
        self._hot_clear = False  # known and CH4 at most the hot-work limit since _hot_clear_ms
        self._hot_clear_ms = 0
        self._booted = False
        self._boot_ms = 0
        self._have_sample = False
        self._sample_ms = 0
        self._same_ch4 = _NONE
        self._same_co = _NONE
        self._same_since_ms = 0
        self._stuck = False
        self._fault_clock = Stopwatch()
        self.ch4 = _Exceedance(CH4, ch4_stop_ppm, emit)
        self.co = _Exceedance(CO, co_evac_ppm, emit)

    def work_reasons(self):
        return self._work_why

    def hot_reasons(self):
        # R-HOT-2: methane at most 0.5 % and CO below its limit, with a healthy sensor.
        return self._work_why | self._hot_why

    def on_sample(self, ch4_ppm, co_ppm, sensor_flags, now_ms):
        self._boot(now_ms)
        self._have_sample = True
        self._sample_ms = now_ms
        fault = 0
        if sensor_flags != 0:
            fault |= FAULT_FLAGGED
        if (
            type(ch4_ppm) is not int
            or type(co_ppm) is not int
            or ch4_ppm < 0
            or co_ppm < 0
            or ch4_ppm > self.ch4_max_ppm
            or co_ppm > self.co_max_ppm
        ):
            fault |= FAULT_RANGE
        else:
            if ch4_ppm != self._same_ch4 or co_ppm != self._same_co:
                self._same_ch4 = ch4_ppm
                self._same_co = co_ppm
                self._same_since_ms = now_ms
                self._stuck = False
            elif self._stuck or ticks_diff(now_ms, self._same_since_ms) > self.stuck_ms:
                self._stuck = True  # latched: a frozen value stays a fault past any wrap
                fault |= FAULT_STUCK
        self.sensor_flags = sensor_flags if type(sensor_flags) is int else -1
        self._set_fault(fault, now_ms)
        if not fault:
            self.ch4_ppm = ch4_ppm
            self.co_ppm = co_ppm
            self.high = ch4_ppm >= self.ch4_stop_ppm or co_ppm >= self.co_evac_ppm
            self.evac_demand = ch4_ppm >= self.ch4_evac_ppm or co_ppm >= self.co_evac_ppm
            # Exceedances are judged on healthy readings only: one stays open through a
            # fault and ends only when a healthy reading shows the gas back below its limit.
            self.ch4.sample(ch4_ppm, now_ms)
            self.co.sample(co_ppm, now_ms)
        self._judge(now_ms)

    def tick(self, now_ms):
        self._boot(now_ms)
        self.ch4.clock.advance(now_ms)
        self.co.clock.advance(now_ms)
        since = self._sample_ms if self._have_sample else self._boot_ms
        if self.fault & FAULT_SILENT or ticks_diff(now_ms, since) > self.silent_ms:
            self._set_fault(self.fault | FAULT_SILENT, now_ms)
        else:
            self._fault_clock.advance(now_ms)
        self._judge(now_ms)

    def _judge(self, now_ms):
        # The reasons, hold-off included (see the top of this file); drops take effect at
        # once, and a hold-off ends only at a sample or tick that sees it has run.
        if not self.known:
            self._work_why = WHY_GAS_UNKNOWN
            self._clear = False
            self._hot_clear = False
            return
        if self.high:
            self._work_why = WHY_GAS_HIGH
            self._clear = False
        elif self._work_why:
            if not self._clear:
                self._clear = True
                self._clear_ms = now_ms
            if ticks_diff(now_ms, self._clear_ms) >= self.holdoff_ms:
                self._work_why = 0
        if self.ch4_ppm > self.ch4_hot_max_ppm:
            self._hot_why = WHY_GAS_HOT
            self._hot_clear = False
        elif self._hot_why:
            if not self._hot_clear:
                self._hot_clear = True
                self._hot_clear_ms = now_ms
            if ticks_diff(now_ms, self._hot_clear_ms) >= self.holdoff_ms:
                self._hot_why = 0

    def _set_fault(self, fault, now_ms):
        before = self.fault
        self.fault = fault
        self._fault_clock.advance(now_ms)
        if fault:
            self.known = False
            self.high = False
            self.evac_demand = False
            if fault & ~before:
                if not before:
                    self._fault_clock.start(now_ms)
                age = ticks_diff(now_ms, self._sample_ms) if self._have_sample else -1
                flags = self.sensor_flags if self._have_sample else 0
                self._emit(events.GAS_FAULT, fault, flags, age)
        else:
            self.known = True
            if before:
                self._fault_clock.stop()
                self._emit(events.GAS_FAULT_END, 0, self._fault_clock.ceil_s(), 0)

    def _boot(self, now_ms):
        if not self._booted:
            self._booted = True
            self._boot_ms = now_ms

    def snapshot(self):
        return [self.ch4.snapshot(), self.co.snapshot()]

    def restore(self, items, now_ms):
        self.ch4.restore(items[0], now_ms)
        self.co.restore(items[1], now_ms)
