"""The virtual board's machinery (host_tools/shaftgate/vboard, firmware/hal/virtual.py),
driven with a small fake firmware instead of gateway.boot: it echoes link bytes, mirrors
peripherals onto outputs and answers a few "!" commands, so each test can tell exactly
which layer failed."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
import serial

from shaftgate.vboard import (
    INNER,
    OUTER,
    SAFE_OUTPUTS,
    BoardCrashed,
    BoardError,
    BoardTimeout,
    VirtualBoard,
    profiles,
)
from shaftgate.vboard.image import firmware_image
from shaftgate.vboard.side import RemoteBoard

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not (REPO / "node_modules/@micropython/micropython-webassembly-pyscript").exists(),
    reason="the MicroPython runtime is not installed (./dev setup)",
)

# Runs under MicroPython in the board process. Commands are whole lines starting with "!".
ECHO_FIRMWARE = r"""
import gc
import time


def _flash_check(flash):
    assert flash.read("nothing") is None
    assert flash.size("nothing") is None
    assert flash.read_at("nothing", 0, 4) is None
    every = bytes(range(256))
    flash.write("blob", every)
    assert flash.read("blob") == every
    assert flash.size("blob") == 256
    assert flash.read_at("blob", 250, 10) == every[250:]
    assert flash.read_at("blob", 256, 4) == b""
    assert flash.read_at("blob", 300, 4) == b""
    flash.write("blob", b"new")
    assert flash.read("blob") == b"new"
    flash.write("empty", b"")
    assert flash.read("empty") == b""
    flash.append("log", b"ab")
    flash.append("log", bytearray(b"cd"))
    flash.append("log", memoryview(b"xefx")[1:3])
    assert flash.read("log") == b"abcdef"
    flash.truncate("log", 4)
    assert flash.read("log") == b"abcd"
    flash.truncate("log", 4)
    for bad_size in (5, -1):
        try:
            flash.truncate("log", bad_size)
            raise AssertionError("truncate to %d accepted" % bad_size)
        except ValueError:
            pass
    try:
        flash.truncate("nothing", 0)
        raise AssertionError("truncate of a missing file accepted")
    except ValueError:
        pass
    for bad in ("", "a/b", ".", "..", "x.tmp", 7):
        try:
            flash.write(bad, b"x")
            raise AssertionError("bad name %r accepted" % (bad,))
        except ValueError:
            pass
    try:
        flash.write("text", "a str")
        raise AssertionError("str data accepted")
    except TypeError:
        pass
    assert flash.names() == ["blob", "boots.log", "empty", "log"], flash.names()
    # The optional calls a Pico's FileFlash has, so the firmware takes the same path.
    flash.rewrite_unsynced("log", b"xy")  # an existing file, started afresh in place
    flash.append_unsynced("log", b"z")
    flash.append("log", b"!")
    assert flash.read("log") == b"xyz!"
    flash.rewrite_unsynced("fresh", memoryview(b"-new-")[1:4])  # a file not there yet
    assert flash.read("fresh") == b"new"
    try:
        flash.rewrite_unsynced("a/b", b"x")
        raise AssertionError("bad name accepted by rewrite_unsynced")
    except ValueError:
        pass
    flash.write("ev0000000a", b"1")
    flash.remove_numbered("ev%08x", 10)
    flash.remove_numbered("ev%08x", 10)  # idempotent, as remove()
    assert "ev0000000a" not in flash.names()
    flash.remove("fresh")
    flash.remove("blob")
    flash.remove("blob")
    flash.remove("empty")
    flash.remove("log")
    assert flash.names() == ["boots.log"]


def _alloc_check(board):
    tag = [0, 0, 0, 0]
    gas = [0, 0, 0]
    beats = [0] * 8
    buf = bytearray(64)

    def once():
        board.ticks_ms()
        board.rtc_s()
        board.read_tag(tag)
        board.beam_count()
        board.video_beats(beats)
        board.read_gas(gas)
        board.set_lamp(3)
        board.set_lamp(0)
        board.set_sounder(True)
        board.set_sounder(False)
        board.set_work_relay(1)
        board.set_work_relay(0)
        board.set_hot_relay(False)
        board.set_entry_refused(False)
        board.link_read(buf)

    once()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(200):
        once()
    used = gc.mem_alloc() - before
    gc.enable()
    return used


_KEPT = []


def _queens(n):
    def safe(cols, row, col):
        for r in range(row):
            c = cols[r]
            if c == col or c - col == r - row or c - col == row - r:
                return False
        return True

    def place(cols, row):
        if row == n:
            return 1
        found = 0
        for col in range(n):
            if safe(cols, row, col):
                cols[row] = col
                found += place(cols, row + 1)
        return found

    return place([0] * n, 0)


