# micropython-test
# Caps by zone kind and shift (R-CAP-1..5), the early-warning level (R-CAP-6), the shift
# schedule and the temporary cap for rectification work (R-CAP-9).
from mpcheck import raises
from zonekit import NOW_S

from gateway.caps import (
    CLOCK_MAX_S,
    EPOCH_S,
    LEVEL_FULL,
    LEVEL_OK,
    LEVEL_OVER,
    LEVEL_WARNING,
    MAX_OVERRIDE_S,
    SHIFT_MAINTENANCE,
    SHIFT_PRODUCTION,
    SHIFT_UNKNOWN,
    UNIX_MAX_S,
    CapPolicy,
    clock_bound,
    clock_known,
    clock_of,
    now_clock,
    unix_hi,
    unix_lo,
    unix_of,
)
from hal import clock as hal_clock

P = SHIFT_PRODUCTION
M = SHIFT_MAINTENANCE


def test_r_cap_1_2_coal_face_production_25_maintenance_40():
    c = CapPolicy("coal_face")
    assert c.cap(P, True) == 25
    assert c.cap(M, True) == 40


def test_r_cap_3_4_5_heading_and_repair_caps():
    assert CapPolicy("fm_heading").cap(P, True) == 18  # R-CAP-3
    assert CapPolicy("fm_heading").cap(M, True) == 18
    assert CapPolicy("db_heading").cap(M, True) == 15  # R-CAP-4
    assert CapPolicy("repair").cap(P, True) == 8  # R-CAP-5


def test_shaft_cap_is_the_mines_approved_number_and_required():
    assert CapPolicy("shaft", shaft_cap=420).cap(P, True) == 420
    e = raises(ValueError, CapPolicy, "shaft")
    assert "shaft_cap" in str(e)
    raises(ValueError, CapPolicy, "coal_face", shaft_cap=100)
    raises(ValueError, CapPolicy, "shaft", shaft_cap=0)


def test_config_may_tighten_a_cap():
    c = CapPolicy("coal_face", caps=[20, 30])
    assert c.cap(P, True) == 20 and c.cap(M, True) == 30
    assert CapPolicy("repair", caps=5).cap(M, True) == 5
    assert CapPolicy("shaft", shaft_cap=400, caps=350).cap(P, True) == 350


def test_r_cap_1_config_may_not_loosen_a_cap():
    e = raises(ValueError, CapPolicy, "coal_face", caps=[26, 40])
    assert "26" in str(e) and "legal 25" in str(e) and "R-CAP-1" in str(e)
    e = raises(ValueError, CapPolicy, "coal_face", caps=[25, 41])
    assert "R-CAP-2" in str(e)
    e = raises(ValueError, CapPolicy, "coal_face", caps=30)  # above the production cap
    assert "production" in str(e)
    e = raises(ValueError, CapPolicy, "repair", caps=9)
    assert "R-CAP-5" in str(e)
    raises(ValueError, CapPolicy, "shaft", shaft_cap=400, caps=401)
    raises(ValueError, CapPolicy, "coal_face", caps=[-1, 40])
    raises(ValueError, CapPolicy, "coal_face", caps=[1, 2, 3])


def test_unknown_kind_refused():
    e = raises(ValueError, CapPolicy, "goaf")
    assert "goaf" in str(e)


def test_unknown_shift_takes_the_strictest_cap():
    assert CapPolicy("coal_face").cap(SHIFT_UNKNOWN, False) == 25
    assert CapPolicy("coal_face", caps=[25, 12]).cap(SHIFT_UNKNOWN, True) == 12


def test_shift_is_the_one_that_started_last():
    # Local time UTC+8; NOW_S is 12:00 local.
    c = CapPolicy("coal_face", schedule=[[0, M], [480, P], [960, P]], utc_offset_min=480)
    assert c.shift_at(NOW_S) == P
    assert c.shift_at(NOW_S - 4 * 3600) == P  # 08:00:00 local: production has begun
    assert c.shift_at(NOW_S - 4 * 3600 - 60) == M  # 07:59
    c2 = CapPolicy("coal_face", schedule=[[360, P], [1080, M]], utc_offset_min=480)
    # 02:00 local is before the first start: yesterday's last shift (maintenance) goes on.
    assert c2.shift_at(NOW_S - 10 * 3600) == M
    assert c2.shift_at(NOW_S) == P


def test_utc_offset_moves_the_shift():
    sched = [[0, M], [720, P]]
    assert CapPolicy("coal_face", schedule=sched, utc_offset_min=480).shift_at(NOW_S) == P
    assert CapPolicy("coal_face", schedule=sched, utc_offset_min=0).shift_at(NOW_S) == M


