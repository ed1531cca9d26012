"""shaftgate demo: the scripted shift on five virtual boards, judged only from what the
demo prints (the dispatch view, fed over gatewire), plus the pieces it is built from."""

import datetime
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway import events as ev
from gateway.caps import LEGAL_CAPS
from shaftgate import roster_csv
from shaftgate.cli import build_parser
from shaftgate.link import client
from shaftgate.link.transport import LinkError
from shaftgate.sim import demo
from shaftgate.sim import view as dispatch_view

SHAFTGATE = Path(sys.executable).with_name("shaftgate")
ROW = re.compile(r"^(gw-\S+)\s+(\S+)\s+(.+?)\s+(\d+)/(\d+)\s")
EVENT = re.compile(r"^\d\d:\d\d:\d\d\s+(gw-\S+)\s+([A-Z_]+)\s+(.*)$")
FACE_KINDS = {
    "gw-shaft": "shaft",
    "gw-face1": "coal face",
    "gw-face2": "FM heading",
    "gw-face3": "D&B heading",
    "gw-face4": "repair point",
}


def node_processes_under(path):
    # Board processes whose settings name this demo home: alive, or zombies nobody reaped.
    marker = str(path).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if b"vboard.mjs" in cmdline and marker in cmdline:
            found.append(int(entry))
    return found


def frames(text):
    # -> [(rows {gateway: (kind, count, cap)}, [(gateway, EVENT_NAME, what)])] per frame.
    out = []
    for block in text.split("=== frame ")[1:]:
        rows = {}
        events = []
        for line in block.splitlines():
            m = ROW.match(line)
            if m:
                rows[m.group(1)] = (m.group(3).strip(), int(m.group(4)), int(m.group(5)))
                continue
            m = EVENT.match(line)
            if m:
                events.append(m.groups())
        out.append((rows, events))
    return out


def has_event(all_events, gateway, name, text=""):
    return any(g == gateway and n == name and text in what for g, n, what in all_events)


@pytest.fixture(scope="module")
def shift(tmp_path_factory):
    # One scripted shift, played once at x200 (about 20 s), as CI runs it: no terminal.
    home = tmp_path_factory.mktemp("demo") / "home"
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(SHAFTGATE),
            "demo",
            "--home",
            str(home),
            "--speed",
            "200",
            "--once",
            "--duration",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {
        "proc": proc,
        "home": home,
        "seconds": time.monotonic() - started,
        "frames": frames(proc.stdout),
        "left": node_processes_under(home),
    }


