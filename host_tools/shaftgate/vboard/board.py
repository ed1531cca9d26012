"""The supervisor of one virtual gateway board.

The board is a Node process (vboard.mjs) running the deployed firmware files under the
real MicroPython interpreter. This class owns what outlives a power cut: the serial line
(line.py), the board's flash (``flash_dir``, real files the board fsyncs, so a SIGKILL at
any instant loses nothing the firmware was told was written) and the world around the
board (cameras on or off, the gas reading, the clock offset).

The board is held to a board profile (profiles.py, docs/hardware.md "Board profiles"):
a fixed GC heap read inside every call into the firmware just before it returns (garbage
included) with the heap of the board's own HAL charged, the .mpy files deploy ships,
the watchdog armed by Board() and judged in estimated board time, flash stalls that cost
reader bytes. A board that breaks its profile dies as the real one would: a MemoryError
is a crash (``BoardCrashed``, its text says during which step or boot phase), a step past
the watchdog is a watchdog reset (``watchdog_events`` says how many board ms went unfed).

Peripherals are driven and observed only through this Python API (the side channel),
never through the gatewire link. Clock (``clock``): "real", the board's ticks_ms and RTC
run from the host clock plus whatever ``advance()`` added (a board beside a real one, the
demo, tests that wait in real time); "scripted", they move only by ``advance()`` and the
board's own estimated board time (vboard.mjs ``nowMs``), so time the host spends between
two stimuli, however loaded it is, is no time in the mine (the HIL bench's virtual
boards). The RTC has no battery, so it reads 0 (unset) after every power-on until the
firmware's time-set sets it again.
"""

import atexit
import collections
import contextlib
import json
import math
import os
import queue
import shutil
import subprocess
import threading
import time
import weakref
from pathlib import Path

from gatewire import cbor
from shaftgate.vboard import profiles
from shaftgate.vboard.image import board_hal_cost, firmware_image
from shaftgate.vboard.line import SerialLine

DEFAULT_ENTRY = "gateway.boot"
CLOCKS = ("real", "scripted")
KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
KEY_LEN = 32
OUTER = 0
INNER = 1
MAX_CAMERAS = 8
OUTPUT_NAMES = ("lamp", "sounder", "work_relay", "hot_relay", "entry_refused")
# De-energised: what a board without power (or not yet driving them) presents. The entry
# output is wired as "entry permitted", so a dead board reads as entry refused.
SAFE_OUTPUTS = {
    "lamp": 0,
    "sounder": False,
    "work_relay": False,
    "hot_relay": False,
    "entry_refused": True,
}

_REPO = Path(__file__).resolve().parents[3]
_VBOARD_MJS = Path(__file__).resolve().with_name("vboard.mjs")
_RUNTIME = "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
_EXIT_SETUP = 2
_EXIT_CRASH = 3
_EXIT_WATCHDOG = 4
_I32_MAX = 0x7FFFFFFF
_HISTORY = 10000
# Board time is the process's CPU time (vboard.mjs): no V8 background threads, and the
# WebAssembly compiled when loaded rather than inside the first call that runs a function.
_NODE_FLAGS = ("--single-threaded", "--no-wasm-lazy-compilation")
_LOG_TAIL_LINES = 30

_live_boards = weakref.WeakSet()


@atexit.register
def _stop_all():
    # A test run that dies on an exception must not leave Node processes behind.
    for board in list(_live_boards):
        board.stop()


class BoardError(Exception):
    """A virtual board could not do what was asked (not running, bad setup, ...)."""


class BoardCrashed(BoardError):
    """The firmware raised (or the board's runtime failed): ``traceback`` says where."""

    def __init__(self, name, traceback, log_path):
        super().__init__("board %s crashed (log: %s):\n%s" % (name, log_path, traceback))
        self.traceback = traceback
        self.log_path = log_path


