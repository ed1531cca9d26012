"""Broker outages (issue 13): the real Mosquitto stopped and started again several times
while a virtual gateway takes crossings through serve (and, in every other outage, serve
killed with -9 and restarted while the broker is away). Recording must go on while the
broker is away, the outbox must hold what is owed, and when the broker returns it must
all be published, in order, none lost.

    run = broker_outages(home, outages=2, seed=1)
    run.problems()  -> []

Used by tests/test_reliability_broker.py (short form) and `./dev reliability broker`.
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
    roster_csv,
    tally,
    wait_caught_up,
)
from serve_rig import Mine


class Outage:
    def __init__(self):
        self.down_s = 0.0
        self.owed_at_stop = 0  # outbox rows still owed when the broker went
        self.recorded_while_down = 0  # event rows SQLite took while the broker was away
        self.held = 0  # outbox rows owed when it came back
        self.published_after = 0  # rows serve published from its return until drained
        self.drain_s = None  # from its return until the outbox was empty
        self.serve_killed = False  # serve was killed with -9 and restarted during it


class BrokerRun(LinkRun):
    repeats_allowed = True  # QoS 1: what was in flight may come again

    def __init__(self):
        super().__init__()
        self.outages = []
        self.held_ids_missing = 0  # events recorded while down, never seen on MQTT

    def problems(self):
        out = super().problems()
        for i, o in enumerate(self.outages, 1):
            if o.recorded_while_down == 0:
                out.append("outage %d: nothing recorded while the broker was away" % i)
            if o.held < o.recorded_while_down:
                out.append("outage %d: %d events recorded, %d messages held"
                           % (i, o.recorded_while_down, o.held))  # fmt: skip
            if o.drain_s is None:
                out.append("outage %d: the outbox did not drain after the broker returned" % i)
        if self.held_ids_missing:
            out.append("%d events recorded during outages never published" % self.held_ids_missing)
        return out

    @property
    def reconnects_owed(self):
        return len(self.outages) + sum(o.serve_killed for o in self.outages)

    @property
    def down_s(self):
        return sum(o.down_s for o in self.outages)


def _sql(db, query):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _owed(db):
    return _sql(db, "SELECT COUNT(*) FROM outbox")[0][0]


def _ids(db):
    return {"%s:%d" % r for r in _sql(db, "SELECT gateway_id, seq FROM events")}


def _published(mine):
    return mine.call({"op": "status"})["mqtt"]["published"]


def broker_outages(home, outages, seed, rate_per_s=10.0, up_s=(2.0, 5.0), down_s=(3.0, 8.0),
                   quiet_s=3.0, drain_timeout_s=120.0, progress=None):  # fmt: skip
    rng = random.Random(seed)
    run = BrokerRun()
    broker = TestMosquitto(home).start()
    mine = Mine(home / "mine", 1, broker='host = "127.0.0.1"\nport = %d' % broker.port)
    sub = Subscriber(broker, "shaftgate/test-mine/event/#")
    stop = threading.Event()
    made = []
    traffic = None
    held_ids = []
    try:
        (mine.home / "roster.csv").write_text(roster_csv(board_tags(0, rate_per_s, 1)))
        mine.start_serve()
        mine.wait(mine.all_answering, 60, "the gateway answering")
        mine.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        mine.cli("roster", "load", str(mine.home / "roster.csv"), "--all", "--why", "c", check=True)
        traffic = threading.Thread(
            target=lambda: made.append(drive(mine, None, seed, rate_per_s, stop=stop)),
            daemon=True,
        )
        traffic.start()
        t0 = time.monotonic()
        for k in range(outages):
            time.sleep(rng.uniform(*up_s))
            o = Outage()
            before = _ids(mine.db)
            o.owed_at_stop = _owed(mine.db)
            t = time.monotonic()
            broker.stop()
            down = rng.uniform(*down_s)
            if k % 2:
                # Every other outage, serve dies too while it owes the broker: what it
                # owes is in SQLite, not in paho's memory, and must still go out.
                time.sleep(down / 2)
                mine.kill_serve()
                mine.start_serve()
                o.serve_killed = True
                time.sleep(down / 2)
            else:
                time.sleep(down)
            o.held = _owed(mine.db)
            published = _published(mine)
            during = _ids(mine.db) - before
            o.recorded_while_down = len(during)
            held_ids.append(during)
            broker.start()
            o.down_s = time.monotonic() - t
            back = time.monotonic()
            deadline = back + drain_timeout_s
            while time.monotonic() < deadline:
                # Drained: every row owed at the return has gone (new ones keep coming).
                if _published(mine) - published >= o.held:
                    o.drain_s = time.monotonic() - back
                    break
                time.sleep(0.1)
            o.published_after = _published(mine) - published
            run.outages.append(o)
            if progress:
                progress(k + 1, o)
        run.took_s = time.monotonic() - t0
        stop.set()
        traffic.join(30)
        run.crossings = made[0] if made else 0
        t1 = time.monotonic()
        if not wait_caught_up(mine, drain_timeout_s, quiet_s):
            raise AssertionError("serve did not catch up with the gateway: %s" % mine.log())
        want = _ids(mine.db)
        sub.wait_for(lambda msgs: want <= {p["id"] for _, p, _ in msgs}, drain_timeout_s)
        time.sleep(quiet_s)
        mine.stop_serve()
        run.drain_s = time.monotonic() - t1
        msgs = sub.snapshot()
        tally(run, gateway_last_seqs(mine), db_events(mine.db), msgs)
        seen = [p["id"] for _, p, _ in msgs]
        for ids in held_ids:
            run.held_ids_missing += len(ids - set(seen))
        return run
    finally:
        stop.set()
        sub.close()
        mine.close()
        broker.stop()
