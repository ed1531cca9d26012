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
import rp2
import uctypes
from micropython import alloc_emergency_exception_buf, const

from hal.dmaring import ARM_COUNT, DmaRing
from hal.mcu import McuBoard

ADC_SAMPLES = const(16)  # averaged per reading: the RP2040 ADC is noisy (about 9 ENOB)
ADC_VREF_MV = const(3300)
SHUNT_OHM = const(150)  # 20 mA -> 3.0 V, 21 mA fault band -> 3.15 V, under the 3.3 V ref
# uA = raw_u16 * VREF_MV * 1000 / (65535 * SHUNT_OHM), reordered to stay a small int
_UA_DIVISOR = const(65535 * SHUNT_OHM // 1000)

# Reader receive by DMA (hal/dmaring.py says why). RP2040 datasheet: UART0/1 at
# 0x40034000 / 0x40038000 (4.2.8: UARTDR 0x000, UARTIMSC 0x038, UARTDMACR 0x048), DREQ
# UART0_RX 21, UART1_RX 23 (2.5.3.1), the DMA's CHAN_ABORT at 0x50000444 (2.5.7).
READER_RING = const(512)  # bytes per reader: 89 ms of a reader sending without a gap
_RING_BITS = const(9)  # log2(READER_RING): the DMA wraps its write address at this boundary
_UART_BASE = (0x40034000, 0x40038000)
_DREQ_UART_RX = (21, 23)
_UARTIMSC = const(0x038)
_UARTDMACR = const(0x048)
_IMSC_RX = const(0x50)  # RXIM (bit 4) and RTIM (bit 6): the port's receive interrupts
_DMACR_RXDMAE = const(1)
_DMA_CHAN_ABORT = 0x50000444
_TRANS_COUNT = const(2)  # words of DMA.registers: TRANS_COUNT, AL1_TRANS_COUNT_TRIG
_AL1_TRANS_COUNT_TRIG = const(7)


class DmaChannel:
    # One DMA channel moving a reader UART's received bytes into a ring, byte by byte as
    # the UART asks (DREQ), the write address wrapping in the ring (for hal.dmaring).
    def __init__(self, uart, uart_id, ring):
        self._uart = uart  # kept: a UART object collected would be deinitialised
        base = _UART_BASE[uart_id]
        # The port's UART interrupt would race the DMA for the FIFO: its receive
        # interrupts off, the UART's receive DMA request on.
        machine.mem32[base + _UARTIMSC] &= ~_IMSC_RX
        machine.mem32[base + _UARTDMACR] |= _DMACR_RXDMAE
        dma = rp2.DMA()
        self._dma = dma
        self._regs = dma.registers  # pyright: ignore[reportAttributeAccessIssue]
        self._bit = 1 << dma.channel  # pyright: ignore[reportAttributeAccessIssue]
        ctrl = dma.pack_ctrl(
            size=0,
            inc_read=False,
            inc_write=True,
            ring_size=_RING_BITS,
            ring_sel=True,
            treq_sel=_DREQ_UART_RX[uart_id],
            irq_quiet=True,
            bswap=False,
        )
        dma.config(read=base, write=ring, count=ARM_COUNT, ctrl=ctrl, trigger=True)

    def count(self):
        return self._regs[_TRANS_COUNT]

    def stop(self):
        # Aborted, not paused: a paused channel keeps its count, so a new one would only
        # be loaded at the next trigger after the old count ran out.
        machine.mem32[_DMA_CHAN_ABORT] = self._bit
        while machine.mem32[_DMA_CHAN_ABORT] & self._bit:
            pass

    def start(self, count):
        self._regs[_AL1_TRANS_COUNT_TRIG] = count  # load the count and trigger


def reader_rings(n):
    # n rings of READER_RING bytes, each aligned to its size as the DMA's ring needs,
    # from one block (alignment wastes at most one ring's worth).
    block = bytearray(READER_RING * (n + 1))
    skip = -uctypes.addressof(block) & (READER_RING - 1)
    mv = memoryview(block)
    return [mv[skip + i * READER_RING : skip + (i + 1) * READER_RING] for i in range(n)]


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

    def _reader_stream(self, uart_id, tx, rx):
        # The UART sets the pins, baud rate and format; its own buffer is left unused.
        uart = self._reader_uart(uart_id, tx, rx, 32)
        if self._rings is None:
            self._rings = reader_rings(2)
        ring = self._rings[0 if uart_id == self.OUTER_READER_UART else 1]
        return DmaRing(DmaChannel(uart, uart_id, ring), ring)

    _rings = None

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
