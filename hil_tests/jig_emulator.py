"""The jig without its Pico, for CI: the jig firmware's own logic (firmware/jig/main.py)
served on a pty, as its USB console would be, over a pin layer that is either a recorder
(FakePins) or a virtual gateway board (VirtualPins: the jig's reader lines, pulses, loop
voltages and reset line arrive at the board's side channel, its outputs come back as the
jig's readback bits). With VirtualPins the whole real-bench path of the suite (JigLink,
JigBoard, the keystore, baselining a board that keeps its state) runs without hardware."""

import importlib.util
import os
import select
import threading
import time
import tty
from pathlib import Path

from hal.gasloop import fill_gas
from hal.readerline import ReaderLine

JIG_MAIN = Path(__file__).resolve().parents[1] / "firmware" / "jig" / "main.py"
CAMERA_SILENT_S = 1.5  # no heartbeat pulse for this long: the camera is off
ADC_VREF_MV = 3300


def load_jig_firmware():
    spec = importlib.util.spec_from_file_location("jig_firmware", JIG_MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


jig_fw = load_jig_firmware()


class FakePins:
    """The jig's pin layer as a recorder: what it was told, with the fake clock's time."""

    def __init__(self, clock):
        self.clock = clock
        self.reader_bytes = [bytearray(), bytearray()]
        self.edges = []  # (ms, pin, low)
        self.duty = [0, 0]
        self.running = None
        self.bits = 0

    def reader_write(self, point, data):
        self.reader_bytes[point] += data

    def pulse_pin(self, pin, low):
        self.edges.append((self.clock[0], pin, low))

    def loop_duty(self, channel, duty_u16):
        self.duty[channel] = duty_u16

    def run(self, on):
        self.running = on

    def read_outputs(self):
        return self.bits


class _Bytes:
    """A UART with timeout=0, for the gateway's own reader-line parser."""

    def __init__(self):
        self.data = bytearray()

    def any(self):
        return len(self.data)

    def readinto(self, buf, n):
        n = min(n, len(self.data))
        buf[:n] = self.data[:n]
        del self.data[:n]
        return n


class VirtualPins:
    """The jig's pins wired to a virtual board, as docs/hil.md wires them to a real one."""

    def __init__(self, vb, shunt_ohm=150):
        self.vb = vb
        self.shunt_ohm = shunt_ohm
        self._lines = [_Bytes(), _Bytes()]
        self._readers = [ReaderLine(self._lines[0], 0), ReaderLine(self._lines[1], 1)]
        self._loop_mv = [0, 0]
        self._beat_at = {}  # camera -> host time of its last pulse
        self._cameras_on = set()

    def reader_write(self, point, data):
        # The bytes arrive at the board's reader UART; the gateway's parser reads them.
        self._lines[point].data += data
        out = [0, 0, 0, 0]
        for _ in range(len(data)):
            if self._readers[point].poll(out):
                self.vb.read_tag(out[0], out[1], out[2], bool(out[3]))

    def pulse_pin(self, pin, low):
        if not low:
            return
        if pin == jig_fw.BEAM_PIN:
            self.vb.beam(1)
        elif pin in jig_fw.CAMERA_PINS:
            camera = jig_fw.CAMERA_PINS.index(pin)
            self._beat_at[camera] = time.monotonic()
            if camera not in self._cameras_on:
                self._cameras_on.add(camera)
                self.vb.video(camera, True)

    def loop_duty(self, channel, duty_u16):
        self._loop_mv[channel] = duty_u16 * ADC_VREF_MV / 65535
        ua = [int(mv * 1000 / self.shunt_ohm) for mv in self._loop_mv]
        out = [0, 0, 0]
        fill_gas(out, ua[0], ua[1], 40000, 1000)
        if self.vb.powered:
            self.vb.gas(out[0], out[1], out[2])

    def run(self, on):
        if on and not self.vb.powered:
            self.vb.power_on()
            self._cameras_on.clear()  # a new board process: its cameras start off
        elif not on and self.vb.powered:
            self.vb.power_cut()

    def read_outputs(self):
        now = time.monotonic()
        for camera in list(self._cameras_on):
            if now - self._beat_at.get(camera, 0) > CAMERA_SILENT_S:
                self._cameras_on.discard(camera)
                self.vb.video(camera, False)
        o = self.vb.outputs()
        bits = 0
        if o["work_relay"]:
            bits |= 1
        if o["hot_relay"]:
            bits |= 2
        if self.vb.powered and o["lamp"] and not o["entry_refused"]:
            bits |= 4
        if o["lamp"] in (1, 2, 3):
            bits |= 8 << (o["lamp"] - 1)
        if o["sounder"]:
            bits |= 64
        return bits


class JigServer:
    """The jig firmware's logic answering on a pty, stepped by a thread every ms."""

    def __init__(self, pins):
        self.pins = pins
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._t0 = time.monotonic()
        self.jig = jig_fw.Jig(pins, self._write, self._now_ms())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="jig-emulator", daemon=True)
        self._thread.start()

    def _now_ms(self):
        return int((time.monotonic() - self._t0) * 1000) + 1000

    def _write(self, text):
        os.write(self._master, text.encode())

    def _serve(self):
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.001)
            if ready:
                try:
                    self.jig.feed(os.read(self._master, 512))
                except OSError:
                    return
            self.jig.poll(self._now_ms())

    def close(self):
        self._stop.set()
        self._thread.join(2)
        os.close(self._master)
        os.close(self._slave)
