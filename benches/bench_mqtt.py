"""MQTT publishing from the outbox (serve's station/mqtt.py) into a real Mosquitto (the
embedded one, on loopback) with a real subscriber: messages per second, enqueue-to-received
latency, and what the outbox costs on disk while the broker is away.

Reference: what 10 gateway links at 115,200 baud can carry, counted in events as they
travel in an events-since batch; issue 11 asks serve for 10 times that."""

import json
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from wire_sample import events_batch

from gatewire import cbor, frame
from shaftgate.station import outbox, topics
from shaftgate.station.broker import EmbeddedMosquitto
from shaftgate.station.mqtt import MqttPublisher

N_THROUGHPUT = 20000
N_LATENCY = 600
LATENCY_RATE_PER_S = 200  # ten busy gateways' worth of crossings, one at a time
N_DISK = 10000


def links_capacity_events_per_s(links=10, baud=115200):
    per_event = len(frame.encode(cbor.dumps(events_batch(50)))) / 50
    return links * (baud / 10) / per_event  # 8N1: ten bits a byte


def event(seq):
    return {"seq": seq, "time_s": 1_763_865_600 + seq, "kind": 1, "tag": 305419 + seq,
            "a": 1042, "b": 17, "digest": b"\xa5" * 16}  # fmt: skip


class Counter:
    def __init__(self, port):
        self.cond = threading.Condition()
        self.received = {}  # seq -> time received (first time)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, "bench-sub", protocol=paho.MQTTv5)
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("shaftgate/+/event/#", qos=1)
        self.client.loop_start()
        time.sleep(0.3)

    def on_message(self, client, userdata, msg):
        seq = json.loads(msg.payload)["seq"]
        with self.cond:
            self.received.setdefault(seq, time.perf_counter())
            self.cond.notify_all()

    def wait(self, n, timeout_s=120):
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while len(self.received) < n and time.monotonic() < deadline:
                self.cond.wait(0.5)
            return len(self.received)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def paho_alone_us(cfg, protocol, n=N_THROUGHPUT, window=20):
    # A bare paho loop publishing one event's payload n times at QoS 1, nothing else: what
    # paho itself costs a message, in MQTT 5 (serve's) or 3.1.1 (issue 11 asked which).
    payload = topics.EventTexts("bench", "G1", "face-1").event(event(1)).encode()
    kw = {"clean_session": False} if protocol == paho.MQTTv311 else {}
    client = paho.Client(
        CallbackAPIVersion.VERSION2, "bench-paho-%d" % protocol, protocol=protocol, **kw
    )
    client.max_inflight_messages_set(window)
    client.username_pw_set(cfg.username, cfg.password)
    acked = [0]
    client.on_publish = lambda c, u, mid, rc, props: acked.__setitem__(0, acked[0] + 1)
    if protocol == paho.MQTTv5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect(cfg.host, cfg.port, 30, clean_start=False, properties=props)
    else:
        client.connect(cfg.host, cfg.port, 30)
    while not client.is_connected():
        client.loop(0.05)
    c0 = time.process_time()
    sent = 0
    while acked[0] < n:
        while sent < n and sent - acked[0] < window:
            client.publish("shaftgate/bench/event/G1", payload, qos=1)
            sent += 1
        client.loop(0.05)
    used_s = time.process_time() - c0
    client.disconnect()
    return used_s / n * 1e6


