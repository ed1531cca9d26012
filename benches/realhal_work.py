# The gateway on the REAL board HAL (hal/pico.py, or hal/esp32.py, over hal/mcu.py), under
# MicroPython with stand-ins for what the WebAssembly port lacks (tests/standin_*.py:
# machine, rp2, the tick counter, two functions of micropython): the same shaft as
# gateway_work.Shaft (2,000 in the roster, 300 underground), but every step reads its
# readers through ReaderLine and the DMA ring (the Pico) or the UART's receive (the
# ESP32), samples gas through the ADC, keeps its wall clock with hal.clock and drives its
# outputs through hal.mcu.Outputs. Only the console link is the bench's (the
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


class _BenchSide:
    # The bench's side of the world around a real board (BenchBoard's names).
    def _bench_init(self, board_class):
        mcu.FLASH_ROOT = _board_root()
        board_class.__init__(self)
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


class PicoBench(_BenchSide, pico.Board):
    # The real Pico board: its readers received by DMA (hal/pico.py, rp2 stand-in).
    def __init__(self):
        self._bench_init(pico.Board)


def esp32_bench():
    # The real ESP32 board (hal/esp32.py): its readers on the port's UART receive, its
    # gas loops read in calibrated microvolts. Imported only when asked: a bench run
    # makes one kind of board (a Pico's DMA channels would take the UART 1 of an ESP32
    # made after it in the same interpreter: rp2.wire).
    import standin_esp32

    esp32 = standin_esp32.load()[1]

    class Esp32Bench(_BenchSide, esp32.Board):
        def __init__(self):
            self._bench_init(esp32.Board)

    return Esp32Bench()


class RealHalShaft(Shaft):
    # gateway_work.Shaft on PicoBench (or the ESP32's board, esp32=True): reads go on the
    # readers' wires as reader lines.
    def __init__(self, host=False, staged=False, esp32=False):
        self._lines = {}
        for t in range(1, 301 + POOL + 1):
            self._lines[t] = reader_line(t)
        board = esp32_bench() if esp32 else PicoBench()
        self._uarts = (board.OUTER_READER_UART, board.INNER_READER_UART)
        if staged:  # (a tree before staged shafts is benched with this file too)
            Shaft.__init__(self, host, board, True)
        else:
            Shaft.__init__(self, host, board)

    def idle(self, ms):
        self.board.ms += ms
        self.board._camera.pulse()  # the camera beats on every step
        self.gw.step()

    def _read(self, point, tag):
        # Into the reader's DMA ring on a Pico, its UART's receive buffer on an ESP32.
        rp2.wire(self._uarts[point], self._lines[tag])

    def crossing(self, tag, into):
        self._read(0 if into else 1, tag)
        self.idle(200)
        self._read(1 if into else 0, tag)
        self.idle(200)
        if not into:
            self._read(0, tag)  # twice at the outer point on the way out
            self.idle(100)
        self.idle(2200)
