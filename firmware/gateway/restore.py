# Restoring the gateway's state: the zone and the interlocks from the newest state
# snapshot (its rows read from flash into the ledger's arrays), then the crossings logged
# after it; at boot, then the boot's own events. Boot-time code (config-set runs it as
# well): app.boot_step imports it once the boot sequence (gateway/bootseq.py) has built
# the zone and let that go, and lets it go once booted, so that neither is in a board's
# heap with the other, nor after the boot (store.unload).
import struct

from gateway import events as ev
from gateway import roles, store
from gateway.app import FAULT_FILE, SYS_LOG_TAMPERED, SYS_RESTORING, SYS_STATE_LOST
from gateway.caps import now_clock, unix_hi, unix_lo
from gateway.snapshot import _HEAD, _HEAD_FMT, _MAGIC, SLOTS, SnapshotError, _raw
from gatewire import cbor
from gatewire.errors import ProtocolError


def boot(gw):
    # The boot's last phases (app.boot_step): the state restored, then the boot logged.
    for _ in run(gw):
        yield
    gw.system &= ~SYS_RESTORING
    gw.emit(ev.BOOT, gw.boot_count & 0xFFFF, gw.system, gw.log.last_seq & 0x7FFFFFFF)
    if gw.log.torn_on_boot:
        gw.emit(ev.LOG_TORN_DISCARDED, 0, gw.log.torn_on_boot, 0)
    if gw.log.tampered:
        gw.system |= SYS_LOG_TAMPERED
        gw.emit(ev.LOG_TAMPERED, gw.log.tamper_code, gw.log.tamper_seq & 0x7FFFFFFF, 0)
    if gw.system & ~SYS_RESTORING:
        gw.emit(ev.SYSTEM_ALARM, 0, gw.system, 0)
    _log_last_fault(gw)
    gw._save_state()
    store.unload("config")  # imported again if the stored config was refused


def run(gw):
    # The zone and interlocks from the newest snapshot, then the crossings logged after
    # it (Gateway._replay), yielding between parts. The roster is not reread: it is on
    # flash already, opened at boot.
    now_ms = gw._now_ms
    covered = 0
    try:
        snap = load(gw.snapshots, gw.zone, now_ms, gw._now_s)
        if snap is not None:
            covered, il_blob, sealed = snap
            gw.il.restore(cbor.loads(il_blob), now_ms)
            gw.sealed = sealed
            gw.zone.set_sealed(sealed)
        elif gw.log.anchor_seq > 0:
            raise SnapshotError("state snapshot missing while acked events are gone")
    except (SnapshotError, ProtocolError, ValueError, TypeError, IndexError):
        gw.system |= SYS_STATE_LOST
        covered = gw.log.anchor_seq
    if type(covered) is not int or covered < 0 or covered > gw.log.last_seq:
        covered = gw.log.last_seq  # see bootseq._log_against_state: nothing to replay
    yield
    for _ in gw._replay(covered):
        yield


def _log_last_fault(gw):
    # The fault that reset the board last time, recorded by app._fault(), as evidence.
    try:
        rec = store.read_cbor(gw.flash, FAULT_FILE)
    except store.StoreError:
        rec = [0, 0, 0, "?"]
    if rec is None:
        return
    ok = isinstance(rec, list) and len(rec) == 4
    for i in range(3):
        if not ok or type(rec[i]) is not int or not 0 <= rec[i] <= 0xFFFF:
            ok = False
    if ok:
        gw.emit(ev.FAULT, rec[1], rec[0], rec[2])
    else:
        gw.emit(ev.FAULT, 0, 0, 0)
    gw.flash.remove(FAULT_FILE)


