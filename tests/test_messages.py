# micropython-test
# gatewire.messages under CPython and MicroPython: every message type round-trips through
# gatewire.cbor, every rejection is a ProtocolError naming the field, and nothing else is
# ever raised on decoded input (garbage on the link must never crash the gateway).
from hostcalls import in_parts
from mpcheck import raises

from gatewire import cbor, frame
from gatewire import messages as m
from gatewire.errors import (
    E_BAD_ENVELOPE,
    E_BAD_FIELD,
    E_UNKNOWN_TYPE,
    E_VERSION,
    ProtocolError,
)

DIGEST = bytes(range(16))
EV1 = {"seq": 41, "time_s": 1700000000, "kind": 1, "tag": 77, "a": 1001, "b": 3, "digest": DIGEST}
EV2 = {"seq": 42, "time_s": 1700000009, "kind": 60, "tag": 0, "a": -71, "b": 0, "digest": DIGEST}
PERMIT = {
    "permit_id": 9,
    "job_id": 20240113,
    "measure_ref": "动火措施 第12号",
    "start_s": 1700000000,
    "end_s": 1700007200,
    "workers": [1001, 1002],
    "fire_watcher": 1003,
    "flags": m.PERMIT_HOT_WORK | m.PERMIT_KEY_MAINTENANCE,
}

# One valid request body and one valid reply body for every request type.
REQUESTS = {
    "hello": {"min_version": 1, "max_version": 3, "host_id": "dispatch-1"},
    "status": {},
    "occupants": {"start": 0, "max_count": 200},
    "events-since": {"from_seq": 41, "max_count": 50},
    "ack": {"up_to_seq": 42},
    "config-get": {"keys": ["ch4_stop_ppm", "shifts"]},
    "config-set": {"changes": {"ch4_stop_ppm": 9000, "zone_id": "F-1201", "restricted": True}},
    "roster-load": {
        "load_id": 5,
        "total": 202,
        "part": 1,
        "parts": 3,
        "entries": [[77, 1001, 2, 1735689600, 12], [78, 1002, 1, 0, 12]],
    },
    "permit-issue": PERMIT,
    "permit-revoke": {"permit_id": 9},
    "permit-list": {"start": 0},
    "evacuate": {"reason": 1, "drill": False},
    "all-clear": {},
    "cap-override": {"cap": 8, "expiry_s": 1700010000, "reason": "roof repair, R-CAP-9"},
    "cap-override-clear": {"reason": "roof repair done"},
    "recount": {"found": 9, "was": 10, "counted_by": 1012, "by": 1012},
    "seal": {"reason": "worked out"},
    "unseal": {},
    "time-set": {"time_s": 1700000000},
}
REPLIES = {
    "hello": {
        "version": 1,
        "gateway_id": "gw-F1201-in",
        "role": "face",
        "zone_id": "F-1201",
        "zone_kind": "coal_face",
        "firmware": "0.1.0",
        "boot_count": 12,
        "last_seq": 42,
        "now_s": 0,
        "board": "rp2-pico",
    },
    "status": {
        "now_s": 1700000000,
        "uptime_s": 3600,
        "occupants": 11,
        "cap": 25,
        "shift": 1,
        "lamp": 1,
        "work_allowed": True,
        "hot_work_allowed": False,
        "sealed": False,
        "evacuating": False,
        "drill": False,
        "video_ok": True,
        "gas_ok": True,
        "override_active": False,
        "ch4_ppm": 2500,
        "last_seq": 42,
        "unacked": 2,
        "permits_active": 1,
    },
    "occupants": {
        "total": 2,
        "start": 0,
        "occupants": [[77, 1001, 1700000000], [79, 0, 1700000100]],
    },
    "events-since": {"events": [EV1, EV2], "last_seq": 42},
    "ack": {"unacked": 0},
    "config-get": {
        "settings": {"ch4_stop_ppm": 10000, "shifts": [[0, 0], [480, 1]], "zone_id": "F"}
    },
    "config-set": {},
    "roster-load": {"received": 2, "complete": False},
    "permit-issue": {},
    "permit-revoke": {},
    "permit-list": {"total": 1, "permits": [PERMIT]},
    "evacuate": {},
    "all-clear": {},
    "cap-override": {},
    "cap-override-clear": {},
    "recount": {"before": 10, "after": 9},
    "seal": {},
    "unseal": {},
    "time-set": {},
}
READ_ONLY = ("hello", "status", "occupants", "events-since", "config-get", "permit-list")
STATE_CHANGING = (
    "config-set",
    "roster-load",
    "permit-issue",
    "permit-revoke",
    "evacuate",
    "all-clear",
    "cap-override",
    "cap-override-clear",
    "recount",
    "seal",
    "unseal",
    "time-set",
    "ack",
)


