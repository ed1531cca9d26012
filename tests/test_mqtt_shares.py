"""station/mqtt_shares.py: serve's outbox published over several connections, each a child
process owning a fixed share of the gateways, against a real Mosquitto. Each gateway's
events arrive complete and in order on their topic whatever happens (a publisher killed,
the count changed between runs, the broker restarted), a message arrives twice only as a
QoS 1 redelivery of what was in flight, and only publisher 0's death says serve is offline
(R-DATA-2: nothing owed is dropped; R-DATA-3: the platform gets it)."""

import collections
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mqtt_broker import Subscriber, wait_until
from test_mqtt_process import _alive
from test_mqtt_publisher import add_events, assert_in_order_once, open_db

from shaftgate.station import mqtt_shares, outbox, topics
from shaftgate.station.mqtt import WINDOW
from shaftgate.station.mqtt_shares import PublisherGroup

REPO = Path(__file__).resolve().parent.parent
MINE = "m1"
BASE = "serve-m1"
GATEWAYS = ["gw-a", "gw-b", "gw-c", "gw-d", "gw-e"]


def fill(conn, first, last, chunk=25):
    """Events first..last of every gateway, interleaved in chunks the way ten links commit
    pages, with a headcount (publisher 0's, retained) after each round."""
    for start in range(first, last + 1, chunk):
        end = min(last, start + chunk - 1)
        for gid in GATEWAYS:
            add_events(conn, MINE, start, end, gateway=gid, zone="z-" + gid)
        outbox.enqueue(conn, *topics.headcount_msg(MINE, end, {"z-gw-a": 1}))
        conn.commit()


def check(msgs, last):
    """Every gateway's events 1..last on its topic, first arrivals in seq order, repeats
    identical; the headcounts in the order written. Returns the number of repeats."""
    repeats = 0
    for gid in GATEWAYS:
        evs = [p for t, p, _ in msgs if t == "shaftgate/%s/event/%s" % (MINE, gid)]
        assert_in_order_once(evs, 1, last)
        repeats += len(evs) - len({p["id"] for p in evs})
    heads = {}
    for t, p, _ in msgs:
        if t.endswith("/headcount"):
            heads.setdefault(p["id"], p["underground"])
    counts = list(heads.values())
    assert counts == sorted(counts) and counts[-1] == last
    return repeats


def sent_twice(broker, last):
    """Events the broker received more than once from serve's publishers, by its log (a
    subscriber's repeats also count the broker's own redeliveries to it after a restart)."""
    got = collections.Counter(
        re.findall(
            r"Received PUBLISH from %s-p\d+ \(d\d, q1, r0, m\d+, '(shaftgate/%s/event/[^']+)'"
            % (BASE, MINE),
            broker.log_path.read_text(errors="replace"),
        )
    )
    assert sorted(got) == ["shaftgate/%s/event/%s" % (MINE, g) for g in GATEWAYS]
    assert min(got.values()) >= last
    return sum(n - last for n in got.values())


def got_all(last):
    # Every event and the last headcount: the headcount goes by publisher 0 and may land
    # after the other publishers' last events, so waiting for the events alone races it.
    def done(msgs):
        ids = {p["id"] for t, p, _ in msgs if "/event/" in t}
        heads = [p["underground"] for t, p, _ in msgs if t.endswith("/headcount")]
        return len(ids) >= len(GATEWAYS) * last and last in heads

    return done


def presences(msgs):
    return [(t, p["client_id"], p["state"]) for t, p, _ in msgs if "/presence/" in t]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "station.sqlite"
    conn = open_db(path)
    yield path, conn
    conn.close()


@pytest.fixture
def groups():
    made = []

    def make(path, broker, count):
        g = PublisherGroup(path, broker.config(), MINE, BASE, GATEWAYS, count)
        made.append(g)
        g.start()
        return g

    yield make
    for g in made:
        g.stop()


# ---- the shares ----


def test_shares_are_fixed_balanced_and_leave_publisher_0_the_fewest():
    got = mqtt_shares.shares(["gw-e", "gw-a", "gw-c", "gw-b", "gw-d"], 3)
    # Sorted, the k-th to publisher (k + 1) % n: the same for any order in the site file.
    assert got == [["gw-c"], ["gw-a", "gw-d"], ["gw-b", "gw-e"]]
    assert mqtt_shares.shares(list(reversed(GATEWAYS)), 3) == got
    assert mqtt_shares.shares(GATEWAYS, 1) == [GATEWAYS]
    ten = mqtt_shares.shares(["gw-%02d" % i for i in range(10)], 3)
    assert sorted(len(s) for s in ten) == [3, 3, 4] and len(ten[0]) == 3
    # Never more publishers than gateways; one, carrying the mine-wide topics, at least.
    assert mqtt_shares.shares(["gw-a", "gw-b"], 5) == [["gw-b"], ["gw-a"]]
    assert mqtt_shares.shares([], 3) == [[]]
    for bad in (0, 17):
        with pytest.raises(ValueError, match="publishers"):
            mqtt_shares.shares(GATEWAYS, bad)