class Echo:
    def __init__(self, board):
        self.board = board
        self.buf = bytearray(256)
        self.line = bytearray()
        self.tag = [0, 0, 0, 0]
        self.gas = [0, 0, 0]
        self.beats = [0] * 8
        self.feed = True  # Board() armed the watchdog: fed every step until !starve
        self.flash_bytes = 0  # !flashloop N: write N bytes to flash every step
        board.flash.append("boots.log", b"boot\n")

    def step(self):
        b = self.board
        if self.feed:
            b.feed_watchdog()
        if self.flash_bytes:
            b.flash.write("blob", bytes(self.flash_bytes))
        n = b.link_read(self.buf)
        if n:
            chunk = bytes(self.buf[:n])
            if chunk[:1] == b"!" or self.line:
                self.line.extend(chunk)
                # Commands written one after another may arrive in one read (a board busy
                # booting reads them together): each line is its own command.
                while b"\n" in self.line:
                    at = self.line.index(b"\n")
                    cmd = bytes(self.line[:at]).strip()
                    self.line = self.line[at + 1 :]
                    if cmd:
                        self.command(cmd)
            else:
                b.link_write(memoryview(self.buf)[:n])
        while b.read_tag(self.tag):
            b.set_lamp(self.tag[0] + 1)
            b.set_entry_refused(self.tag[3])
            b.link_write(b"tag %d %d %d\n" % (self.tag[0], self.tag[1], self.tag[2]))
        b.set_work_relay(b.beam_count() % 2)
        b.video_beats(self.beats)
        b.set_hot_relay(time.ticks_diff(b.ticks_ms(), self.beats[0]) < 2000)
        if b.read_gas(self.gas):
            b.set_sounder(self.gas[0] >= 10000 or self.gas[2] != 0)

    def command(self, cmd):
        b = self.board
        if cmd == b"!crash":
            raise ValueError("asked to crash")
        if cmd == b"!hang":
            while True:
                pass
        if cmd == b"!wdt":
            self.feed = True
        elif cmd == b"!starve":
            self.feed = False
        elif cmd == b"!time":
            b.link_write(b"time %d %d\n" % (b.ticks_ms(), b.rtc_s()))
        elif cmd.startswith(b"!settime "):
            b.set_rtc_s(int(cmd[9:]))
            b.link_write(b"settime\n")
        elif cmd == b"!flash":
            _flash_check(b.flash)
            b.link_write(b"flash ok\n")
        elif cmd == b"!alloc":
            b.link_write(b"alloc %d\n" % _alloc_check(b))
        elif cmd.startswith(b"!keep "):
            _KEPT.append(bytearray(int(cmd[6:]) * 1024))
            b.link_write(b"kept\n")
        elif cmd.startswith(b"!import "):
            __import__(cmd[8:].decode())
            b.link_write(b"imported\n")
        elif cmd.startswith(b"!churn "):
            # Garbage only: N KB made and dropped in 1 KB pieces within this one step.
            for _ in range(int(cmd[7:])):
                bytearray(1024)
            b.link_write(b"churned\n")
        elif cmd.startswith(b"!queens "):
            # Board time: each run is the calibration benchmark, one published board time.
            for _ in range(int(cmd[8:])):
                _queens(8)
            b.link_write(b"queens\n")
        elif cmd == b"!lost":
            b.link_write(b"lost %d %d\n" % (b.reader_lost(0), b.reader_lost(1)))
        elif cmd.startswith(b"!flashloop "):
            self.flash_bytes = int(cmd[11:])
            b.link_write(b"flashloop\n")
        elif cmd.startswith(b"!appendu "):
            b.flash.append_unsynced("grow", bytes(int(cmd[9:])))
            b.link_write(b"appendu\n")
        else:
            b.link_write(b"unknown " + cmd + b"\n")


def start(board):
    return Echo(board)
