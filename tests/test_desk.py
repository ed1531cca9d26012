# ruff: noqa: RUF001
# `shaftgate alarms` and `alarm ack` through the CLI's entry point against serve and
# virtual boards: open and past alarms, filters, acknowledgement with who, when and a
# note, zh and en. Plus every alarm class serve raises, named and described in both.
import csv
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time

import pytest
from serve_rig import SHAFTGATE, Mine

from gateway import events as ev
from shaftgate import alarmtext, eventtext, i18n
from shaftgate.station import alarms as station_alarms

# What a Chinese mine's Excel saves: GBK, Chinese roles and crews.
ROSTER_GBK = (
    "tag_id,person_id,name,role,cert_expiry,crew\n"
    "1001,501,王伟,班组长,2031-01-01,生产班\n"
    "1002,502,李娜,采掘工,2031-01-01,生产班\n"
).encode("gbk")


@pytest.fixture(scope="module")
def mine(tmp_path_factory):
    home = tmp_path_factory.mktemp("desk") / "mine"
    port = free_port()
    # A board starved of CPU on a loaded machine can be silent for seconds, and serve read
    # the shaft's clock over 30 s off the other board's in a CI run at load 10 (a
    # clock_drift alarm where the test expects none): the desk's tests are about what an
    # alarm shows, not how soon a lost link or a drift is seen (test_serve, test_serve_units).
    serve = 'page = "127.0.0.1:%d"\nclock_drift_s = 3600' % port
    m = Mine(home, 2, extra_serve=serve, link_lost_s=15)
    m.page_url = "http://127.0.0.1:%d/" % port
    try:
        for b in m.boards.values():  # cameras live, gas read: no alarm in the way
            b.gas(0, 0)
            for cam in range(b.cameras):
                b.video(cam, True)
        m.start_serve("--no-publish")
        m.wait(m.all_answering, 30, "every gateway answering")
        (home / "roster.csv").write_bytes(ROSTER_GBK)
        m.cli("time-set", "--now", "--all", "--why", "commissioning", check=True)
        m.cli("roster", "load", str(home / "roster.csv"), "--all", "--why", "名册", check=True)
        m.wait(lambda: not keys(m), 20, "no alarm open after commissioning")
        yield m
    finally:
        m.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keys(m):
    return {a["key"] for a in m.call({"op": "alarms"})["alarms"]}


