"""The MQTT 5 packets serve's publisher sends and reads, on one socket (OASIS MQTT 5.0).

Why not paho here: one message per event cost ~100 µs of CPU in paho (an MQTTMessage and
an MQTTMessageInfo per publish, a ReasonCode and a Properties object per PUBACK, its locks
and callbacks), so one core published about 10,000 events a second where ten busy links
need 21,700 on a machine with two (issue 11, docs/serve.md#figures). serve publishes at
QoS 1 and subscribes to nothing: it needs CONNECT/CONNACK, PUBLISH/PUBACK, PINGREQ/PINGRESP
and DISCONNECT only, encoded and parsed here straight from bytes. Consumers and the tests
still use paho; tests/test_mqttwire.py checks these bytes against paho's and the spec.
"""

import socket
import ssl
import struct
import time

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

# A broker sends serve CONNACKs, PUBACKs, PINGRESPs and DISCONNECTs: small. Anything longer
# than this is a broken stream, not something to buffer.
PACKET_MAX = 64 * 1024
SEND_TIMEOUT_S = 10.0  # a broker that takes nothing for this long is gone
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_PINGREQ = bytes((PINGREQ, 0))
_DISCONNECT_NORMAL = bytes((DISCONNECT, 0))

# MQTT 5.0 section 2.4: reason codes, named as the spec (and paho) name them.
REASONS = {
    0x00: "Success",
    0x10: "No matching subscribers",
    0x80: "Unspecified error",
    0x81: "Malformed Packet",
    0x82: "Protocol Error",
    0x83: "Implementation specific error",
    0x84: "Unsupported Protocol Version",
    0x85: "Client Identifier not valid",
    0x86: "Bad User Name or Password",
    0x87: "Not authorized",
    0x88: "Server unavailable",
    0x89: "Server busy",
    0x8A: "Banned",
    0x8B: "Server shutting down",
    0x8C: "Bad authentication method",
    0x8D: "Keep Alive timeout",
    0x8E: "Session taken over",
    0x90: "Topic Name invalid",
    0x91: "Packet Identifier in use",
    0x93: "Receive Maximum exceeded",
    0x94: "Topic Alias invalid",
    0x95: "Packet too large",
    0x96: "Message rate too high",
    0x97: "Quota exceeded",
    0x98: "Administrative action",
    0x99: "Payload format invalid",
    0x9A: "Retain not supported",
    0x9B: "QoS not supported",
    0x9C: "Use another server",
    0x9D: "Server moved",
    0x9F: "Connection rate exceeded",
    0xA0: "Maximum connect time",
}

# Section 2.2.2.2: each property's identifier and how its value is encoded, so a CONNACK's
# properties can be read (Receive Maximum) and the rest skipped.
_BYTE, _TWO, _FOUR, _VARINT, _STRING, _BINARY, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE, 0x02: _FOUR, 0x03: _STRING, 0x08: _STRING, 0x09: _BINARY, 0x0B: _VARINT,
    0x11: _FOUR, 0x12: _STRING, 0x13: _TWO, 0x15: _STRING, 0x16: _BINARY, 0x17: _BYTE,
    0x18: _FOUR, 0x19: _BYTE, 0x1A: _STRING, 0x1C: _STRING, 0x1F: _STRING, 0x21: _TWO,
    0x22: _TWO, 0x23: _TWO, 0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _FOUR, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}  # fmt: skip
SESSION_EXPIRY_INTERVAL = 0x11
RECEIVE_MAXIMUM = 0x21


class MqttError(Exception):
    """The broker sent something that is not MQTT 5, or not what it may send a publisher."""


class ConnectionLost(Exception):
    """The connection ended; the message says how."""


def reason_name(code):
    return REASONS.get(code, "reason code 0x%02X" % code)


def varint(n):
    if not 0 <= n <= 268_435_455:
        raise ValueError("MQTT variable byte integer out of range: %d" % n)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _string(value):
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if len(data) > 0xFFFF:
        raise ValueError("MQTT string of %d bytes is over 65,535" % len(data))
    return _U16.pack(len(data)) + data


def _packet(first, body):
    return bytes((first,)) + varint(len(body)) + body


def connect_packet(client_id, keepalive_s, session_expiry_s, will, username=None, password=None):
    """CONNECT with clean start off and a session expiry. will = (topic, payload bytes,
    retain), sent at QoS 1."""
    if not 0 <= keepalive_s <= 0xFFFF:
        raise ValueError("keepalive must be 0..65535 s, got %r" % (keepalive_s,))
    will_topic, will_payload, will_retain = will
    flags = 0x04 | (1 << 3)  # will, will QoS 1; clean start (0x02) off: a persistent session
    if will_retain:
        flags |= 0x20
    if username is not None:
        flags |= 0x80
        if password is not None:
            flags |= 0x40
    props = bytes((SESSION_EXPIRY_INTERVAL,)) + _U32.pack(session_expiry_s)
    body = [
        _string("MQTT"),
        bytes((5, flags)),
        _U16.pack(keepalive_s),
        varint(len(props)),
        props,
        _string(client_id),
        b"\x00",  # will properties: none
        _string(will_topic),
        _string(will_payload),
    ]
    if username is not None:
        body.append(_string(username))
        if password is not None:
            body.append(_string(password))
    return _packet(CONNECT, b"".join(body))


