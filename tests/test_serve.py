# shaftgate serve end to end: virtual boards over ptys, serve started through the CLI's
# entry point, SQLite on disk, the CLI through serve's socket.
import concurrent.futures
import json
import sqlite3
import threading
import time

import pytest
from serve_rig import Mine

from shaftgate.station.control import ControlError

ROSTER = """tag_id,person_id,name,role,cert_expiry,crew
1001,501,Wang Wei,miner,2031-01-01,production
1002,502,Li Na,miner,2031-01-01,production
1003,503,Zhang Lei,fitter,2031-01-01,maintenance
1004,504,Chen Jie,miner,2031-01-01,production
1005,505,Liu Yang,miner,2031-01-01,production
1006,506,Zhao Min,driver,2031-01-01,production
"""


@pytest.fixture(scope="module")
def mine(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve") / "mine"
    m = Mine(home, 3)
    try:
        m.start_serve("--no-publish")
        m.wait(m.all_answering, 30, "every gateway answering")
        (home / "roster.csv").write_text(ROSTER)
        m.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        m.cli(
            "roster",
            "load",
            str(home / "roster.csv"),
            "--all",
            "--why",
            "commissioning",
            check=True,
        )
        yield m
    finally:
        m.close()


def db_rows(m, sql, args=()):
    conn = sqlite3.connect(m.db, timeout=10)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def recorded_to(m, gid):
    return db_rows(m, "SELECT COALESCE(MAX(seq), 0) FROM events WHERE gateway_id=?", (gid,))[0][0]


def alarm_keys(m):
    return {a["key"] for a in m.call({"op": "alarms"})["alarms"]}


def test_orders_go_to_every_gateway_and_are_stored_with_operator_and_reason(mine):
    p = mine.cli("seal", "--all", "--why", "roof fall at the 3rd crosscut")
    assert p.returncode == 0, p.stderr
    assert "done at 3 of 3" in p.stdout
    for gid in ("gw-shaft", "gw-face1", "gw-face2"):
        assert gid in p.stdout
    mine.wait(lambda: all(r["status"]["sealed"] for r in mine.rows().values()), 10, "sealed")
    p = mine.cli("unseal", "--all", "--why", "roof supported again")
    assert p.returncode == 0, p.stderr
    orders = mine.call({"op": "orders", "last": 5})["orders"]
    seal = next(o for o in orders if o["command"] == "seal")
    assert seal["operator"] == "wang"
    assert seal["reason"] == "roof fall at the 3rd crosscut"
    assert [r["gateway_id"] for r in seal["results"]] == ["gw-shaft", "gw-face1", "gw-face2"]
    assert all("result" in r for r in seal["results"])


def test_an_operator_without_the_authority_changes_nothing(mine):
    before = len(mine.call({"op": "orders", "last": 1000})["orders"])
    p = mine.cli("evacuate", "--all", "--reason", "gas", "--why", "test", operator="li")
    assert p.returncode != 0
    assert "no authority" in p.stderr
    p = mine.cli("evacuate", "--all", "--reason", "gas", "--why", "test", operator="nobody")
    assert p.returncode != 0
    assert "not in the site file" in p.stderr
    p = mine.cli("seal", "--gateway", "gw-face1")  # no reason given
    assert p.returncode != 0
    assert "needs a reason" in p.stderr
    assert len(mine.call({"op": "orders", "last": 1000})["orders"]) == before
    assert not any(r["status"]["evacuating"] for r in mine.rows().values())


def test_a_roster_with_typos_through_serve_sends_nothing_and_says_why_in_chinese(mine):
    before = len(mine.call({"op": "orders", "last": 1000})["orders"])
    bad = mine.home / "typos.csv"
    bad.write_text(ROSTER + "9003,9503,Wang,minr,2026-02-30,production\n", encoding="utf-8")
    line = len(ROSTER.splitlines()) + 1
    p = mine.cli("roster", "load", str(bad), "--all", "--why", "typo", "--lang", "zh")
    assert p.returncode == 2, (p.stdout, p.stderr)
    said = "名册 %s 未加载，未发送任何内容：2 处问题" % bad  # noqa: RUF001
    assert said in p.stderr, p.stderr
    assert "第 %d 行，role 列: 'minr' 不是岗位" % line in p.stderr, p.stderr  # noqa: RUF001
    assert len(mine.call({"op": "orders", "last": 1000})["orders"]) == before


def test_reads_through_serve_and_many_dispatchers_at_once(mine):
    def status(_):
        return mine.cli("status", "--all", "--json")

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(status, range(6)))
    for p in runs:
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert {r["gateway_id"] for r in doc["results"]} == {"gw-shaft", "gw-face1", "gw-face2"}
    p = mine.cli("occupants", "--gateway", "gw-shaft")
    assert p.returncode == 0, p.stderr


