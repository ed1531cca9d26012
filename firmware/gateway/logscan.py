# The event log's recovery at boot (gateway/eventlog.py has the format): finish a cut
# ack, verify every record held, drop a torn tail, and find what is missing. It runs once,
# from EventLog(), and its code then leaves the heap (store.unload): a board keeps imported
# bytecode in its heap, and the boot's peak comes after this. Anything that does not
# verify marks the log tampered (log._tamper), never repaired.
import binascii
import hashlib
import struct

from gateway.eventlog import (
    _MAGIC,
    _META,
    DIGEST_SIZE,
    META_SIZE,
    RECORD_SIZE,
    TAMPER_CHAIN,
    TAMPER_CRC,
    TAMPER_LAYOUT,
    TAMPER_META,
    TAMPER_SEQ,
    _crc_ok,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# As in gateway/eventlog.py (a const there is not a global another module can import).
_FIELDS_SIZE = const(24)
_CRC_AT = const(40)
_META_CRC_AT = const(28)
_HEX = "0123456789abcdef"
# No real log reaches this seq (68 years at an event a second); a segment named above it
# is not part of the log: boot reports it and leaves it aside, or one forged file named
# evffffffff would exhaust the seqs and silence the log for good (issue 13).
_SEQ_SANE = const(0x7FFFFFFF)


# Segments verified per part: recover() yields after each part, so that a board's boot
# runs it a part per step (gateway/bootseq.py), each part's garbage collectable before
# the next (about 600 B a record: the segment read, a hash object and its digest), and
# the watchdog fed between parts, however long the log.
_PART_SEGMENTS = const(2)


def recover(log):
    # A generator: run it to the end (EventLog() does, unless staged).
    flash = log._flash
    meta = _read_meta(log)
    anchor_known = True
    if meta is False:
        log._tamper(TAMPER_META, 0, "event log meta file is damaged")
        anchor_known = False
    elif meta is not None:
        genesis = log._anchor
        log.acked, log.anchor_seq, log._anchor = meta
        if log.anchor_seq == 0 and log._anchor != genesis:
            log._tamper(TAMPER_META, 0, "event log was started from another genesis")

    # Finish what a cut ack left: segments the meta already covers. Empty segments
    # hold nothing (a cut between creating a file and writing to it).
    firsts = []
    for first in _segment_firsts(log):
        name = log._segment_name(first)
        size = flash.size(name)
        whole = size // RECORD_SIZE
        if size == 0 or (
            anchor_known and size % RECORD_SIZE == 0 and first + whole - 1 <= log.anchor_seq
        ):
            flash.remove(name)
            if size:
                log.removed_on_boot += 1
        else:
            firsts.append(first)

    if anchor_known:
        prev_seq = log.anchor_seq
        prev = log._anchor
    else:
        # Nothing to check the first record against; the rest still chain.
        prev_seq = firsts[0] - 1 if firsts else 0
        prev = None
        log.acked = prev_seq
        log.anchor_seq = prev_seq
        log._anchor = bytes(DIGEST_SIZE)
    spans = []
    claimed = 0  # the highest seq any segment file's name and size lay claim to
    for i, first in enumerate(firsts):
        if i and i % _PART_SEGMENTS == 0:
            yield
        name = log._segment_name(first)
        data = flash.read(name)
        if data is None:
            data = b""
        whole = len(data) // RECORD_SIZE
        if first != prev_seq + 1:
            log._tamper(
                TAMPER_SEQ,
                prev_seq + 1,
                "segment %s follows seq %d" % (name, prev_seq),
            )
        size = len(data)
        if i == len(firsts) - 1:
            whole = _drop_torn_tail(log, name, first, data, whole)
            size = whole * RECORD_SIZE  # what is left of it
        elif len(data) % RECORD_SIZE:
            log._tamper(TAMPER_LAYOUT, first + whole, "segment %s ends in a partial record" % name)
        for j in range(whole):
            off = j * RECORD_SIZE
            seq = first + j
            if not _crc_ok(data, off):
                log._tamper(TAMPER_CRC, seq, "record %d fails its crc" % seq)
            stored_seq = struct.unpack_from("<I", data, off)[0]
            if stored_seq != seq:
                log._tamper(TAMPER_SEQ, seq, "record %d holds seq %d" % (seq, stored_seq))
            digest = bytes(data[off + _FIELDS_SIZE : off + _CRC_AT])
            if prev is not None:
                h = hashlib.sha256(prev)
                h.update(memoryview(data)[off : off + _FIELDS_SIZE])
                if h.digest()[:DIGEST_SIZE] != digest:
                    log._tamper(TAMPER_CHAIN, seq, "record %d does not chain" % seq)
            prev = digest
        if whole:
            spans.append(first)
            spans.append(first + whole - 1)
            if first + whole - 1 > prev_seq:
                prev_seq = first + whole - 1
        if size:
            end = first + (size + RECORD_SIZE - 1) // RECORD_SIZE - 1
            if end > claimed:
                claimed = end

    _find_gaps(log, spans, prev_seq if prev_seq > claimed else claimed)
    if spans:
        last = spans.pop()
        first = spans.pop()
        log._old_first = spans[0::2]
        log._old_last = spans[1::2]
        log._seg_name = log._segment_name(first)
        log._seg_first = first
        log._seg_count = last - first + 1
        struct.pack_into("16s", log._digest, 0, prev)
    else:
        struct.pack_into("16s", log._digest, 0, log._anchor)
    # Never a new segment named like a file already there (a damaged one whose
    # partial record holds no span): seqs go on above every file's claim.
    log.last_seq = prev_seq if prev_seq > claimed else claimed
    if log.acked > log.last_seq:
        # Acknowledged events vanished. Never hand their seqs out again: the next
        # append starts a new segment after the gap.
        log._tamper(
            TAMPER_SEQ,
            log.last_seq + 1,
            "acknowledged events %d..%d are missing" % (log.last_seq + 1, log.acked),
        )
        log.last_seq = log.acked
    # After damage the newest segment's size may not be its records': appending
    # there would misalign every later record. New events start a segment of their own.
    log._seg_sealed = log.tampered
    log._count_skipped()


def _find_gaps(log, spans, top):
    # spans: [first, last, ...] of the records held, by first. Only a damaged log
    # has gaps; an intact one leaves _gaps empty and appends never look at it.
    end = log.acked
    g = log._gaps
    for i in range(0, len(spans), 2):
        if spans[i] > end + 1:
            g.append(end + 1)
            g.append(spans[i] - 1)
        if spans[i + 1] > end:
            end = spans[i + 1]
    if top > end:
        # Claimed by a file's size or a partial record, never readable as a record.
        g.append(end + 1)
        g.append(top)


def _drop_torn_tail(log, name, first, data, whole):
    # A cut append leaves a short tail, or a full-length one whose bytes never landed
    # (zeros, erased flash): only the newest record can be torn.
    if len(data) % RECORD_SIZE == 0:
        if not whole or _crc_ok(data, (whole - 1) * RECORD_SIZE):
            return whole
        whole -= 1
    seq = first + whole
    if seq <= log.acked:
        log._tamper(TAMPER_CRC, seq, "acknowledged record %d is damaged" % seq)
    if whole:
        log._flash.truncate(name, whole * RECORD_SIZE)
    else:
        log._flash.remove(name)
    log.torn_on_boot = 1
    return whole


def _segment_firsts(log):
    plen = len(log._prefix)
    firsts = []
    for name in log._flash.names():
        if len(name) != plen + 8 or not name.startswith(log._prefix):
            continue
        digits = name[plen:]
        ok = True
        for c in digits:
            if c not in _HEX:
                ok = False
        if ok:
            first = int(digits, 16)
            if first > _SEQ_SANE:
                log._tamper(TAMPER_SEQ, first, "segment %s is past any real seq" % name)
            else:
                firsts.append(first)
    firsts.sort()
    return firsts


def _read_meta(log):
    raw = log._flash.read(log._meta_name)
    if raw is None:
        return None
    if (
        len(raw) != META_SIZE
        or not binascii.crc32(memoryview(raw)[:_META_CRC_AT])
        == struct.unpack_from("<I", raw, _META_CRC_AT)[0]
    ):
        return False
    magic, acked, anchor_seq, anchor = struct.unpack_from(_META, raw, 0)
    if magic != _MAGIC or acked < anchor_seq:
        return False
    return acked, anchor_seq, anchor
