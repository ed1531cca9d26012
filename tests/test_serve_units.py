# shaftgate serve's parts on their own: the site file, the SQLite record, the alarms.
import sqlite3
import time
from pathlib import Path

import pytest

from gateway import events as ev
from shaftgate.station import alarms as alarms_mod
from shaftgate.station import site as site_file
from shaftgate.station.alarms import Alarms
from shaftgate.station.links import LinkState
from shaftgate.station.store import MIGRATIONS, EventRecord, Store, StoreError

GOOD = """\
[mine]
id = "xinji-2"
name = "新集二矿 Xinji No. 2"
time_zone = "Asia/Shanghai"

[serve]
database = "db/station.db"
link_lost_s = 5
transit_allowance = 2
clock_drift_s = 20

[[gateways]]
id = "gw-shaft"
port = "/dev/ttyACM0"
zone = "shaft"
kind = "shaft"

[[gateways]]
id = "gw-face1"
port = "/dev/ttyACM1"
zone = "face1"
kind = "coal_face"
key = "other-keys/gw-face1.key"

[[gateways]]
id = "gw-face2"
port = "/dev/ttyACM2"
zone = "face2"
kind = "repair"

[operators.wang]
name = "王伟 Wang Wei"
authority = ["evacuate", "orders"]
user = "wang"
"""


def load(tmp_path, text):
    path = tmp_path / "site.toml"
    path.write_text(text)
    return site_file.load(path)


def test_site_file_reads_every_table(tmp_path):
    site = load(tmp_path, GOOD)
    assert site.mine_id == "xinji-2"
    assert site.database == tmp_path / "db" / "station.db"
    assert site.socket == tmp_path / "serve.sock"
    assert [g.id for g in site.gateways] == ["gw-shaft", "gw-face1", "gw-face2"]
    assert site.gateway("gw-face1").key_dir == tmp_path / "other-keys"
    assert site.gateway("gw-shaft").key_dir == tmp_path / "keys"
    assert site.gateway("gw-shaft").is_shaft and not site.gateway("gw-face2").is_shaft
    wang = site.operators["wang"]
    assert "evacuate" in wang.authority and "all-clear" in wang.authority
    assert "seal" in wang.authority and "config set" not in wang.authority
    assert site.broker is None  # serve starts its own broker
    assert site.link_lost_s == 5.0 and site.transit_allowance == 2
    assert site.mqtt_events == "each"  # the per-event contract unless the site says otherwise
    batches = load(tmp_path, GOOD.replace("clock_drift_s = 20", 'mqtt_events = "batches"'))
    assert batches.mqtt_events == "batches"
    assert site.mqtt_publishers is None  # serve decides by its cores (mqtt_shares.py)
    two = load(tmp_path, GOOD.replace("clock_drift_s = 20", "mqtt_publishers = 2"))
    assert two.mqtt_publishers == 2


@pytest.mark.parametrize(
    "old, new, line, key",
    [
        ('kind = "repair"', 'kind = "stope"', 29, "gateways[2].kind"),
        ('port = "/dev/ttyACM2"', 'port = "/dev/ttyACM1"', 27, "gateways[2].port"),
        ('id = "gw-face1"', 'id = "gw-shaft"', 19, "gateways[1].id"),
        ("link_lost_s = 5", "link_lost_s = 0", 8, "serve.link_lost_s"),
        ("link_lost_s = 5", 'link_lost_s = "5"', 8, "serve.link_lost_s"),
        ('time_zone = "Asia/Shanghai"', 'time_zone = "Mars/Base"', 4, "mine.time_zone"),
        (
            'authority = ["evacuate", "orders"]',
            'authority = ["god"]',
            33,
            "operators.wang.authority",
        ),
        ('user = "wang"', 'user = "wang"\nshift = 1', 35, "operators.wang.shift"),
        ('key = "other-keys/gw-face1.key"', 'key = "k/x.key"', 23, "gateways[1].key"),
        ('id = "xinji-2"', 'id = "Xinji 2"', 2, "mine.id"),
        ("clock_drift_s = 20", 'clock_drift_s = 20\nmqtt_events = "some"', 11, "serve.mqtt_events"),
        (
            "clock_drift_s = 20",
            "clock_drift_s = 20\nmqtt_publishers = 0",
            11,
            "serve.mqtt_publishers",
        ),
        (
            "clock_drift_s = 20",
            "clock_drift_s = 20\nmqtt_publishers = 17",
            11,
            "serve.mqtt_publishers",
        ),
        (
            "clock_drift_s = 20",
            'clock_drift_s = 20\nmqtt_publishers = "3"',
            11,
            "serve.mqtt_publishers",
        ),
        (
            "clock_drift_s = 20",
            "clock_drift_s = 20\nmqtt_publishers = true",
            11,
            "serve.mqtt_publishers",
        ),
    ],
)
def test_site_file_errors_name_line_and_key(tmp_path, old, new, line, key):
    assert old in GOOD
    with pytest.raises(site_file.SiteError) as e:
        load(tmp_path, GOOD.replace(old, new, 1))
    text = str(e.value)
    assert "site.toml line %d, %s:" % (line, key) in text, text


