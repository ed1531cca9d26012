"""What serve publishes: the topic builders, the outbox, and the JSON Schemas in
shaftgate/station/schemas checked against real messages received from a real Mosquitto."""

import copy
import json
import sqlite3

import jsonschema
import pytest
from mqtt_broker import Subscriber, wait_until

from shaftgate.station import outbox, topics
from shaftgate.station.mqtt import MqttPublisher

EVENT = {"seq": 42, "time_s": 1_700_000_000, "kind": 1, "tag": 1234, "a": 17, "b": 3,
         "digest": bytes(range(16))}  # fmt: skip
STATUS = {  # a gateway STATUS reply as client.status() returns it
    "now_s": 1_700_000_100, "uptime_s": 50, "occupants": 3, "cap": 25, "shift": 1, "lamp": 1,
    "work_allowed": True, "hot_work_allowed": False, "sealed": False, "evacuating": False,
    "drill": False, "video_ok": True, "gas_ok": True, "override_active": False,
    "ch4_ppm": 2500, "last_seq": 42, "unacked": 0, "permits_active": 0,
}  # fmt: skip
ALARM = {"alarm_id": 7, "kind": "over_cap", "state": "raised", "time_s": 1_700_000_200.5,
         "zone": "face-1", "gateway_id": "G1", "event": "G1:42",
         "text": {"en": "face-1 over its cap: 26 / 25", "zh": "face-1 超员: 26 / 25"},
         "detail": {"count": 26, "cap": 25}}  # fmt: skip


def every_kind(mine="m1"):
    cleared = dict(ALARM, state="cleared", time_s=1_700_000_300)
    del cleared["event"], cleared["detail"]
    return [
        topics.event_msg(mine, "G1", "face-1", EVENT),
        topics.zone_state_msg(mine, "face-1", topics.state_from_status("G1", STATUS)),
        topics.headcount_msg(mine, 12, {"face-1": 3, "heading-2": 9}),
        topics.alarm_msg(mine, ALARM),
        topics.alarm_msg(mine, cleared),
        topics.link_msg(mine, "G1", False, "silent for 30 s"),
        topics.events_msg(mine, "G1", "face-1", [EVENT, dict(EVENT, seq=43, kind=2)]),
    ]


def validator(name):
    schema = topics.load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=topics.schema_registry())


def test_real_messages_match_their_schemas(mosquitto, tmp_path):
    path = tmp_path / "station.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(outbox.SCHEMA_SQL)
    for msg in every_kind():
        outbox.enqueue(conn, *msg)
    conn.commit()
    sub = Subscriber(mosquitto, "shaftgate/#")
    pub = MqttPublisher(path, mosquitto.config(), "m1", "serve-m1")
    pub.start()
    try:
        assert wait_until(lambda: outbox.pending(conn) == 0)
    finally:
        pub.stop()
    msgs = sub.wait_for(lambda m: len(m) >= 9)  # seven from the outbox, online, offline
    sub.close()
    names = [topics.schema_name(t) for t, _, _ in msgs]
    assert sorted(set(names)) == sorted(topics.SCHEMA_NAMES)
    for (t, payload, _), name in zip(msgs, names, strict=True):
        errors = [e.message for e in validator(name).iter_errors(payload)]
        assert errors == [], (t, payload)
    ids = [p["id"] for t, p, _ in msgs if "id" in p]
    assert len(ids) == len(set(ids)) == 7
    assert ids[0] == "G1:42" and ids[6] == "G1:42-43"
    token = outbox.origin(conn)
    assert ids[1:6] == ["%s:%d" % (token, n) for n in range(2, 7)]
    retained = {t: r for t, _, r in every_kind()}
    assert retained == {
        "shaftgate/m1/event/G1": False,
        "shaftgate/m1/zone/face-1": True,
        "shaftgate/m1/headcount": True,
        "shaftgate/m1/alarm/over_cap": False,
        "shaftgate/m1/link/G1": True,
        "shaftgate/m1/events/G1": False,
    }