class BoardTimeout(BoardError):
    """What was waited for did not happen in time; ``observed`` is what was seen last."""

    def __init__(self, text, observed, log_path):
        super().__init__("%s; last observed %s (log: %s)" % (text, observed, log_path))
        self.observed = observed
        self.log_path = log_path


def _check_int(what, value, lo, hi):
    if type(value) is not int or not lo <= value <= hi:
        raise ValueError("%s must be an integer in %d..%d, got %r" % (what, lo, hi, value))
    return value


class VirtualBoard:
    def __init__(
        self,
        name,
        workdir,
        config=None,
        key=None,
        *,
        entry=DEFAULT_ENTRY,
        extra_dir=None,
        cameras=MAX_CAMERAS,
        camera_beat_ms=500,
        gas_sample_ms=1000,
        step_interval_ms=2,
        watchdog_ms=None,
        ticks_origin_ms=0,
        profile=None,
        watchdog_bites=True,
        clock="real",
        node=None,
        repo=None,
    ):
        if clock not in CLOCKS:
            raise ValueError("clock must be one of %s, got %r" % (", ".join(CLOCKS), clock))
        self.clock = clock
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise ValueError("board name must be a plain folder name, got %r" % (name,))
        self.name = name
        self.dir = Path(workdir).resolve() / name
        self.flash_dir = self.dir / "flash"
        self.log_path = self.dir / "board.log"
        self._link_path = self.dir / "tty"
        self.repo = Path(repo).resolve() if repo else _REPO
        self.cameras = _check_int("cameras", cameras, 0, MAX_CAMERAS)
        node = node or shutil.which("node")
        if not node:
            raise BoardError("Node.js is not on PATH: the virtual board runs under it")
        self._node = str(node)
        for need in (_VBOARD_MJS, self.repo / "firmware", self.repo / "protocol" / "gatewire"):
            if not need.exists():
                raise BoardError("virtual board: %s is missing" % need)
        if not (self.repo / _RUNTIME).exists():
            raise BoardError("the MicroPython runtime is not installed (run ./dev setup)")
        self.profile = profiles.resolve(profile)
        if watchdog_ms is None:
            # What Board() arms when the firmware names no timeout: hal.mcu's 5 s (the
            # loose profile keeps the old 8 s, armed at the first feed).
            watchdog_ms = 5000 if self.profile["board_time"] else 8000
        lo, hi = self.profile["watchdog_min_ms"], self.profile["watchdog_max_ms"]
        _check_int("watchdog_ms (%s profile)" % self.profile["name"], watchdog_ms, lo, hi)

        try:
            image = firmware_image(self.profile["deploy_board"], self.repo)
        except Exception as e:
            # Imported here: shaftgate.cli imports the simulator, which imports this package.
            from shaftgate.cli.deploy import DeployError

            if not isinstance(e, DeployError):
                raise
            raise BoardError("virtual board: cannot build the firmware image: %s" % e) from e
        try:
            hal_cost = board_hal_cost(
                image, self.profile.get("board_hal") or (), self.repo, node=self._node
            )
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            raise BoardError("virtual board: %s" % e) from e
        self._settings = {
            "repo": str(self.repo),
            "flash_dir": str(self.flash_dir),
            "entry": entry,
            "extra_dir": str(Path(extra_dir).resolve()) if extra_dir else None,
            "cameras": self.cameras,
            "camera_beat_ms": _check_int("camera_beat_ms", camera_beat_ms, 10, 60000),
            "gas_sample_ms": _check_int("gas_sample_ms", gas_sample_ms, 10, 60000),
            "step_interval_ms": _check_int("step_interval_ms", step_interval_ms, 0, 1000),
            "watchdog_ms": watchdog_ms,
            "ticks_origin_ms": _check_int("ticks_origin_ms", ticks_origin_ms, 0, 0x3FFFFFFF),
            # False only for a bench that measures a firmware past its watchdog: the
            # longest unfed stretch is reported (status unfed_max_board_ms), no reset.
            "watchdog_bites": bool(watchdog_bites),
            "clock": clock,
            "image_dir": str(image),
            "profile": self.profile,
            # The heap the board's own HAL modules take beside the firmware: charged at boot
            # as far as hal/virtual.py and the harness take less (vboard.mjs).
            "board_hal_bytes": hal_cost["bytes"],
            "board_hal_modules": hal_cost["modules"],
            # The bytecode a frozen image keeps in flash: every .mpy the virtual board can
            # import (hal/mcu.mpy needs `machine`, which only a real board has).
            "frozen_code_bytes": sum(
                p.stat().st_size for p in image.rglob("*.mpy") if p.name != "mcu.mpy"
            ),
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        self.flash_dir.mkdir(exist_ok=True)
        # Append mode: the board process writes to the same file, each write at its end.
        self.log_path.write_text("")
        self._log = open(self.log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        self._log_lock = threading.Lock()

        self._lock = threading.RLock()
        self._cv = threading.Condition(self._lock)
        self._proc = None
        self._outbox = None  # the running process's writer queue
        self._ready = False
        self._powered = False
        self._stopping = False
        self._started = False
        self.crashed = None
        self._crash_report = None
        self.watchdog_resets = 0
        self.watchdog_events = []  # the board's own words for each watchdog reset
        self.boot_report = None  # the last boot: phases, board ms, heap (see power_on)
        self._watchdog_said = None
        self._armed = False
        self._reset_due = None
        self._outputs = dict(SAFE_OUTPUTS)
        self._out_seq = 0
        self._history = collections.deque(maxlen=_HISTORY)
        self._status = {}
        self._steps_per_s = None
        self._last_alive = None
        self._sync_next = 0
        self._synced = set()
        self._video = [False] * self.cameras
        self._gas = None
        self._advanced_ms = 0
        self._made_s = time.time()
        self._line = None
        self._monitor_thread = None
        self._threads = []
        if config is not None or key is not None:
            self.provision(config=config, key=key)
        _live_boards.add(self)

    # ---- life cycle ----

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout_s=10.0):
        """Create the serial line, then power the board on; returns self once booted."""
        with self._lock:
            if self._stopping:
                raise BoardError("board %s was stopped; make a new VirtualBoard" % self.name)
            if self._started:
                return self
            self._started = True
            self._line = SerialLine(self._link_path, self._from_host, self._note)
            self._monitor_thread = threading.Thread(
                target=self._monitor, name="vboard-%s-monitor" % self.name, daemon=True
            )
            self._monitor_thread.start()
        self.power_on(timeout_s)
        return self

    def stop(self):
        """Power off for good and release everything: process, threads, pty, symlink."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._kill("supervisor stopped")
            self._cv.notify_all()
        for t in [self._monitor_thread, *self._threads]:
            if t is not None:
                t.join(5)
        if self._line is not None:
            self._line.close()
        self._note("stopped")
        with self._log_lock:
            self._log.close()
        _live_boards.discard(self)

    def power_on(self, timeout_s=10.0):
        """Switch the supply on and wait for the firmware's start() to return. On a board
        that is powered but halted (crashed), this restarts it, like its reset button."""
        with self._lock:
            if not self._started or self._stopping:
                raise BoardError("board %s is not started (call start())" % self.name)
            if self._proc is not None:
                raise BoardError("board %s is already powered and running" % self.name)
            self.crashed = None
            self._reset_due = None
            self._set_outputs(dict(SAFE_OUTPUTS))
            self._spawn("power on")
            self._powered = True
            proc = self._proc
            deadline = time.monotonic() + timeout_s
            while not self._ready:
                self._wait_turn(
                    deadline,
                    proc,
                    "while booting",
                    "board %s did not boot within %.1f s" % (self.name, timeout_s),
                    self._log_tail,
                )
        return self

    def power_cut(self):
        """Kill the board at this instant (SIGKILL, no cleanup); outputs de-energise."""
        with self._lock:
            if not self._powered:
                return
            self._powered = False
            self._reset_due = None
            self._kill("power cut")
            self._set_outputs(dict(SAFE_OUTPUTS))

    @property
    def powered(self):
        return self._powered

    def reset(self, timeout_s=10.0):
        """Press the reset button: the firmware restarts, the supply (and flash) stay."""
        with self._lock:
            self._kill("reset")
            self._set_outputs(dict(SAFE_OUTPUTS))
        return self.power_on(timeout_s)

    @property
    def running(self):
        """Booted and stepping (``crashed`` keeps the last crash even after a reboot)."""
        with self._lock:
            return self._proc is not None and self._ready

    @property
    def pid(self):
        proc = self._proc
        return proc.pid if proc is not None else None

    # ---- provisioning ----

    def provision(self, config=None, key=None):
        """Write gateway.key and/or config.cbor into the flash folder (board powered off),
        the same files deploy writes onto a real board."""
        with self._lock:
            if self._powered:
                raise BoardError("provision board %s while it is powered off" % self.name)
        if key is not None:
            if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
                raise ValueError("gateway key must be %d raw bytes" % KEY_LEN)
            self._write_flash_file(KEY_FILE, bytes(key), 0o600)
        if config is not None:
            if not isinstance(config, dict):
                raise ValueError("config must be a map of settings (dict)")
            self._write_flash_file(CONFIG_FILE, cbor.dumps(config), 0o644)

    def _write_flash_file(self, name, data, mode):
        temp = self.flash_dir / (name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.flash_dir / name)
        dfd = os.open(self.flash_dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def wipe_flash(self):
        """Erase the board's flash folder (board powered off)."""
        with self._lock:
            if self._powered:
                raise BoardError("wipe board %s while it is powered off" % self.name)
            shutil.rmtree(self.flash_dir)
            self.flash_dir.mkdir()

    # ---- the host-facing line ----

    @property
    def port(self):
        """The serial device a host opens (a stable symlink to the current pty slave)."""
        return str(self._link_path)

    @property
    def pty_path(self):
        """The pty slave itself (/dev/pts/N), or None while unplugged with re-enumeration."""
        return self._line.pty_path if self._line is not None else None

    @property
    def plugged(self):
        return self._line is not None and self._line.plugged

    @property
    def host_bytes_dropped(self):
        """Bytes the host wrote that never reached the board (unplugged, board off)."""
        return self._line.host_bytes_dropped if self._line is not None else 0

    @property
    def board_bytes_dropped(self):
        """Bytes the board sent that never reached the host (unplugged, host not reading)."""
        return self._line.board_bytes_dropped if self._line is not None else 0

    def unplug(self, reenumerate=False):
        """Pull the cable: bytes stop in both directions. With reenumerate=True the serial
        device disappears too, as USB-CDC does (see line.py)."""
        self._require_line().unplug(reenumerate)
        self._note("unplugged%s" % (" (device removed)" if reenumerate else ""))

    def replug(self):
        self._require_line().replug()
        self._note("replugged")

    def inject_garbage(self, data, toward="board"):
        """Put raw bytes on the line: toward="board" into the firmware's link input (as
        noise on its receive wire), "host" into what the host reads from the port."""
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise ValueError("garbage must be non-empty bytes")
        if toward not in ("board", "host"):
            raise ValueError("toward must be 'board' or 'host', got %r" % (toward,))
        self._note("garbage toward %s: %s" % (toward, bytes(data).hex()))
        if toward == "board":
            return self._send({"link": bytes(data).hex()})
        return self._require_line().write_to_host(bytes(data), force=True)

    def _require_line(self):
        if self._line is None:
            raise BoardError("board %s is not started (call start())" % self.name)
        return self._line

    # ---- peripherals (the side channel) ----

    def read_tag(self, point, tag, rssi=-60, battery_low=False):
        """One read by the reader at `point` (OUTER/0 or INNER/1, or "outer"/"inner").
        Returns False if the board is off (the reader has no power: the read is lost)."""
        point = {"outer": OUTER, "inner": INNER}.get(point, point)
        _check_int("point", point, 0, 1)
        _check_int("tag", tag, 1, _I32_MAX)
        _check_int("rssi", rssi, -127, 0)
        return self._send({"tag": [point, tag, rssi, 1 if battery_low else 0]})

    def read_tags(self, reads):
        """Reads [(point, tag), ...] that reach the board together, between two of its
        steps (one write to its process): a burst on the wire, as when people walk through
        close together. read_tag() one after another may each land between other steps.
        Returns False if the board is off."""
        msgs = []
        for point, tag in reads:
            point = {"outer": OUTER, "inner": INNER}.get(point, point)
            _check_int("point", point, 0, 1)
            _check_int("tag", tag, 1, _I32_MAX)
            msgs.append({"tag": [point, tag, -60, 0]})
        return self._send_all(msgs)

    def cross_in(self, tag, rssi=-60):
        """A person walking in: read at the outer point, then at the inner one."""
        return self.read_tag(OUTER, tag, rssi) and self.read_tag(INNER, tag, rssi)

    def cross_out(self, tag, rssi=-60):
        """A person walking out: read at the inner point, then twice at the outer one (the
        doorway takes one outer read for a stray, never for an exit)."""
        return (
            self.read_tag(INNER, tag, rssi)
            and self.read_tag(OUTER, tag, rssi)
            and self.read_tag(OUTER, tag, rssi)
        )

    def beam(self, n=1):
        """n bodies through the beam / turnstile (its count restarts at 0 on power-on)."""
        return self._send({"beam": _check_int("beam pulses", n, 1, 100000)})

    def video(self, camera, on):
        """Camera `camera` on (heartbeats every camera_beat_ms, by itself) or off."""
        _check_int("camera", camera, 0, self.cameras - 1)
        with self._lock:
            self._video[camera] = bool(on)
        return self._send({"video": [camera, bool(on)]})

    def gas(self, ch4_ppm, co_ppm, fault=0):
        """The gas sensor reads these from now on, one sample every gas_sample_ms."""
        sample = [
            _check_int("ch4_ppm", ch4_ppm, 0, 1000000),
            _check_int("co_ppm", co_ppm, 0, 1000000),
            _check_int("fault", fault, 0, _I32_MAX),
        ]
        with self._lock:
            self._gas = sample
        return self._send({"gas": sample})

    def gas_off(self):
        """The gas sensor falls silent (dead, unplugged): no more samples."""
        with self._lock:
            self._gas = None
        return self._send({"gas": None})

    def advance(self, seconds):
        """Move the board's clock (ticks_ms and RTC) forward without waiting."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ValueError("seconds must be a number, got %r" % (seconds,))
        if not math.isfinite(seconds) or seconds < 0 or seconds > 86400 * 30:
            raise ValueError("advance by 0..30 days, got %r s" % (seconds,))
        ms = round(seconds * 1000)
        with self._lock:
            self._advanced_ms += ms
        return self._send({"advance": ms})

    def now_s(self):
        """The world's unix time: host clock plus everything advance() added, to give the
        board a time-set that agrees with its advanced clock. With the scripted clock the
        host's time is none of the world's: the time the board was made plus the advances."""
        if self.clock == "scripted":
            return self._made_s + self._advanced_ms / 1000
        return time.time() + self._advanced_ms / 1000

    def sync(self, timeout_s=5.0, steps=1):
        """Wait until the firmware has consumed every tag read and link byte sent so far and
        then completed `steps` more steps, all at the clock as advanced so far (what it
        does in them cannot see a later advance()). Needs a firmware that reads its inputs."""
        _check_int("steps", steps, 1, 1000)
        with self._lock:
            self._sync_next += 1
            sync_id = self._sync_next
            proc = self._proc
            self._raise_if_crashed()
            if not self._send({"sync": sync_id, "steps": steps}):
                raise BoardError("board %s is not running" % self.name)
            deadline = time.monotonic() + timeout_s
            while sync_id not in self._synced:
                self._wait_turn(
                    deadline,
                    proc,
                    "during sync",
                    "board %s: no sync within %.1f s" % (self.name, timeout_s),
                    self._observed,
                )
            self._synced.discard(sync_id)

    def mark(self, label):
        """Start a measuring window: status()["window"] then holds the longest call (board
        ms) and the most heap in use since this mark, with `label` once it has begun."""
        return self._send({"mark": str(label)})

    # ---- observation ----

    def outputs(self):
        """lamp (0 off, 1 green, 2 amber, 3 red), sounder, work_relay, hot_relay,
        entry_refused as the board drives them now (de-energised while off)."""
        with self._lock:
            return dict(self._outputs)

    def output_history(self):
        """Every output state seen, oldest first: (monotonic time, outputs)."""
        with self._lock:
            return [(t, dict(o)) for _, t, o in self._history]

    def wait_outputs(self, predicate, timeout_s=5.0):
        """Wait until predicate(outputs) holds for some output state seen from now on
        (every state change is checked, even one already replaced); returns that state."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            if predicate(dict(self._outputs)):
                return dict(self._outputs)
            seen = self._out_seq
            while True:
                for seq, _, snapshot in self._history:
                    if seq > seen:
                        seen = seq
                        if predicate(dict(snapshot)):
                            return dict(snapshot)
                self._wait_turn(
                    deadline,
                    None,
                    "",
                    "board %s: outputs did not match within %.1f s" % (self.name, timeout_s),
                    self._observed,
                )

    def status(self):
        """The board's last report: steps, ticks_ms, rtc_s, mem_alloc, watchdog_armed, ...
        plus steps_per_s and the supervisor's view (powered, plugged, crashed)."""
        with self._lock:
            s = dict(self._status)
            s.update(
                powered=self._powered,
                plugged=self.plugged,
                running=self.running,
                crashed=self.crashed is not None,
                steps_per_s=self._steps_per_s,
                watchdog_resets=self.watchdog_resets,
                host_bytes_dropped=self.host_bytes_dropped,
                board_bytes_dropped=self.board_bytes_dropped,
                advanced_s=self._advanced_ms / 1000,
                clock=self.clock,
            )
            return s

    def wait_status(self, predicate, timeout_s=30.0):
        """Wait until predicate(status()) holds for one of the board's reports (every
        0.2 s); returns that status. For conditions in board time (board_ms, steps)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                s = self.status()
                if predicate(s):
                    return s
                # Across resets and power cycles (proc None): a crash still fails the wait.
                self._wait_turn(
                    deadline,
                    None,
                    "",
                    "board %s: status did not match within %.1f s" % (self.name, timeout_s),
                    self._observed,
                )

    # ---- internals (callers hold self._lock where noted) ----

    def _note(self, text):
        now = time.time()
        stamp = time.strftime("%H:%M:%S", time.localtime(now))
        with self._log_lock:
            if not self._log.closed:
                self._log.write("[sup %s.%03d] %s\n" % (stamp, int(now * 1000) % 1000, text))

    def _log_tail(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as e:
            return "(log %s unreadable: %s)" % (self.log_path, e)
        return "\n".join(line[:300] for line in lines[-_LOG_TAIL_LINES:])

    def _observed(self):
        age = None if self._last_alive is None else round(time.monotonic() - self._last_alive, 2)
        return {
            "outputs": dict(self._outputs),
            "powered": self._powered,
            "plugged": self.plugged,
            "steps": self._status.get("steps"),
            "last_alive_s_ago": age,
        }

    def _wait_turn(self, deadline, proc, during, timeout_text, observed):
        # One turn of a wait, under self._cv: fail loudly on a crash, on a power loss (when
        # proc is given) or at the deadline; else sleep until the supervisor's next news.
        self._raise_if_crashed()
        if proc is not None and self._proc is not proc:
            raise BoardError("board %s lost power %s" % (self.name, during))
        left = deadline - time.monotonic()
        if left <= 0:
            raise BoardTimeout(timeout_text, observed(), self.log_path)
        self._cv.wait(left)

    def _raise_if_crashed(self):
        if self.crashed is not None:
            raise BoardCrashed(self.name, self.crashed, self.log_path)

    def _send(self, msg, quiet=False):
        # Queued for the process's writer thread: a hung board never blocks the caller.
        return self._send_all([msg], quiet)

    def _send_all(self, msgs, quiet=False):
        # One item, so one write: the process reads the lines together and applies them
        # all before its next step (a pipe write of up to 4 KB is never split).
        with self._lock:
            if self._outbox is None:
                if not quiet:
                    self._note("board off, not delivered: %s" % json.dumps(msgs)[:200])
                return False
            text = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in msgs)
            self._outbox.put(text.encode())
            return True

    def _spawn(self, why):
        # Caller holds the lock.
        if self._stopping:
            raise BoardError("board %s was stopped" % self.name)
        settings = dict(self._settings)
        settings["env"] = {"video": list(self._video), "gas": self._gas}
        with self._log_lock:
            self._log.flush()
        proc = subprocess.Popen(
            [self._node, *_NODE_FLAGS, str(_VBOARD_MJS), json.dumps(settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=str(self.repo),
            # Its own session: a Ctrl-C at the terminal reaches the supervisor, which
            # decides; the board's own exit paths are stdin EOF and a ppid check.
            start_new_session=True,
        )
        outbox = queue.SimpleQueue()
        self._proc = proc
        self._outbox = outbox
        self._ready = False
        self._armed = False
        self._crash_report = None
        self._watchdog_said = None
        self._last_alive = time.monotonic()
        self._note("%s: pid %d" % (why, proc.pid))
        tag = "vboard-%s-%d" % (self.name, proc.pid)
        reader = threading.Thread(target=self._reader, args=(proc,), name=tag + "-out", daemon=True)
        writer = threading.Thread(
            target=self._writer, args=(proc, outbox), name=tag + "-in", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [reader, writer]
        reader.start()
        writer.start()

    def _kill(self, why):
        # Caller holds the lock. The reader thread sees that the process is no longer
        # current and treats its end as deliberate.
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        self._ready = False
        if self._outbox is not None:
            self._outbox.put(None)
            self._outbox = None
        proc.kill()  # Popen.kill ignores a process that has already exited
        proc.wait()
        self._note("%s: pid %d killed" % (why, proc.pid))
        self._cv.notify_all()

    def _writer(self, proc, outbox):
        # Ends when told (None) or when the process is gone (BrokenPipeError); closing
        # stdin then tells a still-running board that its supervisor let go.
        while True:
            item = outbox.get()
            if item is None:
                break
            try:
                proc.stdin.write(item)
                proc.stdin.flush()
            except OSError:
                break
        with contextlib.suppress(OSError):  # unflushed bytes for a dead process
            proc.stdin.close()

    def _reader(self, proc):
        for raw in proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                with self._lock:
                    self._note("bad line from board: %r" % raw[:200])
                continue
            with self._lock:
                if proc is not self._proc:
                    continue  # a dying process's last words after a power cut
                self._handle(msg)
        code = proc.wait()
        proc.stdout.close()
        with self._lock:
            if proc is not self._proc:
                return
            self._proc = None
            self._ready = False
            if self._outbox is not None:
                self._outbox.put(None)
                self._outbox = None
            if (code == _EXIT_WATCHDOG or self._watchdog_said) and not self._stopping:
                self._watchdog_reset(self._watchdog_said or "the firmware stopped feeding it")
            elif self._crash_report is not None:
                self.crashed = self._crash_report
                self._note("firmware crashed; outputs as its exit path left them")
                if self._armed:
                    # The watchdog was running: it resets the halted board in due time.
                    self._reset_due = time.monotonic() + self._watchdog_s()
            else:
                self.crashed = "board process exited with code %s; log tail:\n%s" % (
                    code,
                    self._log_tail(),
                )
                self._note("board process exited unexpectedly (code %s)" % code)
            self._cv.notify_all()

    def _handle(self, msg):
        # Caller holds the lock.
        if "link" in msg:
            if self._line is not None:
                self._line.write_to_host(bytes.fromhex(msg["link"]))
        elif "out" in msg:
            out = msg["out"]
            self._set_outputs({k: (out[k] if k == "lamp" else bool(out[k])) for k in OUTPUT_NAMES})
        elif "alive" in msg:
            now = time.monotonic()
            alive = msg["alive"]
            prev_steps = self._status.get("steps")
            if prev_steps is not None and self._last_alive is not None and now > self._last_alive:
                self._steps_per_s = round((alive["steps"] - prev_steps) / (now - self._last_alive))
            self._status = alive
            self._last_alive = now
            self._armed = bool(alive.get("watchdog_armed"))
        elif "sync" in msg:
            self._synced.add(msg["sync"])
        elif "ready" in msg:
            self._ready = True
            self.boot_report = msg["ready"]
            self._status = {"steps": 0, "mem_alloc": msg["ready"].get("mem_alloc")}
            self._last_alive = time.monotonic()
            self._note("booted")
        elif "crash" in msg:
            # The board logged the traceback; its exit, which follows, makes it a crash.
            self._crash_report = msg["crash"]
        elif "watchdog" in msg:
            # The board's own check (or its watchdog thread) bit; its exit follows.
            self._watchdog_said = msg["watchdog"]
            self._note(msg["watchdog"])
        else:
            self._note("unknown message from board: %r" % msg)
        self._cv.notify_all()

    def _set_outputs(self, outputs):
        # Caller holds the lock.
        if outputs != self._outputs or not self._history:
            self._outputs = outputs
            self._out_seq += 1
            self._history.append((self._out_seq, time.monotonic(), dict(outputs)))
            self._cv.notify_all()

    def _watchdog_s(self):
        # The timeout Board() armed (the board reports it), else the configured one.
        return (self._status.get("watchdog_ms") or self._settings["watchdog_ms"]) / 1000

    def _watchdog_reset(self, why):
        # Caller holds the lock. A reset is not a power cut: the supply stays on.
        self.watchdog_resets += 1
        self.watchdog_events.append(why)
        self._reset_due = None
        self._note("watchdog reset: %s" % why)
        self._kill("watchdog reset")
        self._set_outputs(dict(SAFE_OUTPUTS))
        try:
            self._spawn("watchdog reboot")
        except (OSError, BoardError) as e:
            self.crashed = "the watchdog reboot failed: %s" % e
            self._cv.notify_all()

    def _silence_limit_s(self):
        # With board time the board's own watchdog thread judges a hung call from its CPU
        # time; the wall clock is then only a guard against a process that stopped
        # entirely. The loose profile keeps the wall-clock watchdog it always had.
        if self.profile["board_time"]:
            return max(60.0, self._watchdog_s() * 4)
        return self._watchdog_s() + 0.5

    def _from_host(self, data):
        # On the line's thread: bytes the host wrote, forwarded while the board runs.
        return self._send({"link": data.hex()}, quiet=True)

    def _monitor(self):
        # A hung step blocks the board's own watchdog check, so the supervisor plays the
        # hardware watchdog: silence longer than its timeout resets the board.
        with self._lock:
            while True:
                self._cv.wait(0.1)
                if self._stopping:
                    return
                now = time.monotonic()
                silent_s = now - (self._last_alive or now)
                if self._reset_due is not None and now >= self._reset_due and self._powered:
                    self._watchdog_reset("the halted firmware no longer fed it")
                elif (
                    self._proc is not None
                    and self._ready
                    and self._armed
                    and silent_s > self._silence_limit_s()
                ):
                    self._watchdog_reset("no sign of life for %.1f s" % silent_s)