def wire(envelope):
    # what the other end gets: encoded, framed and decoded
    data = cbor.dumps(envelope)
    return cbor.loads(frame.Decoder().feed(frame.encode(data))[0])


def refused(code, fn, *args, **kwargs):
    e = raises(ProtocolError, fn, *args, **kwargs)
    assert e.code == code, (e.code, e.text)
    return e


def bad_request(type_code, body, field, *words):
    e = refused(E_BAD_FIELD, m.parse, {0: type_code, 1: 3, 2: body}, "request")
    assert e.field == field, (e.field, field, e.text)
    assert e.text.startswith("field '%s': " % field), e.text
    for w in words:
        assert w in e.text, (w, e.text)
    return e


def request_types():
    return [c for c in m.CATALOGUE if m.message_class(c[0]) == "request"]


# ---- the catalogue itself ----


def test_codes_are_unique_and_in_their_ranges():
    codes = [c[0] for c in m.CATALOGUE]
    names = [c[1] for c in m.CATALOGUE]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)
    for code, name, _, _ in m.CATALOGUE:
        assert m.message_class(code) in ("request", "reply", "event"), code
        assert m.code_of(name) == code
        assert m.name_of(code) == name
    assert m.message_class(m.OK) == "reply" and m.message_class(m.ERROR) == "reply"
    assert m.message_class(m.EVENT) == "event"
    assert m.message_class(0) is None and m.message_class(128) is None
    assert m.message_class(True) is None


def _check_spec(spec):
    kind = spec[0]
    if kind == m.T_INT:
        assert type(spec[1]) is int and type(spec[2]) is int and spec[1] <= spec[2]
        # nothing unbounded reaches the board: every int fits 64 bits
        assert spec[1] >= -(2**63) and spec[2] < 2**64
    elif kind in (m.T_STR, m.T_BYTES):
        assert 0 <= spec[1] <= spec[2] <= 160
    elif kind in (m.T_LIST, m.T_DICT):
        assert 0 <= spec[1] <= spec[2] <= 200
        _check_spec(spec[3])
        if kind == m.T_DICT:
            _check_spec(spec[4])
    elif kind == m.T_TUPLE:
        for _, s in spec[1]:
            _check_spec(s)
    elif kind == m.T_MAP:
        _check_fields(spec[1])
    elif kind == m.T_EITHER:
        for s in spec[1]:
            _check_spec(s)
    else:
        assert kind in (m.T_BOOL, m.T_ENUM), kind


def _check_fields(fields):
    keys = [f[0] for f in fields]
    names = [f[1] for f in fields]
    assert len(set(keys)) == len(keys) and len(set(names)) == len(names), names
    for key, name, required, spec in fields:
        assert 0 <= key <= 23, key  # one-byte CBOR keys
        assert type(name) is str and 0 < len(name) <= 32
        assert required is True or required is False
        _check_spec(spec)


def test_every_schema_is_well_formed_and_bounded():
    for code, _, _, fields in m.CATALOGUE:
        _check_fields(fields)
        if m.message_class(code) == "request":
            _check_fields(m.reply_spec(code)[1])


def test_catalogue_has_the_commands_the_brief_names():
    want = [
        "hello",
        "status",
        "occupants",
        "events-since",
        "ack",
        "config-get",
        "config-set",
        "roster-load",
        "permit-issue",
        "permit-revoke",
        "permit-list",
        "evacuate",
        "all-clear",
        "cap-override",
        "cap-override-clear",
        "recount",
        "seal",
        "unseal",
        "time-set",
        "ok",
        "error",
        "event",
    ]
    assert sorted(want) == sorted([c[1] for c in m.CATALOGUE])


def test_mutating_set_is_exactly_the_state_changing_commands():
    assert sorted(m.MUTATING) == sorted([m.code_of(n) for n in STATE_CHANGING])
    for name in STATE_CHANGING:
        assert m.is_mutating(m.code_of(name)), name
    for name in READ_ONLY:
        assert not m.is_mutating(m.code_of(name)), name
    for code in (m.OK, m.ERROR, m.EVENT, 0, 99, -1, None, "ack"):
        assert not m.is_mutating(code)
    # every request is classified one way or the other
    assert sorted(READ_ONLY + STATE_CHANGING) == sorted([c[1] for c in request_types()])


# ---- round trips ----


def test_samples_cover_every_request_and_reply():
    names = sorted([c[1] for c in request_types()])
    assert sorted(REQUESTS) == names
    assert sorted(REPLIES) == names