def test_default_count_leaves_the_link_threads_a_core():
    assert [mqtt_shares.default_count(c) for c in (1, 2, 3, 4, 8, 64)] == [1, 1, 2, 3, 3, 3]
    assert 1 <= mqtt_shares.default_count() <= mqtt_shares.DEFAULT_MOST


def test_a_share_reads_only_its_topics_and_publisher_0_everything_else(db):
    _path, conn = db
    fill(conn, 1, 3, chunk=3)
    add_events(conn, MINE, 1, 2, gateway="gw-gone", zone="z")  # since removed from the site
    share = mqtt_shares.shares(GATEWAYS, 3)
    mine = mqtt_shares.share_topics(MINE, share[1])
    rows = outbox.read_batch(conn, 0, 1000, only=mine)
    assert {t for _, t, *_ in rows} == {"shaftgate/m1/event/gw-a", "shaftgate/m1/event/gw-d"}
    assert [n for n, *_ in rows] == sorted(n for n, *_ in rows)
    others = mqtt_shares.share_topics(MINE, share[1] + share[2])
    zero = {t for _, t, *_ in outbox.read_batch(conn, 0, 1000, skip=others)}
    assert zero == {
        "shaftgate/m1/event/gw-c",
        "shaftgate/m1/headcount",
        "shaftgate/m1/event/gw-gone",
    }
    assert len(outbox.read_batch(conn, 0, 1000)) == outbox.pending(conn)


# ---- against a real Mosquitto ----


def test_each_gateway_in_order_over_three_connections(mosquitto, db, groups):
    path, conn = db
    sub = Subscriber(mosquitto, "shaftgate/#")
    try:
        fill(conn, 1, 400)
        g = groups(path, mosquitto, 3)
        g.wake()
        msgs = sub.wait_for(got_all(400), 60)
        assert check(msgs, 400) == 0  # nothing broke: nothing twice
        assert sent_twice(mosquitto, 400) == 0
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
        # Each published exactly its share: publisher 0 also the 16 headcounts. (A child's
        # status reaches serve at most STATUS_EVERY_S late.)
        rounds = 400 // 25
        assert wait_until(lambda: g.status()["published"] == 2000 + rounds, 5)
        status = g.status()
        each = status["publishers"]
        assert [p["client_id"] for p in each] == ["serve-m1-p0", "serve-m1-p1", "serve-m1-p2"]
        assert status["connected"] and status["client_id"] == BASE
        assert [p["published"] for p in each] == [400 + rounds, 800, 800]
        log = mosquitto.log_path.read_text()
        for i in range(3):
            assert "as serve-m1-p%d " % i in log
        # One presence, serve's, from publisher 0.
        assert presences(msgs) == [("shaftgate/m1/presence/serve-m1", BASE, "online")]
        g.stop()
        msgs = sub.wait_for(lambda m: len(presences(m)) == 2, 10)
        assert presences(msgs)[-1][2] == "offline"
    finally:
        sub.close()


def test_a_killed_publisher_is_started_again_and_only_publisher_0_is_serve_s_will(
    mosquitto, db, groups
):
    path, conn = db
    sub = Subscriber(mosquitto, "shaftgate/#")
    try:
        fill(conn, 1, 1500)
        g = groups(path, mosquitto, 3)
        assert wait_until(lambda: g.status()["connected"], 15)
        g.wake()
        assert wait_until(lambda: g.status()["published"] > 500, 30)
        victim = g.pids[1]
        os.kill(victim, signal.SIGKILL)  # mid-stream
        assert wait_until(lambda: g.restarts == 1, 10)
        status = g.status()["publishers"][1]
        assert status["restarts"] == 1 and "publisher process ended" in status["last_exit"]
        msgs = sub.wait_for(got_all(1500), 60)
        # Repeated: at most what publisher 1 had in flight.
        assert check(msgs, 1500) <= WINDOW
        assert sent_twice(mosquitto, 1500) <= WINDOW
        assert g.pids[1] not in (None, victim) and not _alive(victim)
        # Its death did not say serve was gone: the platform still gets the alarms.
        assert [s for _, _, s in presences(msgs)] == ["online"]
        # Publisher 0 is serve's voice: its death is the will, and it comes back.
        os.kill(g.pids[0], signal.SIGKILL)
        msgs = sub.wait_for(lambda m: [s for _, _, s in presences(m)][-2:] == ["offline", "online"])
        assert [s for _, _, s in presences(msgs)] == ["online", "offline", "online"]
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
    finally:
        sub.close()


