"""The host's side of gatewire: requests and replies, signed commands, and the event
catch-up that makes sure dispatch holds every event exactly once (ARCHITECTURE.md,
principle 3). Built on a transport's two primitives (send a payload, receive payloads),
so the same client talks to a serial gateway, a virtual board's pty and a test fake.

Library code raises; only the CLI prints. Errors:
    GatewayError     the gateway answered with an ERROR reply (code, code_name, text, field)
    GatewayTimeout   no reply in time (a LinkError), saying what arrived meanwhile
    BadReply         a reply that does not fit the message catalogue
    WrongGateway     the port answers as another gateway than the one named
    KeyRequired      a mutating command with no key loaded
    EventLogError    EventGap, EventChainBroken, EventLogReset: the log is not whole
"""

import collections
import itertools
import json
import os
import secrets
import socket
import time
from pathlib import Path

from gateway import eventlog
from gateway import events as event_kinds
from gatewire import auth, cbor, frame, messages
from gatewire.errors import CODE_NAMES, E_BAD_FIELD, E_VERSION, ProtocolError
from shaftgate.link.keystore import MemoryCounter
from shaftgate.link.transport import LinkError

DEFAULT_TIMEOUT_S = 2.0
# Pushed events wait here between replies. Bounded: if the host falls behind, the oldest
# go, which loses nothing since the gateway keeps every event until it is acked and
# catch_up() fetches what the queue no longer holds.
PUSHED_MAX = 4096


def _kind_names():
    names = {}
    for name in dir(event_kinds):
        value = getattr(event_kinds, name)
        if name.isupper() and type(value) is int:
            names[value] = name
    return names


EVENT_KIND_NAMES = _kind_names()


def event_kind_name(kind):
    return EVENT_KIND_NAMES.get(kind, "KIND_%d" % kind)


def jsonable(obj):
    # The library's data as JSON: bytes (digests) as hex, tuples as lists, keys as text.
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj).hex()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_json"):
        return jsonable(obj.to_json())
    return obj


# ---- errors ----


def is_own_ack(e):
    """The COMMAND event a gateway logs for a host's acknowledgement: bookkeeping that
    must not itself be acknowledged (each ack would log another, for ever)."""
    return e["kind"] == event_kinds.COMMAND and e["tag"] == messages.ACK


class GatewayError(ProtocolError):
    """The gateway refused a request: code and code_name from gatewire.errors."""

    def __init__(self, gateway_id, request, code, text, field=None, who=None):
        super().__init__(code, text, field)
        self.gateway_id = gateway_id
        self.request = request
        self.code_name = CODE_NAMES.get(code, "code-%d" % code)
        self.who = who or "gateway %s" % gateway_id

    def __str__(self):
        field = ", field %s" % self.field if self.field else ""
        text = self.text
        # The firmware starts a refusal with "<request> refused: "; said once is enough.
        echo = "%s refused: " % self.request
        if text.startswith(echo):
            text = text[len(echo) :]
        return "%s refused %s: %s (%s%s)" % (
            self.who,
            self.request,
            text,
            self.code_name,
            field,
        )


class GatewayTimeout(LinkError):
    def __init__(self, gateway_id, request, req_id, timeout_s, arrived, who=None, mutating=False):
        self.gateway_id = gateway_id
        self.request = request
        self.req_id = req_id
        self.timeout_s = timeout_s
        self.arrived = list(arrived)
        self.who = who or "gateway %s" % gateway_id
        self.mutating = mutating
        meanwhile = "; ".join(self.arrived) if self.arrived else "nothing arrived"
        text = "no reply from %s to %s (request %d) within %.1f s; meanwhile: %s" % (
            who or "gateway %s" % gateway_id,
            request,
            req_id,
            timeout_s,
            meanwhile,
        )
        if mutating:
            # The command may have reached the gateway and only the reply been lost.
            text += "; %s may or may not have been carried out: check status first" % request
        super().__init__(text)


class BadReply(ProtocolError):
    """A reply whose envelope or body does not fit the catalogue: a firmware mismatch."""


class WrongGateway(Exception):
    pass


class KeyRequired(Exception):
    pass


