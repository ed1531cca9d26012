"""What serve publishes: each builder returns (topic, payload, retain) for outbox.enqueue.

The layout (docs/mqtt.md) puts the mine id second, so one broker cluster carries many
mines and a platform subscribes to shaftgate/+/... for all of them:

    shaftgate/<mine>/event/<gateway>       every gateway event            QoS 1
    shaftgate/<mine>/events/<gateway>      events in batches (site's choice) QoS 1
    shaftgate/<mine>/zone/<zone>           zone state                     QoS 1, retained
    shaftgate/<mine>/headcount             people underground, per zone   QoS 1, retained
    shaftgate/<mine>/alarm/<kind>          alarm raised / cleared         QoS 1
    shaftgate/<mine>/link/<gateway>        serve's link to a gateway      QoS 1, retained
    shaftgate/<mine>/presence/<client id>  serve online / offline (will)  QoS 1, retained

Every payload is a JSON object with "id": events carry "<gateway>:<seq>"; the others get
"<outbox origin>:<outbox row>" from the publisher (outbox.py), so a consumer drops a
message whose id it has seen (a QoS 1 redelivery) and nothing else. The JSON Schemas in
schemas/ are the contract; these builders check what they are given and raise ValueError
naming the field, before anything reaches the outbox.
"""

import itertools
import json
import time
from pathlib import Path

from gateway import events as event_kinds

ROOT = "shaftgate"
LAMPS = ("off", "green", "amber", "red")
ALARM_STATES = ("raised", "cleared")
SEGMENT_MAX = 64
SCHEMA_DIR = Path(__file__).with_name("schemas")
# The third topic level names the payload's JSON Schema: schemas/<name>.schema.json
SCHEMA_NAMES = ("event", "events", "zone", "headcount", "alarm", "link", "presence")
# Events in one batch message: ~20 KB, well under any broker's packet limit (EMQX: 1 MB).
BATCH_MAX = 100


def _kind_names():
    names = {}
    for name in dir(event_kinds):
        value = getattr(event_kinds, name)
        if name.isupper() and type(value) is int:
            names[value] = name
    return names


KIND_NAMES = _kind_names()


def segment(value, what):
    """One topic level: the MQTT wildcards, the separator and NUL would change which
    subscriptions match, so they are refused rather than escaped."""
    if not isinstance(value, str) or not value:
        raise ValueError("%s must be a non-empty string, got %r" % (what, value))
    if len(value) > SEGMENT_MAX:
        raise ValueError("%s is longer than %d characters: %r" % (what, SEGMENT_MAX, value))
    bad = [c for c in value if c in "/+#\0$" or c.isspace() or ord(c) < 32]
    if bad:
        raise ValueError(
            "%s %r contains %r, which cannot stand in an MQTT topic level" % (what, value, bad[0])
        )
    return value


def topic(mine_id, *levels):
    return "/".join((ROOT, segment(mine_id, "mine id"), *levels))


def _int(d, key, what, lo=None, hi=None):
    v = d.get(key) if isinstance(d, dict) else None
    if type(v) is not int or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(
            "%s.%s must be an integer%s, got %r"
            % (what, key, "" if lo is None else " %s..%s" % (lo, "" if hi is None else hi), v)
        )
    return v


def _bool(d, key, what):
    v = d.get(key) if isinstance(d, dict) else None
    if type(v) is not bool:
        raise ValueError("%s.%s must be true or false, got %r" % (what, key, v))
    return v


def _opt_int(d, key, what, lo=0):
    if d.get(key) is None:
        return None
    return _int(d, key, what, lo)


def _dict(d, key, what):
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, dict):
        raise ValueError("%s.%s must be an object, got %r" % (what, key, v))
    return v


def _time_s(time_s, what):
    if time_s is None:
        return round(time.time(), 3)
    if type(time_s) not in (int, float) or time_s < 0:
        raise ValueError("%s time_s must be seconds since 1970 (UTC), got %r" % (what, time_s))
    return time_s


def event_msg(mine_id, gateway_id, zone, event):
    """A gateway event as recorded (the client's dict: seq, time_s, kind, tag, a, b, digest
    as bytes or hex)."""
    segment(gateway_id, "gateway id")
    segment(zone, "zone")
    return (
        topic(mine_id, "event", gateway_id),
        _event_payload(mine_id, gateway_id, zone, event),
        False,
    )


