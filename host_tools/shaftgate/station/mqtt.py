"""The publisher: one thread that empties the outbox into the broker, in order, QoS 1.

A row leaves the outbox only after the broker's PUBACK for it (R-DATA-2: nothing owed is
dropped). Each connection (mqttwire.py: MQTT 5 straight from bytes) starts again from the
oldest row still owed: what was in flight when a connection died is sent again, with the
same id, and that is the only way a consumer sees a message twice. The outbox, not the
client's memory, is the one account of what is owed, so a serve killed with -9 resumes
exactly where it was.

At most `window` messages are in flight (and in memory); rows are read in batches of what
the window has room for.
"""

import json
import logging
import sqlite3
import threading
import time

from . import mqttwire, outbox, topics

log = logging.getLogger(__name__)


# Rows in flight. The broker's Receive Maximum wins if lower: Mosquitto's default is 20,
# EMQX's 32; serve's embedded Mosquitto allows this many. 100 rather than 20 takes the
# publisher from 14 to 8 µs of CPU a message (fewer round trips, reads and commits:
# `./dev bench mqtt`); it is also what a kill may repeat (QoS 1), and ~30 KB of memory.
WINDOW = 100
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps our session through a week's outage
CONNACK_TIMEOUT_S = 10.0
IDLE_WAIT_S = 0.5  # nothing in flight: wait this long for wake() before servicing the link
INFLIGHT_WAIT_S = 0.05
POLL_S = 1.0  # look for rows nobody woke us for (written by another process, say)
BACKOFF_S = (0.2, 5.0)  # first and longest wait between connection attempts
STOP_PUBACK_WAIT_S = 2.0


class _Session:
    """What one connection knows; thrown away with it."""

    def __init__(self, window):
        self.window = window
        self.connack = False
        self.failed = False
        self.inflight = {}  # mid -> outbox row, in the order sent
        self.acked = []  # rows the broker has acknowledged, not yet deleted
        self.last_n = 0  # the last row handed to the broker on this connection
        self.maybe_more = True
        self.next_poll = 0.0
        self.presence_mid = None
        self.presence_acked = False
        self.ping_sent = None  # monotonic time of a PINGREQ not answered yet
        self._mid = 0

    def next_mid(self):
        # 1..65535 in turn: at most window + 1 are in flight, so none is still in use.
        self._mid = self._mid % 65535 + 1
        return self._mid