def test_events_are_stored_then_acknowledged_and_a_tag_outside_the_mine_alarms(mine):
    shaft, face1 = mine.boards["gw-shaft"], mine.boards["gw-face1"]
    shaft.cross_in(1001)
    mine.wait(
        lambda: db_rows(mine, "SELECT 1 FROM events WHERE gateway_id='gw-shaft' AND tag=1001"),
        10,
        "shaft entry stored",
    )
    face1.cross_in(1001)  # down the shaft first: where it should be
    face1.cross_in(1002)  # never passed the shaft (R-DATA-4)
    mine.wait(lambda: "outside_mine:1002" in alarm_keys(mine), 15, "R-DATA-4 alarm")
    assert "outside_mine:1001" not in alarm_keys(mine)
    p = mine.cli("alarms")
    assert p.returncode == 0 and "outside_mine:1002" in p.stdout
    assert "Asia/Shanghai UTC+8" in p.stdout  # the mine's time zone, whatever the host's
    # Everything the gateways logged is in the record, contiguous from seq 1, and the
    # gateways were told they may drop it only after that.
    for gid in ("gw-shaft", "gw-face1"):
        mine.wait(
            lambda gid=gid: recorded_to(mine, gid) >= mine.rows()[gid]["status"]["last_seq"] - 1,
            10,
            "caught up",
        )
        seqs = [
            s
            for (s,) in db_rows(
                mine, "SELECT seq FROM events WHERE gateway_id=? ORDER BY seq", (gid,)
            )
        ]
        assert seqs == list(range(1, len(seqs) + 1))
        assert mine.rows()[gid]["acked_to"] <= seqs[-1]
    p = mine.cli("events", "--gateway", "gw-face1", "--last", "5")
    assert p.returncode == 0, p.stderr
    assert "serve alone acknowledges" in p.stdout
    # The operator checks and acknowledges; the order says who and why.
    p = mine.cli(
        "alarm", "ack", "outside_mine:1002", "--why", "Li Na rode the cage with a visitor pass"
    )
    assert p.returncode == 0, p.stderr
    assert "outside_mine:1002" not in alarm_keys(mine)
    order = mine.call({"op": "orders", "last": 1})["orders"][0]
    assert order["command"] == "alarm ack" and order["operator"] == "wang"
    p = mine.cli("orders", "--last", "3")
    assert "alarm ack" in p.stdout and "Li Na rode the cage" in p.stdout and " CST " in p.stdout