@in_parts
def test_every_request_round_trips():
    # a part per message (tests/hostcalls.py): each builds and parses its own envelope
    req_id = 1
    for name in REQUESTS:
        fields = REQUESTS[name]
        env = m.request(name, req_id, **fields)
        assert env[0] == m.code_of(name) and env[1] == req_id
        code, got_id, body = m.parse(wire(env), "request")
        assert (code, got_id) == (m.code_of(name), req_id), name
        assert body == fields, (name, body)
        assert m.parse_envelope(wire(env)) == (code, req_id)
        assert m.request_body(wire(env), code) == fields, name  # the gateway's way
        req_id += 1
        yield


@in_parts
def test_every_reply_round_trips():
    for name in REPLIES:
        fields = REPLIES[name]
        env = m.reply(name, 0xFFFFFFFF, **fields)
        assert env[0] == m.OK
        # answers= by name and by code
        for answers in (name, m.code_of(name)):
            code, req_id, body = m.parse(wire(env), "reply", answers=answers)
            assert (code, req_id) == (m.OK, 0xFFFFFFFF)
            assert body == fields, (name, body)
        yield


def test_error_reply_round_trips():
    env = m.error_reply(7, E_BAD_FIELD, "field 'start_s': expected int", "start_s")
    code, req_id, body = m.parse(wire(env), "reply", answers="permit-issue")
    assert (code, req_id) == (m.ERROR, 7)
    assert body == {
        "code": E_BAD_FIELD,
        "text": "field 'start_s': expected int",
        "field": "start_s",
    }
    env = m.error_reply(0, E_BAD_ENVELOPE, "envelope must be a map")
    code, req_id, body = m.parse(wire(env), "reply", answers="status")
    assert (code, req_id) == (m.ERROR, 0)
    assert body == {"code": E_BAD_ENVELOPE, "text": "envelope must be a map"}


def test_error_reply_clips_long_text_without_splitting_a_character():
    env = m.error_reply(3, E_BAD_FIELD, "瓦" * 100, "f" * 80)
    body = m.parse(wire(env), "reply", answers="status")[2]
    text = body["text"]
    assert len(text.encode("utf-8")) <= m.ERROR_TEXT_MAX
    assert text.endswith("...") and text[:-3] == "瓦" * len(text[:-3])
    assert body["field"] == "f" * (m.ERROR_FIELD_MAX - 3) + "..."
    # short text is left alone; a non-str text is shown, not refused
    assert m.error_reply(3, 2, "ok")[2] == {0: 2, 1: "ok"}
    assert m.error_reply(3, 2, 17)[2][1] == "17"


def test_event_round_trips():
    env = m.event(41, 1700000000, 1, 77, 1001, 3, DIGEST)
    assert env == {
        0: m.EVENT,
        1: 0,
        2: {0: 41, 1: 1700000000, 2: 1, 3: 77, 4: 1001, 5: 3, 6: DIGEST},
    }
    assert m.parse(wire(env), "event") == (m.EVENT, 0, EV1)
    # a and b are what the event log stores: int32
    m.event(1, 0, 1, 0, -(2**31), 2**31 - 1, DIGEST)
    e = refused(E_BAD_FIELD, m.event, 1, 0, 1, 0, 0, 2**31, DIGEST)
    assert e.field == "b"
    e = refused(E_BAD_FIELD, m.event, 1, 0, 1, 0, -(2**31) - 1, 0, DIGEST)
    assert e.field == "a"
    # seq and kind start at 1
    assert refused(E_BAD_FIELD, m.event, 0, 0, 1, 0, 0, 0, DIGEST).field == "seq"
    assert refused(E_BAD_FIELD, m.event, 1, 0, 0, 0, 0, 0, DIGEST).field == "kind"
    e = refused(E_BAD_FIELD, m.event, 1, 0, 1, 0, 0, 0, DIGEST[:15])
    assert e.field == "digest" and "got 15 bytes" in e.text


def test_empty_body_may_be_left_out():
    assert m.parse({0: m.STATUS, 1: 4}) == (m.STATUS, 4, {})
    assert m.parse({0: m.OK, 1: 4}, "reply", answers="seal") == (m.OK, 4, {})
    e = refused(E_BAD_FIELD, m.parse, {0: m.TIME_SET, 1: 4})
    assert e.field == "time_s" and "required" in e.text


def test_none_leaves_an_optional_field_out():
    env = m.request("seal", 2, reason=None)
    assert env[2] == {}
    e = refused(E_BAD_FIELD, m.request, "time-set", 2, time_s=None)
    assert e.field == "time_s"


def test_tuples_are_accepted_when_building():
    env = m.request("permit-issue", 2, **dict(PERMIT, workers=(1001, 1002)))
    assert m.parse(wire(env))[2] == PERMIT


