"""The publisher: one thread that empties the outbox into the broker, in order, QoS 1.

A row leaves the outbox only after the broker's PUBACK for it (R-DATA-2: nothing owed is
dropped). Each connection is a fresh paho client that starts again from the oldest row
still owed: what was in flight when a connection died is sent again, with the same id, and
that is the only way a consumer sees a message twice. The outbox, not paho's memory, is
the one account of what is owed, so a serve killed with -9 resumes exactly where it was.

At most `window` messages are in flight (and in memory); rows are read in batches of what
the window has room for.

serve runs several of these, each in a process of its own (station/mqtt_shares.py): each
takes a share of the outbox named by topic (`only_topics`, or everything but
`skip_topics`), and only the one with `presence=True` carries serve's presence and will.
"""

import json
import logging
import sqlite3
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import outbox, topics

log = logging.getLogger(__name__)

WINDOW = 20  # rows in flight: Mosquitto's default Receive Maximum; the broker's wins if lower
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


class MqttPublisher:
    def __init__(
        self,
        db_path,
        broker,
        mine_id,
        client_id,
        window=WINDOW,
        backoff_s=BACKOFF_S,
        only_topics=None,
        skip_topics=None,
        presence=True,
        presence_id=None,
    ):
        # presence: say online/offline (retained) and leave the offline will, under
        # presence_id (default: the client id) on shaftgate/<mine>/presence/<id>.
        if broker.embedded:
            raise ValueError("start the embedded broker first and pass the config it returns")
        self.db_path = str(db_path)
        self.broker = broker
        self.mine_id = topics.segment(mine_id, "mine id")
        self.client_id = topics.segment(client_id, "client id")
        self.only_topics = None if only_topics is None else list(only_topics)
        self.skip_topics = list(skip_topics or ())
        self.presence_id = None
        if presence:
            self.presence_id = topics.segment(presence_id or client_id, "presence id")
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

    def _client(self, s):
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=paho.MQTTv5
        )
        client.max_inflight_messages_set(self.window)
        b = self.broker
        if b.username is not None:
            client.username_pw_set(b.username, b.password)
        if b.tls is not None:
            client.tls_set(ca_certs=b.tls.ca, certfile=b.tls.cert, keyfile=b.tls.key)
        if self.presence_id is not None:
            t, payload, retain = topics.presence_msg(self.mine_id, self.presence_id, False)
            client.will_set(t, json.dumps(payload), qos=1, retain=retain)

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                s.failed = True
                self.last_error = "%s refused the connection: %s" % (b.describe(), reason_code)
                return
            # paho does not hold itself to the broker's Receive Maximum: we do. Rows wait
            # for the "online" presence's PUBACK, so they have the whole of it.
            s.window = max(1, min(self.window, getattr(properties, "ReceiveMaximum", 65535)))
            s.connack = True
            self.connected = True
            self.down_since = None
            self.connections += 1
            if self.presence_id is None:
                s.presence_acked = True  # nothing to say first: rows have the whole window
                return
            t, payload, retain = topics.presence_msg(self.mine_id, self.presence_id, True)
            s.presence_mid = client.publish(t, json.dumps(payload), qos=1, retain=retain).mid

        def on_publish(client, userdata, mid, reason_code, properties):
            n = s.inflight.pop(mid, None)
            if n is None:
                if mid == s.presence_mid:
                    s.presence_acked = True
                return
            if reason_code.is_failure:
                # Kept in the outbox; sent again from here on the next connection.
                s.failed = True
                self.last_error = "broker refused outbox row %d: %s" % (n, reason_code)
                return
            s.acked.append(n)

        def on_disconnect(client, userdata, flags, reason_code, properties):
            self._went_down()

        client.on_connect = on_connect
        client.on_publish = on_publish
        client.on_disconnect = on_disconnect
        return client

    def _connection(self, conn, token):
        """One connection, until it fails or stop(). True if the broker accepted it and
        refused nothing: only then does the next attempt come without growing delay."""
        s = self._session = _Session(self.window)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        b = self.broker
        try:
            client = self._client(s)  # reads the TLS files: they may have gone since start
            client.connect(b.host, b.port, b.keepalive, clean_start=False, properties=props)
        except (OSError, ValueError) as e:  # refused, unreachable, TLS (ssl.SSLError)
            self.last_error = "cannot connect to %s: %s" % (b.describe(), e)
            return False
        deadline = time.monotonic() + CONNACK_TIMEOUT_S
        try:
            while not self._stop.is_set():
                rc = client.loop(INFLIGHT_WAIT_S if (s.inflight or not s.connack) else 0.0)
                self._settle(conn, s)
                if rc != paho.MQTT_ERR_SUCCESS:
                    if not s.failed:
                        self.last_error = "connection to %s lost: %s" % (
                            b.describe(),
                            paho.error_string(rc),
                        )
                    return s.connack and not s.failed
                if s.failed:
                    return False
                if not s.connack:
                    if time.monotonic() > deadline:
                        self.last_error = "%s sent no CONNACK" % b.describe()
                        return False
                    continue
                self._fill(conn, client, s, token)
                if not s.inflight and not s.maybe_more:
                    self._wake.wait(min(IDLE_WAIT_S, max(0.0, s.next_poll - time.monotonic())))
            if s.connack and self.presence_id is not None:
                self._goodbye(client, s)
            return s.connack
        finally:
            self._went_down()
            self._settle(conn, s)
            # Sending DISCONNECT closes the socket; on a lost connection paho closed it.
            client.disconnect()
            client.loop(0.0)

    def _went_down(self):
        if self.connected or self.down_since is None:
            self.down_since = time.time()
        self.connected = False

    def _fill(self, conn, client, s, token):
        if not s.presence_acked:
            return  # "online" first, and it must not share the broker's Receive Maximum
        if self._wake.is_set():
            self._wake.clear()  # before the read: a commit after it wakes us again
            s.maybe_more = True
        room = s.window - len(s.inflight)
        if room <= 0 or (not s.maybe_more and time.monotonic() < s.next_poll):
            return
        rows = outbox.read_batch(conn, s.last_n, room, self.only_topics, self.skip_topics)
        s.maybe_more = len(rows) == room
        s.next_poll = time.monotonic() + POLL_S
        for n, topic, text, retain, auto_id in rows:
            info = client.publish(
                topic, outbox.wire_payload(token, n, text, auto_id), qos=1, retain=bool(retain)
            )
            if info.rc != paho.MQTT_ERR_SUCCESS:
                s.failed = True
                self.last_error = "could not send outbox row %d: %s" % (
                    n,
                    paho.error_string(info.rc),
                )
                return
            s.inflight[info.mid] = n
            s.last_n = n

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

    def _goodbye(self, client, s):
        # A clean DISCONNECT suppresses the will, so "offline" is said here instead.
        t, payload, retain = topics.presence_msg(self.mine_id, self.presence_id, False)
        s.presence_mid = client.publish(t, json.dumps(payload), qos=1, retain=retain).mid
        s.presence_acked = False
        deadline = time.monotonic() + STOP_PUBACK_WAIT_S
        while not s.presence_acked and time.monotonic() < deadline:
            if client.loop(INFLIGHT_WAIT_S) != paho.MQTT_ERR_SUCCESS:
                return
