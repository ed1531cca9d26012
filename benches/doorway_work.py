# The workload of the doorway benchmarks (doorway_heap_phases.py, bench_doorway.py): a
# doorway with its default 128 tracks and a crowd of tags in range at once, walking in.
# Runs unchanged under MicroPython and CPython.
from array import array

from gateway.doorway import INNER, OUTER, Doorway

CAPACITY = 128
SETTLE_MS = 2000
WINDOW_MS = 8000
PAIR_MS = 10000

counts = array("i", [0, 0, 0])  # entries, exits, events
_inside = bytearray(4096)  # by tag: counted inside


def emit(kind, tag, a, b):
    counts[2] += 1


def on_cross(tag, into_zone):
    _inside[tag] = 1 if into_zone else 0
    counts[0 if into_zone else 1] += 1


def is_in(tag):
    return _inside[tag] == 1


def make_doorway(capacity=CAPACITY):
    return Doorway(capacity, SETTLE_MS, WINDOW_MS, 0, PAIR_MS, emit, on_cross, is_in)


def crowd_in(d, first_tag, people, t):
    # `people` in range at once: two reads each at the outer point, a beam body each, two
    # at the inner point, then time for every crossing to settle and every track to end.
    # Returns the time after.
    last = first_tag + people
    for p in (OUTER, OUTER, INNER, INNER):
        tag = first_tag
        while tag < last:
            d.read(p, tag, -60, 0, t)
            tag += 1
        if p == INNER:
            d.beam(people if tag == last else 0, 0, t)
        t += 250
        d.tick(t)
    end = t + WINDOW_MS + PAIR_MS
    while t < end:
        t += 100
        d.tick(t)
    return t


def crowd_out(d, first_tag, people, t):
    last = first_tag + people
    for p in (INNER, INNER, OUTER, OUTER):
        tag = first_tag
        while tag < last:
            d.read(p, tag, -60, 0, t)
            tag += 1
        t += 250
        d.tick(t)
    end = t + WINDOW_MS + PAIR_MS
    while t < end:
        t += 100
        d.tick(t)
    return t


def reset():
    for k in range(len(_inside)):
        _inside[k] = 0
    counts[0] = 0
    counts[1] = 0
    counts[2] = 0
