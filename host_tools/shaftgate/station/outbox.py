"""What serve owes the broker, in SQLite beside the record it comes from.

A message is enqueued in the same transaction as the event, alarm or state it reports, so
the record and the debt to the broker commit together (kill -9 between them is
impossible). The publisher (mqtt.py) deletes a row only after the broker's PUBACK for it.

Ids: an event payload brings its own ("<gateway>:<seq>"). Any other payload is stored
with "id": null and the publisher sends "<origin>:<n>", n the row's number (AUTOINCREMENT:
never reused, even after the last rows are deleted) and origin a random token made once
per database, so a rebuilt database cannot reissue an id a consumer has already seen.
"""

import json
import time

# allow_nan=False: NaN is not JSON, and a consumer's parser would reject the message.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_INSERT = "INSERT INTO outbox (topic, payload, retain, auto_id, enqueued_s) VALUES (?, ?, ?, ?, ?)"

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS outbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    retain INTEGER NOT NULL CHECK (retain IN (0, 1)),
    auto_id INTEGER NOT NULL CHECK (auto_id IN (0, 1)),
    enqueued_s REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_origin (
    only INTEGER PRIMARY KEY CHECK (only = 0),
    token TEXT NOT NULL
);
INSERT OR IGNORE INTO outbox_origin (only, token) VALUES (0, lower(hex(randomblob(6))));
"""


def enqueue(conn, topic, payload, retain=False):
    """Add a message on the caller's connection, inside the caller's transaction; the
    caller commits (with the record it belongs to) and then wakes the publisher."""
    if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
        raise ValueError("topic must be a non-empty topic name without wildcards, got %r" % topic)
    if not isinstance(payload, dict):
        raise ValueError("payload must be a dict, got %r" % (payload,))
    auto = payload.get("id") is None
    if not auto and not isinstance(payload["id"], str):
        raise ValueError("payload id must be a string, got %r" % (payload["id"],))
    body = payload
    if next(iter(payload), None) != "id":  # "id" first, where a reader's eye looks for it
        body = {"id": None if auto else payload["id"]}
        body.update((k, v) for k, v in payload.items() if k != "id")
    text = _JSON.encode(body)  # before the INSERT: a NaN is refused, nothing stored
    conn.execute(_INSERT, (topic, text, 1 if retain else 0, 1 if auto else 0, time.time()))


def enqueue_texts(conn, retain, messages):
    """Messages already JSON text, each with its own id first ('{"id":"...'): the events,
    formatted by topics.EventTexts. One executemany for a stored page's worth."""
    now = time.time()
    rows = []
    for topic, text in messages:
        if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
            raise ValueError("topic must be a topic name without wildcards, got %r" % topic)
        if not isinstance(text, str) or not text.startswith('{"id":"'):
            raise ValueError("payload text must be a JSON object with its id first: %.40r" % text)
        rows.append((topic, text, 1 if retain else 0, 0, now))
    conn.executemany(_INSERT, rows)


def origin(conn):
    row = conn.execute("SELECT token FROM outbox_origin WHERE only = 0").fetchone()
    if row is None:
        raise RuntimeError("outbox_origin is empty: run outbox.SCHEMA_SQL first")
    return row[0]


def pending(conn):
    """How many messages wait for the broker (for status and the bench)."""
    return conn.execute("SELECT count(*) FROM outbox").fetchone()[0]


def backlog(conn):
    """(messages owed, time.time() the oldest was enqueued or None): what serve's status
    shows and what a "feed behind" alarm is raised on (R-DATA-2 bans late uploading)."""
    count, oldest = conn.execute("SELECT count(*), min(enqueued_s) FROM outbox").fetchone()
    return count, oldest


def oldest(conn):
    """time.time() the oldest message owed was enqueued, or None: one index step (rows are
    numbered in the order they are written, under the store's one lock)."""
    row = conn.execute("SELECT enqueued_s FROM outbox ORDER BY n LIMIT 1").fetchone()
    return row[0] if row is not None else None


def owed_at_most(conn):
    """At least the number of messages owed, 0 exactly when none is: the span of row numbers
    still in the outbox, in two index steps where counting reads every row. Publishers
    delete their shares apart (mqtt_shares.py), so the span may hold gaps."""
    first = conn.execute("SELECT min(n) FROM outbox").fetchone()[0]
    if first is None:
        return 0
    return conn.execute("SELECT max(n) FROM outbox").fetchone()[0] - first + 1


def read_batch(conn, after_n, limit, only=None, skip=None):
    """Up to `limit` rows after row `after_n`, oldest first:
    [(n, topic, payload text, retain, auto_id)]; wire_payload() makes what is sent.

    A publisher that owns a share of the outbox (station/mqtt_share.py) names it by
    topic: `only` the topics it takes, or `skip` the topics the others take. A topic is
    owned by one publisher at a time, so each topic's rows still go out in row order."""
    where, args = "n > ?", [after_n]
    if only is not None:
        where += " AND topic IN (%s)" % ",".join("?" * len(only))
        args += only
    if skip:
        where += " AND topic NOT IN (%s)" % ",".join("?" * len(skip))
        args += skip
    args.append(limit)
    return conn.execute(
        "SELECT n, topic, payload, retain, auto_id FROM outbox WHERE %s ORDER BY n LIMIT ?" % where,
        args,
    ).fetchall()


def wire_payload(token, n, payload_text, auto_id):
    if not auto_id:
        return payload_text.encode("utf-8")
    body = json.loads(payload_text)
    body["id"] = "%s:%d" % (token, n)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def delete(conn, ns):
    conn.executemany("DELETE FROM outbox WHERE n = ?", [(n,) for n in ns])
