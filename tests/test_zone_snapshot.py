# micropython-test
# R-CAP-11 across a power cut: the tags the zone remembers among those counted without a
# ledger row go into the binary state snapshot (gateway/snapshot.py, after the ledger's
# columns) and come back with it (gateway/restore.py), so an exit by one of them after a
# reboot still un-counts them, and an exit by anyone else still un-counts nobody. A slot
# written before they were kept (none after the columns) restores the overflow with no tag
# remembered: every such exit is kept in and said (fail safe). Run on the interpreter the
# boards run, with the in-RAM flash (the same Flash calls as the board's).
import binascii
import struct

from hostcalls import in_parts
from mpcheck import raises
from zonekit import make_zone, person, reads, settle, walk_in, walk_in_group, walk_out

from gateway import events as ev
from gateway import restore, snapshot
from gateway.doorway import DECIDED_KEPT_IN, DOUBT_UNNAMED
from gateway.ramflash import RamFlash

TAGS = list(range(1, 61))
_IL = b"\x80"  # the interlocks' part: an empty CBOR array is enough for the zone's


def _shaft(**kw):
    return make_zone("shaft", "shaft", TAGS, shaft_cap=100, ledger_capacity=2, **kw)


def _unnamed(z):
    return sorted(z.unnamed_tags[i] for i in range(z.unnamed_n))


def _saved(z):
    fl = RamFlash()
    snapshot.Snapshots(fl).save(7, z, _IL, False)
    return fl, snapshot.SLOTS[0]


def _load(fl, z, c):
    return restore.load(snapshot.Snapshots(fl), z, c.ms, c.s)


def _rewrite(fl, name, cut=0, at=None, value=None):
    # The slot's last `cut` bytes before the trailer removed, or the u32 at `at` (from
    # the slot's start) set to value, and its crc made whole: a slot every check passes.
    data = bytearray(fl.read_at(name, 0, fl.size(name)))
    body = data[: len(data) - 4 - cut]
    if at is not None:
        struct.pack_into("<I", body, at, value)
    tail = bytearray(4)
    struct.pack_into("<I", tail, 0, binascii.crc32(body) & 0xFFFFFFFF)
    fl.write(name, bytes(body) + bytes(tail))


@in_parts
def test_the_remembered_tags_survive_a_power_cut_in_the_snapshot():
    z, _rec, c = _shaft()
    walk_in_group(z, c, [1, 2])
    walk_in(z, c, 3)
    walk_in(z, c, 5)
    assert z.count == 4 and _unnamed(z) == [3, 5]
    fl, name = _saved(z)
    assert fl.size(name) == 32 + len(_IL) + 15 * 2 + 4 * 2 + 4
    yield
    z2, rec2, c2 = _shaft()
    assert _load(fl, z2, c) is not None
    assert z2.count == 4 and z2.ledger.n == 2 and _unnamed(z2) == [3, 5]
    reads(z2, c2, 4, (0, 0))
    settle(z2, c2)  # 4 in, never read inside
    rec2.clear()
    walk_out(z2, c2, 4)  # not firing: un-counts nobody, a missed entry
    assert z2.count == 4 and rec2.tags(ev.MISSED_ENTRY) == [4]
    walk_out(z2, c2, 5)  # firing: a remembered tag out is un-counted
    assert z2.count == 3 and rec2.of(ev.EXIT) == [(ev.EXIT, 5, person(5), 3)]


@in_parts
def test_a_slot_without_the_remembered_tags_restores_them_counted_not_remembered():
    # As written before the zone kept them: the same header and columns, nothing after.
    z, _rec, c = _shaft()
    walk_in_group(z, c, [1, 2])
    walk_in(z, c, 3)
    fl, name = _saved(z)
    _rewrite(fl, name, cut=4)
    yield
    z2, rec2, c2 = _shaft()
    assert _load(fl, z2, c) is not None
    assert z2.count == 3 and z2.ledger.overflow == 1 and _unnamed(z2) == []
    walk_out(z2, c2, 3)  # may be anyone: kept in, said
    assert z2.count == 3 and rec2.of(ev.EXIT) == []
    kept = (ev.DOUBTFUL_CROSSING, 3, DECIDED_KEPT_IN, DOUBT_UNNAMED)
    assert rec2.of(ev.DOUBTFUL_CROSSING) == [kept]


@in_parts
def test_a_bad_remembered_tag_is_not_remembered_and_stays_counted():
    z, _rec, c = _shaft()
    walk_in_group(z, c, [1, 2])
    walk_in(z, c, 3)
    walk_in(z, c, 5)
    fl, name = _saved(z)
    end = fl.size(name) - 4
    yield
    for bad in (0, 1, 1 << 30):  # no tag, a named one, past every id
        _rewrite(fl, name, at=end - 8, value=bad)  # the first remembered tag
        z2, _rec2, _c2 = _shaft()
        assert _load(fl, z2, c) is not None
        assert z2.count == 4 and z2.ledger.overflow == 2
        assert _unnamed(z2) == [z.unnamed_tags[1]], bad
        yield


@in_parts
def test_a_slot_whose_tail_cannot_be_remembered_tags_is_no_whole_snapshot():
    z, _rec, c = _shaft()
    walk_in_group(z, c, [1, 2])
    walk_in(z, c, 3)
    fl, name = _saved(z)
    yield
    _rewrite(fl, name, cut=2)  # not a whole number of u32s
    e = raises(snapshot.SnapshotError, _load, fl, _shaft()[0], c)
    assert "no slot is whole" in str(e)
    yield
    fl, name = _saved(z)
    data = fl.read_at(name, 0, fl.size(name))
    fl.write(name, data[:-4] + b"\x00\x00\x00\x07" + data[-4:])  # more tags than overflow
    _rewrite(fl, name)
    e = raises(snapshot.SnapshotError, _load, fl, _shaft()[0], c)
    assert "no slot is whole" in str(e)


def test_with_nobody_counted_without_a_row_the_slot_is_as_before():
    # Not firing: no bytes after the columns, so a slot is the one older firmware wrote.
    z, _rec, c = _shaft()
    walk_in_group(z, c, [1, 2])
    fl, name = _saved(z)
    assert fl.size(name) == 32 + len(_IL) + 15 * 2 + 4
    z2 = _shaft()[0]
    assert _load(fl, z2, c) is not None and z2.count == 2 and _unnamed(z2) == []
