"""The station's record: one SQLite database on disk (WAL, synchronous=FULL), a schema
raised by numbered migrations, and the per-gateway event record the link client writes
into (position / append / note_gap, the interface of link.client's stores).

A commit is the durability point: link threads acknowledge to a gateway only after the
transaction holding its events has committed (R-DATA-2), so a crash between the two
leaves events the gateway still holds and the next catch-up fetches again; the primary
key (gateway, seq) makes storing one twice impossible rather than unlikely.

One connection, shared by serve's threads under one lock: writes are short (a page of
events, an alarm, an order) and SQLite takes one writer at a time anyway.
"""

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from shaftgate.link.client import EventLogError

# Each entry raises the schema by one version; never edit one that has shipped, add one.
MIGRATIONS = (
    """
    CREATE TABLE events (
        gateway_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time_s INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        tag INTEGER NOT NULL,
        a INTEGER NOT NULL,
        b INTEGER NOT NULL,
        digest BLOB NOT NULL,
        stored_s REAL NOT NULL,
        PRIMARY KEY (gateway_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE gaps (
        gateway_id TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        noted_s REAL NOT NULL,
        PRIMARY KEY (gateway_id, first_seq)
    );
    CREATE TABLE alarms (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL,
        kind TEXT NOT NULL,
        gateway_id TEXT,
        zone TEXT,
        raised_s REAL NOT NULL,
        cleared_s REAL,
        cleared_by TEXT,
        text TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE UNIQUE INDEX alarms_active ON alarms (key) WHERE cleared_s IS NULL;
    CREATE TABLE orders (
        id INTEGER PRIMARY KEY,
        received_s REAL NOT NULL,
        operator TEXT NOT NULL,
        reason TEXT NOT NULL,
        command TEXT NOT NULL,
        args TEXT NOT NULL,
        targets TEXT NOT NULL,
        results TEXT,
        finished_s REAL
    );
    CREATE TABLE gateway_state (
        gateway_id TEXT PRIMARY KEY,
        link TEXT NOT NULL,
        last_answer_s REAL,
        identity TEXT,
        status TEXT,
        acked_to INTEGER,
        updated_s REAL NOT NULL
    );
    CREATE TABLE roster (
        gateway_id TEXT NOT NULL,
        tag_id INTEGER NOT NULL,
        person_id INTEGER NOT NULL,
        name TEXT,
        role TEXT,
        crew TEXT,
        PRIMARY KEY (gateway_id, tag_id)
    );
    """,
    # 2: an alarm is acknowledged (who, when, what they noted) apart from being cleared:
    # a gas alarm acked at 03:10 stays open until the gas is down (station/alarms.py).
    """
    ALTER TABLE alarms ADD COLUMN acked_s REAL;
    ALTER TABLE alarms ADD COLUMN acked_by TEXT;
    ALTER TABLE alarms ADD COLUMN ack_note TEXT;
    CREATE INDEX alarms_raised ON alarms (raised_s);
    CREATE INDEX events_time ON events (time_s);
    """,
)


class StoreError(Exception):
    """The database cannot be opened or is newer than this serve."""


