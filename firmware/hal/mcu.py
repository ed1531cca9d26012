# Parts shared by the real boards (hal.pico, hal.esp32): the Board itself (McuBoard), the
# fail-safe outputs and the host link over the USB / UART console. Needs machine: never
# imported under CPython.
import select
import sys
import time

import machine
from micropython import const, kbd_intr

from hal.clock import EPOCH_S, WallClock, civil_from_unix, ticks_diff
from hal.flashfs import FileFlash
from hal.gasloop import CH4_FULL_SCALE_PPM, CO_FULL_SCALE_PPM, check_full_scale, fill_gas
from hal.pulses import BeatTable, PulseCounter
from hal.readerline import ReaderLine

READER_BAUD = const(57600)
READER_RXBUF = const(512)  # a crowd at the door: ~20 lines between two polls
BEAM_DEBOUNCE_MS = const(50)
GAS_SAMPLE_MS = const(1000)
WATCHDOG_MS = const(5000)
FLASH_ROOT = "/data"

LAMP_OFF = const(0)
LAMP_GREEN = const(1)
LAMP_AMBER = const(2)
LAMP_RED = const(3)


class Outputs:
    # Every output is a plain push-pull pin driving a relay or lamp driver whose input
    # has a pull-down (docs/hardware.md): low, floating, reset or dead board = de-energised.
    # Permissive outputs are built first, so they are low before anything else can fail.
    # "Entry permitted" is wired instead of "entry refused", so that it fails to refused.
    # The gateway sets every output every step; a pin is written only when its state
    # changes, so a lamp's break-before-make never flickers it and no step pays for it.
    def __init__(self, work, hot, entry_permitted, green, amber, red, sounder):
        out = machine.Pin.OUT
        self._work = machine.Pin(work, out, value=0)
        self._hot = machine.Pin(hot, out, value=0)
        self._entry_permitted = machine.Pin(entry_permitted, out, value=0)
        self._green = machine.Pin(green, out, value=0)
        self._amber = machine.Pin(amber, out, value=0)
        self._red = machine.Pin(red, out, value=0)
        self._sounder = machine.Pin(sounder, out, value=0)
        # What each pin was last driven to (all low above); the lamp as a colour.
        self._state = bytearray(5)  # work, hot, entry permitted, sounder, lamp colour

    def _changed(self, i, v):
        if self._state[i] == v:
            return False
        self._state[i] = v
        return True

    def set_lamp(self, colour):
        if isinstance(colour, bool) or not isinstance(colour, int) or not 0 <= colour <= 3:
            raise ValueError(
                "lamp colour must be 0 off, 1 green, 2 amber or 3 red, got %r" % (colour,)
            )
        if not self._changed(4, colour):
            return
        # Break before make: two lamps are never lit at once.
        self._green.value(0)
        self._amber.value(0)
        self._red.value(0)
        if colour == LAMP_GREEN:
            self._green.value(1)
        elif colour == LAMP_AMBER:
            self._amber.value(1)
        elif colour == LAMP_RED:
            self._red.value(1)

    def set_sounder(self, on):
        v = 1 if on else 0
        if self._changed(3, v):
            self._sounder.value(v)

    def set_work_relay(self, on):
        v = 1 if on else 0
        if self._changed(0, v):
            self._work.value(v)

    def set_hot_relay(self, on):
        v = 1 if on else 0
        if self._changed(1, v):
            self._hot.value(v)

    def set_entry_refused(self, on):
        v = 0 if on else 1
        if self._changed(2, v):
            self._entry_permitted.value(v)


class StdioLink:
    # The host link on the board's console: USB-CDC on the Pico, UART0 through the USB
    # bridge on the ESP32-DevKitC. Non-blocking: a byte is read only after poll says one
    # is waiting; ipoll() and the one-byte buffer keep the read free of allocation.
    def __init__(self):
        # Frames are binary: a 0x03 in one must not raise KeyboardInterrupt.
        kbd_intr(-1)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._poll_out = select.poll()
        self._poll_out.register(sys.stdout, select.POLLOUT)
        self._one = bytearray(1)

    def read_into(self, buf):
        n = 0
        cap = len(buf)
        one = self._one
        while n < cap:
            waiting = False
            for _ in self._poll.ipoll(0):
                waiting = True
            if not waiting:
                break
            self._in.readinto(one)  # pyright: ignore[reportAttributeAccessIssue]
            buf[n] = one[0]
            n += 1
        return n

    def writable(self):
        # True if the console can take bytes now: events then wait on flash, not in a
        # blocked write (a host that stopped reading must not stall the loop).
        for _ in self._poll_out.ipoll(0):
            return True
        return False

    def write(self, data):
        self._out.write(data)


