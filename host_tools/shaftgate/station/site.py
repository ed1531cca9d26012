"""The site file: one TOML document that says what `shaftgate serve` watches (docs/serve.md).

    [mine]       id, name, time_zone
    [serve]      database, socket, keys, link_lost_s, transit_allowance, clock_drift_s,
                 clock_reference, feed_late_s, outbox_max, mqtt_events, mqtt_publishers
    [broker]     optional: host, port, tls, username, password (station/broker.py);
                 absent: serve starts its own Mosquitto on loopback
    [[gateways]] id, port, zone, kind, key
    [operators.NAME]  name, authority, user

Every error names the file, the line and the key, and a site that fails to load changes
nothing: serve does not start on half a site.
"""

import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, NamedTuple

from shaftgate.link.keystore import KeystoreError, check_gateway_id

KINDS = ("shaft", "coal_face", "fm_heading", "db_heading", "repair", "roadway")
# Who may give which order through serve. "evacuate" also covers the all-clear and the
# recount: the withdrawal authority of R-EVAC-1, which the gateway checks for all three;
# "orders" the day-to-day ones; "admin" what changes a gateway's settings, clock or roster.
AUTHORITIES = {
    "evacuate": ("evacuate", "all-clear", "recount"),
    "orders": (
        "seal",
        "unseal",
        "permit issue",
        "permit revoke",
        "cap-override",
        "cap-override-clear",
        "alarm ack",
    ),
    "admin": ("config set", "time-set", "roster load", "accept gap"),
}
CLOCK_REFERENCES = ("host", "gateways")
MQTT_EVENTS = ("each", "batches", "both")
PUBLISHERS_MOST = 16  # mqtt_shares.MOST
DEFAULT_PAGE = ("127.0.0.1", 8470)  # the big-screen page: loopback unless configured
_MINE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # it becomes a topic level
_OPERATOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class SiteError(Exception):
    """The site file is missing, unreadable or wrong; the text names the line and key."""


class Gateway(NamedTuple):
    id: str
    port: str
    zone: str
    kind: str
    key_dir: Path  # the keystore folder holding <id>.key and <id>.counter

    @property
    def is_shaft(self):
        return self.kind == "shaft"


class Operator(NamedTuple):
    id: str
    name: str
    authority: frozenset  # order names this operator may give
    user: str | None  # the local account that must be on the socket's other end


class Site(NamedTuple):
    path: Path
    mine_id: str
    mine_name: str
    time_zone: str
    database: Path
    socket: Path
    gateways: tuple
    operators: dict
    broker: dict | None  # the raw [broker] table; broker.BrokerConfig reads it
    broker_where: str
    link_lost_s: float
    transit_allowance: int
    clock_drift_s: float
    clock_reference: str
    feed_late_s: float
    page: tuple | None = DEFAULT_PAGE  # (host, port) of the big-screen page, None: off
    page_required: bool = False  # named in the site file: serve does not start without it
    outbox_max: int = 100000  # messages owed to the broker past which serve says it is full
    mqtt_events: str = "each"  # MQTT_EVENTS: one message per event, batches, or both
    mqtt_publishers: int | None = None  # MQTT connections; None: by the cores (mqtt_shares.py)

    def gateway(self, gateway_id):
        for g in self.gateways:
            if g.id == gateway_id:
                return g
        return None

    def zone_tz(self):
        return zoneinfo.ZoneInfo(self.time_zone)


# ---- where a key is written ----

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def _key_lines(text):
    # {(table path..., key): line}: tomllib keeps no positions, so the plain layouts a
    # site file uses ([t], [t.u], [[t]], key = value) are found again by reading lines.
    where = {}
    table = ()
    counts = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = _HEADER.match(line)
        if m:
            parts = tuple(p.strip().strip("\"'") for p in m.group(2).split("."))
            if m.group(1) == "[[":
                i = counts.get(parts, -1) + 1
                counts[parts] = i
                parts = (*parts, i)
            table = parts
            where.setdefault(table, n)
            continue
        m = _KEYLINE.match(line)
        if m:
            where.setdefault((*table, m.group(1).strip("\"'")), n)
    return where