class MqttPublisher:
    def __init__(self, db_path, broker, mine_id, client_id, window=WINDOW, backoff_s=BACKOFF_S):
        if broker.embedded:
            raise ValueError("start the embedded broker first and pass the config it returns")
        self.db_path = str(db_path)
        self.broker = broker
        self.mine_id = topics.segment(mine_id, "mine id")
        self.client_id = topics.segment(client_id, "client id")
        self.window = window
        self.backoff_s = backoff_s
        self.connected = False
        self.last_error = None  # why the last connection ended or failed, for status
        self.published = 0  # rows the broker acknowledged since start()
        self.connections = 0  # connections the broker accepted since start()
        self.down_since = time.time()  # time.time() the link went down; None while connected
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._session = None

    def start(self):
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s=15.0):
        """Say "offline" (retained), disconnect, end the thread. Rows still owed stay in
        the outbox for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def wake(self):
        """The caller committed new outbox rows."""
        self._wake.set()

    def status(self):
        return {
            "broker": self.broker.describe(),
            "client_id": self.client_id,
            "connected": self.connected,
            "published": self.published,
            "connections": self.connections,
            "last_error": self.last_error,
            "down_since": self.down_since,
        }

    # ---- the thread ----

    def _run(self):
        conn = None
        delay_s = self.backoff_s[0]
        try:
            while not self._stop.is_set():
                healthy = False
                try:
                    if conn is None:
                        conn = self._open_outbox()
                    healthy = self._connection(conn, outbox.origin(conn))
                except sqlite3.Error as e:
                    # The database busy or unreadable: nothing is lost (the rows stay), so
                    # say it and try again, like a broker that is away.
                    log.error("MQTT publisher: outbox database: %s", e)
                    self.last_error = "outbox database: %s" % e
                    if conn is not None:
                        conn.close()
                    conn = None
                except Exception as e:
                    # A bug. The rows stay owed, so retrying (with the growing delay) is
                    # safe, and better than a publisher that silently stopped.
                    log.exception("MQTT publisher failed; retrying")
                    self.last_error = "publisher error: %r" % (e,)
                if healthy:
                    delay_s = self.backoff_s[0]
                if self._stop.wait(delay_s):
                    break
                delay_s = min(delay_s * 2, self.backoff_s[1])
        finally:
            self.connected = False
            if conn is not None:
                conn.close()

    def _open_outbox(self):
        conn = sqlite3.connect(self.db_path, timeout=2.0)
        try:
            # This connection only deletes published rows. A delete lost to a power cut
            # (WAL, synchronous=NORMAL) means a row is sent once more with its id: no fsync
            # per PUBACK.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(outbox.SCHEMA_SQL)
            conn.commit()
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _on_connack(self, wire, s, body):
        _present, reason, props = mqttwire.parse_connack(body)
        if reason >= 0x80:
            s.failed = True
            self.last_error = "%s refused the connection: %s" % (
                self.broker.describe(),
                mqttwire.reason_name(reason),
            )
            return
        # The broker's Receive Maximum holds us, however large our own window. Rows wait
        # for the "online" presence's PUBACK, so they have the whole of it.
        s.window = max(1, min(self.window, props.get(mqttwire.RECEIVE_MAXIMUM, 65535)))
        s.connack = True
        self.connected = True
        self.down_since = None
        self.connections += 1
        t, payload, retain = topics.presence_msg(self.mine_id, self.client_id, True)
        s.presence_mid = self._send_one(wire, s, t, json.dumps(payload).encode(), retain)

    def _send_one(self, wire, s, topic, payload, retain):
        mid = s.next_mid()
        wire.send(mqttwire.publish_packet(topic, mid, payload, retain))
        return mid

    def _on_packets(self, wire, s, packets):
        inflight = s.inflight
        for first, body in packets:
            kind = first & 0xF0
            if kind == mqttwire.PUBACK:
                mid, reason = mqttwire.parse_puback(body)
                n = inflight.pop(mid, None)
                if n is None:
                    if mid == s.presence_mid:
                        s.presence_acked = True
                    continue
                if reason >= 0x80:
                    # Kept in the outbox; sent again from here on the next connection.
                    s.failed = True
                    self.last_error = "broker refused outbox row %d: %s" % (
                        n,
                        mqttwire.reason_name(reason),
                    )
                    continue
                s.acked.append(n)
            elif kind == mqttwire.PINGRESP:
                s.ping_sent = None
            elif kind == mqttwire.CONNACK and not s.connack and not s.failed:
                self._on_connack(wire, s, body)
            elif kind == mqttwire.DISCONNECT:
                reason = body[0] if body else 0
                raise mqttwire.ConnectionLost(
                    "the broker disconnected: %s" % mqttwire.reason_name(reason)
                )
            else:
                raise mqttwire.MqttError(
                    "unexpected packet type 0x%02X from the broker%s"
                    % (first, "" if s.connack else " before CONNACK")
                )

    def _keepalive(self, wire, s):
        # MQTT 3.1.2.10: something sent within every keep-alive, or a PINGREQ; a broker
        # that does not answer one within a keep-alive is gone.
        keepalive = self.broker.keepalive
        now = time.monotonic()
        if s.ping_sent is not None:
            if now - s.ping_sent > keepalive:
                raise mqttwire.ConnectionLost("no PINGRESP within %d s" % keepalive)
        elif now - wire.sent_at >= keepalive:
            wire.ping()
            s.ping_sent = now

    def _connection(self, conn, token):
        """One connection, until it fails or stop(). True if the broker accepted it and
        refused nothing: only then does the next attempt come without growing delay."""
        s = self._session = _Session(self.window)
        b = self.broker
        t, payload, retain = topics.presence_msg(self.mine_id, self.client_id, False)
        try:
            hello = mqttwire.connect_packet(
                self.client_id,
                b.keepalive,
                SESSION_EXPIRY_S,
                (t, json.dumps(payload).encode(), retain),
                b.username,
                b.password,
            )
            tls = None
            if b.tls is not None:  # reads the TLS files: they may have gone since start
                tls = mqttwire.tls_context(b.tls.ca, b.tls.cert, b.tls.key)
            wire = mqttwire.Connection(b.host, b.port, tls)
        except (OSError, ValueError) as e:  # refused, unreachable, TLS (ssl.SSLError)
            self.last_error = "cannot connect to %s: %s" % (b.describe(), e)
            return False
        deadline = time.monotonic() + CONNACK_TIMEOUT_S
        goodbye = True  # a normal DISCONNECT at the end, unless the connection is gone
        try:
            wire.send(hello)
            while not self._stop.is_set():
                wait_s = INFLIGHT_WAIT_S if (s.inflight or not s.connack) else 0.0
                packets = wire.receive(wait_s)
                if packets:
                    self._on_packets(wire, s, packets)
                self._settle(conn, s)
                if s.failed:
                    return False
                if not s.connack:
                    if time.monotonic() > deadline:
                        self.last_error = "%s sent no CONNACK" % b.describe()
                        return False
                    continue
                self._keepalive(wire, s)
                self._fill(conn, wire, s, token)
                if not s.inflight and not s.maybe_more:
                    self._wake.wait(min(IDLE_WAIT_S, max(0.0, s.next_poll - time.monotonic())))
            if s.connack:
                self._goodbye(wire, s)
            return s.connack
        except (mqttwire.ConnectionLost, mqttwire.MqttError) as e:
            goodbye = isinstance(e, mqttwire.MqttError)
            if not s.failed:
                self.last_error = "connection to %s lost: %s" % (b.describe(), e)
            return s.connack and not s.failed
        finally:
            self._went_down()
            self._settle(conn, s)
            wire.close(goodbye)

    def _went_down(self):
        if self.connected or self.down_since is None:
            self.down_since = time.time()
        self.connected = False

    def _fill(self, conn, wire, s, token):
        if not s.presence_acked:
            return  # "online" first, and it must not share the broker's Receive Maximum
        if self._wake.is_set():
            self._wake.clear()  # before the read: a commit after it wakes us again
            s.maybe_more = True
        room = s.window - len(s.inflight)
        if room <= 0 or (not s.maybe_more and time.monotonic() < s.next_poll):
            return
        rows = outbox.read_batch(conn, s.last_n, room)
        s.maybe_more = len(rows) == room
        s.next_poll = time.monotonic() + POLL_S
        if not rows:
            return
        packets = []
        inflight = s.inflight
        publish_packet = mqttwire.publish_packet
        for n, topic, text, retain, auto_id in rows:
            mid = s.next_mid()
            packets.append(
                publish_packet(topic, mid, outbox.wire_payload(token, n, text, auto_id), retain)
            )
            inflight[mid] = n
        # One write for the batch: in flight (and owed until its PUBACK) from here on.
        s.last_n = rows[-1][0]
        wire.send(b"".join(packets))

    def _settle(self, conn, s):
        if not s.acked:
            return
        try:
            outbox.delete(conn, s.acked)
            conn.commit()
        except sqlite3.OperationalError as e:
            # Busy beyond the timeout: the rows stay owed and are tried again; at worst
            # they are sent once more after a reconnect, with the same ids.
            conn.rollback()
            log.warning("could not delete %d published outbox rows yet: %s", len(s.acked), e)
            return
        self.published += len(s.acked)
        s.acked.clear()

    def _goodbye(self, wire, s):
        # A clean DISCONNECT suppresses the will, so "offline" is said here instead.
        t, payload, retain = topics.presence_msg(self.mine_id, self.client_id, False)
        s.presence_mid = self._send_one(wire, s, t, json.dumps(payload).encode(), retain)
        s.presence_acked = False
        deadline = time.monotonic() + STOP_PUBACK_WAIT_S
        while not s.presence_acked and time.monotonic() < deadline:
            self._on_packets(wire, s, wire.receive(INFLIGHT_WAIT_S))
