"""shaftgate deploy without a board: the build (what goes on a Pico or an ESP32, compiled
by mpy-cross, loadable by MicroPython), the provisioning files, the plan of mpremote
steps, and their execution against a stand-in for mpremote that records its arguments.
Copying onto a real board is the bench's part (docs/hil.md)."""

import ast
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import config as gateway_config
from gatewire import cbor
from shaftgate import cli
from shaftgate.cli import deploy
from shaftgate.link.keystore import Keystore

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = {}
    for board in deploy.BOARDS:
        d = tmp_path_factory.mktemp("build-" + board)
        out[board] = (d, deploy.build(board, d))
    return out


def _config_file(tmp_path, **settings):
    path = tmp_path / "face.json"
    base = {"zone_id": "face1", "zone_kind": "coal_face", "role": "face", "cameras": 2}
    base.update(settings)
    path.write_text(json.dumps(base))
    return path


@pytest.mark.parametrize("board", deploy.BOARDS)
def test_the_build_holds_what_the_board_runs_and_nothing_else(built, board):
    tree = built[board][0] / "board"
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
    other = "esp32" if board == "pico" else "pico"
    assert "main.py" in names
    assert "hal/%s.mpy" % board in names
    assert "hal/%s.mpy" % other not in names and "hal/virtual.mpy" not in names
    assert not [n for n in names if n.endswith(".py") and n != "main.py"]
    assert not [n for n in names if n.startswith("jig")]
    for n in names:
        if n.endswith(".mpy"):
            head = (tree / n).read_bytes()[:2]
            assert head == b"M\x06", "%s: not a version 6 .mpy file (%r)" % (n, head)
    sources = {dest for _, dest in deploy.firmware_sources(board)}
    assert len(names) == len(sources) == len(built[board][1])


@pytest.mark.parametrize("board", deploy.BOARDS)
def test_every_module_the_firmware_imports_is_in_the_build(built, board):
    tree = built[board][0] / "board"
    have = {
        str(p.relative_to(tree).with_suffix("")).replace("/", ".").removesuffix(".__init__")
        for p in tree.rglob("*.*")
    }
    missing = []
    for src, dest in deploy.firmware_sources(board):
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in deploy.FIRMWARE_DIRS and name not in have:
                    missing.append("%s imports %s" % (dest, name))
    assert not missing, missing


def test_the_clean_step_removes_firmware_and_keeps_the_data(tmp_path):
    board = tmp_path / "board"
    for name in ("gateway/app.py", "gateway/app.mpy", "hal/pico.mpy", "gatewire/cbor.mpy"):
        (board / name).parent.mkdir(parents=True, exist_ok=True)
        (board / name).write_text("old")
    (board / "main.py").write_text("old")
    (board / "data").mkdir()
    (board / "data" / "ev00000001").write_text("the event log")
    (board / "boot.py").write_text("the owner's")
    exec(deploy.clean_script(str(board) + "/"), {})
    left = sorted(str(p.relative_to(board)) for p in board.rglob("*"))
    assert left == ["boot.py", "data", "data/ev00000001"]
    namespace = {}
    exec(deploy.no_config_script(str(board) + "/"), namespace)
    (board / "data" / "config.cbor").write_bytes(b"\xa0")
    with pytest.raises(SystemExit, match="configured already"):
        exec(deploy.no_config_script(str(board) + "/"), {})


@pytest.mark.skipif(not RUNTIME.exists(), reason="MicroPython runtime not installed")
def test_the_built_mpy_files_load_under_micropython(built, tmp_path):
    tree = built["pico"][0] / "board"
    script = tmp_path / "load.mjs"
    script.write_text(
        """
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
const { loadMicroPython } = await import(pathToFileURL(%s).href);
const mp = await loadMicroPython({heapsize: 4 << 20, linebuffer: true,
  stdout: (l) => process.stdout.write(l + "\\n"), stderr: (l) => process.stdout.write(l + "\\n")});
function copy(h, v) {
  mp.FS.mkdirTree(v);
  for (const e of fs.readdirSync(h, {withFileTypes: true})) {
    const hp = path.join(h, e.name), vp = v + "/" + e.name;
    if (e.isDirectory()) copy(hp, vp); else mp.FS.writeFile(vp, fs.readFileSync(hp));
  }
}
copy(%s, "/board");
try {
  mp.runPython(`
import sys
sys.path[:] = ["/board"]
import gateway.app, gateway.boot, gatewire.frame, hal.clock, hal.readerline, hal.gasloop
print("loaded", gateway.app.__file__)
`);
} catch (e) { console.log(String(e).slice(0, 2000)); }
"""
        % (json.dumps(str(RUNTIME)), json.dumps(str(tree)))
    )
    run = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert "loaded /board/gateway/app.mpy" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]