class EventLogError(Exception):
    """The gateway's event log is not whole as seen from here (R-DATA-2). Nothing from
    the failing page is stored or acknowledged."""


class EventGap(EventLogError):
    def __init__(self, gateway_id, expected_seq, got_seq):
        self.gateway_id = gateway_id
        self.expected_seq = expected_seq
        self.got_seq = got_seq
        super().__init__(
            "gateway %s: events %d..%d are missing (next stored would be %d, the gateway "
            "sent %d); another host may have acknowledged them. Accept the gap only after "
            "checking (R-DATA-2)" % (gateway_id, expected_seq, got_seq - 1, expected_seq, got_seq)
        )


class EventChainBroken(EventLogError):
    def __init__(self, gateway_id, seq, text):
        self.gateway_id = gateway_id
        self.seq = seq
        super().__init__(
            "gateway %s: event log does not verify at seq %d (%s): events may have been "
            "altered, removed or reordered (R-DATA-2); nothing from this page was stored "
            "or acknowledged" % (gateway_id, seq, text)
        )


class EventLogReset(EventLogError):
    def __init__(self, gateway_id, gateway_last_seq, stored_seq):
        self.gateway_id = gateway_id
        super().__init__(
            "gateway %s reports its last event as seq %d but this host already holds up "
            "to %d: the gateway's log was wiped or replaced (R-DATA-2)"
            % (gateway_id, gateway_last_seq, stored_seq)
        )


# ---- where received events are kept ----


class MemoryEventStore:
    """Events kept in memory (tests, one-off reads)."""

    def __init__(self):
        self.events = []
        self.gaps = []

    def position(self):
        # -> (last seq held, its digest); (0, None) when nothing is held.
        if not self.events:
            return 0, None
        last = self.events[-1]
        return last["seq"], last["digest"]

    def append(self, events):
        _check_order(self.position()[0], events)
        self.events.extend(dict(e) for e in events)

    def note_gap(self, first_seq, last_seq):
        self.gaps.append((first_seq, last_seq))

    def tail(self, n):
        return [dict(e) for e in self.events[-n:]] if n > 0 else []


def _check_order(last_seq, events):
    # The client never hands a store an event it already holds; a store refuses one.
    for e in events:
        if e["seq"] <= last_seq:
            raise EventLogError(
                "event seq %d is not after seq %d already stored" % (e["seq"], last_seq)
            )
        last_seq = e["seq"]


class JsonlEventStore:
    """Events of one gateway, one JSON object a line, appended and fsynced before the
    client acknowledges them. A gap accepted by the operator is a line of its own
    ({"gap": [first, last]}), so the record shows it."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._last = (0, None)
        self._recover()

    def _recover(self):
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0:
            return
        with open(self.path, "rb+") as f:
            tail, start = self._read_tail(f, size, 2)
            # A crash mid-append leaves a line without its newline. It was never acked
            # (acks follow fsync), so the gateway still has it: cut the torn line off.
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n") + 1
                f.truncate(start + cut)
                f.flush()
                os.fsync(f.fileno())
        for line in reversed(self._tail_lines(16)):
            doc = self._parse(line)
            if "seq" in doc:
                self._last = (doc["seq"], doc["digest"])
                return

    def _parse(self, line):
        try:
            doc = json.loads(line)
            if "seq" in doc:
                doc["digest"] = bytes.fromhex(doc["digest"])
            return doc
        except (ValueError, KeyError, TypeError) as e:
            raise EventLogError(
                "event record %s holds an unreadable line (%s): %r" % (self.path, e, line[:80])
            ) from e

    @staticmethod
    def _read_tail(f, size, lines):
        # The last `lines` lines (or more), without reading a long record from the start.
        block = 8192
        start = size
        data = b""
        while start > 0 and data.count(b"\n") <= lines:
            start = max(0, start - block)
            f.seek(start)
            data = f.read(size - start)
            block *= 2
        return data, start

    def _tail_lines(self, n):
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        with open(self.path, "rb") as f:
            data, start = self._read_tail(f, size, n)
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # the first may be cut
        return [ln for ln in lines if ln.strip()][-n:]

    def position(self):
        return self._last

    def _write(self, lines):
        with open(self.path, "ab") as f:
            f.write(b"".join(lines))
            f.flush()
            os.fsync(f.fileno())

    def append(self, events):
        _check_order(self._last[0], events)
        if not events:
            return
        lines = [
            json.dumps(jsonable(e), ensure_ascii=False, sort_keys=True).encode() + b"\n"
            for e in events
        ]
        self._write(lines)
        last = events[-1]
        self._last = (last["seq"], bytes(last["digest"]))

    def note_gap(self, first_seq, last_seq):
        self._write([json.dumps({"gap": [first_seq, last_seq]}).encode() + b"\n"])

    def tail(self, n):
        out = []
        for line in self._tail_lines(n * 2 + 8):
            doc = self._parse(line)
            if "seq" in doc:
                out.append(doc)
        return out[-n:] if n > 0 else []


class CatchUp:
    """What one catch-up did: the library's own account, printed as is by --json."""

    def __init__(self, gateway_id):
        self.gateway_id = gateway_id
        self.events = []
        self.gaps = []  # (first missing seq, last missing seq) accepted on the way
        self.acked_to = None  # the gateway was told it may drop everything up to here
        self.unacked = None  # what the gateway still holds unacknowledged after the ack
        self.gateway_last_seq = None
        self.anchored_at = None  # chain verified from this event on, not from genesis
        self.duplicates_dropped = 0

    def to_json(self):
        return {
            "gateway_id": self.gateway_id,
            "new_events": len(self.events),
            "events": self.events,
            "gaps": [list(g) for g in self.gaps],
            "acked_to": self.acked_to,
            "unacked": self.unacked,
            "gateway_last_seq": self.gateway_last_seq,
            "chain_anchored_at": self.anchored_at,
            "duplicates_dropped": self.duplicates_dropped,
        }