@pytest.mark.parametrize(
    "name, field, bad",
    [
        ("event", "digest", "xyz"),
        ("event", "seq", 0),
        ("events", "events", []),
        ("events", "last_seq", "43"),
        ("zone", "lamp", "blue"),
        ("zone", "count", -1),
        ("headcount", "underground", "12"),
        ("alarm", "state", "acknowledged"),
        ("link", "up", "yes"),
        ("presence", "state", "maybe"),
    ],
)
def test_schemas_reject_wrong_payloads(name, field, bad):
    built = {topics.schema_name(t): (p, t) for t, p, _ in every_kind()}
    t, payload, _ = topics.presence_msg("m1", "serve-m1", True)
    built["presence"] = (payload, t)
    payload = copy.deepcopy(built[name][0])
    if name != "presence":
        payload.setdefault("id", "0123456789ab:5")
    v = validator(name)
    assert list(v.iter_errors(payload)) == []
    payload[field] = bad
    assert list(v.iter_errors(payload)) != []
    del payload[field]
    assert list(v.iter_errors(payload)) != []  # every field named here is required


def test_enqueue_is_part_of_the_callers_transaction(tmp_path):
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    conn.executescript(outbox.SCHEMA_SQL)
    outbox.enqueue(conn, *topics.event_msg("m1", "G1", "face-1", EVENT))
    conn.rollback()
    assert outbox.pending(conn) == 0
    outbox.enqueue(conn, *topics.event_msg("m1", "G1", "face-1", EVENT))
    conn.commit()
    other = sqlite3.connect(tmp_path / "s.sqlite")
    rows = outbox.read_batch(other, 0, 10)
    assert len(rows) == 1 and json.loads(rows[0][2])["id"] == "G1:42"