def test_config_is_checked_as_the_gateway_checks_it(tmp_path):
    cfg = deploy.load_config(_config_file(tmp_path), "gw-face1")
    assert cfg["gateway_id"] == "gw-face1" and cfg["cameras"] == 2
    assert cfg == gateway_config.apply(gateway_config.defaults(), cfg)
    bad = [
        ({"gateway_id": "gw-other"}, "must agree"),
        ({"ch4_evac_ppm": 5000}, "ch4_evac_ppm"),
        ({"zone_kind": "shaft"}, "zone_kind"),
        ({"speed": 3}, "unknown setting"),
    ]
    for settings, words in bad:
        with pytest.raises(deploy.DeployError, match=words):
            deploy.load_config(_config_file(tmp_path, **settings), "gw-face1")
    (tmp_path / "broken.json").write_text("{zone_id: face1}")
    with pytest.raises(deploy.DeployError, match="not JSON"):
        deploy.load_config(tmp_path / "broken.json", "gw-face1")
    with pytest.raises(deploy.DeployError, match="gateway id"):
        deploy.load_config(_config_file(tmp_path), "../etc")


def test_dry_run_plans_every_step_and_touches_no_key(tmp_path):
    keys = Keystore(tmp_path / "keys")
    p = deploy.plan(
        "/dev/ttyACM0",
        "esp32",
        "gw-face1",
        _config_file(tmp_path),
        keys,
        tmp_path / "build",
        dry_run=True,
    )
    assert p.key_created and not keys.has_key("gw-face1")
    assert [s.what.split()[0] for s in p.steps] == ["check", "remove", "copy", "provision", "reset"]
    assert all(s.argv[3:5] == ["connect", "/dev/ttyACM0"] for s in p.steps)
    provision = p.steps[3].argv
    assert ":/data/gateway.key" in provision and ":/data/config.cbor" in provision
    config = cbor.loads((tmp_path / "build" / "provision" / "config.cbor").read_bytes())
    assert config["gateway_id"] == "gw-face1" and config["zone_kind"] == "coal_face"
    copy = p.steps[2].argv
    for d in deploy.FIRMWARE_DIRS:
        assert ":" + d in copy
    assert p.steps[1].argv[-1] == deploy.clean_script()
    text = deploy.describe(p, True)
    assert "would be created" in text and "reset" in text
    replacing = deploy.plan(
        "/dev/ttyACM0",
        "esp32",
        "gw-face1",
        _config_file(tmp_path),
        keys,
        tmp_path / "build",
        dry_run=True,
        replace_config=True,
    )
    assert replacing.steps[0].what.startswith("remove")


def test_deploy_runs_its_steps_in_order_and_stops_at_a_failure(tmp_path, monkeypatch):
    record = tmp_path / "calls.jsonl"
    fake = tmp_path / "fake_mpremote.py"
    fake.write_text(
        "import json, sys\n"
        "with open(%r, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        "if 'reset' in sys.argv and %r in __import__('os').environ:\n"
        "    sys.exit('could not enter raw repl')\n" % (str(record), "FAIL_RESET")
    )
    keys = Keystore(tmp_path / "keys")
    p = deploy.plan(
        "/dev/ttyACM9",
        "pico",
        "gw-face1",
        _config_file(tmp_path),
        keys,
        tmp_path / "build",
        mpremote="%s %s" % (sys.executable, fake),
    )
    key_file = keys.key_path("gw-face1")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(key_file.read_bytes()) == 32
    said = []
    deploy.execute(p, said.append)
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    assert [c[:2] for c in calls] == [["connect", "/dev/ttyACM9"]] * 5
    assert calls[-1][2:] == ["reset"] and len(said) == 5
    record.unlink()
    monkeypatch.setenv("FAIL_RESET", "1")
    with pytest.raises(deploy.DeployError, match=r"step 5 \(reset the board.* failed"):
        deploy.execute(p, said.append)
    assert len(record.read_text().splitlines()) == 5