def _event_payload(mine_id, gateway_id, zone, event):
    # The ids checked by the caller, once for a whole batch.
    if not isinstance(event, dict):
        raise ValueError("event must be a dict, got %r" % (event,))
    seq = _int(event, "seq", "event", 1, 0xFFFFFFFF)
    kind = _int(event, "kind", "event", 1, 0xFFFF)
    digest = event.get("digest")
    if isinstance(digest, (bytes, bytearray)):
        digest = bytes(digest).hex()
    if not isinstance(digest, str) or len(digest) != 32 or digest.strip(_HEX):
        raise ValueError("event.digest must be 16 bytes (or 32 hex digits), got %r" % (digest,))
    payload = {
        "id": "%s:%d" % (gateway_id, seq),
        "mine_id": mine_id,
        "gateway_id": gateway_id,
        "zone": zone,
        "seq": seq,
        "time_s": _int(event, "time_s", "event", 0),
        "kind": kind,
        "kind_name": KIND_NAMES.get(kind, "KIND_%d" % kind),
        "tag": _int(event, "tag", "event", 0),
        "a": _int(event, "a", "event"),
        "b": _int(event, "b", "event"),
        "digest": digest,
    }
    return payload


_HEX = "0123456789abcdef"
_EVENT_JSON = (
    '{"id":%s%d",%s,"seq":%d,"time_s":%d,"kind":%d,"kind_name":"%s","tag":%d,"a":%d,"b":%d,'
    '"digest":"%s"}'
)


class EventTexts:
    """One gateway's event messages as JSON text: what json.dumps makes of event_msg's and
    events_msg's payloads, formatted from the checked fields instead (the JSON encoder was
    a third of serve's CPU per published event). tests/test_mqtt_messages.py holds the two
    to the same text."""

    def __init__(self, mine_id, gateway_id, zone):
        self.event_topic = topic(mine_id, "event", segment(gateway_id, "gateway id"))
        self.events_topic = topic(mine_id, "events", gateway_id)
        segment(zone, "zone")
        self._gateway_id = gateway_id
        self._id = _quote(gateway_id + ":")[:-1]  # '"<gateway>:' with any escapes
        self._where = '"mine_id":%s,"gateway_id":%s,"zone":%s' % (
            _quote(mine_id),
            _quote(gateway_id),
            _quote(zone),
        )

    def event(self, event):
        fields = _stored_fields(event)
        if fields is None:
            # Not what the record stores: the checking builder names what is wrong (or
            # takes a hex digest) and its payload is formatted the same way.
            p = _event_payload(None, None, None, event)
            fields = tuple(p[k] for k in ("seq", "time_s", "kind", "tag", "a", "b", "digest"))
        seq, time_s, kind, tag, a, b, digest = fields
        name = KIND_NAMES.get(kind) or "KIND_%d" % kind
        return _EVENT_JSON % (
            self._id, seq, self._where, seq, time_s, kind, name, tag, a, b, digest
        )  # fmt: skip

    def batch(self, events):
        """(first seq, last seq, JSON text) of events_msg's payload for these events."""
        _check_batch(events, [e.get("seq") if isinstance(e, dict) else None for e in events])
        items = ",".join(self.event(e) for e in events)
        first, last = events[0]["seq"], events[-1]["seq"]
        return '{"id":%s%d-%d",%s,"first_seq":%d,"last_seq":%d,"events":[%s]}' % (
            self._id,
            first,
            last,
            self._where,
            first,
            last,
            items,
        )


def _stored_fields(event):
    # (seq, time_s, kind, tag, a, b, digest hex) of an event as the record holds it (ints in
    # range, a 16-byte digest), or None for anything else.
    try:
        seq, time_s, kind = event["seq"], event["time_s"], event["kind"]
        tag, a, b, digest = event["tag"], event["a"], event["b"], event["digest"]
    except (KeyError, TypeError):
        return None
    if (
        type(seq) is not int
        or not 1 <= seq <= 0xFFFFFFFF
        or type(time_s) is not int
        or time_s < 0
        or type(kind) is not int
        or not 1 <= kind <= 0xFFFF
        or type(tag) is not int
        or tag < 0
        or type(a) is not int
        or type(b) is not int
        or not isinstance(digest, (bytes, bytearray))
        or len(digest) != 16
    ):
        return None
    return seq, time_s, kind, tag, a, b, digest.hex()


def _quote(text):
    return json.dumps(text, ensure_ascii=False)