def test_outbox_rows_are_never_renumbered(tmp_path):
    # A consumer that saw "<origin>:3" must never see that id on another message.
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    conn.executescript(outbox.SCHEMA_SQL)
    for _ in range(3):
        outbox.enqueue(conn, *topics.headcount_msg("m1", 1, {"z": 1}))
    conn.commit()
    outbox.delete(conn, [1, 2, 3])
    outbox.enqueue(conn, *topics.headcount_msg("m1", 2, {"z": 2}))
    conn.commit()
    conn.executescript(outbox.SCHEMA_SQL)  # serve's migrations run it at every start
    (n, _, text, _, auto), = outbox.read_batch(conn, 0, 10)  # fmt: skip
    token = outbox.origin(conn)
    assert n == 4 and auto == 1
    assert json.loads(outbox.wire_payload(token, n, text, auto))["id"] == "%s:4" % token
    assert (
        outbox.origin(sqlite3.connect(tmp_path / "t.sqlite").executescript(outbox.SCHEMA_SQL))
        != token
    )


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: outbox.enqueue(None, "shaftgate/m1/#", {}), "wildcards"),
        (lambda: outbox.enqueue(None, "shaftgate/m1/x", {"id": 5}), "id must be a string"),
        (lambda: outbox.enqueue(None, "shaftgate/m1/x", {"v": float("nan")}), "Out of range"),
        (lambda: topics.event_msg("m/1", "G1", "z", EVENT), "mine id 'm/1' contains '/'"),
        (lambda: topics.event_msg("m1", "G+", "z", EVENT), "gateway id 'G+' contains '+'"),
        (lambda: topics.event_msg("m1", "G1", "", EVENT), "zone must be a non-empty"),
        (lambda: topics.event_msg("m1", "G1", "z", dict(EVENT, seq=0)), "event.seq"),
        (lambda: topics.event_msg("m1", "G1", "z", dict(EVENT, digest=b"1")), "event.digest"),
        (lambda: topics.event_msg("m1", "G1", "z", dict(EVENT, digest='"' * 32)), "event.digest"),
        (lambda: topics.events_msg("m1", "G1", "z", []), "1..100 events"),
        (lambda: topics.events_msg("m1", "G1", "z", [EVENT] * 101), "1..100 events"),
        (lambda: topics.events_msg("m1", "G1", "z", [EVENT, EVENT]), "consecutive"),
        (lambda: topics.EventTexts("m1", "G1", "z").batch([EVENT, dict(EVENT, seq=44)]), "consecutive"),
        (lambda: topics.EventTexts("m1", "G1", "z").event(dict(EVENT, a=1.5)), "event.a"),
        (lambda: topics.EventTexts("m1", "G#", "z"), "gateway id 'G#'"),
        (lambda: outbox.enqueue_texts(None, False, [("shaftgate/m1/x", '{"v":1}')]), "its id first"),
        (lambda: topics.zone_state_msg("m1", "z", {**topics.state_from_status("G1", STATUS), "lamp": 7}), "state.lamp"),
        (lambda: topics.zone_state_msg("m1", "z", {**topics.state_from_status("G1", STATUS), "relays": {"work": 1, "hot_work": False}}), "state.relays.work"),
        (lambda: topics.headcount_msg("m1", -1, {}), "underground"),
        (lambda: topics.headcount_msg("m1", 1, {"z#": 1}), "zone 'z#'"),
        (lambda: topics.alarm_msg("m1", dict(ALARM, state="gone")), "alarm.state"),
        (lambda: topics.alarm_msg("m1", dict(ALARM, text={"en": "x"})), "alarm.text"),
        (lambda: topics.link_msg("m1", "G1", "up", ""), "up must be"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_name(call, words, tmp_path):
    with pytest.raises(ValueError) as e:
        call()
    assert words in str(e.value)


def test_nothing_is_stored_for_refused_input(tmp_path):
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    conn.executescript(outbox.SCHEMA_SQL)
    with pytest.raises(ValueError):
        outbox.enqueue(conn, "shaftgate/m1/x", {"bad": float("inf")})
    conn.commit()
    assert outbox.pending(conn) == 0


def test_lamp_and_state_from_status():
    t, p, retain = topics.zone_state_msg("m1", "face-1", topics.state_from_status("G1", STATUS))
    assert (t, retain) == ("shaftgate/m1/zone/face-1", True)
    assert p["lamp"] == "green" and p["gas"] == {"ok": True, "ch4_ppm": 2500, "co_ppm": None}
    assert p["count"] == 3 and p["seq"] == 42 and p["relays"] == {"work": True, "hot_work": False}
    assert topics.event_msg("m1", "G1", "z", EVENT)[1]["kind_name"] == "ENTRY"
    assert topics.event_msg("m1", "G1", "z", dict(EVENT, kind=999))[1]["kind_name"] == "KIND_999"
    assert topics.schema_name("other/m1/event/G1") is None


@pytest.mark.parametrize("names", [("m1", "G1", "face-1"), ("矿-7", 'G"1\\', "采煤面")])
def test_event_texts_are_exactly_the_json_of_the_built_payloads(names):
    # serve formats event messages without the JSON encoder (topics.EventTexts): the same
    # bytes as json.dumps of event_msg / events_msg, escapes and non-ASCII ids included.
    mine, gw, zone = names
    dump = outbox._JSON.encode
    texts = topics.EventTexts(mine, gw, zone)
    events = [dict(EVENT, seq=s, kind=k, a=-s, b=2**31 - 1) for s, k in ((7, 1), (8, 999), (9, 2))]
    events.append(dict(EVENT, seq=10, digest=EVENT["digest"].hex()))  # hex: the checked path
    for e in events:
        assert texts.event(e) == dump(topics.event_msg(mine, gw, zone, e)[1])
    assert texts.event_topic == topics.event_msg(mine, gw, zone, EVENT)[0]
    assert texts.batch(events) == dump(topics.events_msg(mine, gw, zone, events)[1])
    assert texts.events_topic == "shaftgate/%s/events/%s" % (mine, gw)