def test_unplugged_board_is_link_lost_misses_the_order_and_comes_back(mine):
    board = mine.boards["gw-face2"]
    board.unplug(reenumerate=True)  # the USB device disappears
    try:
        mine.wait(lambda: "link_lost:gw-face2" in alarm_keys(mine), 15, "link lost alarm")
        p = mine.cli("evacuate", "--all", "--drill", "--reason", "drill", "--why", "monthly drill")
        assert p.returncode == 3, p.stdout + p.stderr
        assert "done at 2 of 3" in p.stdout
        assert "NO ANSWER, not carried out at: gw-face2" in p.stdout
        # The audit keeps which gateway missed the order, and why.
        p = mine.cli("orders", "--last", "1")
        assert "answered 2/3" in p.stdout and "why: monthly drill" in p.stdout, p.stdout
        assert "NOT carried out at gw-face2" in p.stdout, p.stdout
    finally:
        board.replug()
    mine.wait(lambda: mine.rows()["gw-face2"]["answering"], 30, "gw-face2 answering again")
    mine.wait(lambda: "link_lost:gw-face2" not in alarm_keys(mine), 10, "link lost cleared")
    mine.wait(lambda: mine.rows()["gw-shaft"]["status"]["evacuating"], 10, "drill at the shaft")
    assert not mine.rows()["gw-face2"]["status"]["evacuating"]
    p = mine.cli("all-clear", "--all", "--why", "drill over")
    assert p.returncode == 1  # the gateway that missed the drill refuses to end it
    assert "done at 2 of 3; REFUSED or failed at: gw-face2" in p.stdout, p.stdout
    refusal = "all-clear refused: no evacuation is in force: nothing changed"  # the firmware's
    assert (
        "REFUSED 拒绝: gateway gw-face2 refused all-clear: no evacuation is in force: "
        "nothing changed (refused)" in p.stdout
    ), p.stdout
    # serve stored the refusal's parts: the audit reads it in either language
    order = mine.call({"op": "orders", "last": 1})["orders"][0]
    error = next(r["error"] for r in order["results"] if r["gateway_id"] == "gw-face2")
    assert (error["code"], error["request"], error["text"]) == (7, "all-clear", refusal)
    p = mine.cli("orders", "--last", "2", "--lang", "zh")
    assert p.returncode == 0, p.stderr
    said = "网关 gw-face2 拒绝解除撤人：当前未在撤人，未作任何更改（拒绝）"  # noqa: RUF001
    assert "%s〔网关原文：%s〕" % (said, refusal) in p.stdout, p.stdout  # noqa: RUF001
    assert "未连接" in p.stdout and "理由：monthly drill" in p.stdout, p.stdout  # noqa: RUF001
    assert "未在 gw-face2 (face2) 执行：拒绝：" in p.stdout, p.stdout  # noqa: RUF001
    assert "GatewayError" not in p.stdout and "NotConnected" not in p.stdout, p.stdout
    p = mine.cli("orders", "--last", "2", "--lang", "en")
    assert "refused all-clear: no evacuation is in force: nothing changed" in p.stdout
    assert "gateway gw-face2 is not connected" in p.stdout, p.stdout
    assert "NOT carried out at gw-face2 (face2): refused: " in p.stdout, p.stdout


def test_kill_9_and_restart_loses_nothing_and_stores_nothing_twice(mine):
    shaft = mine.boards["gw-shaft"]
    stop = threading.Event()
    before = recorded_to(mine, "gw-shaft")

    def traffic():
        # People through the shaft, in and out, while serve is killed under them; each tag
        # comes back after the doorway's 2 s settle time.
        inside = set()
        tags = (1003, 1004, 1005, 1006)
        n = 0
        while not stop.is_set():
            tag = tags[n % len(tags)]
            n += 1
            if tag in inside:
                shaft.cross_out(tag)
                inside.discard(tag)
            else:
                shaft.cross_in(tag)
                inside.add(tag)
            time.sleep(0.6)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        for pause in (1.7, 2.3, 1.1):
            time.sleep(pause)
            mine.kill_serve()
            time.sleep(0.3)
            mine.start_serve("--no-publish")
        time.sleep(1.0)
    finally:
        stop.set()
        t.join(5)
    mine.wait(mine.all_answering, 30, "answering after restarts")
    for gid in ("gw-shaft", "gw-face1", "gw-face2"):
        mine.wait(
            lambda gid=gid: recorded_to(mine, gid) >= mine.rows()[gid]["status"]["last_seq"] - 1,
            20,
            "%s caught up" % gid,
        )
        seqs = [
            s
            for (s,) in db_rows(
                mine, "SELECT seq FROM events WHERE gateway_id=? ORDER BY seq", (gid,)
            )
        ]
        assert seqs == list(range(1, len(seqs) + 1)), gid  # nothing lost, nothing twice
    assert db_rows(mine, "SELECT * FROM gaps") == []
    assert not [k for k in alarm_keys(mine) if k.startswith("chain:")]
    crossings = db_rows(
        mine,
        "SELECT COUNT(*) FROM events WHERE gateway_id='gw-shaft' AND seq>? AND tag BETWEEN 1003 AND 1006",
        (before,),
    )[0][0]
    assert crossings >= 6


