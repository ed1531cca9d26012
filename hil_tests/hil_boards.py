"""The board under test, one interface for a virtual board and for a real one on a bench.

    SimBoard   a VirtualBoard (shaftgate.vboard): the deployed firmware under MicroPython,
               its serial line a pty, its peripherals on the side channel.
    JigBoard   a Pico or ESP32-DevKitC running the deployed firmware, on a USB serial
               port, its inputs driven and its outputs read back by a second Pico, the
               jig (firmware/jig/main.py), over the jig's own serial port (JigLink).

Both offer the same methods: peripherals (read_tag, beam, video, gas, gas_off), power
(power_cut, power_on), the link (port, unplug, replug, inject_garbage), observation
(outputs, output_history, wait_outputs) and sync(). Outputs are reported the same way on
both: lamp (0 dark, 1 green, 2 amber, 3 red, -1 more than one lit), sounder, work_relay,
hot_relay and entry_refused, where entry_refused is True whenever entry is not actively
permitted: a de-energised board (off, in reset, halted) refuses entry, as its wiring does
(docs/hardware.md, "Outputs: de-energised means stop").
"""

import threading
import time
from pathlib import Path
from typing import NoReturn

import serial

from shaftgate.vboard import BoardTimeout, VirtualBoard

OUTER = 0
INNER = 1
OUTPUT_NAMES = ("lamp", "sounder", "work_relay", "hot_relay", "entry_refused")
# Steps of the gateway firmware a virtual board's sync() waits for once its inputs are
# consumed, all at the clock as it stands: the firmware takes two to finish reacting to
# an instant (gateway/app.py judges the evacuation's zone clear from the count before that
# step's crossings settle, so a count reaching 0 is judged clear in the next step). A real
# board runs many steps a second; with one, the next advance() could land before that
# second step when the host answers quickly and after it when the host is slow, so what
# the firmware records (ZONE_CLEAR's time) would hang on the host's load.
SETTLE_STEPS = 2


class BenchError(Exception):
    """The bench cannot do what a scenario asked (a jig that does not answer, ...)."""


def is_safe(outputs):
    """Fail safe: no relay permits work and entry is not permitted."""
    return not outputs["work_relay"] and not outputs["hot_relay"] and outputs["entry_refused"]


class BoardUnderTest:
    kind = "?"
    # True: advance() moves the board's clock at once; False: time passes for real.
    virtual_clock = False
    # Which side channels exist: "tags", "beam", "video", "gas", "power", "garbage_to_host".
    features = frozenset()

    def __init__(self, name):
        self.name = name

    # Implemented by each board; see the module docstring.
    def _missing(self, what) -> NoReturn:
        raise NotImplementedError("%s does not implement %s" % (type(self).__name__, what))

    def power_cut(self) -> None:
        self._missing("power_cut")

    def power_on(self) -> None:
        self._missing("power_on")

    def unplug(self, reenumerate=False) -> None:
        self._missing("unplug")

    def replug(self) -> None:
        self._missing("replug")

    def inject_garbage(self, data, toward="board") -> None:
        self._missing("inject_garbage")

    def read_tag(self, point, tag, rssi=-60, battery_low=False) -> None:
        self._missing("read_tag")

    def beam(self, n=1) -> None:
        self._missing("beam")

    def video(self, camera, on) -> None:
        self._missing("video")

    def gas(self, ch4_ppm, co_ppm, fault=0) -> None:
        self._missing("gas")

    def gas_off(self) -> None:
        self._missing("gas_off")

    def advance(self, seconds) -> None:
        self._missing("advance")

    def sync(self, timeout_s=10.0) -> None:
        self._missing("sync")

    def outputs(self) -> dict:
        self._missing("outputs")

    def output_history(self) -> list:
        self._missing("output_history")

    def stop(self) -> None:
        self._missing("stop")

    def running(self) -> bool:
        """Powered and stepping (a board in reset or unpowered has no clock to move)."""
        return True

    def wait_outputs(self, predicate, timeout_s=10.0):
        """The first output state from now on for which predicate holds (the state now
        included); every change is checked, even one already replaced."""
        deadline = time.monotonic() + timeout_s
        seen = len(self.output_history())
        now = self.outputs()
        if predicate(now):
            return now
        while True:
            history = self.output_history()
            for _, outputs in history[seen:]:
                if predicate(outputs):
                    return outputs
            seen = len(history)
            now = self.outputs()
            if predicate(now):
                return now
            if time.monotonic() >= deadline:
                raise BenchError(
                    "board %s: outputs did not match within %.1f s; now %s"
                    % (self.name, timeout_s, now)
                )
            time.sleep(0.01)


