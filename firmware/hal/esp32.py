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
import machine
from micropython import const

from hal.mcu import McuBoard

ADC_SAMPLES = const(16)
SHUNT_OHM = const(100)  # 20 mA -> 2.0 V, 21 mA -> 2.1 V: inside the 11 dB range (~2.45 V)


class Board(McuBoard):
    CHIP = "ESP32"
    WATCHDOG_MIN_MS = 1000  # the esp32 port's minimum
    WATCHDOG_MAX_MS = 60000  # longer would leave a hung gateway in place for minutes
    OUTER_READER_UART = 2
    OUTER_READER_TX = 17
    OUTER_READER_RX = 16
    INNER_READER_UART = 1  # UART1's default pins are the flash: always remapped
    INNER_READER_TX = 19
    INNER_READER_RX = 18
    BEAM_PIN = 34
    CAMERA_PINS = (35, 32)
    WORK_RELAY_PIN = 25
    HOT_RELAY_PIN = 26
    ENTRY_PERMITTED_PIN = 27
    LAMP_GREEN_PIN = 21
    LAMP_AMBER_PIN = 22
    LAMP_RED_PIN = 23
    SOUNDER_PIN = 4
    CH4_LOOP_PIN = 36  # ADC1 only: ADC2 is taken by the radio whenever Wi-Fi runs
    CO_LOOP_PIN = 39

    def _uart_pin(self, gpio):
        # GPIO numbers, as the esp32 port's own examples give them.
        return gpio

    def _pulse_input(self, gpio, handler):
        # No internal pull: GPIO 34-39 have none, so all three inputs use the board's 10 k.
        # The esp32 port's Pin.irq has no hard= argument: handlers are scheduled soon
        # after the edge, which is precise enough for heartbeats seconds apart.
        pin = machine.Pin(gpio, machine.Pin.IN)
        pin.irq(handler=handler, trigger=machine.Pin.IRQ_FALLING)
        return pin

    def _loop_adc(self, gpio):
        return machine.ADC(machine.Pin(gpio), atten=machine.ADC.ATTN_11DB)

    def _loop_ua(self, adc):
        # read_uv() applies the chip's factory calibration, unlike read_u16().
        total = 0
        for _ in range(ADC_SAMPLES):
            total += adc.read_uv()
        return total // ADC_SAMPLES // SHUNT_OHM
