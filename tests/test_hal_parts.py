# micropython-test
# The board-independent parts of the real boards' HAL (firmware/hal/): the tag reader line
# protocol, 4-20 mA gas loops, the wall clock and the pulse inputs. They run here under
# CPython and MicroPython with fake UARTs and fake ticks; the board modules that wire them
# to `machine` are proven by the type check (tests/test_typecheck.py).
import gc

from hostcalls import in_parts
from mpcheck import raises

import hal
from hal import clock, gasloop, pulses, readerline
from hal.readerline import ReaderLine

TICKS_PERIOD = 1 << 30


def C(unix_s):
    # The clock seconds (gateway/caps.py) the wall clock reads for a unix time.
    return unix_s - clock.EPOCH_S


class FakeUart:
    # any()/readinto(buf, n) like machine.UART with timeout=0. With loop=True it replays
    # its bytes forever without allocating, for the allocation measurement.
    def __init__(self, data=b"", loop=False):
        self._data = bytearray(data)
        self._pos = 0
        self._loop = loop
        self.reads = 0

    def feed(self, data):
        self._data.extend(data)

    def any(self):
        if self._loop:
            return len(self._data)
        return len(self._data) - self._pos

    def readinto(self, buf, n):
        self.reads += 1
        count = 0
        while count < n and count < len(buf):
            if self._pos >= len(self._data):
                if not self._loop:
                    break
                self._pos = 0
            buf[count] = self._data[self._pos]
            self._pos += 1
            count += 1
        return count or None


def tag_line(body, check=None):
    if check is None:
        check = readerline.checksum(body.encode())
    return ("$%s*%02X\r\n" % (body, check)).encode()


def poll_all(reader, out, limit=100):
    got = []
    for _ in range(limit):
        if reader.poll(out):
            got.append((out[0], out[1], out[2], out[3]))
    return got


# ---- tag reader lines ----


def test_reader_parses_one_tag_line():
    uart = FakeUart(tag_line("TAG,40213,-61,0"))
    reader = ReaderLine(uart, 1)
    out = [0, 0, 0, 0]
    assert reader.poll(out)
    assert out == [1, 40213, -61, 0]
    assert not reader.poll(out)
    assert reader.tag_lines == 1 and reader.bad_lines == 0


def test_reader_documented_example_line_is_valid():
    out = [0, 0, 0, 0]
    assert ReaderLine(FakeUart(b"$TAG,40213,-61,0*50\n"), 0).poll(out)
    assert out == [0, 40213, -61, 0]


def test_reader_low_battery_and_lowercase_checksum():
    body = "TAG,7,-127,1"
    line = ("$%s*%02x\n" % (body, readerline.checksum(body.encode()))).encode()
    out = [0, 0, 0, 0]
    assert ReaderLine(FakeUart(line), 0).poll(out)
    assert out == [0, 7, -127, 1]


def test_reader_line_split_across_many_reads():
    uart = FakeUart()
    reader = ReaderLine(uart, 0)
    out = [9, 9, 9, 9]
    for b in tag_line("TAG,123456789,0,0"):
        assert not reader.poll(out)
        uart.feed(bytes([b]))
    assert reader.poll(out)
    assert out == [0, 123456789, 0, 0]


def test_reader_several_lines_in_one_read_come_out_one_per_poll():
    data = tag_line("TAG,1,-40,0") + tag_line("TAG,2,-50,0") + tag_line("TAG,3,-60,1")
    uart = FakeUart(data)
    reader = ReaderLine(uart, 0)
    assert poll_all(reader, [0, 0, 0, 0]) == [(0, 1, -40, 0), (0, 2, -50, 0), (0, 3, -60, 1)]


def test_reader_reads_the_uart_at_most_once_per_poll():
    uart = FakeUart(b"x" * 500)
    reader = ReaderLine(uart, 0)
    assert not reader.poll([0, 0, 0, 0])
    assert uart.reads == 1


