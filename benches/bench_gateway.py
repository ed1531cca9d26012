"""The whole gateway application (issue 3 budgets): heap allocated on the steady-state
path of one crossing through Gateway.step() under MicroPython (goal 0; each crossing
logs an event, so the hash-chained log append is in it), and crossings per second
through the whole app under the MicroPython VM and CPython."""

import time
from pathlib import Path

import gateway_work
from mpy import run_script

BATCH = 50
CROSSINGS = 1000


def cpython_crossings_per_s(host):
    shaft = gateway_work.Shaft(host=host)
    shaft.run(BATCH)  # warm up
    shaft.ack()
    spent = 0.0
    done = 0
    while done < CROSSINGS:
        t0 = time.perf_counter()
        shaft.run(BATCH)
        spent += time.perf_counter() - t0
        done += BATCH
        shaft.ack()  # the host's ack, outside the timing as in upy_gateway.py
    assert shaft.gw.lost_events == 0 and shaft.gw.zone.count == gateway_work.IN_ZONE
    return done / spent


def run():
    upy = run_script(Path(__file__).with_name("upy_gateway.py"))
    cpy = cpython_crossings_per_s(False)
    cpy_pushed = cpython_crossings_per_s(True)
    return [
        (
            "Heap allocated per crossing through Gateway.step(), MicroPython (goal 0)",
            ["path (shaft, 2,000 in the roster, 300 underground)", "bytes"],
            [
                ("crossing, wall clock in the same second", upy["upy_heap_per_crossing_bytes"]),
                (
                    "crossing, a new wall-clock second each",
                    upy["upy_heap_per_crossing_new_second_bytes"],
                ),
                (
                    "crossing, its event pushed to a connected host",
                    upy["upy_heap_per_crossing_pushed_bytes"],
                ),
                (
                    "  of which: one event-log append (sha256, crc32)",
                    upy["upy_heap_per_log_append_bytes"],
                ),
                (
                    "idle step (camera beat, gas sample, no one crossing)",
                    upy["upy_heap_per_idle_step_bytes"],
                ),
                ("events logged per crossing", upy["upy_events_per_crossing"]),
            ],
        ),
        (
            "Crossings per second through the whole app (3 steps each: 2 reads, 1 settle)",
            ["interpreter", "crossings/s", "ratio to CPython (same path)"],
            [
                ("CPython", cpy, 1.0),
                (
                    "MicroPython (WebAssembly VM)",
                    upy["upy_crossings_per_s"],
                    upy["upy_crossings_per_s"] / cpy,
                ),
                ("CPython, events pushed to a host", cpy_pushed, 1.0),
                (
                    "MicroPython, events pushed to a host",
                    upy["upy_crossings_per_s_pushed"],
                    upy["upy_crossings_per_s_pushed"] / cpy_pushed,
                ),
            ],
        ),
    ]