def test_no_clock_or_no_schedule_means_unknown_shift():
    c = CapPolicy("coal_face", schedule=[[0, P]])
    assert c.shift_at(0) == SHIFT_UNKNOWN
    assert c.shift_at(1000) == SHIFT_UNKNOWN  # a clock at 1970 was never set
    assert CapPolicy("coal_face").shift_at(NOW_S) == SHIFT_UNKNOWN
    assert not clock_known(0) and not clock_known(None) and clock_known(NOW_S)


def test_schedule_checked():
    raises(ValueError, CapPolicy, "coal_face", schedule=[[480, P], [480, M]])
    raises(ValueError, CapPolicy, "coal_face", schedule=[[480, P], [0, M]])
    raises(ValueError, CapPolicy, "coal_face", schedule=[[1440, P]])
    raises(ValueError, CapPolicy, "coal_face", schedule=[[0, 2]])
    raises(ValueError, CapPolicy, "coal_face", schedule=[[0]])
    raises(ValueError, CapPolicy, "coal_face", utc_offset_min=900)


def test_r_cap_6_warning_level_rounded_down():
    c = CapPolicy("coal_face")
    assert c.warn_at(25) == 20
    assert c.warn_at(18) == 14  # 14.4: warn no later than 80 %
    assert c.warn_at(8) == 6
    assert c.warn_at(1) == 1
    assert CapPolicy("coal_face", warn_pct=50).warn_at(25) == 12
    raises(ValueError, CapPolicy, "coal_face", warn_pct=0)
    raises(ValueError, CapPolicy, "coal_face", warn_pct=101)


def test_r_cap_6_levels():
    c = CapPolicy("coal_face")
    assert c.level(19, 25) == LEVEL_OK
    assert c.level(20, 25) == LEVEL_WARNING
    assert c.level(24, 25) == LEVEL_WARNING
    assert c.level(25, 25) == LEVEL_FULL
    assert c.level(26, 25) == LEVEL_OVER
    assert c.level(0, 0) == LEVEL_FULL  # a sealed zone is full when empty
    assert c.level(1, 0) == LEVEL_OVER


def test_r_cap_9_temporary_cap_replaces_the_configured_one():
    c = CapPolicy("coal_face", caps=[20, 30])
    c.set_override(10, NOW_S + 3600, NOW_S)
    assert c.cap(P, True) == 10 and c.cap(M, True) == 10
    c.set_override(24, NOW_S + 3600, NOW_S)
    assert c.cap(P, True) == 24  # dispatch's approved number, within the regulation
    c.set_override(40, NOW_S + 3600, NOW_S)
    assert c.cap(P, True) == 25  # never above the legal cap of the shift
    assert c.cap(M, True) == 40


def test_r_cap_9_temporary_cap_above_the_regulation_refused():
    c = CapPolicy("coal_face")
    e = raises(ValueError, c.set_override, 41, NOW_S + 3600, NOW_S)
    assert "legal 40" in str(e)
    assert c.override_cap == -1


def test_r_cap_9_temporary_cap_needs_a_sensible_window_and_a_clock():
    c = CapPolicy("repair")
    raises(ValueError, c.set_override, 4, NOW_S, NOW_S)
    raises(ValueError, c.set_override, 4, NOW_S + MAX_OVERRIDE_S + 1, NOW_S)
    e = raises(ValueError, c.set_override, 4, NOW_S + 60, 0)
    assert "clock" in str(e)
    assert c.override_cap == -1
    c.set_override(4, NOW_S + MAX_OVERRIDE_S, NOW_S)
    assert c.override_cap == 4


def test_r_cap_9_temporary_cap_expires():
    c = CapPolicy("repair")
    c.set_override(4, NOW_S + 60, NOW_S)
    assert not c.override_expired(NOW_S + 59)
    assert not c.override_expired(0)  # no clock: cannot tell, keep it
    assert c.override_expired(NOW_S + 60)
    assert c.clear_override() == 4
    assert c.cap(P, True) == 8 and not c.override_expired(NOW_S + 60)


def test_r_cap_9_without_a_clock_a_temporary_cap_may_only_lower():
    c = CapPolicy("coal_face", caps=[20, 30])
    c.set_override(25, NOW_S + 3600, NOW_S)
    assert c.cap(P, False) == 20
    c.set_override(5, NOW_S + 3600, NOW_S)
    assert c.cap(SHIFT_UNKNOWN, False) == 5


