"""The firmware on each board profile (docs/hardware.md, "Board profiles"): the deployed
.mpy files on a virtual board held to the profile's heap, watchdog and board time.

Per profile: heap in use at its peak after each call (boot, reboot with a 2,000-person
roster and 300 in the zone, and under load: crossings and a signed ack) with the headroom
left, and the estimated board ms of the boot, an idle step, a crossing's longest step
and the ack's step, each beside its limit. A board that breaks its profile shows what
broke it (a MemoryError names the call) instead of figures.

After the reboot, the commands that reshape the gateway's memory, each on every profile
(issue 9 items 3 and 8): a roster load of 2,000 over the link (20 parts of 100, the last
one committing), a config-set in place and one of `ledger_capacity` 640 (the ledger
rebuilt, gateway/reconfigure.py), each with the heap its heaviest step needed (live when
the step began and all it allocated, garbage included, as the profile reads it; frozen:
less the .mpy bytes of every module imported by then) set against the board's heap, and
its longest step in board ms. These boards run the profile with a larger heap
(MEASURE_HEAP_KB), so that a step that would not fit is measured whole rather than ended.
Before and after side by side: the same bench over the firmware of BEFORE
($SHAFTGATE_BOARDS_BEFORE, extracted with git archive; "none" skips it).

    ./dev bench boards
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import fit_work
import gateway_work

from shaftgate.link.client import GatewayClient, GatewayError
from shaftgate.link.keystore import MemoryCounter
from shaftgate.link.transport import LinkError, SerialTransport
from shaftgate.vboard import BoardCrashed, BoardError, VirtualBoard, profiles

PROFILES = ("pico", "esp32", "esp32-frozen")  # loose has no board time to report
BOOT_TIMEOUT_S = 300
WAIT_S = 120
CROSSINGS = 10
MEASURE_HEAP_KB = 512  # the commands' boards: measured whole, set against the board's heap
REPO = Path(__file__).resolve().parents[1]
# main when the esp32 figures were first measured (h8-esp32): before h7-config's
# config-set without a second zone and h7-heap's boot (the board-fit round's "before").
BEFORE = os.environ.get("SHAFTGATE_BOARDS_BEFORE", "e78c0ef")
# The commands measured after the reboot, in this order (the roster first, as bench fit
# does: the larger ledger would then weigh on its commit).
COMMANDS = (
    ("reboot_live", "rebooted, no command yet: the heap in use after the boot"),
    ("roster", "roster load, 2,000 in 20 parts (parts 1-19)"),
    ("roster_commit", "roster load, the last part (the commit)"),
    ("config_set", "config-set in place (warn_pct)"),
    ("config_ledger", "config-set of ledger_capacity 640 (ledger rebuilt)"),
)


def _idle(board, label, steps=20):
    board.mark(label)
    return board.wait_status(
        lambda s: (s.get("window") or {}).get("mark") == label and s["window"]["steps"] >= steps,
        WAIT_S,
    )["window"]


def _fresh(board):
    """A report sent after the step that did the last thing asked (its window complete)."""
    board.sync(WAIT_S)
    steps = board.status()["steps"]
    return board.wait_status(lambda s: s["steps"] > steps and "window" in s, WAIT_S)


def _reboot_flash(into):
    """Flash as a shaft gateway leaves it: 2,000 in the roster, 300 in the zone, acked,
    made by the firmware itself under CPython (benches/gateway_work.py)."""
    shaft = gateway_work.Shaft()
    for f in Path(shaft.board.flash.root).iterdir():
        shutil.copyfile(f, into / f.name)


def _command(board, row, name, send):
    """One command's figures: the heaviest step's heap need and the longest step."""
    steps = board.status().get("steps") or 0
    board.mark(name)
    try:
        send()
    except (GatewayError, LinkError) as e:
        # Refused, or no reply: a board that crashed says why (BoardCrashed, in
        # _measure); otherwise the row says which command went unanswered, and the
        # commands after it are not measured.
        if board.crashed is not None:
            raise BoardCrashed(board.name, board.crashed, board.log_path) from e
        row["died"] = "%s: %s" % (name, str(e).splitlines()[0][:120])
        return False
    s = _fresh(board)
    if s["steps"] < steps:
        # The board was reset during the command (a fault resets it): its window holds
        # a boot, not the command's steps alone. Said in the row, figures kept.
        row["reset_in"] = row.get("reset_in") or name
    w = s["window"]
    # Frozen: less the bytecode imported by then (the command's on-use modules too).
    row[name + "_needed"] = max(row.get(name + "_needed", 0), w["heap_data_peak"])
    row[name + "_ms"] = max(row.get(name + "_ms", 0), w["max_ms"])
    return True


def _commands(board, client, row):
    parts = fit_work.ROSTER // fit_work.PART
    entries = [fit_work._roster_entry(k) for k in range(fit_work.ROSTER)]
    load_id = 9
    for i in range(parts):
        fields = dict(
            load_id=load_id,
            part=i,
            parts=parts,
            entries=entries[i * fit_work.PART : (i + 1) * fit_work.PART],
            total=fit_work.ROSTER,
        )
        name = "roster_commit" if i == parts - 1 else "roster"
        if not _command(
            board, row, name, lambda f=fields: client.request("roster-load", WAIT_S, **f)
        ):
            return
    if _command(board, row, "config_set", lambda: client.config_set({"warn_pct": 85}, WAIT_S)):
        _command(
            board,
            row,
            "config_ledger",
            lambda: client.config_set({"ledger_capacity": 640}, WAIT_S),
        )


def _measure(profile, workdir, scenario, repo=None, commands=False):
    row = {"profile": profile, "scenario": scenario}
    board_profile = profile
    if commands:
        # Measured, not held: the profile's heap made larger, so that a step is measured
        # whole (this port grows its heap where a board would collect inside the step,
        # and the strict profile ends the board there); its need is then set against the
        # board's heap. Board time, HAL charge and frozen accounting are the profile's.
        board_profile = profiles.variant(profile, heap_kb=MEASURE_HEAP_KB)
        row["board_heap"] = profiles.resolve(profile)["heap_kb"] * 1024
    # The watchdog counts but never bites here, so that a boot past it is measured (and
    # shown past 100 %) rather than reset in a loop.
    board = VirtualBoard(
        "%s-%s%s" % (profile, scenario, "-commands" if commands else ""),
        workdir,
        profile=board_profile,
        cameras=1,
        watchdog_bites=False,
        repo=repo,
    )
    key = gateway_work.KEY
    board.provision(key=key, config=gateway_work.CONFIG)
    if scenario == "reboot":
        _reboot_flash(board.flash_dir)
    try:
        board.start(BOOT_TIMEOUT_S)
        boot = board.boot_report
        row["boot_ms"] = boot["boot_board_ms"]
        row["boot_phases"] = boot["boot_phases"]
        row["boot_heap"] = boot["heap"]["used_peak"]
        row["heap_limit"] = boot["heap"]["limit"]
        row["code_bytes"] = boot["heap"].get("code_bytes", 0)
        board.video(0, True)
        board.gas(2000, 0)
        _idle(board, "settle", 50)  # video and gas coming on change state: saved once
        row["idle_ms"] = _idle(board, "idle", 50)["max_ms"]
        # Load on both: crossings (unknown tags on a first boot) and a signed ack.
        client = GatewayClient(
            SerialTransport(board.port),
            gateway_work.CONFIG["gateway_id"],
            key,
            MemoryCounter(),
        )
        try:
            client.hello(timeout_s=WAIT_S)
            client.time_set(int(board.now_s()), timeout_s=WAIT_S)
            board.mark("crossings")
            for k in range(CROSSINGS):
                # Tags 301.. are in the roster (after the reboot) and outside.
                tag = gateway_work.IN_ZONE + 1 + k // 2
                if k % 2 == 0:
                    board.cross_in(tag)
                else:
                    board.cross_out(tag)
                board.sync(WAIT_S)
                board.advance(3)
            w = _fresh(board)
            row["crossing_ms"] = w["window"]["max_ms"]
            row["load_heap"] = w["window"]["heap_used_peak"]
            last = client.status(timeout_s=WAIT_S).get("last_seq")
            board.mark("ack")
            client.ack(last, timeout_s=WAIT_S)
            w = _fresh(board)
            row["ack_ms"] = w["window"]["max_ms"]
            row["load_heap"] = max(row["load_heap"], w["window"]["heap_used_peak"])
            if commands:
                row["reboot_live_needed"] = (
                    board.boot_report["heap"]["used_last"] - row["code_bytes"]
                )
                _commands(board, client, row)
        finally:
            client.close()
        row["unfed_max_ms"] = board.status().get("unfed_max_board_ms")
    except BoardCrashed as e:
        row["died"] = e.traceback.strip().splitlines()[-1][:160]
    except BoardError as e:
        said = board.watchdog_events
        row["died"] = (said[0] if said else str(e).splitlines()[0])[:160]
    finally:
        board.stop()
    return row


def before_tree(commit=BEFORE):
    """The firmware and protocol of `commit` in a tree of their own (build/), which a
    virtual board runs with this tree's harness (VirtualBoard(repo=...))."""
    tree = REPO / "build" / ("bench-boards-before-%s" % commit)
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", commit, "firmware", "protocol"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    (tree / "node_modules").symlink_to(REPO / "node_modules")
    return tree