"""


@pytest.fixture
def fw_dir(tmp_path):
    d = tmp_path / "fw"
    d.mkdir()
    (d / "echo_boot.py").write_text(ECHO_FIRMWARE)
    return d


@pytest.fixture
def make_board(tmp_path, fw_dir):
    made = []

    def make(name="b1", **kw):
        kw.setdefault("entry", "echo_boot")
        kw.setdefault("profile", "pico")  # the machinery under the strictest board
        kw.setdefault("extra_dir", fw_dir)
        board = VirtualBoard(name, tmp_path / "run", **kw)
        made.append(board)
        return board.start()

    yield make
    for board in made:
        board.stop()


@pytest.fixture
def board(make_board):
    return make_board()


def open_port(board):
    return serial.Serial(board.port, 115200, timeout=2)


def ask(port, command):
    port.reset_input_buffer()
    port.write(command + b"\n")
    line = port.readline()
    assert line.endswith(b"\n"), "no answer to %r, got %r" % (command, line)
    return line.strip()


def board_children():
    # Node processes of ours still alive (zombies count: nobody reaped them).
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat_fields = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if stat_fields[1] == me and b"vboard.mjs" in cmdline:
            found.append(int(entry))
    return found


def test_pty_opens_with_pyserial_and_echoes(board):
    assert os.path.realpath(board.port) == board.pty_path
    with open_port(board) as port:
        for i in range(20):
            data = b"frame %02d \x00\xff\x7e" % i
            port.write(data)
            assert port.read(len(data)) == data


def test_side_channel_reaches_the_firmware_and_outputs_come_back(board):
    assert board.outputs() == SAFE_OUTPUTS
    with open_port(board) as port:
        board.read_tag(OUTER, 4242, rssi=-71)
        assert port.readline() == b"tag 0 4242 -71\n"
        board.wait_outputs(lambda o: o["lamp"] == 1, 5)
        board.read_tag("inner", 4242, battery_low=True)
        board.wait_outputs(lambda o: o["lamp"] == 2 and o["entry_refused"], 5)
        board.cross_out(7)
        assert port.readline() == b"tag 1 4242 -60\n"
        assert port.readline() == b"tag 1 7 -60\n"
        assert port.readline() == b"tag 0 7 -60\n"
        assert port.readline() == b"tag 0 7 -60\n"
    board.beam(3)
    board.wait_outputs(lambda o: o["work_relay"], 5)
    board.beam()
    board.wait_outputs(lambda o: not o["work_relay"], 5)
    board.gas(12000, 5)
    board.wait_outputs(lambda o: o["sounder"], 5)
    board.gas(300, 0, fault=4)
    board.sync()
    assert board.outputs()["sounder"]
    board.gas(300, 0)
    board.wait_outputs(lambda o: not o["sounder"], 5)
    # Heartbeats come by themselves while the camera is on; off, they stop, and the
    # fake firmware's 2 s video timeout runs out at once when the clock is advanced.
    board.video(0, True)
    board.wait_outputs(lambda o: o["hot_relay"], 5)
    board.advance(60)
    board.sync()
    assert board.outputs()["hot_relay"]
    board.video(0, False)
    board.advance(5)
    board.wait_outputs(lambda o: not o["hot_relay"], 5)
    with pytest.raises(ValueError):
        board.read_tag(2, 1)
    with pytest.raises(ValueError):
        board.video(8, True)
    with pytest.raises(ValueError):
        board.advance(-1)


def test_clock_advances_and_rtc_resets_on_power_cut(board):
    with open_port(board) as port:
        _, ticks0, rtc0 = ask(port, b"!time").split()
        assert int(rtc0) == 0
        board.advance(3600)
        _, ticks1, _ = ask(port, b"!time").split()
        assert 3600_000 <= int(ticks1) - int(ticks0) < 3600_000 + 2000
        # Answered, so that the clock is set before it advances: a line written to the
        # pty reaches the board on the line's thread, which sync() does not wait for.
        assert ask(port, b"!settime 1700000000") == b"settime"
        board.advance(90)
        _, _, rtc = ask(port, b"!time").split()
        assert 1700000090 <= int(rtc) <= 1700000092
        board.power_cut()
        board.power_on()
        _, ticks2, rtc2 = ask(port, b"!time").split()
        assert int(rtc2) == 0
        assert int(ticks2) < 3600_000


SLACK_MS = 400


def _ticks(port):
    return int(ask(port, b"!time").split()[1])


def test_the_scripted_clock_moves_by_advances_and_board_time_never_by_the_host(make_board):
    # The HIL bench's clock (hil_tests/hil_bench.py): a host slowed by load must not
    # stretch the mine's time. Slack: a step's own board time (the first steps, cold,
    # about 0.1 s on a Pico, more on a loaded host: CPU time x the calibration factor),
    # which the clock holds until the world has passed it; under the 0.6 s of host time.
    board = make_board(clock="scripted")
    with open_port(board) as port:
        t0 = _ticks(port)
        time.sleep(0.6)  # the host falls behind: no time passes in the mine
        t1 = _ticks(port)
        assert 0 <= t1 - t0 < SLACK_MS, (t0, t1)
        board.advance(3600)
        t2 = _ticks(port)
        assert abs(t2 - t1 - 3600_000) < SLACK_MS, (t1, t2)
        # The board's own work takes its board time: one calibration run is the
        # benchmark's published 2.3 s on an RP2040.
        assert ask(port, b"!queens 1") == b"queens"
        t3 = _ticks(port)
        assert 1500 < t3 - t2 < 4900, (t2, t3)
        # The world is still behind the board: its clock holds, it never runs back.
        board.advance(1)
        t4 = _ticks(port)
        assert t3 <= t4 < t3 + SLACK_MS, (t3, t4)
        # Past the board, the world's time is the clock again.
        board.advance(9)
        t5 = _ticks(port)
        assert abs(t5 - t2 - 10_000) < SLACK_MS, (t2, t5)
        assert ask(port, b"!settime 1700000000") == b"settime"
        board.advance(90)
        _, _, rtc = ask(port, b"!time").split()
        assert 1700000089 <= int(rtc) <= 1700000090, rtc
    assert board.status()["clock"] == "scripted"


def test_the_real_clock_counts_the_hosts_time(board):
    # Not firing: the default clock (a board beside a real one, the demo) is the host's.
    with open_port(board) as port:
        t0 = _ticks(port)
        time.sleep(0.6)
        assert _ticks(port) - t0 >= 600
    assert board.status()["clock"] == "real"


def test_a_clock_that_is_neither_is_refused(tmp_path):
    with pytest.raises(ValueError, match="clock must be one of real, scripted"):
        VirtualBoard("b1", tmp_path, clock="wall")


def test_ticks_wrap_like_micropython_and_beats_follow(make_board):
    # Started 1 s before the 2**30 ms wrap: heartbeats and the firmware's ticks_diff must
    # carry on across it.
    board = make_board(ticks_origin_ms=(1 << 30) - 1000)
    board.video(0, True)
    board.wait_outputs(lambda o: o["hot_relay"], 5)
    with open_port(board) as port:
        board.advance(2)
        _, ticks, _ = ask(port, b"!time").split()
        assert 1000 <= int(ticks) < 4000
        board.sync()
        assert board.outputs()["hot_relay"]
        board.video(0, False)
        board.advance(5)
        board.wait_outputs(lambda o: not o["hot_relay"], 5)


# A firmware that, like gateway/app.py with a zone's count, finishes reacting to an input
# one step after it read it: it says when it read the gas sample and when it reacted.
TWO_STEP_FIRMWARE = r"""
class TwoStep:
    def __init__(self, board):
        self.board = board
        self.gas = [0, 0, 0]
        self.read_at = None

    def step(self):
        b = self.board
        b.feed_watchdog()
        if self.read_at is not None:
            b.link_write(b"read %d reacted %d\n" % (self.read_at, b.ticks_ms()))
            self.read_at = None
        if b.read_gas(self.gas):
            self.read_at = b.ticks_ms()


