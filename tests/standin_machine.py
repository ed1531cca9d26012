# A stand-in for MicroPython's `machine` on an RP2040 or an ESP32 (tests and benches
# only): just enough of Pin, UART, ADC, WDT, RTC, mem32 and reset_cause for the real
# hal/pico.py or hal/esp32.py and hal/mcu.py to run under the WebAssembly port, whose
# build has no `machine`. The bench is
# the world around the board: it pulses pins, puts reader bytes on the wire (straight
# into a DMA ring once hal/pico.py has set one up: see rp2.py) and reads the outputs.
# Nothing here allocates per call on the paths the firmware uses each step.

PINS = {}  # gpio -> Pin, as the firmware made them
UARTS = {}  # uart id -> UART


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, gpio, mode=-1, pull=-1, value=None):
        self.gpio = gpio
        self.mode = mode
        self.level = 0 if value is None else value
        self.handler = None
        self.writes = 0
        PINS[gpio] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = 1 if v else 0
        self.writes += 1
        return None

    def irq(self, handler=None, trigger=IRQ_FALLING, hard=False):
        self.handler = handler

    def pulse(self):
        # A falling edge, as an opto pulling the pin low: the IRQ handler runs.
        if self.handler is not None:
            self.handler(self)


class UART:
    # Bytes a reader sends wait in a preallocated ring (the port's interrupt-fed rxbuf)
    # until read, unless hal/pico.py moved the receive to DMA (rp2.DMA takes them then).
    # Allocation-free both ways, so a heap figure is the firmware's own.
    def __init__(self, uart_id, baudrate=9600, tx=None, rx=None, rxbuf=256, timeout=0):
        self.id = uart_id
        self.buf = bytearray(512)
        self.head = 0  # bytes ever put in
        self.tail = 0  # bytes ever read
        UARTS[uart_id] = self

    def put(self, data):
        size = len(self.buf)
        if self.head - self.tail + len(data) > size:
            raise RuntimeError("stand-in UART %d: receive buffer overflow" % self.id)
        for b in data:
            self.buf[self.head % size] = b
            self.head += 1

    def any(self):
        return self.head - self.tail

    def readinto(self, buf, n=None):
        avail = self.head - self.tail
        if n is None or n > len(buf):
            n = len(buf)
        if n > avail:
            n = avail
        if n <= 0:
            return None
        size = len(self.buf)
        for i in range(n):
            buf[i] = self.buf[(self.tail + i) % size]
        self.tail += n
        return n


class ADC:
    # A 4-20 mA loop at 4.2 mA (CH4 0.05 %, CO 12 ppm at the default full scales) over
    # the Pico's 150 ohm shunt (read_u16) or the ESP32's 100 ohm one (read_uv, calibrated
    # microvolts, hal/esp32.py), wobbling by one count so the gas rule does not judge the
    # sensor stuck.
    ATTN_11DB = 3  # the esp32 port's attenuation for its ~2.45 V range

    def __init__(self, pin, atten=None):
        self.raw = 12511  # 4.2 mA * 150 ohm = 0.63 V of 3.3 V, in 16 bits
        self.uv = 420000  # 4.2 mA * 100 ohm = 0.42 V
        self.atten = atten
        self.flip = 0

    def read_u16(self):
        self.flip = 1 - self.flip
        return self.raw + self.flip

    def read_uv(self):
        self.flip = 1 - self.flip
        return self.uv + 100 * self.flip


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class RTC:
    def __init__(self):
        self.now = (2020, 1, 1, 2, 0, 0, 0, 0)

    def datetime(self, t=None):
        if t is None:
            return self.now
        self.now = t
        return None


class _Mem32:
    # Peripheral registers as a dict of words: what hal/pico.py writes is kept for the
    # bench to check (the UART's interrupt mask and DMA enable); CHAN_ABORT reads 0.
    def __init__(self):
        self.words = {}

    def __getitem__(self, addr):
        return self.words.get(addr, 0)

    def __setitem__(self, addr, value):
        self.words[addr] = value & 0xFFFFFFFF


mem32 = _Mem32()
PWRON_RESET = 1
WDT_RESET = 3
resets = [0]


def reset_cause():
    return PWRON_RESET


def reset():
    resets[0] += 1
    raise SystemExit("machine.reset()")


def freq(hz=None):
    return 125_000_000
