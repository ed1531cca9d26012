# serve publishing to a real Mosquitto: every recorded event reaches the broker with its
# stable id, in order per gateway, across a broker outage and a kill -9 of serve; alarms,
# zone states, headcount and links too, each valid against its JSON Schema.
import json
import sqlite3
import time

import jsonschema
import pytest
from mqtt_broker import Subscriber, TestMosquitto, wait_until
from serve_rig import Mine
from test_mqtt_process import _alive

from shaftgate.station import topics

ROSTER = """tag_id,person_id,name,role,cert_expiry,crew
1001,501,Wang Wei,miner,2031-01-01,production
1002,502,Li Na,miner,2031-01-01,production
"""


@pytest.fixture
def published(tmp_path):
    broker = TestMosquitto(tmp_path).start()
    mine = Mine(tmp_path / "mine", 2, broker='host = "127.0.0.1"\nport = %d' % broker.port)
    sub = Subscriber(broker, "shaftgate/test-mine/#")
    try:
        mine.start_serve()
        mine.wait(mine.all_answering, 30, "answering")
        (mine.home / "roster.csv").write_text(ROSTER)
        mine.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        mine.cli("roster", "load", str(mine.home / "roster.csv"), "--all", "--why", "c", check=True)
        yield mine, broker, sub
    finally:
        sub.close()
        mine.close()
        broker.stop()


def recorded_ids(mine):
    conn = sqlite3.connect(mine.db, timeout=10)
    try:
        return {"%s:%d" % r for r in conn.execute("SELECT gateway_id, seq FROM events")}
    finally:
        conn.close()


def event_ids(messages):
    return [p["id"] for t, p, _ in messages if "/event/" in t]


def test_events_alarms_and_states_reach_the_broker_once_each_across_outages(published):
    mine, broker, sub = published
    shaft, face = mine.boards["gw-shaft"], mine.boards["gw-face1"]
    shaft.cross_in(1001)
    face.cross_in(1002)  # never passed the shaft: R-DATA-4
    mine.wait(
        lambda: "outside_mine:1002" in {a["key"] for a in mine.call({"op": "alarms"})["alarms"]},
        15,
        "alarm",
    )
    msgs = sub.wait_for(lambda m: any("/alarm/outside_mine" in t for t, _, _ in m), 15)
    assert any("/alarm/outside_mine" in t for t, _, _ in msgs)
    # The broker goes away; recording goes on; what is owed is published when it returns.
    broker.stop()
    time.sleep(0.5)
    shaft.cross_in(1002)
    time.sleep(2.5)
    shaft.cross_out(1001)
    mine.wait(
        lambda: len(recorded_ids(mine)) > len(set(event_ids(sub.snapshot()))),
        10,
        "recorded while down",
    )
    mine.kill_serve()  # and serve dies with rows still owed
    broker.start()
    mine.start_serve()
    want = recorded_ids(mine)
    msgs = sub.wait_for(lambda m: want <= set(event_ids(m)), 30)
    ids = event_ids(msgs)
    assert want <= set(ids), sorted(want - set(ids))
    # Per gateway in seq order; a repeat is only a QoS 1 redelivery of the same id.
    for gid in ("gw-shaft", "gw-face1"):
        seqs = [int(i.split(":")[1]) for i in ids if i.startswith(gid + ":")]
        first_seen = list(dict.fromkeys(seqs))
        assert first_seen == sorted(first_seen)
    # Every kind of message serve sends fits its schema.
    kinds = set()
    for t, payload, _ in msgs:
        name = topics.schema_name(t)
        jsonschema.validate(payload, topics.load_schema(name))
        kinds.add(name)
    assert {"event", "alarm", "zone", "headcount", "link", "presence"} <= kinds, kinds
    zone = [p for t, p, _ in msgs if t == "shaftgate/test-mine/zone/shaft"][-1]
    assert zone["gateway_id"] == "gw-shaft"
    head = [p for t, p, _ in msgs if t.endswith("/headcount")][-1]
    assert "face1" in head["zones"]
    status = mine.call({"op": "status"})["mqtt"]
    assert status["publishing"] and status["connected"]


