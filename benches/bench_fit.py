"""The firmware on a Raspberry Pi Pico's budget (issue 9 items 2, 4, 7), before and after
the board-fit work: heap and estimated board time of each call, with the firmware loaded
as the .mpy files `shaftgate deploy` ships, under the real MicroPython (WebAssembly).

A shaft gateway with a 2,000-person roster (loaded over the link, as a host does) and 300
people in: first boot, reboot, crossings with events pushed to a host, acks, status, a
roster load and two config-sets, one in place and one that rebuilds the ledger
(benches/fit_work.py, driven by benches/fit_probe.mjs one call per phase). "before" is the firmware at commit BEFORE, built the same way with the mpy-cross options deploy used then.

Heap: this port reclaims garbage only between top-level calls, so a call's figure is
everything it allocated on top of what was live (a board would collect inside it: the
figure is an upper bound, as the strict board profile reads it). Board time: VM time x
(the Pico's published 8-queens time / this VM's), about +-50 %, noisy on a shared machine.
"""

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "host_tools"))

from shaftgate.cli import deploy  # noqa: E402
from shaftgate.cli.deploy import build  # noqa: E402

# main when this round of the board-fit work began (h8-heap; the rounds before began at
# e78c0ef, a607e01, bda9a2d, 7f9cbe0 and 22c9d18); SHAFTGATE_FIT_BEFORE=<commit>
# compares with another.
BEFORE = os.environ.get("SHAFTGATE_FIT_BEFORE", "3836457")
HEAP = 192 * 1024  # a Pico's GC heap
PREFIX = "@@bench "


