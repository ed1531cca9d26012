"""The stimulus jig without its Pico (docs/hil.md): the jig firmware's logic
(firmware/jig/main.py) on a fake pin layer, checked against the gateway's own parsers for
what it produces (hal/readerline.py, hal/pulses.py, hal/gasloop.py and the Pico HAL's ADC
arithmetic), and the host's JigLink / JigBoard talking to it over a real pty. What cannot
run in CI is then only the pin layer (PicoHardware), which the rp2 type check covers."""

import itertools
import subprocess
import time

import pytest

from hal.gasloop import fill_gas
from hal.pulses import PulseCounter
from hal.readerline import ReaderLine

from .hil_boards import (
    CH4_FULL_SCALE_PPM,
    CO_FULL_SCALE_PPM,
    SHUNT_OHM,
    JigBoard,
    loop_ua,
    outputs_from_bits,
)
from .jig_emulator import JIG_MAIN, FakePins, JigServer, jig_fw


class Stream:
    """A UART with timeout=0 for ReaderLine, holding what the jig sent."""

    def __init__(self, data):
        self.data = bytearray(data)

    def any(self):
        return len(self.data)

    def readinto(self, buf, n):
        n = min(n, len(self.data))
        buf[:n] = self.data[:n]
        del self.data[:n]
        return n


def _jig():
    clock = [1000]
    pins = FakePins(clock)
    sent = []
    jig = jig_fw.Jig(pins, sent.append, clock[0])
    return jig, pins, sent, clock


def _run(jig, clock, ms):
    for _ in range(ms):
        clock[0] += 1
        jig.poll(clock[0])


def _reads_back(cases):
    # What the gateway's ReaderLine makes of the lines the jig sends for `cases`.
    jig, pins, sent, _ = _jig()
    for i, (point, tag, rssi, batt) in enumerate(cases):
        jig.feed(b"%d TAG %d %d %d %d\n" % (i + 1, point, tag, rssi, batt))
    assert sent == ["%d OK\n" % (i + 1) for i in range(len(cases))]
    got = []
    for point in (0, 1):
        reader = ReaderLine(Stream(pins.reader_bytes[point]), point)
        for _ in range(len(pins.reader_bytes[point])):  # at most one tag per poll
            out = [0, 0, 0, 0]
            if reader.poll(out):
                got.append(tuple(out))
    return got


def test_tag_lines_are_what_the_gateway_reader_parses():
    assert jig_fw.tag_line(40213, -61, 0) == b"$TAG,40213,-61,0*50\r\n"  # docs/hardware.md
    cases = [(0, 40213, -61, 0), (1, 12, -5, 1), (0, 999999999, -127, 0), (1, 30001, -75, 1)]
    assert sorted(_reads_back(cases)) == sorted(cases)


def test_the_shortest_reader_lines_are_parsed_too():
    # $TAG,1,0,1*4E is 13 bytes and $TAG,7,-5,0*61 14: the parser once dropped both.
    cases = [(0, 7, -5, 0), (1, 1, 0, 1)]
    assert sorted(_reads_back(cases)) == sorted(cases)


def test_beam_pulses_count_once_each_through_the_gateway_debounce():
    jig, pins, sent, clock = _jig()
    jig.feed(b"7 BEAM 5\n")
    assert sent == []  # answered once the last pulse is out
    _run(jig, clock, 700)
    assert sent == ["7 OK\n"]
    counter = PulseCounter(lambda: now[0], 50)
    now = [0]
    for ms, pin, low in pins.edges:
        if pin == jig_fw.BEAM_PIN and low:
            now[0] = ms
            counter.on_edge()
    assert counter.count == 5


def test_camera_beats_every_half_second_until_off():
    jig, pins, sent, clock = _jig()
    jig.feed(b"1 CAM 1 1\n")
    _run(jig, clock, 2100)
    jig.feed(b"2 CAM 1 0\n")
    _run(jig, clock, 1000)
    falls = [ms for ms, pin, low in pins.edges if pin == jig_fw.CAMERA_PINS[1] and low]
    assert len(falls) == 5
    assert all(b - a == jig_fw.BEAT_PERIOD_MS for a, b in itertools.pairwise(falls))
    assert pins.edges[-1][2] is False  # left idle (high)
    assert sent == ["1 OK\n", "2 OK\n"]


@pytest.mark.parametrize("board", ["pico", "esp32"])
@pytest.mark.parametrize("ppm", [0, 1500, 5000, 10000, 15000, 40000])
def test_gas_loop_reads_back_as_the_ppm_asked_for(board, ppm):
    jig, pins, _, _ = _jig()
    shunt = SHUNT_OHM[board]
    jig.feed(b"1 SHUNT %d\n2 LOOP 0 %d\n3 LOOP 1 %d\n" % (shunt, loop_ua(ppm, 40000), 4000))
    # The gateway's ADC sees duty x 3.3 V across its input; the HALs turn it into uA.
    mv = pins.duty[0] * 3300 / 65535
    ua = int(mv * 1000 / shunt)
    out = [0, 0, 0]
    fill_gas(out, ua, loop_ua(0, CO_FULL_SCALE_PPM), CH4_FULL_SCALE_PPM, CO_FULL_SCALE_PPM)
    assert abs(out[0] - ppm) <= CH4_FULL_SCALE_PPM // 400  # 0.25 % of span
    assert out[2] == 0