def test_alarms_listed_filtered_and_acknowledged_in_both_languages(mine, tmp_path):
    face = mine.boards["gw-face1"]
    assert mine.cli("alarms", "--lang", "en").stdout.startswith("no open alarms")
    assert mine.cli("alarms", "--lang", "zh").stdout.startswith("无未处理报警")
    face.cross_in(1002)  # never passed the shaft (R-DATA-4): latched
    face.gas(12000, 0)  # CH4 over the stop level: a condition
    gas_key = "event:gw-face1:gas:1"
    mine.wait(lambda: {"outside_mine:1002", gas_key} <= keys(mine), 20, "both alarms")

    zh = mine.cli("alarms", "--lang", "zh")
    assert zh.returncode == 0, zh.stderr
    assert "气体超限" in zh.stdout and "甲烷 12000 ppm" in zh.stdout
    assert "标签未经井口下井" in zh.stdout and "1002 李娜" in zh.stdout
    assert "未处理" in zh.stdout and "Asia/Shanghai UTC+8" in zh.stdout
    en = mine.cli("alarms", "--lang", "en")
    assert "gas over limit" in en.stdout and "CH4 12000 ppm, limit 10000 ppm" in en.stdout
    assert "tag at a face but out of the mine" in en.stdout and "OPEN" in en.stdout

    # filters: class (either language's name), zone, state; bad input is exit 2
    only_gas = mine.cli("alarms", "--class", "气体超限", "--json")
    assert [a["key"] for a in json.loads(only_gas.stdout)] == [gas_key]
    shaft = json.loads(mine.cli("alarms", "--zone", "shaft", "--json").stdout)
    assert shaft == [], shaft
    bad = mine.cli("alarms", "--class", "nosuch", "--lang", "en")
    assert bad.returncode == 2 and "'nosuch' is not an alarm class" in bad.stderr
    bad = mine.cli("alarms", "--since", "yesterday-ish", "--lang", "zh")
    assert bad.returncode == 2 and "不是时间" in bad.stderr

    # acknowledging the gas alarm stops it ringing, but gas is still high: it stays open
    p = mine.cli("alarm", "ack", gas_key, "--note", "通知瓦斯检查工复查", "--lang", "zh")
    assert p.returncode == 0, p.stderr
    assert "已由 wang 确认" in p.stdout and "情况消除后自动解除" in p.stdout
    assert gas_key in keys(mine)
    acked = json.loads(mine.cli("alarms", "--acked", "--json").stdout)
    assert [(a["key"], a["acked_by"], a["ack_note"]) for a in acked] == [
        (gas_key, "wang", "通知瓦斯检查工复查")
    ]
    unacked = json.loads(mine.cli("alarms", "--unacked", "--json").stdout)
    assert [a["key"] for a in unacked] == ["outside_mine:1002"]
    # a latched alarm is cleared by its acknowledgement
    p = mine.cli("alarm", "ack", "outside_mine:1002", "--note", "visitor pass", "--lang", "en")
    assert p.returncode == 0 and "acknowledged by wang" in p.stdout
    assert "outside_mine:1002" not in keys(mine)
    # the condition alarm clears when the gas is down; its acknowledgement is kept
    face.gas(0, 0)
    mine.wait(lambda: gas_key not in keys(mine), 20, "gas alarm cleared")
    past = mine.cli("alarms", "--history", "--lang", "en")
    assert "cleared" in past.stdout and "wang at " in past.stdout and "visitor pass" in past.stdout
    # acking what is not open is an error, and nobody without the authority may ack
    p = mine.cli("alarm", "ack", gas_key, "--note", "late", "--lang", "en")
    assert p.returncode == 1 and "no open alarm" in p.stderr
    out = tmp_path / "报警.csv"
    p = mine.cli("alarms", "--cleared", "--csv", str(out), "--lang", "zh")
    assert p.returncode == 0, p.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][1] == "类别" and len(rows) == 3
    assert {r[1] for r in rows[1:]} == {"气体超限", "标签未经井口下井"}


def test_history_events_occupants_at_and_trace_through_serve(mine, tmp_path):
    shaft, face = mine.boards["gw-shaft"], mine.boards["gw-face1"]
    shaft.cross_in(1001)
    mine.wait(lambda: _moves(mine, "gw-shaft", 1001) >= 1, 15, "shaft entry recorded")
    face.cross_in(1001)
    mine.wait(lambda: _moves(mine, "gw-face1", 1001) >= 1, 15, "face entry recorded")
    face.cross_out(1001)
    mine.wait(lambda: _moves(mine, "gw-face1", 1001) >= 2, 15, "face exit recorded")

    zh = mine.cli("events", "--person", "王伟", "--lang", "zh")
    assert zh.returncode == 0, zh.stderr
    assert re.search(r"王伟 \(班组长\)，区内 \d 人", zh.stdout) and "离开" in zh.stdout
    assert "gw-shaft" in zh.stdout and "gw-face1" in zh.stdout and "共 3 条事件" in zh.stdout
    out = tmp_path / "events.csv"
    en = mine.cli("events", "--zone", "face1", "--kind", "entry", "--csv", str(out), "--lang", "en")
    assert en.returncode == 0, en.stderr
    assert re.search(r"王伟 \(team leader\), \d in zone", en.stdout) and "exit" not in en.stdout
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") and "王伟" in out.read_text("utf-8-sig")
    bad = mine.cli("events", "--since", "soon", "--lang", "en")
    assert bad.returncode == 2 and "'soon' is not a time" in bad.stderr

    # at the moment between the face entry and exit: in face1 and underground
    doc = json.loads(mine.cli("events", "--person", "1001", "--json").stdout)
    t_in = next(e["time_s"] for e in doc["events"] if e["gateway_id"] == "gw-face1")
    at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t_in))
    p = mine.cli("occupants", "--at", at, "--lang", "zh")
    assert p.returncode == 0, p.stderr
    assert "井下（井口 shaft）：1 人" in p.stdout  # 李娜 went in at the face only
    assert re.search(r"face1（gw-face1）：\d 人", p.stdout)
    assert "王伟" in p.stdout and "班组长" in p.stdout
    # the route: shaft, then face1 and back; working time counts the shaft's stay
    p = mine.cli("trace", "王伟", "--from", "1h", "--lang", "en")
    assert p.returncode == 0, p.stderr
    assert "route of 王伟" in p.stdout and "still inside" in p.stdout
    assert "working time (underground)" in p.stdout and "dwell in face1" in p.stdout
    p = mine.cli("trace", "nobody", "--lang", "en")
    assert p.returncode == 1 and "no one in the roster is 'nobody'" in p.stderr


