# The gateway on the REAL board HAL (hal/pico.py over hal/mcu.py), under MicroPython with
# stand-ins for what the WebAssembly port lacks (tests/standin_*.py: machine, rp2, the tick
# counter, two functions of micropython): the same shaft as gateway_work.Shaft (2,000 in
# the roster, 300 underground), but every step reads its readers through ReaderLine and
# the DMA ring, samples gas through the ADC, keeps its wall clock with hal.clock and
# drives its outputs through hal.mcu.Outputs. Only the console link is the bench's (the
# port's stdin cannot be fed from here): BenchLink has StdioLink's three methods.
import os
import sys

_BENCHES = [p for p in sys.path if p.endswith("/benches")]
_TESTS = (_BENCHES[0][: -len("benches")] if _BENCHES else "") + "tests"
if _TESTS not in sys.path:
    sys.path.append(_TESTS)  # the stand-ins live beside the tests that use them too

import standin_machine as machine  # noqa: E402
import standin_pico  # noqa: E402
import standin_rp2 as rp2  # noqa: E402
import standin_ticks as ticks  # noqa: E402
from gateway_work import NOW_S, POOL, Shaft, fresh_root  # noqa: E402

from hal.readerline import checksum  # noqa: E402

mcu, pico = standin_pico.load()


def reader_line(tag):
    body = b"TAG,%d,-60,0" % tag
    return b"$%s*%02X\r\n" % (body, checksum(body))


class BenchLink:
    # StdioLink's methods over a bytearray the bench fills (the host's requests).
    def __init__(self):
        self.rx = bytearray()
        self.at = 0
        self.tx_bytes = 0

    def read_into(self, buf):
        at = self.at
        n = len(self.rx) - at
        if n <= 0:
            if at:
                self.rx = bytearray()
                self.at = 0
            return 0
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.rx[at + i]
        self.at = at + n
        return n

    def writable(self):
        return True

    def write(self, data):
        self.tx_bytes += len(data)


def _board_root():
    # Under MicroPython (the figures' run, an in-memory file system): a fresh folder whose
    # path is as long as the board's own (hal/mcu.py FLASH_ROOT, "/data"), so each path
    # the firmware builds to open or remove a file costs the heap it costs on a Pico; the
    # bench's usual folder (/tmp/shaftgate-bench-N) made every path 32 B longer.
    if sys.implementation.name != "micropython":
        return fresh_root()
    width = len(getattr(mcu, "FLASH_ROOT", "/data"))
    for i in range(1000):
        root = ("/d%0" + str(width - 2) + "d") % i
        try:
            os.mkdir(root)
        except OSError:
            continue
        return root
    return fresh_root()


class PicoBench(pico.Board):
    # The real Pico board, plus the bench's side of the world (BenchBoard's names).
    def __init__(self):
        mcu.FLASH_ROOT = _board_root()
        pico.Board.__init__(self)
        self._link = BenchLink()
        self._camera = machine.PINS[self.CAMERA_PINS[0]]
        self.set_rtc_s(NOW_S)

    @property
    def ms(self):
        return ticks.now[0]

    @ms.setter
    def ms(self, v):
        ticks.now[0] = v

    @property
    def rx(self):
        return self._link.rx

    @property
    def work(self):
        return self._outputs._state[0] == 1

    @property
    def tx_bytes(self):
        return self._link.tx_bytes


class RealHalShaft(Shaft):
    # gateway_work.Shaft on PicoBench: reads go on the readers' wires as reader lines.
    def __init__(self, host=False, staged=False):
        self._lines = {}
        for t in range(1, 301 + POOL + 1):
            self._lines[t] = reader_line(t)
        if staged:  # (a tree before staged shafts is benched with this file too)
            Shaft.__init__(self, host, PicoBench(), True)
        else:
            Shaft.__init__(self, host, PicoBench())

    def idle(self, ms):
        self.board.ms += ms
        self.board._camera.pulse()  # the camera beats on every step
        self.gw.step()

    def _read(self, point, tag):
        rp2.wire(point, self._lines[tag])  # outer reader on UART0, inner on UART1

    def crossing(self, tag, into):
        self._read(0 if into else 1, tag)
        self.idle(200)
        self._read(1 if into else 0, tag)
        self.idle(200)
        if not into:
            self._read(0, tag)  # twice at the outer point on the way out
            self.idle(100)
        self.idle(2200)