def test_site_file_missing_parts_are_named(tmp_path):
    with pytest.raises(site_file.SiteError, match=r"mine\.time_zone: missing"):
        load(tmp_path, GOOD.replace('time_zone = "Asia/Shanghai"\n', ""))
    with pytest.raises(site_file.SiteError, match="one \\[\\[gateways\\]\\] table per gateway"):
        load(tmp_path, GOOD.split("[[gateways]]")[0])
    with pytest.raises(site_file.SiteError, match="not valid TOML"):
        load(tmp_path, GOOD + "\n[mine\n")
    with pytest.raises(site_file.SiteError, match="cannot read"):
        site_file.load(tmp_path / "nowhere.toml")


# ---- the record ----


def test_schema_migrates_once_and_refuses_a_newer_database(tmp_path):
    path = tmp_path / "s.db"
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    Store(path).close()  # again: nothing to do, nothing fails
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=%d" % (len(MIGRATIONS) + 1))
    conn.close()
    with pytest.raises(StoreError, match="newer serve"):
        Store(path)


def _event(seq, kind=ev.ENTRY, tag=1001, time_s=1000, a=501, b=1):
    return {
        "seq": seq,
        "time_s": time_s,
        "kind": kind,
        "tag": tag,
        "a": a,
        "b": b,
        "digest": bytes([seq % 256]) * 16,
    }


def test_event_record_stores_in_order_and_never_twice(tmp_path):
    store = Store(tmp_path / "s.db")
    record = EventRecord(store, "gw-a")
    assert record.position() == (0, None)
    record.append([_event(1), _event(2)])
    with pytest.raises(Exception, match="not after seq 2"):
        record.append([_event(2)])
    assert record.position() == (2, bytes([2]) * 16)
    assert EventRecord(store, "gw-a").position() == (2, bytes([2]) * 16)  # from disk
    assert store.count_events("gw-a") == 2


def test_a_page_whose_transaction_fails_is_not_stored(tmp_path):
    store = Store(tmp_path / "s.db")

    def boom(conn, gid, events):
        raise RuntimeError("disk full")

    record = EventRecord(store, "gw-a", boom)
    with pytest.raises(RuntimeError):
        record.append([_event(1)])
    assert store.count_events() == 0
    assert record.position() == (0, None)


# ---- alarms ----


@pytest.fixture
def mine(tmp_path):
    site = load(tmp_path, GOOD)
    store = Store(site.database)
    changes = []
    alarms = Alarms(store, site, lambda conn, c: changes.append(c))
    links = {g.id: LinkState(g) for g in site.gateways}
    return site, store, alarms, links, changes


def _status(occupants):
    return {"occupants": occupants, "now_s": int(time.time())}


def _check(store, alarms, links):
    with store.transaction() as conn:
        alarms.check(conn, links, time.monotonic())


def _answer(links, counts):
    for gid, n in counts.items():
        s = links[gid]
        s.status = _status(n)
        s.answering = True
        s.last_answer = time.monotonic()


