"""One thread per gateway: owns its serial port, polls its status, records its events and
runs the orders serve hands it, one at a time between polls.

The port is opened exclusively and only here while serve runs, so no other program can
acknowledge this gateway's events behind the record's back. When the port goes (a USB
cable pulled, a board rebooting) the thread closes it and tries again with a backoff
that grows to BACKOFF_MAX_S; it starts again at the shortest once the gateway answers.
"""

import concurrent.futures
import logging
import queue
import threading
import time

from gatewire.errors import ProtocolError
from shaftgate.link.client import (
    DEFAULT_TIMEOUT_S,
    PUSHED_MAX,
    EventLogError,
    GatewayClient,
    WrongGateway,
    is_own_ack,
)
from shaftgate.link.keystore import Keystore, KeystoreError
from shaftgate.link.transport import LinkError, SerialTransport

POLL_S = 0.25  # status at least this often; pushed events wake the thread sooner
BACKOFF_MIN_S = 0.25
BACKOFF_MAX_S = 8.0
CHAIN_RETRY_S = 5.0  # a log that did not verify is fetched again this often
# Orders waiting for one link (issue 13, "every queue stays in its bound"): each runs in
# a round trip or two, so more than this means the gateway is slow or the operators are
# repeating themselves; the next is refused at once, saying so, rather than queued
# without end behind a link that cannot keep up.
ORDERS_MAX = 32
log = logging.getLogger("shaftgate.serve")
LINK_ERRORS = (LinkError, ProtocolError, WrongGateway, KeystoreError, OSError)


class _Keyed(LinkError):
    # serve's own reason an order did not run: the English text, and a message key with
    # its fields so the order audit renders it in the reader's language (refusaltext).
    def __init__(self, text, key=None, **fields):
        super().__init__(text)
        self.key = key
        self.fields = fields


class NotConnected(_Keyed):
    pass


class OrdersFull(_Keyed):
    pass


class LinkState:
    """What serve knows of one gateway, written by its link thread, read by anyone."""

    def __init__(self, gateway):
        self.gateway = gateway
        self.gateway_id = gateway.id
        self.identity: dict | None = None
        self.settings: dict = {}
        self.status: dict | None = None
        self.status_at: float | None = None  # time.time() the status was read
        self.error: str | None = None
        self.connected = False
        self.answering = False
        self.last_answer = time.monotonic()  # from serve's start: silent from then on
        self.clock_offset_s: float | None = None
        self.acked_to: int | None = None
        self.unacked: int | None = None  # still held unacknowledged after our last ack
        self.reconnects = 0
        self.polled_from: float | None = None  # monotonic time the last complete poll began
        # The link's queues, as the link thread last saw them (issue 13, Load).
        self.orders_waiting = 0
        self.orders_refused_full = 0
        self.pushed_waiting = 0
        self.pushed_dropped = 0

    def row(self):
        return {
            "gateway_id": self.gateway_id,
            "zone": self.gateway.zone,
            "kind": self.gateway.kind,
            "port": self.gateway.port,
            "connected": self.connected,
            "answering": self.answering,
            "silent_s": round(time.monotonic() - self.last_answer, 1),
            "error": self.error,
            "identity": self.identity,
            "settings": self.settings,
            "status": self.status,
            "status_at": self.status_at,
            "acked_to": self.acked_to,
            "unacked": self.unacked,
            "polled_from": self.polled_from,
            "orders_waiting": self.orders_waiting,
            "orders_max": ORDERS_MAX,
            "orders_refused_full": self.orders_refused_full,
            "pushed_waiting": self.pushed_waiting,
            "pushed_dropped": self.pushed_dropped,
        }


