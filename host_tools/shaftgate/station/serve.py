"""`shaftgate serve --site site.toml`: the one process that talks to the gateways.

It owns every serial link (a thread each, station/links.py), records every event in
SQLite before acknowledging it (station/store.py), raises the mine-wide alarms
(station/alarms.py), answers the CLI and the view on a local socket (station/control.py)
and, unless --no-publish, owes every event, zone state, headcount, alarm and link change
to MQTT through the outbox (station/outbox.py; station/mqtt.py publishes it from child
processes, station/mqtt_process.py, each with a share of the gateways, station/mqtt_shares.py).
"""

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from shaftgate.link.client import jsonable
from shaftgate.station import history
from shaftgate.station import site as site_file
from shaftgate.station.alarms import Alarms
from shaftgate.station.links import GatewayLink
from shaftgate.station.store import EventRecord, Store, StoreError

log = logging.getLogger("shaftgate.serve")
TICK_S = 0.5  # alarms checked and state published this often
STATE_EVERY_S = 5.0  # gateway state saved to the database at least this often
KEEP_FEED = 5000  # recent events kept in memory for the view
CUT_ORDER_TEXT = (
    "serve stopped before this gateway's answer was stored: the order may or may not have "
    "been carried out; check status  服务中断, 命令是否执行未知, 请查看状态"
)


