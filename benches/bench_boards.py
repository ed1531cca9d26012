"""The firmware on each board profile (docs/hardware.md, "Board profiles"): the deployed
.mpy files on a virtual board held to the profile's heap, watchdog and board time.

Per profile: heap in use at its peak after each call (boot, reboot with a 2,000-person
roster and 300 in the zone, and under load: crossings and a signed ack) with the headroom
left, and the estimated board ms of the boot, an idle step, a crossing's longest step
and the ack's step, each beside its limit. A board that breaks its profile shows what
broke it (a MemoryError names the call) instead of figures.

    ./dev bench boards
"""

import json
import shutil
import tempfile
import time
from pathlib import Path

import gateway_work

from shaftgate.link.client import GatewayClient
from shaftgate.link.keystore import MemoryCounter
from shaftgate.link.transport import SerialTransport
from shaftgate.vboard import BoardCrashed, BoardError, VirtualBoard

PROFILES = ("pico", "esp32", "esp32-frozen")  # loose has no board time to report
BOOT_TIMEOUT_S = 300
WAIT_S = 120
CROSSINGS = 10


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


def _measure(profile, workdir, scenario):
    row = {"profile": profile, "scenario": scenario}
    # The watchdog counts but never bites here, so that a boot past it is measured (and
    # shown past 100 %) rather than reset in a loop.
    board = VirtualBoard(
        "%s-%s" % (profile, scenario), workdir, profile=profile, cameras=1, watchdog_bites=False
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


def measure(profiles=PROFILES):
    rows = []
    work = Path(tempfile.mkdtemp(prefix="shaftgate-bench-boards-"))
    try:
        for profile in profiles:
            for scenario in ("first boot", "reboot"):
                rows.append(_measure(profile, work, scenario.replace(" ", "-")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
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
    heap_rows = []
    time_rows = []
    for r in rows:
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
    ]


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1))