def test_events_another_host_acknowledged_are_still_in_the_record(mine):
    # The lost seq 1088..2176: another host acknowledged events the record did not
    # have yet. While serve runs it cannot (serve holds the port); with serve stopped it
    # can, and serve still records them: the gateway keeps acknowledged events until it
    # needs the room. (When it has reused the room, test_serve_gap.py: a chain alarm.)
    board = mine.boards["gw-face2"]
    direct = "gw-face2=%s" % board.port
    p = mine.cli("events", "--gateway", direct)
    assert p.returncode == 3, p.stdout + p.stderr
    mine.stop_serve()
    board.cross_in(1005)
    p = mine.cli("events", "--gateway", direct)
    assert p.returncode == 0, p.stderr
    assert "acknowledged up to seq" in p.stdout
    mine.start_serve("--no-publish")
    mine.wait(mine.all_answering, 30, "answering")
    mine.wait(
        lambda: recorded_to(mine, "gw-face2") >= mine.rows()["gw-face2"]["status"]["last_seq"] - 1,
        20,
        "recorded",
    )
    # The entry is logged once the doorway settles: wait for it rather than race it.
    mine.wait(
        lambda: db_rows(mine, "SELECT 1 FROM events WHERE gateway_id='gw-face2' AND tag=1005"),
        20,
        "the entry of tag 1005 recorded",
    )
    seqs = [
        s
        for (s,) in db_rows(mine, "SELECT seq FROM events WHERE gateway_id='gw-face2' ORDER BY seq")
    ]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "chain:gw-face2" not in alarm_keys(mine)


def test_a_recount_through_serve_is_an_order_checked_and_alarmed(mine):
    # R-CAP-11 end to end: the recount is an order of the withdrawal authority, for one
    # zone, recorded with who and why; the gateway refuses it below the people it knows by
    # name, and its RECOUNT is latched for acknowledgement.
    face1 = mine.boards["gw-face1"]
    before = mine.rows()["gw-face1"]["status"]["occupants"]
    face1.cross_in(1006)
    mine.wait(
        lambda: db_rows(mine, "SELECT 1 FROM events WHERE gateway_id='gw-face1' AND tag=1006"),
        20,
        "the entry of tag 1006 recorded",
    )
    # serve's status row is polled apart from the events: under load it still read the count
    # before the entry once the entry was recorded, and the recount's `was` was refused.
    was = before + 1
    mine.wait(lambda: mine.rows()["gw-face1"]["status"]["occupants"] == was, 20, "status 1006 in")
    args = ["--counted-by", "503", "--gateway", "gw-face1", "--why", "end-of-shift muster"]
    # Any client's order (the CLI checks its own before sending: test_recount_host.py).
    run = {"op": "run", "command": "recount", "operator": "wang", "reason": "x"}
    run["args"] = {"found": was + 1, "was": was, "counted_by": 503}
    for targets in (None, ["gw-face1", "gw-face2"]):  # serve checks any client's order
        with pytest.raises(ControlError, match="a muster counts one zone"):
            mine.call(dict(run, targets=targets))
    with pytest.raises(ControlError, match="no authority"):
        mine.call(dict(run, targets=["gw-face1"], operator="li"))
    # One found without a tag: the count goes up, and the recount is an alarm to acknowledge.
    p = mine.cli("recount", str(was + 1), "--was", str(was), *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "count RAISED from %d to %d" % (was, was + 1) in p.stdout, p.stdout
    mine.wait(lambda: mine.rows()["gw-face1"]["status"]["occupants"] == was + 1, 10, "raised")
    mine.wait(
        lambda: [k for k in alarm_keys(mine) if k.startswith("event:gw-face1:recount:")],
        10,
        "the recount latched",
    )
    order = mine.call({"op": "orders", "last": 1})["orders"][0]
    assert order["command"] == "recount" and order["operator"] == "wang"
    assert order["reason"] == "end-of-shift muster"
    # Below the named: refused, nothing changed, in the dispatcher's language.
    p = mine.cli("recount", "0", "--was", str(was + 1), *args, "--lang", "zh")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "计数不得低于此数" in p.stdout, p.stdout
    # Back to what it was: the one added had no tag, so a later count may take it off.
    p = mine.cli("recount", str(was), "--was", str(was + 1), *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "count corrected from %d to %d" % (was + 1, was) in p.stdout, p.stdout
    mine.wait(lambda: mine.rows()["gw-face1"]["status"]["occupants"] == was, 10, "lowered")
