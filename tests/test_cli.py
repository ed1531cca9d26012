# The shaftgate CLI against a fake gateway behind a real pty (pyserial on the host side):
# every --json prints one JSON document, errors print one line to stderr and exit
# non-zero, and bad input or keys send nothing.
import io
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_gateway import KEY, OTHER_KEY, FakeGateway

from gateway import events, reasons
from shaftgate import cli, render
from shaftgate.cli import common
from shaftgate.cli.selfcheck import PtyPeer
from shaftgate.link.client import EVENT_KIND_NAMES
from shaftgate.link.keystore import Keystore, KeystoreError

SHAFTGATE = Path(sys.executable).with_name("shaftgate")
ROSTER = (
    "tag_id,person_id,name,role,cert_expiry,crew\n"
    "1001,501,Zhang Wei,miner,2026-03-31,production\n"
    "1002,502,李娜,welder,2026-03-31,maintenance\n"
)


class Site:
    def __init__(self, home, tmp_path):
        self.home = home
        self.tmp_path = tmp_path
        self.peers = []
        self.gateways = {}

    def add(self, gateway_id, key=KEY):
        gw = FakeGateway(gateway_id, flash_root=str(self.tmp_path / ("flash-" + gateway_id)))
        peer = PtyPeer(gw.handle_on_pty)
        gw.attach(peer.send)
        gw.port = peer.path
        self.peers.append(peer)
        self.gateways[gateway_id] = gw
        path = self.home / "keys" / ("%s.key" % gateway_id)
        path.write_bytes(key)
        path.chmod(0o600)
        return gw

    def close(self):
        for gw in self.gateways.values():
            gw.attach(None)
        for peer in self.peers:
            peer.stop()
            assert not peer.handler_errors


