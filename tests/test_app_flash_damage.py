# micropython-test
# The gateway boots fail-safe from damaged flash (R-DATA-2): a log with a repeated seq
# (two firmwares on one flash), log files gone while the state file stays, segments
# reordered. Each boot finishes, holds the outputs safe until it has, logs LOG_TAMPERED
# naming what was wrong, and goes on serving and logging. The property tests over
# arbitrary mutations are tests/test_app_flash_damage_props.py.
from apprig import SAFE, Rig, roster_entry
from fakeboard import FakeBoard

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


def staffed_rig():
    rig = Rig()
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster([roster_entry(t) for t in TAGS])
    rig.ready()
    return rig


def boot_on(rig):
    # A power cut onto the flash as it now is: boot must end, outputs safe throughout.
    rig.board.flash.close()
    board = _board_on(rig.root)
    board.rtc = rig.board.rtc
    gw = app.Gateway(board)
    assert _safe(board)
    rig.board = board
    rig.gw = gw
    rig.inbox = []
    rig.seen = {}  # the host's copy of the old events: tampering changed them
    return gw


def _tampered_events(rig):
    # Paged by position: a damaged log may hold a seq twice, which a host keyed by seq
    # (the rig's fetch) would take for an event that changed.
    out = []
    while True:
        # Past a gap (a segment named far ahead) the position is behind the seqs.
        at = max(len(out), out[-1]["seq"] if out else 0) + 1
        page = rig.call("events-since", from_seq=at, max_count=50)["events"]
        if not page:
            return [e for e in out if e["kind"] == ev.LOG_TAMPERED]
        out.extend(page)


def test_two_firmwares_on_one_flash_repeat_seqs_and_boot_finds_it():
    rig = staffed_rig()
    rig.cross(101)
    # A second firmware on the same flash (a second `shaftgate sim` on one home) logs
    # from the same state: the same seqs again, appended to the same segment.
    twin = FakeBoard(rig.root)
    twin.rtc = rig.board.rtc
    twin_gw = app.Gateway(twin)
    rig.cross(102)
    twin.reads.append((0, 103, -60, 0))
    twin_gw.step()
    twin.flash.close()
    gw = boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.system & app.SYS_LOG_TAMPERED
    rig.step(100)
    assert rig.call("status")["last_seq"] == gw.log.last_seq
    assert _tampered_events(rig)


def test_a_repeated_seq_at_the_newest_record_does_not_hang_the_replay():
    rig = staffed_rig()
    rig.cross(101)
    rig.board.flash.close()
    names = [
        n for n in rig.board.flash.names() if n.startswith("ev") and not n.startswith("evmeta")
    ]
    newest = names[-1]
    data = rig.board.flash.read(newest)
    rig.board.flash.append(newest, data[-44:])  # the last record, once more
    gw = boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.zone.count == 1  # the crossing before the damage still counts


def test_log_files_gone_while_the_state_stays_boot_tampered_and_never_reuse_seqs():
    rig = staffed_rig()
    rig.cross(101)
    rig.cross(102)
    rig.ack(rig.last_seq())  # the snapshot is rewritten to cover every event so far
    rig.cross(103)
    covered = Snapshots(rig.board.flash).covered()
    assert covered > 1
    rig.board.flash.close()
    for name in rig.board.flash.names():
        if name.startswith("ev"):
            rig.board.flash.remove(name)
    assert Snapshots(rig.board.flash).covered() == covered
    gw = boot_on(rig)
    assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
    assert gw.system & app.SYS_LOG_TAMPERED
    # Seqs the snapshot covers are never given out again; later ones a host tells from
    # the chain, which starts again from genesis.
    assert gw.log.last_seq > covered
    assert gw.zone.count == 2  # the snapshot still says who is in
    rig.step(100)
    tampered = _tampered_events(rig)
    assert tampered and tampered[0]["a"] == 1  # from the first event missing


def test_reordered_segments_are_tampering():
    rig = staffed_rig()
    for t in TAGS:
        rig.cross(t)
        rig.cross(t, into=False)
    fl = rig.board.flash
    fl.close()
    segs = [n for n in fl.names() if n.startswith("ev") and not n.startswith("evmeta")]
    assert len(segs) >= 2
    a, b = fl.read(segs[0]), fl.read(segs[1])
    fl.write(segs[0], b)
    fl.write(segs[1], a)
    gw = boot_on(rig)
    assert gw.log.tampered
    rig.step(100)
    assert _tampered_events(rig)


def test_an_undamaged_flash_boots_untampered():
    rig = staffed_rig()
    rig.cross(101)
    gw = boot_on(rig)
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


def test_a_segment_named_far_ahead_is_logged_as_tampering_and_the_log_keeps_its_room():
    for first in (0x00100000, 0xFFFFFFFF):
        rig = staffed_rig()
        rig.cross(101)
        rig.board.flash.close()
        _forge_segment(rig.board.flash, first)
        gw = boot_on(rig)
        assert gw.log.tampered and gw.log.tamper_code == TAMPER_SEQ
        assert gw.system & app.SYS_LOG_TAMPERED
        # Today's records plus at most the forged one: never a log that looks full.
        held = len(rig.call("events-since", from_seq=1, max_count=50)["events"])
        assert rig.call("status")["unacked"] <= held + 1
        assert not gw.system & app.SYS_LOG_FULL
        rig.step(100)
        assert _tampered_events(rig)
        rig.cross(102)
        assert gw.zone.count == 2  # entries still taken and logged
