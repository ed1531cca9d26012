# Raspberry Pi Pico (RP2040) gateway board. Wiring, levels and the reader and gas
# protocols: docs/hardware.md. Never runs in CI: tests/typecheck/pyrightconfig.rp2.json checks
# every machine call here against MicroPython's rp2 stubs.
#
# | GPIO        | dir | signal                                         |
# |-------------|-----|------------------------------------------------|
# | GP0 / GP1   | out/in | UART0 TX / RX: outer tag reader (RS-485)    |
# | GP4 / GP5   | out/in | UART1 TX / RX: inner tag reader (RS-485)    |
# | GP2         | in  | beam / turnstile pulse, opto, active low       |
# | GP3, GP6    | in  | camera 0, 1 heartbeat pulse, opto, active low  |
# | GP10        | out | work relay ("face work permitted")             |
# | GP11        | out | hot-work power relay                           |
# | GP12        | out | entry permitted (high) / refused (low)         |
# | GP13-15     | out | lamp green, amber, red                         |
# | GP16        | out | sounder                                        |
# | GP26 (ADC0) | an  | CH4 4-20 mA loop over a 150 ohm shunt          |
# | GP27 (ADC1) | an  | CO 4-20 mA loop over a 150 ohm shunt           |
# | USB         |     | host link (USB-CDC, the MicroPython console)   |
import time

import machine
from micropython import alloc_emergency_exception_buf, const

from hal.clock import WallClock, civil_from_unix, ticks_diff
from hal.flashfs import FileFlash
from hal.gasloop import CH4_FULL_SCALE_PPM, CO_FULL_SCALE_PPM, check_full_scale, fill_gas
from hal.mcu import Outputs, StdioLink
from hal.pulses import BeatTable, PulseCounter
from hal.readerline import ReaderLine

OUTER_READER_UART = const(0)
OUTER_READER_TX = const(0)
OUTER_READER_RX = const(1)
INNER_READER_UART = const(1)
INNER_READER_TX = const(4)
INNER_READER_RX = const(5)
BEAM_PIN = const(2)
CAMERA_PINS = (3, 6)
WORK_RELAY_PIN = const(10)
HOT_RELAY_PIN = const(11)
ENTRY_PERMITTED_PIN = const(12)
LAMP_GREEN_PIN = const(13)
LAMP_AMBER_PIN = const(14)
LAMP_RED_PIN = const(15)
SOUNDER_PIN = const(16)
CH4_LOOP_PIN = const(26)
CO_LOOP_PIN = const(27)

READER_BAUD = const(57600)
READER_RXBUF = const(512)  # a crowd at the door: ~20 lines between two polls
BEAM_DEBOUNCE_MS = const(50)
GAS_SAMPLE_MS = const(1000)
ADC_SAMPLES = const(16)  # averaged per reading: the RP2040 ADC is noisy (about 9 ENOB)
ADC_VREF_MV = const(3300)
SHUNT_OHM = const(150)  # 20 mA -> 3.0 V, 21 mA fault band -> 3.15 V, under the 3.3 V ref
# uA = raw_u16 * VREF_MV * 1000 / (65535 * SHUNT_OHM), reordered to stay a small int
_UA_DIVISOR = const(65535 * SHUNT_OHM // 1000)
WATCHDOG_MS = const(5000)
WATCHDOG_MAX_MS = const(8388)  # the RP2040 watchdog's limit
FLASH_ROOT = "/data"


class Board:
    def __init__(
        self,
        watchdog_ms=WATCHDOG_MS,
        ch4_full_scale_ppm=CH4_FULL_SCALE_PPM,
        co_full_scale_ppm=CO_FULL_SCALE_PPM,
    ):
        # First of all: every relay, lamp and the entry-permitted line driven low.
        self._outputs = Outputs(
            WORK_RELAY_PIN,
            HOT_RELAY_PIN,
            ENTRY_PERMITTED_PIN,
            LAMP_GREEN_PIN,
            LAMP_AMBER_PIN,
            LAMP_RED_PIN,
            SOUNDER_PIN,
        )
        if type(watchdog_ms) is not int or not 1 <= watchdog_ms <= WATCHDOG_MAX_MS:
            raise ValueError(
                "watchdog_ms must be 1..%d on the RP2040, got %r" % (WATCHDOG_MAX_MS, watchdog_ms)
            )
        self._wdt = machine.WDT(timeout=watchdog_ms)
        self._ch4_full_scale_ppm = check_full_scale("ch4_full_scale_ppm", ch4_full_scale_ppm)
        self._co_full_scale_ppm = check_full_scale("co_full_scale_ppm", co_full_scale_ppm)

        outer = machine.UART(
            OUTER_READER_UART,
            baudrate=READER_BAUD,
            tx=machine.Pin(OUTER_READER_TX),
            rx=machine.Pin(OUTER_READER_RX),
            rxbuf=READER_RXBUF,
            timeout=0,
        )
        inner = machine.UART(
            INNER_READER_UART,
            baudrate=READER_BAUD,
            tx=machine.Pin(INNER_READER_TX),
            rx=machine.Pin(INNER_READER_RX),
            rxbuf=READER_RXBUF,
            timeout=0,
        )
        self._readers = (ReaderLine(outer, 0), ReaderLine(inner, 1))
        self._next_reader = 0

        # Opto outputs pull low on a pulse; the internal pull-up holds the idle level.
        # Hard IRQs: the handlers only store small ints (hal/pulses.py); should one fail
        # all the same, the emergency buffer lets its traceback be reported.
        alloc_emergency_exception_buf(100)
        self._beam = PulseCounter(time.ticks_ms, BEAM_DEBOUNCE_MS)
        self._beam_pin = machine.Pin(BEAM_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
        self._beam_pin.irq(handler=self._beam.on_edge, trigger=machine.Pin.IRQ_FALLING, hard=True)
        self._beats = BeatTable(len(CAMERA_PINS), time.ticks_ms)
        self._camera_pins = []
        for i in range(len(CAMERA_PINS)):
            pin = machine.Pin(CAMERA_PINS[i], machine.Pin.IN, machine.Pin.PULL_UP)
            pin.irq(handler=self._beats.handlers[i], trigger=machine.Pin.IRQ_FALLING, hard=True)
            self._camera_pins.append(pin)

        self._ch4_adc = machine.ADC(machine.Pin(CH4_LOOP_PIN))
        self._co_adc = machine.ADC(machine.Pin(CO_LOOP_PIN))
        self._gas_sampled = False
        self._gas_last_ms = 0

        self._clock = WallClock()
        self._rtc = machine.RTC()
        self._link = StdioLink()
        self.flash = FileFlash(FLASH_ROOT)

    def ticks_ms(self) -> int:
        return time.ticks_ms()

    def rtc_s(self) -> int:
        return self._clock.now_s(time.ticks_ms())

    def set_rtc_s(self, t: int) -> None:
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

    def feed_watchdog(self) -> None:
        self._wdt.feed()

    @staticmethod
    def _loop_ua(adc):
        total = 0
        for _ in range(ADC_SAMPLES):
            total += adc.read_u16()
        return (total // ADC_SAMPLES) * ADC_VREF_MV // _UA_DIVISOR