# ---- the firmware's time base: clock seconds ----


def _unix_from_halves(c):
    return unix_hi(c) * 65536 + unix_lo(c)


def test_clock_seconds_convert_exactly_across_the_range_and_2038():
    # Halves built without a big int give the exact unix time at both ends of the range,
    # around every 16-bit carry, across 2**31 (2038-01-19T03:14:08Z) and in between.
    assert CLOCK_MAX_S == (1 << 30) - 1 and UNIX_MAX_S == EPOCH_S + CLOCK_MAX_S
    assert hal_clock.EPOCH_S == EPOCH_S and hal_clock.CLOCK_MAX_S == CLOCK_MAX_S
    assert hal_clock.RTC_MIN_S == EPOCH_S + 1 and hal_clock.RTC_MAX_S == UNIX_MAX_S
    probes = [1, 2, 0x1EFF, 0x1F00, 0xFFFF, 0x10000, 0x7FFFFFFF - EPOCH_S, 0x80000000 - EPOCH_S]
    probes += [CLOCK_MAX_S - 1, CLOCK_MAX_S]
    c = 1
    while c < CLOCK_MAX_S:
        probes.append(c)
        c += 9_999_991  # about every 116 days
    for c in probes:
        assert _unix_from_halves(c) == c + EPOCH_S == unix_of(c), c
        assert clock_of(c + EPOCH_S) == c and clock_known(c + EPOCH_S), c
        assert unix_hi(c) < 0x10000 and unix_lo(c) < 0x10000
    assert unix_hi(0) == unix_lo(0) == unix_of(0) == 0  # unknown stays unknown


def test_clock_of_refuses_what_clock_seconds_cannot_hold():
    for bad in (0, 1000, EPOCH_S, UNIX_MAX_S + 1, 0xFFFFFFFF, -5, None, 1.7e9, True):
        assert clock_of(bad) == 0 and not clock_known(bad), bad
    assert clock_of(EPOCH_S + 1) == 1 and clock_of(UNIX_MAX_S) == CLOCK_MAX_S
    assert now_clock(CLOCK_MAX_S, EPOCH_S) == CLOCK_MAX_S
    assert now_clock(CLOCK_MAX_S + 1, EPOCH_S) == 0 and now_clock(-1, EPOCH_S) == 0
    assert now_clock(NOW_S, 0) == NOW_S - EPOCH_S and now_clock(NOW_S, EPOCH_S) == 0
    raises(ValueError, CapPolicy, "coal_face", epoch_s=1)


def test_clock_bound_keeps_every_comparison_with_a_known_clock():
    # A window end past 2054 or before 2020 compares with any clock second as it would
    # in unix seconds.
    ends = [0, 1, EPOCH_S - 1, EPOCH_S, EPOCH_S + 1, NOW_S, UNIX_MAX_S, UNIX_MAX_S + 1]
    ends += [0xFFFFFFFF]
    nows = [1, 2, NOW_S - EPOCH_S, CLOCK_MAX_S - 1, CLOCK_MAX_S]
    for e in ends:
        b = clock_bound(e)
        for c in nows:
            u = c + EPOCH_S
            assert (c < b) == (u < e) and (c >= b) == (u >= e), (e, c)


def test_the_policy_in_clock_seconds_decides_as_in_unix_seconds():
    sched = [[0, M], [480, P], [960, P]]
    unix = CapPolicy("coal_face", schedule=sched, utc_offset_min=480)
    clk = CapPolicy("coal_face", schedule=sched, utc_offset_min=480, epoch_s=EPOCH_S)
    for k in range(0, 86400 * 2, 1799):
        assert unix.shift_at(NOW_S + k) == clk.shift_at(NOW_S - EPOCH_S + k), k
    unix.set_override(10, NOW_S + 600, NOW_S)
    clk.set_override(10, NOW_S + 600, NOW_S - EPOCH_S)
    assert clk.override_expiry_s == NOW_S + 600  # kept as the wire gave it
    for k in (0, 599, 600, 601):
        assert unix.override_expired(NOW_S + k) == clk.override_expired(NOW_S - EPOCH_S + k)
    assert not clk.override_expired(NOW_S - EPOCH_S + 599)
    assert clk.override_expired(NOW_S - EPOCH_S + 600)
    assert not clk.override_expired(0)  # unknown clock: never expires by itself
    e = raises(ValueError, clk.check_override, 10, NOW_S + 604801, NOW_S - EPOCH_S)
    assert "604801" in str(e)
    raises(ValueError, clk.check_override, 10, NOW_S + 60, 0)
