# ESP32-DevKitC (ESP32-WROOM-32) gateway board. Wiring, levels and the reader and gas
# protocols: docs/hardware.md. Never runs in CI: tests/typecheck/pyrightconfig.esp32.json checks
# every machine call here against MicroPython's esp32 stubs.
# Pins avoid the strapping pins (0, 2, 5, 12, 15), the flash pins (6-11), UART0 (1, 3)
# and GPIO 14 (it toggles during boot); interrupt inputs avoid GPIO 36/39 (errata 3.11).
#
# | GPIO       | dir    | signal                                         |
# |------------|--------|------------------------------------------------|
# | 17 / 16    | out/in | UART2 TX / RX: outer tag reader (RS-485)       |
# | 19 / 18    | out/in | UART1 TX / RX: inner tag reader (RS-485)       |
# | 34         | in     | beam / turnstile pulse, opto, active low (*)   |
# | 35, 32     | in     | camera 0, 1 heartbeat pulse, opto, active low (*) |
# | 25         | out    | work relay ("face work permitted")             |
# | 26         | out    | hot-work power relay                           |
# | 27         | out    | entry permitted (high) / refused (low)         |
# | 21, 22, 23 | out    | lamp green, amber, red                         |
# | 4          | out    | sounder                                        |
# | 36 (VP)    | an     | CH4 4-20 mA loop over a 100 ohm shunt (ADC1)   |
# | 39 (VN)    | an     | CO 4-20 mA loop over a 100 ohm shunt (ADC1)    |
# | USB        |        | host link (UART0 via the USB bridge, console)  |
# (*) 10 k pull-up to 3V3 on the board: GPIO 34-39 have no internal pulls, and the
#     three pulse inputs are wired alike.
import time

import machine
from micropython import const

from hal.clock import WallClock, civil_from_unix, ticks_diff
from hal.flashfs import FileFlash
from hal.gasloop import CH4_FULL_SCALE_PPM, CO_FULL_SCALE_PPM, check_full_scale, fill_gas
from hal.mcu import Outputs, StdioLink
from hal.pulses import BeatTable, PulseCounter
from hal.readerline import ReaderLine

OUTER_READER_UART = const(2)
OUTER_READER_TX = const(17)
OUTER_READER_RX = const(16)
INNER_READER_UART = const(1)  # UART1's default pins are the flash: always remapped
INNER_READER_TX = const(19)
INNER_READER_RX = const(18)
BEAM_PIN = const(34)
CAMERA_PINS = (35, 32)
WORK_RELAY_PIN = const(25)
HOT_RELAY_PIN = const(26)
ENTRY_PERMITTED_PIN = const(27)
LAMP_GREEN_PIN = const(21)
LAMP_AMBER_PIN = const(22)
LAMP_RED_PIN = const(23)
SOUNDER_PIN = const(4)
CH4_LOOP_PIN = const(36)
CO_LOOP_PIN = const(39)

READER_BAUD = const(57600)
READER_RXBUF = const(512)  # a crowd at the door: ~20 lines between two polls
BEAM_DEBOUNCE_MS = const(50)
GAS_SAMPLE_MS = const(1000)
ADC_SAMPLES = const(16)
SHUNT_OHM = const(100)  # 20 mA -> 2.0 V, 21 mA -> 2.1 V: inside the 11 dB range (~2.45 V)
WATCHDOG_MS = const(5000)
WATCHDOG_MIN_MS = const(1000)  # the esp32 port's minimum
WATCHDOG_MAX_MS = const(60000)  # longer would leave a hung gateway in place for minutes
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
        if type(watchdog_ms) is not int or not WATCHDOG_MIN_MS <= watchdog_ms <= WATCHDOG_MAX_MS:
            raise ValueError(
                "watchdog_ms must be %d..%d on the ESP32, got %r"
                % (WATCHDOG_MIN_MS, WATCHDOG_MAX_MS, watchdog_ms)
            )
        self._wdt = machine.WDT(timeout=watchdog_ms)
        self._ch4_full_scale_ppm = check_full_scale("ch4_full_scale_ppm", ch4_full_scale_ppm)
        self._co_full_scale_ppm = check_full_scale("co_full_scale_ppm", co_full_scale_ppm)

        outer = machine.UART(
            OUTER_READER_UART,
            baudrate=READER_BAUD,
            tx=OUTER_READER_TX,
            rx=OUTER_READER_RX,
            rxbuf=READER_RXBUF,
            timeout=0,
        )
        inner = machine.UART(
            INNER_READER_UART,
            baudrate=READER_BAUD,
            tx=INNER_READER_TX,
            rx=INNER_READER_RX,
            rxbuf=READER_RXBUF,
            timeout=0,
        )
        self._readers = (ReaderLine(outer, 0), ReaderLine(inner, 1))
        self._next_reader = 0

        # The esp32 port's Pin.irq has no hard= argument: handlers are scheduled soon
        # after the edge, which is precise enough for heartbeats seconds apart.
        self._beam = PulseCounter(time.ticks_ms, BEAM_DEBOUNCE_MS)
        self._beam_pin = machine.Pin(BEAM_PIN, machine.Pin.IN)
        self._beam_pin.irq(handler=self._beam.on_edge, trigger=machine.Pin.IRQ_FALLING)
        self._beats = BeatTable(len(CAMERA_PINS), time.ticks_ms)
        self._camera_pins = []
        for i in range(len(CAMERA_PINS)):
            pin = machine.Pin(CAMERA_PINS[i], machine.Pin.IN)
            pin.irq(handler=self._beats.handlers[i], trigger=machine.Pin.IRQ_FALLING)
            self._camera_pins.append(pin)

        # ADC1 only: ADC2 is taken by the radio whenever Wi-Fi runs.
        self._ch4_adc = machine.ADC(machine.Pin(CH4_LOOP_PIN), atten=machine.ADC.ATTN_11DB)
        self._co_adc = machine.ADC(machine.Pin(CO_LOOP_PIN), atten=machine.ADC.ATTN_11DB)
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
        # read_uv() applies the chip's factory calibration, unlike read_u16().
        total = 0
        for _ in range(ADC_SAMPLES):
            total += adc.read_uv()
        return total // ADC_SAMPLES // SHUNT_OHM