def test_serve_starts_its_own_mosquitto_when_the_site_names_no_broker(tmp_path):
    mine = Mine(tmp_path / "mine", 1)
    try:
        mine.start_serve()
        mine.wait(
            lambda: mine.call({"op": "status"})["mqtt"].get("connected"), 20, "embedded broker"
        )
        status = mine.call({"op": "status"})["mqtt"]
        assert "127.0.0.1" in json.dumps(status["broker"])
    finally:
        mine.close()


def test_a_feed_behind_for_longer_than_feed_late_s_is_an_alarm_until_it_catches_up(tmp_path):
    broker = TestMosquitto(tmp_path).start()
    mine = Mine(
        tmp_path / "mine",
        1,
        extra_serve="feed_late_s = 2",
        broker='host = "127.0.0.1"\nport = %d' % broker.port,
    )
    try:
        mine.start_serve()
        mine.wait(lambda: mine.call({"op": "status"})["mqtt"].get("connected"), 20, "connected")
        time.sleep(3)
        assert "feed_late" not in {a["key"] for a in mine.call({"op": "alarms"})["alarms"]}
        broker.stop()

        def keys():
            return {a["key"] for a in mine.call({"op": "alarms"})["alarms"]}

        mine.wait(lambda: "feed_late" in keys(), 20, "feed late alarm")
        broker.start()
        mine.wait(lambda: "feed_late" not in keys(), 30, "feed caught up")
    finally:
        mine.close()
        broker.stop()


def test_two_serves_each_with_its_own_boards_publish_into_one_broker(tmp_path):
    # Past one machine: one serve per mine, one broker (cluster) for the group.
    broker = TestMosquitto(tmp_path).start()
    conf = 'host = "127.0.0.1"\nport = %d' % broker.port
    north = Mine(tmp_path / "north", 1, broker=conf, mine_id="m7-north")
    south = Mine(tmp_path / "south", 1, broker=conf, mine_id="m7-south")
    sub = Subscriber(broker, "shaftgate/+/event/#", "shaftgate/+/presence/#")
    try:
        for m in (north, south):
            m.start_serve()
        for m in (north, south):
            m.wait(m.all_answering, 30, "answering")
            m.boards["gw-shaft"].read_tag(0, 424242)  # unknown tag: refused, an event at once
        msgs = sub.wait_for(
            lambda ms: (
                {p["mine_id"] for t, p, _ in ms if "/event/" in t and p.get("tag") == 424242}
                == {"m7-north", "m7-south"}
            ),
            30,
        )
        for mine_id, m in (("m7-north", north), ("m7-south", south)):
            want = recorded_ids(m)

            def got(ms, mine_id=mine_id):
                return {
                    p["id"]
                    for t, p, _ in ms
                    if "/event/" in t and t.startswith("shaftgate/%s/" % mine_id)
                }

            msgs = sub.wait_for(lambda ms, got=got, want=want: got(ms) >= want, 20)
            assert got(msgs) >= want
            mine_events = [p for t, p, _ in msgs if t.startswith("shaftgate/%s/event/" % mine_id)]
            assert mine_events and all(p["mine_id"] == mine_id for p in mine_events)
        online = {p["mine_id"] for t, p, _ in msgs if "/presence/" in t and p["state"] == "online"}
        assert online == {"m7-north", "m7-south"}
    finally:
        sub.close()
        north.close()
        south.close()
        broker.stop()


