# R-CAP-11 on the surface: the recount order through the CLI (one zone only, the operator's
# withdrawal authority through serve), serve's mine-wide view reconciled once a gateway's
# recount takes out a tag it had kept in after it was read leaving, the recount latched as
# an alarm, and its desk text in Chinese and English. The firmware's side is
# tests/test_recount.py and tests/test_recount_app.py; through serve to a virtual board,
# tests/test_serve.py::test_a_recount_through_serve_is_an_order_checked_and_alarmed.
import pytest

from gateway import events as ev
from gateway.doorway import DECIDED_IN, DECIDED_KEPT_IN, DOUBT_NO_OUTER, DOUBT_UNNAMED
from shaftgate import cli, eventtext, i18n
from shaftgate.station import history
from shaftgate.station import site as site_file
from shaftgate.station.alarms import Alarms
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

[operators.wang]
name = "Wang"
authority = ["evacuate"]

[operators.li]
name = "Li"
authority = ["orders"]
"""
T0 = 1_750_000_000
COUNTER = 503


@pytest.fixture
def mine(tmp_path):
    (tmp_path / "site.toml").write_text(SITE)
    site = site_file.load(tmp_path / "site.toml")
    store = Store(tmp_path / "station.db")
    yield site, store, Alarms(store, site)
    store.close()


def _events(*rows):
    # (dt, kind, tag, a, b) -> events as a gateway sends them, seq from 1
    return [
        {"seq": n, "time_s": T0 + dt, "kind": k, "tag": tag, "a": a, "b": b, "digest": b"x" * 16}
        for n, (dt, k, tag, a, b) in enumerate(rows, 1)
    ]


# The shaft's ledger is full: 1003 is counted without a row and no tag kept, then read
# leaving and kept in (said); later a muster finds 2 and the recount takes the count from 3.
SHAFT = (
    (0, ev.ENTRY, 1001, 501, 1),
    (10, ev.ENTRY, 1002, 502, 2),
    (20, ev.ENTRY, 1003, 503, 3),
    (20, ev.LEDGER_FULL, 1003, 503, 3),
    (100, ev.DOUBTFUL_CROSSING, 1003, DECIDED_KEPT_IN, DOUBT_UNNAMED),
    (200, ev.DOUBTFUL_CROSSING, 1002, DECIDED_IN, DOUBT_NO_OUTER),  # another doubt: not it
    (300, ev.RECOUNT_ORDERED, COUNTER, 0, 2),
    (300, ev.RECOUNT, COUNTER, 3, 2),
)


def _feed(store, alarms, gid, events):
    EventRecord(store, gid).append(events)
    with store.transaction() as conn:
        alarms.on_events(conn, gid, events)


def test_r_cap_11_a_recount_takes_the_kept_in_tag_out_of_the_mine(mine):
    _site, store, alarms = mine
    events = _events(*SHAFT)
    _feed(store, alarms, "gw-shaft", events[:-1])
    assert sorted(alarms.in_mine) == [1001, 1002, 1003]  # read leaving, still counted
    _feed(store, alarms, "gw-shaft", events[-1:])
    assert sorted(alarms.in_mine) == [1001, 1002]
    assert alarms.out_at[1003] == T0 + 300
    # The recount is latched for a second pair of eyes (R-DATA-2: a count changed by
    # order, not by a crossing).
    assert "event:gw-shaft:recount:%d" % len(events) in alarms.active
    # The view now judges 1003 out of the mine: a face entry by it alarms (R-DATA-4).
    _feed(store, alarms, "gw-face1", _events((400, ev.ENTRY, 1003, 503, 1)))
    with store.transaction() as conn:
        alarms.shaft_synced(conn, T0 + 500)
    assert "outside_mine:1003" in alarms.active


def test_without_a_recount_or_on_a_raise_the_view_keeps_the_tag(mine):
    _site, store, alarms = mine
    events = _events(*SHAFT[:-2], (300, ev.RECOUNT, COUNTER, 3, 4))  # found one uncounted
    _feed(store, alarms, "gw-shaft", events)
    assert sorted(alarms.in_mine) == [1001, 1002, 1003]
    _feed(store, alarms, "gw-face1", _events((400, ev.ENTRY, 1003, 503, 1)))
    with store.transaction() as conn:
        alarms.shaft_synced(conn, T0 + 500)
    assert "outside_mine:1003" not in alarms.active


def test_a_tag_that_came_back_in_is_not_taken_out_by_a_later_recount(mine):
    _site, store, alarms = mine
    rows = list(SHAFT[:-2])
    rows += [(150, ev.ENTRY, 1003, 503, 3), (300, ev.RECOUNT, COUNTER, 3, 2)]
    _feed(store, alarms, "gw-shaft", _events(*rows))
    assert sorted(alarms.in_mine) == [1001, 1002, 1003]


def _record(station, gid, events):
    # As a link thread stores a catch-up: the page, then the commit with its alarms.
    rec = station.event_record(gid)
    rec.append(events)
    rec.flush()


@pytest.mark.parametrize("recount", [True, False])
def test_serve_restarted_before_the_recount_still_knows_the_kept_in_tag(tmp_path, recount):
    # serve stops between the kept-in exit and the recount (a kill, an upgrade): the new
    # serve rebuilds its view from the record (history.tracked), as occupants --at does.
    from shaftgate.station.serve import Station

    (tmp_path / "site.toml").write_text(SITE)
    site = site_file.load(tmp_path / "site.toml")
    events = _events(*SHAFT)
    station = Station(site, publish=False)
    try:
        _record(station, "gw-shaft", events[:-1])
        _record(station, "gw-face1", _events((50, ev.ENTRY, 1001, 501, 1)))
    finally:
        station.stop()
    station = Station(site, publish=False)
    try:
        view = station.alarms
        assert sorted(view.in_mine) == [1001, 1002, 1003]
        assert view.doubted == {"gw-shaft": {1003: T0 + 100}}
        assert view.at_face == {1001: ("gw-face1", T0 + 50)}
        later = _events((400, ev.ENTRY, 1003, 503, 1))
        later[0]["seq"] = 2
        if recount:
            _record(station, "gw-shaft", events[-1:])
            assert sorted(view.in_mine) == [1001, 1002] and view.out_at[1003] == T0 + 300
        _record(station, "gw-face1", later)
        station.shaft_synced(T0 + 500)
        # Firing: out of the mine by the recount, 1003 at a face is an alarm (R-DATA-4).
        # Not firing: without a recount it is still counted in the mine.
        assert ("outside_mine:1003" in view.active) is recount
    finally:
        station.stop()


def test_who_was_where_follows_the_recount(mine):
    site, store, _alarms = mine
    EventRecord(store, "gw-shaft").append(_events(*SHAFT))

    def shaft_at(dt):
        got = history.occupants_at(store, site, T0 + dt)
        return [o["tag"] for o in got["underground"]["tags"]]

    assert shaft_at(250) == [1001, 1002, 1003]
    assert shaft_at(300) == [1001, 1002]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_recount_events_read_in_both_languages(lang):
    i18n.set_lang(lang)
    try:
        ordered = {"kind": ev.RECOUNT_ORDERED, "tag": COUNTER, "a": 0, "b": 2}
        down = {"kind": ev.RECOUNT, "tag": COUNTER, "a": 3, "b": 2}
        up = {"kind": ev.RECOUNT, "tag": COUNTER, "a": 2, "b": 4}
        texts = [eventtext.describe(e) for e in (ordered, down, up)]
        if lang == "en":
            assert texts[0] == "recount ordered by dispatch: person 503 counted 2 in the zone"
            assert texts[1].startswith("count corrected from 3 to 2 by a physical count")
            assert (
                texts[2].startswith("count RAISED from 2 to 4") and "2 found uncounted" in texts[2]
            )
            assert i18n.alarm_class_name("recount") == "count corrected by a recount"
        else:
            assert texts[0] == "调度下达清点指令：人员 503清点区内 2 人"  # noqa: RUF001
            assert "人数由 3 更正为 2" in texts[1] and "R-CAP-11" in texts[1]
            assert "人数由 2 增至 4" in texts[2] and "发现 2 人未被计数" in texts[2]
            assert i18n.alarm_class_name("recount") == "清点更正人数"
    finally:
        i18n.set_lang(None)


def test_the_recount_order_names_one_zone_and_the_count_it_was_taken_against(capsys):
    for argv in (
        ["recount", "9", "--was", "10", "--counted-by", "503", "--all"],
        [
            "recount",
            "9",
            "--was",
            "10",
            "--counted-by",
            "503",
            "--port",
            "/dev/null0",
            "--gateway",
            "gw-face1=/dev/null1",
        ],
    ):
        assert cli.main([*argv, "--direct"]) == cli.EXIT_USAGE
        assert "a muster counts one zone" in capsys.readouterr().err
    for argv, word in (
        (["recount", "9", "--counted-by", "503", "--port", "/dev/null0"], "--was"),
        (["recount", "9", "--was", "10", "--port", "/dev/null0"], "--counted-by"),
        (["recount", "-1", "--was", "10", "--counted-by", "503", "--port", "/dev/null0"], "-1"),
    ):
        with pytest.raises(SystemExit) as e:
            cli.main([*argv, "--direct"])
        assert e.value.code == cli.EXIT_USAGE
        assert word in capsys.readouterr().err


def test_serve_lets_only_the_withdrawal_authority_order_a_recount(mine):
    site, _store, _alarms = mine
    assert "recount" in site.operators["wang"].authority
    assert "recount" not in site.operators["li"].authority