def test_the_cli_runs_deploy(tmp_path, capsys):
    args = [
        "--home",
        str(tmp_path / "home"),
        "deploy",
        "--port",
        "/dev/ttyACM0",
        "--board",
        "pico",
        "--gateway-id",
        "gw-face2",
        "--config",
        str(_config_file(tmp_path)),
        "--build-dir",
        str(tmp_path / "build"),
        "--dry-run",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "gateway gw-face2 on a pico" in out and "mpremote connect /dev/ttyACM0" in out
    no_port = [a for a in args if a not in ("--port", "/dev/ttyACM0")]
    assert cli.main(no_port) == 2
    assert "--port" in capsys.readouterr().err


def test_frozen_deploy_copies_main_py_alone_and_removes_the_old_firmware(tmp_path):
    # The ESP32 runs the frozen image: its file system gets main.py, and the firmware
    # folders a .mpy deploy left there are removed (they would shadow the frozen modules).
    p = deploy.plan(
        "/dev/ttyUSB0",
        "esp32",
        "gw-face1",
        _config_file(tmp_path),
        Keystore(tmp_path / "keys"),
        tmp_path / "build",
        dry_run=True,
        frozen=True,
    )
    assert p.files == [("main.py", (tmp_path / "build/board/main.py").stat().st_size)]
    assert "gateway/app.py" in p.frozen and "hal/esp32.py" in p.frozen
    assert "hal/pico.py" not in p.frozen
    copy = p.steps[2].argv
    assert copy[copy.index("connect") + 2 :] == [
        "fs",
        "cp",
        str(tmp_path / "build/board/main.py"),
        ":main.py",
    ]
    assert p.steps[1].argv[-1] == deploy.clean_script()
    for d in deploy.FIRMWARE_DIRS:
        assert repr("/" + d) in deploy.clean_script()
    assert "frozen image: %d modules" % len(p.frozen) in deploy.describe(p, True)
    # Without --frozen the same board gets every module as .mpy.
    whole = deploy.plan(
        "/dev/ttyUSB0",
        "esp32",
        "gw-face1",
        _config_file(tmp_path),
        Keystore(tmp_path / "keys"),
        tmp_path / "build2",
        dry_run=True,
    )
    assert len(whole.files) == len(p.frozen) + 1 and whole.frozen == ()


def test_frozen_deploy_refuses_a_module_that_would_shadow_the_image(tmp_path):
    repo = tmp_path / "repo"
    for d in ("firmware", "protocol"):
        shutil.copytree(REPO / d, repo / d, ignore=shutil.ignore_patterns("__pycache__"))
    files = [("main.py", 10), ("gateway/app.mpy", 100), ("hal/esp32.mpy", 50)]
    copy, frozen = deploy.frozen_split("esp32", files, repo)
    assert copy == [("main.py", 10)] and "gateway/app.py" in frozen
    # A module the image lacks inside a frozen package: the fs folder would hide the
    # whole frozen package, so it is refused, naming the file.
    with pytest.raises(deploy.DeployError, match=r"gateway/extra\.mpy is not in the esp32 image"):
        deploy.frozen_split("esp32", [*files, ("gateway/extra.mpy", 20)], repo)
    with pytest.raises(deploy.DeployError, match="would shadow"):
        deploy.frozen_split("esp32", [("gatewire.mpy", 20)], repo)
    # A module of its own, outside every frozen package, is copied.
    assert deploy.frozen_split("esp32", [("site_extra.mpy", 20)], repo)[0] == [
        ("site_extra.mpy", 20)
    ]
    (repo / "firmware/boards/esp32/manifest.py").write_text("include('nowhere/manifest.py')\n")
    with pytest.raises(deploy.DeployError, match="manifest"):
        deploy.frozen_split("esp32", files, repo)


def test_the_cli_takes_frozen(tmp_path, capsys):
    args = [
        "--home",
        str(tmp_path / "home"),
        "deploy",
        "--port",
        "/dev/ttyUSB0",
        "--board",
        "esp32",
        "--gateway-id",
        "gw-face3",
        "--config",
        str(_config_file(tmp_path)),
        "--build-dir",
        str(tmp_path / "build"),
        "--dry-run",
        "--frozen",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "frozen image:" in out and "1. " in out and ":main.py" in out
    assert ":gateway" not in out