def load(snaps, zone, now_ms, now_s):
    # snaps: gateway.snapshot.Snapshots, whose slots it reads. Restores the zone from the newest valid slot; returns (seq, interlocks CBOR,
    # sealed), or None if there is no snapshot at all. SnapshotError if there are
    # snapshots and none is whole (the zone untouched), or the newest holds a bad row
    # (the zone left empty).
    fl = snaps._flash
    best_slot = snaps._newest()
    if best_slot < 0:
        for name in SLOTS:
            if fl.size(name) is not None:
                raise SnapshotError("state snapshot: no slot is whole (damaged or cut)")
        return None
    # The chosen slot's rows are read from flash straight into the ledger's arrays
    # (the boot's heap peak holds no copy of them); each slot was checked whole
    # through a small buffer, and the header is checked again as read.
    result = _read_slot(
        fl, SLOTS[best_slot], snaps._head, snaps._gen_of[best_slot], zone, now_ms, now_s
    )
    snaps.gen = snaps._gen_of[best_slot]
    snaps._slot = best_slot
    return result


def _read_slot(fl, name, head, gen, zone, now_ms, now_s):
    # The ledger's columns are read into its arrays as they are (no int per field, no
    # copy of the slot in the heap); each stay's monotonic start is rebuilt from its
    # wall-clock start in 16-bit halves, so no big int is made per row either. A bad
    # snapshot leaves the zone empty (restore_start(0, -1, 0)) and raises SnapshotError.
    f = fl.reader(name)
    try:
        if f.readinto(head) != _HEAD:
            raise SnapshotError("state snapshot: slot changed while read")
        _magic, got_gen, seq, overflow, sealed, _v, cap, expiry, il_len, n = struct.unpack_from(
            _HEAD_FMT, head, 0
        )
        if got_gen != gen or head[:4] != _MAGIC:
            raise SnapshotError("state snapshot: slot changed while read")
        pol = zone.policy
        top = pol.legal[0] if pol.legal[0] > pol.legal[1] else pol.legal[1]
        if cap < -1 or cap > top or (cap >= 0 and expiry < 1):
            raise SnapshotError("state snapshot: temporary cap %d outside 0..%d" % (cap, top))
        il_blob = fl.read_at(name, _HEAD, il_len)
        if il_blob is None or len(il_blob) != il_len:
            raise SnapshotError("state snapshot: slot changed while read")
        il_blob = bytes(il_blob)
        base = _HEAD + il_len
        ld = zone.ledger
        m = n if n <= ld.capacity else ld.capacity  # a smaller ledger now: the rest counted
        zone.restore_start(overflow + n - m, cap, expiry)
        cols = ld.columns()
        sizes = (4, 4, 4, 1, 1, 1)
        offset = base
        for c in range(6):
            if m:
                f.seek(offset)
                if f.readinto(_raw(cols[c], m * sizes[c])) != m * sizes[c]:
                    zone.restore_start(0, -1, 0)
                    raise SnapshotError("state snapshot: slot changed while read")
            offset += n * sizes[c]
    finally:
        f.close()
    # Every row checked before the zone is in use (rows past a smaller ledger as well).
    bad = _bad_row(cols, m)
    if bad < 0 and m < n:
        bad = _bad_dropped(fl, name, base, m, n)
    if bad >= 0:
        zone.restore_start(0, -1, 0)
        raise SnapshotError(
            "state snapshot row %d: %s out of range"
            % (bad >> 1, "role or crew" if bad & 1 else "tag or person")
        )
    dup = ld.reindex(m)
    if dup >= 0:
        tags = _raw(cols[0], 4 * m)
        zone.restore_start(0, -1, 0)
        raise SnapshotError("state snapshot: tag %d appears twice" % _u32(tags, 4 * dup))
    # reindex() clears the ledger's count of unnamed people: set it again, or the
    # headcount after a reboot would leave them out (fail unsafe: the cap).
    ld.overflow = overflow + n - m
    if m < n:
        _remember(fl, name, base, m, n - m, zone)  # the rows a smaller ledger drops
    if overflow:
        # The remembered tags (at most overflow of them: Snapshots._check), between the
        # columns and the trailer.
        at = base + 15 * n
        _remember(fl, name, at, 0, (fl.size(name) - 4 - at) >> 2, zone)
    _ages(ld, _raw(cols[2], 4 * m), 0, m, now_ms, now_clock(now_s, zone.policy.epoch_s))
    zone.restore_finish(now_ms, now_s)
    return seq, il_blob, sealed == 1