def test_headcount_alarm_fires_past_the_transit_allowance_and_clears(mine):
    _site, store, alarms, links, changes = mine
    _answer(links, {"gw-shaft": 10, "gw-face1": 8, "gw-face2": 4})  # 12 vs 10: allowance 2
    _check(store, alarms, links)
    assert "headcount" not in alarms.active
    _answer(links, {"gw-face2": 5})  # 13 vs 10: one past it
    _check(store, alarms, links)
    assert "headcount" in alarms.active
    assert "13" in alarms.active["headcount"]["text"]
    _answer(links, {"gw-shaft": 12})
    _check(store, alarms, links)
    assert "headcount" not in alarms.active
    assert [c["state"] for c in changes if c["key"] == "headcount"] == ["raised", "cleared"]
    # And it is on disk, raised and cleared.
    rows = store.read("SELECT cleared_s IS NOT NULL FROM alarms WHERE key='headcount'")
    assert rows == [(1,)]


def test_link_lost_after_the_configured_silence_and_cleared_when_it_answers(mine):
    _site, store, alarms, links, _ = mine
    _answer(links, {"gw-shaft": 0, "gw-face1": 0, "gw-face2": 0})
    links["gw-face1"].last_answer = time.monotonic() - 4.0  # limit 5 s
    _check(store, alarms, links)
    assert "link_lost:gw-face1" not in alarms.active
    links["gw-face1"].last_answer = time.monotonic() - 6.0
    links["gw-face1"].error = "read from /dev/ttyACM1 failed"
    _check(store, alarms, links)
    assert "ttyACM1" in alarms.active["link_lost:gw-face1"]["text"]
    _answer(links, {"gw-face1": 0})
    _check(store, alarms, links)
    assert "link_lost:gw-face1" not in alarms.active


def test_clock_drift_against_the_host(mine):
    _site, store, alarms, links, _ = mine
    _answer(links, {"gw-shaft": 0, "gw-face1": 0, "gw-face2": 0})
    links["gw-shaft"].clock_offset_s = 3.0
    links["gw-face1"].clock_offset_s = -19.0
    links["gw-face2"].clock_offset_s = 25.0  # limit 20 s
    _check(store, alarms, links)
    assert set(k for k in alarms.active if k.startswith("clock")) == {"clock_drift:gw-face2"}
    links["gw-face2"].clock_offset_s = 1.0
    _check(store, alarms, links)
    assert not [k for k in alarms.active if k.startswith("clock")]


def _feed(store, alarms, gid, *events):
    with store.transaction() as conn:
        alarms.on_events(conn, gid, list(events))


def test_a_tag_at_a_face_while_the_shaft_has_it_out_of_the_mine(mine):
    # R-DATA-4: 1001 went down the shaft before entering face1; 1002 never did.
    _site, store, alarms, _, _ = mine
    _feed(store, alarms, "gw-shaft", _event(1, tag=1001, time_s=1000))
    _feed(
        store,
        alarms,
        "gw-face1",
        _event(1, tag=1001, time_s=1600),
        _event(2, tag=1002, time_s=1650),
    )
    with store.transaction() as conn:
        alarms.shaft_synced(conn, 1620)  # the shaft's record reaches only 1620: 1002 waits
    assert "outside_mine:1001" not in alarms.active
    assert "outside_mine:1002" not in alarms.active
    with store.transaction() as conn:
        alarms.shaft_synced(conn, 1700)
    assert "outside_mine:1002" in alarms.active
    assert "outside_mine:1001" not in alarms.active
    assert "R-DATA-4" in alarms.active["outside_mine:1002"]["text"]


def test_a_tag_that_left_by_the_shaft_and_shows_up_at_a_face(mine):
    _site, store, alarms, _, _ = mine
    _feed(store, alarms, "gw-shaft", _event(1, tag=1003, time_s=1000))
    _feed(store, alarms, "gw-shaft", _event(2, kind=ev.EXIT, tag=1003, time_s=2000))
    _feed(store, alarms, "gw-face2", _event(1, tag=1003, time_s=2500))
    with store.transaction() as conn:
        alarms.shaft_synced(conn, 2600)
    assert "outside_mine:1003" in alarms.active


