"""A fault-injecting serial proxy: a bad cable between a host and a gateway (issue 13).

    proxy = FaultProxy(board.port, home / "proxy-tty", Faults(0.01, 0.01, 0.01, 0.01), seed=7)
    ... the host opens proxy.port instead of board.port ...
    proxy.counts   # what was done to which direction
    proxy.close()

Two pty pairs: the board's own (vboard/line.py, its slave opened here as the host would
open it) and one made here, whose slave `port` (a symlink, like the board's) the host
opens. A thread forwards bytes both ways and, with its own seeded random stream, drops,
corrupts, duplicates and delays them.

The faults strike per frame, not per byte. Bytes are cut at each 0x00 (a gatewire frame
boundary, frame.py), and each piece that carries data is, independently for each fault
with its rate: shortened by one byte (drop), given one flipped byte (corrupt), sent with
one byte or the whole piece twice (duplicate: a doubled byte is damage, a doubled frame
is a retransmission the protocol must see as such), or held back for a random time in
`delay_s` (delay; what follows waits behind it, since a serial line never reorders).
Per byte, 1 % of each would damage a 600-byte page of events with probability
1 - 0.97**600 > 99.99 %: a dead link, which measures nothing but the timeouts. Per frame,
1 % is a line far worse than a healthy RS-485 run and still one the link must carry.
Bytes with no zero after them go on as a piece of their own once the line has been idle
for IDLE_S or they reach MAX_PIECE: garbage must not stall the line.
"""

import os
import random
import select
import threading
import time
import tty
from pathlib import Path

MAX_PIECE = 8192
IDLE_S = 0.05  # bytes with no zero after them go on once the line is this long idle
HOST_TO_BOARD = "host->board"
BOARD_TO_HOST = "board->host"
FAULTS = ("drop", "corrupt", "duplicate", "delay")


class Faults:
    """Rates per frame (0..1) of each fault, and how long a delay holds the line."""

    def __init__(self, drop=0.0, corrupt=0.0, duplicate=0.0, delay=0.0, delay_s=(0.02, 0.5)):
        for name, rate in (("drop", drop), ("corrupt", corrupt), ("duplicate", duplicate),
                           ("delay", delay)):  # fmt: skip
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError("%s rate must be a number in 0..1, got %r" % (name, rate))
        lo, hi = delay_s
        if not 0 <= lo <= hi <= 30:
            raise ValueError("delay_s must be (low, high) with 0 <= low <= high <= 30 s")
        self.drop, self.corrupt, self.duplicate, self.delay = drop, corrupt, duplicate, delay
        self.delay_s = (float(lo), float(hi))

    @classmethod
    def each(cls, rate, delay_s=(0.02, 0.5)):
        return cls(rate, rate, rate, rate, delay_s)

    def describe(self):
        return "drop %g, corrupt %g, duplicate %g, delay %g (%g-%g s) per frame" % (
            self.drop, self.corrupt, self.duplicate, self.delay, *self.delay_s,
        )  # fmt: skip


class _Direction:
    def __init__(self, name, out_fd):
        self.name = name
        self.out_fd = out_fd
        self.piece = bytearray()
        self.piece_at = 0.0  # when the bytes of `piece` started to wait for their zero
        self.queue = []  # [release monotonic time, bytes], in order
        self.held_until = 0.0
        self.counts = dict.fromkeys(("frames", "bytes_in", "bytes_out", *FAULTS), 0)