def _remember(fl, name, at, first, k, zone):
    # The tags of those counted without a row, u32s from tag `first` on at `at`, that
    # the zone's memory still has room for (R-CAP-11). Each is checked as it is taken
    # (Zone.restore_unnamed): one refused, or not read, is still counted (the overflow),
    # with no tag remembered, so an exit by a tag the zone does not know un-counts nobody.
    room = len(zone.unnamed_tags) - zone.unnamed_n
    if k > room:
        k = room
    if k <= 0:
        return
    data = fl.read_at(name, at + 4 * first, 4 * k)
    if data is None or len(data) != 4 * k:
        return
    for i in range(k):
        zone.restore_unnamed(_u32(data, 4 * i))


def _bad_row(cols, m):
    # The first row out of range, as row * 2 (+1: role or crew), else -1. Read in bytes:
    # a u32 past 2**30 would be a big int.
    tags = _raw(cols[0], 4 * m)
    people = _raw(cols[1], 4 * m)
    role = cols[3]
    crew = cols[4]
    for k in range(m):
        o = 4 * k
        if tags[o + 3] > 0x3F or people[o + 3] > 0x3F or _u32(tags, o) == 0:
            return k * 2
        if role[k] > roles.MAX_ROLE or crew[k] > 2:
            return k * 2 + 1
    return -1


def _bad_dropped(fl, name, base, m, n):
    # As _bad_row for the rows a smaller ledger drops (rare: read from flash then).
    d = n - m
    tags = fl.read_at(name, base + 4 * m, 4 * d)
    people = fl.read_at(name, base + 4 * n + 4 * m, 4 * d)
    role = fl.read_at(name, base + 12 * n + m, d)
    crew = fl.read_at(name, base + 13 * n + m, d)
    for k in range(d):
        o = 4 * k
        if tags[o + 3] > 0x3F or people[o + 3] > 0x3F or _u32(tags, o) == 0:
            return (m + k) * 2
        if role[k] > roles.MAX_ROLE or crew[k] > 2:
            return (m + k) * 2 + 1
    return -1


_EPOCH_HI = 1577836800 >> 16  # caps.EPOCH_S in 16-bit halves
_EPOCH_LO = 1577836800 & 0xFFFF
_MAX_AGE_MS = 0x1FFFFFFF  # zone's longest exact age
_MAX_AGE_S = _MAX_AGE_MS // 1000


def _ages(ld, data, since, n, now_ms, now_c):
    # since_ms of each row: now_ms less its age from the wall clock, as zone._since_ms
    # gives it (0 when either clock is unknown). now_c: clock seconds (caps.now_clock).
    known = now_c > 0
    now_hi = unix_hi(now_c)
    now_lo = unix_lo(now_c)
    for r in range(n):
        o = since + 4 * r
        hi = data[o + 2] | data[o + 3] << 8
        lo = data[o] | data[o + 1] << 8
        age_ms = 0
        if known and (hi > _EPOCH_HI or (hi == _EPOCH_HI and lo >= _EPOCH_LO)):
            d = now_hi - hi
            if 0 <= d < 0x2000:
                age = d * 65536 + now_lo - lo
                if age > _MAX_AGE_S:
                    age_ms = _MAX_AGE_MS
                elif age > 0:  # a start after now is "just now", as zone._since_ms
                    age_ms = age * 1000
            elif d >= 0x2000:
                age_ms = _MAX_AGE_MS
        ld.set_since_ms(r, now_ms - age_ms)


def _u32(b, o):
    # A small int (ids are below 2**30): no tuple, no big int.
    return b[o] | b[o + 1] << 8 | b[o + 2] << 16 | b[o + 3] << 24
