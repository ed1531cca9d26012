# The gateway's event log (R-DATA-2, R-GAS-2): every event is a fixed-size record on
# flash, hash-chained to the one before, kept until the host acknowledges it, so that a
# deleted, changed or reordered event is detectable and a power cut loses nothing acked.
#
# On the Flash (hal/flashfs.py interface), little-endian:
#   <prefix><8 hex digits>  a segment of up to segment_records records, named by the seq
#                           of its first record; only the newest segment is appended to.
#                           8 records (352 B) by default: small enough that littlefs keeps
#                           the file inline in its directory's metadata log, where a synced
#                           append is one commit into pre-erased space. A larger file lives
#                           in its own blocks, and littlefs copies the last, partly written
#                           block to a freshly erased one on every synced append: one erase
#                           per event (docs/hardware.md, "Flash wear", has the figures).
#   <prefix>meta, <prefix>meta2
#                           two slots of 32 bytes: magic "SGE1", acked seq u32, anchor seq
#                           u32, anchor digest (16 B: the last record removed), crc32 of the
#                           28 bytes before. The slot whose crc holds with the higher acked
#                           seq is in force (acked only grows). An ack writes the other slot
#                           in place (Flash.rewrite_unsynced, then the crc's synced append):
#                           a cut leaves that slot torn and the older one in force, which
#                           the flash still matches (segments go only after the write).
#                           The first write, with no whole slot yet, is atomic (write()).
#                           Firmware before this wrote <prefix>meta alone: it reads as the
#                           one whole slot.
# A record, RECORD_SIZE bytes:
#   0 seq u32 | 4 time_s u32 | 8 kind u16 | 10 spare u16 = 0 | 12 tag u32 | 16 a i32 |
#   20 b i32 | 24 digest 16 B | 40 crc32 u32 of bytes 0-39
#   digest = sha256(previous digest || bytes 0-23)[:16]. Seq 1 chains from the genesis
#   digest (GENESIS, or genesis_digest(gateway id) to bind a log to its gateway), later
#   records from the anchor once older segments are gone.
#
# Durability: append() returns only after Flash.append() returned, and the app sends an
# event to the host only after that, so anything the host acks is on flash. ack() writes
# a meta slot before removing segments; a cut in between leaves segments the meta already
# covers, and boot removes them. A cut mid-append leaves at most one torn record at the
# tail of the newest segment: boot drops it and counts it in torn_on_boot. Anything else
# that does not verify marks the log tampered (never repaired); logging goes on, chained
# to the last record as stored, so the host sees exactly where the damage is.
import binascii
import hashlib
import struct

from gateway import store
from gateway.caps import CLOCK_MAX_S, unix_hi, unix_lo
from gatewire.errors import E_BAD_FIELD, E_FULL, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


RECORD_SIZE = const(44)
DIGEST_SIZE = const(16)
META_SIZE = const(32)
GENESIS = bytes(DIGEST_SIZE)
# Littlefs keeps a file inline up to min(cache, block/8) = 512 B on a Pico (progsize 256,
# 4 KB blocks); 8 records also pad to two 256-byte program units at most per commit.
SEGMENT_RECORDS = const(8)
# The last digests of the newest sealed segments, kept so that an ack finds its anchor
# without reading flash (an open file and a path: 224 B of an ack's heap). The app pushes
# at most 64 events past the last ack (8 segments), so 10 cover an ack of all it pushed;
# an older anchor is read back from flash.
_ENDS = const(10)

# Why boot or a read found the log tampered (tamper_code), for the app's alarm event.
TAMPER_META = const(1)  # meta file damaged, or the log began from another genesis
TAMPER_LAYOUT = const(2)  # a partial record inside an older segment, or a segment shrank
TAMPER_CRC = const(3)  # a stored record (not a torn tail) fails its crc
TAMPER_SEQ = const(4)  # a seq missing, repeated or out of place (deletion, reordering)
TAMPER_CHAIN = const(5)  # a digest does not chain from the record before (modification)

