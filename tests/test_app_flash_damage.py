# micropython-test
# The gateway boots fail-safe from damaged flash (R-DATA-2): a log with a repeated seq
# (two firmwares on one flash), log files gone while the state file stays, segments
# reordered. Each boot finishes, holds the outputs safe until it has, logs LOG_TAMPERED
# naming what was wrong, and goes on serving and logging. The property tests over
# arbitrary mutations are tests/test_app_flash_damage_props.py.
from apprig import SAFE, rig_in_parts, roster_entry
from fakeboard import FakeBoard
from hostcalls import in_parts

from gateway import app
from gateway import events as ev
from gateway.eventlog import TAMPER_SEQ
from gateway.snapshot import Snapshots

TAGS = (101, 102, 103)


class BudgetFlash:
    # Bounds boot: a loop that never ends would call the flash without end.
    def __init__(self, inner, budget):
        self.inner = inner
        self.left = budget

    def __getattr__(self, name):
        fn = getattr(self.inner, name)

        def call(*args):
            self.left -= 1
            if self.left < 0:
                raise AssertionError("boot did not finish within its flash budget")
            return fn(*args)

        return call


def _board_on(root, budget=20000):
    board = FakeBoard(root)
    board.flash = BudgetFlash(board.flash, budget)
    return board


def _safe(board):
    return {
        "work": board.work,
        "hot": board.hot,
        "refused": board.refused,
        "sounder": board.sounder,
        "lamp": board.lamp,
    } == SAFE


# The tests are in parts (tests/hostcalls.py): the rig's boot, its roster load, each
# crossing and each boot onto the damaged flash a phase per call, as a board's collector
# could reclaim between them.


def staffed_rig():
    rig = yield from rig_in_parts()
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts([roster_entry(t) for t in TAGS])
    yield from rig.ready_in_parts()
    return rig


def _assert_safe(board):
    assert _safe(board)


def boot_on(rig):
    # A power cut onto the flash as it now is: boot must end, outputs safe throughout
    # (checked after every boot phase).
    rig.board.flash.close()
    board = _board_on(rig.root)
    gw = yield from rig.power_cut_in_parts(board=board, check=_assert_safe)
    rig.seen = {}  # the host's copy of the old events: tampering changed them
    return gw


def _tampered_events(rig):
    # Paged by position: a damaged log may hold a seq twice, which a host keyed by seq
    # (the rig's fetch) would take for an event that changed.
    tampered = []
    n = last = 0  # events read, and the seq of the last
    while True:
        # Past a gap (a segment named far ahead) the position is behind the seqs.
        at = max(n, last) + 1
        page = (yield from rig.call_in_parts("events-since", from_seq=at, max_count=50))["events"]
        if not page:
            return tampered
        n += len(page)
        last = page[-1]["seq"]
        tampered.extend([e for e in page if e["kind"] == ev.LOG_TAMPERED])
        page = None
        yield


@in_parts
def test_two_firmwares_on_one_flash_repeat_seqs_and_boot_finds_it():
    rig = yield from staffed_rig()
    yield from rig.cross_in_parts(101)
    yield
    # A second firmware on the same flash (a second `shaftgate sim` on one home) logs
    # from the same state: the same seqs again, appended to the same segment.
    twin = FakeBoard(rig.root)
    twin.rtc = rig.board.rtc
    twin_gw = app.Gateway(twin)
    rig.cross(102)
    twin.reads.append((0, 103, -60, 0))
    twin_gw.step()
    twin.flash.close()
    twin = twin_gw = None
    yield
    gw = yield from boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.system & app.SYS_LOG_TAMPERED
    rig.step(100)
    assert rig.call("status")["last_seq"] == gw.log.last_seq
    yield
    assert (yield from _tampered_events(rig))