class Tmux:
    """A detached tmux server of our own (-L): the watch runs in a real terminal."""

    def __init__(self, home, command, env):
        self.sock = "desk-%d" % os.getpid()
        self.raw = home / "watch-raw.log"
        # The terminal's own size, not the caller's: pytest-xdist's workers export COLUMNS,
        # which Rich takes over the window's 150 (the zones then wrap to "(gw-f…").
        base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        self.env = dict(base, LANG="C.UTF-8", TERM="xterm-256color")
        exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in env.items())
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "w",
            "-x",
            "150",
            "-y",
            "45",
            "env %s %s" % (exports, command),
        )
        self.tmux("pipe-pane", "-o", "-t", "w", "cat >> %s" % shlex.quote(str(self.raw)))

    def tmux(self, *args):
        return subprocess.run(
            ["tmux", "-u", "-L", self.sock, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
        )

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "w").stdout

    def keys(self, *keys, literal=False):
        self.tmux("send-keys", "-t", "w", *(["-l"] if literal else []), *keys)

    def bells(self):
        try:
            return self.raw.read_bytes().count(b"\x07")
        except OSError:
            return 0

    def close(self):
        self.tmux("kill-server")


def test_watch_live_in_a_terminal_acks_focuses_and_rings(mine, tmp_path):
    face = mine.boards["gw-face1"]
    face.gas(12500, 0)
    gas_key = "event:gw-face1:gas:1"
    mine.wait(lambda: gas_key in keys(mine), 20, "gas alarm")
    env = {"SHAFTGATE_HOME": str(mine.home), "SHAFTGATE_OPERATOR": "wang"}
    term = Tmux(tmp_path, "%s watch --lang zh" % SHAFTGATE, env)
    try:
        # The whole screen, not its first lines: tmux may be caught mid-draw (a loaded CI).
        last = [""]

        def drawn():
            last[0] = screen = term.screen()
            parts = ("气体超限", "face1 (gw-face1)", "shaft (gw-shaft)", "最新事件")
            return all(p in screen for p in parts) and screen

        try:
            screen = mine.wait(drawn, 20, "watch drawn")
        except AssertionError as e:
            raise AssertionError("%s\nthe screen last seen:\n%s" % (e, last[0])) from None
        assert "未解除报警：1 条" in screen and "face1 (gw-face1)" in screen
        assert "shaft (gw-shaft)" in screen and "最新事件" in screen and "人数/定员" in screen
        mine.wait(lambda: term.bells() >= 1, 10, "the bell for the unacknowledged alarm")
        # a: alarm 1, operator (Enter: wang), a note
        term.keys("a")
        mine.wait(lambda: "确认报警序号" in term.screen(), 5, "ack prompt")
        term.keys("1", "Enter")
        mine.wait(lambda: "操作员 [wang]" in term.screen(), 5, "operator prompt")
        term.keys("Enter")
        term.keys("已通知瓦斯检查工复查", literal=True)
        term.keys("Enter")
        acked = mine.wait(
            lambda: [a for a in mine.call({"op": "alarms"})["alarms"] if a.get("acked_s")],
            10,
            "acknowledged through serve",
        )
        assert (acked[0]["acked_by"], acked[0]["ack_note"]) == ("wang", "已通知瓦斯检查工复查")
        mine.wait(lambda: "已确认" in term.screen(), 5, "shown acknowledged")
        time.sleep(1.0)
        rung = term.bells()
        time.sleep(3.0)  # BELL_EVERY_S is 2: it would have rung again
        assert term.bells() == rung
        # z: focus on face1: the shaft's row is gone
        term.keys("z")
        term.keys("face1", literal=True)
        term.keys("Enter")
        screen = mine.wait(lambda: "仅显示 face1" in term.screen() and term.screen(), 5, "focus")
        assert "shaft (gw-shaft)" not in screen and "face1 (gw-face1)" in screen
        print(screen)  # what the dispatcher sees (pytest -s)
        term.keys("q")
        mine.wait(
            lambda: (
                "no server" in term.tmux("list-sessions").stderr
                or term.tmux("list-sessions").returncode
            ),
            5,
            "quit",
        )
    finally:
        term.close()
        face.gas(0, 0)


CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(tmp_path, *args):
    profile = tmp_path / ("chromium-%d" % len(list(tmp_path.glob("chromium-*"))))
    argv = [CHROMIUM, *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile]
    argv += ["--virtual-time-budget=6000", "--window-size=1280,900", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_big_screen_page_is_read_only_and_shows_the_zones(mine):
    import urllib.error
    import urllib.request

    mine.wait(lambda: mine.all_answering(), 20, "gateways answering")
    with urllib.request.urlopen(mine.page_url + "state.json?lang=en", timeout=10) as r:
        doc = json.loads(r.read())
    assert [z["gateway_id"] for z in doc["zones"]] == ["gw-shaft", "gw-face1"]
    assert doc["labels"]["w_people"] == "people/cap" and doc["now"].endswith("UTC+8")
    assert all(z["cap"] is not None for z in doc["zones"]) and "gw-face1" in doc["series"]
    with urllib.request.urlopen(mine.page_url + "state.json?lang=zh", timeout=10) as r:
        assert json.loads(r.read())["labels"]["w_people"] == "人数/定员"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(mine.page_url, data=b"x", method="POST"))
    assert refused.value.code == 405
    assert mine.page_url.startswith("http://127.0.0.1:")  # loopback unless the site says


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium (./dev setup)")
def test_big_screen_page_in_headless_chromium(mine, tmp_path):
    from PIL import Image

    mine.wait(lambda: mine.all_answering(), 20, "gateways answering")
    dom = chromium(tmp_path, "--dump-dom", mine.page_url + "?lang=zh")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rows = re.findall(r'<tr class="zone-row (\w+)" data-gateway="([\w-]+)">', dom.stdout)
    assert [g for _, g in rows] == ["gw-shaft", "gw-face1"], dom.stdout[-3000:]
    assert all(level in ("ok", "warn", "alarm") for level, _ in rows), rows
    assert "测试矿" in dom.stdout and "采煤工作面" in dom.stdout and "最新事件" in dom.stdout
    shot = tmp_path / "page.png"
    p = chromium(tmp_path, "--screenshot=%s" % shot, mine.page_url + "?lang=zh")
    assert p.returncode == 0 and shot.exists(), p.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 900)
    # The zone rows are bands of their state's colour down the left column: count the
    # bands of row colours along x = 20 (ok, warn, alarm, no link: station/page.py).
    row_colours = {(0x16, 0x65, 0x34), (0xA1, 0x62, 0x07), (0xB9, 0x1C, 0x1C), (0x4B, 0x55, 0x63)}
    column = [image.getpixel((20, y)) for y in range(image.size[1])]
    bands, inside = 0, False
    for px in column:
        hit = px in row_colours
        bands += hit and not inside
        inside = hit
    assert bands == 1 and sum(px in row_colours for px in column) > 80  # two rows, one band
    assert len(image.getcolors(1 << 20)) > 50  # text and chart drawn, not a blank page
    image.save(mine.home / "page-seen.png")  # to look at


def test_roster_show_and_config_get_nosuch_through_serve(mine):
    p = mine.cli("roster", "show", "--lang", "zh")
    assert p.returncode == 0, p.stderr
    assert "王伟" in p.stdout and "班组长" in p.stdout and "生产班" in p.stdout
    assert "共 2 人，2 个网关" in p.stdout
    p = mine.cli("config", "get", "nosuch", "--gateway", "gw-face1")
    assert p.returncode == 1 and "no setting nosuch on gw-face1" in p.stdout + p.stderr
    p = mine.cli("config", "get", "warn_pct", "--gateway", "gw-face1")
    assert p.returncode == 0 and "warn_pct" in p.stdout


