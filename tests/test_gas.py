# micropython-test
# Gas (R-GAS-1, R-GAS-2): gateway/gas.py on its own.
from interlock_rig import Log
from mpcheck import raises

from gateway import events
from gateway.gas import (
    CH4,
    CO,
    FAULT_FLAGGED,
    FAULT_RANGE,
    FAULT_SILENT,
    FAULT_STUCK,
    SPANS_REBOOT,
    Gas,
)
from gateway.reasons import WHY_GAS_HIGH, WHY_GAS_HOT, WHY_GAS_UNKNOWN
from gatewire.errors import ProtocolError


def _gas(**kw):
    log = Log()
    return Gas(log, **kw), log


def test_boot_gas_is_unknown_until_a_healthy_sample():
    g, log = _gas()
    g.tick(1000)
    assert not g.known and g.work_reasons() == WHY_GAS_UNKNOWN
    assert g.hot_reasons() & WHY_GAS_UNKNOWN and not g.fault  # no alarm before silent_ms
    g.on_sample(2000, 0, 0, 1500)
    assert g.known and g.work_reasons() == WHY_GAS_UNKNOWN  # known, but in its hold-off
    g.on_sample(2001, 0, 0, 6500)
    assert g.work_reasons() == 0 and g.hot_reasons() == 0
    assert not log.items


def test_methane_at_the_stop_level_stops_work():
    # R-GAS-1: CH4 >= 1.0 % (10 000 ppm) -> the work relay drops; 9 999 ppm does not.
    g, _log = _gas(holdoff_ms=0)  # the levels alone; the hold-off has tests of its own
    g.on_sample(9999, 0, 0, 1000)
    assert g.work_reasons() == 0 and not g.evac_demand
    g.on_sample(10000, 0, 0, 2000)
    assert g.work_reasons() == WHY_GAS_HIGH and not g.evac_demand
    g.on_sample(9999, 0, 0, 3000)
    assert g.work_reasons() == 0


def test_methane_at_one_and_a_half_percent_or_co_at_24_demands_evacuation():
    # R-GAS-1: withdraw the workers.
    g, _log = _gas()
    g.on_sample(14999, 23, 0, 1000)
    assert not g.evac_demand
    g.on_sample(15000, 0, 0, 2000)
    assert g.evac_demand
    g.on_sample(3000, 0, 0, 3000)
    assert not g.evac_demand
    g.on_sample(3000, 24, 0, 4000)
    assert g.evac_demand and g.work_reasons() == WHY_GAS_HIGH


def test_hot_work_needs_methane_at_most_half_a_percent_and_co_below_its_limit():
    # R-HOT-2 gas conditions: <= 0.5 % CH4, CO < 24 ppm, healthy sensor.
    g, _log = _gas(holdoff_ms=0)  # the levels alone; the hold-off has tests of its own
    g.on_sample(5000, 23, 0, 1000)
    assert g.hot_reasons() == 0
    g.on_sample(5001, 23, 0, 2000)
    assert g.hot_reasons() == WHY_GAS_HOT and g.work_reasons() == 0
    g.on_sample(5000, 24, 0, 3000)
    assert g.hot_reasons() & WHY_GAS_HIGH
    g.on_sample(12000, 0, 0, 4000)
    assert g.hot_reasons() == WHY_GAS_HOT | WHY_GAS_HIGH


def test_a_sensor_fault_flag_makes_gas_unknown_and_alarms_without_evacuating():
    g, log = _gas()
    g.on_sample(2000, 0, 0, 1000)
    g.on_sample(20000, 50, 0x04, 2000)  # the sensor says its own reading is bad
    assert not g.known and g.fault == FAULT_FLAGGED
    assert g.work_reasons() == WHY_GAS_UNKNOWN and not g.evac_demand
    assert log.of(events.GAS_FAULT) == [(events.GAS_FAULT, FAULT_FLAGGED, 0x04, 0)]
    assert not log.of(events.GAS_OVER)  # a faulty reading is not an exceedance
    g.on_sample(2001, 0, 0, 3500)
    assert g.known and not g.fault
    assert log.of(events.GAS_FAULT_END) == [(events.GAS_FAULT_END, 0, 2, 0)]