class _Reader:
    def __init__(self, path, text):
        self.path = path
        self.lines = _key_lines(text)

    def where(self, *keys):
        # "site.toml line 12, gateways[2].port": the nearest line we can name.
        name = ""
        for k in keys:
            name += "[%d]" % k if isinstance(k, int) else ("." if name else "") + k
        probe = tuple(keys)
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe)
        at = " line %d" % line if line else ""
        return "%s%s, %s" % (self.path, at, name or "top level")

    def fail(self, keys, text):
        raise SiteError("%s: %s" % (self.where(*keys), text))

    def table(self, doc, keys, required=True):
        value = doc.get(keys[-1]) if isinstance(doc, dict) else None
        if value is None:
            if required:
                self.fail(keys, "missing table [%s]" % ".".join(map(str, keys)))
            return None
        if not isinstance(value, dict):
            self.fail(keys, "expected a table, got %s" % type(value).__name__)
        return value

    def get(self, table, keys, kind, default=None, required=False) -> Any:
        value = table.get(keys[-1])
        if value is None:
            if required:
                self.fail(keys, "missing (required)")
            return default
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            self.fail(keys, "expected %s, got %r" % (kind.__name__, value))
        return value

    def unknown(self, table, keys, allowed):
        for k in table:
            if k not in allowed:
                self.fail(
                    (*keys, k), "unknown key (expected one of %s)" % ", ".join(sorted(allowed))
                )


