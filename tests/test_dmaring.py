# micropython-test
# hal/dmaring.py (and hal.flashfs write paths, below): a reader UART received by DMA into a ring (the Pico's reader path, so
# that flash work with interrupts off loses no reader byte). The channel here is a
# stand-in that writes into the ring as the RP2040's DMA does (byte by byte, the write
# address wrapping in the ring, the count going down); hal/pico.py's DmaChannel drives
# the real one and is proven by the type check against the rp2 stubs.
import gc

from mpcheck import raises

from hal import dmaring
from hal.dmaring import ARM_COUNT, GUARD, REARM_AFTER, DmaRing
from hal.readerline import ReaderLine, checksum


def tag_line(tag):
    body = b"TAG,%d,-61,0" % tag
    return b"$%s*%02X\r\n" % (body, checksum(body))


class StandInDma:
    def __init__(self, ring, start=0):
        self.ring = ring
        self.left = ARM_COUNT
        self.at = start  # ring index of the next byte
        self.running = True
        self.starts = 0

    def count(self):
        return self.left

    def stop(self):
        self.running = False

    def start(self, count):
        self.left = count
        self.running = True
        self.starts += 1

    def receive(self, data):
        # Bytes on the wire: each one written where the channel is, as the UART asks.
        assert self.running, "bytes arrived while the channel was stopped"
        size = len(self.ring)
        for b in data:
            self.ring[self.at] = b
            self.at = (self.at + 1) % size
            self.left -= 1


def rig(size=128, start=0):
    ring = bytearray(size)
    dma = StandInDma(ring, start)
    return dma, DmaRing(dma, ring, start), ring


def read_all(reader, limit=100):
    out = [0, 0, 0, 0]
    got = []
    for _ in range(limit):
        if reader.poll(out):
            got.append(out[1])
    return got


def test_lines_come_through_the_ring_as_they_arrive():
    dma, stream, _ = rig()
    reader = ReaderLine(stream, 0)
    assert stream.any() == 0
    assert read_all(reader) == []
    dma.receive(tag_line(40213))
    assert stream.any() == len(tag_line(40213))
    assert read_all(reader) == [40213]
    assert stream.any() == 0


def test_the_ring_wraps_and_lines_across_the_wrap_parse():
    # A 128-byte ring and lines of ~21 bytes: the wrap falls inside lines again and again.
    dma, stream, _ = rig(128, start=100)
    reader = ReaderLine(stream, 1)
    got = []
    for tag in range(1, 60):
        dma.receive(tag_line(tag))
        got.extend(read_all(reader))
    assert got == list(range(1, 60))
    assert stream.overruns == 0 and reader.bad_lines == 0


def test_a_burst_up_to_the_ring_is_kept_whole():
    # Everything a ring holds arriving between two polls (a flash erase, say) is kept.
    dma, stream, _ = rig(512)
    reader = ReaderLine(stream, 0)
    burst = b""
    tag = 1000
    while len(burst) + len(tag_line(tag)) <= 512 - GUARD:
        burst += tag_line(tag)
        tag += 1
    dma.receive(burst)
    assert read_all(reader) == list(range(1000, tag))
    assert stream.overruns == 0


def test_more_than_the_ring_between_two_polls_is_an_overrun_counted_never_a_wrong_tag():
    dma, stream, _ = rig(128)
    reader = ReaderLine(stream, 0)
    for tag in range(1, 11):  # ~200 bytes into 128: the oldest are overwritten
        dma.receive(tag_line(tag))
    assert read_all(reader) == []
    assert stream.overruns == 1 and stream.lost_bytes > 128
    # What follows the overrun is read again; the line torn by it is dropped as bad.
    dma.receive(b"9,-61,0*00\r\n" + tag_line(77))
    assert read_all(reader) == [77]
    assert reader.bad_lines == 1


def test_the_channel_is_rearmed_before_its_count_runs_out():
    dma, stream, _ = rig(128)
    reader = ReaderLine(stream, 0)
    # As if REARM_AFTER - 30 bytes had come and been read: the channel is 30 bytes short
    # of the point where the stream rearms it.
    done = REARM_AFTER - 30
    dma.left = ARM_COUNT - done
    dma.at = done % 128
    stream._taken = done
    got = []
    for tag in range(1, 8):
        dma.receive(tag_line(tag))
        got.extend(read_all(reader))
    assert got == list(range(1, 8))
    assert dma.starts == 1 and dma.left > ARM_COUNT - 200
    assert stream.overruns == 0


def test_rearming_with_bytes_unread_keeps_them():
    dma, stream, _ = rig(128)
    reader = ReaderLine(stream, 0)
    dma.receive(tag_line(5) + tag_line(6)[:7])
    stream.rearm()
    dma.receive(tag_line(6)[7:] + tag_line(7))
    assert read_all(reader) == [5, 6, 7]
    assert dma.starts == 1


def test_ring_size_and_start_are_checked():
    raises(ValueError, DmaRing, StandInDma(bytearray(100)), bytearray(100))
    raises(ValueError, DmaRing, StandInDma(bytearray(32)), bytearray(32))
    raises(ValueError, DmaRing, StandInDma(bytearray(128)), bytearray(128), 128)
    assert dmaring.ARM_COUNT < 1 << 30  # a small int on a 32-bit board


def test_polling_the_ring_allocates_nothing():
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    dma, stream, _ = rig(512)
    reader = ReaderLine(stream, 0)
    line = tag_line(40213)
    out = [0, 0, 0, 0]
    for _ in range(5):
        dma.receive(line)
        reader.poll(out)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(200):
        reader.poll(out)  # nothing waiting
        stream.any()
    after = gc.mem_alloc()
    gc.enable()
    assert after - before == 0, after - before


# ---- hal.flashfs: the paths write() keeps ----


def _empty_folder():
    try:
        import tempfile

        return tempfile.mkdtemp(prefix="shaftgate-flashfs-")
    except ImportError:  # MicroPython: its in-memory file system
        import os

        for d in ("/tmp", "/tmp/flashfs-paths"):
            try:
                os.mkdir(d)
            except OSError:
                pass
        return "/tmp/flashfs-paths"


def test_file_flash_writes_past_its_kept_paths_each_to_its_own_file():
    from hal.flashfs import FileFlash

    fl = FileFlash(_empty_folder())
    names = ["f%02d" % i for i in range(40)]  # more than the 16 names write() keeps
    for rnd in range(2):
        for i in range(len(names)):
            fl.write(names[i], b"%d:%d" % (rnd, i))
    for i in range(len(names)):
        assert fl.read(names[i]) == b"1:%d" % i
    assert fl.names() == names
    raises(ValueError, fl.write, "a/b", b"x")  # a bad name is refused, cached or not
    raises(ValueError, fl.write, "f00.tmp", b"x")