class Station:
    def __init__(self, site, publish=True, mqtt=None):
        # publish False: record and alarm, owe nothing to MQTT (commissioning, benches).
        # mqtt: (outbox module, topics module) for tests; default the real ones.
        self.site = site
        # The MQTT modules (station/outbox.py, station/topics.py) or None: --no-publish.
        self.outbox: Any = None
        self.topics: Any = None
        if publish:
            if mqtt is None:
                from shaftgate.station import outbox, topics

                mqtt = (outbox, topics)
            self.outbox, self.topics = mqtt
        extra = (self.outbox.SCHEMA_SQL,) if self.outbox else ()
        self.store = Store(site.database, extra)
        # Orders the last serve was killed in the middle of: nobody knows if they were
        # carried out, and the record must say so rather than hold them open for ever.
        cut = self.store.mark_cut_orders(_zone_of(site), CUT_ORDER_TEXT)
        if cut:
            log.warning("serve: %d order(s) cut by the last stop marked as unanswered", cut)
        self.alarms = Alarms(self.store, site, self._alarm_changed)
        self.alarms.restore(history.tracked(self.store, site))
        self.links = {g.id: GatewayLink(g, self) for g in site.gateways}
        self.publisher = None
        self.broker = None
        self.broker_config = None
        self._stop = threading.Event()
        self._feed_lock = threading.Lock()
        self._feed = []  # (arrival, gateway id, event), for the view
        self._arrival = 0
        self._published_state = {}
        self._event_texts = {}  # gateway id -> topics.EventTexts
        self._saved_at = {}
        self._thread = None

    # ---- life ----

    def start(self, broker=None):
        if self.outbox is not None and broker is not False:
            self._start_publisher(broker)
        for link in self.links.values():
            link.start()
        self._thread = threading.Thread(target=self._supervise, name="serve-alarms", daemon=True)
        self._thread.start()

    def _start_publisher(self, broker):
        from shaftgate.station import broker as broker_mod
        from shaftgate.station import mqtt_shares

        if broker is None:
            broker = broker_mod.BrokerConfig.from_table(
                self.site.broker, str(self.site.path), base_dir=self.site.path.parent
            )
        if broker.embedded:
            # No broker named: serve's own Mosquitto on loopback, state beside the record.
            self.broker = broker_mod.EmbeddedMosquitto(self.site.database.parent / "mosquitto")
            broker = self.broker.start()
        self.broker_config = broker
        # In processes of their own: they run on other cores than the link threads.
        count = self.site.mqtt_publishers or mqtt_shares.default_count()
        self.publisher = mqtt_shares.PublisherGroup(
            self.site.database,
            broker,
            self.site.mine_id,
            "shaftgate-serve-%s" % self.site.mine_id,
            [g.id for g in self.site.gateways],
            count,
        )
        self.publisher.start()

    def stop(self):
        self._stop.set()
        for link in self.links.values():
            link.stop()
        for link in self.links.values():
            if link.is_alive():
                link.join(5)
        if self._thread is not None:
            self._thread.join(5)
        if self.publisher is not None:
            self.publisher.stop()
        if self.broker is not None:
            self.broker.stop()
        self.store.close()

    def _supervise(self):
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:
                # The alarms must keep being checked: said in the log, tried again.
                log.exception("serve: alarm check failed")

    def tick(self):
        states = {gid: link.state for gid, link in self.links.items()}
        with self.store.transaction() as conn:
            self.alarms.check(conn, states, time.monotonic())
            self._publish_states(conn, states)
            self._check_feed(conn)
        self._wake()
        now = time.monotonic()
        for gid, s in states.items():
            if now - self._saved_at.get(gid, 0) >= STATE_EVERY_S:
                self._saved_at[gid] = now
                self.store.save_gateway(
                    gid,
                    "up" if s.answering else "down",
                    time.time() - (now - s.last_answer),
                    s.identity,
                    s.status,
                    s.acked_to,
                )

    # ---- called by link threads ----

    def event_record(self, gateway_id):
        return EventRecord(self.store, gateway_id, self._on_page, batch=True)

    def _on_page(self, conn, gateway_id, events):
        # Inside the transaction that stores the page: alarms and MQTT rows commit with it.
        self.alarms.on_events(conn, gateway_id, events)
        if self.outbox is None:
            return
        texts = self._event_texts.get(gateway_id)
        if texts is None:
            zone = self.site.gateway(gateway_id).zone
            texts = self._event_texts[gateway_id] = self.topics.EventTexts(
                self.site.mine_id, gateway_id, zone
            )
        mode = self.site.mqtt_events
        out = []
        if mode != "batches":
            out += [(texts.event_topic, texts.event(e)) for e in events]
        if mode != "each":
            # One message per BATCH_MAX: a paho publish costs ~100 us of CPU whatever its
            # size, so batches are what lets ten busy links be published as fast as stored.
            out += [
                (texts.events_topic, texts.batch(b))
                for b in _batches(events, self.topics.BATCH_MAX)
            ]
        self.outbox.enqueue_texts(conn, False, out)

    def recorded(self, gateway_id, events):
        self._wake(gateway_id)
        with self._feed_lock:
            # Raw: rendered for the view when it asks (feed_after), not for every event.
            for e in events:
                self._arrival += 1
                self._feed.append((self._arrival, gateway_id, e))
            del self._feed[:-KEEP_FEED]

    def seed_occupants(self, gateway_id, occupants):
        with self.store.lock:
            self.alarms.seed_occupants(gateway_id, occupants)

    def shaft_synced(self, gateway_time_s):
        with self.store.transaction() as conn:
            self.alarms.shaft_synced(conn, gateway_time_s)
        self._wake()

    def chain_broken(self, gateway_id, error):
        with self.store.transaction() as conn:
            self.alarms.raise_(
                conn,
                "chain:%s" % gateway_id,
                "chain",
                gateway_id,
                "%s  网关 %s 事件记录不完整或被篡改 (R-DATA-2)" % (error, gateway_id),
                {"error": str(error)},
            )
        self._wake()

    def _alarm_changed(self, conn, change):
        if self.outbox is None:
            return
        alarm = {
            "alarm_id": change["id"],
            "kind": change["kind"],
            "state": change["state"],
            "time_s": change.get("cleared_s") or change["raised_s"],
            "zone": change.get("zone"),
            "gateway_id": change.get("gateway_id"),
            "text": _texts(change["text"]),
            "detail": jsonable(change.get("detail") or {}),
        }
        seq = alarm["detail"].get("seq")
        if change.get("gateway_id") and change["key"].startswith("event:") and seq:
            alarm["event"] = "%s:%d" % (change["gateway_id"], seq)
        self.outbox.enqueue(conn, *self.topics.alarm_msg(self.site.mine_id, alarm))

    def _publish_states(self, conn, states):
        if self.outbox is None:
            return
        mine = self.site.mine_id
        per_zone = {}
        for gid, s in states.items():
            link_up = s.answering
            if self._published_state.get(("link", gid)) != (link_up, s.error):
                self._published_state[("link", gid)] = (link_up, s.error)
                self.outbox.enqueue(
                    conn, *self.topics.link_msg(mine, gid, link_up, s.error or "answering")
                )
            if s.status is None:
                continue
            zone = s.gateway.zone
            per_zone[zone] = s.status["occupants"]
            state = self.topics.state_from_status(gid, s.status)
            # time_s and seq change with every poll; the message carries its own time.
            state.pop("time_s", None)
            state.pop("seq", None)
            if self._published_state.get(("zone", zone)) != state:
                self._published_state[("zone", zone)] = state
                self.outbox.enqueue(conn, *self.topics.zone_state_msg(mine, zone, state))
        shaft = self.alarms.shaft
        if shaft is not None and states[shaft.id].status is not None:
            underground = states[shaft.id].status["occupants"]
            faces = {z: n for z, n in per_zone.items() if z != shaft.zone}
            head = (underground, tuple(sorted(faces.items())))
            if self._published_state.get("headcount") != head:
                self._published_state["headcount"] = head
                self.outbox.enqueue(conn, *self.topics.headcount_msg(mine, underground, faces))

    def _check_feed(self, conn):
        # R-DATA-2 bans uploading late as much as not at all: what the platform is owed
        # for longer than feed_late_s is an alarm, cleared once the outbox has drained.
        if self.publisher is None:
            return
        # Every tick, under the store's lock: index steps only. Counting the rows reads the
        # whole outbox (15 ms at 30,000 rows), so it is done only when an alarm needs it.
        oldest_s = self.outbox.oldest(conn)
        at_most = self.outbox.owed_at_most(conn)  # 0 exactly when nothing is owed
        down_since = self.publisher.status().get("down_since")
        now = time.time()
        late_s = max(now - oldest_s if oldest_s else 0.0, now - down_since if down_since else 0.0)
        if late_s > self.site.feed_late_s and (at_most or down_since):
            if "feed_late" not in self.alarms.active:
                count = self.outbox.pending(conn)
                self.alarms.raise_(
                    conn,
                    "feed_late",
                    "feed_late",
                    None,
                    "the MQTT feed is %.0f s behind (%d messages owed; broker %s): the "
                    "platform does not see the mine in real time (R-DATA-2)  数据上传延迟 %.0f 秒"
                    % (
                        late_s,
                        count,
                        self.publisher.status().get("last_error") or "unreachable",
                        late_s,
                    ),
                    {"owed": count, "late_s": round(late_s, 1)},
                )
        elif "feed_late" in self.alarms.active and not at_most and not down_since:
            self.alarms.clear(conn, "feed_late", "feed caught up")
        # The outbox is never trimmed (what it owes is evidence, R-DATA-2): its bound is
        # where serve says, at once, that the platform is being owed more than it should.
        # Counted only when the span of row numbers owed reaches it (the span bounds the
        # count from above: publishers delete their shares apart, leaving gaps).
        bound = self.site.outbox_max
        count = self.outbox.pending(conn) if at_most >= bound else 0
        if count >= bound:
            self.alarms.raise_(
                conn,
                "outbox_full",
                "feed_late",
                None,
                "the MQTT outbox holds %d messages, at or past its bound of %d ([serve] "
                "outbox_max): the broker is not taking them; nothing is dropped, the disk "
                "holds them  MQTT 待发消息 %d 条, 已达上限 %d" % (count, bound, count, bound),
                {"owed": count, "late_s": round(late_s, 1), "bound": bound},
            )
        elif "outbox_full" in self.alarms.active and count < bound:
            self.alarms.clear(conn, "outbox_full", "outbox back within its bound")

    def _wake(self, gateway_id=None):
        if self.publisher is not None:
            self.publisher.wake(gateway_id)

    # ---- read by the control socket ----

    def rows(self):
        return [link.state.row() for link in self.links.values()]

    def mqtt_status(self):
        if self.publisher is None:
            return {"publishing": False}
        out: dict[str, Any] = dict(self.publisher.status(), publishing=True)
        out["broker"] = self.broker_config.describe() if self.broker_config else None
        return out

    def alarms_active(self):
        with self.store.lock:
            return list(self.alarms.active.values())

    def feed_after(self, arrival, limit=500):
        with self._feed_lock:
            fresh = [(n, gid, e) for n, gid, e in self._feed if n > arrival][-limit:]
            last = self._arrival
        return [(n, gid, _event_json(gid, e)) for n, gid, e in fresh], last