def test_output_changes_are_reported_once_settled():
    jig, pins, sent, clock = _jig()
    pins.bits = 1 | 8  # work relay, green
    _run(jig, clock, 10)
    pins.bits = 1  # break before make: all lamps dark for a moment
    _run(jig, clock, 1)
    pins.bits = 1 | 16
    _run(jig, clock, 10)
    reports = [int(s.split()[3]) for s in sent if s.startswith("* OUT")]
    assert reports == [9, 17]
    assert outputs_from_bits(17) == {
        "lamp": 2,
        "sounder": False,
        "work_relay": True,
        "hot_relay": False,
        "entry_refused": True,
    }
    assert outputs_from_bits(8 | 32)["lamp"] == -1


def test_bad_requests_are_refused_and_change_nothing():
    jig, pins, sent, _ = _jig()
    jig.feed(b"1 TAG 2 5 -60 0\n2 TAG 0 0 -60 0\n3 LOOP 0 30000\n4 FLY\n5 RAW 0 zz\nnonsense\n")
    jig.feed(b"6 TAG " + b"9" * 200 + b"\n")
    assert [s.split()[1] for s in sent[:5]] == ["ERR"] * 5
    assert sent[5].startswith("* ERR") and sent[6].startswith("* ERR")
    assert pins.reader_bytes == [bytearray(), bytearray()]
    assert pins.duty == [0, 0]


def test_host_drives_the_jig_over_a_serial_line(tmp_path):
    pins = FakePins([0])
    server = JigServer(pins)
    dut_port = tmp_path / "ttyDUT"
    dut_port.write_text("")
    board = JigBoard("gw-bench", "pico", str(dut_port), server.port)
    try:
        assert server.jig.shunt_ohm == 150 and pins.running is True
        board.read_tag(0, 30001)
        board.read_tag(1, 30001, rssi=-70, battery_low=True)
        board.beam(2)
        board.video(0, True)
        board.gas(10000, 0)
        pins.bits = 1 | 4 | 8
        deadline = time.monotonic() + 2
        while not board.output_history() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert board.output_history()[-1][1]["work_relay"] is True
        assert board.outputs()["entry_refused"] is False
        board.power_cut()
        assert pins.running is False
        board.power_on()
        assert pins.running is True
        assert b"$TAG,30001,-60,0*" in pins.reader_bytes[0]
        assert b"$TAG,30001,-70,1*" in pins.reader_bytes[1]
        beam_falls = [e for e in pins.edges if e[1] == jig_fw.BEAM_PIN and e[2]]
        assert len(beam_falls) == 2
        assert pins.duty[0] == jig_fw.loop_duty(loop_ua(10000, CH4_FULL_SCALE_PPM), 150)
    finally:
        board.stop()
        server.close()


MICROPYTHON_CHECK = r"""
import sys
sys.path.insert(0, "/repo/firmware/jig")
import main as jig_fw


class Pins:
    def __init__(self):
        self.reader = [bytearray(), bytearray()]
        self.bits = 0
        self.edges = 0
        self.duty = [0, 0]
        self.running = None

    def reader_write(self, point, data):
        self.reader[point].extend(data)

    def pulse_pin(self, pin, low):
        self.edges += 1

    def loop_duty(self, channel, duty):
        self.duty[channel] = duty

    def run(self, on):
        self.running = on

    def read_outputs(self):
        return self.bits


pins = Pins()
sent = []
jig = jig_fw.Jig(pins, sent.append, 0)
jig.feed(b"1 TAG 0 40213 -61 0\n2 RAW 1 0a0b\n3 RAW 1 zz\n4 BEAM 2\n5 LOOP 0 12000\n")
jig.feed(b"6 CAM 0 1\n\xff\xfe junk\n7 HELLO\n")
for t in range(1, 400):
    jig.poll(t)
pins.bits = 9
for t in range(400, 410):
    jig.poll(t)
assert bytes(pins.reader[0]) == b"$TAG,40213,-61,0*50\r\n", pins.reader[0]
assert bytes(pins.reader[1]) == b"\n\x0b"
assert pins.duty[0] == jig_fw.loop_duty(12000, 150) and pins.running is True
assert sent[2].startswith("3 ERR") and sent[5].startswith("* ERR"), sent
assert "4 OK\n" in sent and "7 OK JIG 1 0\n" in sent, sent
assert sent[-1].startswith("* OUT ") and sent[-1].endswith(" 9\n"), sent
print("jig logic ok under", sys.implementation.name)
"""


def test_jig_logic_runs_under_micropython(tmp_path):
    repo = JIG_MAIN.parents[2]
    if not (repo / "node_modules/@micropython/micropython-webassembly-pyscript").exists():
        pytest.skip("the MicroPython runtime is not installed (./dev setup)")
    script = tmp_path / "jig_check.py"
    script.write_text(MICROPYTHON_CHECK)
    run = subprocess.run(
        ["node", str(repo / "tests" / "mpy_runner.mjs"), "run", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=repo,
    )
    output = (run.stdout + run.stderr)[-2000:]
    assert "jig logic ok under micropython" in run.stdout, output