def _sim_outputs(o):
    # A virtual board without power reports every output 0, lamp dark included; the
    # firmware itself never drives the lamp dark. Either way entry is not permitted then.
    out = dict(o)
    out["entry_refused"] = bool(o["entry_refused"]) or o["lamp"] == 0
    return out


class SimBoard(BoardUnderTest):
    kind = "sim"
    virtual_clock = True
    features = frozenset(
        ("tags", "beam", "video", "gas", "power", "garbage_to_board", "garbage_to_host")
    )

    def __init__(self, name, workdir, config, key, cameras_on=1, gas=(1000, 0), clock="real"):
        # clock "scripted" on a bench of virtual boards only: the mine's time is then the
        # scenario's advances, whatever the host's load (shaftgate.vboard, "Clock"); beside
        # a real board, whose time is real, its neighbours keep the real clock.
        super().__init__(name)
        self.vb = VirtualBoard(name, workdir, config=config, key=key, clock=clock)
        self.vb.start()
        # The world around a powered board: cameras beating, a healthy gas sensor.
        for camera in range(cameras_on):
            self.vb.video(camera, True)
        if gas is not None:
            self.vb.gas(gas[0], gas[1])

    @property
    def port(self):
        return self.vb.port

    @property
    def log_path(self):
        return self.vb.log_path

    def power_cut(self):
        self.vb.power_cut()

    def power_on(self):
        self.vb.power_on()

    def unplug(self, reenumerate=False):
        self.vb.unplug(reenumerate)

    def replug(self):
        self.vb.replug()

    def inject_garbage(self, data, toward="board"):
        self.vb.inject_garbage(data, toward)

    def read_tag(self, point, tag, rssi=-60, battery_low=False):
        if not self.vb.read_tag(point, tag, rssi, battery_low):
            raise BenchError("board %s is off: the read of tag %d went nowhere" % (self.name, tag))

    def beam(self, n=1):
        self.vb.beam(n)

    def video(self, camera, on):
        self.vb.video(camera, on)

    def gas(self, ch4_ppm, co_ppm, fault=0):
        self.vb.gas(ch4_ppm, co_ppm, fault)

    def gas_off(self):
        self.vb.gas_off()

    def advance(self, seconds):
        self.vb.advance(seconds)

    def sync(self, timeout_s=10.0):
        self.vb.sync(timeout_s, steps=SETTLE_STEPS)

    def outputs(self):
        return _sim_outputs(self.vb.outputs())

    def output_history(self):
        return [(t, _sim_outputs(o)) for t, o in self.vb.output_history()]

    def wait_outputs(self, predicate, timeout_s=10.0):
        try:
            return _sim_outputs(
                self.vb.wait_outputs(lambda o: predicate(_sim_outputs(o)), timeout_s)
            )
        except BoardTimeout as e:
            raise BenchError(str(e)) from e

    def running(self):
        return self.vb.running

    def steps_per_s(self):
        return self.vb.status().get("steps_per_s")

    def stop(self):
        self.vb.stop()


# ---- the jig: a second Pico wired to the board's inputs and outputs ----