def _json(value):
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Store:
    def __init__(self, path, extra_schema=()):
        # extra_schema: CREATE ... IF NOT EXISTS scripts run after the migrations (the
        # MQTT outbox: station/outbox.py owns its table).
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk when it returns, so an ack that follows it is safe.
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            for script in extra_schema:
                self.conn.executescript(script)
        except sqlite3.Error as e:
            raise StoreError("cannot open the station database %s: %s" % (self.path, e)) from e

    def _migrate(self):
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                "%s has schema version %d; this serve knows up to %d (a newer serve wrote it)"
                % (self.path, version, len(MIGRATIONS))
            )
        for n in range(version, len(MIGRATIONS)):
            with self.transaction() as c:
                for statement in MIGRATIONS[n].split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute("PRAGMA user_version=%d" % (n + 1))

    @property
    def schema_version(self):
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @contextlib.contextmanager
    def transaction(self):
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def read(self, sql, args=()):
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def close(self):
        with self.lock:
            self.conn.close()

    # ---- events ----

    def position(self, gateway_id):
        row = self.read(
            "SELECT seq, digest FROM events WHERE gateway_id=? ORDER BY seq DESC LIMIT 1",
            (gateway_id,),
        )
        if not row:
            gap = self.read("SELECT MAX(last_seq) FROM gaps WHERE gateway_id=?", (gateway_id,))[0][
                0
            ]
            return (gap or 0), None
        return row[0][0], bytes(row[0][1])

    def events(self, gateway_id, after_seq=0, limit=1000):
        rows = self.read(
            "SELECT seq, time_s, kind, tag, a, b, digest FROM events WHERE gateway_id=? "
            "AND seq>? ORDER BY seq LIMIT ?",
            (gateway_id, after_seq, limit),
        )
        keys = ("seq", "time_s", "kind", "tag", "a", "b", "digest")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def count_events(self, gateway_id=None):
        if gateway_id is None:
            return self.read("SELECT COUNT(*) FROM events")[0][0]
        return self.read("SELECT COUNT(*) FROM events WHERE gateway_id=?", (gateway_id,))[0][0]

    # ---- alarms ----

    ALARM_COLUMNS = (
        "id",
        "key",
        "kind",
        "gateway_id",
        "zone",
        "raised_s",
        "text",
        "detail",
        "cleared_s",
        "cleared_by",
        "acked_s",
        "acked_by",
        "ack_note",
    )

    def _alarm_rows(self, where, args, order="id", limit=None):
        sql = "SELECT %s FROM alarms WHERE %s ORDER BY %s" % (
            ", ".join(self.ALARM_COLUMNS),
            where,
            order,
        )
        if limit is not None:
            sql += " LIMIT %d" % int(limit)
        out = []
        for r in self.read(sql, args):
            a = dict(zip(self.ALARM_COLUMNS, r, strict=True))
            a["detail"] = json.loads(a["detail"])
            out.append(a)
        return out

    def active_alarms(self):
        return self._alarm_rows("cleared_s IS NULL", ())

    def alarm_history(
        self, kinds=None, zone=None, since_s=None, until_s=None, state=None, limit=500
    ):
        """Open and past alarms, newest first. state: "open" (not cleared), "unacked"
        (open and nobody acknowledged it), "acked" (acknowledged), "cleared"."""
        where, args = ["1=1"], []
        if kinds:
            where.append("kind IN (%s)" % ",".join("?" * len(kinds)))
            args += list(kinds)
        if zone:
            where.append("(zone=? OR gateway_id=?)")
            args += [zone, zone]
        if since_s is not None:
            # raised before the window but still open in it counts too
            where.append("(raised_s>=? OR cleared_s IS NULL OR cleared_s>=?)")
            args += [since_s, since_s]
        if until_s is not None:
            where.append("raised_s<=?")
            args.append(until_s)
        if state == "open":
            where.append("cleared_s IS NULL")
        elif state == "unacked":
            where.append("cleared_s IS NULL AND acked_s IS NULL")
        elif state == "acked":
            where.append("acked_s IS NOT NULL")
        elif state == "cleared":
            where.append("cleared_s IS NOT NULL")
        return self._alarm_rows(" AND ".join(where), args, "raised_s DESC, id DESC", limit)

    @staticmethod
    def ack_alarm(conn, key, now_s, by, note):
        conn.execute(
            "UPDATE alarms SET acked_s=?, acked_by=?, ack_note=? WHERE key=? AND cleared_s IS NULL",
            (now_s, by, note, key),
        )

    @staticmethod
    def insert_alarm(conn, key, kind, gateway_id, zone, text, detail, now_s):
        cur = conn.execute(
            "INSERT INTO alarms (key, kind, gateway_id, zone, raised_s, text, detail) "
            "VALUES (?,?,?,?,?,?,?)",
            (key, kind, gateway_id, zone, now_s, text, _json(detail)),
        )
        return cur.lastrowid

    @staticmethod
    def clear_alarm(conn, key, now_s, by):
        conn.execute(
            "UPDATE alarms SET cleared_s=?, cleared_by=? WHERE key=? AND cleared_s IS NULL",
            (now_s, by, key),
        )

    # ---- orders ----

    def begin_order(self, operator, reason, command, args, targets):
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO orders (received_s, operator, reason, command, args, targets) "
                "VALUES (?,?,?,?,?,?)",
                (time.time(), operator, reason, command, _json(args), _json(targets)),
            )
            return cur.lastrowid

    def finish_order(self, order_id, results):
        with self.transaction() as c:
            c.execute(
                "UPDATE orders SET results=?, finished_s=? WHERE id=?",
                (_json(results), time.time(), order_id),
            )

    def mark_cut_orders(self, zone_of, text):
        """Orders begun and never finished: serve stopped between handing them to the
        gateways and storing the answers (kill -9, power). Each target's answer is said to
        be unknown, with `text`; zone_of(gateway id) -> zone. -> how many were marked."""
        now = time.time()
        with self.transaction() as c:
            rows = c.execute("SELECT id, targets FROM orders WHERE finished_s IS NULL").fetchall()
            for order_id, targets in rows:
                results = [
                    {
                        "gateway_id": g,
                        "zone": zone_of(g),
                        "error": {"type": "ServeStopped", "message": text},
                    }
                    for g in json.loads(targets)
                ]
                c.execute(
                    "UPDATE orders SET results=?, finished_s=? WHERE id=?",
                    (_json(results), now, order_id),
                )
        return len(rows)

    def orders(self, limit=50):
        rows = self.read(
            "SELECT id, received_s, operator, reason, command, args, targets, results, "
            "finished_s FROM orders ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        out = []
        for r in rows:
            keys = ("id", "received_s", "operator", "reason", "command", "args", "targets")
            o: dict[str, Any] = dict(zip(keys, r[:7], strict=True))
            for k in ("args", "targets"):
                o[k] = json.loads(o[k])
            o["results"] = json.loads(r[7]) if r[7] is not None else None
            o["finished_s"] = r[8]
            out.append(o)
        return out

    # ---- gateways and roster ----

    def save_gateway(self, gateway_id, link, last_answer_s, identity, status, acked_to):
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO gateway_state (gateway_id, link, last_answer_s, "
                "identity, status, acked_to, updated_s) VALUES (?,?,?,?,?,?,?)",
                (
                    gateway_id,
                    link,
                    last_answer_s,
                    _json(identity) if identity is not None else None,
                    _json(status) if status is not None else None,
                    acked_to,
                    time.time(),
                ),
            )

    def save_roster(self, gateway_id, entries):
        # entries: roster_csv rows (tag_id, person_id, name, role, crew, ...)
        with self.transaction() as c:
            c.execute("DELETE FROM roster WHERE gateway_id=?", (gateway_id,))
            c.executemany(
                "INSERT INTO roster (gateway_id, tag_id, person_id, name, role, crew) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (
                        gateway_id,
                        e["tag_id"],
                        e["person_id"],
                        e.get("name"),
                        e.get("role"),
                        e.get("crew"),
                    )
                    for e in entries
                ],
            )

    def roster_names(self):
        # {tag_id: {...}} over every gateway's roster: names for the view and the alarms.
        out = {}
        for tag, pid, name, role, crew in self.read(
            "SELECT tag_id, person_id, name, role, crew FROM roster"
        ):
            out[tag] = {"tag_id": tag, "person_id": pid, "name": name, "role": role, "crew": crew}
        return out


