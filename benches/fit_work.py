# The board-fit workload (benches/fit_probe.mjs): a shaft gateway with a 2,000-person
# roster and 300 people in, driven one call per phase so that the probe can read the heap
# between calls: first boot, filling the zone, reboot (boot phase by boot phase), crossings
# with events pushed to a host, acks, idle steps, status, a roster load over the link and
# a config-set. Runs under MicroPython and CPython.

import gateway_work
from gateway_work import CONFIG, IN_ZONE, KEY, NOW_S, ROSTER, BenchBoard, fresh_root

from gateway import app, store
from gateway.caps import EPOCH_S
from gatewire import cbor

PART = 100  # roster entries per roster-load part (messages.ROSTER_CHUNK_MAX)


def host_side():
    # The bench's side of the link, imported apart (benches/fit_probe.mjs: before the
    # first boot, and after the reboot, which imports the gateway's link code itself).
    global auth, frame, messages
    gateway_work.host_side()
    from gatewire import auth, frame, messages


def _roster_entry(i, in_order=False):
    # Tags in no particular order, as a site's roster file lists people; in_order: a file
    # in tag and person order (the worst case of a quicksort whose pivot is the last
    # item, which MicroPython's list.sort is: gateway/rosterload.py).
    tag = 1 + i if in_order else 1 + (i * 7919) % ROSTER
    return [tag, 100000 + i, 1 + i % 12, NOW_S + 86400 * 365, 0]