def start(board):
    return TwoStep(board)
"""


def test_a_sync_of_two_steps_has_both_at_the_clock_it_found(make_board, fw_dir):
    # The HIL bench syncs for two steps (hil_tests/hil_boards.py SETTLE_STEPS) and then
    # moves the clock at once. Steps 200 ms apart: a host answering a one-step sync is
    # always back with its advance before the second step, which would then react 30 s
    # late; a two-step sync must not return until that step has run.
    (fw_dir / "two_step_boot.py").write_text(TWO_STEP_FIRMWARE)
    board = make_board(entry="two_step_boot", step_interval_ms=200, gas_sample_ms=60000)
    with open_port(board) as port:
        for _ in range(3):
            board.gas(20000, 0)  # sampled at the next step (the sample is due at once)
            board.sync(steps=2)
            board.advance(30)
            words = port.readline().split()
            assert words[:1] == [b"read"], words
            read_ms, reacted_ms = int(words[1]), int(words[3])
            # Only real time between the two steps (200 ms a step, more on a busy host).
            assert 0 <= reacted_ms - read_ms < 30000, words


def test_power_cut_kills_at_once_and_power_on_restores_flash(board):
    with open_port(board) as port:
        board.video(0, True)
        board.read_tag(INNER, 9)
        board.wait_outputs(lambda o: o["hot_relay"] and o["lamp"] == 2, 5)
        assert port.readline() == b"tag 1 9 -60\n"
        pid = board.pid
        board.power_cut()
        # SIGKILL and reaped: the process is gone when power_cut returns.
        assert not Path("/proc/%d" % pid).exists()
        assert board.outputs() == SAFE_OUTPUTS and not board.powered
        assert board.read_tag(OUTER, 9) is False  # the reader has no power either
        assert (board.flash_dir / "boots.log").read_bytes() == b"boot\n"
        board.power_on()
        assert board.pid != pid
        assert (board.flash_dir / "boots.log").read_bytes() == b"boot\nboot\n"
        # The camera stayed on through the cut; the pty, and the host's open port, survive.
        board.wait_outputs(lambda o: o["hot_relay"], 5)
        port.write(b"after the cut")
        assert port.read(13) == b"after the cut"
    history = [o for _, o in board.output_history()]
    assert SAFE_OUTPUTS in history[1:]


def test_flash_bridge_semantics_under_micropython(board):
    with open_port(board) as port:
        assert ask(port, b"!flash") == b"flash ok", board.crashed
    assert sorted(os.listdir(board.flash_dir)) == ["boots.log"]


def test_board_calls_allocate_nothing_per_step(board):
    board.read_tag(OUTER, 5)
    board.gas(100, 1)
    board.video(0, True)
    with open_port(board) as port:
        assert port.readline() == b"tag 0 5 -60\n"
        assert ask(port, b"!alloc") == b"alloc 0"


def test_provisioned_key_and_config_are_on_flash_before_boot(tmp_path, make_board):
    key = bytes(range(32))
    board = make_board(config={"gateway_id": "gw-7", "cameras": 2}, key=key)
    assert (board.flash_dir / "gateway.key").read_bytes() == key
    assert (board.flash_dir / "config.cbor").read_bytes() == (b"\xa2gcameras\x02jgateway_iddgw-7")
    with pytest.raises(BoardError):
        board.provision(key=key)  # not while powered
    board.power_cut()
    with pytest.raises(ValueError):
        board.provision(key=b"short")


def test_unplug_stops_bytes_both_ways_and_replug_resumes(board):
    with open_port(board) as port:
        board.unplug()
        port.write(b"lost on the way in")
        board.read_tag(OUTER, 11)  # the firmware answers "tag ..." into a dead cable
        board.sync()
        port.timeout = 0.3
        assert port.read(100) == b""
        # Dropped by the line's thread when it reads them: sync() does not wait for it.
        deadline = time.monotonic() + 5
        while board.host_bytes_dropped < 18 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert board.host_bytes_dropped == 18
        board.replug()
        port.timeout = 2
        port.write(b"back")
        assert port.read(4) == b"back"


def test_unplug_with_reenumeration_removes_the_device(board):
    port = open_port(board)
    first = board.pty_path
    board.unplug(reenumerate=True)
    assert not os.path.exists(board.port)
    with pytest.raises(serial.SerialException):
        port.read(1)
        port.write(b"x")
        port.read(1)
    port.close()
    board.replug()
    assert board.pty_path is not None and os.path.realpath(board.port) == board.pty_path
    assert first  # the old slave is gone; the symlink leads to the new one
    with open_port(board) as port:
        port.write(b"again")
        assert port.read(5) == b"again"


def test_garbage_arrives_on_the_line(board):
    with open_port(board) as port:
        board.inject_garbage(b"\x00\xfe\x13noise", toward="host")
        assert port.read(8) == b"\x00\xfe\x13noise"
        board.inject_garbage(b"\xaa\x55\x00junk", toward="board")
        assert port.read(7) == b"\xaa\x55\x00junk"  # the echo firmware returns it
    with pytest.raises(ValueError):
        board.inject_garbage(b"x", toward="nowhere")


def test_firmware_exception_surfaces_as_a_crash_with_traceback(board):
    board.read_tag(OUTER, 3)
    board.beam()
    board.wait_outputs(lambda o: o["lamp"] == 1 and o["work_relay"], 5)
    with open_port(board) as port:
        port.write(b"!crash\n")
        with pytest.raises(BoardCrashed) as info:
            board.wait_outputs(lambda o: o["lamp"] == 3, 5)
    assert "ValueError: asked to crash" in info.value.traceback
    assert 'echo_boot.py", line' in info.value.traceback
    assert "asked to crash" in board.crashed and not board.running
    assert "asked to crash" in board.log_path.read_text()
    # As firmware/main.py does on the way out: a dead loop leaves nothing energised.
    assert board.outputs() == SAFE_OUTPUTS
    with pytest.raises(BoardCrashed):
        board.sync()
    board.power_on()  # the reset button brings it back
    assert board.running and board.crashed is None


def test_wait_timeout_says_what_was_observed(board):
    with pytest.raises(BoardTimeout) as info:
        board.wait_outputs(lambda o: o["lamp"] == 3, 0.3)
    assert info.value.observed["outputs"] == SAFE_OUTPUTS
    assert info.value.log_path == board.log_path
    assert str(board.log_path) in str(info.value)


# Waits below are bounded by HANG_GUARD_S only so that a broken board cannot hang the
# suite: what is asserted is counted in the board's own time (steps, board ms), which a
# loaded machine slows down but never changes (issue 14).
HANG_GUARD_S = 120


def report(board):
    """The board's next report, sent after everything done so far (one every 0.2 s)."""
    steps = board.status().get("steps") or 0
    return board.wait_status(lambda s: "board_ms" in s and s["steps"] > steps, HANG_GUARD_S)