def test_the_same_tag_inside_two_faces(mine):
    _site, store, alarms, _, _ = mine
    _feed(store, alarms, "gw-face1", _event(1, tag=1004, time_s=1000))
    _feed(store, alarms, "gw-face1", _event(2, kind=ev.EXIT, tag=1004, time_s=1100))
    _feed(store, alarms, "gw-face2", _event(1, tag=1004, time_s=1500))  # walked over: fine
    assert "two_places:1004" not in alarms.active
    _feed(store, alarms, "gw-face1", _event(3, tag=1004, time_s=1510))  # still in face2
    assert "two_places:1004" in alarms.active


def test_gateway_alarm_events_raise_and_their_end_events_clear(mine):
    _site, store, alarms, _, _ = mine
    _feed(store, alarms, "gw-face1", _event(1, kind=ev.GAS_OVER, tag=1, a=16000, b=15000))
    _feed(store, alarms, "gw-face1", _event(2, kind=ev.VIDEO_LOST, tag=0, a=-1, b=1))
    _feed(store, alarms, "gw-face1", _event(3, kind=ev.FIRE_WATCH_LEFT, tag=501, a=7001, b=60))
    _feed(store, alarms, "gw-face1", _event(4, kind=ev.LOG_TAMPERED, tag=1, a=3, b=0))
    keys = set(alarms.active)
    assert {
        "event:gw-face1:gas:1",
        "event:gw-face1:video_lost",
        "event:gw-face1:fire_watch_left:7001",
    } <= keys
    assert "event:gw-face1:log_tampered:4" in keys
    _feed(store, alarms, "gw-face1", _event(5, kind=ev.GAS_OVER_END, tag=1, a=16800, b=600))
    _feed(store, alarms, "gw-face1", _event(6, kind=ev.VIDEO_OK, tag=0, a=30, b=1))
    _feed(store, alarms, "gw-face1", _event(7, kind=ev.FIRE_WATCH_BACK, tag=501, a=7001, b=50))
    left = set(alarms.active)
    assert "event:gw-face1:gas:1" not in left
    assert "event:gw-face1:video_lost" not in left
    assert "event:gw-face1:fire_watch_left:7001" not in left
    assert "event:gw-face1:log_tampered:4" in left  # latched until an operator acks it
    # Ordinary crossings raise nothing.
    _feed(store, alarms, "gw-face2", _event(1, kind=ev.ENTRY), _event(2, kind=ev.EXIT))
    assert set(alarms.active) == left


def test_active_alarms_survive_a_restart(mine, tmp_path):
    site, store, alarms, _, _ = mine
    _feed(store, alarms, "gw-face1", _event(1, kind=ev.GAS_OVER, tag=1, a=16000, b=15000))
    again = Alarms(store, site)
    assert "event:gw-face1:gas:1" in again.active
    assert Path(site.database).exists()


# ---- ack only after the commit ----


class _Station:
    # What a link thread calls back; only recording matters here.
    def __init__(self):
        self.recorded_events = []

    def recorded(self, gid, events):
        self.recorded_events.extend(events)


def _link_with_fake(tmp_path, on_page):
    from fake_gateway import KEY, FakeGateway, MemoryLink

    from shaftgate.link.client import GatewayClient
    from shaftgate.station.links import GatewayLink

    fake = FakeGateway("gw-face1")
    site = load(tmp_path, GOOD)
    link = GatewayLink(site.gateway("gw-face1"), _Station())
    client = GatewayClient(MemoryLink(fake), "gw-face1", KEY)
    client.hello()
    store = Store(tmp_path / "ack.db")
    return fake, link, client, store, EventRecord(store, "gw-face1", on_page, batch=True)


def test_no_ack_when_the_commit_fails(tmp_path):
    def disk_full(conn, gid, events):
        raise sqlite3.OperationalError("database or disk is full")

    fake, link, client, store, record = _link_with_fake(tmp_path, disk_full)
    for tag in (11, 12, 13):
        fake.emit(ev.ENTRY, tag, 500 + tag, 1)
    with pytest.raises(sqlite3.OperationalError):
        link._record(client, record)
    assert fake.acks_received == 0
    assert store.count_events() == 0