def _zone_of(site):
    def zone(gateway_id):
        g = site.gateway(gateway_id)
        return g.zone if g is not None else None  # None: since removed from the site file

    return zone


def _batches(events, most):
    """Runs of consecutive seqs, at most `most` events each: a batch never spans a gap an
    operator accepted (its seqs are consecutive by contract, docs/mqtt.md#events)."""
    batch = []
    for e in events:
        if batch and (len(batch) == most or e["seq"] != batch[-1]["seq"] + 1):
            yield batch
            batch = []
        batch.append(e)
    if batch:
        yield batch


def _event_json(gateway_id, e):
    from shaftgate.link.client import event_kind_name

    out = {k: e[k] for k in ("seq", "time_s", "kind", "tag", "a", "b")}
    out["kind_name"] = event_kind_name(e["kind"])
    out["digest"] = bytes(e["digest"]).hex()
    out["gateway_id"] = gateway_id
    out["id"] = "%s:%d" % (gateway_id, e["seq"])  # stable: consumers drop duplicates by it
    return out


def _texts(text):
    # Alarm texts are "English  中文": two spaces before the Chinese, when there is one.
    cut = text.rfind("  ")
    if cut > 0 and any(ord(ch) > 0x2E80 for ch in text[cut:]):
        return {"en": text[:cut].strip(), "zh": text[cut:].strip()}
    return {"en": text, "zh": "报警: " + text}


