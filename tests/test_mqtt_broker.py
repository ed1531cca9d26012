"""The [broker] site table and the embedded Mosquitto serve starts when there is none."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mqtt_broker import Subscriber, wait_until

from shaftgate.station import outbox, topics
from shaftgate.station.broker import BrokerConfig, EmbeddedMosquitto, SiteError, accepts
from shaftgate.station.mqtt import MqttPublisher

REPO = Path(__file__).resolve().parent.parent


def test_no_table_means_embedded():
    cfg = BrokerConfig.from_table(None, "site.toml")
    assert cfg.embedded and cfg.describe() == "embedded Mosquitto"
    with pytest.raises(ValueError, match="start the embedded broker first"):
        MqttPublisher("x.sqlite", cfg, "m1", "serve-m1")


def test_full_table(tmp_path):
    for name in ("ca.crt", "me.crt", "me.key"):
        (tmp_path / name).write_text("x")
    cfg = BrokerConfig.from_table(
        {
            "host": "emqx.mine.example",
            "tls": {"ca": "ca.crt", "cert": "me.crt", "key": "me.key"},
            "username": "serve-m1",
            "password": "pw",
            "keepalive": 20,
        },
        "site.toml",
        base_dir=tmp_path,
    )
    assert (cfg.host, cfg.port, cfg.keepalive, cfg.username) == (
        "emqx.mine.example",
        8883,
        20,
        "serve-m1",
    )
    assert cfg.tls.ca == str(tmp_path / "ca.crt") and cfg.tls.key == str(tmp_path / "me.key")
    assert "pw" not in repr(cfg)
    plain = BrokerConfig.from_table({"host": "10.0.0.5"}, "site.toml")
    assert (plain.port, plain.tls, plain.embedded) == (1883, None, False)
    assert BrokerConfig.from_table({"host": "h", "tls": True}, "s").tls.ca is None


@pytest.mark.parametrize(
    "table, words",
    [
        ({}, "broker.host must be"),
        ({"host": "a b"}, "broker.host must be"),
        ({"host": "h", "prot": 1}, "broker.prot is not a broker setting"),
        ({"host": "h", "port": "1883"}, "broker.port must be an integer"),
        ({"host": "h", "port": 70000}, "broker.port must be an integer"),
        ({"host": "h", "keepalive": 1}, "broker.keepalive must be"),
        ({"host": "h", "password": "pw"}, "broker.password is set but broker.username is not"),
        ({"host": "h", "username": ""}, "broker.username must be"),
        ({"host": "h", "tls": "yes"}, "broker.tls must be true or a table"),
        ({"host": "h", "tls": {"ca": "missing.crt"}}, "broker.tls.ca: no such file"),
        ({"host": "h", "tls": {"cafile": "x"}}, "broker.tls.cafile is not a TLS setting"),
        ({"host": "h", "tls": {"cert": "c.crt"}}, "broker.tls.cert and broker.tls.key go together"),
    ],
)
def test_bad_table_names_the_key(table, words, tmp_path):
    (tmp_path / "c.crt").write_text("x")
    with pytest.raises(SiteError) as e:
        BrokerConfig.from_table(table, "site.toml", base_dir=tmp_path)
    assert words in str(e.value) and str(e.value).startswith("site.toml: ")


def test_embedded_broker_carries_messages_and_keeps_retained(tmp_path):
    state = tmp_path / "state" / "mqtt"
    emb = EmbeddedMosquitto(state)
    cfg = emb.start()
    try:
        assert cfg.host == "127.0.0.1" and not cfg.embedded
        conf = emb.conf_path.read_text()
        # Its own loopback listener and persistence; nothing from /etc/mosquitto.
        assert "listener %d 127.0.0.1" % cfg.port in conf
        assert "persistence_location %s/" % state in conf
        db = tmp_path / "s.sqlite"
        conn = sqlite3.connect(db)
        conn.executescript(outbox.SCHEMA_SQL)
        outbox.enqueue(conn, *topics.headcount_msg("m1", 4, {"face-1": 4}, time_s=1.0))
        conn.commit()
        pub = MqttPublisher(db, cfg, "m1", "serve-m1")
        pub.start()
        assert wait_until(lambda: outbox.pending(conn) == 0)
        pub.stop()
    finally:
        emb.stop()
    assert not accepts(cfg.port)
    # Restarted from the same state folder: same port, the retained headcount is still there.
    emb2 = EmbeddedMosquitto(state)
    cfg2 = emb2.start()
    try:
        assert cfg2.port == cfg.port
        sub = Subscriber(emb_as_test_broker(cfg2), "shaftgate/m1/headcount")
        msgs = sub.wait_for(lambda m: len(m) >= 1, timeout_s=5)
        sub.close()
        assert [p["underground"] for _, p, _ in msgs] == [4]
    finally:
        emb2.stop()


def emb_as_test_broker(cfg):
    class B:
        port = cfg.port
        tls = None

        @staticmethod
        def log_tail():
            return ""

    return B


def test_embedded_broker_is_restarted_when_it_dies(tmp_path):
    emb = EmbeddedMosquitto(tmp_path / "mqtt")
    cfg = emb.start()
    try:
        first_pid = emb._proc.pid
        emb.kill()
        assert wait_until(lambda: emb.restarts == 1 and accepts(cfg.port), timeout_s=15)
        assert emb._proc.pid != first_pid
    finally:
        emb.stop()
    assert not emb.running


def test_embedded_broker_dies_with_serve(tmp_path):
    # serve killed with -9 must not leave a broker holding the port and persistence file.
    state = tmp_path / "mqtt"
    script = textwrap.dedent(
        """
        import sys, time
        sys.path[:0] = [%r, %r]
        from shaftgate.station.broker import EmbeddedMosquitto
        e = EmbeddedMosquitto(%r)
        cfg = e.start()
        print(cfg.port, flush=True)
        time.sleep(120)
        """
        % (str(REPO / "host_tools"), str(REPO / "firmware"), str(state))
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        pid = int((state / "mosquitto.pid").read_text())
        assert accepts(port)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_until(lambda: not accepts(port), timeout_s=10)
        assert wait_until(lambda: not Path("/proc/%d" % pid).exists() or _zombie(pid), timeout_s=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _zombie(pid):
    try:
        return Path("/proc/%d/stat" % pid).read_text().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_port_taken_by_another_program(tmp_path):
    # The port of last time is busy (say, a system mosquitto now sits there): pick another.
    import socket

    emb = EmbeddedMosquitto(tmp_path / "mqtt")
    port = emb.start().port
    emb.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        emb = EmbeddedMosquitto(tmp_path / "mqtt")
        try:
            assert emb.start().port != port
        finally:
            emb.stop()


def test_embedded_broker_keeps_more_than_1000_for_an_absent_consumer(tmp_path):
    # Mosquitto's default would drop QoS 1 messages past 1000 for a consumer that is away.
    emb = EmbeddedMosquitto(tmp_path / "mqtt")
    cfg = emb.start()
    try:
        broker = emb_as_test_broker(cfg)
        away = Subscriber(broker, "shaftgate/m1/event/#", client_id="platform-1")
        away.close()
        db = tmp_path / "s.sqlite"
        conn = sqlite3.connect(db)
        conn.executescript(outbox.SCHEMA_SQL)
        for seq in range(1, 1501):
            ev = {
                "seq": seq,
                "time_s": seq,
                "kind": 1,
                "tag": 1,
                "a": 1,
                "b": 1,
                "digest": bytes(16),
            }
            outbox.enqueue(conn, *topics.event_msg("m1", "G1", "z", ev))
        conn.commit()
        pub = MqttPublisher(db, cfg, "m1", "serve-m1")
        pub.start()
        assert wait_until(lambda: outbox.pending(conn) == 0)
        pub.stop()
        back = Subscriber(broker, "shaftgate/m1/event/#", client_id="platform-1")
        msgs = back.wait_for(lambda m: len(m) >= 1500, timeout_s=20)
        back.close()
        assert [p["seq"] for _, p, _ in msgs] == list(range(1, 1501))
    finally:
        emb.stop()


def test_embedded_broker_only_serve_may_publish(tmp_path):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    emb = EmbeddedMosquitto(tmp_path / "mqtt")
    cfg = emb.start()
    try:
        assert cfg.username == "shaftgate-serve" and len(cfg.password) >= 24
        assert cfg.password not in (tmp_path / "mqtt" / "passwd").read_text()  # hashed
        assert (tmp_path / "mqtt" / "passwd").stat().st_mode & 0o077 == 0
        reader = Subscriber(emb_as_test_broker(cfg), "shaftgate/#")  # anonymous
        acks = []
        intruder = paho.Client(CallbackAPIVersion.VERSION2, "intruder", protocol=paho.MQTTv5)
        intruder.on_publish = lambda c, u, mid, rc, p: acks.append(rc)
        intruder.connect("127.0.0.1", cfg.port)
        intruder.loop_start()
        try:
            intruder.publish("shaftgate/m1/headcount", '{"underground": 0}', qos=1, retain=True)
            assert wait_until(lambda: acks)
            assert acks[0].is_failure and "authorized" in str(acks[0])
        finally:
            intruder.disconnect()
            intruder.loop_stop()
        db = tmp_path / "s.sqlite"
        conn = sqlite3.connect(db)
        conn.executescript(outbox.SCHEMA_SQL)
        outbox.enqueue(conn, *topics.headcount_msg("m1", 4, {"face-1": 4}))
        conn.commit()
        pub = MqttPublisher(db, cfg, "m1", "serve-m1")
        pub.start()
        msgs = reader.wait_for(lambda m: any("/headcount" in t for t, _, _ in m), timeout_s=10)
        pub.stop()
        reader.close()
        assert [p["underground"] for t, p, _ in msgs if "/headcount" in t] == [4]
    finally:
        emb.stop()


def test_damaged_persistence_file_is_set_aside(tmp_path):
    state = tmp_path / "mqtt"
    state.mkdir()
    (state / "mosquitto.db").write_bytes(b"\x00not a mosquitto database" * 100)
    emb = EmbeddedMosquitto(state)
    cfg = emb.start()
    try:
        assert accepts(cfg.port)
        aside = list(state.glob("mosquitto.db.damaged-*"))
        assert len(aside) == 1 and aside[0].read_bytes().startswith(b"\x00not a mosquitto")
    finally:
        emb.stop()
    # the fresh file it saved on stop is good: the next start does not set anything aside
    emb = EmbeddedMosquitto(state)
    emb.start()
    emb.stop()
    assert len(list(state.glob("mosquitto.db.damaged-*"))) == 1