def test_watchdog_resets_a_hung_or_starving_firmware(make_board):
    # 1.5 s: short enough to starve quickly, long enough that the first steps after a
    # power-on (cold code compiled as it first runs, a flash append) never reach it.
    board = make_board(watchdog_ms=1500)
    assert board.profile["board_time"], "this test is about the board-time watchdog"
    with open_port(board) as port:
        port.write(b"!wdt\n")
        board.sync(HANG_GUARD_S)
        start = report(board)
        # Fed every step: three timeouts of board time pass without a reset.
        board.wait_status(lambda s: s.get("board_ms", 0) > start["board_ms"] + 4500, HANG_GUARD_S)
        assert board.watchdog_resets == 0
        port.write(b"!hang\n")  # step() never returns: the board's watchdog thread bites
        board.wait_status(lambda s: s["watchdog_resets"] >= 1 and s["running"], HANG_GUARD_S)
        assert "without returning" in board.watchdog_events[0], board.watchdog_events
        port.write(b"!wdt\n")
        board.sync(HANG_GUARD_S)
        port.write(b"!starve\n")  # steps go on, feeding stops: the board's own check fires
        board.wait_status(lambda s: s["watchdog_resets"] >= 2 and s["running"], HANG_GUARD_S)
    said = board.watchdog_events[1]
    assert "not fed for" in said, board.watchdog_events
    unfed = int(said.split("not fed for ")[1].split(" board ms")[0])
    # It bites at the first step boundary past the timeout: one idle step later at most.
    assert 1500 <= unfed < 1500 + 100, said
    assert (board.flash_dir / "boots.log").read_bytes() == b"boot\n" * 3
    assert board.crashed is None


