# An in-process fake gateway for the host's unit tests. It speaks the real stack
# (gatewire frames, CBOR, catalogue, auth.Verifier) and keeps a real hash-chained
# gateway.eventlog.EventLog on a FileFlash, but holds no rules: it records what dispatch
# sent and answers plausibly. Two ways in: MemoryLink (a Transport object, no serial
# port) and PtyPeer from shaftgate.cli.selfcheck (a real pty, opened with SerialTransport).
import queue
import tempfile
import threading

from gateway import eventlog, events, reasons
from gatewire import auth, cbor, messages
from gatewire.errors import E_BAD_FIELD, E_FULL, E_REFUSED, ProtocolError
from hal.flashfs import FileFlash
from shaftgate.link.transport import LinkError, Transport

KEY = bytes(range(32))
OTHER_KEY = b"\x5a" * 32
NOW_S = 1_750_000_000


class FakeGateway:
    def __init__(self, gateway_id="face-1", key=KEY, flash_root=None, push_events=True):
        self.gateway_id = gateway_id
        self.verifier = auth.Verifier(key)
        self.log = eventlog.EventLog(
            FileFlash(flash_root or tempfile.mkdtemp(prefix="fake-gw-")),
            capacity=4096,
            segment_records=16,
            genesis=eventlog.genesis_digest(gateway_id),
        )
        self.push_events = push_events
        self.log_acks = False  # True: log each ack as a COMMAND event, as the firmware does
        self.acks_received = 0
        self.now_s = NOW_S
        self.occupants = []  # [tag, person, since_s]
        self.permits = {}
        self.config = {"warn_pct": 80, "utc_offset_min": 480, "zone_id": "F1"}
        self.roster = []
        self.roster_loads = {}  # load_id -> {part: entries}
        self.sealed = False
        self.evacuating = False
        self.drill = False
        self.cap = 25
        self.override = None
        # Test knobs
        self.silent = False  # swallow every request (timeouts, dead links)
        self.ignore_from_seq = False  # events-since answers from the oldest unacked
        self.requests = []  # names of requests that reached a handler
        self.accepted = []  # names of mutating requests that passed auth
        self.bodies = {}  # request name -> the body of the last one that reached a handler
        self.refusals = {}  # request name -> (code, text, field): answer it so, as a gateway
        self._out = None
        self._lock = threading.RLock()

    # ---- the wire ----

    def attach(self, out):
        # out(payload): delivers one payload to the host; None when nothing is attached.
        self._out = out

    def _send(self, envelope):
        if self._out is not None:
            self._out(cbor.dumps(envelope))

    def handle(self, payload):
        with self._lock:
            if self.silent:
                return
            self._send(self._answer(payload))

    def handle_on_pty(self, payload, peer):
        self.handle(payload)

    def _answer(self, payload):
        req_id = 0
        try:
            obj = cbor.loads(payload)
            code, req_id = messages.parse_envelope(obj)
            code, req_id, body = messages.parse(obj, expect="request")
            name = messages.name_of(code)
            self.requests.append(name)
            if messages.is_mutating(code):
                self.verifier.verify(obj)
                self.accepted.append(name)
            self.bodies[name] = body
            if name in self.refusals:
                raise ProtocolError(*self.refusals[name])
            handler = getattr(self, "_on_" + name.replace("-", "_"))
            return messages.reply(name, req_id, **(handler(body) or {}))
        except ProtocolError as e:
            return messages.error_reply(req_id, e.code, e.text, e.field)

    # ---- events ----

    def emit(self, kind, tag=0, a=0, b=0):
        with self._lock:
            seq = self.log.append(self.now_s, kind, tag, a, b)
            if self.push_events:
                record = self.log.since(seq - 1, 1)[0]
                self._send(messages.event(*record))
            return seq

    def cross_in(self, tag, person):
        self.occupants.append([tag, person, self.now_s])
        return self.emit(events.ENTRY, tag, person, len(self.occupants))

    # ---- handlers ----

    def _on_hello(self, body):
        return dict(
            version=messages.agree_version(body["min_version"], body["max_version"]),
            gateway_id=self.gateway_id,
            role="face",
            zone_id=self.config["zone_id"],
            zone_kind="coal_face",
            firmware="fake-1",
            boot_count=3,
            last_seq=self.log.last_seq,
            now_s=self.now_s,
            board="fake",
        )

    def _on_status(self, body):
        return dict(
            now_s=self.now_s,
            uptime_s=3600,
            occupants=len(self.occupants),
            cap=self.override[0] if self.override else self.cap,
            shift=1,
            lamp=3 if self.evacuating or self.sealed else 1,
            work_allowed=not (self.evacuating or self.sealed),
            hot_work_allowed=False,
            sealed=self.sealed,
            evacuating=self.evacuating,
            drill=self.drill,
            video_ok=True,
            gas_ok=True,
            override_active=self.override is not None,
            ch4_ppm=2500,
            last_seq=self.log.last_seq,
            unacked=self.log.unacked(),
            permits_active=len(self.permits),
        )

    def _on_occupants(self, body):
        start = body.get("start", 0)
        count = body.get("max_count", 3)  # small pages, so the host's paging is exercised
        return dict(
            total=len(self.occupants), start=start, occupants=self.occupants[start : start + count]
        )

    def _on_events_since(self, body):
        from_seq = body["from_seq"]
        if self.ignore_from_seq or from_seq <= self.log.acked:
            from_seq = self.log.acked + 1
        records = []
        if from_seq - 1 <= self.log.last_seq:
            records = self.log.since(from_seq - 1, body["max_count"])
        keys = ("seq", "time_s", "kind", "tag", "a", "b", "digest")
        return dict(
            events=[dict(zip(keys, r, strict=True)) for r in records], last_seq=self.log.last_seq
        )

    def _on_ack(self, body):
        self.log.ack(body["up_to_seq"])
        self.acks_received += 1
        if self.log_acks:
            # As the firmware does: every accepted command, an ack too, is itself an event.
            self.emit(events.COMMAND, messages.ACK, 0, 0)
        return dict(unacked=self.log.unacked())

    def _on_config_get(self, body):
        keys = body.get("keys") or list(self.config)
        for k in keys:
            if k not in self.config:
                raise ProtocolError(E_BAD_FIELD, "no setting %r" % k, "keys")
        return dict(settings={k: self.config[k] for k in keys})

    def _on_config_set(self, body):
        for k, v in body["changes"].items():
            if k not in self.config:
                raise ProtocolError(E_BAD_FIELD, "config %r: no such setting" % k, k)
            if type(v) is not type(self.config[k]):
                raise ProtocolError(E_BAD_FIELD, "config %r: wrong type" % k, k)
        self.config.update(body["changes"])

    def _on_roster_load(self, body):
        parts = self.roster_loads.setdefault(body["load_id"], {})
        parts[body["part"]] = body["entries"]
        complete = len(parts) == body["parts"]
        if complete:
            entries = [e for i in range(body["parts"]) for e in parts[i]]
            if len(entries) != body["total"]:
                raise ProtocolError(E_BAD_FIELD, "roster total does not match", "total")
            if len(entries) > 250:
                raise ProtocolError(E_FULL, "roster of %d over this fake's 250" % len(entries))
            self.roster = entries
            del self.roster_loads[body["load_id"]]
            self.emit(events.ROSTER_LOADED, 0, len(entries), 0)
            return dict(received=body["parts"], complete=True, entries=len(entries))
        return dict(received=len(parts), complete=False)

    def _on_permit_issue(self, body):
        if body["permit_id"] in self.permits:
            raise ProtocolError(E_REFUSED, "permit %d already in the book" % body["permit_id"])
        self.permits[body["permit_id"]] = dict(body)
        self.emit(events.PERMIT_ISSUED, body["permit_id"], body["job_id"], body["flags"])

    def _on_permit_revoke(self, body):
        p = self.permits.pop(body["permit_id"], None)
        if p is None:
            raise ProtocolError(E_REFUSED, "no permit %d" % body["permit_id"], "permit_id")
        self.emit(events.PERMIT_REVOKED, p["permit_id"], p["job_id"], 0)

    def _on_permit_list(self, body):
        start = body.get("start", 0)
        items = list(self.permits.values())
        return dict(total=len(items), permits=items[start : start + 2])

    def _on_evacuate(self, body):
        self.evacuating = True
        self.drill = body["drill"]
        by = body.get("by", 0)
        cause = reasons.CAUSE_TEAM_LEADER if by else reasons.CAUSE_DISPATCHER
        kind = events.DRILL_START if body["drill"] else events.EVAC_START
        self.emit(kind, by, cause, body["reason"])

    def _on_all_clear(self, body):
        if not self.evacuating:
            raise ProtocolError(E_REFUSED, "no evacuation in force")
        drill = self.drill
        self.evacuating = self.drill = False
        self.emit(events.EVAC_END, body.get("by", 0), 60, 1 if drill else 0)

    def _on_cap_override(self, body):
        self.override = (body["cap"], body["expiry_s"], body["reason"])
        self.emit(events.CAP_OVERRIDE_SET, 0, body["cap"], body["expiry_s"] - self.now_s)

    def _on_cap_override_clear(self, body):
        if self.override is None:
            raise ProtocolError(E_REFUSED, "no temporary cap is in force: nothing changed")
        self.emit(events.CAP_OVERRIDE_ENDED, 0, self.override[0], 2)
        self.override = None

    def _on_seal(self, body):
        self.sealed = True

    def _on_unseal(self, body):
        self.sealed = False

    def _on_time_set(self, body):
        self.now_s = body["time_s"]


class MemoryLink(Transport):
    # A Transport straight into a FakeGateway: send() runs the fake's handler in the
    # caller's thread; what the fake sends waits in a queue for receive().
    def __init__(self, gateway):
        self.gateway = gateway
        self._inbox = queue.Queue()
        self.closed = False
        gateway.attach(self._inbox.put)

    def send(self, payload):
        if self.closed:
            raise LinkError("memory link closed")
        self.gateway.handle(bytes(payload))

    def receive(self, timeout_s):
        if self.closed:
            raise LinkError("memory link closed")
        try:
            out = [self._inbox.get(timeout=max(0.0, timeout_s))]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._inbox.get_nowait())
            except queue.Empty:
                return out

    def close(self):
        # The fake keeps its state, as a gateway does when the host goes away.
        self.closed = True
        self.gateway.attach(None)
