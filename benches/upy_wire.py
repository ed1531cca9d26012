# Runs under MicroPython (tests/mpy_runner.mjs run): speed and heap of the wire path.
import gc
import json
import time

from wire_sample import crossing_event

from gatewire import cbor, frame

N = 2000


def per_second(fn, n):
    t0 = time.ticks_us()
    for _ in range(n):
        fn()
    dt = time.ticks_diff(time.ticks_us(), t0)
    return n * 1000000 / dt


def heap_per_call(fn, n):
    fn()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        fn()
    after = gc.mem_alloc()
    gc.enable()
    return (after - before) // n


def main():
    ev = crossing_event(1)
    data = cbor.dumps(ev)
    wire = frame.encode(data)
    dec = frame.Decoder()
    out = {
        "upy_encode_decode_per_s": per_second(lambda: cbor.loads(cbor.dumps(ev)), N),
        "upy_heap_encode_bytes": heap_per_call(lambda: cbor.dumps(ev), 200),
        "upy_heap_decode_bytes": heap_per_call(lambda: cbor.loads(data), 200),
        "upy_heap_frame_encode_bytes": heap_per_call(lambda: frame.encode(data), 200),
        "upy_heap_frame_feed_bytes": heap_per_call(lambda: dec.feed(wire), 200),
        "upy_frame_roundtrip_per_s": per_second(lambda: dec.feed(frame.encode(data)), N),
    }
    print("@@bench " + json.dumps(out))


main()
