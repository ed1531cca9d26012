"""Link faults (issue 13): crossings at a virtual gateway, `shaftgate serve` recording them
over a serial line that drops, corrupts, duplicates and delays (tests/faultproxy.py), and
publishing them to a real Mosquitto. At the end the three accounts must agree: the events
the gateway logged (its last seq), the rows in SQLite, the event messages a subscriber got
(raw, and by stable id: a repeat is counted, not hidden).

    run = link_faults(home, crossings=300, faults=Faults.each(0.03), seed=1)
    run.problems()  -> [] when nothing was lost, duplicated or out of order

Used by tests/test_reliability_link.py (short form, CI) and `./dev reliability linkfaults`
(long form, docs/reliability.md).
"""

import collections
import json
import random
import re
import sqlite3
import threading
import time

from faultproxy import FaultProxy
from mqtt_broker import Subscriber, TestMosquitto
from serve_rig import Mine

from gateway import events as kinds
from shaftgate.link.client import GatewayClient
from shaftgate.link.transport import SerialTransport
from shaftgate.station.mqtt import WINDOW

SETTLE_S = 2.0  # the doorway's settle time: a tag crosses again only after it (and margin)
TAG_BASE = 3001


def roster_csv(tags):
    lines = ["tag_id,person_id,name,role,cert_expiry,crew"]
    for t in tags:
        lines.append("%d,%d,Miner %d,miner,2031-01-01,production" % (t, t + 100000, t))
    return "\n".join(lines) + "\n"


class FaultyMine(Mine):
    """serve_rig.Mine with a fault proxy between serve and each board: the site file
    names the proxy's port, not the board's."""

    def __init__(self, home, n, faults, seed, **site):
        super().__init__(home, n, **site)
        self.proxies = {}
        text = self.site.read_text()
        for i, (name, board) in enumerate(self.boards.items()):
            proxy = FaultProxy(board.port, board.dir / "proxy-tty", faults, seed * 1000 + i)
            proxy.enabled = False  # commissioning over a clean line; faults_on() then
            self.proxies[name] = proxy
            text = text.replace(json.dumps(board.port), json.dumps(proxy.port))
        self.site.write_text(text)

    def faults_on(self, on):
        for p in self.proxies.values():
            p.enabled = on

    def close(self):
        try:
            super().close()
        finally:
            for p in self.proxies.values():
                p.close()


def db_events(db):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(
            "SELECT gateway_id, seq, kind FROM events ORDER BY gateway_id, seq"
        ).fetchall()
    finally:
        conn.close()


def gateway_status(port, gateway_id, attempts=5):
    """The gateway's own status, asked over `port` with serve stopped (nothing else holds
    the port then); a reply lost on a bad line is asked again."""
    with GatewayClient(SerialTransport(port), gateway_id) as c:
        for attempt in range(attempts):
            try:
                return c.status()
            except Exception:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5)
    return None


def gateway_last_seqs(mine):
    """Each gateway's own account of how many events it logged."""
    ports = {n: p.port for n, p in getattr(mine, "proxies", {}).items()} or {
        n: b.port for n, b in mine.boards.items()
    }
    return {n: gateway_status(port, n)["last_seq"] for n, port in ports.items()}


