"""station/mqttwire.py: the MQTT 5 packets serve's publisher sends and reads, byte for byte
against the spec (OASIS MQTT 5.0), then against a real Mosquitto with a paho subscriber:
the will fires when the connection drops and not after a normal DISCONNECT, the broker's
Receive Maximum is read, a quiet connection is kept alive by PINGREQ."""

import json
import time

import pytest
from mqtt_broker import Subscriber, wait_until

from shaftgate.station import mqttwire as w
from shaftgate.station.mqtt import MqttPublisher


def test_variable_byte_integer_at_each_boundary():
    cases = {
        0: b"\x00",
        127: b"\x7f",
        128: b"\x80\x01",
        16_383: b"\xff\x7f",
        16_384: b"\x80\x80\x01",
        2_097_151: b"\xff\xff\x7f",
        2_097_152: b"\x80\x80\x80\x01",
        268_435_455: b"\xff\xff\xff\x7f",
    }
    for n, wire in cases.items():
        assert w.varint(n) == wire
        assert w._read_varint(wire, 0) == (n, len(wire))
    with pytest.raises(ValueError, match="out of range"):
        w.varint(268_435_456)
    with pytest.raises(w.MqttError, match="longer than 4 bytes"):
        w._read_varint(b"\xff\xff\xff\xff\x01", 0)


def test_publish_packet_is_the_spec_s_layout():
    # 3.3: fixed header (QoS 1 = 0x32, retain bit 0x01), remaining length, topic, packet
    # id, property length 0, payload.
    assert w.publish_packet("a/b", 1, b"hi", False) == (
        b"\x32\x0a" + b"\x00\x03a/b" + b"\x00\x01" + b"\x00" + b"hi"
    )
    assert w.publish_packet("a/b", 0x1234, b"", True)[:1] == b"\x33"
    long = w.publish_packet("t", 7, b"x" * 200, False)
    assert long[:3] == b"\x32" + w.varint(1 + 2 + 2 + 1 + 200)
    assert long[3:] == b"\x00\x01t\x00\x07\x00" + b"x" * 200
    # A topic is UTF-8 on the wire, its length in bytes.
    assert w.publish_packet("矿/1", 2, b"", False)[2:4] == b"\x00\x05"


def test_connect_packet_is_the_spec_s_layout():
    pkt = w.connect_packet("serve-m1", 30, 604800, ("p/x", b"off", True), "u", "pw")
    assert pkt[0] == w.CONNECT
    length, i = w._read_varint(pkt, 1)
    assert len(pkt) == i + length
    body = pkt[i:]
    assert body[:7] == b"\x00\x04MQTT\x05"
    # user name, password, will retain, will QoS 1, will flag; clean start off
    assert body[7] == 0x80 | 0x40 | 0x20 | 0x08 | 0x04
    assert body[8:10] == b"\x00\x1e"
    props, j = w.properties(body, 10)
    assert props == {w.SESSION_EXPIRY_INTERVAL: 604800}
    assert body[j:] == (
        b"\x00\x08serve-m1" + b"\x00" + b"\x00\x03p/x" + b"\x00\x03off" + b"\x00\x01u\x00\x02pw"
    )
    anonymous = w.connect_packet("c", 30, 1, ("t", b"", False))
    body = anonymous[2:]
    assert body[7] == 0x08 | 0x04  # no user, no password, will not retained


def test_connack_properties_read_and_skipped():
    props = (
        b"\x21\x00\x14"  # Receive Maximum 20
        + b"\x22\x00\x0a"  # Topic Alias Maximum
        + b"\x12\x00\x03abc"  # Assigned Client Identifier (a string, skipped)
        + b"\x26\x00\x01k\x00\x01v"  # User Property (a string pair)
        + b"\x0b\x80\x01"  # Subscription Identifier, a variable byte integer
        + b"\x27\x00\x01\x00\x00"  # Maximum Packet Size
    )
    body = b"\x01\x00" + w.varint(len(props)) + props
    present, reason, found = w.parse_connack(body)
    assert present is True and reason == 0
    assert found[w.RECEIVE_MAXIMUM] == 20
    assert found[0x12] == b"abc" and found[0x26] == (b"k", b"v")
    assert found[0x0B] == 128 and found[0x27] == 65536
    assert w.parse_connack(b"\x00\x86")[1:] == (0x86, {})
    assert w.reason_name(0x86) == "Bad User Name or Password"
    assert w.reason_name(0xEE) == "reason code 0xEE"