@pytest.fixture
def site(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("SHAFTGATE_HOME", str(home))
    s = Site(home, tmp_path)
    s.add("face-1")
    yield s
    s.close()


def run(*argv):
    out = io.StringIO()
    code = cli.main([str(a) for a in argv], out=out)
    return code, out.getvalue()


def run_json(*argv):
    code, text = run(*argv, "--json")
    assert code == 0, text
    return json.loads(text)


def port(site, gateway_id="face-1"):
    return site.gateways[gateway_id].port


# ---- reads ----


def test_status_json(site):
    doc = run_json("--port", port(site), "status")
    assert doc["gateway_id"] == "face-1"
    assert doc["gateway"]["zone_id"] == "F1"
    assert doc["status"]["cap"] == 25 and doc["status"]["work_allowed"] is True


def test_status_table_and_options_after_the_command(site):
    site.gateways["face-1"].evacuating = True
    code, text = run("status", "--port", port(site))
    assert code == 0
    assert "face-1  zone F1" in text
    assert "WORK STOPPED - EVACUATION" in text
    assert "CH4 2500 ppm (0.25 %)" in text


def test_roster_load_then_occupants_with_names(site, tmp_path):
    gw = site.gateways["face-1"]
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(ROSTER, encoding="utf-8")
    doc = run_json("--gateway", "face-1=%s" % port(site), "roster", "load", csv_path)
    assert doc["entries"] == 2 and doc["parts"] == 1
    assert [e[:3] for e in gw.roster] == [[1001, 501, 1], [1002, 502, 5]]
    gw.cross_in(1002, 502)
    gw.cross_in(1999, 0)
    doc = run_json("--port", port(site), "occupants")
    assert doc["total"] == 2
    assert [(o["tag_id"], o["name"]) for o in doc["occupants"]] == [(1002, "李娜"), (1999, None)]
    code, text = run("--port", port(site), "occupants")
    assert code == 0 and "李娜" in text and "welder" in text and "unknown" in text


def test_roster_with_typos_sends_nothing(site, tmp_path, capsys):
    gw = site.gateways["face-1"]
    csv_path = tmp_path / "roster.csv"
    csv_path.write_text(ROSTER + "1003,503,Wang,minr,2026-02-30,production\n", encoding="utf-8")
    code, out = run("--port", port(site), "roster", "load", csv_path)
    assert code == cli.EXIT_USAGE and out == ""
    err = capsys.readouterr().err
    assert err.startswith(
        "shaftgate: error: roster %s not loaded, nothing was sent: 2 problems" % csv_path
    )
    assert "line 4, column role" in err and "line 4, column cert_expiry" in err
    assert gw.requests == []  # not even a hello: the file is checked before the port opens


def test_events_json_then_nothing_new(site):
    gw = site.gateways["face-1"]
    gw.push_events = False
    for i in range(60):
        gw.now_s += 1
        gw.emit(events.ENTRY, 1000 + i, 500 + i, i + 1)
    doc = run_json("--port", port(site), "events", "--last", 5)
    c = doc["catch_up"]
    assert c["new_events"] == 60 and c["acked_to"] == 60 and c["unacked"] == 0
    assert [e["seq"] for e in doc["recent"]] == [56, 57, 58, 59, 60]
    assert doc["recent"][0]["kind_name"] == "ENTRY"
    assert len(doc["recent"][0]["digest"]) == 32  # hex of 16 bytes
    doc = run_json("--port", port(site), "events", "--last", 2)
    assert doc["catch_up"]["new_events"] == 0
    assert [e["seq"] for e in doc["recent"]] == [59, 60]
    code, text = run("--port", port(site), "events", "--last", 2)
    assert code == 0 and "0 new event(s)" in text and "person 559, 60 in zone" in text


def test_events_without_a_key_are_not_acknowledged(site):
    gw = site.gateways["face-1"]
    (site.home / "keys" / "face-1.key").unlink()
    gw.emit(events.CAP_WARNING, 0, 20, 25)
    doc = run_json("--port", port(site), "events")
    assert doc["catch_up"]["new_events"] == 1 and doc["catch_up"]["acked_to"] is None
    assert "no key for face-1" in doc["ack_note"]
    assert gw.log.acked == 0


def _readline(proc, timeout_s=10.0):
    # A line of the child's stdout, or a failure naming what it said: never a hung test.
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        proc.kill()
        raise AssertionError(
            "no output within %.0f s; stderr: %s" % (timeout_s, proc.stderr.read())
        )
    return proc.stdout.readline()


def test_events_follow_streams_json_lines(site):
    gw = site.gateways["face-1"]
    gw.emit(events.CAP_OK, 0, 3, 25)
    proc = subprocess.Popen(
        [str(SHAFTGATE), "--port", port(site), "events", "--follow", "--json", "--wait", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        first = json.loads(_readline(proc))
        assert first["catch_up"]["new_events"] == 1
        gw.emit(events.EVAC_START, 0, 1, 2)
        line = json.loads(_readline(proc))
        assert (line["seq"], line["kind_name"]) == (2, "EVAC_START")
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert gw.log.acked == 2


def test_events_follow_does_not_acknowledge_its_own_acknowledgements(site):
    # The firmware logs every ack as a COMMAND event; acking those would wake --follow
    # again at once, for ever (seen: 152 ack events in 4 s against a virtual board).
    gw = site.gateways["face-1"]
    gw.log_acks = True
    gw.emit(events.CAP_OK, 0, 3, 25)
    proc = subprocess.Popen(
        [str(SHAFTGATE), "--port", port(site), "events", "--follow", "--json", "--wait", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        json.loads(_readline(proc))
        time.sleep(2.0)  # ten --wait periods with nothing new from the zone
        gw.emit(events.EVAC_START, 0, 1, 2)
        deadline = time.monotonic() + 10
        while True:
            line = json.loads(_readline(proc))
            if line.get("kind_name") == "EVAC_START" or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    # The catch-up's ack and the one for EVAC_START, not one per wake-up.
    assert gw.acks_received <= 3, "follow acked its own acks: %d acks" % gw.acks_received


def test_permits_issue_list_revoke(site):
    gw = site.gateways["face-1"]
    doc = run_json(
        "--port", port(site), "permit", "issue", "--permit-id", 41, "--job-id", 7,
        "--measure-ref", "STM-2025-118", "--end", "+4h", "--workers", "501,502",
        "--fire-watcher", 503, "--hot-work",
    )  # fmt: skip
    assert doc["permit_id"] == 41 and doc["end_s"] - doc["start_s"] == 4 * 3600
    assert gw.permits[41]["workers"] == [501, 502] and gw.permits[41]["flags"] == 1
    doc = run_json("--port", port(site), "permit", "list")
    assert doc["total"] == 1 and doc["permits"][0]["measure_ref"] == "STM-2025-118"
    code, text = run("--port", port(site), "permit", "list")
    assert code == 0
    assert "hot-work" in text and "STM-2025-118" in text
    assert run_json("--port", port(site), "permit", "revoke", 41)["permit_id"] == 41
    assert gw.permits == {}


def test_evacuate_drill_and_all_clear(site):
    gw = site.gateways["face-1"]
    doc = run_json("--port", port(site), "evacuate", "--drill", "--reason", "flood-warning")
    assert doc["drill"] is True and doc["reason"] == "flood-warning"
    assert gw.evacuating and gw.drill
    code, text = run("--port", port(site), "all-clear")
    assert code == 0 and text == "face-1: all clear given\n"
    assert not gw.evacuating
    # R-EVAC-1: a team leader's order relayed by dispatch names the leader.
    doc = run_json("--port", port(site), "evacuate", "--reason", "accident-signs", "--by", 501)
    assert doc["done"] == "EVACUATION ordered by person 501, reason accident-signs"
    kinds = [(r[2], r[3], r[4]) for r in gw.log.since(0, 50)]
    assert (events.EVAC_START, 501, reasons.CAUSE_TEAM_LEADER) in kinds


def test_seal_cap_override_time_set_config(site):
    gw = site.gateways["face-1"]
    assert run("--port", port(site), "seal", "--reason", "old workings")[0] == 0
    assert gw.sealed
    assert run("--port", port(site), "unseal")[0] == 0
    assert not gw.sealed
    before = int(time.time())
    doc = run_json(
        "--port", port(site), "cap-override", 8, "--until", "+2h", "--reason", "roof bolting"
    )
    assert gw.override[0] == 8 and gw.override[2] == "roof bolting"
    assert doc["expiry_s"] == gw.now_s + 7200  # from the gateway's clock, which checks it
    doc = run_json("--port", port(site), "time-set", "--now")
    assert abs(gw.now_s - before) <= 2 and doc["time_s"] == gw.now_s
    run_json("--port", port(site), "time-set", "--time", "2025-06-15T12:00:00+08:00")
    assert gw.now_s == 1749960000
    doc = run_json("--port", port(site), "config", "get", "warn_pct")
    assert doc["settings"] == {"warn_pct": 80}
    doc = run_json("--port", port(site), "config", "set", "warn_pct=85", "zone_id=F2")
    assert gw.config["warn_pct"] == 85 and gw.config["zone_id"] == "F2"
    assert doc["changes"] == {"warn_pct": 85, "zone_id": "F2"}


# ---- errors ----


def test_wrong_key_is_one_line_and_exit_1(site, capsys):
    site.add("face-2", key=OTHER_KEY)  # the host holds OTHER_KEY, the gateway KEY
    code, out = run("--gateway", "face-2=%s" % port(site, "face-2"), "seal")
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and out == ""
    assert err.count("\n") == 1
    assert err.startswith("shaftgate: error: gateway face-2 refused seal: ")
    assert "(auth-bad, field tag)" in err


def test_key_readable_by_others_is_refused_and_nothing_sent(site, capsys):
    gw = site.gateways["face-1"]
    (site.home / "keys" / "face-1.key").chmod(0o644)
    code, _ = run("--gateway", "face-1=%s" % gw.port, "evacuate", "--reason", "fire")
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert "mode 0644: readable or writable by group or others" in err
    assert "chmod 600" in err
    assert gw.requests == [] and not gw.evacuating


def test_keystore_checks(tmp_path):
    store = Keystore(tmp_path / "keys")
    path = store.create("face-7")
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    assert len(store.load("face-7")) == 32
    with pytest.raises(KeystoreError, match="already exists"):
        store.create("face-7")
    path.chmod(0o640)
    with pytest.raises(KeystoreError, match="mode 0640"):
        store.load("face-7")
    path.chmod(0o600)
    path.write_bytes(b"x" * 31)
    with pytest.raises(KeystoreError, match="holds 31 bytes"):
        store.load("face-7")
    with pytest.raises(KeystoreError, match="no key for gateway face-8"):
        store.load("face-8")
    with pytest.raises(KeystoreError, match="is not 1-32 characters"):
        store.key_path("../etc/passwd")
    (tmp_path / "keys").chmod(0o777)
    with pytest.raises(KeystoreError, match="writable by group or others"):
        store.load("face-7")
    (tmp_path / "keys").chmod(0o700)
    counter = store.counter_store("face-7")
    assert counter.load() == 0
    counter.save(1_750_000_000_123)
    assert counter.load() == 1_750_000_000_123
    counter.path.write_text("12x")
    with pytest.raises(KeystoreError, match="not a decimal counter"):
        counter.load()


def test_key_new(tmp_path, capsys):
    key_dir = tmp_path / "k"
    assert cli.main(["--key-dir", str(key_dir), "key", "new", "shaft-1"]) == 0
    out = capsys.readouterr().out
    assert str(key_dir / "shaft-1.key") in out and "mpremote" in out
    assert (key_dir / "shaft-1.key").stat().st_mode & 0o777 == 0o600
    assert cli.main(["key", "new", "shaft-1", "--key-dir", str(key_dir)]) == cli.EXIT_USAGE
    assert "already exists" in capsys.readouterr().err


def test_timeout_exit_3(site, capsys):
    site.gateways["face-1"].silent = True
    code, _ = run("--port", port(site), "--timeout", "0.2", "status")
    err = capsys.readouterr().err
    assert code == cli.EXIT_LINK
    assert "no reply from the gateway on %s to hello" % port(site) in err
    assert err.count("\n") == 1


def test_no_gateway_named(site, capsys):
    assert run("status")[0] == cli.EXIT_USAGE
    assert "which gateway?" in capsys.readouterr().err


def test_missing_port(site, capsys):
    code, _ = run("--port", str(site.tmp_path / "no-such-tty"), "status")
    assert code == cli.EXIT_LINK
    assert "cannot open" in capsys.readouterr().err


def test_bad_arguments_exit_2(site, capsys):
    with pytest.raises(SystemExit) as e:
        run("--port", port(site), "evacuate", "--reason", "because")
    assert e.value.code == 2
    assert "not an evacuation reason" in capsys.readouterr().err
    code, _ = run("--port", port(site), "cap-override", 5, "--until", "tomorrow", "--reason", "x")
    assert code == cli.EXIT_USAGE
    assert "--until: 'tomorrow' is not a time" in capsys.readouterr().err


def test_several_gateways_one_down(site, capsys):
    site.add("face-2")
    site.gateways["face-2"].silent = True
    (site.home / "gateways.toml").write_text(
        '[gateways]\n"face-1" = "%s"\n"face-2" = "%s"\n' % (port(site), port(site, "face-2"))
    )
    code, text = run("--all", "--timeout", "0.2", "evacuate", "--reason", "fire", "--json")
    assert code == cli.EXIT_LINK
    doc = json.loads(text)
    by_id = {g["gateway_id"]: g for g in doc["gateways"]}
    assert by_id["face-1"]["result"]["done"].startswith("EVACUATION ordered")
    assert "no reply" in by_id["face-2"]["error"]["message"]
    assert site.gateways["face-1"].evacuating
    assert "face-2: no reply from gateway face-2" in capsys.readouterr().err
    doc = run_json("--gateway", "face-1", "status")
    assert doc["gateway_id"] == "face-1"


def test_help_and_selfcheck_entry_point():
    out = subprocess.run([str(SHAFTGATE), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for word in ("status", "occupants", "events", "evacuate", "permit", "roster", "selfcheck"):
        assert word in out.stdout
    out = subprocess.run([str(SHAFTGATE), "selfcheck"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "self-check passed" in out.stdout and "\u2717" not in out.stdout


def test_commands_register_from_a_table():
    name = "test-echo"

    @cli.register(name, "echo for this test", "local")
    def _echo(args):
        return 7

    try:
        assert cli.main([name]) == 7
    finally:
        del cli.COMMANDS[name]


def test_every_event_kind_renders():
    from shaftgate import i18n

    i18n.set_lang("en")
    try:
        for kind in EVENT_KIND_NAMES:
            e = {"seq": 1, "time_s": 1_750_000_000, "kind": kind, "tag": 7, "a": 3, "b": 2}
            line = render.event_line(e)
            assert i18n.kind_name(kind) in line and "#1" in line
            assert "a 3, b 2" not in line, line  # every kind is described, none raw
        odd = {"seq": 2, "time_s": 0, "kind": events.ENTRY_REFUSED, "tag": 7, "a": 0, "b": 99}
        assert "tag 7 refused: code 99" in render.event_line(odd)
        assert "kind 4000" in render.event_line(dict(odd, kind=4000))
        assert "tag 7, a 0, b 99" in render.event_line(dict(odd, kind=4000))
    finally:
        i18n.set_lang(None)


# ---- rough edges (issue 12) ----


@pytest.mark.parametrize("bad", ["nan", "inf", "1e10", "0", "-1", "soon"])
def test_a_timeout_that_never_or_instantly_ends_is_refused(site, capsys, bad):
    with pytest.raises(SystemExit) as e:
        cli.main(["--port", port(site), "--timeout", bad, "status"])
    assert e.value.code == cli.EXIT_USAGE
    assert "argument --timeout: %r" % bad in capsys.readouterr().err
    assert run("--port", port(site), "--timeout", "0.5", "status")[0] == 0


def test_json_failure_is_a_json_document(tmp_path, capsys):
    code, out = run("--port", tmp_path / "no-such-port", "status", "--json")
    assert code == cli.EXIT_LINK
    doc = json.loads(out)
    assert doc["error"]["type"] == "LinkError" and "no-such-port" in doc["error"]["message"]
    assert capsys.readouterr().err.startswith("shaftgate: error: ")


def test_config_get_of_no_such_setting_is_an_error_and_set_is_one_line(site, capsys):
    # (the real firmware's answer without the unknown key: tests/test_desk.py)
    code, out = run("--port", port(site), "config", "get", "nosuch")
    assert code != 0 and "nosuch" in capsys.readouterr().err
    code, _ = run("--port", port(site), "config", "set", "ch4_stop_ppm=99999999999999")
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and err.count("\n") == 1 and "out of range" in err
    code, out = run("--port", port(site), "config", "set", "zone_id=工作面一")
    assert code == 0 and 'zone_id="工作面一"' in out and "\\u" not in out
    code, _ = run("--port", port(site), "config", "set", "zone_id=\x1b[2Jx")
    assert code == cli.EXIT_USAGE and "control characters" in capsys.readouterr().err


def test_events_last_0_and_own_acks_are_not_news(site):
    gw = site.gateways["face-1"]
    for n in range(3):
        gw.emit(events.ENTRY, 1000 + n, 500 + n, n + 1)
    code, text = run("--port", port(site), "events", "--last", 0)
    assert code == 0 and "3 new event(s)" in text and "--last 0: none shown" in text
    code, text = run("--port", port(site), "events")
    assert code == 0 and "face-1: 0 new event(s)" in text
    # a gateway logs each acknowledgement (a COMMAND event): not news, said so
    ack = {"seq": 4, "time_s": 1, "kind": events.COMMAND, "tag": 5, "a": 0, "b": 9}
    doc = {
        "catch_up": {
            "gateway_id": "face-1",
            "new_events": 1,
            "events": [ack],
            "acked_to": None,
            "unacked": 1,
            "gaps": [],
            "chain_anchored_at": None,
        },
        "recent": [],
        "last": 20,
    }
    text = render.render_events(doc)
    assert "face-1: 0 new event(s) (and 1 acknowledgement record(s))" in text
    assert "1 unacknowledged on the gateway (not acknowledged by this call)" in text


def test_names_with_escapes_or_nul_are_refused_and_never_printed_raw(tmp_path):
    from shaftgate import roster_csv

    path = tmp_path / "r.csv"
    path.write_text(
        "tag_id,person_id,name,role,cert_expiry,crew\n1001,501,\x1b[31mEvil,miner,none,production\n"
    )
    with pytest.raises(roster_csv.RosterError, match="control characters"):
        roster_csv.read_roster(path)
    path.write_text(
        "tag_id,person_id,name,role,cert_expiry,crew\n1001,501,A\x00B,miner,none,production\n"
    )
    with pytest.raises(roster_csv.RosterError, match="control characters"):
        roster_csv.read_roster(path)
    assert "\x1b" not in render.table(("name",), [("\x1b[2Jboom",)])
    assert "\\x1b[2Jboom" in render.table(("name",), [("\x1b[2Jboom",)])


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("shaftgate ")


def test_ctrl_c_says_what_was_and_was_not_applied(capsys):
    command = cli.COMMANDS["roster load"]
    results = [{"gateway_id": "gw-shaft", "port": "/p0", "result": {}}]
    targets = [("gw-shaft", "/p0"), ("gw-face1", "/p1"), ("gw-face2", "/p2")]
    common._say_interrupted(command, results, targets, 1)
    err = capsys.readouterr().err
    assert "carried out at: gw-shaft" in err and "not sent to: gw-face2" in err
    assert "interrupted at gw-face1: a gateway keeps its old roster" in err


def test_key_rotate_makes_a_new_key_and_commits_it_atomically(tmp_path, capsys):
    keys = tmp_path / "keys"
    assert cli.main(["key", "new", "gw-1", "--key-dir", str(keys)]) == 0
    old = (keys / "gw-1.key").read_bytes()
    assert cli.main(["key", "rotate", "gw-1", "--key-dir", str(keys), "--commit"]) == 2
    assert "no rotation under way" in capsys.readouterr().err
    assert cli.main(["key", "rotate", "gw-1", "--key-dir", str(keys)]) == 0
    new = (keys / "gw-1.key.new").read_bytes()
    assert len(new) == 32 and new != old and (keys / "gw-1.key").read_bytes() == old
    assert cli.main(["key", "rotate", "gw-1", "--key-dir", str(keys)]) == 2  # one at a time
    assert cli.main(["key", "rotate", "gw-1", "--key-dir", str(keys), "--commit"]) == 0
    assert (keys / "gw-1.key").read_bytes() == new and not (keys / "gw-1.key.new").exists()
    assert Keystore(keys).load("gw-1") == new


# ---- orders checked before they are sent, and refusals told clearly ----


def test_hot_work_without_a_fire_watcher_is_a_local_error_and_nothing_is_sent(site, capsys):
    gw = site.gateways["face-1"]
    argv = ["--port", port(site), "permit", "issue", "--permit-id", 5, "--job-id", 6]
    argv += ["--measure-ref", "STM-5", "--end", "+2h", "--workers", "501", "--hot-work"]
    code, out = run(*argv)
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and out == ""
    assert "--hot-work needs --fire-watcher" in err and "R-HOT-2" in err
    assert gw.requests == []  # not even a hello: the port was never opened
    # Not firing: with a fire-watcher it is sent, and the window is told with its zone.
    code, out = run(*argv, "--fire-watcher", 502)
    assert code == 0 and gw.permits[5]["fire_watcher"] == 502
    assert out.count(" UTC") == 2, out


def test_a_permit_ending_before_it_starts_is_a_local_error_in_local_time(site, capsys):
    gw = site.gateways["face-1"]
    argv = ["--port", port(site), "permit", "issue", "--permit-id", 5, "--job-id", 6]
    argv += ["--measure-ref", "STM-5", "--workers", "501", "--key-maintenance"]
    code, _ = run(*argv, "--start", "+2h", "--end", "+1h")
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "is not after --start" in err and " UTC" in err, err
    assert not re.search(r"\d{9,}", err), err  # no raw unix seconds
    assert gw.requests == []


def test_a_negative_cap_says_what_is_wrong(site, capsys):
    with pytest.raises(SystemExit) as e:
        run("--port", port(site), "cap-override", "-1", "--until", "+1h", "--reason", "x")
    assert e.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "cannot be negative" in err and "not a whole number" not in err
    with pytest.raises(SystemExit):
        run("--port", port(site), "cap-override", "eight", "--until", "+1h", "--reason", "x")
    assert "is not a cap" in capsys.readouterr().err
    assert site.gateways["face-1"].requests == []


def test_cap_override_durations_are_those_the_gateway_accepts(site, capsys):
    gw = site.gateways["face-1"]
    for bad in ("+0h", "0s", "+8d", "+604801s"):
        code, _ = run("--port", port(site), "cap-override", 5, "--until", bad, "--reason", "x")
        assert code == cli.EXIT_USAGE, bad
        assert "at most 7 days" in capsys.readouterr().err
    assert gw.requests == []
    # The documented maximum, from the gateway's clock (the fake's is a year behind ours).
    doc = run_json("--port", port(site), "cap-override", 5, "--until", "+7d", "--reason", "x")
    assert doc["expiry_s"] == gw.now_s + 7 * 86400 and gw.override[1] == doc["expiry_s"]
    assert "below_count" not in gw.bodies["cap-override"]
    # An absolute time outside the gateway's window is told in local time, not sent.
    gw.requests.clear()
    code, _ = run(
        "--port", port(site), "cap-override", 5, "--until", "2020-01-02T00:00", "--reason", "x"
    )
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and "gateway's clock (2025-06-1" in err and " UTC" in err, err
    assert "cap-override" not in gw.requests


def test_cap_override_below_the_count_needs_the_flag_and_the_refusal_says_so(site, capsys):
    gw = site.gateways["face-1"]
    gw.refusals["cap-override"] = (
        7,
        "cap-override refused: temporary cap 2 is below the 3 people in the zone; "
        "set below_count to order it anyway (R-CAP-11)",
        "below_count",
    )
    code, _ = run("--port", port(site), "cap-override", 2, "--until", "+1h", "--reason", "x")
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and err.count("\n") == 1
    assert "below the 3 people" in err and "give --below-count" in err, err
    del gw.refusals["cap-override"]
    code, out = run(
        "--port", port(site), "cap-override", 2, "--until", "+1h", "--reason", "x", "--below-count"
    )
    assert code == 0 and gw.bodies["cap-override"]["below_count"] is True
    assert "over the cap now" in out


def test_time_set_backwards_is_asked_for_and_a_refusal_says_how(site, capsys):
    gw = site.gateways["face-1"]
    gw.refusals["time-set"] = (
        7,
        "time-set refused: it would move the clock back 1500 s; more than 2 s back needs "
        "the backwards flag",
        "backwards",
    )
    code, _ = run("--port", port(site), "time-set", "--time", "2025-06-15T14:41:40+00:00")
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and err.count("\n") == 1
    assert "give --backwards" in err and "25 min earlier" in err and " UTC" in err, err
    assert "backwards" not in gw.bodies["time-set"]
    del gw.refusals["time-set"]
    code, out = run(
        "--port", port(site), "time-set", "--time", "2025-06-15T14:41:40+00:00", "--backwards"
    )
    assert code == 0 and gw.bodies["time-set"]["backwards"] is True
    assert "MOVED BACK 25 min" in out and out.count(" UTC") == 2, out
    # Forward: no flag, no warning; the old time is said too.
    code, out = run("--port", port(site), "time-set", "--now")
    assert code == 0 and "MOVED BACK" not in out and "(was " in out, out
    assert "backwards" not in gw.bodies["time-set"]


def test_a_refused_order_is_one_clear_line_naming_the_person(site, capsys):
    gw = site.gateways["face-1"]
    gw.evacuating = True
    gw.refusals["all-clear"] = (
        7,
        "all-clear refused: person 999999 is not in this gateway's roster (R-EVAC-1)",
        "by",
    )
    code, out = run("--port", port(site), "all-clear", "--by", 999999)
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and out == "" and err.count("\n") == 1
    assert "person 999999 is not in this gateway's roster" in err and "field by" in err
    assert "all-clear refused" not in err, err  # the firmware's prefix is said once
    assert gw.evacuating


def test_the_order_events_are_told_in_words_with_both_times():
    old, new = 1_750_000_000, 1_750_000_000 - 1500
    e = {"kind": events.TIME_SET, "tag": old, "a": -1500, "b": 1, "time_s": new, "seq": 9}
    text = render.describe_event(e)
    assert "MOVED BACK 25 min" in text and text.count(" UTC") == 2, text
    e.update(tag=new, a=60, b=0, time_s=new + 60)
    assert "moved +60 s" in render.describe_event(e)
    e.update(tag=0, a=new, b=0, time_s=new)
    assert "it was unset" in render.describe_event(e)
    e = {"kind": events.TIME_BACK_REFUSED, "tag": new, "a": -1500, "b": 0, "time_s": old}
    assert "refused to move the clock back 25 min" in render.describe_event(e)
    e = {"kind": events.CAP_OVERRIDE_REFUSED, "tag": 0, "a": 2, "b": 3, "time_s": old}
    assert render.describe_event(e) == "temporary cap 2 refused: 3 people inside (R-CAP-11)"
    e = {"kind": events.EVAC_END, "tag": 1002, "a": 90, "b": 0, "time_s": old}
    assert render.describe_event(e) == "all clear by person 1002 after 1 min"
    assert EVENT_KIND_NAMES[115] == "TIME_BACK_REFUSED"


def test_cap_override_clear_ends_the_temporary_cap_and_says_when_there_was_none(site, capsys):
    gw = site.gateways["face-1"]
    code, _ = run("--port", port(site), "cap-override-clear")
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and "nothing changed" in err and err.count("\n") == 1
    run_json("--port", port(site), "cap-override", 5, "--until", "+1h", "--reason", "x")
    code, out = run("--port", port(site), "cap-override-clear", "--reason", "done early")
    assert code == 0 and "temporary cap cleared" in out and gw.override is None


# ---- one module per command group, loaded lazily (cli/__init__.py GROUPS) ----


def test_each_command_word_loads_the_groups_that_register_all_its_commands(capsys):
    # A fresh registry for each word: only GROUPS[word] imported; every command of that
    # word must then be there, with its parser.
    everything = set(cli.COMMANDS)
    saved_modules = {m: sys.modules[m] for m in list(sys.modules) if m.startswith("shaftgate.cli.")}
    saved = dict(dict.items(cli.COMMANDS))
    try:
        for word, modules in cli.GROUPS.items():
            dict.clear(cli.COMMANDS)
            cli._loaded.clear()
            for m in list(sys.modules):
                if m.startswith("shaftgate.cli."):
                    del sys.modules[m]
            for module in modules:
                cli.load_group(module)
            got = {n for n in dict.keys(cli.COMMANDS) if n.split()[0] == word}
            want = {n for n in everything if n.split()[0] == word}
            assert got == want, word
            parser = cli.build_parser({word})
            for name in want:  # its parser is there: --help exits 0 with its usage
                with pytest.raises(SystemExit) as done:
                    parser.parse_args([*name.split(), "--help"])
                assert done.value.code == 0
                assert "usage: shaftgate %s" % name in capsys.readouterr().out
    finally:
        dict.clear(cli.COMMANDS)
        dict.update(cli.COMMANDS, saved)
        sys.modules.update(saved_modules)
        cli._loaded.update(cli.GROUP_ORDER)
    assert set(cli.GROUPS) == {n.split()[0] for n in everything}
    assert cli.LANGS == __import__("shaftgate.i18n").i18n.LANGS
    assert (
        cli.DEFAULT_TIMEOUT_S == __import__("shaftgate.link.client").link.client.DEFAULT_TIMEOUT_S
    )


def test_status_json_through_serve_loads_no_gateway_link_code(tmp_path):
    # What a dispatcher's `shaftgate status --all --json` through serve imports: the CLI
    # core, the status group and the socket client; not the serial link, the renderers,
    # i18n's tables, the gateway's own modules or the simulator (python -X importtime
    # showed them as nearly all of its 570-980 ms; docs/serve.md#figures).
    import socket
    import threading

    path = tmp_path / "serve.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    reply = {"ok": True, "data": {"command": "status", "results": [
        {"gateway_id": "gw-1", "zone": "z", "result": {"gateway_id": "gw-1", "status": {"occupants": 3}}}]}}  # fmt: skip
    asked = []

    def answer():
        conn, _ = server.accept()
        with conn, conn.makefile("rwb") as f:
            asked.append(json.loads(f.readline()))
            f.write(json.dumps(reply).encode() + b"\n")
            f.flush()

    threading.Thread(target=answer, daemon=True).start()
    probe = (
        "import sys, json; from shaftgate.cli import main; rc = main(['status', '--all', "
        "'--json']); print(json.dumps(sorted(sys.modules)), file=sys.stderr); sys.exit(rc)"
    )
    env = dict(os.environ, SHAFTGATE_SERVE=str(path), SHAFTGATE_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    server.close()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["result"]["status"]["occupants"] == 3
    assert asked[0]["op"] == "run" and asked[0]["command"] == "status"
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    heavy = [m for m in loaded if m.split(".")[0] in ("gateway", "gatewire", "serial", "paho")]
    heavy += [m for m in loaded if m in ("shaftgate.link.client", "shaftgate.render",
              "shaftgate.i18n", "shaftgate.sim", "shaftgate.station.control", "tomllib")]  # fmt: skip
    assert heavy == []
    assert "shaftgate.cli.gateway" in loaded and "shaftgate.cli.orders" not in loaded
    # and the full command set when the word is unknown: argparse names them all
    bad = subprocess.run([sys.executable, "-m", "shaftgate.cli", "stauts"], capture_output=True,
                         text=True, env=env)  # fmt: skip
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "evacuate" in bad.stderr


def test_commands_read_from_many_threads_at_once_are_all_there():
    # serve's socket threads look commands up at once (the demo loads five rosters in
    # parallel): a fresh process, eight threads, every one must find the command.
    probe = (
        "import threading; from shaftgate import cli\n"
        "got = []\n"
        "ts = [threading.Thread(target=lambda: got.append(cli.COMMANDS.get('roster load')))"
        " for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "assert len(got) == 8 and all(c is not None and c.kind == 'signed' for c in got), got\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_refused_order_is_said_in_chinese_with_the_firmware_words_beside(site, capsys):
    gw = site.gateways["face-1"]
    gw.evacuating = True
    text = "all-clear refused: person 999999 is not in this gateway's roster (R-EVAC-1)"
    gw.refusals["all-clear"] = (7, text, "by")
    code, out = run("--lang", "zh", "--port", port(site), "all-clear", "--by", 999999)
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and out == "" and err.count("\n") == 1
    said = "网关 face-1 拒绝解除撤人：人员 999999 不在本网关名册中（R-EVAC-1）"  # noqa: RUF001
    assert said in err, err
    assert "（拒绝，字段 by）" in err, err  # noqa: RUF001
    assert "〔网关原文：%s〕" % text in err, err  # noqa: RUF001  (the exact words: evidence)
    assert gw.evacuating