def test_reader_drops_corrupt_lines_and_keeps_the_good_ones():
    bad = [
        tag_line("TAG,40213,-61,0", check=0x00),  # checksum mismatch
        tag_line("TAG,40213,-61,0")[:-5] + b"*G1\r\n",  # not hex
        tag_line("TAX,40213,-61,0"),  # other sentence
        tag_line("TAG,0,-61,0"),  # tag 0 does not exist
        tag_line("TAG,1234567890,-61,0"),  # ten digits
        tag_line("TAG,,-61,0"),
        tag_line("TAG,12,-128,0"),  # rssi below -127
        tag_line("TAG,12,5,0"),  # positive rssi
        tag_line("TAG,12,-1000,0"),
        tag_line("TAG,12,-,0"),
        tag_line("TAG,12,-61,2"),  # battery flag not 0/1
        tag_line("TAG,12,-61,01"),
        tag_line("TAG,12,-61"),
        tag_line("TAG,12,-61,0,5"),
        tag_line("TAG,+12,-61,0"),
        b"$TAG,12,-61,0\n",  # no checksum
        b"*\n",
        b"\n",
        b"\xff" * 200 + b"\n",  # overlong noise
    ]
    good = tag_line("TAG,77,-70,0")
    data = b"".join(bad) + good
    reader = ReaderLine(FakeUart(data), 1)
    out = [5, 5, 5, 5]
    assert poll_all(reader, out) == [(1, 77, -70, 0)]
    assert reader.bad_lines == len(bad)
    assert reader.tag_lines == 1


def test_reader_failed_parse_leaves_out_untouched():
    reader = ReaderLine(FakeUart(tag_line("TAG,12,-61,0", check=1)), 0)
    out = [5, 6, 7, 8]
    assert not reader.poll(out)
    assert out == [5, 6, 7, 8]


def test_reader_resynchronises_after_noise_without_newline():
    # Noise with no newline fills the line buffer; the next newline ends it as one bad
    # line and the following line parses.
    data = b"\x00garbage" * 20 + b"\n" + tag_line("TAG,9,-33,0")
    reader = ReaderLine(FakeUart(data), 0)
    assert poll_all(reader, [0, 0, 0, 0]) == [(0, 9, -33, 0)]
    assert reader.bad_lines == 1


def test_reader_point_must_be_outer_or_inner():
    raises(ValueError, ReaderLine, FakeUart(), 2)
    raises(ValueError, ReaderLine, FakeUart(), -1)


def test_reader_steady_state_allocates_nothing():
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    uart = FakeUart(tag_line("TAG,40213,-61,0") + tag_line("TAG,7,-90,1"), loop=True)
    reader = ReaderLine(uart, 0)
    out = [0, 0, 0, 0]
    for _ in range(10):
        reader.poll(out)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(500):
        reader.poll(out)
    after = gc.mem_alloc()
    gc.enable()
    assert reader.tag_lines > 100
    assert after - before == 0, after - before


# ---- 4-20 mA gas loops ----


def test_loop_ppm_scale_points():
    full = gasloop.CH4_FULL_SCALE_PPM
    assert gasloop.loop_ppm(4000, full) == 0
    assert gasloop.loop_ppm(12000, full) == full // 2
    assert gasloop.loop_ppm(20000, full) == full
    # 1.0 % CH4 = 10 000 ppm at 8 mA on a 0-4 % head
    assert gasloop.loop_ppm(8000, 40000) == 10000
    assert gasloop.loop_ppm(3900, full) == 0
    assert gasloop.loop_ppm(20500, full) == full
    assert gasloop.loop_ppm(4001, 1000) == 0  # floors, never rounds gas up from nothing


def test_loop_fault_bands_are_ne43():
    assert gasloop.loop_fault(0, 1, 2) == 1  # broken wire
    assert gasloop.loop_fault(3600, 1, 2) == 1
    assert gasloop.loop_fault(3601, 1, 2) == 0
    assert gasloop.loop_fault(20999, 1, 2) == 0
    assert gasloop.loop_fault(21000, 1, 2) == 2
    assert gasloop.loop_fault(30000, 1, 2) == 2


def test_fill_gas_healthy_and_faulted():
    out = [9, 9, 9]
    gasloop.fill_gas(out, 8000, 4384, 40000, 1000)
    assert out == [10000, 24, 0]
    gasloop.fill_gas(out, 0, 22000, 40000, 1000)
    assert out == [0, 1000, gasloop.FAULT_CH4_LOW | gasloop.FAULT_CO_HIGH]
    gasloop.fill_gas(out, 21500, 100, 40000, 1000)
    assert out == [40000, 0, gasloop.FAULT_CH4_HIGH | gasloop.FAULT_CO_LOW]