def test_batches_beside_single_events_carry_each_event_once_as_its_own_message(tmp_path):
    # [serve] mqtt_events = "both": every event on event/<gw> and in a batch on events/<gw>,
    # the batch's items the very same objects, consecutive, none in two batches.
    broker = TestMosquitto(tmp_path).start()
    mine = Mine(
        tmp_path / "mine",
        1,
        extra_serve='mqtt_events = "both"',
        broker='host = "127.0.0.1"\nport = %d' % broker.port,
    )
    sub = Subscriber(broker, "shaftgate/test-mine/event/#", "shaftgate/test-mine/events/#")

    def batched(ms):
        return [p for t, p, _ in ms if t == "shaftgate/test-mine/events/gw-shaft"]

    try:
        mine.start_serve()
        mine.wait(mine.all_answering, 30, "answering")
        for i in range(6):
            mine.boards["gw-shaft"].read_tag(0, 424200 + i)  # unknown: refused, an event each
        mine.wait(lambda: len(recorded_ids(mine)) >= 6, 20, "recorded")
        want = recorded_ids(mine)

        def complete(ms):
            items = {e["id"] for b in batched(ms) for e in b["events"]}
            return want <= set(event_ids(ms)) and want <= items

        msgs = sub.wait_for(complete, 20)
    finally:
        sub.close()
        mine.close()
        broker.stop()
    assert complete(msgs)
    singles = {p["id"]: p for t, p, _ in msgs if "/event/" in t}
    check = jsonschema.Draft202012Validator(
        topics.load_schema("events"), registry=topics.schema_registry()
    )
    batches = {b["id"]: b for b in batched(msgs)}  # a QoS 1 redelivery repeats an id
    items = []
    for b in batches.values():
        assert list(check.iter_errors(b)) == []
        seqs = [e["seq"] for e in b["events"]]
        assert seqs == list(range(b["first_seq"], b["last_seq"] + 1))
        assert b["id"] == "gw-shaft:%d-%d" % (b["first_seq"], b["last_seq"])
        items += b["events"]
    assert len(items) == len({e["id"] for e in items})  # no event in two batches
    for e in items:
        assert e == singles[e["id"]]


def test_serve_publishes_over_the_connections_the_site_file_names_and_a_kill_ends_them(tmp_path):
    # [serve] mqtt_publishers = 2: two child processes, a share of the gateways each; serve
    # killed with -9 takes both with it and its presence turns offline (publisher 0's will).
    broker = TestMosquitto(tmp_path).start()
    mine = Mine(
        tmp_path / "mine",
        2,
        extra_serve="mqtt_publishers = 2",
        broker='host = "127.0.0.1"\nport = %d' % broker.port,
    )
    sub = Subscriber(broker, "shaftgate/test-mine/#")
    try:
        mine.start_serve()
        mine.wait(lambda: mine.call({"op": "status"})["mqtt"].get("connected"), 20, "connected")
        status = mine.call({"op": "status"})["mqtt"]
        each = status["publishers"]
        assert [(p["client_id"], p["gateways"]) for p in each] == [
            ("shaftgate-serve-test-mine-p0", ["gw-shaft"]),
            ("shaftgate-serve-test-mine-p1", ["gw-face1"]),
        ]
        pids = [p["pid"] for p in each]
        assert len(set(pids)) == 2 and all(_alive(p) for p in pids)
        for i, gid in enumerate(("gw-shaft", "gw-face1")):
            mine.boards[gid].read_tag(0, 424240 + i)  # unknown tag: refused, an event at once
        mine.wait(lambda: len(recorded_ids(mine)) >= 2, 20, "recorded")
        want = recorded_ids(mine)
        msgs = sub.wait_for(lambda m: want <= set(event_ids(m)), 20)
        assert want <= set(event_ids(msgs))
        mine.wait(lambda: mine.call({"op": "status"})["mqtt"]["publishers"][1]["published"], 10)
        mine.kill_serve()
        assert wait_until(lambda: not any(_alive(p) for p in pids), 5)
        msgs = sub.wait_for(
            lambda m: [p["state"] for t, p, _ in m if "/presence/" in t][-1:] == ["offline"], 10
        )
        states = [(t, p["state"]) for t, p, _ in msgs if "/presence/" in t]
        assert states[-1] == ("shaftgate/test-mine/presence/shaftgate-serve-test-mine", "offline")
        assert {t for t, _ in states} == {"shaftgate/test-mine/presence/shaftgate-serve-test-mine"}
    finally:
        sub.close()
        mine.close()
        broker.stop()
