"""gatewire: codec speed (ours vs cbor2 vs json, CPython and MicroPython), wire overhead,
CBOR against JSON size, and MicroPython heap per encode/decode of a crossing event."""

import json
import time
from pathlib import Path

import cbor2
from mpy import run_script
from wire_sample import crossing_event, events_batch

from gatewire import cbor, frame

N = 20000


def per_second(fn, n=N):
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def jsonable(obj):
    # JSON has no int keys and no bytes: the same content as JSON would carry it.
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, bytes):
        return obj.hex()
    return obj


def run():
    ev = crossing_event(1)
    jev = jsonable(ev)
    upy = run_script(Path(__file__).with_name("upy_wire.py"))
    ours = per_second(lambda: cbor.loads(cbor.dumps(ev)))
    ref = per_second(lambda: cbor2.loads(cbor2.dumps(ev, canonical=True)))
    js = per_second(lambda: json.loads(json.dumps(jev, separators=(",", ":"))))
    speed = [
        ("gatewire.cbor, CPython", ours, 1.0),
        ("cbor2 (C ext), CPython", ref, ref / ours),
        ("json, CPython", js, js / ours),
        (
            "gatewire.cbor, MicroPython",
            upy["upy_encode_decode_per_s"],
            upy["upy_encode_decode_per_s"] / ours,
        ),
        (
            "frame encode+feed, MicroPython",
            upy["upy_frame_roundtrip_per_s"],
            upy["upy_frame_roundtrip_per_s"] / ours,
        ),
    ]

    one = cbor.dumps(ev)
    batch = cbor.dumps(events_batch(50))
    size = []
    for label, payload, as_json in (
        ("one event", one, json.dumps(jev, separators=(",", ":")).encode()),
        (
            "batch of 50",
            batch,
            json.dumps(jsonable(events_batch(50)), separators=(",", ":")).encode(),
        ),
    ):
        wire = frame.encode(payload)
        size.append(
            (
                label,
                len(payload),
                len(wire),
                len(wire) / len(payload),
                len(as_json),
                len(as_json) / len(payload),
            )
        )

    heap = [
        ("cbor.dumps(event)", upy["upy_heap_encode_bytes"]),
        ("cbor.loads(event bytes)", upy["upy_heap_decode_bytes"]),
        ("frame.encode(event bytes)", upy["upy_heap_frame_encode_bytes"]),
        ("Decoder.feed(one frame)", upy["upy_heap_frame_feed_bytes"]),
    ]
    return [
        (
            "Encode+decode of a crossing event",
            ["codec", "msgs/s", "ratio to ours (CPython)"],
            speed,
        ),
        (
            "Wire size (goal: wire/payload <= 1.10 on batches)",
            ["payload", "CBOR bytes", "wire bytes", "wire/payload", "JSON bytes", "JSON/CBOR"],
            size,
        ),
        ("MicroPython heap per call (gc.mem_alloc delta)", ["operation", "bytes"], heap),
    ]