def test_permit_history_keeps_revoked_and_live_permits(mine):
    issue = ["permit", "issue", "--gateway", "gw-face1", "--job-id", "1", "--measure-ref", "M-1"]
    issue += ["--end", "+4h", "--workers", "501", "--key-maintenance", "--why", "检修"]
    mine.cli(*issue, "--permit-id", "7001", check=True)
    mine.cli("permit", "revoke", "7001", "--gateway", "gw-face1", "--why", "done", check=True)
    mine.cli(*issue, "--permit-id", "7002", check=True)

    def history():
        p = mine.cli("permit", "history", "--json")
        assert p.returncode == 0, p.stderr
        return {x["permit_id"]: x for x in json.loads(p.stdout)}

    got = mine.wait(lambda: len(history()) == 2 and history(), 15, "both permits recorded")
    assert (got[7001]["state"], got[7001]["closed_by"], got[7001]["issued_by"]) == (
        "revoked",
        "wang",
        "wang",
    )
    assert got[7002]["state"] == "active" and got[7002]["end_s"] > got[7002]["start_s"]
    zh = mine.cli("permit", "history", "--lang", "zh")
    assert "已撤销" in zh.stdout and "有效" in zh.stdout and "时间为 Asia/Shanghai" in zh.stdout


def _moves(m, gid, tag):
    import sqlite3

    conn = sqlite3.connect(m.db, timeout=10)
    try:
        return conn.execute(
            "SELECT COUNT(*) FROM events WHERE gateway_id=? AND tag=? AND kind IN (?,?)",
            (gid, tag, ev.ENTRY, ev.EXIT),
        ).fetchone()[0]
    finally:
        conn.close()


def _raised_kinds():
    # Every kind station/alarms.py and serve.py can raise.
    out = {family for family, _sub, _end in station_alarms._PAIRED.values()}
    out |= {name.lower() for name in _latched_names()}
    out |= {"link_lost", "chain", "headcount", "outside_mine", "two_places", "clock_drift"}
    out.add("feed_late")
    return out


def _latched_names():
    from shaftgate.link.client import event_kind_name

    return [event_kind_name(k) for k in station_alarms.LATCHED_KINDS]


SAMPLES = {
    "link_lost": {"silent_s": 12.0, "error": "no reply"},
    "chain": {"error": "gap 5..9"},
    "headcount": {"faces": {"gw-face1": 9}, "underground": 6},
    "outside_mine": {"tag": 1002, "seq": 4, "time_s": 1},
    "two_places": {"tag": 1002, "gateways": ["gw-face1", "gw-face2"], "seq": 4},
    "clock_drift": {"drift_s": -42.4, "reference": "host"},
    "feed_late": {"owed": 17, "late_s": 95.0},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_alarm_class_serve_raises_is_named_and_described(lang):
    i18n.set_lang(lang)
    try:
        people = eventtext.People({1002: {"person_id": 502, "name": "李娜", "role": "miner"}})
        kinds = _raised_kinds()
        assert kinds <= set(i18n.ALARM_CLASSES), kinds - set(i18n.ALARM_CLASSES)
        for kind in kinds:
            detail = SAMPLES.get(kind) or {"seq": 3, "time_s": 1, "kind": ev.OVERSTAY}
            if "kind" in detail:
                detail = dict(detail, tag=1002, a=502, b=600)
            a = {"key": kind, "kind": kind, "gateway_id": "gw-face1", "zone": "face1"}
            a.update(raised_s=1_750_000_000, text="SERVE'S OWN WORDS", detail=detail)
            text = alarmtext.what(a, people)
            assert text and "SERVE'S OWN WORDS" not in text, kind
            name = i18n.alarm_class_name(kind)
            words = name + text.replace("李娜", "")  # a name is Chinese in either language
            assert (any("\u4e00" <= c <= "\u9fff" for c in words)) == (lang == "zh"), (
                kind,
                name,
                text,
            )
    finally:
        i18n.set_lang(None)
