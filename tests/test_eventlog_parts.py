# micropython-test
# The event log's recovery at boot in parts (gateway/logscan.py, EventLog.recovering):
# its work and its garbage grow with the log (about 600 B a record verified), so a boot
# runs it a part per step (gateway/bootseq.py) and no one call of a board holds it all.
# Under the pico profile each part is a call of its own (tests/hostcalls.py), its heap
# checked: the whole scan of this log in one call needs more than a Pico's heap.
from hostcalls import in_parts
from tornflash import fresh_root

from gateway.eventlog import SEGMENT_RECORDS, TAMPER_CHAIN, EventLog
from hal.flashfs import FileFlash

RECORDS = 400


def _filled(records=RECORDS, yield_every=50):
    fl = FileFlash(fresh_root())
    log = EventLog(fl, 4096)
    for i in range(records):
        log.append(1750000000 + i, 3, 1 + i, i, 0)
        if i % yield_every == yield_every - 1:
            yield
    return fl, log.last_digest()


@in_parts
def test_a_staged_log_recovers_a_part_at_a_time_and_ends_as_a_whole_scan():
    fl, digest = yield from _filled()
    log = EventLog(fl, 4096, staged=True)
    parts = 0
    for _ in log.recovering():
        parts += 1
        yield
    # A part per two segments: the scan is bounded per part, not by the log.
    assert parts == RECORDS // SEGMENT_RECORDS // 2 - 1, parts
    assert log.last_seq == RECORDS and not log.tampered
    assert log.last_digest() == digest
    assert [r[0] for r in log.since(RECORDS - 3, 10)] == [RECORDS - 2, RECORDS - 1, RECORDS]
    log = None
    yield
    # Firing: damage in a later part is still found, as by a whole scan.
    name = "ev%08x" % (RECORDS - SEGMENT_RECORDS + 1)
    data = bytearray(fl.read(name))
    data[30] ^= 1  # a digest byte: the chain breaks there (the crc is the record's own)
    import binascii
    import struct

    struct.pack_into("<I", data, 40, binascii.crc32(bytes(data[0:40])))
    fl.write(name, bytes(data))
    log = EventLog(fl, 4096, staged=True)
    for _ in log.recovering():
        yield
    assert log.tampered and log.tamper_code == TAMPER_CHAIN, log.tamper_reason


def test_an_unstaged_log_recovers_whole_when_built():
    # Not staged (every user but the boot): EventLog() runs the whole scan itself (a
    # short log: the whole scan in one call).
    gen = _filled(40, 40)
    try:
        while True:
            next(gen)
    except StopIteration as e:
        fl, digest = e.value
    log = EventLog(fl, 4096)
    assert log.last_seq == 40 and log.last_digest() == digest