@pytest.mark.parametrize(
    "body, error",
    [
        (b"\x00", "CONNACK of 1 bytes"),
        (b"\x00\x00\x03\x7f\x00\x00", "unknown property 0x7F"),
        (b"\x00\x00\x05\x21\x00\x14", "properties run past the end"),
        (b"\x00\x00\x02\x21\x00\x14", "runs past the end of the property list"),
    ],
)
def test_broken_connack_is_refused_by_name(body, error):
    with pytest.raises(w.MqttError, match=error):
        w.parse_connack(body)


def test_puback_reason_codes():
    assert w.parse_puback(b"\x01\x02") == (0x0102, 0)  # no reason code: Success
    assert w.parse_puback(b"\x00\x05\x10") == (5, 0x10)  # No matching subscribers: a success
    assert w.parse_puback(b"\x00\x05\x87\x00") == (5, 0x87)
    with pytest.raises(w.MqttError, match="PUBACK of 1 bytes"):
        w.parse_puback(b"\x00")


def test_reader_joins_packets_split_anywhere():
    stream = (
        b"\x40\x02\x00\x01"
        + b"\x40\x03\x00\x02\x10"
        + b"\xd0\x00"
        + bytes((w.CONNACK,))
        + w.varint(300)
        + b"\x00\x00"
        + w.varint(297)
        + b"\x1f\x01\x26"
        + b"r" * 294
    )
    whole = w.Reader().feed(stream)
    assert [first for first, _ in whole] == [0x40, 0x40, 0xD0, 0x20]
    assert whole[1][1] == b"\x00\x02\x10" and len(whole[3][1]) == 300
    r = w.Reader()
    got = []
    for i in range(len(stream)):
        got += r.feed(stream[i : i + 1])
    assert got == whole


def test_reader_refuses_what_a_broker_never_sends_a_publisher():
    with pytest.raises(w.MqttError, match="70000-byte packet"):
        w.Reader().feed(b"\x30" + w.varint(70_000))
    with pytest.raises(w.MqttError, match="longer than 4 bytes"):
        w.Reader().feed(b"\x30\xff\xff\xff\xff\x01")


def _presence(msgs, client_id):
    return [(p, retained) for t, p, retained in msgs if t.endswith("/presence/" + client_id)]


@pytest.mark.parametrize("goodbye", [False, True])
def test_will_fires_only_when_the_connection_drops(mosquitto, goodbye):
    sub = Subscriber(mosquitto, "shaftgate/#")
    try:
        will = json.dumps({"id": None, "state": "offline"}).encode()
        c = w.Connection("127.0.0.1", mosquitto.port)
        c.send(
            w.connect_packet("wire-test", 30, 60, ("shaftgate/m1/presence/wire-test", will, False))
        )
        assert wait_until(lambda: c.receive(0.1) or False, 5)
        c.send(w.publish_packet("shaftgate/m1/presence/wire-test", 9, b'{"state":"online"}', False))
        got = sub.wait_for(lambda m: len(_presence(m, "wire-test")) >= 1)
        assert _presence(got, "wire-test")[0][0] == {"state": "online"}
        c.close(say_goodbye=goodbye)
        time.sleep(1.0)  # the will, if any, is sent at once
        states = [p["state"] for p, _ in _presence(sub.snapshot(), "wire-test")]
        assert states == (["online"] if goodbye else ["online", "offline"])
    finally:
        sub.close()


def test_broker_receive_maximum_and_keepalive_with_a_quiet_outbox(mosquitto_factory, tmp_path):
    # keepalive 1 s: a broker drops a client that sends nothing for 1.5 s; the publisher
    # pings, so one connection lasts. Then the broker stops answering (SIGSTOP): the
    # publisher notices within a keep-alive or two (no PINGRESP) and says so.
    broker = mosquitto_factory(extra_conf=["max_inflight_messages 7"])
    pub = MqttPublisher(tmp_path / "o.sqlite", broker.config(keepalive=1), "m1", "serve-m1")
    pub.start()
    try:
        assert wait_until(lambda: pub.connected, 10)
        assert pub._session.window == 7
        time.sleep(4.0)
        assert pub.connected and pub.connections == 1
        broker.pause()
        try:
            assert wait_until(lambda: not pub.connected, 6)
            assert "no PINGRESP within 1 s" in (pub.last_error or "")
        finally:
            broker.resume()
        assert wait_until(lambda: pub.connected and pub.connections == 2, 15)
    finally:
        pub.stop()
