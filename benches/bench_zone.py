"""The zone (people side of the gateway): heap for a roster of 2,000 with 300 in the zone,
heap allocated per crossing, and crossings per second under MicroPython and CPython."""

import time
from pathlib import Path

import zone_work
from mpy import run_phases, run_script

N = 1000


def cpython_crossings_per_s():
    z = zone_work.make_zone("shaft")
    zone_work.load_roster(z)
    t = zone_work.fill(z, 1000)
    seconds = [zone_work.NOW_C] * N
    t = zone_work.run_crossings(z, t, seconds, N)  # warm up
    t0 = time.perf_counter()
    zone_work.run_crossings(z, t, seconds, N)
    return N / (time.perf_counter() - t0)


def heap_figures():
    return run_phases("zone_heap_phases")


def run():
    upy = run_script(Path(__file__).with_name("upy_zone.py"))
    heap = heap_figures()
    cpy = cpython_crossings_per_s()
    budget = 64 * 1024
    total = heap["upy_heap_zone_2000_roster_300_in_bytes"]
    return [
        (
            "Zone heap under MicroPython (budget 64 KB for 2,000 people, 300 in)",
            ["what", "bytes"],
            [
                ("zone, empty (ledger of 512, doorway of 128)", heap["upy_heap_zone_empty_bytes"]),
                ("roster of 2,000 people", heap["upy_heap_roster_2000_bytes"]),
                ("all of it, 300 in the zone", total),
                ("share of the 64 KB budget (%)", 100.0 * total / budget),
            ],
        ),
        (
            "Heap allocated on the crossing path, MicroPython (goal 0)",
            ["1,000 crossings", "bytes"],
            [
                ("wall clock in the same second", upy["upy_heap_1000_crossings_bytes"]),
                ("a new wall-clock second each", upy["upy_heap_1000_crossings_new_second_bytes"]),
                (
                    "coal face over its cap (refusals)",
                    upy["upy_heap_1000_crossings_over_cap_bytes"],
                ),
            ],
        ),
        (
            "Crossings per second (2 reads + 1 tick each, 300 in, roster of 2,000)",
            ["interpreter", "crossings/s", "ratio to CPython"],
            [
                ("CPython", cpy, 1.0),
                (
                    "MicroPython (WebAssembly VM)",
                    upy["upy_crossings_per_s"],
                    upy["upy_crossings_per_s"] / cpy,
                ),
            ],
        ),
    ]
