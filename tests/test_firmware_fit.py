# micropython-test
# The gateway fits a board (issue 9): faults in step() contained (outputs safe, the fault
# on flash, logged at the next boot, the board reset; a MemoryError retried once), a full
# file system is a full log and never a crash, the log's size bound by the file system,
# boot in phases with the watchdog fed between them, the roster and the state snapshot
# in binary slots on flash (newest whole slot wins), and allocation-free lookups. In
# parts (tests/hostcalls.py): each boot phase, roster part and reboot of a rig is a call of
# its own under the board profile (one call of a staffed rig's test allocated 256 KB).
import gc
import sys

from apprig import KEY, NOW_S, fresh_root, of_kind, rig_in_parts, roster_entry
from fakeboard import FakeBoard
from hostcalls import in_parts
from mpcheck import raises

# gateway.restore and hal.clock are imported by the tests that use them: held by this
# module they would stay in the heap (4-5 KB) that every staffed rig's roster load needs.
from gateway import app, roles, roster, snapshot, store
from gateway import events as ev
from gateway.caps import EPOCH_S
from gateway.roster import Roster
from gatewire import cbor, messages
from gatewire.errors import E_REFUSED
from hal.flashfs import FileFlash


class BoardReset(Exception):
    # What machine.reset() does to the code that called it: nothing after it runs.
    pass


class ResettingBoard(FakeBoard):
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.resets = 0

    def reset_cause(self):
        return 3  # machine.WDT_RESET on the rp2 port

    def reset(self):
        self.resets += 1
        raise BoardReset()


def _boom(*args):
    raise ValueError("a bug in a rule")


# ---- faults in step() ----


@in_parts
def test_a_fault_in_step_leaves_outputs_safe_records_it_and_resets():
    rig = yield from staffed(board_class=ResettingBoard)
    rig.cross(1)
    assert rig.board.work and not rig.board.refused
    rig.gw.zone.tick = _boom
    raises(BoardReset, rig.step)
    b = rig.board
    assert b.resets == 1
    assert not b.work and not b.hot and b.refused and b.lamp == 3
    rec = store.read_cbor(b.flash, app.FAULT_FILE)
    assert rec == [3, app.AT_RULES, 3, "ValueError"], rec


@in_parts
def test_the_fault_is_logged_at_the_next_boot_then_forgotten():
    rig = yield from staffed(board_class=ResettingBoard)
    before = rig.last_seq()
    rig.gw.zone.tick = _boom
    raises(BoardReset, rig.step)
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    faults = of_kind(rig.events_after(before), ev.FAULT)
    assert len(faults) == 1 and faults[0][3:6] == (app.AT_RULES, 3, 3), faults
    assert rig.board.flash.read(app.FAULT_FILE) is None
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    assert len(of_kind(rig.events_after(before), ev.FAULT)) == 1  # logged once only


@in_parts
def test_no_fault_no_fault_event():
    rig = yield from staffed(board_class=ResettingBoard)
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    assert not of_kind(rig.events_after(0), ev.FAULT)
    assert rig.board.resets == 0


@in_parts
def test_a_memory_error_is_collected_and_the_step_retried_once():
    rig = yield from staffed(board_class=ResettingBoard)
    real = rig.gw.zone.tick
    failures = [1]

    def short_of_heap(now_ms, now_s):
        if failures[0]:
            failures[0] -= 1
            raise MemoryError()
        real(now_ms, now_s)

    rig.gw.zone.tick = short_of_heap
    rig.cross(2)
    assert rig.board.resets == 0 and failures[0] == 0
    assert rig.board.work
    assert rig.call("status")["occupants"] == 1


@in_parts
def test_a_memory_error_twice_in_a_row_is_a_fault():
    rig = yield from staffed(board_class=ResettingBoard)

    def short_of_heap(now_ms, now_s):
        raise MemoryError()

    rig.gw.zone.tick = short_of_heap
    raises(BoardReset, rig.step)
    assert store.read_cbor(rig.board.flash, app.FAULT_FILE)[0] == 1  # MemoryError
    assert rig.board.refused and not rig.board.work


@in_parts
def test_a_board_without_reset_sees_the_fault_raised_with_outputs_safe():
    rig = yield from staffed()
    rig.gw.zone.tick = _boom
    raises(ValueError, rig.step)
    assert rig.board.refused and not rig.board.work
    assert store.read_cbor(rig.board.flash, app.FAULT_FILE)[3] == "ValueError"


# ---- a full file system ----