class Work:
    def __init__(self, root=None):
        self.board = BenchBoard(root or fresh_root())
        self.gw = None
        self.counter = 1000  # the host's command counter (the signer is made on first use)
        self._signer = None
        self.rid = 0
        self.filled = 0
        self.pool = 0

    @classmethod
    def resumed(cls, root, counter, rid, ms, rtc):
        # The board after a reset, in a fresh interpreter (benches/fit_probe.mjs): its
        # flash (the files copied into root), its clocks, and the host's signer and
        # request ids going on from where they were; no gateway yet.
        w = cls(root)
        w.board.ms = ms
        w.board.rtc = rtc
        w.counter = counter
        w.rid = rid
        w.filled = IN_ZONE
        w.pool = 0
        return w

    def state(self):
        # What resumed() takes, to go on in another interpreter.
        b = self.board
        return [b.flash.root, self.signer().counter, self.rid, b.ms, b.rtc]

    def signer(self):
        if self._signer is None:
            host_side()
            self._signer = auth.Signer(KEY, self.counter)
        return self._signer

    def _staged(self):
        return hasattr(app.Gateway, "boot_step")

    def first_boot_prepare(self):
        b = self.board
        b.flash.write(store.KEY_FILE, KEY)
        store.write_cbor(b.flash, store.CONFIG_FILE, CONFIG)

    def boot_all(self):
        # First boot (no roster yet), then the roster over the link as a host sends it.
        self.boot_first()
        self.load_roster()

    def boot_first(self):
        self._boot_whole()

    def load_roster(self):
        host_side()
        self.request(messages.request("hello", self._rid(), min_version=1, max_version=1))
        for i in range(self.roster_parts()):
            self.roster_part(i)
        for _ in range(20):  # video held past its hold-off: work on
            self.idle(500)
        assert self.board.work, "the bench shaft must be working"

    def _boot_whole(self):
        self.gw = app.Gateway(self.board)
        while self._staged() and self.gw.boot_step():
            pass

    def fill_more(self):
        return self.filled < IN_ZONE

    def fill_step(self):
        self.filled += 1
        self.crossing(self.filled, True)
        if self.filled % 50 == 0:
            self.ack()

    def boot_step(self):
        # One phase of a reboot; True while more phases remain.
        if self.gw is None:
            if self._staged():
                self.gw = app.Gateway(self.board, staged=True)
                return True
            self.gw = app.Gateway(self.board)
            return False
        return self._staged() and self.gw.boot_step()

    def check(self):
        gw = self.gw
        return {
            "count": gw.zone.count,
            "system": gw.system,
            "roster": gw.zone.roster.n,
            "lost": gw.lost_events,
            "work": self.board.work,
            "ledger": gw.zone.ledger.capacity,
        }

    # ---- the link ----

    def _rid(self):
        self.rid += 1
        return self.rid

    def request(self, env):
        self.send(env)
        self.idle(10)
        while self.waiting():
            self.idle(10)

    def send(self, env):
        # Queued on the link; the gateway reads 256 bytes a step (the probe steps it one
        # call at a time until waiting() is False).
        b = self.board
        if b.rx_at >= len(b.rx):
            # Everything before was read: a new buffer, or the bench's own rx would keep
            # every request sent (1.6 KB a roster part) and count it as the gateway's.
            b.rx = bytearray()
            b.rx_at = 0
        b.rx.extend(frame.encode(cbor.dumps(env)))
        self.board.tx_bytes = 0

    def waiting(self):
        # True until the request has been read and answered.
        return self.board.rx_pending() > 0 or self.board.tx_bytes == 0

    def signed(self, name, **fields):
        self.request(self.signed_env(name, **fields))

    def signed_env(self, name, **fields):
        return self.signer().sign(messages.request(name, self._rid(), **fields))

    # The probe's requests: queued here, then stepped one call per step.
    def send_ack(self):
        self.send(self.signed_env("ack", up_to_seq=self.gw.log.last_seq))

    def send_hello(self):
        self.send(messages.request("hello", self._rid(), min_version=1, max_version=1))

    def send_status(self):
        self.send(messages.request("status", self._rid()))

    def send_roster_part(self, i, in_order=False):
        parts = self.roster_parts()
        last = min(ROSTER, (i + 1) * PART)
        entries = [_roster_entry(k, in_order) for k in range(i * PART, last)]
        load = 9 if in_order else 8
        self.send(
            self.signed_env(
                "roster-load", load_id=load, part=i, parts=parts, entries=entries, total=ROSTER
            )
        )

    def send_config_set(self):
        self.send(self.signed_env("config-set", changes={"warn_pct": 85}))

    def send_config_resize(self):
        # A config-set that needs new arrays: the ledger rebuilt (gateway/reconfigure.py).
        self.send(self.signed_env("config-set", changes={"ledger_capacity": 640}))

    def ack(self):
        self.signed("ack", up_to_seq=self.gw.log.last_seq)

    def permit(self):
        # A hot-work permit in force through the reboot (the probe's "permit" run): the
        # permit book's code is in the heap only while one is held (gateway/interlocks.py).
        now = self.board.rtc + EPOCH_S  # unix: the bench board counts clock seconds
        self.signed(
            "permit-issue",
            permit_id=1,
            job_id=1,
            measure_ref="bench-1",
            start_s=now - 60,
            end_s=now + 3600,
            workers=[100001],
            fire_watcher=100002,
            flags=1,
        )
        assert self.gw.il.permits is not None and self.gw.il.permits.count == 1

    def status(self):
        self.request(messages.request("status", self._rid()))

    def roster_parts(self):
        return (ROSTER + PART - 1) // PART

    def roster_part(self, i):
        parts = self.roster_parts()
        entries = [_roster_entry(k) for k in range(i * PART, min(ROSTER, (i + 1) * PART))]
        self.signed("roster-load", load_id=7, part=i, parts=parts, entries=entries, total=ROSTER)

    def config_set(self):
        self.signed("config-set", changes={"warn_pct": 85})

    # ---- the doorway ----

    def idle(self, ms=100):
        self.board.ms += ms
        self.gw.step()

    def crossing(self, tag, into):
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
        b.ms += 2200
        gw.step()

    def crossing_pushed(self):
        k = self.pool
        self.pool += 1
        self.crossing(IN_ZONE + 1 + (k // 2) % 50, k % 2 == 0)


# ---- board time: the VM against a published figure ----
# The 8-queens problem, every solution, on one list with recursion, as timed with
# MicroPython on a Raspberry Pi Pico (125 MHz): 2284.749 ms (A. Krantas,
# github.com/alankrantas/circuitpython_experiments, speed_comparison.md). Board time is
# VM time x (2284.749 / this solver's VM time), about +-50 % (bytecode mixes differ).
PICO_QUEENS_MS = 2284.749


def queens(n=8):
    cols = [0] * n
    found = [0]

    def place(row):
        for c in range(n):
            ok = True
            for r in range(row):
                d = cols[r] - c
                if d == 0 or d == row - r or d == r - row:
                    ok = False
                    break
            if ok:
                cols[row] = c
                if row + 1 == n:
                    found[0] += 1
                else:
                    place(row + 1)

    place(0)
    return found[0]