class LinkRun:
    repeats_allowed = False
    reconnects_owed = 0  # publisher connections cut while messages were in flight

    def __init__(self):
        self.crossings = 0
        self.crossing_events = 0
        self.gateway_events = {}
        self.db_rows = 0
        self.db_ids = set()
        self.db_duplicates = 0
        self.db_holes = 0
        self.mqtt_raw = 0
        self.mqtt_ids = set()
        self.mqtt_out_of_order = 0
        self.proxy_counts = {}
        self.watch = None
        self.kinds = collections.Counter()  # event kind -> rows in SQLite
        self.caught_up_faulty = None  # serve caught up while the faults were still on
        self.catch_up_s = 0.0
        self.took_s = 0.0
        self.drain_s = 0.0

    @property
    def gateway_total(self):
        return sum(self.gateway_events.values())

    @property
    def lost(self):
        want = {"%s:%d" % (g, s) for g, n in self.gateway_events.items() for s in range(1, n + 1)}
        return len(want - self.db_ids) + len(want - self.mqtt_ids)

    @property
    def mqtt_duplicates(self):
        return self.mqtt_raw - len(self.mqtt_ids)

    def problems(self):
        out = []
        if self.db_rows != self.gateway_total:
            out.append(
                "SQLite holds %d rows, the gateways logged %d" % (self.db_rows, self.gateway_total)
            )
        if self.db_holes or self.db_duplicates:
            out.append("SQLite seqs: %d missing, %d twice" % (self.db_holes, self.db_duplicates))
        # With serve and the broker up throughout, nothing is sent twice; a kill or a
        # broker outage may repeat what was in flight (QoS 1), never drop it.
        mqtt = len(self.mqtt_ids) if self.repeats_allowed else self.mqtt_raw
        if mqtt != self.gateway_total:
            out.append("MQTT brought %d event messages (%d ids), the gateways logged %d"
                       % (self.mqtt_raw, len(self.mqtt_ids), self.gateway_total))  # fmt: skip
        if self.repeats_allowed and self.mqtt_duplicates > self.reconnects_owed * WINDOW:
            # QoS 1 repeats only what was in flight when a connection died: at most the
            # publisher's window each time.
            out.append("%d MQTT repeats for %d lost connections of a window of %d"
                       % (self.mqtt_duplicates, self.reconnects_owed, WINDOW))  # fmt: skip
        if self.lost:
            out.append("%d events lost somewhere" % self.lost)
        if self.mqtt_out_of_order:
            out.append("%d MQTT event messages out of seq order" % self.mqtt_out_of_order)
        if self.crossing_events != self.crossings:
            out.append("%d crossings made, %d ENTRY/EXIT events recorded"
                       % (self.crossings, self.crossing_events))  # fmt: skip
        return out

    def faults_done(self):
        total = dict.fromkeys(("frames", "drop", "corrupt", "duplicate", "delay"), 0)
        for per_board in self.proxy_counts.values():
            for d in per_board.values():
                for k in total:
                    total[k] += d[k]
        return total


class LinkWatch:
    """serve's view of each link, polled while the run goes: how much of the time the
    gateway was answering, how often the link dropped, and why (serve's own words)."""

    def __init__(self, mine, every_s=0.5):
        self.mine = mine
        self.every_s = every_s
        self.polls = 0
        self.answering = 0
        self.drops = 0
        self.errors = collections.Counter()
        self._was = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.every_s):
            try:
                rows = self.mine.rows()
            except (OSError, ValueError):
                continue
            for g, r in rows.items():
                self.polls += 1
                self.answering += bool(r["answering"])
                if self._was.get(g) and not r["answering"]:
                    self.drops += 1
                if r["error"]:
                    self.errors[_error_kind(r["error"])] += 1
                self._was[g] = r["answering"]

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    @property
    def answering_share(self):
        return self.answering / self.polls if self.polls else 0.0


def _error_kind(text):
    # "no reply from gateway gw-shaft to status (request 123) within 2.0 s; meanwhile: ..."
    # -> "no reply from gateway gw-shaft to status": one line per kind of failure.
    text = text.split("; meanwhile")[0]
    text = re.sub(r" \(request \d+\)", "", text)
    return re.sub(r" within [\d.]+ s", "", text)[:100]


def tally(run, gateway_events, rows, msgs):
    """The three accounts into `run`: the gateways' last seqs, SQLite's (gateway, seq,
    kind) rows, the subscriber's event messages."""
    run.gateway_events = gateway_events
    run.db_rows = len(rows)
    run.kinds = collections.Counter(k for _, _, k in rows)
    seen = set()
    for g, s, k in rows:
        key = "%s:%d" % (g, s)
        if key in seen:
            run.db_duplicates += 1
        seen.add(key)
        if k in (kinds.ENTRY, kinds.EXIT):
            run.crossing_events += 1
    run.db_ids = seen
    for g, n in gateway_events.items():
        have = {s for gg, s, _ in rows if gg == g}
        run.db_holes += len(set(range(1, n + 1)) - have)
    # Out of order: a message whose seq is below one already seen for its gateway and
    # that is not a repeat (QoS 1 may repeat what was in flight; it must not reorder).
    last = {}
    for _, p, _ in msgs:
        run.mqtt_raw += 1
        g, s = p["id"].rsplit(":", 1)
        if p["id"] not in run.mqtt_ids and int(s) < last.get(g, 0):
            run.mqtt_out_of_order += 1
        run.mqtt_ids.add(p["id"])
        last[g] = max(int(s), last.get(g, 0))