def _source_tree(commit, dest):
    blob = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "firmware", "protocol"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def flags_at(commit):
    """The mpy-cross options deploy used at commit (none before MPY_CROSS_FLAGS), so that
    "before" is built as it was shipped then."""
    text = subprocess.run(
        ["git", "-C", str(REPO), "show", "%s:host_tools/shaftgate/cli/deploy.py" % commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"^MPY_CROSS_FLAGS = (\(.*?\))", text, re.M)
    return ast.literal_eval(m.group(1)) if m else ()


def transforms_at(commit):
    """Whether deploy at commit rewrote the sources before mpy-cross (the const fallback
    stripped, constants folded across modules, private names shortened:
    deploy.board_texts, h6-heap)."""
    text = subprocess.run(
        ["git", "-C", str(REPO), "show", "%s:host_tools/shaftgate/cli/deploy.py" % commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "def board_texts(" in text


def _plain_texts(board, repo):
    # The sources as they are: a build as deploy made it before it rewrote them.
    texts = {}
    for src, dest in deploy.firmware_sources(board, repo):
        if dest != "main.py":
            texts[dest] = src.read_text(encoding="utf-8")
    return texts, {}, {}


@contextmanager
def _built_with(flags, plain=False):
    if flags is None:
        yield
        return
    kept = deploy.MPY_CROSS_FLAGS, deploy.board_texts
    deploy.MPY_CROSS_FLAGS = tuple(flags)
    if plain:
        deploy.board_texts = _plain_texts
    try:
        yield
    finally:
        deploy.MPY_CROSS_FLAGS, deploy.board_texts = kept


def _build(tmp, repo, flags, plain=False):
    with _built_with(flags, plain):
        return build("pico", tmp, repo=Path(repo))


def probe(repo, flags=None, permit=False, plain=False):
    # permit: a hot-work permit held through the reboot (benches/fit_probe.mjs); plain:
    # built without the source rewriting (a commit from before it, transforms_at).
    with tempfile.TemporaryDirectory(prefix="shaftgate-fit-") as tmp:
        files = _build(tmp, repo, flags, plain)
        proc = subprocess.run(
            ["node", str(REPO / "benches" / "fit_probe.mjs"), tmp] + (["permit"] if permit else []),
            capture_output=True,
            text=True,
            timeout=900,
            cwd=str(REPO),
        )
    for line in proc.stdout.splitlines():
        if line.startswith(PREFIX):
            figures = json.loads(line[len(PREFIX) :])
            figures["mpy_files"] = len(files)
            figures["mpy_bytes"] = sum(size for _, size in files)
            return figures
    raise RuntimeError("fit probe failed:\n" + proc.stderr[-3000:])


# Modules imported on use and let go after (not in the heap after boot): their cost is
# counted while one runs. The rest is imported at boot (gateway.boot) and by the board.
# gateway.bootseq runs the boot up to the zone and interlocks built (with gateway.build,
# which config-set imports too) and both are let go then;
# gateway.restore restores the state snapshot and the log after it (the boot's last
# phases, and config-set), let go once done; gateway.logscan is the event log's recovery,
# let go once the log is open; gateway.permits and gateway.hotwork are imported while a
# permit or a fire watch is held (gateway/interlocks.py), gateway.permitissue only for a
# permit's issue, the listing and the book's restore; gateway.reconfigure is config-set's
# change to the zone in force, imported by it and let go after.
ON_USE = (
    "gateway.config",
    "gateway.rosterload",
    "gateway.commands",
    "gateway.reconfigure",
    "gateway.bootseq",
    "gateway.logscan",
    "gateway.restore",
    "gateway.build",
    "gateway.permits",
    "gateway.hotwork",
    "gateway.permitissue",
    "gateway.recount",
    "gateway.certified",
)


# Imported in the boot's last phases and kept (h7-heap; imported by gateway.app before).
LINK = ("gatewire.messages", "gatewire.frame", "gatewire.auth", "gateway.pushframe")


def module_costs(repo, flags=None, plain=False):
    """{module: bytes of heap it keeps once imported} for the pico build of repo, under the
    real MicroPython (benches/module_cost.mjs), and {module: .mpy bytes}."""
    with tempfile.TemporaryDirectory(prefix="shaftgate-modules-") as tmp:
        files = _build(tmp, repo, flags, plain)
        present = {f[:-4].replace("/", ".") for f, _ in files if f.endswith(".mpy")}
        # The link's code is imported at the boot's end (gateway.app.Gateway._link_in),
        # not by gateway.boot: named here so that the table holds it where it does.
        link = [m for m in LINK if m in present]
        roots = ["gateway.boot"] + link + ["hal.pico"] + [m for m in ON_USE if m in present]
        proc = subprocess.run(
            ["node", str(REPO / "benches" / "module_cost.mjs"), tmp, ",".join(roots)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(REPO),
        )
    for line in proc.stdout.splitlines():
        if line.startswith(PREFIX):
            sizes = {f[:-4].replace("/", "."): n for f, n in files if f.endswith(".mpy")}
            return json.loads(line[len(PREFIX) :])["cost"], sizes
    raise RuntimeError("module cost probe failed:\n" + proc.stderr[-3000:])


def module_rows(before_repo, before_flags, before_plain=False):
    cost, mpy = module_costs(REPO)
    old, _ = module_costs(before_repo, before_flags, before_plain)
    rows = []
    for name, n in sorted(cost.items(), key=lambda kv: -kv[1]):
        where = "on use" if name in ON_USE else ("board" if name.startswith("hal.") else "boot")
        if name in ("gateway.bootseq", "gateway.logscan", "gateway.restore", "gateway.build"):
            where = "boot only"
        was = old.get(name)
        rows.append(
            (name, where, "%d B" % mpy.get(name, 0), "-" if was is None else _kb(was), _kb(n))
        )
    resident = sum(n for k, n in cost.items() if k not in ON_USE)
    was_resident = sum(n for k, n in old.items() if k not in ON_USE)
    rows.append(
        ("all imported at boot (firmware + board)", "", "", _kb(was_resident), _kb(resident))
    )
    return rows


def steady(figures_list):
    # Board times from several runs: each phase's figures from the run where its longest
    # call was shortest (a real long step is long in every run; a busy machine is not).
    out = figures_list[0]
    for other in figures_list[1:]:
        for name, p in other["phases"].items():
            mine = out["phases"].get(name)
            if mine is not None and p["pico_ms_max"] < mine["pico_ms_max"]:
                for k in ("pico_ms_max", "pico_ms_min", "pico_ms_total"):
                    mine[k] = p[k]
    return out


PEAK = "reboot peak (live + allocated, the worst boot phase)"


def _kb(n):
    return "%.1f KB" % (n / 1024)


def _ms(x):
    return "%.0f ms" % x


def _rows(f):
    ph = f["phases"]
    base = f["base"] - f["bench_code"]  # the bench's own code is not on a board

    def on_board(n):
        return n - f["bench_code"]

    def phase(name):
        return ph.get(name, {})

    reboot = phase("reboot")
    # A call's peak: the heap in use when it returned, everything it allocated included
    # (this port collects only between calls), less the bench's own code. The board's
    # modules are in it (imported beside the firmware), as on a Pico.
    overhead = f.get("harness_alloc", 0)

    def peak(name):
        return on_board(ph[name]["peak"] - overhead)

    first = ("first boot", "roster over the link", "fill (300 in)", "ack 300 in", "nothing")
    later = [k for k in ph if k not in first]
    later = [k for k in later if not k.startswith("import") and k != "reboot prepare"]
    later = [k for k in later if k != "reboot" and k != "setup"]
    worst, worst_name = max((peak(k), k) for k in later)
    step_names = (
        "reboot",
        "idle step",
        "ack (steps)",
        "status (steps)",
        "roster-load part (steps)",
        "roster-load last part, commit (steps)",
        "roster-load in tag order, commit (steps)",
        "config-set (steps)",
        "config-set, ledger resized (steps)",
    )
    longest = max(phase(k).get("pico_ms_max", 0) for k in step_names)
    longest_name = max((phase(k).get("pico_ms_max", 0), k) for k in step_names)[1]
    return {
        ".mpy shipped": "%d files, %s" % (f["mpy_files"], _kb(f["mpy_bytes"])),
        "heap after importing the firmware (its code)": _kb(f["code"]),
        "  and the link's code, imported in the boot's last phases (h7-heap)": _kb(
            f.get("link_code", 0)
        ),
        "heap of the Pico's board modules (hal.pico, hal.mcu, ...)": _kb(f.get("board_code", 0)),
        "qstr pools once rebooted (the tables of interned names)": _kb(f.get("qstr_pools", 0)),
        "live heap, reboot done (2,000 roster, 300 in)": _kb(on_board(reboot["live"])),
        "  of which data (not code, not qstr pools)": _kb(
            on_board(reboot["live"])
            - f["code"]
            - f.get("link_code", 0)
            - f.get("board_code", 0)
            - f.get("qstr_pools", 0)
        ),
        "names interned after the reboot (qstrs, the bench's 110 included)": "%d"
        % f.get("qstrs_rebooted", -1),
        PEAK: _kb(peak("reboot")),
        "free of 192 KB at the reboot peak (goal >= 40 KB)": _kb(HEAP - peak("reboot")),
        "worst point after boot (%s)" % worst_name: _kb(worst),
        "free of 192 KB at that point": _kb(HEAP - worst),
        "alloc per crossing call, event pushed (mean)": "%d B"
        % (phase("crossing pushed")["alloc_total"] // phase("crossing pushed")["calls"]),
        "alloc per idle step (mean)": "%d B"
        % (phase("idle step")["alloc_total"] // phase("idle step")["calls"]),
        "alloc, signed ack with 300 in (largest step)": "%d B" % phase("ack (steps)")["alloc_max"],
        "alloc, status (largest step)": "%d B" % phase("status (steps)")["alloc_max"],
        "alloc, roster-load part of 100 (largest step)": _kb(
            phase("roster-load part (steps)")["alloc_max"]
        ),
        "alloc, roster-load commit (largest step)": _kb(
            phase("roster-load last part, commit (steps)")["alloc_max"]
        ),
        "  roster-load commit's peak, live + allocated (free of 192 KB)": "%s (%s)"
        % (
            _kb(peak("roster-load last part, commit (steps)")),
            _kb(HEAP - peak("roster-load last part, commit (steps)")),
        ),
        "Pico time: roster-load commit, longest step (tags in no order / in tag order)": "%s / %s"
        % (
            _ms(phase("roster-load last part, commit (steps)")["pico_ms_max"]),
            _ms(phase("roster-load in tag order, commit (steps)")["pico_ms_max"]),
        ),
        "alloc, config-set (largest step)": _kb(phase("config-set (steps)")["alloc_max"]),
        "  config-set's peak, live + allocated (free of 192 KB)": "%s (%s)"
        % (_kb(peak("config-set (steps)")), _kb(HEAP - peak("config-set (steps)"))),
        "alloc, config-set of ledger_capacity 640 (largest step)": _kb(
            phase("config-set, ledger resized (steps)")["alloc_max"]
        ),
        "  its peak, live + allocated (free of 192 KB)": "%s (%s)"
        % (
            _kb(peak("config-set, ledger resized (steps)")),
            _kb(HEAP - peak("config-set, ledger resized (steps)")),
        ),
        "Pico time: config-set, longest step (in place / ledger rebuilt)": "%s / %s"
        % (
            _ms(phase("config-set (steps)")["pico_ms_max"]),
            _ms(phase("config-set, ledger resized (steps)")["pico_ms_max"]),
        ),
        "Pico time: importing the .mpy (fastest of 3)": _ms(
            phase("import (firmware .mpy)")["pico_ms_min"]
        ),
        "Pico time: reboot after import (%d calls)" % reboot["calls"]: _ms(reboot["pico_ms_total"]),
        "Pico time: boot = import + reboot": _ms(
            phase("import (firmware .mpy)")["pico_ms_min"] + reboot["pico_ms_total"]
        ),
        "Pico time: longest step (%s)" % longest_name: _ms(longest),
        "Pico time: crossing (3 steps + push), mean": _ms(
            phase("crossing pushed")["pico_ms_total"] / phase("crossing pushed")["calls"]
        ),
        "VM-to-Pico factor (8 queens)": "%.1f" % f["pico_factor"],
        "_base": base,
    }


def run():
    with tempfile.TemporaryDirectory(prefix="shaftgate-before-") as old:
        flags = flags_at(BEFORE)
        plain = not transforms_at(BEFORE)
        tree = _source_tree(BEFORE, old)
        before = _rows(probe(tree, flags, plain=plain))
        # The same reboot with a hot-work permit in force: the permit book's code is in
        # the heap only while one is held (gateway/interlocks.py), the worst case.
        was_held = _rows(probe(tree, flags, permit=True, plain=plain))
        modules = module_rows(old, flags, plain)
    after = _rows(steady([probe(REPO), probe(REPO)]))
    held = _rows(probe(REPO, permit=True))
    rows = []
    for key in after:
        if key.startswith("_"):
            continue
        old_key = key
        if key not in before:
            # Row names that carry the phase name may differ: match by prefix.
            stem = key.split("(")[0]
            old_key = next((k for k in before if k.split("(")[0] == stem), None)
        rows.append((key, before.get(old_key, "-") if old_key else "-", after[key]))
        if key.startswith("free of 192 KB at the reboot peak"):
            for k in (PEAK, key):
                name = "  %s, a hot-work permit held" % k.split(" (")[0]
                rows.append((name, was_held[k], held[k]))
    return [
        (
            "Board fit on a Raspberry Pi Pico (192 KB heap): 2,000 roster, 300 in, "
            "firmware as .mpy; before = %s" % BEFORE,
            ["figure", "before", "after"],
            rows,
        ),
        (
            "Each module's own heap once imported (.mpy as deployed, biggest first; imported "
            "in dependency order, the live heap's growth at each); before = %s" % BEFORE,
            ["module", "imported", ".mpy", "heap before", "heap after"],
            modules,
        ),
    ]


if __name__ == "__main__":
    for title, _header, rows in run():
        print(title)
        for r in rows:
            print("  " + "  ".join("%14s" % c for c in r))