# ---- forward compatibility ----


def test_unknown_body_fields_and_envelope_keys_are_ignored():
    body = {0: 41, 1: 10, 2: "future", 23: [1, 2], "note": {"x": 1}, b"k": None, -1: 0}
    env = {0: m.EVENTS_SINCE, 1: 9, 2: body, 5: "future envelope key", "x": 1, 3: 17, 4: b"t"}
    assert m.parse(wire(env)) == (m.EVENTS_SINCE, 9, {"from_seq": 41, "max_count": 10})
    # in nested maps too
    ev = dict(m.event(1, 2, 3, 4, 5, 6, DIGEST)[2])
    ev[7] = "future"
    body = {0: [ev], 1: 1}
    got = m.parse({0: m.OK, 1: 9, 2: body}, "reply", answers="events-since")[2]
    assert got["events"][0] == {
        "seq": 1,
        "time_s": 2,
        "kind": 3,
        "tag": 4,
        "a": 5,
        "b": 6,
        "digest": DIGEST,
    }
    # and extra elements of a positional entry
    body = {0: 1, 1: 0, 2: 1, 3: [[77, 1001, 2, 0, 12, "future"]], 4: 1}
    got = m.parse({0: m.ROSTER_LOAD, 1: 9, 2: body})[2]
    assert got["entries"] == [[77, 1001, 2, 0, 12]]


def test_a_true_key_is_not_key_1():
    # CBOR true == 1 as a Python dict key, but it is not the wire key 1
    e = refused(E_BAD_FIELD, m.parse, {0: m.EVENTS_SINCE, 1: 9, 2: {0: 4, True: 10}})
    assert e.field == "max_count" and "missing" in e.text
    e = refused(E_BAD_ENVELOPE, m.parse, {False: m.STATUS, 1: 9})
    assert e.field == "type"
    e = refused(E_BAD_ENVELOPE, m.parse, {0: m.STATUS, True: 9})
    assert e.field == "id"


# ---- unknown types and envelopes ----


def test_unknown_type_is_refused_as_unknown_type():
    for code in (0, 20, 63, 66, 95, 97, 127, 128, 1000, 2**40):
        e = refused(E_UNKNOWN_TYPE, m.parse, {0: code, 1: 1, 2: {}}, "request")
        assert e.field == "type" and ("%d" % code) in e.text
    e = refused(E_UNKNOWN_TYPE, m.request, "launch", 1)
    assert e.field == "type" and "launch" in e.text
    for name in ("ok", "error", "event"):
        refused(E_UNKNOWN_TYPE, m.request, name, 1)
    refused(E_UNKNOWN_TYPE, m.reply, "ok", 1)
    refused(E_UNKNOWN_TYPE, m.parse, {0: m.OK, 1: 1}, "reply", answers="event")


def test_a_message_of_the_wrong_class_is_unknown_here():
    # a gateway takes requests only; a host takes replies and events
    e = refused(E_UNKNOWN_TYPE, m.parse, m.reply("ack", 1, unacked=0), "request")
    assert e.field == "type" and "reply" in e.text
    refused(E_UNKNOWN_TYPE, m.parse, m.event(1, 2, 3, 4, 5, 6, DIGEST), "request")
    refused(E_UNKNOWN_TYPE, m.parse, m.request("status", 1), "reply", answers="status")
    refused(E_UNKNOWN_TYPE, m.parse, m.request("status", 1), "event")
    refused(E_UNKNOWN_TYPE, m.parse, m.error_reply(1, 2, "x"), "event")


