# micropython-test
# A signed ack with 300 in on the REAL Pico HAL path, in at most 2 KB of heap (issue 9
# item 7; docs/hardware.md "Heap on the real HAL path", where `./dev bench realhal`
# measures the same step): hal/pico.py over hal/mcu.py and its FileFlash, run over the
# stand-in machine and rp2 (tests/standin_pico.py), 300 in, reads on
# the readers' wires, the request decoded from a view of the frame decoder's buffer, the
# reply encoded and framed in kept buffers, every file call made on the mounted file
# system with no copy of its path. CPython has no uctypes and skips it (the [micropython]
# run is the one that counts).
import gc
import os

from hostcalls import in_parts

from gateway import app, store
from gateway.roster import Roster
from gatewire import auth, cbor, frame, messages
from hal.readerline import checksum

NOW_S = 1749960000
KEY = bytes(range(32))
CONFIG = {
    "gateway_id": "gw-shaft-ack",
    "zone_id": "shaft-1",
    "role": "shaft",
    "zone_kind": "shaft",
    "mine_cap": 1000,
    "log_capacity": 65536,
}
ROSTER = 400  # the bench's 2,000 cost the ack nothing more (it reads no roster file)
IN_ZONE = 300


class Link:
    # StdioLink's three methods over a bytearray the test fills (the host's requests).
    def __init__(self):
        self.rx = bytearray()
        self.at = 0

    def read_into(self, buf):
        n = len(self.rx) - self.at
        if n <= 0:
            return 0
        n = min(n, len(buf))
        for i in range(n):
            buf[i] = self.rx[self.at + i]
        self.at += n
        if self.at == len(self.rx):
            self.rx = bytearray()
            self.at = 0
        return n

    def writable(self):
        return True

    def write(self, data):
        pass


class Shaft:
    def __init__(self, mcu, pico):
        import standin_machine
        import standin_rp2
        import standin_ticks

        self._rp2 = standin_rp2
        self._ticks = standin_ticks
        # A fresh folder as long as the Pico's own (/data), so every path costs its heap.
        for i in range(1000):
            root = "/r%03d" % i
            try:
                os.mkdir(root)
                break
            except OSError:
                pass
        mcu.FLASH_ROOT = root
        self.board = pico.Board()
        self.link = self.board._link = Link()
        self._camera = standin_machine.PINS[self.board.CAMERA_PINS[0]]
        self.board.set_rtc_s(NOW_S)
        self.pads = auth._pads(KEY)
        self.counter = 1000
        self.rid = 0

    def populate(self):
        fl = self.board.flash
        fl.write(store.KEY_FILE, KEY)
        store.write_cbor(fl, store.CONFIG_FILE, CONFIG)
        roster = Roster(None, fl)
        roster.begin(ROSTER)
        for first in range(1, ROSTER + 1, 100):
            roster.add(
                [
                    [t, 100000 + t, 1 + t % 12, NOW_S + 86400 * 365, 0]
                    for t in range(first, first + 100)
                ]
            )
            yield
        roster.commit(log=False)
        roster = None
        yield
        self.gw = app.Gateway(self.board, staged=True)
        yield
        while self.gw.boot_step():  # a phase a part, as a board boots
            yield
        self.request("hello", min_version=1, max_version=1)
        for _ in range(20):  # video held past its hold-off: work on
            self.idle(500)
        for t in range(1, IN_ZONE + 1):
            self.crossing(t, True)
            if t % 25 == 0:
                yield
        self.ack()

    def next_rid(self):
        self.rid += 1
        return self.rid

    def send(self, name, signed, **fields):
        # The host's request framed on the link: built with the board's own tables and
        # HMAC (the host's gatewire.specs and signing would take a board's heap here).
        t = messages._type_named(name)
        env = {
            0: messages._T[t],
            1: self.next_rid(),
            2: messages._to_wire(messages._body_of(t), fields),
        }
        if signed:
            self.counter += 1
            env[3] = self.counter
            env[4] = auth._hmac_with_pads(self.pads[0], self.pads[1], cbor.dumps(env))[:16]
        self.link.rx.extend(frame.encode(cbor.dumps(env)))

    def request(self, name, **fields):
        self.send(name, False, **fields)
        self.idle(10)

    def ack(self):
        self.send("ack", True, up_to_seq=self.gw.log.last_seq)

    def idle(self, ms):
        self._ticks.now[0] += ms
        self._camera.pulse()  # the camera beats on every step
        self.gw.step()

    def read(self, point, tag):
        body = b"TAG,%d,-60,0" % tag
        self._rp2.wire(point, b"$%s*%02X\r\n" % (body, checksum(body)))

    def crossing(self, tag, into):
        self.read(0 if into else 1, tag)  # outer reader on UART0, inner on UART1
        self.idle(200)
        self.read(1 if into else 0, tag)
        self.idle(200)
        if not into:
            self.read(0, tag)  # twice at the outer point on the way out
            self.idle(100)
        self.idle(2200)


@in_parts
def test_a_signed_ack_with_300_in_allocates_at_most_2_kb_on_the_real_hal():
    try:
        import uctypes  # noqa: F401
    except ImportError:
        return
    import standin_pico

    mcu, pico = standin_pico.load()
    shaft = Shaft(mcu, pico)
    yield from shaft.populate()
    shaft.idle(10)  # the ack of the 300 crossings
    gw = shaft.gw
    assert gw.zone.count == IN_ZONE and gw.log.unacked() == 1
    for k in range(40):  # 40 crossings by 20 people in and out: five segments to remove
        shaft.crossing(IN_ZONE + 1 + k // 2, k % 2 == 0)
        if k % 10 == 9:
            yield
    last = gw.log.last_seq
    assert last - gw.log.acked == 41 and gw._pushed == last
    shaft.ack()  # framed by the host beforehand, taken and answered in one step
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    shaft.idle(10)
    used = gc.mem_alloc() - before
    gc.enable()
    assert gw.log.acked == last and gw.log.unacked() == 1  # the ack's own COMMAND event
    assert gw.zone.count == IN_ZONE and gw.lost_events == 0
    assert used <= 2048, used