class EventRecord:
    """One gateway's events in the station store, as GatewayClient.catch_up writes them.
    Each page is checked and held; flush() commits everything held, together with what it
    raises (alarms, outbox rows; on_page(conn, gateway_id, events) runs inside the same
    transaction), in one transaction. The link acks only after flush() returned: one
    fsync per catch-up instead of one per page, and still nothing acked before it is on
    disk. batch=False commits each page as it comes (tools, tests)."""

    def __init__(self, store, gateway_id, on_page=None, batch=False):
        self.store = store
        self.gateway_id = gateway_id
        self.on_page = on_page
        self.batch = batch
        self._last = store.position(gateway_id)
        self._events = []
        self._gaps = []

    def position(self):
        # Including what is held but not yet committed: the next page chains from it.
        return self._last

    def append(self, events):
        if not events:
            return
        last_seq = self._last[0]
        for e in events:
            if e["seq"] <= last_seq:
                raise EventLogError(
                    "event seq %d is not after seq %d already stored" % (e["seq"], last_seq)
                )
            last_seq = e["seq"]
        self._events.extend(events)
        last = events[-1]
        self._last = (last["seq"], bytes(last["digest"]))
        if not self.batch:
            self.flush()

    def note_gap(self, first_seq, last_seq):
        self._gaps.append((first_seq, last_seq))
        if not self.batch:
            self.flush()

    def flush(self):
        events, gaps = self._events, self._gaps
        if not events and not gaps:
            return
        self._events, self._gaps = [], []
        now = time.time()
        rows = [
            (
                self.gateway_id,
                e["seq"],
                e["time_s"],
                e["kind"],
                e["tag"],
                e["a"],
                e["b"],
                bytes(e["digest"]),
                now,
            )
            for e in events
        ]
        try:
            with self.store.transaction() as c:
                for first_seq, last_seq in gaps:
                    c.execute(
                        "INSERT OR REPLACE INTO gaps VALUES (?,?,?,?)",
                        (self.gateway_id, first_seq, last_seq, now),
                    )
                c.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
                if self.on_page is not None and events:
                    self.on_page(c, self.gateway_id, events)
        except BaseException:
            # Nothing of it is stored: the next catch-up asks the gateway again from here.
            self._last = self.store.position(self.gateway_id)
            raise