def test_bad_envelopes_are_refused_as_bad_envelope():
    cases = (
        ([0, 1, {}], "envelope"),
        (5, "envelope"),
        (None, "envelope"),
        (b"\xa0", "envelope"),
        ("status", "envelope"),
        ({1: 1, 2: {}}, "type"),
        ({0: -1, 1: 1}, "type"),
        ({0: "status", 1: 1}, "type"),
        ({0: True, 1: 1}, "type"),
        ({0: 2.0, 1: 1}, "type"),
        ({0: None, 1: 1}, "type"),
        ({0: m.STATUS, 2: {}}, "id"),
        ({0: m.STATUS, 1: -1}, "id"),
        ({0: m.STATUS, 1: 2**32}, "id"),
        ({0: m.STATUS, 1: "1"}, "id"),
        ({0: m.STATUS, 1: True}, "id"),
        ({0: m.STATUS, 1: 1.0}, "id"),
        ({0: m.STATUS, 1: None}, "id"),
        ({0: m.STATUS, 1: 1, 2: [1]}, "body"),
        ({0: m.STATUS, 1: 1, 2: None}, "body"),
        ({0: m.STATUS, 1: 1, 2: b""}, "body"),
        ({0: m.STATUS, 1: 0}, "id"),  # 0 is reserved for events and unreadable ids
    )
    for obj, field in cases:
        e = refused(E_BAD_ENVELOPE, m.parse, obj, "request")
        assert e.field == field, (obj, e.field, e.text)
    for obj, field in cases[:-1]:
        e = refused(E_BAD_ENVELOPE, m.parse_envelope, obj)
        assert e.field == field, (obj, e.field)
    # an event has id 0; a reply to a readable request has a real one, an error may be 0
    env = m.event(1, 2, 3, 4, 5, 6, DIGEST)
    env[1] = 5
    assert refused(E_BAD_ENVELOPE, m.parse, env, "event").field == "id"
    env = m.reply("ack", 1, unacked=0)
    env[1] = 0
    assert refused(E_BAD_ENVELOPE, m.parse, env, "reply", answers="ack").field == "id"
    assert m.parse_envelope({0: m.ERROR, 1: 0}) == (m.ERROR, 0)


def test_request_body_refuses_what_parse_refuses_after_the_envelope_was_read():
    # The gateway reads the envelope once (parse_envelope), then the body: whatever
    # parse refuses past the envelope's type is refused the same way.
    for obj, field in (
        ({0: m.STATUS, 1: 1, 2: [1]}, "body"),
        ({0: m.STATUS, 1: 1, 2: None}, "body"),
        ({0: m.STATUS, 1: 0}, "id"),
    ):
        e = refused(E_BAD_ENVELOPE, m.request_body, obj, m.STATUS)
        assert e.field == field and e.text == refused(E_BAD_ENVELOPE, m.parse, obj).text
    for obj in ({0: 9999, 1: 1}, {0: m.OK, 1: 1, 2: {0: 1}}):  # no request: said so
        e = refused(E_UNKNOWN_TYPE, m.request_body, obj, m.parse_envelope(obj)[0])
        assert e.field == refused(E_UNKNOWN_TYPE, m.parse, obj).field == "type"
    for body in ({}, {0: -1}):
        obj = {0: m.code_of("ack"), 1: 1, 2: body}
        e = refused(E_BAD_FIELD, m.request_body, obj, m.parse_envelope(obj)[0])
        want = refused(E_BAD_FIELD, m.parse, obj)
        assert (e.field, e.text) == (want.field, want.text)
    assert m.request_body({0: m.STATUS, 1: 7}, m.STATUS) == {}  # a left-out body


def test_request_body_reads_no_envelope_again():
    # Under MicroPython: parse() makes the envelope's tuples again (64 B here); the body
    # by name is all request_body() makes. CPython: nothing measured.
    import gc

    if not hasattr(gc, "mem_alloc"):
        return
    obj = wire(m.request("ack", 5, up_to_seq=600))
    code = m.parse_envelope(obj)[0]

    def alloc(fn, *args):
        fn(*args)
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for _ in range(10):
            fn(*args)
        used = (gc.mem_alloc() - before) // 10
        gc.enable()
        return used

    body = alloc(m.request_body, obj, code)
    assert body <= alloc(m.parse, obj) - 48, (body, alloc(m.parse, obj))
    assert body <= alloc(lambda: {"up_to_seq": 600}) + 16, body


def test_building_with_a_bad_id_is_refused():
    for req_id in (0, -1, 2**32, "1", True, None):
        assert refused(E_BAD_ENVELOPE, m.request, "status", req_id).field == "id"
        assert refused(E_BAD_ENVELOPE, m.reply, "status", req_id, **REPLIES["status"]).field == "id"
    assert m.error_reply(0, 9, "x")[1] == 0
    assert refused(E_BAD_ENVELOPE, m.error_reply, -1, 9, "x").field == "id"


def test_parse_argument_mistakes_are_caller_bugs():
    raises(ValueError, m.parse, {0: 2, 1: 1}, "command")
    e = raises(ValueError, m.parse, {0: m.OK, 1: 1}, "reply")
    assert not isinstance(e, ProtocolError)


# ---- field rejections: each names the field ----


def test_missing_required_field():
    bad_request(m.ACK, {}, "up_to_seq", "required", "missing")
    body = m.request("permit-issue", 1, **PERMIT)[2]
    del body[6]
    bad_request(m.PERMIT_ISSUE, body, "fire_watcher", "missing")