class GatewayLink(threading.Thread):
    def __init__(self, gateway, station, timeout_s=DEFAULT_TIMEOUT_S):
        super().__init__(name="link-%s" % gateway.id, daemon=True)
        self.gateway = gateway
        self.station = station
        self.state = LinkState(gateway)
        self.timeout_s = timeout_s
        self._orders = queue.Queue(ORDERS_MAX)
        self._halt = threading.Event()
        self.client = None
        self.record = None

    # ---- orders from other threads ----

    def submit(self, fn):
        """fn(client) on this link's thread between two polls -> a Future of its result.
        A gateway that is not connected fails the order at once: it did not answer."""
        future = concurrent.futures.Future()
        if not self.state.connected:
            future.set_exception(
                NotConnected(
                    "gateway %s is not connected: %s"
                    % (self.gateway.id, self.state.error or "no answer yet"),
                    "err_not_connected",
                    gateway=self.gateway.id,
                    why=self.state.error or {"key": "err_no_answer_yet"},
                )
            )
            return future
        try:
            self._orders.put_nowait((fn, future))
        except queue.Full:
            self.state.orders_refused_full += 1
            log.warning("link %s: %d orders waiting, one more refused", self.gateway.id, ORDERS_MAX)
            future.set_exception(
                OrdersFull(
                    "gateway %s already has %d orders waiting (the most serve queues for one "
                    "link): not queued, not carried out; try again once they have run  "
                    "该网关待执行指令已满 (%d), 本指令未执行"
                    % (self.gateway.id, ORDERS_MAX, ORDERS_MAX),
                    "err_orders_full",
                    gateway=self.gateway.id,
                    n=ORDERS_MAX,
                )
            )
            return future
        self.state.orders_waiting = self._orders.qsize()
        return future

    def stop(self):
        self._halt.set()

    # ---- the thread ----

    def run(self):
        backoff = BACKOFF_MIN_S
        while not self._halt.is_set():
            answered = False
            try:
                answered = self._session()
            except LINK_ERRORS as e:
                self.state.error = str(e)
            except Exception as e:
                # The record failing (disk full, database locked) or a bug: this link must
                # not die of it. Said in serve's log; the gateway keeps what was not acked,
                # and silence beyond link_lost_s raises the alarm (R-DATA-1).
                self.state.error = "serve could not record: %s: %s" % (type(e).__name__, e)
                log.exception("link %s", self.gateway.id)
            finally:
                # A session that failed after the gateway answered (a reply lost to a bad
                # line, say) counts as answered: retried at once, not after a backoff
                # grown by earlier silence (found by the link-fault run, issue 13).
                answered = answered or self.state.answering
                self._close()
            if answered:
                backoff = BACKOFF_MIN_S
            self._halt.wait(backoff)
            backoff = min(BACKOFF_MAX_S, backoff * 2)

    def _close(self):
        self.state.connected = False
        self.state.answering = False
        while True:
            try:
                _, future = self._orders.get_nowait()
            except queue.Empty:
                break
            future.set_exception(
                NotConnected(
                    "link to %s lost before the order ran" % self.gateway.id,
                    "err_link_lost",
                    gateway=self.gateway.id,
                )
            )
        self.state.orders_waiting = 0
        if self.client is not None:
            self.client.close()
            self.client = None

    def _answered(self):
        self.state.answering = True
        self.state.last_answer = time.monotonic()
        self.state.error = None

    def _session(self):
        gw = self.gateway
        keystore = Keystore(gw.key_dir)
        key = keystore.load(gw.id)
        transport = SerialTransport(gw.port)
        self.client = client = GatewayClient(
            transport,
            gw.id,
            key,
            keystore.counter_store(gw.id),
            host_id="serve@" + self.station.site.mine_id,
        )
        client.hello(self.timeout_s)
        self.state.reconnects += 1
        self.state.identity = client.identity
        self._answered()
        self.state.settings = client.config_get(["utc_offset_min"], self.timeout_s)
        self.station.seed_occupants(gw.id, client.occupants(timeout_s=self.timeout_s)["occupants"])
        self.state.connected = True
        record = self.record = self.station.event_record(gw.id)
        chain_retry_at = 0.0
        first = True
        while not self._halt.is_set():
            self._run_orders(client)
            if not first:
                # The first poll goes at once: what the gateway logged while the link was
                # down is owed to the record now, not a poll interval later.
                client.wait_for_events(POLL_S)
            first = False
            self._run_orders(client)
            began = time.monotonic()
            asked = time.time()
            status = client.status(self.timeout_s)
            answered_at = time.time()
            self.state.status = status
            self.state.status_at = answered_at
            self.state.clock_offset_s = status["now_s"] - (asked + answered_at) / 2
            self._answered()
            if time.monotonic() >= chain_retry_at:
                try:
                    self._record(client, record)
                except EventLogError as e:
                    self.station.chain_broken(gw.id, e)
                    chain_retry_at = time.monotonic() + CHAIN_RETRY_S
                    continue
                if gw.is_shaft:
                    # Everything the shaft logged up to its clock at `status` is stored.
                    self.station.shaft_synced(status["now_s"])
            # A full poll (status, then every event) begun at `began` is complete.
            self.state.polled_from = began
        return True

    def accept_gap(self, client):
        # An operator's order, on this thread: carry on past missing events, the gap
        # recorded as such (after checking why they are missing: R-DATA-2).
        result = self._record(client, self.record, accept_gap=True)
        return {"gateway_id": self.gateway.id, "gaps": [list(g) for g in result.gaps]}

    def _record(self, client, record, accept_gap=False):
        # Stored and committed (record.flush) before the ack goes out: the gateway may
        # drop only what the record already holds (R-DATA-2). Our own acks are events
        # too; acking only real news keeps that from looping.
        try:
            result = client.catch_up(
                record, ack=False, accept_gap=accept_gap, timeout_s=self.timeout_s
            )
        finally:
            record.flush()  # what verified before a failure is stored; none of it acked
        if result.events:
            self.station.recorded(self.gateway.id, result.events)
        if any(not is_own_ack(e) for e in result.events):
            reply = client.ack(result.events[-1]["seq"], self.timeout_s)
            self.state.acked_to = result.events[-1]["seq"]
            self.state.unacked = reply["unacked"]
        return result

    def _note_queues(self, client):
        st = self.state
        st.orders_waiting = self._orders.qsize()
        st.pushed_waiting = len(client.pushed())
        if client.pushed_dropped > st.pushed_dropped:
            # Pushed events past the client's bound: dropped from memory only, fetched
            # again from the gateway's log by events-since (nothing lost, but said).
            log.warning(
                "link %s: %d pushed events dropped past the queue's bound of %d (fetched "
                "again from the gateway)",
                self.gateway.id,
                client.pushed_dropped - st.pushed_dropped,
                PUSHED_MAX,
            )
            st.pushed_dropped = client.pushed_dropped

    def _run_orders(self, client):
        self._note_queues(client)
        while True:
            try:
                fn, future = self._orders.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(client))
                self._answered()
            except LINK_ERRORS as e:
                future.set_exception(e)
                if isinstance(e, LinkError | OSError):
                    raise
            except Exception as e:  # a refusal or a bug in the order: the link lives on
                future.set_exception(e)