def publish_packet(topic, mid, payload, retain):
    """PUBLISH at QoS 1 (payload bytes, topic str, mid 1..65535), no properties."""
    t = topic.encode("utf-8")
    head = 0x33 if retain else 0x32
    n = len(t) + len(payload) + 5  # topic length, packet id, property length
    length = bytes((n,)) if n < 128 else varint(n)
    return b"".join(
        (bytes((head,)), length, _U16.pack(len(t)), t, _U16.pack(mid), b"\x00", payload)
    )


def _read_varint(data, i):
    value = 0
    shift = 0
    while True:
        if i >= len(data):
            raise MqttError("variable byte integer runs past the end of its packet")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7
        if shift > 21:
            raise MqttError("variable byte integer longer than 4 bytes")


def properties(data, i):
    """Read a property list at data[i:] -> ({identifier: last value}, index after it)."""
    length, i = _read_varint(data, i)
    end = i + length
    if end > len(data):
        raise MqttError("properties run past the end of their packet")
    found = {}
    while i < end:
        ident = data[i]
        kind = _PROPERTY_TYPES.get(ident)
        i += 1
        if kind is None:
            raise MqttError("unknown property 0x%02X" % ident)
        if kind == _BYTE:
            value, i = data[i], i + 1
        elif kind == _TWO:
            value, i = _U16.unpack_from(data, i)[0], i + 2
        elif kind == _FOUR:
            value, i = _U32.unpack_from(data, i)[0], i + 4
        elif kind == _VARINT:
            value, i = _read_varint(data, i)
        else:
            n = _U16.unpack_from(data, i)[0]
            value, i = bytes(data[i + 2 : i + 2 + n]), i + 2 + n
            if kind == _PAIR:
                n = _U16.unpack_from(data, i)[0]
                value, i = (value, bytes(data[i + 2 : i + 2 + n])), i + 2 + n
        found[ident] = value
    if i != end:
        raise MqttError("a property runs past the end of the property list")
    return found, end


def parse_connack(body):
    """-> (session present, reason code, {property: value})."""
    if len(body) < 2:
        raise MqttError("CONNACK of %d bytes" % len(body))
    props = properties(body, 2)[0] if len(body) > 2 else {}
    return bool(body[0] & 1), body[1], props


def parse_puback(body):
    """-> (packet id, reason code); a PUBACK without a reason code means Success."""
    if len(body) < 2:
        raise MqttError("PUBACK of %d bytes" % len(body))
    return (body[0] << 8) | body[1], (body[2] if len(body) > 2 else 0)


class Reader:
    """Bytes from the broker in, whole packets out: [(first byte, body bytes)]."""

    def __init__(self):
        self._buf = b""

    def feed(self, data):
        buf = self._buf + data if self._buf else data
        out = []
        i = 0
        n = len(buf)
        while n - i >= 2:
            length = buf[i + 1]
            j = i + 2
            if length >= 0x80:  # a longer length: rare here (nothing serve reads is long)
                length, j = 0, i + 1
                shift = 0
                while True:
                    if j >= n:
                        self._buf = buf[i:]
                        return out
                    b = buf[j]
                    j += 1
                    length |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise MqttError("remaining length longer than 4 bytes")
                if length > PACKET_MAX:
                    raise MqttError("broker sent a %d-byte packet to a publisher" % length)
            if j + length > n:
                break
            out.append((buf[i], buf[j : j + length]))
            i = j + length
        self._buf = buf[i:]
        return out


class Connection:
    """One TCP (or TLS) connection to the broker: bytes out, packets in."""

    def __init__(self, host, port, tls_context=None, timeout_s=SEND_TIMEOUT_S):
        sock = socket.create_connection((host, port), timeout=timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls_context is not None:
                sock = tls_context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.reader = Reader()
        self.sent_at = time.monotonic()
        self.closed = False

    def send(self, data):
        try:
            self.sock.settimeout(SEND_TIMEOUT_S)
            self.sock.sendall(data)
        except OSError as e:
            raise ConnectionLost("sending: %s" % (e,)) from e
        self.sent_at = time.monotonic()

    def receive(self, wait_s):
        """Packets that arrived, waiting up to wait_s for the first bytes."""
        try:
            self.sock.settimeout(wait_s)
            data = self.sock.recv(65536)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            return []
        except OSError as e:
            raise ConnectionLost("receiving: %s" % (e,)) from e
        if not data:
            raise ConnectionLost("the broker closed the connection")
        return self.reader.feed(data)

    def ping(self):
        self.send(_PINGREQ)

    def close(self, say_goodbye):
        """say_goodbye: a normal DISCONNECT first (the broker then drops the will)."""
        if self.closed:
            return
        self.closed = True
        try:
            if say_goodbye:
                self.sock.settimeout(1.0)
                self.sock.sendall(_DISCONNECT_NORMAL)
        except OSError:
            pass
        finally:
            self.sock.close()


def tls_context(ca=None, cert=None, key=None):
    """Verified TLS, as paho's tls_set() makes it: the system's CAs unless ca is given,
    the broker's name checked against its certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
    if ca is not None:
        ctx.load_verify_locations(ca)
    else:
        ctx.load_default_certs()
    return ctx
