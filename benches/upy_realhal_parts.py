# Under MicroPython (node tests/mpy_runner.mjs run benches/upy_realhal_parts.py): where the
# heap of a crossing and of a signed ack goes on the REAL board HAL path
# (benches/realhal_work.py), call site by call site. Each measured method is replaced by a
# wrapper of its own arity that adds the gc.mem_alloc() delta of the call to a total, so
# the measuring allocates nothing itself; a figure includes what the call's callees
# allocate (a total, not exclusive). Prints a table and one "@@bench {json}" line. The
# figures of docs/hardware.md ("Heap on the real HAL path") come from here.
import gc
import json

from realhal_work import RealHalShaft

from gateway import store
from gatewire import cbor, frame, messages

ACC = {}
CNT = {}


def _wrapper(label, f, arity):
    ACC[label] = 0
    CNT[label] = 0
    if arity == 0:

        def w():
            b = gc.mem_alloc()
            r = f()
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 1:

        def w(x):
            b = gc.mem_alloc()
            r = f(x)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 2:

        def w(x, y):
            b = gc.mem_alloc()
            r = f(x, y)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 3:

        def w(x, y, z):
            b = gc.mem_alloc()
            r = f(x, y, z)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 4:

        def w(x, y, z, u):
            b = gc.mem_alloc()
            r = f(x, y, z, u)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 6:

        def w(x, y, z, u, v, q):
            b = gc.mem_alloc()
            r = f(x, y, z, u, v, q)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    elif arity == 7:

        def w(x, y, z, u, v, q, s):
            b = gc.mem_alloc()
            r = f(x, y, z, u, v, q, s)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    else:
        assert arity == 8, arity

        def w(x, y, z, u, v, q, s, t):
            b = gc.mem_alloc()
            r = f(x, y, z, u, v, q, s, t)
            ACC[label] += gc.mem_alloc() - b
            CNT[label] += 1
            return r

    return w


def wrap(obj, name, arity, label):
    setattr(obj, name, _wrapper(label, getattr(obj, name), arity))


def reset():
    for k in ACC:
        ACC[k] = 0
        CNT[k] = 0


def report(title, total, per, out, prefix):
    print("%s: %d B in all%s" % (title, total, "" if per == 1 else " over %d" % per))
    out[prefix + "total"] = total / per
    for k in sorted(ACC):
        if CNT[k]:
            print("  %-26s %8.1f B  (%d calls)" % (k, ACC[k] / per, CNT[k]))
            out[prefix + k] = ACC[k] / per


def crossings(shaft, out, n=50):
    gw = shaft.gw
    b = shaft.board
    wrap(b, "rtc_s", 0, "board.rtc_s")
    wrap(b, "read_tag", 1, "board.read_tag")
    wrap(b, "link_write", 1, "board.link_write")
    wrap(gw.flash, "append", 2, "flash.append")
    wrap(gw.log, "append_clock", 7, "log.append_clock")
    wrap(gw._framer, "frame", 8, "framer.frame")
    wrap(gw.zone, "on_read", 6, "zone.on_read")
    wrap(gw.zone, "tick", 2, "zone.tick (with its events)")
    wrap(gw.il, "tick", 3, "il.tick")
    wrap(gw, "_push_events", 0, "app._push_events")
    reset()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    shaft.run(n)  # within the push window: every event pushed in the steps counted
    total = gc.mem_alloc() - before
    gc.enable()
    assert gw._pushed == gw.log.last_seq
    report("crossing with its event pushed, per crossing", total, n, out, "crossing_")