@in_parts
def test_a_repeated_seq_at_the_newest_record_does_not_hang_the_replay():
    rig = yield from staffed_rig()
    yield from rig.cross_in_parts(101)
    yield
    rig.board.flash.close()
    names = [n for n in rig.board.flash.names() if n.startswith("ev") and n != "evmeta"]
    newest = names[-1]
    data = rig.board.flash.read(newest)
    rig.board.flash.append(newest, data[-44:])  # the last record, once more
    gw = yield from boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.zone.count == 1  # the crossing before the damage still counts


@in_parts
def test_log_files_gone_while_the_state_stays_boot_tampered_and_never_reuse_seqs():
    rig = yield from staffed_rig()
    yield from rig.cross_in_parts(101)
    yield
    yield from rig.cross_in_parts(102)
    yield
    rig.ack(rig.last_seq())  # the snapshot is rewritten to cover every event so far
    yield
    yield from rig.cross_in_parts(103)
    yield
    covered = Snapshots(rig.board.flash).covered()
    assert covered > 1
    rig.board.flash.close()
    for name in rig.board.flash.names():
        if name.startswith("ev"):
            rig.board.flash.remove(name)
    assert Snapshots(rig.board.flash).covered() == covered
    yield
    gw = yield from boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.system & app.SYS_LOG_TAMPERED
    # Seqs the snapshot covers are never given out again; later ones a host tells from
    # the chain, which starts again from genesis.
    assert gw.log.last_seq > covered
    assert gw.zone.count == 2  # the snapshot still says who is in
    rig.step(100)
    yield
    tampered = yield from _tampered_events(rig)
    assert tampered and tampered[0]["a"] == 1  # from the first event missing


@in_parts
def test_reordered_segments_are_tampering():
    rig = yield from staffed_rig()
    for t in TAGS:
        yield from rig.cross_in_parts(t)
        yield
        yield from rig.cross_in_parts(t, into=False)
        yield
    fl = rig.board.flash
    fl.close()
    segs = [n for n in fl.names() if n.startswith("ev") and n != "evmeta"]
    assert len(segs) >= 2
    a, b = fl.read(segs[0]), fl.read(segs[1])
    fl.write(segs[0], b)
    fl.write(segs[1], a)
    a = b = None
    yield
    gw = yield from boot_on(rig)
    assert gw.log.tampered
    rig.step(100)
    yield
    assert (yield from _tampered_events(rig))


@in_parts
def test_an_undamaged_flash_boots_untampered():
    rig = yield from staffed_rig()
    yield from rig.cross_in_parts(101)
    yield
    gw = yield from boot_on(rig)
    assert not gw.log.tampered and not gw.system & app.SYS_LOG_TAMPERED
    assert gw.zone.count == 1


def _forge_segment(fl, first):
    # A segment file named far ahead of the real sequence, holding one record whose seq
    # matches the name and whose crc is right (an attacker, or a corrupted directory).
    import binascii
    import struct

    rec = bytearray(44)
    struct.pack_into("<IIHHIii", rec, 0, first, 5000, ev.ENTRY, 0, 101, 0, 0)
    struct.pack_into("<I", rec, 40, binascii.crc32(bytes(rec[:40])))
    fl.write("ev%08x" % first, bytes(rec))


@in_parts
def test_a_segment_named_far_ahead_is_logged_as_tampering_and_the_log_keeps_its_room():
    for first in (0x00100000, 0xFFFFFFFF):
        rig = gw = None
        yield
        rig = yield from staffed_rig()
        yield from rig.cross_in_parts(101)
        yield
        rig.board.flash.close()
        _forge_segment(rig.board.flash, first)
        gw = yield from boot_on(rig)
        assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
        assert gw.system & app.SYS_LOG_TAMPERED
        yield
        # Today's records plus at most the forged one: never a log that looks full.
        held = len((yield from rig.fetch_in_parts(1)))
        assert rig.call("status")["unacked"] <= held + 1
        assert not gw.system & app.SYS_LOG_FULL
        rig.step(100)
        yield
        assert (yield from _tampered_events(rig))
        yield from rig.cross_in_parts(102)
        assert gw.zone.count == 2  # entries still taken and logged
