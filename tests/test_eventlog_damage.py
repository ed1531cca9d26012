# micropython-test
# The event log over damaged flash (issue 13.2, R-DATA-2): overlapping segments are
# served once per seq, a record that does not verify is served as the damaged kind in
# its place, new events never land after a stray partial record or in a file another
# name already claims, and seqs a snapshot covers are never given out again.
from tornflash import TornFlash

from gateway.eventlog import RECORD_SIZE, TAMPER_LAYOUT, TAMPER_SEQ, EventLog

K = 4
DAMAGED = 120


def _open(flash, **kw):
    kw.setdefault("capacity", 64)
    kw.setdefault("reserve", 2)
    kw.setdefault("segment_records", K)
    kw.setdefault("damaged_kind", DAMAGED)
    return EventLog(flash, **kw)


def _fill(log, n, t0=1000):
    for i in range(n):
        log.append(t0 + i, 1, 100 + i, i, -i)


def _seg(first):
    return "ev%08x" % first


def _reboot(flash, **kw):
    flash.reboot()
    return _open(flash, **kw)


def test_overlapping_segments_are_served_once_per_seq_and_consecutive():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 8)  # segments 1..4 and 5..8
    flash.inner.write(_seg(3), flash.inner.read(_seg(1)))  # a stray copy claiming 3..6
    log = _reboot(flash)
    assert log.tampered and log.tamper_code == TAMPER_SEQ
    seqs = [r[0] for r in log.since(0, 100)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert seqs[-1] == log.last_seq


def test_a_record_that_does_not_verify_is_served_as_the_damaged_kind():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)
    data = bytearray(flash.inner.read(_seg(1)))
    data[RECORD_SIZE : RECORD_SIZE + 4] = b"\x00\x00\x00\x00"  # seq 2 now holds seq 0
    flash.inner.write(_seg(1), bytes(data))
    log = _reboot(flash)
    recs = log.since(0, 100)
    assert recs[1][0] == 2 and recs[1][2] == DAMAGED and recs[1][3] == 1 and recs[1][4] == 0
    # Not firing: the records around it are served as stored.
    assert recs[0][2] == 1 and recs[2][2] == 1 and recs[2][0] == 3


def test_no_new_record_lands_after_a_stray_partial_record():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)  # 1..4, 5..6
    flash.inner.write(_seg(9), b"\x01")  # a stray file claiming seq 9
    data = flash.inner.read(_seg(5))
    flash.inner.write(_seg(5), data + b"\x02")  # and a partial record inside 5..
    log = _reboot(flash)
    assert log.tampered
    assert log.last_seq >= 6
    seq = log.append(2000, 1, 7, 0, 0)
    # The stray newest file was a torn tail (removed); segment 5.. holds 2 records and
    # a partial third, which keeps its place (seq 7): seq 8 starts a segment of its own.
    assert seq == 8 and _seg(8) in flash.inner.names()
    assert len(flash.inner.read(_seg(5))) == 2 * RECORD_SIZE + 1
    log = _reboot(flash)
    recs = log.since(0, 100)
    assert [r[0] for r in recs][-1] == seq and recs[-1][2] == 1  # readable, in place


def test_seqs_the_snapshot_covers_are_never_given_out_again():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 5)
    for name in flash.inner.names():
        flash.inner.remove(name)
    log = _reboot(flash)
    assert not log.tampered and log.last_seq == 0
    log.lost_through(5)
    assert log.tampered and log.tamper_code == TAMPER_SEQ and log.tamper_seq == 1
    assert log.unacked() == 0
    assert log.append(3000, 1, 0, 0, 0) == 6
    # Not firing: a snapshot at or below the log's end changes nothing.
    other = _open(TornFlash.on_files())
    _fill(other, 3)
    other.lost_through(3)
    assert not other.tampered and other.last_seq == 3


def test_a_partial_record_in_an_older_segment_is_layout_tampering():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)
    data = flash.inner.read(_seg(1))
    flash.inner.write(_seg(1), data[:-3])
    log = _reboot(flash)
    assert log.tampered and log.tamper_code == TAMPER_LAYOUT


def _forged_record(seq):
    # A record as a careful forger writes it: its seq matches the file's name and its
    # crc is right; only the chain (and the seqs before it) give it away.
    import binascii
    import struct

    rec = bytearray(RECORD_SIZE)
    struct.pack_into("<IIHHIii", rec, 0, seq, 5000, 1, 0, 999, 0, 0)
    struct.pack_into("<I", rec, 40, binascii.crc32(bytes(rec[:40])))
    return bytes(rec)


def test_a_segment_named_far_ahead_takes_no_room_and_is_tampering():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)  # 1..4, 5..6
    log.ack(2)
    far = 0x100000
    flash.inner.write(_seg(far), _forged_record(far))
    log = _reboot(flash)
    assert log.tampered and log.tamper_code == TAMPER_SEQ and log.tamper_seq == 7
    # What it holds: 3..6 and the forged one, not the million seqs its name skips.
    assert log.unacked() == 5
    assert log.free() == 64 - 2 - 5 and not log.nearly_full()
    seq = log.append(6000, 1, 7, 0, 0)
    assert seq == far + 1 and log.unacked() == 6
    assert [r[0] for r in log.since(2, 100)] == [3, 4, 5, 6, far, far + 1]
    # Acked through the gap: nothing held is left, nothing more can be counted.
    log.ack(far + 1)
    assert log.unacked() == 0 and log.free() == 62
    log = _reboot(flash)
    assert log.unacked() == 0 and log.last_seq == far + 1


def test_the_room_a_gap_takes_comes_back_as_acks_pass_it():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)
    flash.inner.write(_seg(40), _forged_record(40))
    log = _reboot(flash)
    assert log.unacked() == 7
    log.ack(5)  # below the gap: 6 and 40 held
    assert log.unacked() == 2
    log.ack(30)  # inside it: 40 held
    assert log.unacked() == 1


def test_a_segment_named_past_any_real_seq_is_left_aside_and_logging_goes_on():
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 6)
    top = 0xFFFFFFFF
    flash.inner.write(_seg(top), _forged_record(top))
    log = _reboot(flash)
    assert log.tampered and log.tamper_code == TAMPER_SEQ
    assert log.last_seq == 6 and log.unacked() == 6
    assert log.append(6000, 1, 7, 0, 0) == 7  # never "sequence numbers exhausted"
    assert _seg(top) in flash.inner.names()  # the evidence stays on flash
    log = _reboot(flash)
    assert log.tampered and log.last_seq == 7


def test_an_undamaged_log_counts_every_seq_since_the_ack():
    # Not firing: no gap, no name far ahead, the count is last_seq - acked.
    flash = TornFlash.on_files()
    log = _open(flash)
    _fill(log, 10)
    log.ack(3)
    log = _reboot(flash)
    assert not log.tampered
    assert log.unacked() == log.last_seq - log.acked == 7