def load(path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SiteError("cannot read the site file %s: %s" % (path, e)) from e
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SiteError("%s: not valid TOML: %s" % (path, e)) from e
    return parse(doc, path, text)


def parse(doc, path, text):
    r = _Reader(path, text)
    base = Path(path).resolve().parent
    r.unknown(doc, (), {"mine", "serve", "broker", "gateways", "operators"})

    mine = r.table(doc, ("mine",))
    r.unknown(mine, ("mine",), {"id", "name", "time_zone"})
    mine_id = r.get(mine, ("mine", "id"), str, required=True)
    if not _MINE_ID.match(mine_id):
        r.fail(
            ("mine", "id"), "%r: use 1-64 of a-z, 0-9, '-', '_' (it names MQTT topics)" % mine_id
        )
    mine_name = r.get(mine, ("mine", "name"), str, default=mine_id)
    time_zone = r.get(mine, ("mine", "time_zone"), str, required=True)
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.fail(("mine", "time_zone"), "%r is not a time zone (e.g. Asia/Shanghai)" % time_zone)

    serve = r.table(doc, ("serve",), required=False) or {}
    allowed = {
        "database",
        "socket",
        "keys",
        "link_lost_s",
        "transit_allowance",
        "clock_drift_s",
        "clock_reference",
        "feed_late_s",
        "outbox_max",
        "page",
        "mqtt_events",
        "mqtt_publishers",
    }
    r.unknown(serve, ("serve",), allowed)
    database = base / r.get(serve, ("serve", "database"), str, "station.db")
    socket_path = base / r.get(serve, ("serve", "socket"), str, "serve.sock")
    keys = base / r.get(serve, ("serve", "keys"), str, "keys")
    link_lost_s = r.get(serve, ("serve", "link_lost_s"), float, 10.0)
    if not 1 <= link_lost_s <= 600:
        r.fail(("serve", "link_lost_s"), "%g s: expected 1..600" % link_lost_s)
    allowance = r.get(serve, ("serve", "transit_allowance"), int, 2)
    if not 0 <= allowance <= 1000:
        r.fail(("serve", "transit_allowance"), "%d: expected 0..1000 people" % allowance)
    drift = r.get(serve, ("serve", "clock_drift_s"), float, 30.0)
    if not 1 <= drift <= 86400:
        r.fail(("serve", "clock_drift_s"), "%g s: expected 1..86400" % drift)
    reference = r.get(serve, ("serve", "clock_reference"), str, "host")
    if reference not in CLOCK_REFERENCES:
        r.fail(("serve", "clock_reference"), "%r: expected host or gateways" % reference)

    feed_late_s = r.get(serve, ("serve", "feed_late_s"), float, 60.0)
    if not 1 <= feed_late_s <= 86400:
        r.fail(("serve", "feed_late_s"), "%g s: expected 1..86400" % feed_late_s)
    outbox_max = r.get(serve, ("serve", "outbox_max"), int, 100000)
    if not 1 <= outbox_max <= 100_000_000:
        r.fail(("serve", "outbox_max"), "%d: expected 1..100000000 messages" % outbox_max)

    # docs/mqtt.md: "each" is the per-event contract; "batches" carries ten links at full
    # speed (one MQTT message per 100 events); "both" while consumers move over.
    mqtt_events = r.get(serve, ("serve", "mqtt_events"), str, "each")
    if mqtt_events not in MQTT_EVENTS:
        r.fail(
            ("serve", "mqtt_events"),
            "%r: expected one of %s" % (mqtt_events, ", ".join(MQTT_EVENTS)),
        )

    # Connections the outbox is published over, each with a share of the gateways
    # (station/mqtt_shares.py); absent: one per core beyond the first, at most 3.
    mqtt_publishers = r.get(serve, ("serve", "mqtt_publishers"), int, None)
    if mqtt_publishers is not None and not 1 <= mqtt_publishers <= PUBLISHERS_MOST:
        r.fail(
            ("serve", "mqtt_publishers"),
            "%d: expected 1..%d connections" % (mqtt_publishers, PUBLISHERS_MOST),
        )

    # The big-screen page (station/page.py): loopback unless the site says otherwise.
    page_text = r.get(serve, ("serve", "page"), str, None)
    page = DEFAULT_PAGE
    if page_text is not None:
        page = _page_address(page_text)
        if page is False:
            r.fail(
                ("serve", "page"),
                "%r: expected HOST:PORT (e.g. 127.0.0.1:8470, 0.0.0.0:8470 for every "
                'network) or "off"' % page_text,
            )

    broker = r.table(doc, ("broker",), required=False)
    gateways = _gateways(r, doc, base, keys)
    operators = _operators(r, doc)
    return Site(
        path=Path(path),
        mine_id=mine_id,
        mine_name=mine_name,
        time_zone=time_zone,
        database=database,
        socket=socket_path,
        gateways=gateways,
        operators=operators,
        broker=broker,
        broker_where=r.where("broker"),
        link_lost_s=link_lost_s,
        transit_allowance=allowance,
        clock_drift_s=drift,
        clock_reference=reference,
        feed_late_s=feed_late_s,
        outbox_max=outbox_max,
        page=page,
        page_required=page_text is not None,
        mqtt_events=mqtt_events,
        mqtt_publishers=mqtt_publishers,
    )


def _page_address(text):
    # "HOST:PORT" -> (host, port); "off" -> None; anything else -> False.
    if text.strip().lower() == "off":
        return None
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return False
    return host.strip("[]"), int(port)


def _gateways(r, doc, base, keys):
    rows = doc.get("gateways")
    if not isinstance(rows, list) or not rows:
        r.fail(("gateways",), "expected one [[gateways]] table per gateway, found none")
    out = []
    seen_ids, seen_ports = set(), set()
    for i, g in enumerate(rows):
        at = ("gateways", i)
        if not isinstance(g, dict):
            r.fail(at, "expected a table")
        r.unknown(g, at, {"id", "port", "zone", "kind", "key"})
        gid = r.get(g, (*at, "id"), str, required=True)
        try:
            check_gateway_id(gid)
        except KeystoreError as e:
            r.fail((*at, "id"), str(e))
        if gid in seen_ids:
            r.fail((*at, "id"), "gateway %s is listed twice" % gid)
        port = r.get(g, (*at, "port"), str, required=True)
        if port in seen_ports:
            r.fail((*at, "port"), "%s is already the port of another gateway" % port)
        zone = r.get(g, (*at, "zone"), str, required=True)
        kind = r.get(g, (*at, "kind"), str, required=True)
        if kind not in KINDS and isinstance(kind, str):
            # the kind's name in English or Chinese (采煤工作面) as well as its key
            from shaftgate.i18n import ZONE_KIND_WORDS

            kind = ZONE_KIND_WORDS.get(kind.strip().lower(), kind)
        if kind not in KINDS:
            r.fail((*at, "kind"), "%r: expected one of %s" % (kind, ", ".join(KINDS)))
        key = r.get(g, (*at, "key"), str)
        key_dir = keys
        if key is not None:
            key_path = base / key
            if key_path.name != "%s.key" % gid:
                r.fail(
                    (*at, "key"),
                    "the key file must be named %s.key (its counter sits beside it)" % gid,
                )
            key_dir = key_path.parent
        seen_ids.add(gid)
        seen_ports.add(port)
        out.append(Gateway(gid, port, zone, kind, key_dir))
    shafts = [g for g in out if g.is_shaft]
    if len(shafts) > 1:
        r.fail(
            ("gateways",),
            "more than one shaft gateway (%s): one serve watches one shaft"
            % ", ".join(g.id for g in shafts),
        )
    return tuple(out)


def _operators(r, doc):
    table = r.table(doc, ("operators",), required=False) or {}
    out = {}
    for oid, o in table.items():
        at = ("operators", oid)
        if not _OPERATOR.match(oid):
            r.fail(at, "operator id %r: use letters, digits, '.', '_' or '-'" % oid)
        if not isinstance(o, dict):
            r.fail(at, "expected a table")
        r.unknown(o, at, {"name", "authority", "user"})
        name = r.get(o, (*at, "name"), str, required=True)
        authority = r.get(o, (*at, "authority"), list, [])
        orders = set()
        for a in authority:
            if a not in AUTHORITIES:
                r.fail((*at, "authority"), "%r: expected any of %s" % (a, ", ".join(AUTHORITIES)))
            orders.update(AUTHORITIES[a])
        user = r.get(o, (*at, "user"), str)
        out[oid] = Operator(oid, name, frozenset(orders), user)
    return out