def measure(names=PROFILES, repo=None, boots=True):
    """Rows of the strict boards (boots: first boot and reboot per profile), then one
    row per profile of the commands after the reboot (scenario "commands")."""
    rows = []
    work = Path(tempfile.mkdtemp(prefix="shaftgate-bench-boards-"))
    try:
        for profile in names:
            if boots:
                for scenario in ("first boot", "reboot"):
                    rows.append(_measure(profile, work, scenario.replace(" ", "-"), repo))
            row = _measure(profile, work, "reboot", repo, commands=True)
            row["scenario"] = "commands"
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _command_cells(r, name):
    """(heap needed, headroom, longest step) of one command on one board, or its fate."""
    if "died" in r and not r.get(name + "_needed"):
        return ["-", "-", "-"]
    need = r.get(name + "_needed")
    if need is None:
        return ["-", "-", "-"]
    return [_kb(need), _kb(r["board_heap"] - need), _ms_of(r, name + "_ms")]


def command_rows(after, before=None):
    """Rows of the commands' table: per profile and command, before and after."""
    old = {r["profile"]: r for r in before or () if r["scenario"] == "commands"}
    rows = []
    for r in after:
        if r["scenario"] != "commands":
            continue
        b = old.get(r["profile"])
        for name, what in COMMANDS:
            now = _command_cells(r, name)
            was = _command_cells(b, name) if b else ["-", "-", "-"]
            note = r.get("died", "") if now[0] == "-" else ""
            if r.get("reset_in") == name:
                note = "the board was reset during it"
            if b and was[0] == "-" and b.get("died"):
                note = (note + "; " if note else "") + "before: " + b["died"]
            rows.append(
                [
                    r["profile"],
                    what,
                    "%s -> %s" % (was[0], now[0]),
                    "%s -> %s" % (was[1], now[1]),
                    "%s -> %s" % (was[2], now[2]),
                    note,
                ]
            )
    return rows


