# Under MicroPython (node tests/mpy_runner.mjs run benches/upy_gateway.py): heap allocated
# on the steady-state path of one crossing through the whole application, Gateway.step()
# (goal 0 bytes; every crossing logs an event, so the log append is in it), and crossings
# per second. Prints one "@@bench {json}" line. gc.collect() frees nothing inside one
# runPython call in this port, so allocation is counted as gc.mem_alloc() deltas with the
# collector disabled; the host's acks between batches are left out of the count.
import gc
import json
import time

from gateway_work import NOW_S, Shaft

from gateway.caps import EPOCH_S

BATCH = 50  # crossings between two acks: within the 64 events pushed before an ack
BATCHES = 10


def heap_per_crossing(shaft, seconds=None):
    shaft.run(BATCH, seconds)  # warm up: first calls may allocate
    shaft.ack()
    used = 0
    gc.collect()
    gc.disable()
    for i in range(BATCHES):
        part = None if seconds is None else seconds[i * BATCH : (i + 1) * BATCH]
        before = gc.mem_alloc()
        shaft.run(BATCH, part)
        used += gc.mem_alloc() - before
        shaft.ack()
    gc.enable()
    return used / (BATCHES * BATCH)


def heap_per_idle_step(shaft, n=500):
    shaft.idle(100)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        shaft.idle(100)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / n


def heap_per_log_append(shaft, n=500):
    # As the app appends: the time in clock seconds (gateway/caps.py).
    log = shaft.gw.log
    now_c = NOW_S - EPOCH_S
    log.append_clock(now_c, 1, 5, 1, 2)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        log.append_clock(now_c, 1, 5, 1, 2)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / n


def crossings_per_s(shaft, n=1000):
    shaft.run(BATCH)
    done = 0
    spent = 0
    while done < n:
        t0 = time.ticks_us()
        shaft.run(BATCH)
        spent += time.ticks_diff(time.ticks_us(), t0)
        done += BATCH
        shaft.ack()
    return done * 1000000 / spent


def main():
    out = {}
    quiet = Shaft(host=False)
    events_before = quiet.gw.log.last_seq
    out["upy_heap_per_crossing_bytes"] = heap_per_crossing(quiet)
    out["upy_events_per_crossing"] = (quiet.gw.log.last_seq - events_before - BATCHES - 1) / (
        (BATCHES + 1) * BATCH
    )
    # A new wall-clock second on every crossing, the values made beforehand as the
    # board's RTC makes them, so only the application's own work is counted.
    seconds = [NOW_S - EPOCH_S + 10000 + k for k in range(BATCHES * BATCH)]
    out["upy_heap_per_crossing_new_second_bytes"] = heap_per_crossing(quiet, seconds)
    quiet.board.rtc = NOW_S - EPOCH_S + 10000 + BATCHES * BATCH
    out["upy_heap_per_idle_step_bytes"] = heap_per_idle_step(quiet)
    out["upy_heap_per_log_append_bytes"] = heap_per_log_append(quiet)
    out["upy_crossings_per_s"] = crossings_per_s(quiet)
    assert quiet.gw.zone.count == 300 and quiet.gw.system == 0, quiet.gw.system
    assert quiet.gw.lost_events == 0

    linked = Shaft(host=True)
    out["upy_heap_per_crossing_pushed_bytes"] = heap_per_crossing(linked)
    out["upy_crossings_per_s_pushed"] = crossings_per_s(linked)
    assert linked.gw._pushed == linked.gw.log.last_seq or linked.gw.log.unacked() < 64
    print("@@bench " + json.dumps(out))


main()