def test_readings_out_of_range_are_a_fault():
    for ch4, co in ((-1, 0), (0, -1), (1000001, 0), (0, 10001), (None, 0), (0, 1.5), (True, 0)):
        g, _log = _gas()
        g.on_sample(ch4, co, 0, 1000)
        assert g.fault == FAULT_RANGE and not g.known, (ch4, co)
    g, _log = _gas()
    g.on_sample(1000000, 10000, 0, 1000)  # the top of the range is a reading, not a fault
    assert g.known and not g.fault and g.evac_demand
    g, _log = _gas(ch4_max_ppm=40000)  # a catalytic head that reads 0..4 %
    g.on_sample(40001, 0, 0, 1000)
    assert g.fault == FAULT_RANGE


def test_a_silent_sensor_is_a_fault():
    g, log = _gas(silent_ms=5000)
    g.on_sample(2000, 0, 0, 1000)
    g.tick(6000)
    assert g.known  # exactly silent_ms: not yet
    g.tick(6001)
    assert g.fault == FAULT_SILENT and not g.known
    assert log.of(events.GAS_FAULT) == [(events.GAS_FAULT, FAULT_SILENT, 0, 5001)]
    g.tick(7000)
    assert len(log.of(events.GAS_FAULT)) == 1  # one event per fault, not per tick
    g.on_sample(2001, 0, 0, 8000)
    assert g.known and len(log.of(events.GAS_FAULT_END)) == 1


def test_no_sample_since_boot_becomes_silent():
    g, log = _gas(silent_ms=5000)
    g.tick(1000)
    g.tick(6000)
    assert not g.fault
    g.tick(6001)
    assert g.fault == FAULT_SILENT
    assert log.of(events.GAS_FAULT) == [(events.GAS_FAULT, FAULT_SILENT, 0, -1)]


def test_identical_readings_for_longer_than_stuck_s_are_a_fault():
    g, log = _gas(stuck_s=60)
    t = 1000
    while t <= 61000:
        g.on_sample(3000, 2, 0, t)
        t += 1000
    assert g.known  # 60 s exactly: not yet
    g.on_sample(3000, 2, 0, 61001)
    assert g.fault == FAULT_STUCK and not g.known
    assert log.of(events.GAS_FAULT)[0][1] == FAULT_STUCK
    g.on_sample(3000, 3, 0, 62000)  # a change: alive again
    assert g.known


def test_readings_that_move_are_never_stuck():
    g, log = _gas(stuck_s=60)
    for i in range(200):
        g.on_sample(3000 + (i & 1), 2, 0, 1000 + i * 1000)
    assert g.known and not log.of(events.GAS_FAULT)


def test_a_stuck_sensor_stays_stuck_past_a_ticks_wrap():
    g, _log = _gas(stuck_s=60)
    t = 0
    while t <= 70000:
        g.on_sample(3000, 2, 0, t)
        t += 1000
    assert g.fault == FAULT_STUCK
    # 2**29 ms later ticks_diff() turns negative: the latch keeps the fault.
    for t2 in ((1 << 29) + 1000, (1 << 30) + 30000):
        g.on_sample(3000, 2, 0, t2)
        assert g.fault == FAULT_STUCK


