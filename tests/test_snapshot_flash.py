"""The state snapshot on the real littlefs (the C library, as MicroPython mounts a Pico W's
file system: benches/lfs_flash.py): its parts are appended unsynced and its trailer
synced, so a save with 300 in erases a few blocks instead of one per part, and a power
cut before the trailer leaves the older slot in force (gateway/snapshot.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

import gateway_work
import lfs_flash
from littlefs import LittleFS, UserContext

from gateway import bootseq, snapshot, store


@pytest.fixture(scope="module")
def shaft():
    fs, dev = lfs_flash.mount()

    class LfsBoard(gateway_work.BenchBoard):
        def __init__(self):
            super().__init__(gateway_work.fresh_root())
            self.flash = lfs_flash.LfsFlash(fs)

    s = gateway_work.Shaft(host=True, board=LfsBoard())
    assert s.gw.zone.count == gateway_work.IN_ZONE
    return s, dev


def erases_of_a_save(shaft, dev):
    before = sum(dev.erases)
    shaft.gw._save_state()
    return sum(dev.erases) - before


def test_a_save_with_300_in_erases_a_few_blocks_not_one_per_part(shaft, monkeypatch):
    s, dev = shaft
    erases_of_a_save(s, dev)  # both slots exist from here on
    unsynced = [erases_of_a_save(s, dev) for _ in range(4)]
    # The same save with every part synced (a flash without append_unsynced): the
    # Snapshots looks the call up when built, so it is built after the call is gone,
    # and carries on from the same generation and slot.
    monkeypatch.delattr(lfs_flash.LfsFlash, "append_unsynced")
    kept = s.gw.snapshots
    s.gw.snapshots = snapshot.Snapshots(s.board.flash)
    s.gw.snapshots.gen, s.gw.snapshots._slot = kept.gen, kept._slot
    try:
        synced = [erases_of_a_save(s, dev) for _ in range(4)]
    finally:
        kept.gen, kept._slot = s.gw.snapshots.gen, s.gw.snapshots._slot
        s.gw.snapshots = kept
    assert max(unsynced) <= 4, unsynced
    assert min(synced) >= 7, synced


def test_a_cut_before_the_trailer_leaves_the_older_slot_in_force(shaft, monkeypatch):
    s, dev = shaft
    gw = s.gw
    fl = s.board.flash
    gw._save_state()
    older = gw.log.last_seq
    s.run(4)
    assert gw.log.last_seq > older
    image = {}
    synced_append = fl.append

    def cut_before_the_trailer(name, data):
        if name in snapshot.SLOTS:
            # What a cut now leaves on the chip: the parts in the file's cache, or
            # programmed but never committed.
            image["flash"] = bytearray(dev.buffer)
            raise OSError(5, "power cut")
        return synced_append(name, data)

    monkeypatch.setattr(fl, "append", cut_before_the_trailer)
    with pytest.raises(OSError):
        gw._save_state()
    monkeypatch.undo()
    after_cut = lfs_flash.LfsFlash(
        LittleFS(
            context=UserContext(buffer=image["flash"]),
            block_size=lfs_flash.BLOCK_SIZE,
            block_count=len(image["flash"]) // lfs_flash.BLOCK_SIZE,
            read_size=lfs_flash.READ_SIZE,
            prog_size=lfs_flash.PROG_SIZE,
            cache_size=4 * lfs_flash.PROG_SIZE,
            lookahead_size=lfs_flash.LOOKAHEAD,
            block_cycles=lfs_flash.BLOCK_CYCLES,
        )
    )
    assert snapshot.Snapshots(after_cut).covered() == older
    # Without the cut the new save is the one in force.
    gw._save_state()
    assert snapshot.Snapshots(fl).covered() == gw.log.last_seq


class _Counter:
    # The app's counter writer: store.Slots over COUNTER_SLOTS, and store.write_counter.
    def __init__(self, flash):
        self.slots = store.Slots(flash, store.COUNTER_SLOTS, 16)

    def write(self, counter):
        store.write_counter(self.slots, counter)


def _remount(image):
    # The file system a board finds at power-on after the cut (the chip's bytes then).
    return lfs_flash.LfsFlash(
        LittleFS(
            context=UserContext(buffer=image),
            block_size=lfs_flash.BLOCK_SIZE,
            block_count=len(image) // lfs_flash.BLOCK_SIZE,
            read_size=lfs_flash.READ_SIZE,
            prog_size=lfs_flash.PROG_SIZE,
            cache_size=4 * lfs_flash.PROG_SIZE,
            lookahead_size=lfs_flash.LOOKAHEAD,
            block_cycles=lfs_flash.BLOCK_CYCLES,
        )
    )


def _cut_at_the_synced_append_of(fl, dev, name, monkeypatch, image):
    synced_append = fl.append

    def cut(n, data):
        if n == name:
            image["flash"] = bytearray(dev.buffer)
            raise OSError(5, "power cut")
        return synced_append(n, data)

    monkeypatch.setattr(fl, "append", cut)


def test_a_cut_before_the_log_metas_crc_leaves_the_older_slot_in_force(monkeypatch):
    # The event log's ack record, rewritten in place in the slot not in force
    # (gateway/eventlog.py): on littlefs a cut before its synced crc append leaves that
    # slot as it was (copy-on-write) or short, and the other slot in force, whole.
    from gateway.eventlog import EventLog

    fs, dev = lfs_flash.mount()
    fl = lfs_flash.LfsFlash(fs)
    log = EventLog(fl, capacity=100, reserve=2, segment_records=4)
    for i in range(20):
        log.append(1000 + i, 1, i, i, 0)
    log.ack(2)  # slot 0, atomically
    log.ack(3)  # slot 1, in place
    assert fl.size("evmeta") == fl.size("evmeta2") == 32
    image = {}
    _cut_at_the_synced_append_of(fl, dev, "evmeta", monkeypatch, image)
    with pytest.raises(OSError):
        log.ack(9)  # slot 0, in place: cut before its crc
    monkeypatch.undo()
    after = EventLog(_remount(image["flash"]), capacity=100, reserve=2, segment_records=4)
    assert after.acked == 3 and not after.tampered, after.tamper_reason
    assert after.last_seq == 20 and after.removed_on_boot == 0
    # Without the cut the new slot is the one in force.
    log2 = EventLog(fl, capacity=100, reserve=2, segment_records=4)
    log2.ack(9)
    assert EventLog(fl, capacity=100, reserve=2, segment_records=4).acked == 9


def test_a_cut_before_the_counters_crc_leaves_the_older_counter_in_force(monkeypatch):

    fs, dev = lfs_flash.mount()
    fl = lfs_flash.LfsFlash(fs)
    slots = _Counter(fl)
    slots.write(1733300000001)  # auth.cbor, atomically
    slots.write(1733300000002)  # auth2.cbor, in place
    image = {}
    _cut_at_the_synced_append_of(fl, dev, "auth.cbor", monkeypatch, image)
    with pytest.raises(OSError):
        slots.write(1733300000003)
    monkeypatch.undo()
    assert bootseq.read_counter(_remount(image["flash"])) == 1733300000002
    _Counter(fl).write(1733300000004)
    assert bootseq.read_counter(fl) == 1733300000004