class FullFlash:
    # FileFlash whose appends to the event log fail with ENOSPC while `full`.
    def __init__(self, inner):
        self.inner = inner
        self.full = False

    def append(self, name, data):
        if self.full and name.startswith("ev"):
            raise OSError(app.ENOSPC, "no space")
        self.inner.append(name, data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class FullBoard(FakeBoard):
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.flash = FullFlash(self.flash)


@in_parts
def test_a_full_file_system_is_log_full_behaviour_not_a_crash():
    rig = yield from staffed(board_class=FullBoard)
    rig.cross(1)
    assert not rig.board.refused
    rig.board.flash.full = True
    rig.cross(2)  # its ENTRY finds no room
    gw = rig.gw
    assert gw.system & app.SYS_LOG_FULL
    assert rig.board.refused and rig.board.lamp == 3  # entries refused, red
    assert gw.lost_events >= 1
    rig.board.flash.full = False
    rig.step(500, 2)
    rig.ack(rig.last_seq())
    rig.step(500, 2)
    assert not gw.system & app.SYS_LOG_FULL and not rig.board.refused


@in_parts
def test_the_log_must_fit_half_the_file_system():
    rig = yield from staffed()
    fs = rig.board.flash.fs_bytes()
    gw = rig.gw
    gw._fs_bytes = 400 * 1024  # a Pico W's littlefs is 848 KB
    r = yield from rig.request_in_parts("config-set", changes={"log_capacity": 65536})
    assert r.code != 0 and r.field == "log_capacity", r
    assert "file system" in r.text
    assert gw.cfg["log_capacity"] != 65536
    r = None
    yield
    yield from rig.call_in_parts("config-set", changes={"log_capacity": 2048})  # 95 KB: fits
    assert gw.cfg["log_capacity"] == 2048
    assert fs > 0


@in_parts
def test_a_stored_log_capacity_too_big_for_the_file_system_fails_safe():
    rig = yield from rig_in_parts(config={"log_capacity": 65536, "ledger_capacity": SMALL_LEDGER})
    real = FileFlash.fs_bytes
    try:
        FileFlash.fs_bytes = lambda self: 1024 * 1024
        yield from rig.power_cut_in_parts()
    finally:
        FileFlash.fs_bytes = real
    assert rig.gw.system & app.SYS_CONFIG_BAD
    assert rig.gw.cfg["log_capacity"] == 4096


# ---- boot in phases ----


@in_parts
def test_a_staged_boot_keeps_outputs_safe_and_feeds_the_watchdog_per_phase():
    rig = yield from staffed()
    for t in range(1, 40):
        rig.cross(t)
        yield
    rig.board.flash.close()
    root = rig.root
    rig = None  # the old board's RAM: gone before the new one boots
    yield
    b = FakeBoard(root)
    b.rtc = NOW_S
    gw = app.Gateway(b, staged=True)
    yield
    assert gw.booting and b.refused and not b.work
    phases = 0
    while gw.booting:
        b.ms += 10
        gw.step()
        phases += 1
        assert b.watchdog_feeds == phases  # fed after every phase
        if gw.booting:
            assert b.refused and not b.work
        yield
    assert phases >= 6
    assert gw.zone.count == 39 and gw.system == 0


@in_parts
def test_the_boot_code_leaves_the_heap_once_booted():
    import sys

    rig = yield from staffed()
    rig.board.flash.close()
    root = rig.root
    rig = None  # the old board's RAM: gone before the new one boots
    yield
    b = FakeBoard(root)
    b.rtc = NOW_S
    gw = app.Gateway(b, staged=True)
    assert "gateway.bootseq" in sys.modules  # the boot's phases run from it
    yield
    gw.step()
    assert gw.booting and "gateway.bootseq" in sys.modules
    yield
    while gw.booting and "gateway.bootseq" in sys.modules:
        b.ms += 10
        gw.step()
        yield
    # The zone built, the restore's phases run without the boot sequence's code.
    assert gw.booting and "gateway.restore" in sys.modules
    while gw.booting:
        assert "gateway.bootseq" not in sys.modules
        b.ms += 10
        gw.step()
        yield
    assert "gateway.bootseq" not in sys.modules and "gateway.restore" not in sys.modules
    assert "gateway.build" not in sys.modules
    assert gw.zone.roster.n == len(roster_entries()) and gw.system == 0


@in_parts
def test_an_unstaged_boot_is_done_on_return():
    rig = yield from staffed()
    rig.board.flash.close()
    root = rig.root
    rig = None  # the old board's RAM: gone before the new one boots
    yield
    b = FakeBoard(root)
    gw = app.Gateway(b)
    assert not gw.booting and gw.zone.roster.n == len(roster_entries())


def roster_entries():
    return [roster_entry(t, role=_ROLES.get(t, roles.MINER)) for t in range(1, 11)]


_ROLES = {2: roles.TEAM_LEADER, 4: roles.WELDER, 9: roles.RESCUE}  # as test_app's roster


SMALL_LEDGER = 64


def staffed(**kw):
    # A provisioned face gateway with the roster loaded, a host that said hello, and
    # live video and healthy gas held past the hold-off (as appkit.staffed), in parts:
    # `rig = yield from staffed()`. A ledger of 64 rows, not 512 (its arrays: about 20 KB
    # less live heap): the most any test here has in is 39.
    kw.setdefault("config", {"ledger_capacity": SMALL_LEDGER})
    rig = yield from rig_in_parts(**kw)
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts(roster_entries())
    yield from rig.ready_in_parts()
    return rig


# ---- the roster's slots ----


def _roster(fl, entries):
    r = Roster(None, fl)
    r.open()
    r.begin(len(entries))
    r.add(entries)
    r.commit()
    return r


def test_the_roster_is_written_sorted_and_the_newest_whole_slot_wins():
    fl = FileFlash(fresh_root())
    _roster(fl, [roster_entry(t) for t in (9, 3, 7)])
    _roster(fl, [roster_entry(t) for t in (50, 40)])
    r = Roster(None, fl)
    assert r.open()
    assert r.gen == 2 and [e[0] for e in r.entries()] == [40, 50]
    # The newest slot damaged: the one before it is whole and is used.
    newest = roster.ROSTER_SLOTS[1]
    data = bytearray(fl.read(newest))
    data[20] ^= 1
    fl.write(newest, data)
    r = Roster(None, fl)
    assert r.open()
    assert r.gen == 1 and [e[0] for e in r.entries()] == [3, 7, 9]


def test_no_whole_roster_slot_is_a_bad_roster_and_no_file_is_an_empty_one():
    fl = FileFlash(fresh_root())
    r = Roster(None, fl)
    assert r.open() and r.n == 0  # never loaded: empty, not bad
    _roster(fl, [roster_entry(5)])
    fl.write(roster.ROSTER_SLOTS[0], b"SGR1 cut short")
    r = Roster(None, fl)
    assert not r.open() and r.n == 0 and r.find(5) == -1


@in_parts
def test_a_damaged_roster_at_boot_is_alarmed_and_every_tag_unknown():
    rig = yield from staffed()
    for name in roster.ROSTER_SLOTS:
        if rig.board.flash.size(name) is not None:
            rig.board.flash.write(name, b"garbage")
    yield from rig.power_cut_in_parts()
    assert rig.gw.system & app.SYS_ROSTER_BAD
    assert rig.gw.zone.roster.n == 0


# ---- the snapshot's slots ----


@in_parts
def test_a_cut_snapshot_save_leaves_the_one_before_it():
    rig = yield from staffed()
    rig.cross(1)
    rig.cross(2)
    rig.gw._save_state()
    fl = rig.board.flash
    gen = rig.gw.snapshots.gen
    newest = snapshot.SLOTS[rig.gw.snapshots._slot]
    data = fl.read(newest)
    fl.write(newest, data[: len(data) // 2])  # the power went mid-save
    yield from rig.power_cut_in_parts()
    gw = rig.gw
    assert gw.snapshots.gen == gen  # gen - 1 restored, then saved again by the boot
    assert gw.snapshots._slot == snapshot.SLOTS.index(newest)  # the torn one, rewritten
    assert not gw.system & app.SYS_STATE_LOST
    assert gw.zone.count == 2  # the older snapshot plus the crossings replayed


@in_parts
def test_a_snapshot_save_goes_to_the_other_slot():
    rig = yield from staffed()
    s = rig.gw.snapshots
    first = s._slot
    rig.gw._save_state()
    assert s._slot == 1 - first
    rig.gw._save_state()
    assert s._slot == first


@in_parts
def test_a_snapshot_save_rewrites_the_other_slot_in_place_and_leaves_the_newest_alone():
    # No temp file and rename for a slot (~270 B of an ack's heap): the save starts the
    # slot not holding the newest whole snapshot afresh, in place, and only that one.
    rig = yield from staffed()
    rig.cross(1)
    fl = rig.board.flash
    s = rig.gw.snapshots
    newest = snapshot.SLOTS[s._slot]
    other = snapshot.SLOTS[1 - s._slot]
    kept = fl.read(newest)
    calls = []
    write = fl.write
    rewrite = fl.rewrite_unsynced

    def write_spy(name, data):
        calls.append(("write", name))
        write(name, data)

    def rewrite_spy(name, data):
        calls.append(("rewrite", name))
        rewrite(name, data)

    fl.write = write_spy
    fl.rewrite_unsynced = rewrite_spy
    s._start = rewrite_spy  # Snapshots looks the call up once, when it is built
    rig.gw._save_state()
    assert calls == [("rewrite", other)], calls
    assert fl.read(newest) == kept
    assert s._slot == snapshot.SLOTS.index(other)
    assert s._newest() == s._slot  # the rewritten slot is whole and the newest
    fl.write = write
    fl.rewrite_unsynced = rewrite
    yield from rig.power_cut_in_parts()
    assert rig.gw.snapshots.gen == s.gen + 1  # boot restored it and saved once more
    assert not rig.gw.system & app.SYS_STATE_LOST and rig.gw.zone.count == 1


@in_parts
def test_with_no_whole_snapshot_a_save_writes_its_header_atomically():
    # Rewriting in place is safe only beside a whole snapshot (the other slot).
    rig = yield from staffed()
    fl = rig.board.flash
    s = rig.gw.snapshots
    for name in snapshot.SLOTS:
        fl.remove(name)
    s._slot = -1
    calls = []
    write = fl.write
    rewrite = fl.rewrite_unsynced
    fl.write = lambda name, data: (calls.append(("write", name)), write(name, data))
    fl.rewrite_unsynced = lambda name, data: (calls.append(("rewrite", name)), rewrite(name, data))
    s._start = fl.rewrite_unsynced  # Snapshots looks the call up once, when it is built
    rig.gw._save_state()
    assert calls == [("write", snapshot.SLOTS[0])], calls
    rig.gw._save_state()  # now beside a whole one: in place
    assert calls[1:] == [("rewrite", snapshot.SLOTS[1])], calls
    fl.write = write
    fl.rewrite_unsynced = rewrite


def test_a_slot_rewritten_in_place_replaces_the_file_and_takes_the_appends_after_it():
    fl = FileFlash(fresh_root())
    fl.write("s", b"an older, longer snapshot")
    fl.rewrite_unsynced("s", b"head")
    fl.append_unsynced("s", b"-part")
    fl.append("s", b"-trailer")
    assert fl.read("s") == b"head-part-trailer"
    assert fl.names() == ["s"]  # no temp file left beside it
    fl.rewrite_unsynced("new", b"x")
    fl.append("new", b"y")
    assert fl.read("new") == b"xy"
    raises(ValueError, fl.rewrite_unsynced, "a/b", b"x")


# ---- allocation ----


def _alloc(fn, n=50):
    # Bytes one call allocates (MicroPython), or 0 where gc cannot tell (CPython).
    if not hasattr(gc, "mem_alloc"):
        for _ in range(n + 1):
            fn()
        return 0
    fn()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        fn()
    used = gc.mem_alloc() - before
    gc.enable()
    return used // n


@in_parts
def test_roster_lookups_allocate_nothing():
    fl = FileFlash(fresh_root())
    r = Roster(None, fl)
    r.open()
    r.begin(300)
    for first in range(1, 301, 50):  # added 50 at a time, as a roster load's parts are
        r.add([roster_entry(t) for t in range(first, first + 50)])
        yield
    r.commit()
    yield
    assert r.find(150) >= 0 and r.find(1000) == -1

    def look():
        i = r.find(150)
        r.person(i)
        r.role(i)
        r.cert_ok(i, 100)
        r.find(1000)

    assert _alloc(look) == 0


def test_the_wall_clock_allocates_nothing_even_when_the_second_changes():
    # Clock seconds (gateway/caps.py): a small int each second, where a unix time was a
    # big int on a 32-bit board.
    from hal import clock

    c = clock.WallClock()
    c.set(NOW_S, 1000)
    now_c = NOW_S - clock.EPOCH_S
    assert c.now_s(1999) == now_c and c.now_s(2000) == now_c + 1
    ms = [2600]

    def read():
        ms[0] += 7  # a new second every ~143 reads
        c.now_s(ms[0])

    assert _alloc(read, 300) == 0
    assert c.now_s(ms[0]) == now_c + (ms[0] - 1000) // 1000


@in_parts
def test_a_snapshot_save_with_300_in_allocates_under_2_kb():
    rig = yield from rig_in_parts(config={"ledger_capacity": 512, "cap_limit": 0})
    assert KEY
    gw = rig.gw
    for t in range(1, 301):
        gw.zone.restore_row(t, t, NOW_S, 1, 0, 0, 0, NOW_S)
    assert gw.zone.ledger.n == 300
    assert _alloc(gw._save_state, 5) < 2048


@in_parts
def test_a_snapshot_save_allocates_no_copy_of_its_parts():
    # The interlocks' CBOR a kept constant while they hold nothing, the slot rewritten
    # in place (no temp file, rename and reopen), the flash's calls looked up once: 329 B
    # for this save on the WebAssembly port (825 B the round before, 1,145 B before that).
    rig = yield from staffed()
    for t in range(1, 6):
        rig.cross(t)
    used = _alloc(rig.gw._save_state, 20)
    assert used <= 350, used


@in_parts
def test_a_signed_command_allocates_no_encoding_per_command():
    # The envelope's encoding for the HMAC and the counter's record go into kept buffers,
    # the counter's slot is rewritten in place and the HMAC is not cut to a copy: 488 B
    # to verify and persist here (384 B of it sha256's floor), 704 B the round before.
    rig = yield from staffed()
    gw = rig.gw
    objs = []
    for _ in range(21):
        env = rig.envelope("status", signed=True)
        objs.append(cbor.loads(cbor.dumps(env)))  # as decoded from the wire
    code = messages.code_of("status")
    env = None
    yield
    left = [0]

    def authenticate():
        gw._authenticate(objs[left[0]], code)
        left[0] += 1

    used = _alloc(authenticate, 20)
    assert used <= 500, used
    gw._in_command = False
    objs = None
    yield
    from gateway.bootseq import read_counter

    assert read_counter(rig.board.flash) == gw.verifier.last_counter


@in_parts
def test_a_reply_is_encoded_and_framed_in_kept_buffers():
    # No bytes of the reply made: its CBOR into one kept buffer, its frame into another,
    # the link given a view (16 B here; 96 B when the CBOR was a new bytes object). A
    # reply too long to frame in the kept buffer goes framed on its own, and the CBOR
    # buffer it grew is let go, so what is kept stays small.
    from gatewire import frame

    rig = yield from staffed()
    gw = rig.gw
    env = messages.reply_of("ack", 2, {"unacked": 3})  # its frame's CRC is a small int
    assert env == messages.reply("ack", 2, unacked=3)
    b = rig.board
    b.tx[0:] = b""
    gw._send(env)
    assert bytes(b.tx) == frame.encode(cbor.dumps(env))
    sent = [0]

    def count(data):  # the rig's link keeps what it is sent: its growth is not the reply's
        sent[0] += len(data)

    b.link_write = count
    used = _alloc(lambda: gw._send(env), 20)
    assert used <= 16, used
    assert sent[0] == 21 * len(frame.encode(cbor.dumps(env)))
    del b.link_write
    b.tx[0:] = b""
    long_env = {0: 1, 1: 9, 2: {0: b"x" * 400}}
    gw._send(long_env)
    assert bytes(b.tx) == frame.encode(cbor.dumps(long_env))
    assert len(gw._tx_payload) == 0
    b.tx[0:] = b""
    gw._send(env)
    assert bytes(b.tx) == frame.encode(cbor.dumps(env))
    assert len(gw._tx_payload) == len(cbor.dumps(env))


@in_parts
def test_letting_go_of_the_rare_commands_costs_nothing_when_they_are_not_loaded():
    # After every command (an ack, a status): no module name built to unload nothing.
    rig = yield from staffed()
    gw = rig.gw
    rig.call("status")
    yield
    assert "gateway.commands" not in sys.modules
    assert _alloc(gw._let_commands_go, 20) == 0
    yield
    gw._job = 1  # a long command under way holds the module: not let go
    sys.modules["gateway.commands"] = sys  # a stand-in: unload() only drops the entry
    gw._let_commands_go()
    assert sys.modules.get("gateway.commands") is sys
    gw._job = None
    gw._let_commands_go()  # done: let go
    assert "gateway.commands" not in sys.modules
    yield
    rig.call("config-get")  # a rare command: imported, answered, let go
    assert "gateway.commands" not in sys.modules


# ---- a roster commit over several steps ----


@in_parts
def test_a_roster_commit_runs_over_steps_and_answers_once_in_force():
    rig = yield from staffed()
    rig.cross(3)  # someone in: the zone keeps running through the commit

    # Over 1,000 people: a commit big enough to be spread over steps (a small one is not).
    # 1,100, tags descending (3000 down to 1901), in 22 parts of 50, each made when sent.
    def part_of(p):
        return [roster_entry(t) for t in range(3000 - 50 * p, 2950 - 50 * p, -1)]

    for p in range(21):
        yield from rig.call_in_parts(
            "roster-load", load_id=9, part=p, parts=22, entries=part_of(p), total=1100
        )
        yield
    env = rig.envelope("roster-load", load_id=9, part=21, parts=22, entries=part_of(21), total=1100)
    rig.send(env)
    rid = env[1]
    env = None
    for _ in range(40):  # the frame arrives 256 bytes a step
        rig.step(10)
        if rig.gw._job is not None:
            break
        yield
    assert rig.gw._job is not None  # the last part taken: its commit has begun
    assert not [o for o in rig.inbox if o[1] == rid]  # and is not answered yet
    assert rig.gw.zone.roster.find(3) >= 0  # the old roster still answers
    yield
    other = rig.request("roster-load", load_id=10, part=0, parts=1, entries=[], total=0)
    assert other.code == E_REFUSED and "in progress" in other.text
    other = None
    yield
    # A config change, a job of its own too, waits for the commit: refused, nothing set.
    warn = rig.gw.cfg["warn_pct"]
    other = rig.request("config-set", changes={"warn_pct": warn - 5})
    assert other.code == E_REFUSED and "in progress" in other.text, other
    assert rig.gw.cfg["warn_pct"] == warn
    other = None
    yield
    status = rig.call("status")  # other requests are served meanwhile
    assert status["occupants"] == 1
    status = None
    yield
    done = yield from rig.reply_to_in_parts("roster-load", rid)
    assert done.ok and done.body["complete"] and done.body["entries"] == 1100, done
    r = rig.gw.zone.roster
    assert r.find(3) == -1 and r.find(1900) == -1 and r.find(1901) >= 0 and r.find(3000) >= 0
    assert r.n == 1100
    for i in range(1, r.n):  # sorted, read in place (a list of 1,100 entries is 50 KB)
        assert r.tag(i - 1) < r.tag(i), i
    r = done = None
    yield
    # and goes through after it
    yield from rig.call_in_parts("config-set", changes={"warn_pct": warn - 5})
    assert rig.gw.cfg["warn_pct"] == warn - 5


@in_parts
def test_a_roster_commit_that_finds_a_person_twice_is_refused_and_the_old_stays():
    rig = yield from staffed()
    twice = [roster_entry(50), roster_entry(51)]
    twice[1][1] = twice[0][1]
    r = rig.request("roster-load", load_id=4, part=0, parts=1, entries=twice, total=2)
    assert r.code == E_REFUSED and "holds tags 50 and 51" in r.text, r
    assert rig.gw._job is None
    assert rig.gw.zone.roster.find(3) >= 0 and rig.gw.zone.roster.find(50) == -1


# ---- events pushed without allocating ----


def test_the_event_framer_gives_the_bytes_gatewire_gives():
    from gateway.pushframe import EventFramer
    from gatewire import cbor, frame, messages

    f = EventFramer()
    digest = bytes(range(200, 216))
    zeros = bytes(16)
    cases = [
        (1, 0, 1, 0, 0, 0, zeros),
        (23, 23, 24, 255, 256, -1, digest),
        (65535, NOW_S, 0xFFFF, 0xFFFFFFFF, -24, -25, digest),
        (0xFFFFFFFF, 0xFFFFFFFF, 113, 40213, 0x7FFFFFFF, -0x80000000, zeros),
        (65536, 1, 2, 3, -256, -257, digest),
    ]
    for seq, t, kind, tag, a, b, d in cases:
        want = frame.encode(cbor.dumps(messages.event(seq, t, kind, tag, a, b, d)))
        got = bytes(f.frame(seq, t >> 16, t & 0xFFFF, kind, tag, a, b, d))
        assert got == want, (seq, got, want)


@in_parts
def test_a_pushed_crossing_reaches_the_host_as_the_log_has_it():
    rig = yield from staffed()
    before = rig.last_seq()
    rig.cross(4)
    rig.step(100, 3)
    pushed = [e for e in rig.pushed if e[0] > before]
    fetched = rig.fetch(before + 1)
    assert pushed and pushed == fetched[: len(pushed)]
    assert of_kind(pushed, ev.ENTRY)


class QuietBoard(FakeBoard):
    # FakeBoard whose inputs allocate nothing once `quiet` (as a real board's do), so
    # a heap figure is the gateway's own; its RTC counts clock seconds as the real
    # boards' does (hal/mcu.py: a small int).
    # The rig reads and sets `rtc` in unix seconds; the gateway reads rtc_s().
    RTC_EPOCH_S = EPOCH_S
    _rtc_c = 0

    @property
    def rtc(self):
        return self._rtc_c + EPOCH_S if self._rtc_c else 0

    @rtc.setter
    def rtc(self, unix_s):
        self._rtc_c = unix_s - EPOCH_S if unix_s else 0

    def rtc_s(self):
        return self._rtc_c

    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.quiet = False
        self.point = -1
        self.tag = 0
        self.wobble = 0

    def read_tag(self, out):
        if not self.quiet:
            return FakeBoard.read_tag(self, out)
        if self.point < 0:
            return False
        out[0] = self.point
        out[1] = self.tag
        out[2] = -60
        out[3] = 0
        self.point = -1
        return True

    def read_gas(self, out):
        if not self.quiet:
            return FakeBoard.read_gas(self, out)
        self.wobble = 1 - self.wobble
        out[0] = 2000 + self.wobble
        out[1] = 0
        out[2] = 0
        return True

    def video_beats(self, out):
        if not self.quiet:
            return FakeBoard.video_beats(self, out)
        out[0] = self.ms
        return 1

    def link_read(self, buf):
        if self.quiet and not self.rx:
            return 0
        return FakeBoard.link_read(self, buf)

    def link_write(self, data):
        if not self.quiet:
            FakeBoard.link_write(self, data)


@in_parts
def test_a_pushed_crossing_allocates_at_most_64_bytes_beyond_its_log_append():
    # The whole step path of a crossing with its event pushed to a host; the event log's
    # own append (hash, record) is measured apart: it belongs to gateway/eventlog.py.
    rig = yield from staffed(board_class=QuietBoard)
    gw = rig.gw
    b = rig.board
    b.quiet = True
    b.rtc = NOW_S + 100
    n = [0]

    def crossing():
        n[0] += 1
        into = n[0] % 2 == 1
        b.point = 0 if into else 1
        b.tag = 2  # a miner in the roster: entries allowed, the lamp stays green
        b.ms += 200
        gw.step()
        b.point = 1 if into else 0
        b.tag = 2
        b.ms += 200
        gw.step()
        for _ in range(5):
            b.ms += 500
            gw.step()

    crossing()
    yield
    crossing()
    gw.log.ack(gw.log.last_seq)
    yield
    history = len(b.history)
    before = gw.log.last_seq
    used = _alloc(crossing, 20)  # 21 crossings: one to warm up, 20 counted
    yield
    events = (gw.log.last_seq - before) // 21
    assert events >= 1 and gw._pushed == gw.log.last_seq  # every event pushed
    assert history == len(b.history)  # no output changed: FakeBoard's record is quiet
    now_c = NOW_S - EPOCH_S + 100
    append = _alloc(lambda: gw.log.append_clock(now_c, ev.ENTRY, 2, 1, 1), 20)
    assert history == len(b.history)
    assert used - events * append <= 64, (used, events, append)


@in_parts
def test_an_idle_step_allocates_nothing():
    rig = yield from staffed(board_class=QuietBoard)
    gw = rig.gw
    b = rig.board
    b.quiet = True

    def idle():
        b.ms += 20  # many steps a second, as a board loops: the wall clock unchanged
        gw.step()

    assert _alloc(idle, 40) == 0


@in_parts
def test_an_idle_step_allocates_nothing_when_the_second_changes():
    # Issue 9 item 7: the wall clock moves on (a new second every 10th step) and the
    # step still allocates nothing: clock seconds are small ints, and the zone's shift,
    # cap and override checks run on them (a unix time made a big int every second).
    rig = yield from staffed(board_class=QuietBoard)
    gw = rig.gw
    b = rig.board
    b.quiet = True
    steps = [0]

    def idle():
        b.ms += 100
        steps[0] += 1
        if steps[0] % 10 == 0:
            b._rtc_c += 1
        gw.step()

    c0 = b._rtc_c
    assert _alloc(idle, 200) == 0
    assert b._rtc_c > c0 + 19 and gw._now_s == b._rtc_c


@in_parts
def test_a_board_counting_clock_seconds_shows_unix_times_at_every_edge():
    # The real boards' RTC counts clock seconds (RTC_EPOCH_S, gateway/caps.py); the host
    # sees unix seconds everywhere as before: hello and status, every event's time (logged
    # and pushed, the chain intact), the occupants' since_s, and time-set's effect.
    rig = yield from staffed(board_class=QuietBoard)
    b = rig.board
    gw = rig.gw
    assert b.rtc_s() == b.rtc - EPOCH_S and 0 < gw._now_s < (1 << 30)
    assert rig.call("status")["now_s"] == b.rtc
    yield
    assert rig.call("hello", min_version=1, max_version=1)["now_s"] == b.rtc
    yield
    before = rig.last_seq()
    start = b.rtc
    yield from rig.cross_in_parts(3)
    fetched = yield from rig.fetch_in_parts(before + 1)
    entries = of_kind(fetched, ev.ENTRY)
    assert entries and start <= entries[0][1] <= b.rtc
    assert all(start <= e[1] <= b.rtc for e in fetched)
    pushed = [e for e in rig.pushed if e[0] > before]
    assert pushed and pushed == fetched[: len(pushed)]  # same unix times, same digests
    pushed = fetched = None
    yield
    rows = rig.call("occupants")["occupants"]
    assert [r[2] for r in rows if r[0] == 3] == [entries[0][1]]  # since_s: the entry's time
    rows = None
    yield
    rig.call("time-set", time_s=b.rtc + 3600)
    assert b.rtc_s() == b.rtc - EPOCH_S and rig.call("status")["now_s"] == b.rtc


@in_parts
def test_a_restored_snapshot_rebuilds_each_stay_as_the_zone_would():
    # The bulk restore (columns copied, ages from 16-bit halves) against zone._since_ms.
    from gateway import zone as zone_mod

    rig = yield from staffed()
    gw = rig.gw
    now = NOW_S + 5000
    starts = [now - 1, now - 3600, now - 86400 * 3, now - 86400 * 9, now + 50, 0, 1000]
    z = gw.zone
    now_c = now - EPOCH_S  # the app's zone takes clock seconds (gateway/caps.py)
    z.restore_start(0, -1, 0)
    for i in range(len(starts)):
        z.restore_row(100 + i, 500 + i, starts[i], 1, i % 3, i, 0, now_c)
    z.restore_finish(0, now_c)
    gw._save_state()
    gw = z = None  # the old board's RAM: gone before the reboot
    yield
    yield from rig.power_cut_in_parts(rtc_s=now)
    yield
    ld = rig.gw.zone.ledger
    assert ld.n == len(starts) and not rig.gw.system & app.SYS_STATE_LOST
    now_ms = rig.gw._now_ms
    for i in range(len(starts)):
        r = ld.find(100 + i)
        assert ld.person(r) == 500 + i and ld.crew(r) == i % 3 and ld.flags(r) == i
        want = zone_mod._since_ms(starts[i], now_ms, now_c) & 0x3FFFFFFF
        assert ld.since_ms(r) == want, (i, ld.since_ms(r), want)
    assert ld.crew_count[0] + ld.crew_count[1] + ld.crew_count[2] == len(starts)


@in_parts
def test_rarely_used_modules_leave_the_heap_after_use():
    import sys

    rig = yield from staffed()  # booted, a roster loaded
    assert "gateway.config" not in sys.modules
    assert "gateway.rosterload" not in sys.modules
    assert "gateway.commands" not in sys.modules
    yield from rig.call_in_parts("config-set", changes={"warn_pct": 85})
    assert "gateway.config" not in sys.modules
    assert "gateway.commands" not in sys.modules
    assert "gateway.bootseq" not in sys.modules  # config-set rebuilds without the boot's code
    assert "gateway.restore" not in sys.modules  # and lets the restore's go after
    assert "gateway.build" not in sys.modules
    assert rig.gw.cfg["warn_pct"] == 85
    yield
    r = yield from rig.request_in_parts(
        "roster-load", load_id=5, part=0, parts=2, entries=[roster_entry(1)], total=2
    )
    assert r.ok and "gateway.rosterload" in sys.modules  # a load running keeps it
    assert "gateway.commands" in sys.modules  # and the command's code, between parts
    r = None
    yield
    yield from rig.request_in_parts(
        "roster-load", load_id=5, part=1, parts=2, entries=[roster_entry(2)], total=2
    )
    assert "gateway.rosterload" not in sys.modules
    assert "gateway.commands" not in sys.modules  # the commit answered: let go
    assert rig.gw.zone.roster.n == 2
    yield
    # A refused command lets it go too (a part out of sequence ends no load: none ran).
    r = rig.request("roster-load", load_id=6, part=1, parts=2, entries=[roster_entry(3)], total=2)
    assert not r.ok
    assert "gateway.commands" not in sys.modules
    assert rig.gw.zone.roster.n == 2


def _saved_rows(tags):
    # A gateway whose snapshot holds these tags (person 500 + i, a miner, crew 0).
    rig = yield from staffed()
    gw = rig.gw
    z = gw.zone
    z.restore_start(0, -1, 0)
    for i in range(len(tags)):
        z.restore_row(tags[i], 500 + i, NOW_S - 60, roles.MINER, 0, 0, 0, NOW_S)
    z.restore_finish(0, NOW_S)
    gw._save_state()
    return rig, snapshot.SLOTS[gw.snapshots._slot]


def _patch_slot(fl, name, at, value):
    # One byte of the column area changed (at: offset past the interlocks' blob), its crc
    # made whole again: a snapshot every check of the file passes, with a bad row.
    import binascii
    import struct

    data = bytearray(fl.read(name))
    il_len = struct.unpack_from("<I", data, 24)[0]
    data[32 + il_len + at] = value
    struct.pack_into("<I", data, len(data) - 4, binascii.crc32(data[:-4]) & 0xFFFFFFFF)
    fl.write(name, bytes(data))


def _load_fresh(rig, **cfg):
    # A zone as a boot builds it, for restore.load; the gateway's own zone is let go
    # first (a board holds one zone, and two leave the heap no room for the restore).
    from gateway import build

    gw = rig.gw
    gw.zone = None
    zone = build.zone(gw, dict(gw.cfg, **cfg))
    return zone, snapshot.Snapshots(rig.board.flash)


def _restore_load(snaps, zone):
    from gateway import restore

    return restore.load(snaps, zone, 0, NOW_S)


@in_parts
def test_a_whole_snapshot_with_good_rows_restores_them():
    rig, _name = yield from _saved_rows([11, 12, 13])
    yield
    zone, snaps = _load_fresh(rig)
    yield
    assert _restore_load(snaps, zone) is not None
    assert zone.ledger.n == 3 and zone.ledger.find(12) >= 0


@in_parts
def test_a_snapshot_row_out_of_range_is_refused_and_the_zone_left_empty():
    # Columns: tag, person, since (u32 each), then role, crew, flags (u8 each); 3 rows.
    for at, value, want in (
        (4 * 3 + 4 * 1 + 3, 0x40, "row 1: tag or person"),  # person of row 1 >= 2**30
        (4 * 2 + 3, 0x40, "row 2: tag or person"),  # tag of row 2 >= 2**30
        (13 * 3 + 1, 9, "row 1: role or crew"),  # crew of row 1 past 2
        (13 * 3 + 0, 3, "row 0: role or crew"),  # crew of row 0 past 2
    ):
        rig, name = yield from _saved_rows([11, 12, 13])
        yield
        _patch_slot(rig.board.flash, name, at, value)
        yield
        zone, snaps = _load_fresh(rig)
        yield
        try:
            _restore_load(snaps, zone)
        except snapshot.SnapshotError as e:
            assert want in str(e), (want, str(e))
        else:
            raise AssertionError("not refused: " + want)
        assert zone.ledger.n == 0 and zone.ledger.overflow == 0 and zone.count == 0
        rig = zone = snaps = None
        yield


@in_parts
def test_a_snapshot_tag_twice_is_refused_and_the_zone_left_empty():
    rig, name = yield from _saved_rows([11, 12, 13])
    yield
    _patch_slot(rig.board.flash, name, 4 * 2, 11)  # row 2's tag: 13 -> 11, row 0's
    yield
    zone, snaps = _load_fresh(rig)
    yield
    e = raises(snapshot.SnapshotError, _restore_load, snaps, zone)
    assert "tag 11 appears twice" in str(e)
    assert zone.ledger.n == 0 and zone.count == 0


@in_parts
def test_rows_past_a_smaller_ledger_are_counted_and_still_checked():
    rig, name = yield from _saved_rows([11, 12, 13])
    yield
    zone, snaps = _load_fresh(rig, ledger_capacity=2)
    yield
    assert _restore_load(snaps, zone) is not None
    assert zone.ledger.n == 2 and zone.ledger.overflow == 1 and zone.count == 3
    zone = snaps = None
    yield
    _patch_slot(rig.board.flash, name, 13 * 3 + 2, 3)  # row 2 (dropped): crew past 2
    yield
    zone, snaps = _load_fresh(rig, ledger_capacity=2)
    yield
    e = raises(snapshot.SnapshotError, _restore_load, snaps, zone)
    assert "row 2: role or crew" in str(e)
    assert zone.ledger.n == 0 and zone.count == 0