def test_count_changed_between_runs_loses_and_reorders_nothing(mosquitto, db, groups, tmp_path):
    # Three publishers under a stand-in serve killed with -9 mid-stream, then two, stopped
    # mid-stream, then one: every gateway moves to another publisher at least once.
    path, conn = db
    fill(conn, 1, 2000)
    total = outbox.pending(conn)
    script = textwrap.dedent(
        """
        import json, sys, time
        sys.path[:0] = [%r]
        from shaftgate.station.broker import BrokerConfig
        from shaftgate.station.mqtt_shares import PublisherGroup
        g = PublisherGroup(%r, BrokerConfig("127.0.0.1", %d), "m1", "serve-m1", %r, 3)
        g.start()
        while not g.status()["connected"]:
            time.sleep(0.02)
        g.wake()
        print(json.dumps(g.pids), flush=True)
        time.sleep(600)
        """
        % (str(REPO / "host_tools"), str(path), mosquitto.port, GATEWAYS)
    )
    sub = Subscriber(mosquitto, "shaftgate/#")
    serve = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        children = json.loads(serve.stdout.readline())
        assert wait_until(lambda: outbox.pending(conn) < total * 3 // 4, 60)
        serve.kill()
        serve.wait()
        two = groups(path, mosquitto, 2)  # at once: it waits for the three to be gone
        assert wait_until(lambda: not any(_alive(p) for p in children), 5)
        assert wait_until(lambda: outbox.pending(conn) < total // 2, 60)
        two.stop()
        groups(path, mosquitto, 1)
        msgs = sub.wait_for(got_all(2000), 60)
        # Repeated: at most what was in flight at each change, WINDOW per publisher.
        assert check(msgs, 2000) <= WINDOW * (3 + 2)
        assert sent_twice(mosquitto, 2000) <= WINDOW * (3 + 2)
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
    finally:
        if serve.poll() is None:
            serve.kill()
        sub.close()


def test_a_new_serve_s_publishers_wait_for_the_last_one_s_to_end(mosquitto, db, groups):
    path, conn = db
    fill(conn, 1, 10)
    held = os.open(mqtt_shares.lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a killed serve's last child still holds
        g = groups(path, mosquitto, 2)
        time.sleep(1.0)
        assert g.pids == [None, None] and outbox.pending(conn) == 51
        assert "waiting for an earlier serve's MQTT publishers" in g.status()["last_error"]
        assert not g.status()["connected"]
    finally:
        os.close(held)  # that child ended
    assert wait_until(lambda: outbox.pending(conn) == 0, 20)
    assert wait_until(lambda: g.status()["connected"], 5), g.status()
    assert g.status()["last_error"] is None


def test_broker_restarted_mid_stream_loses_and_reorders_nothing(mosquitto, db, groups):
    path, conn = db
    sub = Subscriber(mosquitto, "shaftgate/#")
    try:
        fill(conn, 1, 1000)
        g = groups(path, mosquitto, 3)
        g.wake()
        assert wait_until(lambda: g.status()["published"] > 1000, 30)
        mosquitto.stop()
        assert wait_until(lambda: not g.status()["connected"], 10)
        fill(conn, 1001, 1500)  # recording goes on
        g.wake()
        mosquitto.start()
        msgs = sub.wait_for(got_all(1500), 60)
        check(msgs, 1500)  # its repeats include Mosquitto's own, to the subscriber
        assert sent_twice(mosquitto, 1500) <= WINDOW * 3
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
        assert wait_until(lambda: g.status()["connected"], 10)
    finally:
        sub.close()


def test_what_serve_checks_every_tick_bounds_the_count_and_is_zero_only_when_empty(db):
    _path, conn = db
    assert outbox.owed_at_most(conn) == 0 and outbox.oldest(conn) is None
    fill(conn, 1, 4, chunk=4)  # 21 rows
    first_s = conn.execute("SELECT enqueued_s FROM outbox ORDER BY n LIMIT 1").fetchone()[0]
    assert outbox.oldest(conn) == first_s
    # Publishers delete their shares apart: gaps in the middle, a span that bounds the count.
    ns = [n for (n,) in conn.execute("SELECT n FROM outbox ORDER BY n")]
    outbox.delete(conn, ns[1:-1:2])
    conn.commit()
    assert outbox.owed_at_most(conn) == 21 > outbox.pending(conn) == 11
    outbox.delete(conn, ns[:1])
    conn.commit()
    assert outbox.owed_at_most(conn) == 19 and outbox.oldest(conn) > 0
    outbox.delete(conn, ns)
    conn.commit()
    assert outbox.owed_at_most(conn) == 0 and outbox.oldest(conn) is None
