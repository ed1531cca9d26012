# History from the record (station/history.py): events filtered, who was where at a
# moment replayed from entries and exits, one person's route (R-ID-3). The record is
# written through the store's own API, as serve's link threads write it.
import pytest

from gateway import events as ev
from shaftgate.station import history
from shaftgate.station import site as site_file
from shaftgate.station.store import EventRecord, Store

SITE = """\
[mine]
id = "m"
name = "m"
time_zone = "Asia/Shanghai"

[[gateways]]
id = "gw-shaft"
port = "/dev/null0"
zone = "shaft"
kind = "shaft"

[[gateways]]
id = "gw-face1"
port = "/dev/null1"
zone = "face1"
kind = "coal_face"
"""
T0 = 1_750_000_000


def _record(store, gid, moves):
    events = [
        {"seq": n, "time_s": T0 + dt, "kind": kind, "tag": tag, "a": a, "b": 0, "digest": b"x" * 16}
        for n, (dt, kind, tag, a) in enumerate(moves, 1)
    ]
    EventRecord(store, gid).append(events)


@pytest.fixture
def record(tmp_path):
    (tmp_path / "site.toml").write_text(SITE)
    site = site_file.load(tmp_path / "site.toml")
    store = Store(tmp_path / "station.db")
    _record(
        store,
        "gw-shaft",
        [(0, ev.ENTRY, 1001, 501), (10, ev.ENTRY, 1002, 502), (5000, ev.EXIT, 1001, 501)],
    )
    _record(
        store,
        "gw-face1",
        [
            (100, ev.ENTRY, 1001, 501),
            (200, ev.ENTRY, 1002, 502),
            (300, ev.FIRE_WATCH_START, 501, 7001),  # tag: the watcher's person id
            (4000, ev.EXIT, 1001, 501),
        ],
    )
    store.save_roster(
        "gw-face1",
        [
            {
                "tag_id": 1001,
                "person_id": 501,
                "name": "王伟",
                "role": "miner",
                "crew": "production",
            },
            {
                "tag_id": 1002,
                "person_id": 502,
                "name": "李娜",
                "role": "welder",
                "crew": "production",
            },
        ],
    )
    yield store, site
    store.close()


def tags_at(store, site, dt):
    got = history.occupants_at(store, site, T0 + dt)
    return {z["gateway_id"]: [o["tag"] for o in z["tags"]] for z in got["zones"]}, got


def test_who_was_where_replayed_from_entries_and_exits(record):
    store, site = record
    assert tags_at(store, site, 150)[0] == {"gw-shaft": [1001, 1002], "gw-face1": [1001]}
    where, got = tags_at(store, site, 4500)
    assert where == {"gw-shaft": [1001, 1002], "gw-face1": [1002]}
    assert got["underground"]["gateway_id"] == "gw-shaft"
    assert not any(z["incomplete"] for z in got["zones"])
    assert tags_at(store, site, 6000)[0] == {"gw-shaft": [1002], "gw-face1": [1002]}
    # before anything was recorded, or after a gap: not presented as complete
    _, early = tags_at(store, site, -10)
    assert all(z["incomplete"] for z in early["zones"])
    EventRecord(store, "gw-face1").note_gap(5, 9)
    _, gapped = tags_at(store, site, 4500)
    assert [z["incomplete"] for z in gapped["zones"]] == [False, True]


def test_a_route_with_working_and_dwell_time(record):
    store, site = record
    route = history.trace(store, site, [1001], T0 - 100, T0 + 6000)
    assert [(s["zone"], s["in_s"] - T0, s["out_s"] - T0) for s in route["stays"]] == [
        ("shaft", 0, 5000),
        ("face1", 100, 4000),
    ]
    assert route["working_s"] == 5000 and route["dwell_s"] == {"shaft": 5000, "face1": 3900}
    # a window inside the stays: both open at the start and at the end, clipped
    inside = history.trace(store, site, [1001], T0 + 1000, T0 + 2000)
    assert [(s["open_start"], s["open_end"]) for s in inside["stays"]] == [(True, True)] * 2
    assert inside["working_s"] == 1000
    assert history.trace(store, site, [1001], T0 + 5001, T0 + 6000)["stays"] == []
    with pytest.raises(ValueError):
        history.trace(store, site, [1001], T0, T0)


def test_events_filtered_by_time_zone_kind_and_person(record):
    store, _site = record
    assert len(history.events(store)) == 7
    got = history.events(store, gateways=["gw-face1"], kinds=[ev.ENTRY])
    assert [(e["tag"], e["time_s"] - T0) for e in got] == [(1001, 100), (1002, 200)]
    mine = history.events(store, tags=[1001], persons=[501])
    assert [e["kind"] for e in mine] == [ev.ENTRY, ev.ENTRY, ev.FIRE_WATCH_START, ev.EXIT, ev.EXIT]
    assert [
        e["time_s"] - T0 for e in history.events(store, since_s=T0 + 150, until_s=T0 + 4000)
    ] == [
        200,
        300,
        4000,
    ]
    assert history.events(store, tags=[1002], persons=[502], kinds=[ev.EXIT]) == []
    assert [p["tag_id"] for p in history.find_person(store, "李娜")] == [1002]
    assert [p["name"] for p in history.find_person(store, "501")] == ["王伟"]
    assert history.find_person(store, "nobody") == []
