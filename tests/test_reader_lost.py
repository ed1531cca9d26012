# micropython-test
# R-DATA-1: what a board reports as reader lines lost (board.reader_lost, hal.mcu's is
# ReaderLine.lost()): each line that failed its checksum or was cut, and on the Pico at
# least one per 26 bytes a DMA ring overrun dropped. The ring here is fed by a stand-in
# DMA channel as tests/test_dmaring.py's. tests/test_app_reader_lost.py: the gateway's
# READER_DATA_LOST from these counts.
from hal.dmaring import ARM_COUNT, DmaRing
from hal.readerline import WIRE_LINE_MAX, ReaderLine, checksum

RING = 128  # small, so a burst overruns it quickly


def tag_line(tag, good=True):
    body = b"TAG,%d,-61,0" % tag
    return b"$%s*%02X\r\n" % (body, checksum(body) ^ (0 if good else 1))


class StandInDma:
    # Writes into the ring as the RP2040's DMA does: byte by byte, wrapping, counting down.
    def __init__(self, ring):
        self.ring = ring
        self.left = ARM_COUNT
        self.at = 0

    def count(self):
        return self.left

    def stop(self):
        pass

    def start(self, count):
        self.left = count

    def receive(self, data):
        for b in data:
            self.ring[self.at] = b
            self.at = (self.at + 1) % len(self.ring)
            self.left -= 1


def test_reader_lost_counts_overrun_bytes_as_lines_and_bad_checksums():
    ring = bytearray(RING)
    dma = StandInDma(ring)
    reader = ReaderLine(DmaRing(dma, ring), 1)
    out = [0, 0, 0, 0]
    dma.receive(tag_line(5) + tag_line(6, good=False) + tag_line(7))
    got = []
    for _ in range(5):
        if reader.poll(out):
            got.append(out[1])
    assert got == [5, 7]
    assert reader.lost() == 1  # the corrupted line
    burst = b"".join(tag_line(100 + i) for i in range(8))
    dma.receive(burst)
    reader.poll(out)
    assert reader.lost() == 1 + len(burst) // WIRE_LINE_MAX
    assert reader.lost() >= 1 + 8 * 19 // WIRE_LINE_MAX  # 8 lines of 19 bytes: at least 5


def test_a_uart_reader_counts_only_its_bad_lines():
    class Uart:
        def __init__(self, data):
            self.data = bytearray(data)

        def any(self):
            return len(self.data)

        def readinto(self, buf, n):
            n = min(n, len(self.data), len(buf))
            buf[:n] = self.data[:n]
            self.data = self.data[n:]
            return n or None

    reader = ReaderLine(Uart(tag_line(1) + b"$TAG,2,-6\r\n" + tag_line(3)), 0)
    out = [0, 0, 0, 0]
    for _ in range(5):
        reader.poll(out)
    assert (reader.tag_lines, reader.lost()) == (2, 1)
