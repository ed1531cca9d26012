# A reader UART received by DMA into a ring buffer (hal/pico.py): the stream ReaderLine
# reads (any(), readinto(buf, n)), allocation-free. Why: an RP2040 erasing or programming
# its flash runs with interrupts off for 45-400 ms, and the UART's 32-byte FIFO then fills
# in 5.6 ms at 57,600 baud; a DMA channel keeps moving bytes into RAM meanwhile (it needs
# neither the CPU nor XIP), so no reader byte is lost to flash work (issue 9 item 6).
# Bytes are lost only if more than the ring holds arrive between two polls: a 512-byte
# ring is 89 ms of a reader sending without a gap, a whole burst of ~21 lines.
#
# The channel counts transfers down from ARM_COUNT; what it wrote since it was armed is
# ARM_COUNT - count, and the ring position follows from it (no big-int address reads on
# the hot path: a count stays below 2**30, a small int). Long before it runs out, rearm()
# stops it and starts it again with a fresh count at the same write address (the UART's
# FIFO holds the bytes of those few microseconds).
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


ARM_COUNT = const(0x3FFFFFFF)  # 2**30 - 1 transfers: 2 days of a reader never pausing
REARM_AFTER = const(0x20000000)  # bytes written: half the count used, rearm
GUARD = const(16)  # bytes the DMA may write while a poll copies: counted as overrun


class DmaRing:
    # channel: an object with count() -> transfers left, stop() (after which count()
    # no longer moves) and start(count), which starts it again from its current write
    # address (hal/pico.py's DmaChannel, or a stand-in in tests). ring: the bytes the channel writes into
    # (its size a power of two, the ring the DMA wraps in); start: the ring index of the
    # first byte the channel writes.
    def __init__(self, channel, ring, start=0):
        size = len(ring)
        if size < 64 or size & (size - 1):
            raise ValueError("DMA ring must be a power of two of at least 64 bytes, got %d" % size)
        if not 0 <= start < size:
            raise ValueError("DMA ring start %d outside 0..%d" % (start, size - 1))
        self._ch = channel
        self._ring = ring
        self._mask = size - 1
        self._origin = start  # ring index of the first byte since the channel was armed
        self._taken = 0  # bytes read since then (negative after a rearm: unread ones)
        self.overruns = 0  # times the ring overflowed between two polls
        self.lost_bytes = 0

    def _written(self):
        return ARM_COUNT - self._ch.count()

    def any(self):
        written = self._written()
        avail = written - self._taken
        if avail > self._mask + 1 - GUARD:
            # The ring went round past what we had not read: those bytes are gone, and
            # the line they were part of fails its checksum. Start again from now.
            self.overruns += 1
            self.lost_bytes += avail
            self._taken = written
            return 0
        if written >= REARM_AFTER:
            self.rearm()
        return avail

    def readinto(self, buf, n):
        avail = self.any()
        if n > avail:
            n = avail
        if n > len(buf):
            n = len(buf)
        if n <= 0:
            return None
        ring = self._ring
        mask = self._mask
        pos = self._origin + self._taken
        for i in range(n):
            buf[i] = ring[(pos + i) & mask]
        self._taken += n
        return n

    def rearm(self):
        # The channel writes on from where it stopped; what it wrote so far moves the
        # origin, and what is still unread stays behind it.
        ch = self._ch
        ch.stop()
        written = self._written()
        ch.start(ARM_COUNT)
        self._origin = (self._origin + written) & self._mask
        self._taken -= written
