"""Heap on the REAL board HAL path (issue 9 items 7-8): the gateway on hal/pico.py and
hal/mcu.py under MicroPython, with stand-ins for what the WebAssembly port lacks
(tests/standin_*.py: machine, rp2, the tick counter), beside the same on the ESP32's
hal/esp32.py (benches/upy_realhal_esp32.py) and on the bench's allocation-free board,
and before/after: the same bench scripts run over the firmware of commit BASE (default
bda9a2d, the tree the clock-seconds time base began from; 7f9cbe0 was the one before;
$SHAFTGATE_BENCH_BASE chooses another), extracted with git archive into
build/bench-before-<BASE>/. Then where the bytes of a
crossing and of a signed ack go, call by call (benches/upy_realhal_parts.py)."""

import os
import shutil
import subprocess
from pathlib import Path

from mpy import REPO, run_script

BASE = os.environ.get("SHAFTGATE_BENCH_BASE", "bda9a2d")
HERE = Path(__file__).resolve().parent
# The bench's side, the same for both trees.
OURS = ("benches/upy_realhal.py", "benches/realhal_work.py", "benches/realhal_figures.py")
OURS += ("tests/standin_machine.py",)
OURS += ("tests/standin_rp2.py", "tests/standin_ticks.py", "tests/standin_micropython.py")
OURS += ("tests/standin_pico.py", "tests/standin_import.py")


def before_tree(base=BASE):
    """The firmware of `base` with this bench's scripts, ready for its own runner."""
    tree = REPO / "build" / ("bench-before-%s" % base)
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", base, "firmware", "protocol", "tests", "benches"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    for name in OURS:
        shutil.copyfile(REPO / name, tree / name)
    (tree / "node_modules").symlink_to(REPO / "node_modules")
    return tree


def run():
    after = run_script(HERE / "upy_realhal.py")
    after.update(run_script(HERE / "upy_realhal_esp32.py"))  # the ESP32's own HAL
    tree = before_tree()
    before = run_script(
        tree / "benches" / "upy_realhal.py", runner=tree / "tests" / "mpy_runner.mjs"
    )
    rows = []
    for key, what in (
        ("crossing_pushed_bytes", "crossing, its event pushed to a host (per crossing)"),
        ("idle_step_bytes", "idle step (a new wall-clock second every 10th)"),
        ("status_bytes", "status (one step)"),
        ("events_since_32_bytes", "events-since, 32 events (one step)"),
        ("signed_ack_bytes", "signed ack with 300 in (one step)"),
    ):
        rows.append(
            (
                what,
                before["realhal_" + key],
                after["realhal_" + key],
                after["esp32hal_" + key],
                after["benchboard_" + key],
            )
        )
    # Where it goes, call site by call site (benches/upy_realhal_parts.py), this tree only.
    parts = run_script(HERE / "upy_realhal_parts.py")
    part_rows = []
    for prefix, what in (
        ("crossing_", "per crossing"),
        ("ack_", "signed ack, one step"),
        ("append_", "an event's append, each call"),
        ("check_", "a stored record's crc check"),
    ):
        for key in sorted(k for k in parts if k.startswith(prefix)):
            name = key[len(prefix) :]
            part_rows.append(("%s: %s" % (what, name), parts[key]))
    return [
        (
            "Heap on the real HAL path (hal/pico.py + hal/mcu.py over stand-in machine, rp2; "
            "the ESP32's: hal/esp32.py + hal/mcu.py), bytes; shaft, 2,000 in the roster, 300 in",
            [
                "allocated by",
                "before (%s)" % BASE,
                "after",
                "after, ESP32's HAL",
                "after, bench board",
            ],
            rows,
        ),
        (
            "Where it goes on the real HAL path, bytes (each call with its callees)",
            ["call", "after"],
            part_rows,
        ),
    ]
