"""serve killed with -9 at random instants (issue 13), while the gateways push crossings
and orders are in flight, and started again each time. After each kill, with serve dead,
the gateway is asked how far it was acknowledged: that must never pass what SQLite holds
(no ack before commit). At the end: every gateway event in SQLite once, every one on MQTT
(repeats counted apart: QoS 1 allows a message in flight at the kill to come again), none
out of order, and every order serve reported done in the record as the gateway's COMMAND.

    run = serve_crashes(home, kills=5, seed=1)
    run.problems()  -> []

Used by tests/test_reliability_crash.py (short form) and `./dev reliability servecrash`.
"""

import random
import sqlite3
import threading
import time

from mqtt_broker import Subscriber, TestMosquitto
from reliability_link import (
    LinkRun,
    board_tags,
    db_events,
    drive,
    gateway_last_seqs,
    gateway_status,
    roster_csv,
    tally,
    wait_caught_up,
)
from serve_rig import Mine

from gateway import events as kinds
from gatewire import messages

ORDER_GATEWAY = "gw-face1"


class CrashRun(LinkRun):
    repeats_allowed = True  # QoS 1: what was in flight may come again

    def __init__(self):
        super().__init__()
        self.kills = 0
        self.kill_after_s = []  # how long serve had run when it was killed
        self.kills_mid_order = 0  # kills while an order was with serve
        self.ack_checks = 0
        self.ack_ahead = []  # (kill, gateway, acked by the gateway, held by SQLite)
        self.orders_sent = 0
        self.orders_done = 0
        self.orders_failed = 0
        self.order_commands_recorded = 0
        self.orders_done_unrecorded = 0
        self.orders_unfinished = 0  # orders serve's record holds open at the end (must be 0)
        self.orders_cut = 0  # orders marked at a restart as cut by the kill (ServeStopped)
        self.restart_s = []

    @property
    def reconnects_owed(self):
        return self.kills

    def problems(self):
        out = super().problems()
        if self.ack_ahead:
            out.append(
                "the gateway was acknowledged past SQLite at %d kills: %s"
                % (len(self.ack_ahead), self.ack_ahead[:5])
            )
        if self.orders_done_unrecorded:
            out.append(
                "%d orders reported done, %d seal/unseal COMMAND events recorded"
                % (self.orders_done, self.order_commands_recorded)
            )
        if self.orders_unfinished:
            out.append("%d orders left open in serve's record" % self.orders_unfinished)
        if self.ack_checks != self.kills * 2:
            out.append("acks checked at %d of %d kills" % (self.ack_checks // 2, self.kills))
        return out


class _Orders(threading.Thread):
    """Seal and unseal, in turn, at one face through serve's socket, until stopped; what
    serve answered is counted (a kill mid-order is a failed call, not a problem)."""

    def __init__(self, mine, run, every_s):
        super().__init__(daemon=True)
        self.mine = mine
        self.run_ = run
        self.every_s = every_s
        self.stop = threading.Event()
        self.in_flight = threading.Event()  # an order is with serve, not yet answered

    def run(self):
        while not self.stop.wait(self.every_s):
            try:
                status = self.mine.rows()[ORDER_GATEWAY]["status"]
            except Exception:
                continue  # serve is down or starting: nothing to base the order on
            if status is None:
                continue
            command = "unseal" if status["sealed"] else "seal"
            self.run_.orders_sent += 1
            self.in_flight.set()
            try:
                reply = self.mine.call(
                    {
                        "op": "run",
                        "command": command,
                        "args": {"why": "serve crash run"},
                        "targets": [ORDER_GATEWAY],
                        "operator": "wang",
                        "reason": "serve crash run",
                    }
                )
            except Exception:
                self.run_.orders_failed += 1  # serve killed under the order
                continue
            finally:
                self.in_flight.clear()
            if "result" in reply["results"][0]:
                self.run_.orders_done += 1
            else:
                self.run_.orders_failed += 1


def serve_crashes(home, kills, seed, rate_per_s=10.0, up_s=(0.3, 3.0), progress=None,
                  quiet_s=3.0, drain_timeout_s=300.0):  # fmt: skip
    rng = random.Random(seed)
    run = CrashRun()
    broker = TestMosquitto(home).start()
    mine = Mine(home / "mine", 2, broker='host = "127.0.0.1"\nport = %d' % broker.port)
    sub = Subscriber(broker, "shaftgate/test-mine/event/#")
    orders = None
    traffic = None
    stop = threading.Event()
    made = []
    try:
        tags = [t for i in range(2) for t in board_tags(i, rate_per_s, 2)]
        (mine.home / "roster.csv").write_text(roster_csv(tags))
        mine.start_serve()
        mine.wait(mine.all_answering, 60, "every gateway answering")
        mine.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        mine.cli("roster", "load", str(mine.home / "roster.csv"), "--all", "--why", "c", check=True)
        traffic = threading.Thread(
            target=lambda: made.append(drive(mine, None, seed, rate_per_s, stop=stop)),
            daemon=True,
        )
        traffic.start()
        orders = _Orders(mine, run, 0.3)
        orders.start()
        t0 = time.monotonic()
        for k in range(kills):
            started = time.monotonic()
            time.sleep(rng.uniform(*up_s))
            if k % 2:
                # Every other kill lands while an order is with serve.
                orders.in_flight.wait(5)
                time.sleep(rng.uniform(0, 0.05))
            run.kills_mid_order += orders.in_flight.is_set()
            mine.kill_serve()
            run.kills += 1
            run.kill_after_s.append(time.monotonic() - started)
            _check_acks(mine, run, k)
            t = time.monotonic()
            mine.start_serve()
            run.restart_s.append(time.monotonic() - t)
            if progress and (k + 1) % 10 == 0:
                progress(k + 1)
        run.took_s = time.monotonic() - t0
        stop.set()
        orders.stop.set()
        traffic.join(30)
        orders.join(30)
        run.crossings = made[0] if made else 0
        t1 = time.monotonic()
        if not wait_caught_up(mine, drain_timeout_s * 0.5, quiet_s):
            raise AssertionError("serve did not catch up with the gateways: %s" % mine.log())
        want = {"%s:%d" % (g, s) for g, s, _ in db_events(mine.db)}
        sub.wait_for(lambda msgs: want <= {p["id"] for _, p, _ in msgs}, drain_timeout_s * 0.5)
        time.sleep(quiet_s)
        mine.stop_serve()
        run.drain_s = time.monotonic() - t1
        rows = db_events(mine.db)
        tally(run, gateway_last_seqs(mine), rows, sub.snapshot())
        run.order_commands_recorded = _order_commands(mine.db)
        run.orders_done_unrecorded = max(0, run.orders_done - run.order_commands_recorded)
        run.orders_unfinished = _sql_one(
            mine.db, "SELECT COUNT(*) FROM orders WHERE finished_s IS NULL"
        )
        run.orders_cut = _sql_one(
            mine.db, "SELECT COUNT(*) FROM orders WHERE results LIKE '%\"ServeStopped\"%'"
        )
        return run
    finally:
        stop.set()
        if orders is not None:
            orders.stop.set()
        sub.close()
        mine.close()
        broker.stop()


def _check_acks(mine, run, k):
    # serve is dead: SQLite holds what it committed, and nobody can ack any more.
    conn = sqlite3.connect(mine.db, timeout=30)
    try:
        held = dict(conn.execute("SELECT gateway_id, MAX(seq) FROM events GROUP BY gateway_id"))
    finally:
        conn.close()
    for name, board in mine.boards.items():
        s = gateway_status(board.port, name)
        acked = s["last_seq"] - s["unacked"]
        run.ack_checks += 1
        if acked > held.get(name, 0):
            run.ack_ahead.append((k + 1, name, acked, held.get(name, 0)))


def _sql_one(db, query, args=()):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(query, args).fetchone()[0]
    finally:
        conn.close()


def _order_commands(db):
    # The gateway logs each command it carried out as a COMMAND event, tag = its code.
    codes = (messages.code_of("seal"), messages.code_of("unseal"))
    return _sql_one(
        db,
        "SELECT COUNT(*) FROM events WHERE gateway_id=? AND kind=? AND tag IN (?, ?)",
        (ORDER_GATEWAY, kinds.COMMAND, *codes),
    )