def open_db(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(outbox.SCHEMA_SQL)
    return conn


def throughput(folder, cfg):
    conn = open_db(folder / "t.sqlite")
    for seq in range(1, N_THROUGHPUT + 1):
        outbox.enqueue(conn, *topics.event_msg("bench", "G1", "face-1", event(seq)))
    conn.commit()
    sub = Counter(cfg.port)
    pub = MqttPublisher(folder / "t.sqlite", cfg, "bench", "bench-serve")
    t0 = time.perf_counter()
    pub.start()
    while outbox.pending(conn):
        time.sleep(0.01)
    acked_s = time.perf_counter() - t0
    got = sub.wait(N_THROUGHPUT)
    received_s = max(sub.received.values()) - t0
    pub.stop()
    sub.close()
    conn.close()
    return acked_s, received_s, got


def cpu_per_message_us(folder, cfg):
    # This process's CPU time with nobody subscribed here: the publisher thread's cost, which
    # is what bounds the rate on a machine that is not shared (the wall-clock rates above
    # depend on what else runs).
    conn = open_db(folder / "c.sqlite")
    for seq in range(1, N_THROUGHPUT + 1):
        outbox.enqueue(conn, *topics.event_msg("bench", "G1", "face-1", event(seq)))
    conn.commit()
    pub = MqttPublisher(folder / "c.sqlite", cfg, "bench", "bench-serve-c")
    c0 = time.process_time()
    pub.start()
    while outbox.pending(conn):
        time.sleep(0.05)
    used_s = time.process_time() - c0
    pub.stop()
    conn.close()
    return used_s / N_THROUGHPUT * 1e6


def latency(folder, cfg):
    conn = open_db(folder / "l.sqlite")
    sub = Counter(cfg.port)
    pub = MqttPublisher(folder / "l.sqlite", cfg, "bench", "bench-serve-l")
    pub.start()
    while not pub.connected:
        time.sleep(0.01)
    sent = {}
    gap_s = 1.0 / LATENCY_RATE_PER_S
    next_t = time.perf_counter()
    for seq in range(1, N_LATENCY + 1):
        outbox.enqueue(conn, *topics.event_msg("bench", "G1", "face-1", event(seq)))
        conn.commit()
        sent[seq] = time.perf_counter()
        pub.wake()
        next_t += gap_s
        time.sleep(max(0.0, next_t - time.perf_counter()))
    sub.wait(N_LATENCY)
    pub.stop()
    sub.close()
    conn.close()
    lat = sorted((sub.received[s] - sent[s]) * 1000 for s in sent if s in sub.received)
    return lat


def disk(folder):
    conn = open_db(folder / "d.sqlite")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = Path(folder / "d.sqlite").stat().st_size
    for seq in range(1, N_DISK + 1):
        outbox.enqueue(conn, *topics.event_msg("bench", "gateway-07", "heading-2", event(seq)))
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = Path(folder / "d.sqlite").stat().st_size
    conn.close()
    return (after - before) / N_DISK


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def run():
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = EmbeddedMosquitto(folder / "mqtt")
        cfg = broker.start()
        try:
            acked_s, received_s, got = throughput(folder, cfg)
            cpu_us = cpu_per_message_us(folder, cfg)
            lat = latency(folder, cfg)
            v5_us = paho_alone_us(cfg, paho.MQTTv5)
            v311_us = paho_alone_us(cfg, paho.MQTTv311)
        finally:
            broker.stop()
        per_row = disk(folder)
    cap = links_capacity_events_per_s()
    rate = N_THROUGHPUT / acked_s
    return [
        (
            "MQTT: outbox to broker (QoS 1, PUBACK before delete), %d events" % N_THROUGHPUT,
            ["measure", "value", "ratio to 10 links at 115,200 baud"],
            [
                ("published and acknowledged, events/s", rate, rate / cap),
                ("received by a subscriber, events/s", got / received_s, got / received_s / cap),
                ("10 links at 115,200 baud carry, events/s", cap, 1.0),
                ("publisher CPU per event, us", cpu_us, ""),
                ("events/s one free core could publish", 1e6 / cpu_us, 1e6 / cpu_us / cap),
                ("received / enqueued", "%d / %d" % (got, N_THROUGHPUT), ""),
            ],
        ),
        (
            "MQTT: enqueue+commit+wake to received, %d events at %d/s"
            % (N_LATENCY, LATENCY_RATE_PER_S),
            ["percentile", "ms"],
            [("p50", pct(lat, 50)), ("p99", pct(lat, 99)), ("max", lat[-1])],
        ),
        (
            "MQTT: paho alone, QoS 1, window 20, %d messages (no outbox, no subscriber)"
            % N_THROUGHPUT,
            ["protocol", "CPU per message, us"],
            [("MQTT 5 (serve's)", v5_us), ("MQTT 3.1.1, clean_session False", v311_us)],
        ),
        (
            "MQTT: outbox on disk while the broker is away",
            ["measure", "value"],
            [("bytes per queued event", per_row), ("MB per million queued events", per_row)],
        ),
    ]