_FIELDS = "<IIHHIii"
_FIELDS_HALVES = "<IHHHHIii"  # the same bytes, time_s as its low and high 16-bit halves
_FIELDS_SIZE = const(24)
_CRC_AT = const(40)
# CRC-32 (IEEE) of any data followed by its own crc, little-endian.
_CRC_RESIDUE = const(0x2144DF1C)
_META = "<4sII16s"
_MAGIC = b"SGE1"
_U32_MAX = 0xFFFFFFFF
_I32_MIN = -0x80000000
_I32_MAX = 0x7FFFFFFF


class LogFull(ProtocolError):
    def __init__(self, text):
        super().__init__(E_FULL, text, None)


class ChainBroken(ValueError):
    # index: position in the records given; seq: the seq found (or missing) there
    def __init__(self, index, seq, text):
        super().__init__(text)
        self.index = index
        self.seq = seq


def chain_digest(prev_digest, seq, time_s, kind, tag, a, b):
    h = hashlib.sha256(prev_digest)
    h.update(struct.pack(_FIELDS, seq, time_s, kind, 0, tag, a, b))
    return h.digest()[:DIGEST_SIZE]


def genesis_digest(gateway_id):
    # A log that starts from its gateway's own genesis cannot pass for another gateway's.
    if isinstance(gateway_id, str):
        gateway_id = gateway_id.encode()
    h = hashlib.sha256(b"shaftgate event log genesis:")
    h.update(gateway_id)
    return h.digest()[:DIGEST_SIZE]


def verify_chain(records, prev_digest, prev_seq=None):
    # records: (seq, time_s, kind, tag, a, b, digest) tuples, oldest first, as since()
    # returns them. Returns the last digest, so a host can verify batch after batch.
    digest = prev_digest
    expect = None if prev_seq is None else prev_seq + 1
    for i, r in enumerate(records):
        seq = r[0]
        if expect is not None and seq != expect:
            raise ChainBroken(i, seq, "seq %d where seq %d was expected" % (seq, expect))
        if chain_digest(digest, seq, r[1], r[2], r[3], r[4], r[5]) != bytes(r[6]):
            raise ChainBroken(i, seq, "digest of seq %d does not chain" % seq)
        digest = r[6]
        expect = seq + 1
    return digest


def unpack_record(data, offset=0):
    # -> (seq, time_s, kind, tag, a, b, digest), crc_ok
    f = struct.unpack_from(_FIELDS, data, offset)
    digest = bytes(data[offset + _FIELDS_SIZE : offset + _CRC_AT])
    return (f[0], f[1], f[2], f[4], f[5], f[6], digest), _crc_ok(data, offset)


def flash_bytes_max(capacity, segment_records):
    # Unacked records are capped at capacity and at most one segment holds acked ones
    # (the newest, or the one being acked through); + two meta slots and a temp copy.
    return (capacity + segment_records - 1) * RECORD_SIZE + 3 * META_SIZE


def _crc_ok(data, offset):
    # The record's crc holds iff the crc32 of the whole record, its stored crc included,
    # is CRC-32's residue (one 4-byte tail gives it for any 40 bytes before it): no crc
    # value is made, and the residue is below 2**30, a small int on a 32-bit board,
    # where the crc itself and the stored value are big ints 3 times in 4 (32 B each).
    return binascii.crc32(memoryview(data)[offset : offset + RECORD_SIZE]) == _CRC_RESIDUE


def _field_error(name, lo, hi):
    return ProtocolError(
        E_BAD_FIELD, "event %s must be an integer in %d..%d" % (name, lo, hi), name
    )


