# The workload of the zone benchmarks (upy_zone.py, zone_heap_phases.py, bench_zone.py):
# a shaft with a roster of 2,000 people, 300 underground, and crossings in and out.
# Runs unchanged under MicroPython and CPython.
from array import array

from gateway.caps import EPOCH_S
from gateway.zone import Zone

NOW_S = 1749960000
NOW_C = NOW_S - EPOCH_S  # the same second in clock seconds, as the app gives the zone
SETTLE_MS = 2000
ROSTER = 2000
IN_ZONE = 300
POOL = 50  # tags that go in and out during measured crossings

_last_event = array("i", [0, 0, 0, 0])
events = [0]


def emit(kind, tag, a, b):
    # Stands in for the event log without allocating, so only the zone's bytes count.
    _last_event[0] = kind
    _last_event[1] = tag
    _last_event[2] = a
    _last_event[3] = b
    events[0] += 1


def make_zone(kind="shaft"):
    if kind == "shaft":
        return Zone("shaft", "shaft", emit, shaft_cap=1000, ledger_capacity=512, epoch_s=EPOCH_S)
    return Zone(kind, "face", emit, ledger_capacity=512, epoch_s=EPOCH_S)


def load_roster(z, n=ROSTER):
    z.roster.begin(n)
    chunk = []
    for i in range(n):
        chunk.append([i + 1, 100000 + i, 1 + i % 12, NOW_S + 86400 * 365, 0])
        if len(chunk) == 100:
            z.roster.add(chunk)
            chunk = []
    if chunk:
        z.roster.add(chunk)
    z.roster.commit()


def crossing(z, tag, into, t, now_s):
    # now_s: clock seconds (gateway/caps.py), as gateway/app.py gives the zone.
    # One person through the doorway: a read at each point (two at the outer one on the
    # way out: one outer read is never an exit), then the settle time.
    a = 0 if into else 1
    z.on_read(a, tag, -60, 0, t, now_s)
    z.on_read(1 - a, tag, -60, 0, t + 200, now_s)
    if not into:
        z.on_read(0, tag, -60, 0, t + 300, now_s)
    z.tick(t + 300 + SETTLE_MS, now_s)


def fill(z, t, n=IN_ZONE):
    for tag in range(1, n + 1):
        crossing(z, tag, True, t, NOW_C)
        t += 2500
    return t


def run_crossings(z, t, seconds, n):
    # n crossings by POOL tags, each going in then out; seconds[k] is the wall clock.
    for k in range(n):
        crossing(z, IN_ZONE + 1 + (k // 2) % POOL, k % 2 == 0, t, seconds[k])
        t += 2500
    return t