def _kb(n):
    return "-" if n is None else "%.1f KB" % (n / 1024)


def _ms_of(row, key, limit_ms=5000):
    v = row.get(key)
    if v is None:
        return "-"
    return "%.0f ms (%.0f%%)" % (v, 100 * v / limit_ms)


def run():
    t0 = time.monotonic()
    rows = measure()
    before = None
    if BEFORE != "none":
        before = measure(repo=before_tree(BEFORE), boots=False)
    heap_rows = []
    time_rows = []
    for r in rows:
        if r["scenario"] == "commands":
            continue
        # Frozen: the heap was made larger by the bytecode; show the board's heap and data.
        code = r.get("code_bytes") or 0
        limit = r["heap_limit"] - code if r.get("heap_limit") else None
        for k in ("boot_heap", "load_heap"):
            if r.get(k):
                r[k] -= code
        if "died" in r:
            r["died"] = r["died"][:120]
        peak = max(r.get("boot_heap") or 0, r.get("load_heap") or 0)
        if "died" in r and not peak:
            heap_rows.append([r["profile"], r["scenario"], "-", "-", "-", "-", r["died"]])
            time_rows.append([r["profile"], r["scenario"], "-", "-", "-", "-", r["died"]])
            continue
        heap_rows.append(
            [
                r["profile"],
                r["scenario"],
                _kb(r.get("boot_heap")),
                _kb(r.get("load_heap")),
                _kb(limit),
                "%.0f%%" % (100 * peak / limit) if limit else "-",
                r.get(
                    "died", "%s left after the fullest call" % _kb(limit - peak) if limit else ""
                ),
            ]
        )
        time_rows.append(
            [
                r["profile"],
                r["scenario"],
                _ms_of(r, "boot_ms"),
                _ms_of(r, "idle_ms"),
                _ms_of(r, "crossing_ms"),
                _ms_of(r, "ack_ms"),
                r.get("died", ""),
            ]
        )
    took = time.monotonic() - t0
    return [
        (
            "Heap in use on each board profile (peak after a call, garbage included: "
            "the live heap is bench fit's; frozen: bytecode not counted), %d s to measure" % took,
            ["profile", "scenario", "boot", "under load", "heap", "peak/heap", "note"],
            heap_rows,
        ),
        (
            "Estimated board time (VM CPU x calibration + flash datasheet times), "
            "percent of the 5 s watchdog",
            ["profile", "scenario", "boot", "idle step", "crossing (longest step)", "ack", "note"],
            time_rows,
        ),
        (
            "Commands after the reboot (2,000 roster, 300 in) on each profile, before (%s) "
            "-> now: the heap its heaviest step needed (live + allocated, garbage included; "
            "frozen: less the .mpy bytes of every module imported by then), what that "
            "leaves of the board's heap, its longest step in board ms (percent of the 5 s "
            "watchdog)" % BEFORE,
            ["profile", "command", "heap needed", "left", "longest step", "note"],
            command_rows(rows, before),
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