def test_int_type_and_range():
    start = m.request("permit-issue", 1, **PERMIT)[2]
    for value, words in (
        ("1700000000", ("expected int in 0..4294967295", "got str")),
        (1.5, ("got float",)),
        (True, ("got true",)),
        (None, ("got null",)),
        (-1, ("got -1",)),
        (2**32, ("got 4294967296",)),
        (2**70, ("got %d" % 2**70,)),
        ([1], ("got list",)),
        ({}, ("got map",)),
        (b"\x01", ("got bytes",)),
    ):
        body = dict(start)
        body[3] = value
        bad_request(m.PERMIT_ISSUE, body, "start_s", *words)
    bad_request(m.EVENTS_SINCE, {0: 1, 1: 51}, "max_count", "1..50", "got 51")
    bad_request(m.EVENTS_SINCE, {0: 1, 1: 0}, "max_count", "got 0")
    bad_request(m.TIME_SET, {0: 0}, "time_s", "%d.." % m.TIME_SET_MIN)


def test_bool_is_not_an_int_and_an_int_is_not_a_bool():
    bad_request(m.EVACUATE, {0: 1, 1: 1}, "drill", "expected bool", "got int 1")
    bad_request(m.EVACUATE, {0: False, 1: False}, "reason", "got false")


def test_str_bounds_count_utf8_bytes():
    def hello(host_id):
        return {0: 1, 1: 1, 2: host_id}

    m.parse({0: m.HELLO, 1: 1, 2: hello("h" * 32)})
    m.parse({0: m.HELLO, 1: 1, 2: hello("瓦" * 10)})
    bad_request(m.HELLO, hello("h" * 33), "host_id", "1..32 UTF-8 bytes", "got 33 bytes")
    bad_request(m.HELLO, hello(""), "host_id", "got 0 bytes")
    # eleven characters, 33 bytes: too long for a 32-byte record field
    bad_request(m.HELLO, hello("瓦" * 11), "host_id", "got 33 bytes")
    bad_request(m.HELLO, hello(b"host"), "host_id", "got bytes")


def test_enum():
    env = m.reply("hello", 1, **REPLIES["hello"])
    env[2][2] = "zone"
    e = refused(E_BAD_FIELD, m.parse, env, "reply", answers="hello")
    assert e.field == "role" and "'shaft', 'face'" in e.text and "'zone'" in e.text
    env[2][2] = "x" * 500
    e = refused(E_BAD_FIELD, m.parse, env, "reply", answers="hello")
    assert e.field == "role" and len(e.text) < 100


def test_list_bounds_and_elements():
    base = m.request("permit-issue", 1, **PERMIT)[2]
    for workers, field, word in (
        ([], "workers", "got 0 elements"),
        (list(range(1, 18)), "workers", "got 17 elements"),
        ([1001, 1002, 0], "workers[2]", "got 0"),
        ([1001, "1002"], "workers[1]", "got str"),
        ({0: 1}, "workers", "got map"),
        ("1001", "workers", "got str"),
    ):
        body = dict(base)
        body[5] = workers
        bad_request(m.PERMIT_ISSUE, body, field, word)


def test_positional_entries_name_the_element():
    def roster(entries):
        return {0: 1, 1: 0, 2: 1, 3: entries, 4: len(entries)}

    good = [77, 1001, 2, 0, 12]
    bad_request(
        m.ROSTER_LOAD, roster([good, [77, 1001, 2, -5, 12]]), "entries[1].cert_expiry_s", "got -5"
    )
    bad_request(m.ROSTER_LOAD, roster([[77, 1001, 256, 0, 12]]), "entries[0].role_code", "0..255")
    # ids stay small ints on the board: 1..2**30-1
    m.parse({0: m.ROSTER_LOAD, 1: 1, 2: roster([[2**30 - 1, 2**30 - 1, 2, 0, 12]])})
    bad_request(
        m.ROSTER_LOAD, roster([[2**30, 1001, 2, 0, 12]]), "entries[0].tag_id", "1..1073741823"
    )
    bad_request(m.ROSTER_LOAD, roster([good, good, [77, 1001]]), "entries[2]", "got 2 elements")
    bad_request(m.ROSTER_LOAD, roster([good, {0: 77}]), "entries[1]", "roster entry", "got map")
    bad_request(m.ROSTER_LOAD, roster([good] * 101), "entries", "0..100", "got 101 elements")
    m.parse({0: m.ROSTER_LOAD, 1: 1, 2: roster([good] * 100)})


def test_nested_maps_name_the_path():
    body = {0: [m.event(1, 2, 3, 4, 5, 6, DIGEST)[2], {0: 2, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6}], 1: 2}
    e = refused(E_BAD_FIELD, m.parse, {0: m.OK, 1: 1, 2: body}, "reply", answers="events-since")
    assert e.field == "events[1].digest" and "missing" in e.text
    permit = m.request("permit-issue", 1, **PERMIT)[2]
    permit[7] = 0
    body = {0: 1, 1: [permit]}
    e = refused(E_BAD_FIELD, m.parse, {0: m.OK, 1: 1, 2: body}, "reply", answers="permit-list")
    assert e.field == "permits[0].flags"


