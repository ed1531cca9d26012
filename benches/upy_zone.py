# Under MicroPython (node tests/mpy_runner.mjs run benches/upy_zone.py): heap allocated on
# the steady-state crossing path (goal 0 bytes) and crossings per second. Prints one
# "@@bench {json}" line. Allocation deltas are exact here with the GC disabled; the heap
# a roster and ledger keep is measured by zone_heap_phases.py instead, because this port
# only really collects between top-level calls.
import gc
import json
import time

from zone_work import IN_ZONE, NOW_C, events, fill, load_roster, make_zone, run_crossings

CROSSINGS = 1000


def heap_per_run(z, t, seconds):
    t = run_crossings(z, t, seconds, 100)  # warm up: first calls may allocate
    gc.disable()
    before = gc.mem_alloc()
    t = run_crossings(z, t, seconds, CROSSINGS)
    used = gc.mem_alloc() - before
    gc.enable()
    return used, t


def main():
    out = {}
    z = make_zone("shaft")
    load_roster(z)
    t = fill(z, 1000)
    assert z.count == IN_ZONE, z.count
    same_second = [NOW_C] * (CROSSINGS + 100)
    used, t = heap_per_run(z, t, same_second)
    out["upy_heap_1000_crossings_bytes"] = used
    # A new wall-clock second on every crossing (clock seconds, small ints as the
    # board's rtc_s() gives them).
    new_seconds = [NOW_C + k for k in range(CROSSINGS + 100)]
    used, t = heap_per_run(z, t, new_seconds)
    out["upy_heap_1000_crossings_new_second_bytes"] = used
    assert z.count == IN_ZONE, z.count

    # A coal face over its cap: every entry refused, counted and logged as a violation.
    face = make_zone("coal_face")
    load_roster(face)
    t2 = fill(face, 1000, 30)
    used, t2 = heap_per_run(face, t2, same_second)
    out["upy_heap_1000_crossings_over_cap_bytes"] = used

    t0 = time.ticks_us()
    run_crossings(z, t, same_second, CROSSINGS)
    out["upy_crossings_per_s"] = CROSSINGS * 1000000 / time.ticks_diff(time.ticks_us(), t0)
    out["upy_events"] = events[0]
    print("@@bench " + json.dumps(out))


main()