def _check_batch(events, seqs):
    if not isinstance(events, (list, tuple)) or not 1 <= len(events) <= BATCH_MAX:
        raise ValueError("events must be a list of 1..%d events, got %r" % (BATCH_MAX, events))
    for before, after in itertools.pairwise(seqs):
        if type(before) is not int or after != before + 1:
            raise ValueError("events must be consecutive: seq %r follows %r" % (after, before))


def events_msg(mine_id, gateway_id, zone, events):
    """Consecutive events of one gateway in one message (docs/mqtt.md#events): each item
    is the event message's payload, its id included, so a consumer of batches drops
    duplicates exactly as one of single events does."""
    segment(gateway_id, "gateway id")
    segment(zone, "zone")
    items = [_event_payload(mine_id, gateway_id, zone, e) for e in events]
    _check_batch(events, [p["seq"] for p in items])
    first, last = items[0]["seq"], items[-1]["seq"]
    payload = {
        "id": "%s:%d-%d" % (gateway_id, first, last),
        "mine_id": mine_id,
        "gateway_id": gateway_id,
        "zone": zone,
        "first_seq": first,
        "last_seq": last,
        "events": items,
    }
    return topic(mine_id, "events", gateway_id), payload, False


def state_from_status(gateway_id, status):
    """A gateway's STATUS reply (client.status()) as the zone state zone_state_msg takes."""
    return {
        "gateway_id": gateway_id,
        "seq": status["last_seq"],
        "time_s": status["now_s"],
        "count": status["occupants"],
        "cap": status["cap"],
        "lamp": status["lamp"],
        "relays": {"work": status["work_allowed"], "hot_work": status["hot_work_allowed"]},
        "gas": {
            "ok": status["gas_ok"],
            "ch4_ppm": status.get("ch4_ppm"),
            "co_ppm": status.get("co_ppm"),
        },
        "video": {"ok": status["video_ok"]},
        "evacuation": {"active": status["evacuating"], "drill": status["drill"]},
        "sealed": status["sealed"],
    }


def zone_state_msg(mine_id, zone, state):
    """Retained: the zone as its gateway last reported it. state: count, cap, lamp (0-3 or
    its name), relays {work, hot_work}, gas {ok, ch4_ppm, co_ppm}, video {ok},
    evacuation {active, drill}; optional gateway_id, seq, time_s, sealed."""
    segment(zone, "zone")
    if not isinstance(state, dict):
        raise ValueError("zone state must be a dict, got %r" % (state,))
    lamp = state.get("lamp")
    if type(lamp) is int and 0 <= lamp < len(LAMPS):
        lamp = LAMPS[lamp]
    if lamp not in LAMPS:
        raise ValueError("state.lamp must be 0-3 or one of %s, got %r" % (", ".join(LAMPS), lamp))
    relays = _dict(state, "relays", "state")
    gas = _dict(state, "gas", "state")
    video = _dict(state, "video", "state")
    evac = _dict(state, "evacuation", "state")
    payload = {
        "mine_id": mine_id,
        "zone": zone,
        "count": _int(state, "count", "state", 0),
        "cap": _int(state, "cap", "state", 0),
        "lamp": lamp,
        "relays": {
            "work": _bool(relays, "work", "state.relays"),
            "hot_work": _bool(relays, "hot_work", "state.relays"),
        },
        "gas": {
            "ok": _bool(gas, "ok", "state.gas"),
            "ch4_ppm": _opt_int(gas, "ch4_ppm", "state.gas"),
            "co_ppm": _opt_int(gas, "co_ppm", "state.gas"),
        },
        "video": {"ok": _bool(video, "ok", "state.video")},
        "evacuation": {
            "active": _bool(evac, "active", "state.evacuation"),
            "drill": _bool(evac, "drill", "state.evacuation"),
        },
    }
    if state.get("gateway_id") is not None:
        payload["gateway_id"] = segment(state["gateway_id"], "state.gateway_id")
    if state.get("seq") is not None:
        payload["seq"] = _int(state, "seq", "state", 0)
    if state.get("sealed") is not None:
        payload["sealed"] = _bool(state, "sealed", "state")
    payload["time_s"] = _time_s(state.get("time_s"), "state")
    return topic(mine_id, "zone", zone), payload, True


