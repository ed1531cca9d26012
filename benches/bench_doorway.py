"""The doorway (issue 10): people missing and false "in" per 1,000 crossings under the
noise model of tests/doorway_noise.py (stray reads at 0, 5, 10 and 20 % of crossings, 1 %
reader misses, 2 % real turn-backs, 1-4 reads per point), played through a shaft zone
under CPython; its heap and capacity under MicroPython (gc.mem_alloc deltas)."""

import random
import sys

from mpy import REPO, run_phases

sys.path.insert(0, str(REPO / "tests"))

import doorway_noise
from zonekit import Clock, Recorder

from gateway import events as ev
from gateway.doorway import DECIDED_IN, DECIDED_KEPT_IN
from gateway.zone import Zone

CROSSINGS = 1000
PEOPLE = 120
STRAY_PCT = (0, 5, 10, 20)
MISS_PCT = 1
SEED = 20261204


def accuracy(stray_pct, min_exit_reads=1):
    rng = random.Random(SEED + stray_pct)
    w = doorway_noise.random_crowd(
        rng, PEOPLE, CROSSINGS, stray_pct, MISS_PCT, min_exit_reads=min_exit_reads
    )
    rec = Recorder()
    z = Zone("shaft", "shaft", rec, shaft_cap=5000, utc_offset_min=480)
    clock = Clock()
    clock.base = clock.ms
    z.tick(clock.ms, clock.s)
    doorway_noise.play(z, w.sorted_timeline(), clock, w.end_ms + doorway_noise.QUIET_MS)
    counted = {t for t, _, _ in z.occupants()}
    doubts = rec.of(ev.DOUBTFUL_CROSSING)
    false_in = counted - w.inside
    per = 1000.0 / w.crossings
    return (
        stray_pct,
        w.crossings,
        len(w.inside - counted) * per,
        len(false_in) * per,
        len([t for t in false_in if t in w.thin_exits]) * per,
        sum(1 for d in doubts if d[2] == DECIDED_IN) * per,
        sum(1 for d in doubts if d[2] == DECIDED_KEPT_IN) * per,
        len(rec.of(ev.UNTAGGED_ENTRY)),
    )


def heap_figures():
    return run_phases("doorway_heap_phases")


def run():
    header = [
        "stray reads %",
        "crossings",
        "missing /1000",
        "false in /1000",
        "of which thin exits",
        "doubtful in /1000",
        "kept in /1000",
        "UNTAGGED alarms",
    ]
    heap = heap_figures()
    return [
        (
            "People missing and false 'in' (outside, counted in) per 1,000 crossings, at the end "
            "of a replayed shift (1 %% reader misses, exits read 1-4 times outside; seed %d)"
            % SEED,
            header,
            [accuracy(p) for p in STRAY_PCT],
        ),
        (
            "The same with exits read 2-4 times outside (one read is never an exit)",
            header,
            [accuracy(p, min_exit_reads=2) for p in STRAY_PCT],
        ),
        (
            "Doorway heap and capacity under MicroPython (board heap 192 KB)",
            ["what", "figure"],
            [
                (
                    "heap kept, 128 tracks (default), bytes",
                    heap["upy_heap_doorway_128_again_bytes"],
                ),
                ("heap kept, 255 tracks (maximum), bytes", heap["upy_heap_doorway_255_bytes"]),
                (
                    "share of 192 KB, 128 tracks (%)",
                    100.0 * heap["upy_heap_doorway_128_again_bytes"] / (192 * 1024),
                ),
                (
                    "80 in range at once: entries / exits counted",
                    "%d / %d" % (heap["upy_doorway_80_entries"], heap["upy_doorway_80_exits"]),
                ),
                (
                    "128 in range at once: entries / exits counted",
                    "%d / %d" % (heap["upy_doorway_128_entries"], heap["upy_doorway_128_exits"]),
                ),
                (
                    "heap allocated, 80 in and out (bytes)",
                    heap["upy_heap_doorway_80_in_range_bytes"],
                ),
                (
                    "heap allocated, 128 in and out (bytes)",
                    heap["upy_heap_doorway_128_in_range_bytes"],
                ),
                ("VM time, 80 in and out incl. 360 ticks (ms)", heap["upy_doorway_80_us"] / 1000.0),
            ],
        ),
    ]
