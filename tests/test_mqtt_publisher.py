"""The MQTT publisher against a real Mosquitto (tests/mqtt_broker.py): order, PUBACK before
delete, broker outages, two mines in one broker, TLS and passwords, the last will.
R-DATA-2: nothing owed to the platform is dropped; R-DATA-3: the platform gets it."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mqtt_broker import Subscriber, make_tls, wait_until

from shaftgate.station import outbox, topics
from shaftgate.station.broker import TlsConfig
from shaftgate.station.mqtt import MqttPublisher

REPO = Path(__file__).resolve().parent.parent


def open_db(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(outbox.SCHEMA_SQL)
    conn.commit()
    return conn


def add_events(conn, mine, first, last, gateway="G1", zone="face-1"):
    for seq in range(first, last + 1):
        ev = {"seq": seq, "time_s": 1_700_000_000 + seq, "kind": 1, "tag": 40 + seq % 7,
              "a": seq % 150, "b": seq % 25, "digest": seq.to_bytes(16, "big")}  # fmt: skip
        outbox.enqueue(conn, *topics.event_msg(mine, gateway, zone, ev))
    conn.commit()


def events_of(msgs, mine=None):
    return [p for t, p, _ in msgs if "/event/" in t and (mine is None or p["mine_id"] == mine)]


def assert_in_order_once(events, first, last):
    """Every seq first..last arrived, first occurrences in order, and any repeat is the same
    message (a QoS 1 redelivery) with the same id."""
    seen = {}
    order = []
    for p in events:
        if p["id"] in seen:
            assert seen[p["id"]] == p, "a repeated id carried a different message"
            continue
        seen[p["id"]] = p
        order.append(p["seq"])
    assert order == list(range(first, last + 1))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "station.sqlite"
    conn = open_db(path)
    yield path, conn
    conn.close()


@pytest.fixture
def publishers():
    started = []

    def make(*args, **kw):
        p = MqttPublisher(*args, **kw)
        p.start()
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


@pytest.fixture
def subscribers():
    made = []

    def make(*args, **kw):
        s = Subscriber(*args, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_outbox_published_in_order_and_emptied(mosquitto, db, publishers, subscribers):
    path, conn = db
    sub = subscribers(mosquitto, "shaftgate/#")
    add_events(conn, "m1", 1, 250)
    pub = publishers(path, mosquitto.config(), "m1", "serve-m1")
    pub.wake()
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 250)
    assert [p["seq"] for p in events_of(msgs)] == list(range(1, 251))
    assert all(t == "shaftgate/m1/event/G1" and not r for t, p, r in msgs if "/event/" in t)
    assert wait_until(lambda: outbox.pending(conn) == 0)
    # The publisher counts its rows after their delete commits: wait for the count too.
    assert wait_until(lambda: pub.published == 250) and pub.connected
    # rows committed later are sent when the caller wakes the publisher
    add_events(conn, "m1", 251, 260)
    pub.wake()
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 260)
    assert [p["seq"] for p in events_of(msgs)] == list(range(1, 261))


def test_row_stays_until_its_puback(mosquitto, db, publishers, subscribers):
    path, conn = db
    sub = subscribers(mosquitto, "shaftgate/#")
    pub = publishers(path, mosquitto.config(), "m1", "serve-m1")
    assert wait_until(lambda: pub.connected)
    mosquitto.pause()  # the connection stays up; no PUBACK comes back
    try:
        add_events(conn, "m1", 1, 30)
        pub.wake()
        # Sent (the window is in flight) but not acknowledged: every row is still owed.
        assert not wait_until(lambda: outbox.pending(conn) < 30, timeout_s=1.5)
        assert pub.connected and pub.published == 0
    finally:
        mosquitto.resume()
    assert wait_until(lambda: outbox.pending(conn) == 0)
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 30)
    assert_in_order_once(events_of(msgs), 1, 30)


def test_broker_down_outbox_grows_then_drains_in_order(mosquitto, db, publishers, subscribers):
    path, conn = db
    sub = subscribers(mosquitto, "shaftgate/#")
    pub = publishers(path, mosquitto.config(), "m1", "serve-m1", backoff_s=(0.05, 0.3))
    add_events(conn, "m1", 1, 1500)
    pub.wake()
    assert wait_until(lambda: pub.published > 200)
    mosquitto.stop()  # mid-stream
    # A failed attempt to reconnect: the old connection is over, its PUBACKs all settled.
    assert wait_until(lambda: "cannot connect" in (pub.last_error or ""))
    assert not pub.connected
    owed = outbox.pending(conn)
    assert owed > 0, "the test wants the stop mid-stream"
    # Recording goes on while the broker is away: the outbox grows.
    for first in range(1501, 3001, 100):
        add_events(conn, "m1", first, first + 99)
        pub.wake()
    assert outbox.pending(conn) == owed + 1500
    assert not pub.connected
    count, oldest_s = outbox.backlog(conn)
    down_since = pub.status()["down_since"]
    assert count == owed + 1500 and oldest_s <= down_since <= time.time()
    mosquitto.start()  # same port, same persistence: the subscriber's session survives
    assert wait_until(lambda: outbox.pending(conn) == 0, timeout_s=40)
    msgs = sub.wait_for(lambda m: len({p["id"] for p in events_of(m)}) >= 3000, timeout_s=40)
    assert_in_order_once(events_of(msgs), 1, 3000)
    assert pub.connections >= 2
    assert pub.status()["down_since"] is None and outbox.backlog(conn) == (0, None)


def test_killed_publisher_resumes_from_the_outbox(mosquitto, db, subscribers, tmp_path):
    # serve killed with -9 mid-stream: what the broker had not acknowledged is still owed,
    # and a new process sends it; the last will says "offline" meanwhile.
    path, conn = db
    sub = subscribers(mosquitto, "shaftgate/#")
    add_events(conn, "m1", 1, 2000)
    script = textwrap.dedent(
        """
        import sys, time
        sys.path[:0] = [%r, %r, %r]
        from shaftgate.station.broker import BrokerConfig
        from shaftgate.station.mqtt import MqttPublisher
        p = MqttPublisher(%r, BrokerConfig("127.0.0.1", %d), "m1", "serve-m1")
        p.start()
        time.sleep(120)
        """
        % (
            str(REPO / "host_tools"),
            str(REPO / "firmware"),
            str(REPO / "protocol"),
            str(path),
            mosquitto.port,
        )
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert wait_until(lambda: outbox.pending(conn) < 1900)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    left = outbox.pending(conn)
    assert left > 0, "the test wants the kill mid-stream"
    offline = (
        "shaftgate/m1/presence/serve-m1",
        {"mine_id": "m1", "client_id": "serve-m1", "state": "offline"},
        False,
    )
    assert offline in sub.wait_for(lambda m: offline in m)
    pub = MqttPublisher(path, mosquitto.config(), "m1", "serve-m1")
    pub.start()
    try:
        assert wait_until(lambda: outbox.pending(conn) == 0, timeout_s=30)
        msgs = sub.wait_for(lambda m: len({p["id"] for p in events_of(m)}) >= 2000)
        assert_in_order_once(events_of(msgs), 1, 2000)
    finally:
        pub.stop()


def test_two_mines_into_one_broker(mosquitto, tmp_path, publishers, subscribers):
    sub = subscribers(mosquitto, "shaftgate/+/event/#", "shaftgate/+/headcount")
    for mine in ("mine-a", "mine-b"):
        path = tmp_path / (mine + ".sqlite")
        conn = open_db(path)
        add_events(conn, mine, 1, 100, gateway="shaft")
        outbox.enqueue(conn, *topics.headcount_msg(mine, 7, {"shaft": 7}))
        conn.commit()
        conn.close()
        publishers(path, mosquitto.config(), mine, "serve-" + mine).wake()
    msgs = sub.wait_for(
        lambda m: len(events_of(m)) >= 200 and sum("/headcount" in t for t, _, _ in m) >= 2
    )
    for mine in ("mine-a", "mine-b"):
        assert [p["seq"] for p in events_of(msgs, mine)] == list(range(1, 101))
        assert all(p["id"].startswith("shaft:") for p in events_of(msgs, mine))
        assert ("shaftgate/%s/headcount" % mine) in {t for t, _, _ in msgs}


def test_retained_state_reaches_a_late_subscriber(mosquitto, db, publishers, subscribers):
    path, conn = db
    outbox.enqueue(conn, *topics.link_msg("m1", "G1", False, "silent for 30 s", time_s=5.0))
    outbox.enqueue(conn, *topics.link_msg("m1", "G1", True, "answering", time_s=6.0))
    conn.commit()
    pub = publishers(path, mosquitto.config(), "m1", "serve-m1")
    assert wait_until(lambda: outbox.pending(conn) == 0)
    late = subscribers(mosquitto, "shaftgate/m1/#")
    msgs = late.wait_for(lambda m: len(m) >= 2)
    links = [p for t, p, r in msgs if t == "shaftgate/m1/link/G1"]
    assert [(p["up"], p["detail"]) for p in links] == [(True, "answering")]
    assert ("shaftgate/m1/presence/serve-m1", {"mine_id": "m1", "client_id": "serve-m1",
            "state": "online"}, True) in msgs  # fmt: skip
    pub.stop()
    msgs = late.wait_for(lambda m: any(p.get("state") == "offline" for _, p, _ in m))
    assert msgs[-1][1]["state"] == "offline"


def test_tls_and_password(mosquitto_factory, db, publishers, subscribers, tmp_path):
    path, conn = db
    tls = make_tls(tmp_path)
    broker = mosquitto_factory(tls=tls, users={"serve": "s3cret", "platform": "p4ss"})
    sub = subscribers(broker, "shaftgate/#", username="platform", password="p4ss")
    add_events(conn, "m1", 1, 20)
    pub = publishers(path, broker.config(username="serve", password="s3cret"), "m1", "serve-m1")
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 20)
    assert [p["seq"] for p in events_of(msgs)] == list(range(1, 21))
    assert wait_until(lambda: outbox.pending(conn) == 0)
    assert pub.broker.describe() == "mqtts://127.0.0.1:%d as serve" % broker.port


def test_wrong_password_publishes_nothing(mosquitto_factory, db, publishers, tmp_path):
    path, conn = db
    broker = mosquitto_factory(users={"serve": "s3cret"})
    add_events(conn, "m1", 1, 5)
    pub = publishers(path, broker.config(username="serve", password="wrong"), "m1", "serve-m1")
    assert wait_until(lambda: pub.last_error is not None)
    assert "refused the connection" in pub.last_error
    assert not pub.connected and pub.published == 0 and outbox.pending(conn) == 5


def test_untrusted_broker_certificate_publishes_nothing(
    mosquitto_factory, db, publishers, tmp_path
):
    path, conn = db
    broker = mosquitto_factory(tls=make_tls(tmp_path, "real"))
    other_ca = make_tls(tmp_path, "other")["ca"]
    add_events(conn, "m1", 1, 5)
    pub = publishers(path, broker.config(tls=TlsConfig(ca=other_ca)), "m1", "serve-m1")
    assert wait_until(lambda: pub.last_error is not None)
    assert "certificate verify failed" in pub.last_error
    assert not pub.connected and outbox.pending(conn) == 5


def test_client_certificate(mosquitto_factory, db, publishers, subscribers, tmp_path):
    path, conn = db
    tls = make_tls(tmp_path, client=True)
    broker = mosquitto_factory(tls=tls, require_certificate=True)
    with_cert = {"ca": tls["ca"], "cert": tls["client_cert"], "key": tls["client_key"]}
    sub = subscribers(broker, "shaftgate/#", tls=with_cert)
    add_events(conn, "m1", 1, 3)
    cfg = broker.config(tls=TlsConfig(tls["ca"], tls["client_cert"], tls["client_key"]))
    publishers(path, cfg, "m1", "serve-m1")
    assert [p["seq"] for p in events_of(sub.wait_for(lambda m: len(events_of(m)) >= 3))] == [
        1,
        2,
        3,
    ]
    # the same broker turns away a client without a certificate
    path2 = path.with_name("other.sqlite")
    conn2 = open_db(path2)
    add_events(conn2, "m2", 1, 3)
    nocert = publishers(path2, broker.config(), "m2", "serve-m2")
    assert wait_until(lambda: nocert.last_error is not None)
    assert not nocert.connected and outbox.pending(conn2) == 3
    conn2.close()


def test_message_the_broker_refuses_stays_owed(mosquitto_factory, db, publishers, subscribers):
    # A PUBACK with a failure reason (here an ACL that forgets the headcount topic) is not a
    # delivery: the row stays and is sent again once the broker takes it.
    path, conn = db
    acl = "user serve\ntopic write shaftgate/m1/event/#\ntopic write shaftgate/m1/presence/#\n"
    broker = mosquitto_factory(
        users={"serve": "pw", "platform": "pp"}, acl=acl + "user platform\ntopic read #\n"
    )
    sub = subscribers(broker, "shaftgate/m1/#", username="platform", password="pp")
    add_events(conn, "m1", 1, 3)
    outbox.enqueue(conn, *topics.headcount_msg("m1", 3, {"face-1": 3}))
    conn.commit()
    cfg = broker.config(username="serve", password="pw")
    pub = publishers(path, cfg, "m1", "serve-m1", backoff_s=(0.05, 0.2))
    assert wait_until(
        lambda: pub.last_error is not None and "refused outbox row 4" in pub.last_error
    )
    assert "Not authorized" in pub.last_error
    assert wait_until(lambda: outbox.pending(conn) == 1)
    assert [n for n, *_ in outbox.read_batch(conn, 0, 10)] == [4]
    broker.acl = acl + "topic write shaftgate/m1/headcount\nuser platform\ntopic read #\n"
    broker.restart()
    assert wait_until(lambda: outbox.pending(conn) == 0)
    msgs = sub.wait_for(lambda m: any("/headcount" in t for t, _, _ in m))
    # Once, or twice with one id: the subscriber's resubscription after the restart may
    # also bring the retained copy.
    headcounts = {(p["id"], p["underground"]) for t, p, _ in msgs if "/headcount" in t}
    assert len(headcounts) == 1 and headcounts.pop()[1] == 3
    assert_in_order_once(events_of(msgs), 1, 3)


def test_unreadable_outbox_is_reported_and_retried(mosquitto, tmp_path, publishers, subscribers):
    path = tmp_path / "not-yet" / "station.sqlite"
    sub = subscribers(mosquitto, "shaftgate/#")
    pub = publishers(path, mosquitto.config(), "m1", "serve-m1", backoff_s=(0.05, 0.2))
    assert wait_until(lambda: (pub.last_error or "").startswith("outbox database:"))
    assert not pub.connected
    path.parent.mkdir()
    conn = open_db(path)
    add_events(conn, "m1", 1, 5)
    pub.wake()
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 5)
    assert [p["seq"] for p in events_of(msgs)] == [1, 2, 3, 4, 5]
    conn.close()


def test_broker_receive_maximum_is_respected(mosquitto_factory, db, publishers, subscribers):
    # A broker that takes 3 messages in flight disconnects a client that sends a fourth.
    path, conn = db
    broker = mosquitto_factory(extra_conf=["max_inflight_messages 3"])
    sub = subscribers(broker, "shaftgate/#")
    add_events(conn, "m1", 1, 200)
    pub = publishers(path, broker.config(), "m1", "serve-m1")
    msgs = sub.wait_for(lambda m: len(events_of(m)) >= 200)
    assert [p["seq"] for p in events_of(msgs)] == list(range(1, 201))
    assert pub.connections == 1 and pub._session.window == 3