def signed_ack(shaft, out):
    gw = shaft.gw
    fl = gw.flash
    wrap(gw, "_authenticate", 2, "app._authenticate")
    wrap(gw.verifier, "verify", 1, "verifier.verify (HMAC)")
    wrap(store, "write_cbor", 3, "store.write_cbor (counter)")
    wrap(gw, "_save_state", 0, "app._save_state")
    wrap(gw.il, "snapshot_cbor", 1, "il.snapshot_cbor")
    wrap(gw.snapshots, "save", 4, "snapshots.save")
    wrap(gw.log, "ack", 1, "log.ack")
    wrap(gw.log, "_write_meta", 3, "log._write_meta")
    wrap(gw.log, "_stored_digest", 3, "log._stored_digest")
    wrap(fl, "remove", 1, "flash.remove")
    wrap(fl, "remove_numbered", 2, "flash.remove_numbered")
    wrap(fl, "write", 2, "flash.write")
    wrap(fl, "rewrite_unsynced", 2, "flash.rewrite_unsynced")
    wrap(fl, "append_unsynced", 2, "flash.append_unsynced")
    wrap(gw.log, "_segment_name", 1, "log._segment_name")
    wrap(gw, "_handle_payload", 1, "app._handle (all of the request)")
    wrap(gw, "_cmd_ack", 1, "app._cmd_ack")
    wrap(gw, "emit", 4, "app.emit (COMMAND)")
    wrap(gw, "_send", 1, "app._send (reply)")
    wrap(cbor, "loads", 1, "cbor.loads")
    wrap(messages, "envelope_id", 1, "messages.envelope_id")
    wrap(messages, "parse_envelope", 1, "messages.parse_envelope")
    wrap(messages, "parse", 2, "messages.parse")
    wrap(gw, "_dispatch", 3, "app._dispatch")
    wrap(gw, "_room_for", 2, "app._room_for")
    wrap(gw, "_serve_link", 0, "app._serve_link (all of it)")
    up_to = gw.log.last_seq
    env = messages.request("ack", shaft._rid(), up_to_seq=up_to)
    shaft.board.rx.extend(frame.encode(cbor.dumps(shaft.signer.sign(env))))
    reset()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    shaft.idle(10)
    total = gc.mem_alloc() - before
    gc.enable()
    assert gw.log.acked == up_to  # the ack's own COMMAND event comes after
    report("signed ack with 300 in, one step", total, 1, out, "ack_")


def _alloc(f, x):
    gc.collect()
    gc.disable()
    b = gc.mem_alloc()
    f(x)
    n = gc.mem_alloc() - b
    gc.enable()
    return n


def primitives(shaft, out):
    # What each call of an event's append makes, one by one (docs/hardware.md, "Heap on
    # the real HAL path"): the hash object and its digest (the floor), and the crc32 of
    # the records the crossings above stored, as made (an int: a big one at or above
    # 2**30) and as checked by the residue (eventlog._crc_ok).
    import binascii
    import hashlib

    from gateway import eventlog

    prev = bytearray(16)
    h = [None]

    def make(x):
        h[0] = hashlib.sha256(x)

    out["append_sha256_object"] = _alloc(make, prev)
    out["append_sha256_update"] = _alloc(h[0].update, memoryview(bytearray(24)))
    out["append_sha256_digest"] = _alloc(lambda x: h[0].digest(), None)
    # Why a new object per event: a digested one takes no more data, and none copies.
    try:
        h[0].update(b"x")
        out["append_sha256_refuses_update_after_digest (1: yes)"] = 0
    except ValueError:
        out["append_sha256_refuses_update_after_digest (1: yes)"] = 1
    out["append_sha256_has_copy (1: yes)"] = 1 if hasattr(h[0], "copy") else 0
    log = shaft.gw.log
    shaft.run(64)  # records past the last ack, to read back
    recs = log.since(log.acked, 64)
    made = checked = big = 0
    buf = bytearray(eventlog.RECORD_SIZE)
    for r in recs:
        # The record as stored: read back through the log's own unpacking, re-packed.
        struct_pack(buf, r)
        view = memoryview(buf)[:40]
        made += _alloc(binascii.crc32, view)
        checked += _alloc(lambda b: eventlog._crc_ok(b, 0), buf)
        big += binascii.crc32(view) >= 1 << 30
    n = len(recs)
    out["append_crc32_made_mean"] = made / n
    out["append_crc32_big_share"] = big / n
    out["check_crc_residue_mean"] = checked / n
    print(
        "an event's append, call by call: sha256() %d B, update() %d B, digest() %d B; "
        "crc32 made %.1f B a record (%d of %d at or above 2**30); checked by the residue "
        "%.1f B a record"
        % (
            out["append_sha256_object"],
            out["append_sha256_update"],
            out["append_sha256_digest"],
            made / n,
            big,
            n,
            checked / n,
        )
    )


def struct_pack(buf, r):
    # (seq, time_s, kind, tag, a, b, digest) back into the record's bytes, its crc after.
    import binascii
    import struct

    struct.pack_into("<IIHHIii16s", buf, 0, r[0], r[1], r[2], 0, r[3], r[4], r[5], r[6])
    struct.pack_into("<I", buf, 40, binascii.crc32(memoryview(buf)[:40]))


def main():
    out = {}
    shaft = RealHalShaft(host=True)
    shaft.run(50)
    shaft.ack()
    crossings(shaft, out)
    signed_ack(shaft, out)
    primitives(shaft, out)
    print("@@bench " + json.dumps(out))


main()
