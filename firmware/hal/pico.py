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
import machine
from micropython import alloc_emergency_exception_buf, const

from hal.mcu import McuBoard

ADC_SAMPLES = const(16)  # averaged per reading: the RP2040 ADC is noisy (about 9 ENOB)
ADC_VREF_MV = const(3300)
SHUNT_OHM = const(150)  # 20 mA -> 3.0 V, 21 mA fault band -> 3.15 V, under the 3.3 V ref
# uA = raw_u16 * VREF_MV * 1000 / (65535 * SHUNT_OHM), reordered to stay a small int
_UA_DIVISOR = const(65535 * SHUNT_OHM // 1000)

# The pulse inputs use hard IRQs (Board._pulse_input): should a handler fail all the
# same, this buffer lets its traceback be reported. Allocated once, at import.
alloc_emergency_exception_buf(100)


class Board(McuBoard):
    CHIP = "RP2040"
    WATCHDOG_MIN_MS = 1
    WATCHDOG_MAX_MS = 8388  # the RP2040 watchdog's limit
    OUTER_READER_UART = 0
    OUTER_READER_TX = 0
    OUTER_READER_RX = 1
    INNER_READER_UART = 1
    INNER_READER_TX = 4
    INNER_READER_RX = 5
    BEAM_PIN = 2
    CAMERA_PINS = (3, 6)
    WORK_RELAY_PIN = 10
    HOT_RELAY_PIN = 11
    ENTRY_PERMITTED_PIN = 12
    LAMP_GREEN_PIN = 13
    LAMP_AMBER_PIN = 14
    LAMP_RED_PIN = 15
    SOUNDER_PIN = 16
    CH4_LOOP_PIN = 26
    CO_LOOP_PIN = 27

    def _uart_pin(self, gpio):
        # Pin objects, as the rp2 port's own examples give them.
        return machine.Pin(gpio)

    def _pulse_input(self, gpio, handler):
        # Opto outputs pull low on a pulse; the internal pull-up holds the idle level.
        # Hard IRQs: the handlers only store small ints (hal/pulses.py).
        pin = machine.Pin(gpio, machine.Pin.IN, machine.Pin.PULL_UP)
        pin.irq(handler=handler, trigger=machine.Pin.IRQ_FALLING, hard=True)
        return pin

    def _loop_adc(self, gpio):
        return machine.ADC(machine.Pin(gpio))

    def _loop_ua(self, adc):
        total = 0
        for _ in range(ADC_SAMPLES):
            total += adc.read_u16()
        return (total // ADC_SAMPLES) * ADC_VREF_MV // _UA_DIVISOR