class EventLog:
    # capacity: most unacknowledged events held; the last `reserve` of them only for
    # append(..., reserved=True), so the "log full" alarm and other safety-critical
    # events still fit once ordinary events are refused. warn_free: nearly_full() is
    # true once free() is down to this, for an early warning before the log fills.
    # damaged_kind: if set, since() serves a record that fails its crc or seq check as
    # this kind (tag = stored kind, a = stored seq), so that a reply stays well-formed.
    def __init__(
        self,
        flash,
        capacity=4096,
        reserve=8,
        warn_free=None,
        segment_records=SEGMENT_RECORDS,
        prefix="ev",
        genesis=GENESIS,
        damaged_kind=0,
        staged=False,
    ):
        # staged: the recovery scan is left to the caller, a part at a time
        # (recovering(): gateway/bootseq.py runs one part per boot step).
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError("event log capacity must be an integer >= 1")
        if not isinstance(reserve, int) or reserve < 0 or reserve >= capacity:
            raise ValueError("event log reserve must be an integer in 0..capacity-1")
        if warn_free is None:
            warn_free = (capacity - reserve) // 8
        if not isinstance(warn_free, int) or warn_free < 0:
            raise ValueError("event log warn_free must be an integer >= 0")
        if not isinstance(segment_records, int) or segment_records < 1:
            raise ValueError("event log segment_records must be an integer >= 1")
        if not isinstance(prefix, str) or not prefix or "/" in prefix:
            raise ValueError("event log prefix must be a non-empty name without '/'")
        if len(genesis) != DIGEST_SIZE:
            raise ValueError("event log genesis digest must be %d bytes" % DIGEST_SIZE)
        self.capacity = capacity
        self.reserve = reserve
        self.warn_free = warn_free
        self._flash = flash
        # By number where the flash can (FileFlash: the path in one step, no name).
        self._remove_numbered = getattr(flash, "remove_numbered", None)
        self._k = segment_records
        self._prefix = prefix
        # A segment's name from one int: no argument tuple per name (a name is made on
        # every new segment and for every segment an ack removes).
        self._name_fmt = prefix.replace("%", "%%") + "%08x"
        # The ack record's two slots (the format above); logscan sets the one in force.
        self._meta = store.Slots(flash, (prefix + "meta", prefix + "meta2"), META_SIZE)
        # Preallocated so that append() packs in place (ARCHITECTURE.md §6).
        self._rec = bytearray(RECORD_SIZE)
        mv = memoryview(self._rec)
        self._fields_mv = mv[:_FIELDS_SIZE]
        self._crc_mv = mv[:_CRC_AT]
        self._ends = bytearray(_ENDS * DIGEST_SIZE)
        self._end_seq = [0] * _ENDS  # the record each digest in _ends is of; 0: none
        self._end_next = 0
        self._anchor_new = bytearray(DIGEST_SIZE)  # an ack's anchor, until its meta is on
        self._digest = bytearray(DIGEST_SIZE)  # of the newest record, or the anchor
        # First and last seq of each segment but the newest, as two lists of small ints:
        # a full log of 8-record segments has hundreds of them. The digest a removed
        # segment leaves as the anchor is read back from flash when an ack needs it.
        self._old_first = []
        self._old_last = []
        self._seg_name = None  # the newest segment, appended to
        self._seg_first = 0
        self._seg_count = 0
        self._torn_name = None  # segment whose tail a failed append may have dirtied
        self._seg_sealed = False  # never append to the newest segment (boot found damage)
        self.damaged_kind = damaged_kind
        self.last_seq = 0  # highest seq ever given out
        self.acked = 0
        self.anchor_seq = 0
        self._anchor = bytearray(genesis)  # changed in place: an ack allocates no copy
        self.torn_on_boot = 0
        self.removed_on_boot = 0  # segments an interrupted ack left behind
        self.tampered = False
        self.tamper_code = 0
        self.tamper_seq = 0
        self.tamper_reason = None
        # Seqs above acked that no record holds (a damaged log: a segment named far
        # ahead, or one deleted), as [lo, hi, ...]; _skipped counts them, so that
        # unacked() is the records actually held, not the span of their names.
        self._gaps = []
        self._skipped = 0
        if not staged:
            for _ in self.recovering():
                pass

    def recovering(self):
        # The recovery scan, once a boot, as a generator yielding between its parts; its
        # code leaves the heap after (gateway/logscan.py), as the boot sequence's does.
        from gateway import logscan

        try:
            for _ in logscan.recover(self):
                yield
        finally:
            store.unload("logscan")

    # ---- the hot path ----

    def append(self, time_s, kind, tag, a, b, reserved=False, keep=-1):
        # time_s: unix seconds (any u32). keep: places that must stay free after this one
        # (default: the whole reserve for an ordinary event, none for a reserved one),
        # for tiers inside the reserve.
        if not isinstance(time_s, int) or time_s < 0 or time_s > _U32_MAX:
            raise _field_error("time_s", 0, _U32_MAX)
        return self._append(time_s >> 16, time_s & 0xFFFF, kind, tag, a, b, reserved, keep)

    def append_clock(self, clock_s, kind, tag, a, b, reserved=False, keep=-1):
        # As append, the time in the firmware's clock seconds (gateway/caps.py, 0 =
        # unknown): stored as the same unix u32, built from halves, so no big int is made.
        if not isinstance(clock_s, int) or clock_s < 0 or clock_s > CLOCK_MAX_S:
            raise _field_error("clock_s", 0, CLOCK_MAX_S)
        return self._append(unix_hi(clock_s), unix_lo(clock_s), kind, tag, a, b, reserved, keep)

    def _append(self, time_hi, time_lo, kind, tag, a, b, reserved, keep):
        if not isinstance(kind, int) or kind < 1 or kind > 0xFFFF:
            raise _field_error("kind", 1, 0xFFFF)
        if not isinstance(tag, int) or tag < 0 or tag > _U32_MAX:
            raise _field_error("tag", 0, _U32_MAX)
        if not isinstance(a, int) or a < _I32_MIN or a > _I32_MAX:
            raise _field_error("a", _I32_MIN, _I32_MAX)
        if not isinstance(b, int) or b < _I32_MIN or b > _I32_MAX:
            raise _field_error("b", _I32_MIN, _I32_MAX)
        if keep < 0:
            keep = 0 if reserved else self.reserve
        limit = self.capacity - keep
        if self.last_seq - self.acked - self._skipped >= limit:
            raise LogFull(
                "event log full: %d events await acknowledgement"
                % (self.last_seq - self.acked - self._skipped)
            )
        if self.last_seq >= _U32_MAX:
            raise LogFull("event log sequence numbers exhausted")
        if self._torn_name is not None:
            self._clean_torn_tail()
        seq = self.last_seq + 1
        new_seg = (
            self._seg_name is None
            or self._seg_count >= self._k
            or self._seg_sealed
            or self._seg_first + self._seg_count != seq
        )
        name = self._segment_name(seq) if new_seg else self._seg_name

        rec = self._rec
        struct.pack_into(_FIELDS_HALVES, rec, 0, seq, time_lo, time_hi, kind, 0, tag, a, b)
        h = hashlib.sha256(self._digest)
        h.update(self._fields_mv)
        digest = h.digest()
        struct.pack_into("16s", rec, _FIELDS_SIZE, digest)
        struct.pack_into("<I", rec, _CRC_AT, binascii.crc32(self._crc_mv))
        try:
            self._flash.append(name, rec)
        except OSError:
            # Part of the record may be on flash; cut it off before the next append.
            self._torn_name = name
            raise

        if new_seg:
            if self._seg_name is not None:
                last = self._seg_first + self._seg_count - 1
                self._old_first.append(self._seg_first)
                self._old_last.append(last)
                self._remember_end(last, self._digest)
            self._seg_name = name
            self._seg_first = seq
            self._seg_count = 0
            self._seg_sealed = False
        self._seg_count += 1
        struct.pack_into("16s", self._digest, 0, digest)
        self.last_seq = seq
        return seq

    # ---- the host's side ----

    def ack(self, seq):
        # The host has everything <= seq. Returns the number of segments removed.
        if not isinstance(seq, int) or seq < 0:
            raise ProtocolError(E_BAD_FIELD, "ack seq must be an integer >= 0", "seq")
        if seq > self.last_seq:
            raise ProtocolError(
                E_BAD_FIELD,
                "ack of seq %d beyond the last event %d" % (seq, self.last_seq),
                "seq",
            )
        if seq <= self.acked:
            return 0
        n_old = 0
        anchor_seq = self.anchor_seq
        anchor = self._anchor
        for last in self._old_last:
            if last > seq:
                break
            n_old += 1
        if n_old:
            anchor_seq = self._old_last[n_old - 1]
            anchor = self._anchor_new
            self._stored_digest(self._old_first[n_old - 1], anchor_seq, anchor)
        # The newest segment goes only once full: appends would otherwise reopen it.
        drop_newest = (
            n_old == len(self._old_first)
            and self._seg_name is not None
            and self._seg_count >= self._k
            and self._seg_first + self._seg_count - 1 <= seq
        )
        if drop_newest:
            anchor_seq = self._seg_first + self._seg_count - 1
            anchor = self._anchor_new
            struct.pack_into("16s", anchor, 0, self._digest)
        self._write_meta(seq, anchor_seq, anchor)
        self.acked = seq
        self.anchor_seq = anchor_seq
        if anchor is not self._anchor:
            struct.pack_into("16s", self._anchor, 0, anchor)
        if self._gaps:
            self._count_skipped()
        removed = 0
        remove_numbered = self._remove_numbered
        while n_old:
            if remove_numbered is None:
                self._flash.remove(self._segment_name(self._old_first[0]))
            else:
                remove_numbered(self._name_fmt, self._old_first[0])
            self._old_first.pop(0)
            self._old_last.pop(0)
            n_old -= 1
            removed += 1
        if drop_newest:
            self._flash.remove(self._seg_name)
            self._seg_name = None
            self._seg_count = 0
            removed += 1
        return removed

    def since(self, seq, max_n, out=None):
        # Records with seq > the one given, oldest first, at most max_n, as
        # (seq, time_s, kind, tag, a, b, digest) tuples; into `out` if given.
        if not isinstance(seq, int) or seq < 0 or seq > self.last_seq:
            raise ProtocolError(
                E_BAD_FIELD, "since seq must be an integer in 0..%d" % self.last_seq, "seq"
            )
        if not isinstance(max_n, int) or max_n < 0:
            raise ProtocolError(E_BAD_FIELD, "since max_n must be an integer >= 0", "max_n")
        if out is None:
            out = []
        else:
            del out[:]
        want = seq + 1
        n_spans = len(self._old_first) + (1 if self._seg_name is not None else 0)
        for i in range(n_spans):
            if len(out) >= max_n:
                break
            if i < len(self._old_first):
                first = self._old_first[i]
                last = self._old_last[i]
            else:
                first = self._seg_first
                last = self._seg_first + self._seg_count - 1
            if last < want:
                continue
            j0 = (want if want > first else first) - first
            n = last - first + 1 - j0
            if n > max_n - len(out):
                n = max_n - len(out)
            # Segments a damaged log made overlap are served once each seq: boot has
            # reported the overlap, and a reply must stay consecutive.
            want = first + j0 + n
            name = self._segment_name(first)
            data = self._flash.read_at(name, j0 * RECORD_SIZE, n * RECORD_SIZE)
            got = 0 if data is None else len(data) // RECORD_SIZE
            if got < n:
                self._tamper(TAMPER_LAYOUT, first + j0 + got, "segment %s shrank" % name)
                n = got
            for k in range(n):
                expect = first + j0 + k
                record, crc_ok = unpack_record(data, k * RECORD_SIZE)
                if not crc_ok:
                    self._tamper(TAMPER_CRC, expect, "record %d fails its crc" % expect)
                elif record[0] != expect:
                    self._tamper(TAMPER_SEQ, expect, "record %d holds seq %d" % (expect, record[0]))
                if self.damaged_kind and (not crc_ok or record[0] != expect or not record[2]):
                    # Served as what it is, in its place: its stored seq or kind may not
                    # even fit the wire. The stored digest still breaks the host's chain.
                    record = (
                        expect,
                        record[1],
                        self.damaged_kind,
                        record[2],
                        record[0] & 0x7FFFFFFF,
                        0,
                        record[6],
                    )
                out.append(record)
        return out

    # ---- room ----

    def unacked(self):
        return self.last_seq - self.acked - self._skipped

    def free(self):
        # Room for ordinary events; the reserve is on top of this.
        n = self.capacity - self.reserve - (self.last_seq - self.acked - self._skipped)
        return n if n > 0 else 0

    def nearly_full(self):
        return self.free() <= self.warn_free

    def last_digest(self):
        return bytes(self._digest)

    def anchor_digest(self):
        return bytes(self._anchor)

    # ---- internals ----

    def _segment_name(self, first):
        return self._name_fmt % first

    def _tamper(self, code, seq, reason):
        # Keep the first finding: later ones are usually its consequences.
        if not self.tampered:
            self.tampered = True
            self.tamper_code = code
            self.tamper_seq = seq
            self.tamper_reason = reason

    def _remember_end(self, seq, digest):
        # digest: of record seq, the last of a sealed segment (its anchor once acked).
        i = self._end_next
        self._end_seq[i] = seq
        struct.pack_into("16s", self._ends, i * DIGEST_SIZE, digest)
        self._end_next = 0 if i + 1 >= _ENDS else i + 1

    def _stored_digest(self, first, seq, out):
        # The digest of record seq, the last of the segment that starts at first, into
        # out: the anchor an ack leaves, what the next record chains from. Kept for the
        # newest segments (_remember_end); else only its 16 bytes are read from flash.
        seqs = self._end_seq
        for i in range(_ENDS):
            if seqs[i] == seq:
                ends = self._ends
                k = i * DIGEST_SIZE
                for j in range(DIGEST_SIZE):
                    out[j] = ends[k + j]
                return
        data = self._flash.read_at(
            self._segment_name(first), (seq - first) * RECORD_SIZE + _FIELDS_SIZE, DIGEST_SIZE
        )
        if data is None or len(data) < DIGEST_SIZE:
            self._tamper(TAMPER_LAYOUT, seq, "record %d vanished before its ack" % seq)
            data = GENESIS
        struct.pack_into("16s", out, 0, data)

    def lost_through(self, seq):
        # Something outside the log (the state snapshot) shows events up to seq were
        # logged, but the log ends below: they were deleted. Never reuse their seqs.
        if seq <= self.last_seq:
            return
        self._tamper(
            TAMPER_SEQ,
            self.last_seq + 1,
            "events %d..%d are missing from the log" % (self.last_seq + 1, seq),
        )
        self.last_seq = seq
        if self.acked < seq:
            self.acked = seq  # gone: nobody can fetch them, so they hold no room
        self._count_skipped()

    def _count_skipped(self):
        # Drop the gaps acks have passed; count what is left above acked.
        g = self._gaps
        while g and g[1] <= self.acked:
            del g[0:2]
        n = 0
        for i in range(0, len(g), 2):
            lo = g[i] if g[i] > self.acked else self.acked + 1
            n += g[i + 1] - lo + 1
        self._skipped = n

    def _write_meta(self, acked, anchor_seq, anchor):
        # Into the slot not in force, in place beside a whole one (store.Slots).
        m = self._meta
        struct.pack_into(_META, m.rec, 0, _MAGIC, acked, anchor_seq, anchor)
        m.write()

    def _clean_torn_tail(self):
        name = self._torn_name
        keep = self._seg_count * RECORD_SIZE if name == self._seg_name else 0
        size = self._flash.size(name)
        if size is not None and size > keep:
            if keep:
                self._flash.truncate(name, keep)
            else:
                self._flash.remove(name)
        self._torn_name = None
