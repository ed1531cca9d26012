# The workload of the gateway benchmarks (upy_gateway.py, bench_gateway.py): the whole
# application, gateway.app.Gateway, stepping on a board whose inputs and outputs allocate
# nothing themselves (so a heap delta is the application's own), with its flash a real
# FileFlash folder: a shaft with a roster of 2,000, 300 underground, a live camera, a gas
# sensor sampled every step, and people crossing. Runs unchanged under MicroPython and
# CPython.
import os

from gateway import app, store
from gateway.caps import EPOCH_S
from gateway.roster import Roster
from gatewire import cbor
from hal.flashfs import FileFlash


def host_side():
    # The host's side of the link (gatewire.specs' messages.request, gatewire.signing's
    # auth.Signer, frame.encode), imported when the bench first talks to the gateway: a
    # gateway imports gatewire.messages, frame and auth itself, as its boot's last phase
    # (gateway.app.Gateway._link_in), and a bench that held them already would take them
    # off the board's figures (benches/fit_probe.mjs counts the bench's code apart).
    # Either of specs and signing may be absent from a tree from before it existed.
    global auth, frame, messages
    from gatewire import auth, frame, messages

    for name in ("specs", "signing"):
        try:
            __import__("gatewire." + name)
        except ImportError:
            pass


NOW_S = 1749960000
ROSTER = 2000
IN_ZONE = 300
POOL = 50  # tags that go in and out during measured crossings
KEY = bytes(range(32))
CONFIG = {
    "gateway_id": "gw-shaft-bench",
    "zone_id": "shaft-1",
    "role": "shaft",
    "zone_kind": "shaft",
    "mine_cap": 1000,
    "log_capacity": 65536,
}
_roots = [0]


def fresh_root():
    _roots[0] += 1
    try:
        import tempfile

        try:
            return tempfile.mkdtemp(prefix="shaftgate-bench-", dir="/dev/shm")
        except OSError:
            return tempfile.mkdtemp(prefix="shaftgate-bench-")
    except ImportError:
        try:
            os.mkdir("/tmp")
        except OSError:
            pass
        root = "/tmp/shaftgate-bench-%d" % _roots[0]
        os.mkdir(root)
        return root


class BenchBoard:
    # The HAL's methods, each allocation-free on the step path; its RTC counts clock
    # seconds as the real boards' does (hal/mcu.py), a small int.
    name = "bench"
    RTC_EPOCH_S = EPOCH_S

    def __init__(self, root):
        self.flash = FileFlash(root)
        self.ms = 1000
        self.rtc = NOW_S - EPOCH_S
        self.point = -1  # the one pending tag read, -1: none
        self.tag = 0
        self.wobble = 0
        self.rx = bytearray()
        self.rx_at = 0
        self.tx_bytes = 0
        self.watchdog_feeds = 0
        self.lamp = 3
        self.sounder = False
        self.work = False
        self.hot = False
        self.refused = True

    def ticks_ms(self):
        return self.ms

    def rtc_s(self):
        return self.rtc

    def set_rtc_s(self, t):
        self.rtc = t - EPOCH_S  # unix seconds in, as the host sends them

    def read_tag(self, out):
        if self.point < 0:
            return False
        out[0] = self.point
        out[1] = self.tag
        out[2] = -60
        out[3] = 0
        self.point = -1
        return True

    def beam_count(self):
        return 0

    def video_beats(self, out):
        out[0] = self.ms  # the camera beats on every step
        return 1

    def read_gas(self, out):
        # 0.2 % methane, wobbling by 1 ppm as a real sensor does (else "stuck").
        self.wobble = 1 - self.wobble
        out[0] = 2000 + self.wobble
        out[1] = 0
        out[2] = 0
        return True

    def set_lamp(self, colour):
        self.lamp = colour

    def set_sounder(self, on):
        self.sounder = on

    def set_work_relay(self, on):
        self.work = on

    def set_hot_relay(self, on):
        self.hot = on

    def set_entry_refused(self, on):
        self.refused = on

    def link_read(self, buf):
        # From a read position, not by re-slicing rx: the board's own copying is not the
        # gateway's heap.
        at = self.rx_at
        n = len(self.rx) - at
        if n <= 0:
            if at:
                self.rx = bytearray()
                self.rx_at = 0
            return 0
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.rx[at + i]
        self.rx_at = at + n
        return n

    def rx_pending(self):
        return len(self.rx) - self.rx_at

    def link_write(self, data):
        self.tx_bytes += len(data)

    def feed_watchdog(self):
        self.watchdog_feeds += 1


class Shaft:
    def __init__(self, host=False, board=None, staged=False):
        # board: a BenchBoard whose flash another bench chose (bench_flash: littlefs)
        # staged: the roster, the boot and the 300 crossings are left to populate(), a
        # generator a test runs a part at a time (tests/hostcalls.py): one call doing all
        # of it would be charged its garbage whole on the WebAssembly port.
        self.board = board if board is not None else BenchBoard(fresh_root())
        self.host = host
        self.rid = 0
        if not staged:
            for _ in self.populate():
                pass

    def populate(self):
        b = self.board
        b.flash.write(store.KEY_FILE, KEY)
        store.write_cbor(b.flash, store.CONFIG_FILE, CONFIG)
        roster = Roster(None, b.flash)
        roster.begin(ROSTER)
        chunk = []
        for i in range(ROSTER):
            chunk.append([i + 1, 100000 + i, 1 + i % 12, NOW_S + 86400 * 365, 0])
            if len(chunk) == 100:
                roster.add(chunk)
                chunk = []
                yield
        roster.commit(log=False)
        roster = None
        yield
        self.gw = app.Gateway(b)
        host_side()
        self.signer = auth.Signer(KEY, 1000)
        yield
        if self.host:
            self.request(messages.request("hello", self._rid(), min_version=1, max_version=1))
        for _ in range(20):  # video held past its hold-off: work on
            self.idle(500)
        assert b.work, "the bench shaft must be working"
        t = 1
        while t <= IN_ZONE:
            self.crossing(t, True)
            if t % 25 == 0:
                yield
            t += 1
        assert self.gw.zone.count == IN_ZONE, self.gw.zone.count
        self.ack()

    def _rid(self):
        self.rid += 1
        return self.rid

    def request(self, env):
        self.board.rx.extend(frame.encode(cbor.dumps(env)))
        self.idle(10)

    def ack(self):
        # The host's acknowledgement of everything, as a signed command over the link.
        env = messages.request("ack", self._rid(), up_to_seq=self.gw.log.last_seq)
        self.request(self.signer.sign(env))

    def idle(self, ms):
        self.board.ms += ms
        self.gw.step()

    def crossing(self, tag, into):
        # One person through the doorway: a read at each point, then past the settle time.
        b = self.board
        gw = self.gw
        b.point = 0 if into else 1
        b.tag = tag
        b.ms += 200
        gw.step()
        b.point = 1 if into else 0
        b.tag = tag
        b.ms += 200
        gw.step()
        if not into:
            # Twice at the outer point on the way out: one outer read is never an exit.
            b.point = 0
            b.tag = tag
            b.ms += 100
            gw.step()
        b.ms += 2200
        gw.step()

    def run(self, n, seconds=None):
        # n crossings by the POOL tags, each going in then out; seconds[k]: the wall
        # clock in clock seconds.
        b = self.board
        for k in range(n):
            if seconds is not None:
                b.rtc = seconds[k]
            self.crossing(IN_ZONE + 1 + (k // 2) % POOL, k % 2 == 0)