def test_full_scale_is_checked():
    assert gasloop.check_full_scale("x", 40000) == 40000
    for bad in (0, -1, 60001, True, 1.5, "40000", None):
        e = raises(ValueError, gasloop.check_full_scale, "ch4_full_scale_ppm", bad)
        assert "ch4_full_scale_ppm" in str(e)


# ---- wall clock ----


def ref_civil(t):
    # Independent oracle: count whole years and months from 1970.
    days, secs = divmod(t, 86400)
    year = 1970
    while True:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        n = 366 if leap else 365
        if days < n:
            break
        days -= n
        year += 1
    lengths = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    month = 1
    for n in lengths:
        if days < n:
            break
        days -= n
        month += 1
    weekday = (t // 86400 + 3) % 7
    return (year, month, days + 1, weekday, secs // 3600, secs // 60 % 60, secs % 60)


def test_civil_from_unix_known_dates():
    assert clock.civil_from_unix(0) == (1970, 1, 1, 3, 0, 0, 0)  # a Thursday
    assert clock.civil_from_unix(951782400) == (2000, 2, 29, 1, 0, 0, 0)  # a Tuesday
    assert clock.civil_from_unix(1709251199) == (2024, 2, 29, 3, 23, 59, 59)
    assert clock.civil_from_unix(1735689600) == (2025, 1, 1, 2, 0, 0, 0)
    assert clock.civil_from_unix(4102444799) == (2099, 12, 31, 3, 23, 59, 59)


@in_parts
def test_civil_from_unix_matches_the_oracle_across_the_range():
    # Unix times past 2**30 are big ints under MicroPython: the oracle's arithmetic on them
    # is garbage, collected between the parts (tests/hostcalls.py).
    t = clock.RTC_MIN_S
    step = 86400 * 13 + 3607  # walks through every month, weekday and hour
    n = 0
    while t < clock.RTC_MAX_S:
        assert clock.civil_from_unix(t) == ref_civil(t), t
        t += step
        n += 1
        if n % 64 == 0:
            yield


def test_wall_clock_reads_zero_until_set():
    c = clock.WallClock()
    assert c.now_s(12345) == 0
    assert not c.is_set()


def test_wall_clock_rejects_bad_times_and_stays_unset():
    c = clock.WallClock()
    raises(ValueError, c.set, 0, 0)
    raises(ValueError, c.set, clock.RTC_MIN_S - 1, 0)
    raises(ValueError, c.set, clock.RTC_MAX_S + 1, 0)
    raises(TypeError, c.set, 1.7e9, 0)
    raises(TypeError, c.set, True, 0)
    raises(TypeError, c.set, "1700000000", 0)
    assert c.now_s(0) == 0
    c.set(1_700_000_000, 100)
    raises(ValueError, c.set, 5, 200)
    assert c.now_s(100) == C(1_700_000_000)  # a refused set changes nothing


def test_wall_clock_counts_seconds_across_a_ticks_wrap():
    c = clock.WallClock()
    start_ms = TICKS_PERIOD - 1500
    c.set(1_700_000_000, start_ms)
    assert c.now_s(start_ms + 999) == C(1_700_000_000)
    assert c.now_s(TICKS_PERIOD - 500) == C(1_700_000_001)
    assert c.now_s(1500) == C(1_700_000_003)  # ticks wrapped to 1500


def test_wall_clock_reanchors_daily_and_stays_exact():
    c = clock.WallClock()
    c.set(1_700_000_000, 0)
    ms = 0
    expected_ms = 0
    # 20 days in 5-hour steps, far past the ticks half-period of 6.2 days
    for _ in range(96):
        ms = (ms + 18_000_123) % TICKS_PERIOD
        expected_ms += 18_000_123
        assert c.now_s(ms) == C(1_700_000_000) + expected_ms // 1000


def test_wall_clock_unsets_itself_when_not_read_past_the_half_period():
    c = clock.WallClock()
    c.set(1_700_000_000, 0)
    assert c.now_s((1 << 29) + 10) == 0  # 6.2 days unread: elapsed time is lost
    assert not c.is_set()


def test_wall_clock_reads_clock_seconds_from_2020_to_2054_then_unsets():
    # The time base (gateway/caps.py): unix seconds in at set(), clock seconds out, exact
    # at both ends of the range and across 2**31 (2038-01-19T03:14:08Z, where a signed
    # 32-bit unix time wraps); past 2054-01-09T13:37:03Z the clock unsets itself (fail
    # safe: an unknown clock, never a wrapped one).
    c = clock.WallClock()
    c.set(clock.RTC_MIN_S, 0)
    assert c.now_s(0) == 1
    c.set(clock.RTC_MAX_S, 0)
    assert c.now_s(999) == clock.CLOCK_MAX_S == (1 << 30) - 1
    assert c.now_s(1000) == 0 and not c.is_set()  # one second past the range
    c.set(0x7FFFFFFF - 2, 0)
    for k in range(6):
        assert c.now_s(1000 * k) == C(0x7FFFFFFF - 2 + k)
    c.set(clock.RTC_MAX_S - 100, 0)
    assert c.now_s(99_000) == clock.CLOCK_MAX_S - 1
    assert c.now_s(101_000) == 0 and not c.is_set()


def test_wall_clock_reads_allocate_nothing():
    # rtc_s() on the real boards is this read: a small int each new second, no big int
    # (issue 9 item 7). A unix time there would be 32 bytes a second.
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    c = clock.WallClock()
    c.set(1_750_000_000, 0)
    ms = 0
    for _ in range(10):
        ms += 250
        c.now_s(ms)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(400):
        ms += 250  # a new second every 4th read
        c.now_s(ms)
    after = gc.mem_alloc()
    gc.enable()
    assert c.now_s(ms) == C(1_750_000_000) + ms // 1000
    assert after - before == 0, after - before


# ---- pulse inputs ----


class FakeTicks:
    def __init__(self, now=0):
        self.now = now

    def __call__(self):
        return self.now


def test_pulse_counter_counts_and_debounces():
    ticks = FakeTicks(1000)
    beam = pulses.PulseCounter(ticks, 50)
    beam.on_edge()
    assert beam.count == 1
    for _ in range(5):  # a bouncing contact: edges 10 ms apart count once
        ticks.now += 10
        beam.on_edge()
    assert beam.count == 1
    ticks.now += 49
    beam.on_edge()
    assert beam.count == 1
    ticks.now += 50
    beam.on_edge()
    assert beam.count == 2
    ticks.now = TICKS_PERIOD - 5
    beam.on_edge()
    ticks.now = 100  # across the wrap
    beam.on_edge()
    assert beam.count == 4
    raises(ValueError, pulses.PulseCounter, ticks, -1)


def test_camera_never_heard_reports_the_start_tick_unchanged():
    ticks = FakeTicks(5000)
    beats = pulses.BeatTable(2, ticks)
    out = [0, 0]
    assert beats.fill(out) == 2
    assert out == [5000, 5000]
    ticks.now = 70000
    beats.fill(out)
    assert out == [5000, 5000]  # no beat, no change: the video rule times it out


def test_camera_beat_value_changes_only_when_a_beat_arrives():
    ticks = FakeTicks(5000)
    beats = pulses.BeatTable(2, ticks)
    out = [0, 0]
    ticks.now = 6000
    beats.handlers[1]()
    ticks.now = 9000
    beats.fill(out)
    assert out == [5000, 6000]
    # Days of silence, across the ticks wrap: the value stays frozen, it never "moves".
    for _ in range(100):
        ticks.now = (ticks.now + 10_000_000) % TICKS_PERIOD
        beats.fill(out)
        assert out == [5000, 6000]
    beats.handlers[0]()
    beats.fill(out)
    assert out == [ticks.now, 6000]


def test_beat_table_needs_a_camera():
    raises(ValueError, pulses.BeatTable, 0, FakeTicks())


# ---- board choice ----


def test_board_name_by_platform():
    assert hal.board_name("rp2") == "pico"
    assert hal.board_name("esp32") == "esp32"
    assert hal.board_name("linux") == "virtual"
    assert hal.board_name("webassembly") == "virtual"


def test_load_refuses_an_unknown_board():
    e = raises(ValueError, hal.load, "arduino")
    assert "arduino" in str(e) and "pico" in str(e)


def test_board_modules_are_imported_by_name():
    assert hal._submodule("clock") is clock