def test_a_flapping_sensor_holds_work_off_until_healthy_for_the_holdoff():
    # R-GAS-1 hold-off firing: faulty and healthy samples in turn never give work back,
    # and after the last fault work waits for holdoff_ms of healthy samples.
    g, log = _gas(holdoff_ms=5000)
    g.on_sample(2000, 0, 0, 1000)
    g.on_sample(2001, 0, 0, 6000)
    assert g.work_reasons() == 0
    for i in range(20):
        t = 7000 + i * 1000
        g.on_sample(2000 + (i & 1), 0, 0 if i & 1 else 0x04, t)
        g.tick(t)
        assert g.work_reasons() == WHY_GAS_UNKNOWN, i
        assert g.hot_reasons() == WHY_GAS_UNKNOWN, i
        assert g.known == bool(i & 1) and bool(g.fault) != g.known, i  # alarms follow
    assert len(log.of(events.GAS_FAULT)) == 10  # the sensor's faults stay on record
    # The last sample (i = 19, t = 26 000) was healthy: 5 000 ms on from there.
    for t in (27000, 28000, 29000, 30000, 30999):
        g.on_sample(2000 + (t // 1000 & 1), 0, 0, t)
        g.tick(t)
        assert g.work_reasons() == WHY_GAS_UNKNOWN and g.known, t
    g.tick(31000)
    assert g.work_reasons() == 0 and g.hot_reasons() == 0


def test_methane_hovering_at_the_stop_level_holds_work_off():
    # R-GAS-1 hold-off firing: 1.0 % then just under, over and over: the stop holds.
    g, log = _gas(holdoff_ms=5000)
    g.on_sample(3000, 0, 0, 1000)
    g.on_sample(3001, 0, 0, 6000)
    assert g.work_reasons() == 0
    for i in range(20):
        t = 7000 + i * 1000
        g.on_sample(10000 - (i & 1), 0, 0, t)
        assert g.work_reasons() == WHY_GAS_HIGH and g.high == (not i & 1), i
    g.on_sample(10000, 0, 0, 27000)
    assert len(log.of(events.GAS_OVER)) == 11  # each exceedance is still on record (R-GAS-2)
    g.on_sample(4000, 0, 0, 30000)
    g.tick(34999)
    assert g.work_reasons() == WHY_GAS_HIGH and not g.high
    g.on_sample(4001, 0, 0, 35000)
    assert g.work_reasons() == 0


def test_a_co_alarm_holds_work_off_for_the_holdoff():
    g, _log = _gas(holdoff_ms=5000)
    g.on_sample(3000, 0, 0, 1000)
    g.on_sample(3001, 0, 0, 6000)
    g.on_sample(3001, 24, 0, 7000)
    assert g.work_reasons() == WHY_GAS_HIGH
    g.on_sample(3000, 23, 0, 8000)
    g.tick(12999)
    assert g.work_reasons() == WHY_GAS_HIGH
    g.tick(13000)
    assert g.work_reasons() == 0


def test_methane_hovering_at_the_hot_work_limit_holds_hot_work_off():
    # R-HOT-2: the same hold-off for the hot-work limit; work is not touched by it.
    g, _log = _gas(holdoff_ms=5000)
    g.on_sample(3000, 0, 0, 1000)
    g.on_sample(3001, 0, 0, 6000)
    assert g.hot_reasons() == 0
    for i in range(10):
        g.on_sample(5001 - (i & 1), 0, 0, 7000 + i * 1000)
        assert g.hot_reasons() == WHY_GAS_HOT and g.work_reasons() == 0, i
    # The last sample (t = 16 000) was 5 000 ppm, at the limit: allowed from 21 000.
    g.tick(20999)
    assert g.hot_reasons() == WHY_GAS_HOT
    g.tick(21000)
    assert g.hot_reasons() == 0


def test_a_fault_during_the_holdoff_starts_it_again():
    g, _log = _gas(holdoff_ms=5000)
    g.on_sample(3000, 0, 0, 1000)
    g.on_sample(3001, 0, 0, 5000)
    g.on_sample(3000, 0, 0x01, 5500)
    g.on_sample(3001, 0, 0, 6000)
    g.tick(10999)
    assert g.work_reasons() == WHY_GAS_UNKNOWN  # 6 000 + 5 000 not yet reached
    g.tick(11000)
    assert g.work_reasons() == 0


def test_a_silent_spell_starts_the_holdoff_again():
    g, _log = _gas(holdoff_ms=5000, silent_ms=5000)
    g.on_sample(3000, 0, 0, 1000)
    g.on_sample(3001, 0, 0, 6000)
    assert g.work_reasons() == 0
    g.tick(11001)
    assert g.fault == FAULT_SILENT and g.work_reasons() == WHY_GAS_UNKNOWN
    g.on_sample(3000, 0, 0, 12000)
    g.tick(16999)
    assert g.known and g.work_reasons() == WHY_GAS_UNKNOWN
    g.tick(17000)
    assert g.work_reasons() == 0


def test_healthy_gas_is_safe_after_the_holdoff_and_stays_so():
    # Not firing: a healthy, calm sensor gives work after the hold-off, then never drops.
    g, log = _gas(holdoff_ms=5000)
    for i in range(200):
        t = 1000 + i * 500
        g.on_sample(2000 + (i & 1), 3, 0, t)
        g.tick(t)
        assert g.work_reasons() == (WHY_GAS_UNKNOWN if t < 6000 else 0), t
        assert g.hot_reasons() == g.work_reasons()
    assert not log.items


def test_no_holdoff_means_immediate_recovery():
    # gas_holdoff_ms = 0: as before the hold-off existed.
    g, _log = _gas(holdoff_ms=0)
    g.on_sample(2000, 0, 0, 1000)
    assert g.work_reasons() == 0
    g.on_sample(2000, 0, 0x01, 2000)
    assert g.work_reasons() == WHY_GAS_UNKNOWN
    g.on_sample(2001, 0, 0, 3000)
    assert g.work_reasons() == 0
    g.on_sample(10000, 0, 0, 4000)
    assert g.work_reasons() == WHY_GAS_HIGH and g.hot_reasons() == WHY_GAS_HIGH | WHY_GAS_HOT
    g.on_sample(4000, 0, 0, 5000)
    assert g.work_reasons() == 0 and g.hot_reasons() == 0


def test_every_methane_exceedance_is_recorded_start_peaks_and_end():
    # R-GAS-2: the start with the reading, each higher peak (by 0.1 % steps), the end with
    # peak and duration (rounded up, never down).
    g, log = _gas()
    g.on_sample(9000, 0, 0, 1000)
    g.on_sample(10200, 0, 0, 2000)
    g.on_sample(10900, 0, 0, 3000)  # higher, but by less than a step
    g.on_sample(11300, 0, 0, 4000)  # a step above the last reported peak
    g.on_sample(11000, 0, 0, 5000)
    g.on_sample(9999, 0, 0, 6500)
    assert [e for e in log.items if e[1] == CH4] == [
        (events.GAS_OVER, CH4, 10200, 10000),
        (events.GAS_PEAK, CH4, 11300, 2),
        (events.GAS_OVER_END, CH4, 11300, 5),
    ]


def test_below_the_limit_no_exceedance_is_recorded():
    g, log = _gas()
    for i in range(20):
        g.on_sample(9999 - i, 23, 0, 1000 + i * 500)
    assert not log.of(events.GAS_OVER) and not log.of(events.GAS_OVER_END)


def test_a_co_exceedance_is_recorded_on_its_own():
    g, log = _gas()
    g.on_sample(100, 24, 0, 1000)
    g.on_sample(100, 40, 0, 2000)
    g.on_sample(100, 23, 0, 2100)
    assert log.items == [
        (events.GAS_OVER, CO, 24, 24),
        (events.GAS_PEAK, CO, 40, 1),
        (events.GAS_OVER_END, CO, 40, 2),
    ]


def test_an_exceedance_stays_open_through_a_sensor_fault():
    # R-GAS-2: it has not ended until a healthy reading shows it ended.
    g, log = _gas()
    g.on_sample(12000, 0, 0, 1000)
    g.on_sample(0, 0, 0x01, 2000)  # faulty 0: not the end
    g.tick(9000)  # and silence is not the end either
    assert not log.of(events.GAS_OVER_END)
    g.on_sample(4000, 0, 0, 10000)
    assert log.of(events.GAS_OVER_END) == [(events.GAS_OVER_END, CH4, 12000, 9)]


def test_an_exceedance_across_a_reboot_is_ended_and_marked():
    g, _log = _gas()
    g.on_sample(16000, 0, 0, 1000)
    g.on_sample(16000, 0, 0, 3500)
    saved = g.snapshot()
    assert saved[0][0] == 1 and saved[0][1] == 16000 and saved[1][0] == 0
    g2, log2 = _gas()
    g2.restore(saved, 50)  # the board's clock restarts at boot
    assert not g2.known  # still no sample: unknown gas
    g2.on_sample(3000, 0, 0, 1050)
    assert log2.items == [(events.GAS_OVER_END, CH4 + SPANS_REBOOT, 16000, 4)]


def test_thresholds_are_checked_and_the_error_names_the_argument():
    log = Log()
    for kw, field in (
        ({"ch4_stop_ppm": 0}, "ch4_stop_ppm"),
        ({"ch4_evac_ppm": -5}, "ch4_evac_ppm"),
        ({"co_evac_ppm": 2.5}, "co_evac_ppm"),
        ({"ch4_hot_max_ppm": True}, "ch4_hot_max_ppm"),
        ({"silent_ms": 0}, "gas_silent_ms"),
        ({"stuck_s": 0}, "gas_stuck_s"),
        ({"holdoff_ms": -1}, "gas_holdoff_ms"),
        ({"holdoff_ms": True}, "gas_holdoff_ms"),
        ({"holdoff_ms": 0x20000000}, "gas_holdoff_ms"),
        ({"ch4_stop_ppm": 12000, "ch4_evac_ppm": 11000}, "ch4_evac_ppm"),
        ({"ch4_hot_max_ppm": 10001}, "ch4_hot_max_ppm"),
        ({"ch4_max_ppm": 14000}, "ch4_max_ppm"),
        ({"co_max_ppm": 20}, "co_max_ppm"),
    ):
        e = raises(ProtocolError, Gas, log, **kw)
        assert e.field == field, (kw, e.field)
    # Tighter than the regulation is always fine, and equal evac and stop levels too.
    g = Gas(log, ch4_stop_ppm=8000, ch4_evac_ppm=8000, co_evac_ppm=20, ch4_hot_max_ppm=3000)
    g.on_sample(8000, 0, 0, 1000)
    assert g.evac_demand