def test_ack_follows_the_commit(tmp_path):
    seen = []

    def note(conn, gid, events):
        seen.append(fake.acks_received)  # inside the transaction: nothing acked yet

    fake, link, client, store, record = _link_with_fake(tmp_path, note)
    for tag in (11, 12, 13):
        fake.emit(ev.ENTRY, tag, 500 + tag, 1)
    link._record(client, record)
    assert seen and seen[0] == 0
    assert fake.acks_received == 1
    assert store.count_events("gw-face1") == 3
    assert link.state.acked_to == 3


def test_a_batched_record_stores_nothing_until_flushed(tmp_path):
    store = Store(tmp_path / "s.db")
    record = EventRecord(store, "gw-a", batch=True)
    record.append([_event(1), _event(2)])
    record.append([_event(3)])  # chains on what is held
    assert record.position()[0] == 3
    assert store.count_events() == 0
    record.flush()
    assert store.count_events() == 3


def test_a_failed_flush_forgets_what_was_held(tmp_path):
    store = Store(tmp_path / "s.db")
    calls = []

    def fail_once(conn, gid, events):
        calls.append(len(events))
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")

    record = EventRecord(store, "gw-a", fail_once, batch=True)
    record.append([_event(1), _event(2)])
    with pytest.raises(sqlite3.OperationalError):
        record.flush()
    assert record.position() == (0, None)  # the next catch-up starts again from seq 1
    record.append([_event(1), _event(2)])
    record.flush()
    assert store.count_events() == 2


def test_the_view_shows_serves_mine_wide_alarms():
    from shaftgate.sim import view

    state = {"rows": [], "now_s": 0, "utc_offset_min": 480, "headline": None, "note": None}
    assert view.alert_lines(state) == []
    state["mine_alarms"] = [{"kind": "outside_mine", "text": "tag 1002 entered face1 (R-DATA-4)"}]
    lines = view.alert_lines(state)
    assert len(lines) == 1 and "R-DATA-4" in "".join(str(c) for c in lines[0])


def test_every_signed_command_belongs_to_an_authority():
    # A new order the site file cannot grant would be refused through serve to everyone.
    from shaftgate import cli

    granted = {order for orders in site_file.AUTHORITIES.values() for order in orders}
    signed = {name for name, c in cli.COMMANDS.items() if c.kind == "signed"}
    assert signed <= granted, sorted(signed - granted)


def test_the_live_view_shows_red_exactly_the_events_serve_raises_an_alarm_on(mine):
    # One list (station/alarms.ALARM_EVENT_KINDS) for both: each named event kind is fed to
    # serve's alarms on a face gateway of its own, and the view's colour must agree.
    from shaftgate.sim import view

    _site, store, alarms, _, _ = mine
    kinds = sorted({v for k, v in vars(ev).items() if k.isupper() and isinstance(v, int)})
    reports_on_raised = {ev.GAS_PEAK, ev.EVAC_JOIN}  # red, inside an alarm already raised
    raised_by = set()
    for seq, kind in enumerate(kinds, 1):
        before = set(alarms.active)
        # tag 0: no person, so only the event's own alarm can fire (not two_places & co).
        _feed(store, alarms, "gw-face1", _event(seq, kind=kind, tag=0, a=7001, b=1))
        if set(alarms.active) - before:
            raised_by.add(kind)
    assert raised_by == set(alarms_mod.ALARM_EVENT_KINDS)
    assert ev.ENTRY not in raised_by and ev.OVER_CAP_ENTRY in raised_by
    red = {k for k in kinds if view.event_style(k) == "alarm"}
    assert red == raised_by | reports_on_raised


def test_event_batches_stop_at_a_gap_and_at_the_most_a_message_carries():
    # A stored page may hold a gap an operator accepted (accept-gap): a batch's seqs are
    # consecutive, so it ends there; and it never carries more than BATCH_MAX.
    from shaftgate.station.serve import _batches

    seqs = [1, 2, 3, 7, 8, *range(9, 9 + 250)]
    got = [[e["seq"] for e in b] for b in _batches([{"seq": s} for s in seqs], 100)]
    assert got[0] == [1, 2, 3]
    assert got[1] == list(range(7, 107)) and got[2] == list(range(107, 207))
    assert got[3] == list(range(207, 259))
    assert [s for b in got for s in b] == seqs
    assert list(_batches([], 100)) == []