def headcount_msg(mine_id, underground, per_zone, time_s=None):
    """Retained: people underground by the shaft's count, and per zone by its gateway."""
    if type(underground) is not int or underground < 0:
        raise ValueError("underground must be a count >= 0, got %r" % (underground,))
    if not isinstance(per_zone, dict):
        raise ValueError("per_zone must be a dict zone -> count, got %r" % (per_zone,))
    zones = {}
    for zone, n in per_zone.items():
        segment(zone, "zone")
        if type(n) is not int or n < 0:
            raise ValueError("per_zone[%r] must be a count >= 0, got %r" % (zone, n))
        zones[zone] = n
    payload = {
        "mine_id": mine_id,
        "underground": underground,
        "zones": zones,
        "time_s": _time_s(time_s, "headcount"),
    }
    return topic(mine_id, "headcount"), payload, True


def alarm_msg(mine_id, alarm):
    """An alarm raised or cleared. alarm: alarm_id (serve's, the same in both messages),
    kind (e.g. "link_lost", "over_cap"), state "raised"/"cleared", time_s; optional zone,
    gateway_id, event ("<gateway>:<seq>" that raised it), text {"en", "zh"}, detail {}."""
    if not isinstance(alarm, dict):
        raise ValueError("alarm must be a dict, got %r" % (alarm,))
    alarm_id = alarm.get("alarm_id")
    if type(alarm_id) not in (int, str) or alarm_id == "":
        raise ValueError(
            "alarm.alarm_id must be an integer or a non-empty string, got %r" % (alarm_id,)
        )
    kind = segment(alarm.get("kind"), "alarm.kind")
    if alarm.get("state") not in ALARM_STATES:
        raise ValueError("alarm.state must be raised or cleared, got %r" % (alarm.get("state"),))
    payload = {
        "mine_id": mine_id,
        "alarm_id": alarm_id,
        "kind": kind,
        "state": alarm["state"],
        "time_s": _time_s(alarm.get("time_s"), "alarm"),
    }
    for key in ("zone", "gateway_id"):
        if alarm.get(key) is not None:
            payload[key] = segment(alarm[key], "alarm." + key)
    if alarm.get("event") is not None:
        if not isinstance(alarm["event"], str):
            raise ValueError("alarm.event must be '<gateway>:<seq>', got %r" % (alarm["event"],))
        payload["event"] = alarm["event"]
    if alarm.get("text") is not None:
        text = alarm["text"]
        if (
            not isinstance(text, dict)
            or set(text) != {"en", "zh"}
            or not all(isinstance(v, str) and v for v in text.values())
        ):
            raise ValueError("alarm.text must be {'en': ..., 'zh': ...}, got %r" % (text,))
        payload["text"] = dict(text)
    if alarm.get("detail") is not None:
        if not isinstance(alarm["detail"], dict):
            raise ValueError("alarm.detail must be an object, got %r" % (alarm["detail"],))
        payload["detail"] = alarm["detail"]
    return topic(mine_id, "alarm", kind), payload, False


def link_msg(mine_id, gateway_id, up, detail, time_s=None):
    """Retained: whether serve hears the gateway (R-DATA-1), with why in a few words."""
    segment(gateway_id, "gateway id")
    if type(up) is not bool:
        raise ValueError("up must be true or false, got %r" % (up,))
    if not isinstance(detail, str):
        raise ValueError("detail must be a string, got %r" % (detail,))
    payload = {
        "mine_id": mine_id,
        "gateway_id": gateway_id,
        "up": up,
        "detail": detail,
        "time_s": _time_s(time_s, "link"),
    }
    return topic(mine_id, "link", gateway_id), payload, True


def presence_msg(mine_id, client_id, online):
    """Retained: serve's own presence; the offline one is also its last will."""
    payload = {
        "mine_id": mine_id,
        "client_id": client_id,
        "state": "online" if online else "offline",
    }
    return topic(mine_id, "presence", segment(client_id, "client id")), payload, True


def schema_name(topic_name):
    """Which JSON Schema a message on this topic follows (None: not one of ours)."""
    levels = topic_name.split("/")
    if len(levels) >= 3 and levels[0] == ROOT and levels[2] in SCHEMA_NAMES:
        return levels[2]
    return None


def load_schema(name):
    return json.loads((SCHEMA_DIR / ("%s.schema.json" % name)).read_text(encoding="utf-8"))


def schema_registry():
    """Every schema by its $id, for a validator to follow a $ref (events -> event)."""
    from referencing import Registry, Resource

    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema))
        for schema in (load_schema(name) for name in SCHEMA_NAMES)
    )