JIG_PROTOCOL = 1
JIG_BAUD = 115200
# Output bits as the jig reports them (firmware/jig/main.py, docs/hil.md).
BIT_WORK = 1
BIT_HOT = 2
BIT_ENTRY_PERMITTED = 4
BIT_GREEN = 8
BIT_AMBER = 16
BIT_RED = 32
BIT_SOUNDER = 64
# Shunts of docs/hardware.md: the jig makes the voltage a loop current would make there.
SHUNT_OHM = {"pico": 150, "esp32": 100}
CH4_FULL_SCALE_PPM = 40000
CO_FULL_SCALE_PPM = 1000
LOOP_ZERO_UA = 4000
LOOP_SPAN_UA = 16000
LOOP_DEAD_UA = 2000  # below the NAMUR 3.6 mA band: a dead transmitter


def outputs_from_bits(bits):
    lamps = [bits & BIT_GREEN, bits & BIT_AMBER, bits & BIT_RED]
    lit = sum(1 for b in lamps if b)
    if lit > 1:
        lamp = -1
    elif bits & BIT_GREEN:
        lamp = 1
    elif bits & BIT_AMBER:
        lamp = 2
    elif bits & BIT_RED:
        lamp = 3
    else:
        lamp = 0
    return {
        "lamp": lamp,
        "sounder": bool(bits & BIT_SOUNDER),
        "work_relay": bool(bits & BIT_WORK),
        "hot_relay": bool(bits & BIT_HOT),
        "entry_refused": not bits & BIT_ENTRY_PERMITTED,
    }


def loop_ua(ppm, full_scale_ppm):
    """The 4-20 mA loop current a transmitter sends for a reading (hal/gasloop.py inverse)."""
    ppm = min(max(ppm, 0), full_scale_ppm)
    return LOOP_ZERO_UA + (ppm * LOOP_SPAN_UA + full_scale_ppm - 1) // full_scale_ppm


class JigLink:
    """The host's end of the jig's line protocol: one request at a time, each answered
    `<id> OK ...` or `<id> ERR ...`; `* OUT <ticks_ms> <bits>` lines arrive by themselves
    whenever the board's outputs change and are kept, with the host's time, as history."""

    def __init__(self, port, timeout_s=5.0):
        self.port_name = port
        try:
            self._port = serial.Serial(port, JIG_BAUD, timeout=0.05, exclusive=True)
        except (serial.SerialException, OSError) as e:
            raise BenchError("cannot open the jig on %s: %s" % (port, e)) from e
        self.timeout_s = timeout_s
        self._lock = threading.Condition()
        self._replies = {}
        self._next_id = 1
        self.history = []  # (host monotonic time, outputs)
        self.bits = None
        self.log = []  # the jig's own "* LOG" lines
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="jig-reader", daemon=True)
        self._reader.start()

    def _read(self):
        buf = bytearray()
        while not self._closing:
            try:
                chunk = self._port.read(256)
            except (serial.SerialException, OSError, TypeError):
                return
            if not chunk:
                continue
            buf += chunk
            while b"\n" in buf:
                raw, _, rest = bytes(buf).partition(b"\n")
                buf = bytearray(rest)
                self._line(raw.decode("ascii", "replace").strip())

    def _line(self, line):
        words = line.split()
        if not words:
            return
        with self._lock:
            if words[0] == "*":
                if len(words) == 4 and words[1] == "OUT" and words[3].isdigit():
                    self.bits = int(words[3])
                    self.history.append((time.monotonic(), outputs_from_bits(self.bits)))
                else:
                    self.log.append(line)
            elif words[0].isdigit():
                self._replies[int(words[0])] = words[1:]
            else:
                self.log.append(line)  # the jig's boot messages, a traceback
            self._lock.notify_all()

    def request(self, verb, *args, timeout_s=None):
        with self._lock:
            req_id = self._next_id
            self._next_id = req_id % 999999 + 1
        line = " ".join([str(req_id), verb, *(str(a) for a in args)]) + "\n"
        try:
            self._port.write(line.encode("ascii"))
        except (serial.SerialException, OSError) as e:
            raise BenchError("write to the jig on %s failed: %s" % (self.port_name, e)) from e
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        with self._lock:
            while req_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(
                        "the jig on %s did not answer %r; its last words: %s"
                        % (self.port_name, line.strip(), self.log[-5:])
                    )
                self._lock.wait(left)
            reply = self._replies.pop(req_id)
        if not reply or reply[0] != "OK":
            raise BenchError("the jig refused %r: %s" % (line.strip(), " ".join(reply)))
        return reply[1:]

    def close(self):
        self._closing = True
        self._reader.join(2)
        self._port.close()