def test_orders_between_fields():
    base = m.request("permit-issue", 1, **PERMIT)[2]
    body = dict(base)
    body[4] = body[3]
    bad_request(m.PERMIT_ISSUE, body, "end_s", "above start_s")
    bad_request(m.ROSTER_LOAD, {0: 1, 1: 3, 2: 3, 3: [], 4: 0}, "parts", "above part")
    bad_request(m.HELLO, {0: 2, 1: 1}, "max_version", "at least min_version")
    m.parse({0: m.HELLO, 1: 1, 2: {0: 2, 1: 2}})
    # and on the building side
    e = refused(
        E_BAD_FIELD, m.request, "permit-issue", 1, **dict(PERMIT, end_s=PERMIT["start_s"] - 1)
    )
    assert e.field == "end_s"


def test_permit_flags_refuse_unknown_bits():
    base = m.request("permit-issue", 1, **PERMIT)[2]
    for flags in (0, 8, 255):
        body = dict(base)
        body[7] = flags
        bad_request(m.PERMIT_ISSUE, body, "flags", "1..7")


def test_settings_maps():
    bad_request(m.CONFIG_SET, {0: {}}, "changes", "got 0 entries")
    bad_request(m.CONFIG_SET, {0: {5: 1}}, "changes", "key: expected str")
    bad_request(m.CONFIG_SET, {0: {"": 1}}, "changes", "key: ")
    bad_request(m.CONFIG_SET, {0: {"ch4_stop_ppm": 1.0}}, "changes.ch4_stop_ppm", "got float")
    bad_request(m.CONFIG_SET, {0: {"shifts": [[0, 0], {}]}}, "changes.shifts", "got list")
    bad_request(m.CONFIG_SET, {0: {"admit_people": list(range(65))}}, "changes.admit_people")
    bad_request(m.CONFIG_SET, {0: {"x": None}}, "changes.x", "got null")


def test_every_setting_the_gateway_knows_fits_the_config_messages():
    from gateway import config

    settings = config.defaults()
    env = m.reply("config-get", 1, settings=settings)
    assert m.parse(wire(env), "reply", answers="config-get")[2] == {"settings": settings}
    env = m.request("config-set", 1, changes=settings)
    assert m.parse(wire(env))[2] == {"changes": settings}


def test_building_refuses_unknown_and_malformed_fields():
    e = refused(E_BAD_FIELD, m.request, "ack", 1, up_to_seq=3, colour="red")
    assert e.field == "colour" and "no such field" in e.text
    e = refused(E_BAD_FIELD, m.reply, "events-since", 1, events=[dict(EV1, extra=1)], last_seq=1)
    assert e.field == "events[0].extra"
    e = refused(E_BAD_FIELD, m.reply, "events-since", 1, events=[EV1, 5], last_seq=1)
    assert e.field == "events[1]" and "got int 5" in e.text
    e = refused(E_BAD_FIELD, m.request, "ack", 1, up_to_seq="3")
    assert e.field == "up_to_seq"


# ---- version ----


def test_version_agreement():
    assert m.PROTOCOL_VERSION == 1
    assert m.agree_version(1, 1) == 1
    assert m.agree_version(1, 9) == 1
    e = refused(E_VERSION, m.agree_version, 2, 3)
    assert e.field == "min_version" and "2..3" in e.text


# ---- sizes ----


def _longest(specs):
    best = None
    for s in specs:
        v = worst(s)
        if best is None or len(cbor.dumps(v)) > len(cbor.dumps(best)):
            best = v
    return best