# ---- the command ----


def add_arguments(parser):
    parser.add_argument(
        "--site", required=True, metavar="SITE.toml", help="the site file (docs/serve.md)"
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="record and raise alarms but publish nothing over MQTT (commissioning, benches)",
    )
    parser.add_argument("--json", action="store_true", help="print the ready line as JSON")


def run(args):
    from shaftgate.station.control import ControlServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        site = site_file.load(args.site)
    except site_file.SiteError as e:
        print("shaftgate serve: %s" % e, file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    station = None
    server = None
    page = None
    try:
        try:
            station = Station(site, publish=not args.no_publish)
            server = ControlServer(station, site.socket)
            station.start()
        except (StoreError, OSError, ValueError, RuntimeError, site_file.SiteError) as e:
            # ValueError: broker.SiteError (a [broker] table it refuses); RuntimeError:
            # broker.BrokerError (Mosquitto missing or not starting).
            print("shaftgate serve: could not start: %s" % e, file=sys.stderr)
            return 1
        server.start()
        page = _start_page(station, site)
        if page is False:
            return 1
        ready = {
            "mine": site.mine_id,
            "socket": str(site.socket),
            "database": str(site.database),
            "gateways": [g.id for g in site.gateways],
            "pid": os.getpid(),
            "publishing": station.outbox is not None,
            "page": page.url if page else None,
        }
        if args.json:
            print(json.dumps(ready), flush=True)
        else:
            print(
                "serve: mine %s, %d gateways, database %s, socket %s (Ctrl-C stops)"
                % (site.mine_id, len(site.gateways), site.database, site.socket),
                flush=True,
            )
        if page and not args.json:
            print("serve: big-screen page %s" % page.url, flush=True)
        stop.wait()
        return 0
    finally:
        if page:
            page.stop()
        if server is not None:
            server.stop()
        if station is not None:
            station.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_page(station, site):
    """The big-screen page (station/page.py), or None when off or its default port is
    taken (serve goes on: the page is a view, the socket and the record are what count);
    False when the site file names an address that cannot be bound (serve stops)."""
    from shaftgate.station.page import PageServer

    if site.page is None:
        return None
    try:
        page = PageServer(station, *site.page)
    except OSError as e:
        where = "%s:%d" % site.page
        if site.page_required:
            print(
                "shaftgate serve: could not serve the page on %s: %s" % (where, e), file=sys.stderr
            )
            return False
        print(
            "serve: no big-screen page: %s is taken (%s); set [serve] page" % (where, e), flush=True
        )
        return None
    page.start()
    return page
