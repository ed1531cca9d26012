# Under MicroPython: the heap figures of a shaft on a board (benches/upy_realhal.py and
# upy_realhal_esp32.py): per crossing with its event pushed to a host, per idle step, and
# per request (status, events-since 32, a signed ack with 300 in), each request one step.
# Counted as gc.mem_alloc() deltas with the collector off (this port reclaims nothing
# inside a call anyway).
import gc

from gatewire import cbor, frame, messages

BATCH = 50
BATCHES = 4


def per_crossing(shaft):
    shaft.run(BATCH)
    shaft.ack()
    used = 0
    for _ in range(BATCHES):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        shaft.run(BATCH)
        used += gc.mem_alloc() - before
        gc.enable()
        shaft.ack()
    return used / (BATCHES * BATCH)


def per_idle_step(shaft, n=200):
    shaft.idle(100)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        shaft.idle(100)  # a new wall-clock second every 10th step, as on a board
    used = gc.mem_alloc() - before
    gc.enable()
    return used / n


def request_step(shaft, env):
    # One request, framed by the host beforehand, taken and answered in one step.
    shaft.board.rx.extend(frame.encode(cbor.dumps(env)))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    shaft.idle(10)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def figures(shaft, prefix, out):
    out[prefix + "crossing_pushed_bytes"] = per_crossing(shaft)
    out[prefix + "idle_step_bytes"] = per_idle_step(shaft)
    shaft.run(40)  # events for events-since to return
    out[prefix + "status_bytes"] = request_step(shaft, messages.request("status", shaft._rid()))
    since = shaft.gw.log.acked
    out[prefix + "events_since_32_bytes"] = request_step(
        shaft, messages.request("events-since", shaft._rid(), from_seq=since + 1, max_count=32)
    )
    env = messages.request("ack", shaft._rid(), up_to_seq=shaft.gw.log.last_seq)
    out[prefix + "signed_ack_bytes"] = request_step(shaft, shaft.signer.sign(env))
    assert shaft.gw.zone.count == 300 and shaft.gw.lost_events == 0