def test_a_step_past_the_watchdog_in_board_time_resets_the_board(make_board):
    # 5 s, as hal.mcu arms it. One calibration run costs the published board time of the
    # benchmark (2.3 s on an RP2040): one is a long step the watchdog allows, three are a
    # step of ~6.9 s, which no RP2040 survives.
    board = make_board()
    assert board.status()["watchdog_resets"] == 0
    with open_port(board) as port:
        assert ask(port, b"!queens 1") == b"queens"
        assert board.watchdog_resets == 0
        assert 2000 < report(board)["max_call_board_ms"] < 4900
        port.write(b"!queens 3\n")
        board.wait_status(lambda s: s["watchdog_resets"] >= 1 and s["running"], HANG_GUARD_S)
    said = board.watchdog_events[0]
    assert "(timeout 5000 ms, pico profile)" in said, said
    assert (board.flash_dir / "boots.log").read_bytes() == b"boot\n" * 2


def test_a_module_that_keeps_250_kb_dies_with_a_memory_error(make_board):
    board = make_board()
    with open_port(board) as port:
        assert ask(port, b"!keep 20") == b"kept"  # 20 KB more fits a Pico's heap
        board.sync()
        assert board.running
        port.write(b"!keep 250\n")
        with pytest.raises(BoardCrashed) as info:
            board.wait_outputs(lambda o: False, HANG_GUARD_S)
    text = info.value.traceback
    assert "MemoryError (pico profile, 192 KB heap)" in text, text
    assert "during step " in text, text
    assert board.outputs() == SAFE_OUTPUTS


def test_a_step_that_churns_past_the_heap_inside_one_call_dies_with_a_memory_error(make_board):
    # 300 KB made and dropped within one step, nothing of it kept: read after the step
    # returned (this port's collection has freed the areas the step added) the heap looks
    # as it was, so only the reading inside the call sees it. A board's collector might
    # have reclaimed some of it; the check counts all of it, stricter, never looser.
    board = make_board()
    with open_port(board) as port:
        port.write(b"!churn 300\n")
        with pytest.raises(BoardCrashed) as info:
            board.wait_outputs(lambda o: False, HANG_GUARD_S)
    text = info.value.traceback
    assert "MemoryError (pico profile, 192 KB heap)" in text, text
    assert "garbage included" in text and "during step " in text, text
    # What stayed live when it returned is well inside the board's heap: the old reading,
    # after the return, let this step pass.
    kept = int(text.split("; ")[1].split(" bytes in use")[0])
    limit = int(text.split("over the board's ")[1].split(",")[0])
    assert kept < limit - 100 * 1024, text
    assert board.outputs() == SAFE_OUTPUTS


def test_garbage_inside_the_heap_is_counted_and_passes(make_board):
    # 20 KB of garbage in one step fits beside what the board keeps: no MemoryError, and
    # the board reports what the step needed, its garbage included.
    board = make_board()
    with open_port(board) as port:
        board.mark("churn")
        assert ask(port, b"!churn 20") == b"churned"
        board.sync()
        s = report(board)
    assert board.running and board.crashed is None
    heap = s["heap"]
    assert heap["needed_peak"] <= heap["limit"]
    assert s["window"]["heap_needed_peak"] >= s["window"]["heap_used_peak"] + 20 * 1024, s