class FaultProxy:
    def __init__(self, device, link_path, faults, seed):
        self.device = str(device)
        self.link_path = Path(link_path)
        self.faults = faults
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._closing = False
        self.enabled = True  # False: a clean cable (the end of a run drains through it)
        self._dev = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._dev)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        temp = self.link_path.with_name(self.link_path.name + ".new")
        temp.unlink(missing_ok=True)
        os.symlink(os.ttyname(self._slave), temp)
        os.replace(temp, self.link_path)
        self._dirs = {
            self._master: _Direction(HOST_TO_BOARD, self._dev),
            self._dev: _Direction(BOARD_TO_HOST, self._master),
        }
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()

    @property
    def port(self):
        return str(self.link_path)

    @property
    def counts(self):
        with self._lock:
            return {d.name: dict(d.counts) for d in self._dirs.values()}

    def close(self):
        if self._closing:
            return
        self._closing = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for fd in (self._dev, self._master, self._slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.link_path.unlink(missing_ok=True)

    # ---- the thread ----

    def _run(self):
        while not self._closing:
            now = time.monotonic()
            timeout = 0.5
            for d in self._dirs.values():
                if d.queue:
                    timeout = min(timeout, max(0.0, d.queue[0][0] - now))
                if d.piece:
                    timeout = min(timeout, max(0.0, d.piece_at + IDLE_S - now))
            readable, _, _ = select.select([self._wake_r, self._master, self._dev], [], [], timeout)
            if self._wake_r in readable:
                os.read(self._wake_r, 64)
            for fd in (self._master, self._dev):
                if fd in readable:
                    try:
                        data = os.read(fd, 4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        # The host has closed its end (EIO on a master with no slave
                        # open but ours cannot happen: we hold the slave); back off.
                        time.sleep(0.05)
                        continue
                    self._take(self._dirs[fd], data)
            for d in self._dirs.values():
                if d.piece and time.monotonic() - d.piece_at >= IDLE_S:
                    self._emit(d, bytes(d.piece))  # an idle line: no zero is coming
                    d.piece.clear()
                self._flush(d)

    def _take(self, d, data):
        with self._lock:
            d.counts["bytes_in"] += len(data)
        start = 0
        while True:
            cut = data.find(b"\x00", start)
            if cut < 0:
                if not d.piece:
                    d.piece_at = time.monotonic()
                d.piece += data[start:]
                if len(d.piece) >= MAX_PIECE:
                    self._emit(d, bytes(d.piece))
                    d.piece.clear()
                return
            d.piece += data[start : cut + 1]
            self._emit(d, bytes(d.piece))
            d.piece.clear()
            start = cut + 1

    def _emit(self, d, piece):
        rng = self._rng
        f = self.faults
        delay = 0.0
        if len(piece) > 1 and self.enabled:
            with self._lock:
                d.counts["frames"] += 1
                if rng.random() < f.drop:
                    i = rng.randrange(len(piece))
                    piece = piece[:i] + piece[i + 1 :]
                    d.counts["drop"] += 1
                if rng.random() < f.corrupt and piece:
                    i = rng.randrange(len(piece))
                    piece = piece[:i] + bytes([piece[i] ^ rng.randrange(1, 256)]) + piece[i + 1 :]
                    d.counts["corrupt"] += 1
                if rng.random() < f.duplicate and piece:
                    if rng.random() < 0.5:
                        piece = piece + piece
                    else:
                        i = rng.randrange(len(piece))
                        piece = piece[: i + 1] + piece[i:]
                    d.counts["duplicate"] += 1
                if rng.random() < f.delay:
                    delay = rng.uniform(*f.delay_s)
                    d.counts["delay"] += 1
        now = time.monotonic()
        release = max(now + delay, d.held_until)
        d.held_until = release
        d.queue.append([release, piece])

    def _flush(self, d):
        now = time.monotonic()
        while d.queue and d.queue[0][0] <= now:
            piece = d.queue[0][1]
            try:
                n = os.write(d.out_fd, piece)
            except BlockingIOError:
                return  # the far end is not reading: try again on the next turn
            except OSError:
                d.queue.clear()  # no one on the far end: bytes into a dead line are lost
                return
            with self._lock:
                d.counts["bytes_out"] += n
            if n < len(piece):
                d.queue[0][1] = piece[n:]
                return
            d.queue.pop(0)