class JigBoard(BoardUnderTest):
    """A real gateway board driven by the jig. Its gatewire port is reopened after a
    power cycle (a Pico re-enumerates on USB: name the port by /dev/serial/by-id/...)."""

    virtual_clock = False
    features = frozenset(("tags", "beam", "video", "gas", "power", "garbage_to_board"))

    def __init__(self, name, kind, port, jig_port):
        super().__init__(name)
        self.kind = kind
        self.port = port
        self.log_path = None
        self.jig = JigLink(jig_port)
        reply = self.jig.request("HELLO")
        if len(reply) < 2 or reply[0] != "JIG" or reply[1] != str(JIG_PROTOCOL):
            raise BenchError("%s is no jig of protocol %d: %s" % (jig_port, JIG_PROTOCOL, reply))
        self.jig.request("SHUNT", SHUNT_OHM[kind])
        self.jig.request("RUN", 1)
        self.unplugged = False
        self.on_replug = None  # set by the bench: reopen the host's transport

    def power_cut(self):
        # The board held in reset: RAM gone, outputs de-energised, flash kept.
        self.jig.request("RUN", 0)
        time.sleep(0.05)  # the jig reports an output change once it has settled

    def power_on(self):
        self.jig.request("RUN", 1)
        deadline = time.monotonic() + 20
        while not Path(self.port).exists():
            if time.monotonic() > deadline:
                raise BenchError("board %s: %s did not come back" % (self.name, self.port))
            time.sleep(0.1)

    def unplug(self, reenumerate=False):
        # The host lets go of the port: for the board, the host has gone away.
        self.unplugged = True

    def replug(self):
        self.unplugged = False

    def inject_garbage(self, data, toward="board"):
        # The host holds the board's port exclusively: its garbage goes through the
        # host's own transport (hil_bench.Gate.inject_garbage).
        raise BenchError("on a real board, inject garbage through the gate's transport")

    def read_tag(self, point, tag, rssi=-60, battery_low=False):
        self.jig.request("TAG", point, tag, rssi, 1 if battery_low else 0)

    def beam(self, n=1):
        self.jig.request("BEAM", n, timeout_s=5 + n * 0.2)

    def video(self, camera, on):
        self.jig.request("CAM", camera, 1 if on else 0)

    def gas(self, ch4_ppm, co_ppm, fault=0):
        ch4 = loop_ua(ch4_ppm, CH4_FULL_SCALE_PPM)
        co = loop_ua(co_ppm, CO_FULL_SCALE_PPM)
        if fault:
            ch4 = LOOP_DEAD_UA  # the one fault a jig can make: an open loop
        self.jig.request("LOOP", 0, ch4)
        self.jig.request("LOOP", 1, co)

    def gas_off(self):
        self.jig.request("LOOP", 0, 0)
        self.jig.request("LOOP", 1, 0)

    def advance(self, seconds):
        time.sleep(seconds)

    def sync(self, timeout_s=10.0):
        # Every jig request is answered once carried out; the reader lines then need a
        # few ms at 57 600 baud and a gateway step or two.
        time.sleep(0.05)

    def outputs(self):
        return outputs_from_bits(int(self.jig.request("OUT")[0]))

    def output_history(self):
        with self.jig._lock:
            return list(self.jig.history)

    def stop(self):
        self.jig.close()