def test_the_board_is_charged_the_heap_of_the_picos_own_hal(make_board):
    # A Pico holds hal.pico, hal.mcu, their parts and hal.flashfs beside the firmware
    # (measured per image under the same interpreter); the virtual board holds its harness
    # and hal.virtual instead, which take less: the difference is charged at boot.
    board = make_board()
    cost = board.boot_report["hal_cost"]
    assert cost["board"] >= 10 * 1024, cost  # the real modules, measured, not a guess
    assert cost["own"] == cost["harness"] + cost["hal_virtual"] + cost["board_object"], cost
    assert 0 < cost["own"] <= cost["board"], cost
    assert cost["charged"] == cost["board"] - cost["own"], cost
    phases = dict((name, used) for name, _, used in board.boot_report["boot_phases"])
    charge = "boot: the board's HAL beyond hal.virtual (%d bytes)" % cost["charged"]
    # From the charge on, the heap holds at least what the Pico's HAL would.
    assert phases[charge] >= cost["board"], phases
    # Held for the board's life: 20 KB less than the heap's free room still fits; 20 KB
    # and half the charge more does not.
    s = report(board)
    free_kb = (s["heap"]["limit"] - s["heap"]["used_last"]) // 1024
    with open_port(board) as port:
        assert ask(port, b"!keep %d" % (free_kb - 20)) == b"kept"
        board.sync()
        port.write(b"!keep %d\n" % (20 + cost["charged"] // 2048))
        with pytest.raises(BoardCrashed) as info:
            board.wait_outputs(lambda o: False, HANG_GUARD_S)
    assert "MemoryError (pico profile" in info.value.traceback


def test_a_frozen_board_does_not_count_the_bytecode_a_step_imports(make_board):
    # esp32-frozen: a module imported by a step (a command's on-use code) is bytecode in
    # the image's flash, as the boot's modules are: its .mpy is off the heap's count once
    # the step has imported it. A step that imports nothing leaves the count as it was.
    board = make_board(profile="esp32-frozen")
    code = report(board)["heap"]["code_bytes"]
    assert code > 0
    with open_port(board) as port:
        assert ask(port, b"!keep 4") == b"kept"
        board.sync()
        assert report(board)["heap"]["code_bytes"] == code
        assert ask(port, b"!import gateway.config") == b"imported"
        board.sync()
    image = firmware_image("esp32")
    size = (image / "gateway" / "config.mpy").stat().st_size
    # gateway.config and what it imports in turn
    assert code + size <= report(board)["heap"]["code_bytes"] < code + size + 2048


def test_a_board_without_a_heap_limit_is_charged_nothing(make_board):
    board = make_board(profile="loose")
    cost = board.boot_report["hal_cost"]
    assert cost["charged"] == 0 and cost["board"] == 0, cost
    assert not any("beyond hal.virtual" in p[0] for p in board.boot_report["boot_phases"])


def test_the_heap_limit_is_the_profiles(make_board):
    # The same 250 KB is nothing to a board without a fixed heap (the loose profile).
    board = make_board(profile="loose")
    with open_port(board) as port:
        assert ask(port, b"!keep 250") == b"kept"
        board.sync()
    assert board.running and board.crashed is None


def _tags_through_flash_work(board, burst=10):
    # Ten reader lines, then the same ten while every step writes 8 KB to flash (~115 ms
    # of erasing and programming), then one line alone: what the board reads, and its
    # reports after each part.
    seen = []
    with open_port(board) as port:
        for i in range(10):
            board.read_tag(OUTER, 500 + i)
        board.sync(HANG_GUARD_S)
        for _ in range(10):
            seen.append(port.readline())
        quiet = report(board)
        assert ask(port, b"!flashloop 8192") == b"flashloop"
        board.sync(HANG_GUARD_S)
        before = board.wait_status(lambda s: s.get("flash", {}).get("erases", 0) > 0, HANG_GUARD_S)
        # A burst, in one write: one read_tag() after another could each land between
        # other steps, alone in the FIFO (seen under load: none lost).
        board.read_tags([(OUTER, 600 + i) for i in range(burst)])
        board.sync(HANG_GUARD_S)
        status = board.wait_status(lambda s: s["steps"] > before["steps"] + 2, HANG_GUARD_S)
        # One line alone is 22 bytes: the FIFO holds it through any stall.
        board.read_tag(OUTER, 700)
        board.sync(HANG_GUARD_S)
        alone = report(board)
        arrived = [port.readline()]
        while arrived[-1] not in (b"tag 0 700 -60\n", b""):  # b"": nothing for 2 s
            arrived.append(port.readline())
    assert quiet["tags_lost"] == 0  # no flash work: every line arrives
    assert arrived[-1] == b"tag 0 700 -60\n", arrived
    assert alone["tags_lost"] == status["tags_lost"], alone
    # R-DATA-1: the board's HAL learns of every line the model lost, on its reader (outer),
    # as a Pico's counts a torn line or a ring overrun (hal.virtual reader_lost).
    with open_port(board) as port:
        assert ask(port, b"!lost") == b"lost %d 0" % alone["tags_lost"]
    return status["tags_lost"], arrived[:-1]


def test_a_flash_write_while_a_reader_line_arrives_loses_its_bytes(make_board):
    # The Pico receiving its readers as the port's UART driver does (interrupts): every
    # step spends ~115 ms erasing and programming with interrupts off, and beyond the
    # UART's 32-byte FIFO the reader's bytes are gone.
    board = make_board(profile=profiles.variant("pico", reader_rx="uart"))
    lost, arrived = _tags_through_flash_work(board)
    assert 3 <= lost <= 10, arrived
    assert len(arrived) == 10 - lost


def test_an_unsynced_append_is_charged_an_erase_for_each_fresh_block_it_grows_into(board):
    # littlefs erases a block when a file grows into it, synced or not: a roster slot
    # written in unsynced parts (gateway/rosterload.py) is charged those erases in board time.
    def erases_of(command):
        with open_port(board) as port:
            before = report(board)["flash"]["erases"]
            assert ask(port, command) == b"appendu"
            board.sync(HANG_GUARD_S)
            return report(board)["flash"]["erases"] - before

    sector = board.profile["flash"]["sector_bytes"]
    assert erases_of(b"!appendu %d" % sector) == 1  # a new file's first block
    assert erases_of(b"!appendu 100") == 1  # past the first block's end
    assert erases_of(b"!appendu 100") == 0  # within the block it grew into
    assert erases_of(b"!appendu %d" % (2 * sector)) == 2


def test_the_picos_dma_receive_keeps_reader_bytes_through_flash_work(make_board):
    # hal/pico.py receives by DMA into a 512-byte ring (hal/dmaring.py): the same burst
    # through the same flash work arrives whole and in order (issue 9 item 6).
    board = make_board(profile="pico")
    assert board.profile["reader_rx"] == "dma"
    lost, arrived = _tags_through_flash_work(board)
    assert lost == 0
    assert arrived == [b"tag 0 %d -60\n" % (600 + i) for i in range(10)]


def test_a_burst_past_the_dma_ring_between_two_polls_is_lost(make_board):
    # The ring's bound bites too: 40 lines back to back (~880 bytes) arrive while a step
    # erases and programs for ~115 ms, more than the 512 bytes the ring holds unread.
    board = make_board(profile="pico")
    lost, arrived = _tags_through_flash_work(board, burst=40)
    assert lost > 0
    assert len(arrived) == 40 - lost


def test_a_broken_entry_module_fails_power_on_clearly(make_board, fw_dir):
    (fw_dir / "broken_boot.py").write_text("import no_such_module\n")
    with pytest.raises(BoardCrashed) as info:
        make_board("b2", entry="broken_boot")
    assert "no_such_module" in info.value.traceback


def test_stop_leaves_no_process_or_thread(make_board):
    threads_before = set(threading.enumerate())
    boards = [make_board("leak%d" % i) for i in range(2)]
    pids = [b.pid for b in boards]
    boards[0].power_cut()
    boards[0].power_on()
    pids.append(boards[0].pid)
    assert set(board_children()) == {p for p in pids[1:]}
    for b in boards:
        b.stop()
        b.stop()  # idempotent
    assert board_children() == []
    assert not any(Path("/proc/%d" % p).exists() for p in pids)
    leftover = [t for t in threading.enumerate() if t not in threads_before]
    assert leftover == []
    assert not os.path.exists(boards[1].port)


def test_sim_command_runs_boards_with_side_channels(tmp_path, fw_dir):
    cmd = [
        sys.executable,
        "-m",
        "shaftgate.sim",
        "2",
        "--home",
        str(tmp_path / "run"),
        "--entry",
        "echo_boot",
        "--extra-dir",
        str(fw_dir),
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        doc = json.loads(proc.stdout.readline())
        shaft, face = doc["boards"]
        assert (shaft["gateway_id"], face["gateway_id"]) == ("gw-shaft", "gw-face1")
        key_file = Path(shaft["key"])
        assert key_file == tmp_path / "run" / "keys" / "gw-shaft.key"
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        assert (Path(shaft["flash"]) / "gateway.key").read_bytes() == key_file.read_bytes()
        with open(doc["gateways_toml"], "rb") as f:
            sites = tomllib.load(f)["gateways"]
        assert sites == {"gw-shaft": shaft["port"], "gw-face1": face["port"]}
        with RemoteBoard(face["side"]) as remote, serial.Serial(face["port"], timeout=2) as port:
            remote.cross_in(77)
            remote.wait_outputs(lambda o: o["lamp"] == 2, 5)
            assert port.readline() == b"tag 0 77 -60\n"
            with pytest.raises(ValueError):
                remote.read_tag(5, 1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not os.path.exists(shaft["side"])
    assert not any(Path("/proc/%d" % b["pid"]).exists() for b in doc["boards"])