def worst(spec):
    # The value of spec that encodes longest (four-byte characters for text).
    kind = spec[0]
    if kind == m.T_INT:
        return spec[2] if spec[2] >= -1 - spec[1] else spec[1]
    if kind == m.T_BOOL:
        return False
    if kind == m.T_STR:
        n = spec[2]
        return "\U0001f525" * (n // 4) + "x" * (n % 4)
    if kind == m.T_BYTES:
        return b"\xff" * spec[2]
    if kind == m.T_ENUM:
        return max(spec[1], key=len)
    if kind == m.T_LIST:
        return [worst(spec[3])] * spec[2]
    if kind == m.T_TUPLE:
        return [worst(s) for _, s in spec[1]]
    if kind == m.T_MAP:
        out = {}
        keys = {}
        for f in spec[1]:
            out[f[0]] = worst(f[3])
            keys[f[1]] = f[0]
        for lo, hi, strict in spec[2]:
            top = out[keys[hi]] - (1 if strict else 0)
            if out[keys[lo]] > top:
                out[keys[lo]] = top
        return out
    if kind == m.T_DICT:
        return {"k" * spec[3][2]: worst(spec[4])}
    assert kind == m.T_EITHER, kind
    return _longest(spec[1])


def _has_settings(spec):
    return any(f[3][0] == m.T_DICT for f in spec[1])


def test_worst_case_messages_fit_one_signed_frame():
    # Settings maps are bounded by the frame, not the schema: the gateway's own
    # configuration is checked above. Everything else fits at its limits, with the
    # largest auth counter and tag added.
    auth_overhead = len(cbor.dumps({3: 2**64 - 1, 4: bytes(16)})) - 1
    largest = 0
    for code, name, _, _ in m.CATALOGUE:
        specs = [m.body_spec(code)]
        if m.message_class(code) == "request":
            specs.append(m.reply_spec(code))
        for spec in specs:
            if _has_settings(spec):
                continue
            env = {0: code, 1: 2**32 - 1, 2: worst(spec)}
            n = len(cbor.dumps(env)) + auth_overhead
            assert n <= frame.MAX_PAYLOAD, (name, n)
            largest = max(largest, n)
    assert largest > 3000  # the lists really were filled to their limits


# ---- nothing but ProtocolError on decoded input ----

JUNK = (
    None,
    True,
    False,
    0,
    -1,
    2**64 - 1,
    -(2**64),
    1.5,
    float("nan"),
    "",
    "x" * 300,
    b"",
    b"\x00" * 300,
    [],
    [None, [[]]],
    {},
    {0: {0: {}}},
    {"a": 1, b"b": 2, 3: [4]},
    list(range(300)),
)


def spots(spec, value, path=""):
    # Every place in a value of spec (a body at the top): (replace(new) -> copy, path).
    # Lists are entered at their first element, settings at their first entry.
    kind = spec[0]
    if kind == m.T_MAP:
        for f in spec[1]:
            if f[0] not in value:
                continue  # an optional field left out
            sub_path = f[1] if not path else path + "." + f[1]
            for put, p in _inner(f[3], value[f[0]], sub_path):
                yield _replacer(value, f[0], put), p
    elif kind == m.T_LIST and value:
        for put, p in _inner(spec[3], value[0], path + "[0]"):
            yield _replacer(value, 0, put), p
    elif kind == m.T_TUPLE:
        for i in range(len(spec[1])):
            name, s = spec[1][i]
            for put, p in _inner(s, value[i], path + "." + name):
                yield _replacer(value, i, put), p
    elif kind == m.T_DICT:
        for k in value:
            for put, p in _inner(spec[4], value[k], path + "." + k):
                yield _replacer(value, k, put), p


def _inner(spec, value, path):
    yield (lambda new: new), path
    yield from spots(spec, value, path)


def _replacer(container, key, put):
    def replace(new):
        c = dict(container) if type(container) is dict else list(container)
        c[key] = put(new)
        return c

    return replace


@in_parts
def test_junk_anywhere_raises_only_protocol_error_naming_the_spot():
    # More than 2,000 parses with their errors: a part per spot (tests/hostcalls.py).
    tried = 0
    for code, name, _, _ in m.CATALOGUE:
        cls = m.message_class(code)
        answers = [None]
        if code == m.OK:
            answers = [c[1] for c in request_types()]
        elif cls == "reply":
            answers = ["status"]
        for ans in answers:
            spec = m.body_spec(code) if code != m.OK else m.reply_spec(ans)
            body = worst(spec)
            req_id = 0 if cls == "event" else 1
            m.parse({0: code, 1: req_id, 2: body}, cls, answers=ans)  # valid before the junk
            for put, path in spots(spec, body):
                for junk in JUNK:
                    env = {0: code, 1: req_id, 2: put(junk)}
                    try:
                        m.parse(env, cls, answers=ans)
                    except ProtocolError as e:
                        assert e.code == E_BAD_FIELD, (name, path, e.text)
                        field = e.field
                        assert field == path or field[: len(path) + 1] in (
                            path + "[",
                            path + ".",
                        ), (
                            path,
                            field,
                        )
                    tried += 1
                yield
    for junk in JUNK:
        for cls in ("request", "reply", "event"):
            try:
                m.parse(junk, cls, answers="status")
            except ProtocolError as e:
                assert e.code in (E_BAD_ENVELOPE, E_UNKNOWN_TYPE), e.text
    assert tried > 2000