def test_the_shift_plays_once_and_stops_cleanly(shift):
    proc = shift["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(last) ===" in proc.stdout
    assert "ready: the shift starts at 05:45" in proc.stderr
    assert "(the story has played once); every board is off" in proc.stderr
    assert shift["left"] == []


def test_all_five_gateways_appear_with_their_kinds_and_caps(shift):
    last_rows, _ = shift["frames"][-1]
    assert {g: kind for g, (kind, _, _) in last_rows.items()} == FACE_KINDS
    caps = {g: cap for g, (_, _, cap) in last_rows.items()}
    # The production shift is on (06:00): the regulation's caps (R-CAP-1, -3, -4, -5).
    assert caps["gw-face1"] == LEGAL_CAPS["coal_face"][0] == 25
    assert caps["gw-face2"] == 18
    assert caps["gw-face3"] == 15
    assert caps["gw-face4"] == 8


def test_counts_rise_as_the_crews_go_down_and_reach_their_faces(shift):
    series = {g: [] for g in FACE_KINDS}
    for rows, _ in shift["frames"]:
        for g, (_, count, _) in rows.items():
            series[g].append(count)
    assert series["gw-shaft"][0] == 0
    # 150 on the roster, 3 with expired certificates stay out: 147 go down.
    assert max(series["gw-shaft"]) == 147
    assert max(series["gw-face1"]) == 24
    assert max(series["gw-face2"]) == 13
    assert max(series["gw-face3"]) == 11
    assert max(series["gw-face4"]) == 8
    # The evacuated heading's crew left the mine.
    assert series["gw-shaft"][-1] == 147 - 11


def test_the_repair_point_fills_and_refuses_the_ninth(shift):
    events = [e for _, evs in shift["frames"] for e in evs]
    assert has_event(events, "gw-face4", "CAP_FULL", "8 in zone, cap 8")
    assert has_event(events, "gw-face4", "ENTRY_REFUSED", "(fitter) refused: at the cap")
    assert not has_event(events, "gw-face4", "OVER_CAP_ENTRY")


def test_an_expired_certificate_is_turned_back_at_the_shaft(shift):
    events = [e for _, evs in shift["frames"] for e in evs]
    assert has_event(events, "gw-shaft", "ENTRY_REFUSED", "refused: certificate expired or none")
    assert not has_event(events, "gw-shaft", "UNCERTIFIED_ENTRY")


def test_methane_evacuates_the_heading_which_clears_and_gets_the_all_clear(shift):
    events = [e for _, evs in shift["frames"] for e in reversed(evs)]  # oldest first
    names = [n for g, n, _ in events if g == "gw-face3"]
    for name in ("GAS_OVER", "EVAC_START", "ZONE_CLEAR", "GAS_OVER_END", "EVAC_END"):
        assert name in names, name
    assert names.index("EVAC_START") < names.index("ZONE_CLEAR") < names.index("EVAC_END")
    assert has_event(events, "gw-face3", "EVAC_START", "ordered by gas")
    rows, _ = shift["frames"][-1]
    assert rows["gw-face3"][1] == 0
    saw_alert = any(
        "EVACUATING" in line and "gw-face3" in line
        for line in shift["proc"].stdout.splitlines()
        if line.startswith(" ALERT ")
    )
    assert saw_alert


def test_video_loss_and_hot_work_with_fire_watch(shift):
    events = [e for _, evs in shift["frames"] for e in evs]
    assert has_event(events, "gw-face2", "VIDEO_LOST")
    assert has_event(events, "gw-face2", "VIDEO_OK")
    assert has_event(events, "gw-face1", "PERMIT_ISSUED", "permit 7001")
    assert has_event(events, "gw-face1", "HOT_ON", "(safety inspector)")
    assert has_event(events, "gw-face1", "FIRE_WATCH_START", "1 h 00 min to watch")


def test_serve_kept_the_record_the_view_showed(shift):
    # serve's record (station.db), which the view was fed from; the orders the demo's
    # dispatcher gave went through serve and are stored with who and why.
    conn = sqlite3.connect(shift["home"] / "station.db")
    try:
        rows = conn.execute(
            "SELECT seq, kind FROM events WHERE gateway_id='gw-face3' ORDER BY seq"
        ).fetchall()
        orders = [
            r[0] for r in conn.execute("SELECT command FROM orders WHERE operator='dispatch'")
        ]
    finally:
        conn.close()
    kinds = [k for _, k in rows]
    assert ev.EVAC_START in kinds and ev.EVAC_END in kinds
    seqs = [s for s, _ in rows]
    assert seqs == list(range(1, len(seqs) + 1))
    assert {"roster load", "time-set", "permit issue", "all-clear"} <= set(orders)


def test_ctrl_c_stops_the_demo_and_every_board(tmp_path):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [str(SHAFTGATE), "demo", "--home", str(home), "--plain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert first.startswith("=== frame 1 ===")
        assert len(node_processes_under(home)) == 5
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "(last) ===" in out
    assert "(Ctrl-C); every board is off" in err
    assert node_processes_under(home) == []


# ---- the pieces ----


def test_the_roster_is_deterministic_and_fits_the_caps():
    day = datetime.date(2025, 6, 16)
    people = demo.plan_people(day, {1, 2, 3, 4})
    assert people == demo.plan_people(day, {1, 2, 3, 4})
    assert len(people) == 150
    for field in ("tag_id", "person_id", "name"):
        assert len({getattr(p, field) for p in people}) == 150, field
    expired = [p for p in people if p.expired]
    assert len(expired) == 3 and all(p.cert_expiry < day for p in expired)
    assert all(p.cert_expiry > day for p in people if not p.expired)
    at = {f: [p for p in people if p.face == f and not p.extra] for f in (1, 2, 3, 4)}
    kinds = {1: "coal_face", 2: "fm_heading", 3: "db_heading", 4: "repair"}
    for face, crew in at.items():
        assert len(crew) <= LEGAL_CAPS[kinds[face]][0]
        # R-CAP-7: one crew per working place (support staff belong to none).
        assert len({p.crew for p in crew} - {"support"}) == 1
    assert len(at[4]) == LEGAL_CAPS["repair"][0]
    assert [p.face for p in people if p.extra] == [4]
    # Without a gateway at a face, its crew works the roadways (shaft only).
    assert {p.face for p in demo.plan_people(day, {1})} == {0, 1}


def test_the_roster_goes_through_the_dispatchers_csv_parser(tmp_path):
    people = demo.plan_people(datetime.date(2025, 6, 16), {1, 2, 3, 4})
    entries = demo.write_roster(tmp_path / "roster.csv", people)
    assert [e.tag_id for e in entries] == [p.tag_id for p in people]
    assert entries[0].name == people[0].name
    assert roster_csv.read_roster(tmp_path / "roster.csv") == entries


def test_the_demo_never_wipes_a_folder_it_did_not_make(tmp_path):
    real = tmp_path / "real-home"
    (real / "events").mkdir(parents=True)
    (real / "events" / "gw-1.jsonl").write_text("{}\n")
    with pytest.raises(demo.DemoError, match="not made by the demo"):
        demo.prepare_home(real)
    assert (real / "events" / "gw-1.jsonl").read_text() == "{}\n"
    mine = tmp_path / "demo-home"
    lock = demo.prepare_home(mine)
    (mine / "events").mkdir()
    (mine / "events" / "old.jsonl").write_text("{}\n")
    # A second demo in the same folder would wipe running boards' flash: refused.
    with pytest.raises(demo.DemoError, match="another demo is running"):
        demo.prepare_home(mine)
    assert (mine / "events" / "old.jsonl").exists()
    lock.close()
    demo.prepare_home(mine).close()
    assert not (mine / "events").exists()


def test_options_are_checked_before_anything_starts(capsys):
    parser = build_parser()
    for bad in (["--speed", "0"], ["--speed", "201"], ["--boards", "0"], ["--duration", "-1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["demo", *bad])
    args = parser.parse_args(["demo", "--speed", "30", "--boards", "3", "--once"])
    assert (args.speed, args.boards, args.once, args.duration) == (30.0, 3, True, None)
    assert parser.parse_args(["--home", "x", "demo"]).home == "x"
    assert parser.parse_args(["demo", "--home", "y"]).home == "y"


def test_demo_layout_is_the_sim_mine_with_the_demo_shifts():
    layout = demo.demo_layout(5)
    assert [g for g, _ in layout] == list(FACE_KINDS)
    assert [c["zone_kind"] for _, c in layout] == [
        "shaft",
        "coal_face",
        "fm_heading",
        "db_heading",
        "repair",
    ]
    assert all(c["shifts"] == demo.SHIFTS and c["cameras"] == 1 for _, c in layout)


def _status(**over):
    s = {
        "now_s": 1750000000,
        "uptime_s": 10,
        "occupants": 3,
        "cap": 15,
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
        "ch4_ppm": 2800,
        "co_ppm": 3,
        "last_seq": 9,
        "unacked": 0,
        "permits_active": 0,
    }
    s.update(over)
    return s


def _row(gid, kind, status, error=None):
    return {
        "gateway_id": gid,
        "identity": {"zone_id": gid[3:], "zone_kind": kind, "role": "face"},
        "status": status,
        "error": error,
        "error_for_s": 12.0 if error else None,
    }


def _state(rows):
    return {"rows": rows, "now_s": 1750000000, "utc_offset_min": 480}


def test_view_rows_and_alerts_say_what_is_wrong_first():
    state = _state(
        [
            _row(
                "gw-face3",
                "db_heading",
                _status(
                    evacuating=True,
                    occupants=4,
                    lamp=3,
                    work_allowed=False,
                    gas_ok=False,
                    ch4_ppm=16200,
                ),
            ),
            _row("gw-face9", "repair", None, error="no reply from gateway gw-face9"),
            _row("gw-face2", "fm_heading", _status()),
        ]
    )
    table = [dispatch_view.join(line, None) for line in dispatch_view.table_lines(state["rows"])]
    assert re.search(r"gw-face3\s+face3\s+D&B heading\s+4/15\s.*RED\s+STOPPED\s.*1\.62", table[1])
    assert "EVACUATING, 4 inside" in table[1]
    assert "NO ANSWER for 12 s" in table[2]
    assert re.search(r"gw-face2 .* 3/15 .* GREEN\s+on\s+off\s+0\.28\s+3\s+ok\s+-$", table[3])
    alerts = [dispatch_view.join(line, None) for line in dispatch_view.alert_lines(state)]
    assert len(alerts) == 2
    assert "gw-face3 (D&B heading): EVACUATING, 4 still inside; GAS: CH4 1.62 %" in alerts[0]
    assert "work stopped" in alerts[0]
    assert "gw-face9 (repair point): NO ANSWER" in alerts[1]
    # An 80-column terminal loses columns, never an alert: those wrap.
    screen = dispatch_view.frame_lines(dispatch_view.Dispatch([]), state, 80, 24)
    text = [dispatch_view.join(line, 80) for line in screen]
    assert all(len(line) <= 80 for line in text)
    table_head = next(line for line in text if line.startswith("GATEWAY"))
    assert "ZONE" not in table_head and table_head.endswith("EVAC")
    assert any(re.search(r"gw-face3 .*STOPPED .* EVAC 4$", line) for line in text)
    alert_text = " ".join(line.strip() for line in text if line.startswith(" ")).split()
    assert " ".join(alert_text).count("work stopped") == 1
    assert "gw-face9 (repair point): NO ANSWER for 12 s (R-DATA-1): no reply" in " ".join(
        alert_text
    )


def test_events_read_with_names_from_the_roster_copy(monkeypatch):
    from shaftgate import i18n

    monkeypatch.setitem(i18n._state, "lang", "en")
    people = {512: {"person_id": 512, "name": "Ma Tao", "role": "fitter", "tag_id": 1012}}
    refused = {"kind": ev.ENTRY_REFUSED, "tag": 1012, "a": 512, "b": 10, "time_s": 0}
    assert dispatch_view.event_text(refused, people) == "Ma Tao (fitter) refused: at the cap"
    unknown = {"kind": ev.ENTRY_REFUSED, "tag": 77, "a": 0, "b": 4, "time_s": 0}
    assert dispatch_view.event_text(unknown, people) == "tag 77 refused: not in the roster"
    watch = {"kind": ev.FIRE_WATCH_START, "tag": 512, "a": 7001, "b": 3600, "time_s": 0}
    assert dispatch_view.event_text(watch, people).startswith("watcher Ma Tao (fitter)")
    lost = {"kind": ev.VIDEO_LOST, "tag": 0, "a": 10500, "b": 1, "time_s": 0}
    assert dispatch_view.event_text(lost) == "camera 0: no heartbeat for 10 s"
    assert dispatch_view.event_text(dict(lost, a=-1)) == "camera 0: heartbeat lost"
    ack = {"kind": ev.COMMAND, "tag": 5, "a": 0, "b": 1, "time_s": 0}
    assert client.is_own_ack(ack)
    assert dispatch_view.event_text(dict(ack, tag=13), people) == "all-clear accepted"


def test_lines_are_cut_to_the_terminal_width_in_columns():
    line = [("王伟伟伟", None), ("abc", "alarm")]
    assert dispatch_view.join(line, 9) == "王伟伟伟"
    assert dispatch_view.join(line, None) == "王伟伟伟  abc"
    assert dispatch_view.join(line, 6) == "王伟伟"
    assert dispatch_view.join(line, 11) == "王伟伟伟  a"
    colored = dispatch_view.join(line, None, color=True)
    assert "\x1b[" in colored and colored.endswith("abc\x1b[0m")


def test_a_link_with_no_client_is_shown_as_not_answering(tmp_path):
    # R-DATA-1: before open() or after close() the poller must say the gateway does not
    # answer, not die on the missing client and leave a stale row on screen.
    link = dispatch_view.GatewayLink("gw-face9", "/dev/null", None, tmp_path / "ev.jsonl")
    with pytest.raises(LinkError, match="gw-face9 is not connected"):
        link.command(lambda c: c.all_clear())
    watch = dispatch_view.Dispatch([link], poll_s=0.05)
    watch.start()
    try:
        assert watch.wait_first_poll(5.0)
        row = watch.state()["rows"][0]
    finally:
        watch.stop()
    assert row["error"] == "gateway gw-face9 is not connected" and row["status"] is None
    table = [dispatch_view.join(line, None) for line in dispatch_view.table_lines([row])]
    assert re.search(r"^gw-face9\s+\?\s+\?\s+NO ANSWER for .*not connected$", table[1])
    alerts = [dispatch_view.join(line, None) for line in dispatch_view.alert_lines({"rows": [row]})]
    assert re.search(r"gw-face9 \(\): NO ANSWER for .*not connected$", alerts[0])


def test_mine_time_and_the_view_need_a_demo_that_has_begun(tmp_path):
    clock = demo.MineClock(1750000000, 60.0)
    with pytest.raises(demo.DemoError, match="mine clock was read before it began"):
        clock.now_s()
    clock.begin()
    assert clock.now_s() == 1750000000 and clock.due_ms() >= 0
    unset = demo.Demo(tmp_path / "home", 1, 60.0, sys.stdout, True)
    with pytest.raises(demo.DemoError, match="not set up"):
        unset.play(1.0, True)
    assert not (tmp_path / "home").exists()