class McuBoard:
    # The Board of hal/interface.pyi on a real chip. A board module's Board subclasses it,
    # sets the wiring and watchdog range declared here, and overrides the four methods
    # below __init__ where the chips' ports differ.
    # rtc_s() counts from here: clock seconds, small ints (gateway/caps.py).
    RTC_EPOCH_S = EPOCH_S
    CHIP: str
    WATCHDOG_MIN_MS: int
    WATCHDOG_MAX_MS: int
    OUTER_READER_UART: int
    OUTER_READER_TX: int
    OUTER_READER_RX: int
    INNER_READER_UART: int
    INNER_READER_TX: int
    INNER_READER_RX: int
    BEAM_PIN: int
    CAMERA_PINS: tuple[int, ...]
    WORK_RELAY_PIN: int
    HOT_RELAY_PIN: int
    ENTRY_PERMITTED_PIN: int
    LAMP_GREEN_PIN: int
    LAMP_AMBER_PIN: int
    LAMP_RED_PIN: int
    SOUNDER_PIN: int
    CH4_LOOP_PIN: int
    CO_LOOP_PIN: int

    def __init__(
        self,
        watchdog_ms=WATCHDOG_MS,
        ch4_full_scale_ppm=CH4_FULL_SCALE_PPM,
        co_full_scale_ppm=CO_FULL_SCALE_PPM,
    ):
        # First of all: every relay, lamp and the entry-permitted line driven low.
        self._outputs = Outputs(
            self.WORK_RELAY_PIN,
            self.HOT_RELAY_PIN,
            self.ENTRY_PERMITTED_PIN,
            self.LAMP_GREEN_PIN,
            self.LAMP_AMBER_PIN,
            self.LAMP_RED_PIN,
            self.SOUNDER_PIN,
        )
        lo = self.WATCHDOG_MIN_MS
        hi = self.WATCHDOG_MAX_MS
        if type(watchdog_ms) is not int or not lo <= watchdog_ms <= hi:
            raise ValueError(
                "watchdog_ms must be %d..%d on the %s, got %r" % (lo, hi, self.CHIP, watchdog_ms)
            )
        self._wdt = machine.WDT(timeout=watchdog_ms)
        self._ch4_full_scale_ppm = check_full_scale("ch4_full_scale_ppm", ch4_full_scale_ppm)
        self._co_full_scale_ppm = check_full_scale("co_full_scale_ppm", co_full_scale_ppm)

        outer = self._reader_stream(
            self.OUTER_READER_UART, self.OUTER_READER_TX, self.OUTER_READER_RX
        )
        inner = self._reader_stream(
            self.INNER_READER_UART, self.INNER_READER_TX, self.INNER_READER_RX
        )
        self._readers = (ReaderLine(outer, 0), ReaderLine(inner, 1))
        self._next_reader = 0

        self._beam = PulseCounter(time.ticks_ms, BEAM_DEBOUNCE_MS)
        self._beam_pin = self._pulse_input(self.BEAM_PIN, self._beam.on_edge)
        cameras = self.CAMERA_PINS
        self._beats = BeatTable(len(cameras), time.ticks_ms)
        self._camera_pins = []
        for i in range(len(cameras)):
            self._camera_pins.append(self._pulse_input(cameras[i], self._beats.handlers[i]))

        self._ch4_adc = self._loop_adc(self.CH4_LOOP_PIN)
        self._co_adc = self._loop_adc(self.CO_LOOP_PIN)
        self._gas_sampled = False
        self._gas_last_ms = 0

        self._clock = WallClock()
        self._rtc = machine.RTC()
        self._link = StdioLink()
        self.flash = FileFlash(FLASH_ROOT)

    def _reader_uart(self, uart_id, tx, rx, rxbuf=READER_RXBUF):
        return machine.UART(
            uart_id,
            baudrate=READER_BAUD,
            tx=self._uart_pin(tx),
            rx=self._uart_pin(rx),
            rxbuf=rxbuf,
            timeout=0,
        )

    def _reader_stream(self, uart_id: int, tx: int, rx: int) -> object:
        # What ReaderLine reads (any(), readinto()): the UART and its interrupt-fed buffer
        # here; hal/pico.py receives by DMA instead, so that flash work loses nothing.
        return self._reader_uart(uart_id, tx, rx)

    # ---- where the chips differ: each board module overrides these ----

    def _uart_pin(self, gpio: int) -> machine.Pin | int:
        # What this port's UART takes as tx= / rx=.
        raise NotImplementedError("the board module must override _uart_pin")

    def _pulse_input(self, gpio: int, handler) -> machine.Pin:
        # An opto input (pulled low on a pulse), handler called on each falling edge.
        raise NotImplementedError("the board module must override _pulse_input")

    def _loop_adc(self, gpio: int) -> machine.ADC:
        raise NotImplementedError("the board module must override _loop_adc")

    def _loop_ua(self, adc: machine.ADC) -> int:
        # The loop's current in uA, the mean of several conversions.
        raise NotImplementedError("the board module must override _loop_ua")

    # ---- the Board interface ----

    def ticks_ms(self) -> int:
        return time.ticks_ms()

    def rtc_s(self) -> int:
        return self._clock.now_s(time.ticks_ms())

    def set_rtc_s(self, t: int) -> None:
        # t: unix seconds, as the host's time-set carries them.
        self._clock.set(t, time.ticks_ms())
        year, month, day, weekday, hour, minute, second = civil_from_unix(t)
        # Kept in step so that time.localtime() and file dates agree; rtc_s reads ticks.
        self._rtc.datetime((year, month, day, weekday, hour, minute, second, 0))

    def read_tag(self, out: list[int]) -> bool:
        # Alternate which reader goes first, so a busy one cannot starve the other.
        first = self._next_reader
        self._next_reader = first ^ 1
        if self._readers[first].poll(out):
            return True
        return self._readers[first ^ 1].poll(out)

    def reader_lost(self, point: int) -> int:
        return self._readers[point].lost()

    def beam_count(self) -> int:
        return self._beam.count

    def video_beats(self, out: list[int]) -> int:
        return self._beats.fill(out)

    def read_gas(self, out: list[int]) -> bool:
        now = time.ticks_ms()
        if self._gas_sampled and 0 <= ticks_diff(now, self._gas_last_ms) < GAS_SAMPLE_MS:
            return False
        self._gas_sampled = True
        self._gas_last_ms = now
        fill_gas(
            out,
            self._loop_ua(self._ch4_adc),
            self._loop_ua(self._co_adc),
            self._ch4_full_scale_ppm,
            self._co_full_scale_ppm,
        )
        return True

    def set_lamp(self, colour: int) -> None:
        self._outputs.set_lamp(colour)

    def set_sounder(self, on: bool) -> None:
        self._outputs.set_sounder(on)

    def set_work_relay(self, on: bool) -> None:
        self._outputs.set_work_relay(on)

    def set_hot_relay(self, on: bool) -> None:
        self._outputs.set_hot_relay(on)

    def set_entry_refused(self, on: bool) -> None:
        self._outputs.set_entry_refused(on)

    def link_read(self, buf: bytearray) -> int:
        return self._link.read_into(buf)

    def link_write(self, data: bytes | bytearray | memoryview) -> None:
        self._link.write(data)

    def link_writable(self) -> bool:
        return self._link.writable()

    def feed_watchdog(self) -> None:
        self._wdt.feed()

    def reset_cause(self) -> int:
        return machine.reset_cause()

    def reset(self) -> None:
        # After a fault (gateway/app.py _fault): outputs are already safe; a reset
        # drives every pin to its de-energised default and boots afresh.
        machine.reset()