# ---- the client ----


def _default_host_id():
    name = "shaftgate@" + socket.gethostname()
    return name.encode("utf-8")[:32].decode("utf-8", "ignore")


def _event_from_body(body):
    e = dict(body)
    e["kind_name"] = event_kind_name(e["kind"])
    return e


class GatewayClient:
    def __init__(
        self,
        transport,
        gateway_id=None,
        key=None,
        counter_store=None,
        *,
        host_id=None,
        genesis=None,
        clock_ms=None,
    ):
        # gateway_id None: taken from the gateway's hello (then checked by nothing).
        # genesis: digests the gateway's event seq 1 may chain from; default: its own
        # eventlog.genesis_digest(gateway_id) or the all-zero eventlog.GENESIS.
        self.transport = transport
        self.gateway_id = gateway_id
        self.host_id = host_id if host_id is not None else _default_host_id()
        self.identity = None
        self._genesis = genesis
        self._clock_ms = clock_ms if clock_ms is not None else (lambda: time.time_ns() // 1_000_000)
        self._keying = None  # (key, counter store) once a key is loaded
        self._signer = None
        # A random start, so a stale reply to a previous run's request cannot match ours.
        self._next_id = secrets.randbelow(0x7FFFFFFF) + 1
        self._pushed = collections.OrderedDict()  # seq -> event, arrival order
        self._settle = False  # a request timed out: let the gateway finish before the next
        self.pushed_dropped = 0
        if key is not None:
            self.use_key(key, counter_store)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.transport.close()

    def who(self):
        # How errors name this gateway: by id once known, else by its port.
        if self.gateway_id is not None:
            return "gateway %s" % self.gateway_id
        return "the gateway on %s" % getattr(self.transport, "port_name", "this link")

    @property
    def has_key(self):
        return self._keying is not None

    def use_key(self, key, counter_store=None):
        auth.Signer(key)  # checks the key's type and length now, not at the first command
        store = counter_store if counter_store is not None else MemoryCounter()
        self._keying = (bytes(key), store)
        self._signer = None

    # ---- one request, one reply ----

    def _take_id(self):
        req_id = self._next_id
        self._next_id = req_id + 1 if req_id < messages.REQ_ID_MAX else 1
        return req_id

    def _sign(self, envelope, name):
        if self._keying is None:
            raise KeyRequired(
                "%s changes gateway state and must be signed, but no key is loaded for "
                "%s (docs/keys.md)" % (name, self.who())
            )
        key, store = self._keying
        signer = self._signer
        if signer is None:
            signer = auth.Signer(key, auth.initial_counter(store.load(), self._clock_ms()))
            self._signer = signer
        signer.sign(envelope)
        # Persisted before the frame leaves: after a crash the host can never reuse a
        # counter the gateway may have seen (docs/keys.md, Counters).
        store.save(signer.counter)

    def request(self, name, timeout_s=DEFAULT_TIMEOUT_S, **fields):
        # -> the OK reply's body by field name. Bad fields raise before anything is sent.
        code = messages.code_of(name)
        req_id = self._take_id()
        envelope = messages.request(name, req_id, **fields)
        if messages.is_mutating(code):
            self._sign(envelope, name)
        if self._settle:
            self._settle_link()
        self.transport.send(cbor.dumps(envelope))
        try:
            return self._await_reply(name, req_id, timeout_s)
        except GatewayTimeout:
            self._settle = True
            raise

    def _settle_link(self):
        # docs/protocol.md 2.1: a gateway still busy with a timed-out request takes one
        # frame at most; keep reading (events are kept, late replies dropped) before the
        # next, so that two frames never pile up in its receive buffer.
        self._settle = False
        deadline = time.monotonic() + frame.LINK_SETTLE_MS / 1000
        notes = collections.Counter()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            for payload in self.transport.receive(left):
                self._take(payload, "", 0, notes)

    def _damaged_frames(self):
        d = getattr(self.transport, "decoder", None)
        if d is None:
            return 0
        return d.frames_bad_crc + d.frames_bad_cobs + d.frames_too_short + d.frames_oversize

    def _await_reply(self, name, req_id, timeout_s):
        deadline = time.monotonic() + timeout_s
        damaged_before = self._damaged_frames()
        notes = collections.Counter()
        body = None
        refusal = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                damaged = self._damaged_frames() - damaged_before
                if damaged:
                    notes["damaged frame(s) dropped by the decoder"] += damaged
                arrived = ["%d %s" % (n, what) for what, n in notes.items()]
                mutating = messages.is_mutating(messages.code_of(name))
                raise GatewayTimeout(
                    self.gateway_id, name, req_id, timeout_s, arrived, self.who(), mutating
                )
            # Every payload of a batch is taken, so events after the reply are kept too.
            for payload in self.transport.receive(left):
                got = self._take(payload, name, req_id, notes)
                if isinstance(got, GatewayError):
                    refusal = refusal or got
                elif got is not None and body is None:
                    body = got
            if refusal is not None:
                raise refusal
            if body is not None:
                return body

    def _take(self, payload, name, req_id, notes):
        # -> None, the reply body, or a GatewayError, for the reply we wait for.
        try:
            obj = cbor.loads(payload)
            code, got_id = messages.parse_envelope(obj)
        except ProtocolError as e:
            notes["undecodable payload(s) (%s)" % e.text] += 1
            return None
        cls = messages.message_class(code)
        if cls == "event":
            try:
                _, _, body = messages.parse(obj, expect="event")
            except ProtocolError as e:
                notes["event(s) not fitting the catalogue (%s)" % e.text] += 1
                return None
            self._queue_pushed(_event_from_body(body))
            notes["event notification(s)"] += 1
            return None
        if cls != "reply":
            notes["message(s) of type %d, which a gateway does not send" % code] += 1
            return None
        if got_id != req_id:
            if got_id == 0 and code == messages.ERROR:
                # docs/protocol.md 7: it may answer our request (unreadable on arrival)
                # or noise on the line; keep waiting, and say so if the wait times out.
                notes["error(s) with id 0: a frame the gateway could not read"] += 1
            else:
                notes["reply(ies) to other requests (stale)"] += 1
            return None
        try:
            _, _, body = messages.parse(obj, expect="reply", answers=name)
        except ProtocolError as e:
            raise BadReply(
                e.code,
                "%s answered %s with a reply that does not fit the message "
                "catalogue: %s (firmware and host versions differ?)" % (self.who(), name, e.text),
                e.field,
            ) from e
        if code == messages.ERROR:
            return GatewayError(
                self.gateway_id, name, body["code"], body["text"], body.get("field"), self.who()
            )
        return body

    def _queue_pushed(self, event):
        seq = event["seq"]
        if seq in self._pushed:
            return
        self._pushed[seq] = event
        while len(self._pushed) > PUSHED_MAX:
            self._pushed.popitem(last=False)
            self.pushed_dropped += 1

    def pushed(self):
        # Events pushed by the gateway and not yet taken by catch_up(), oldest seq first.
        return [self._pushed[s] for s in sorted(self._pushed)]

    def wait_for_events(self, timeout_s):
        # Waits until the gateway pushes an event or timeout_s passes; True if any is queued.
        deadline = time.monotonic() + timeout_s
        notes = collections.Counter()
        while not self._pushed:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for payload in self.transport.receive(left):
                self._take(payload, "(nothing)", -1, notes)
        return True

    # ---- identity ----

    def hello(self, timeout_s=DEFAULT_TIMEOUT_S):
        v = messages.PROTOCOL_VERSION
        body = self.request(
            "hello", timeout_s, min_version=v, max_version=v, host_id=self.host_id or None
        )
        if body["version"] != v:
            raise BadReply(
                E_VERSION,
                "gateway %s chose protocol version %d; this host asked for %d"
                % (body["gateway_id"], body["version"], v),
                "version",
            )
        if self.gateway_id is None:
            self.gateway_id = body["gateway_id"]
        elif body["gateway_id"] != self.gateway_id:
            raise WrongGateway(
                "%s answers as gateway %s, not %s: check which board is on this port"
                % (
                    getattr(self.transport, "port_name", "the link"),
                    body["gateway_id"],
                    self.gateway_id,
                )
            )
        self.identity = body
        return body

    # ---- reads ----

    def status(self, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("status", timeout_s)

    def occupants(self, names=None, timeout_s=DEFAULT_TIMEOUT_S):
        # names: {tag_id: {"name", "role", ...}} from the host's roster copy, if any.
        names = names or {}
        rows = {}
        start = 0
        total = 0
        while True:
            body = self.request("occupants", timeout_s, start=start)
            total = body["total"]
            page = body["occupants"]
            for tag_id, person_id, since_s in page:
                info = names.get(tag_id) or {}
                # By tag: someone crossing between two pages must not be listed twice.
                rows[tag_id] = {
                    "tag_id": tag_id,
                    "person_id": person_id,
                    "since_s": since_s,
                    "name": info.get("name"),
                    "role": info.get("role"),
                    "crew": info.get("crew"),
                }
            start += len(page)
            if not page or start >= total:
                break
        occupants = sorted(rows.values(), key=lambda r: (r["since_s"], r["tag_id"]))
        return {"gateway_id": self.gateway_id, "total": total, "occupants": occupants}

    def permit_list(self, timeout_s=DEFAULT_TIMEOUT_S):
        permits = {}
        start = 0
        total = 0
        while True:
            body = self.request("permit-list", timeout_s, start=start)
            total = body["total"]
            page = body["permits"]
            for p in page:
                permits[p["permit_id"]] = p
            start += len(page)
            if not page or start >= total:
                break
        return {"gateway_id": self.gateway_id, "total": total, "permits": list(permits.values())}

    def config_get(self, keys=None, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("config-get", timeout_s, keys=list(keys) if keys else None)["settings"]

    # ---- commands (signed) ----

    def config_set(self, changes, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("config-set", timeout_s, changes=dict(changes))

    def evacuate(self, reason, drill=False, by=None, timeout_s=DEFAULT_TIMEOUT_S):
        # by: the person id of a team leader whose order dispatch relays (R-EVAC-1).
        return self.request("evacuate", timeout_s, reason=reason, drill=drill, by=by)

    def all_clear(self, by=None, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("all-clear", timeout_s, by=by)

    def cap_override(self, cap, expiry_s, reason, timeout_s=DEFAULT_TIMEOUT_S, below_count=False):
        # below_count: set it even below the people inside (R-CAP-11: over the cap at once).
        return self.request(
            "cap-override",
            timeout_s,
            cap=cap,
            expiry_s=expiry_s,
            reason=reason,
            below_count=True if below_count else None,
        )

    def recount(self, found, was, counted_by, by=None, timeout_s=DEFAULT_TIMEOUT_S):
        # R-CAP-11: the headcount a physical count found, against the count the gateway
        # showed when it was taken (was); counted_by: who counted; by: the team leader
        # whose order dispatch relays (absent: the dispatcher). -> {before, after}.
        return self.request(
            "recount", timeout_s, found=found, was=was, counted_by=counted_by, by=by
        )

    def cap_override_clear(self, reason=None, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("cap-override-clear", timeout_s, reason=reason)

    def seal(self, reason=None, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("seal", timeout_s, reason=reason)

    def unseal(self, reason=None, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("unseal", timeout_s, reason=reason)

    def time_set(self, time_s, timeout_s=DEFAULT_TIMEOUT_S, backwards=False):
        # backwards: the clock may go back more than the gateway's small tolerance.
        return self.request(
            "time-set", timeout_s, time_s=time_s, backwards=True if backwards else None
        )

    def permit_issue(self, timeout_s=DEFAULT_TIMEOUT_S, **permit):
        return self.request("permit-issue", timeout_s, **permit)

    def permit_revoke(self, permit_id, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("permit-revoke", timeout_s, permit_id=permit_id)

    def ack(self, up_to_seq, timeout_s=DEFAULT_TIMEOUT_S):
        return self.request("ack", timeout_s, up_to_seq=up_to_seq)

    def roster_load(self, parts, load_id=None, timeout_s=DEFAULT_TIMEOUT_S):
        # parts: lists of [tag, person, role, cert_expiry_s, crew], each at most
        # ROSTER_CHUNK_MAX long (roster_csv.chunks). Every part is checked before the
        # first is sent; the gateway keeps the old roster until the last part is in.
        if not parts:
            raise ValueError("a roster load needs at least one part (roster_csv.chunks)")
        if load_id is None:
            load_id = secrets.randbelow(messages.ID_MAX) + 1
        total = sum(len(p) for p in parts)
        envelopes = []
        for i, entries in enumerate(parts):
            envelopes.append(
                dict(load_id=load_id, part=i, parts=len(parts), entries=entries, total=total)
            )
            messages.request("roster-load", 1, **envelopes[-1])
        reply = {}
        for i, fields in enumerate(envelopes):
            try:
                reply = self.request("roster-load", timeout_s, **fields)
            except GatewayError as e:
                e.text = "part %d of %d: %s (the old roster stays in force)" % (
                    i + 1,
                    len(parts),
                    e.text,
                )
                raise
        if not reply["complete"]:
            raise BadReply(
                E_BAD_FIELD,
                "gateway %s took all %d parts of roster load %d but does not report it "
                "complete (received %d)"
                % (self.gateway_id, len(parts), load_id, reply["received"]),
                "complete",
            )
        return {
            "gateway_id": self.gateway_id,
            "load_id": load_id,
            "parts": len(parts),
            "entries": reply.get("entries", total),
        }

    # ---- events: nothing lost, nothing twice ----

    def _genesis_candidates(self):
        if self._genesis is not None:
            return list(self._genesis)
        return [eventlog.genesis_digest(self.gateway_id or ""), eventlog.GENESIS]

    def _verify(self, page, digest, prev_seq, result):
        records = [
            (e["seq"], e["time_s"], e["kind"], e["tag"], e["a"], e["b"], e["digest"]) for e in page
        ]
        try:
            if digest is not None:
                return eventlog.verify_chain(records, digest, prev_seq)
            if records[0][0] == 1:
                broken = []
                for genesis in self._genesis_candidates():
                    try:
                        return eventlog.verify_chain(records, genesis, 0)
                    except eventlog.ChainBroken as e:
                        broken.append(e)
                # Report from the genesis that verified furthest: that is the log's.
                raise max(broken, key=lambda e: e.index)
            # Nothing held and the gateway's log starts later (older events acked away
            # before this host): trust the first event, verify everything after it.
            result.anchored_at = records[0][0]
            return eventlog.verify_chain(records[1:], records[0][6], records[0][0])
        except eventlog.ChainBroken as e:
            raise EventChainBroken(self.gateway_id, e.seq, str(e)) from e

    def _store_page(self, store, page, result, ack, accept_gap):
        # Checks, verifies, stores durably, then acks: the order is the guarantee.
        last_seq, digest = store.position()
        gap = None
        if page[0]["seq"] != last_seq + 1:
            # From an empty store, a log that starts later is where this host begins;
            # after events already held, missing ones need the operator's word.
            if last_seq != 0 and not accept_gap:
                raise EventGap(self.gateway_id, last_seq + 1, page[0]["seq"])
            gap = (last_seq + 1, page[0]["seq"] - 1)
            digest = None
        for prev, e in itertools.pairwise(page):
            if e["seq"] != prev["seq"] + 1:
                raise EventGap(self.gateway_id, prev["seq"] + 1, e["seq"])
        self._verify(page, digest, None if gap else last_seq, result)
        if gap:
            store.note_gap(*gap)
            result.gaps.append(gap)
        store.append(page)
        result.events.extend(page)
        if ack:
            reply = self.ack(page[-1]["seq"])
            result.acked_to = page[-1]["seq"]
            result.unacked = reply["unacked"]

    def _take_pushed(self, store, result, ack, accept_gap):
        # The contiguous run of pushed events that continues the store: stored without
        # a round trip. A gap in what was pushed is left for events-since to fill.
        last_seq = store.position()[0]
        run = []
        for seq in sorted(self._pushed):
            if seq <= last_seq:
                del self._pushed[seq]
                result.duplicates_dropped += 1
                continue
            if seq != last_seq + 1 + len(run):
                break
            run.append(self._pushed[seq])
        if run and last_seq == 0 and run[0]["seq"] != 1:
            return  # an empty store starts from the gateway's oldest, not from a push
        if run:
            self._store_page(store, run, result, ack, accept_gap)
            for e in run:
                del self._pushed[e["seq"]]

    def catch_up(
        self,
        store,
        ack=True,
        accept_gap=False,
        page_size=messages.EVENTS_MAX,
        timeout_s=DEFAULT_TIMEOUT_S,
    ):
        # Brings `store` up to the gateway's last event. ack=False reads without letting
        # the gateway drop anything (a host that is not the record keeper). Raises
        # EventGap / EventChainBroken / EventLogReset, with the store and the gateway's
        # log as they were before the failing page.
        if not 1 <= page_size <= messages.EVENTS_MAX:
            raise ValueError("page_size must be 1..%d, got %r" % (messages.EVENTS_MAX, page_size))
        if ack and self._keying is None:
            raise KeyRequired(
                "acknowledging events is a signed command and no key is loaded for "
                "%s (read with ack=False)" % self.who()
            )
        if self.gateway_id is None:
            self.hello(timeout_s)  # the chain's genesis depends on the gateway's id
        result = CatchUp(self.gateway_id)
        self._take_pushed(store, result, ack, accept_gap)
        while True:
            last_seq = store.position()[0]
            body = self.request(
                "events-since", timeout_s, from_seq=last_seq + 1, max_count=page_size
            )
            result.gateway_last_seq = body["last_seq"]
            if body["last_seq"] < last_seq:
                raise EventLogReset(self.gateway_id, body["last_seq"], last_seq)
            page = []
            for b in body["events"]:
                if b["seq"] <= last_seq:
                    result.duplicates_dropped += 1
                else:
                    page.append(_event_from_body(b))
            if not page:
                if body["events"] and ack:
                    # It still holds events this host has stored: an earlier ack was
                    # lost. Acknowledge them again so its log can shrink.
                    result.unacked = self.ack(last_seq, timeout_s)["unacked"]
                    result.acked_to = last_seq
                if last_seq < body["last_seq"]:
                    raise EventLogError(
                        "gateway %s reports events up to seq %d but sent none after %d"
                        % (self.gateway_id, body["last_seq"], last_seq)
                    )
                break
            self._store_page(store, page, result, ack, accept_gap)
            if page[-1]["seq"] >= body["last_seq"]:
                break
        held = store.position()[0]
        for seq in [s for s in self._pushed if s <= held]:
            del self._pushed[seq]
            result.duplicates_dropped += 1
        return result