def drive(mine, crossings, seed, rate_per_s, progress=None, stop=None):
    """`crossings` crossings (None: until `stop` is set) spread over the boards, in and
    out in turn, each tag again only after the doorway has settled, at about rate_per_s.
    -> how many were made."""
    rng = random.Random(seed)
    boards = list(mine.boards.values())
    pools = []
    for i, b in enumerate(boards):
        tags = board_tags(i, rate_per_s, len(boards))
        pools.append((b, tags, dict.fromkeys(tags, 0.0), set()))
    gap = 1.0 / rate_per_s
    nxt = time.monotonic()
    n = 0
    while crossings is None or n < crossings:
        if stop is not None and stop.is_set():
            break
        board, tags, free_at, inside = pools[rng.randrange(len(pools))]
        now = time.monotonic()
        ready = [t for t in tags if free_at[t] <= now]
        while not ready:
            time.sleep(0.05)
            now = time.monotonic()
            ready = [t for t in tags if free_at[t] <= now]
        tag = rng.choice(ready)
        if tag in inside:
            board.cross_out(tag)
            inside.discard(tag)
        else:
            board.cross_in(tag)
            inside.add(tag)
        free_at[tag] = time.monotonic() + SETTLE_S + 1.0
        n += 1
        if progress and n % 1000 == 0:
            progress(n)
        nxt += gap
        delay = nxt - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            nxt = time.monotonic()
    return n


def link_faults(home, crossings, faults, seed, n_boards=1, rate_per_s=8.0, progress=None,
                quiet_s=4.0, drain_timeout_s=300.0):  # fmt: skip
    run = LinkRun()
    run.crossings = crossings
    broker = TestMosquitto(home).start()
    mine = FaultyMine(home / "mine", n_boards, faults, seed,
                      broker='host = "127.0.0.1"\nport = %d' % broker.port)  # fmt: skip
    sub = Subscriber(broker, "shaftgate/test-mine/event/#")
    try:
        tags = [t for i in range(n_boards) for t in board_tags(i, rate_per_s, n_boards)]
        (mine.home / "roster.csv").write_text(roster_csv(tags))
        mine.start_serve()
        mine.wait(mine.all_answering, 60, "every gateway answering")
        mine.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        mine.cli("roster", "load", str(mine.home / "roster.csv"), "--all", "--why", "c", check=True)
        mine.faults_on(True)
        t0 = time.monotonic()
        watch = LinkWatch(mine)
        try:
            drive(mine, crossings, seed, rate_per_s, progress)
        finally:
            watch.stop()
        run.watch = watch
        run.took_s = time.monotonic() - t0
        # Faults stay on while serve catches up; only the last seconds are clean, so that
        # the last ack's own COMMAND event is fetched and the run can end.
        t1 = time.monotonic()
        run.caught_up_faulty = wait_caught_up(mine, drain_timeout_s * 0.6, quiet_s)
        run.catch_up_s = time.monotonic() - t1
        mine.faults_on(False)
        if not wait_caught_up(mine, drain_timeout_s * 0.2, quiet_s):
            raise AssertionError("serve did not catch up with the gateways: %s" % mine.log())
        want = {"%s:%d" % (g, s) for g, s, _ in db_events(mine.db)}
        sub.wait_for(lambda msgs: want <= {p["id"] for _, p, _ in msgs}, drain_timeout_s * 0.2)
        time.sleep(quiet_s)  # late repeats count too
        mine.stop_serve()
        run.drain_s = time.monotonic() - t1
        msgs = sub.snapshot()
        tally(run, gateway_last_seqs(mine), db_events(mine.db), msgs)
        run.proxy_counts = {n: p.counts for n, p in mine.proxies.items()}
        return run
    finally:
        sub.close()
        mine.close()
        broker.stop()


def board_tags(i, rate_per_s, n_boards):
    # Enough tags that each one waits out the doorway's settle time before crossing again.
    per_board = max(4, int(rate_per_s / n_boards * (SETTLE_S + 1.5)) + 2)
    return [TAG_BASE + i * 1000 + k for k in range(per_board)]


def wait_caught_up(mine, timeout_s, quiet_s):
    """Until every gateway answers, its last seq (from a status read after this call
    began) is the last in SQLite, and neither has moved for quiet_s."""
    since = time.time()
    deadline = time.monotonic() + timeout_s
    stable_since = None
    last = None
    while time.monotonic() < deadline:
        try:
            rows = mine.rows()
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        want = {
            g: r["status"]["last_seq"]
            for g, r in rows.items()
            if r["answering"] and r["status"] and (r["status_at"] or 0) > since
        }
        conn = sqlite3.connect(mine.db, timeout=30)
        try:
            have = dict(conn.execute("SELECT gateway_id, MAX(seq) FROM events GROUP BY gateway_id"))
        finally:
            conn.close()
        done = len(want) == len(rows) and all(have.get(g) == v for g, v in want.items())
        if done and want == last:
            if stable_since is None:
                stable_since = time.monotonic()
            if time.monotonic() - stable_since >= quiet_s:
                return True
        else:
            stable_since = None
        last = want
        time.sleep(0.3)
    return False
