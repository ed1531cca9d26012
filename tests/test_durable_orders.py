# micropython-test
# An order the gateway answered OK survives a power cut (issue 14). For every mutating
# command, the power is cut at every flash operation from the moment the command arrives
# (part-way through that operation's bytes), and, in the last round, right after the reply
# left with nothing more written. After the reboot: if an OK reply left the board, the
# command is in force; if none did, the gateway may hold either state. Never an OK for a
# command that is gone. In parts (tests/hostcalls.py): each boot phase, each step of the
# command and each reboot a call of its own under the board profile (one call of the
# whole sweep was charged 5.5 MB: a staffed rig, a cut and a reboot at each instant).
from apprig import NOW_S, person_of, rig_in_parts, roster_entry
from fakeboard import FakeBoard
from hostcalls import in_parts
from mpcheck import raises
from tornboard import TornBoard
from tornflash import PowerCut

from gateway import app, roles
from gateway.permits import KEY_MAINTENANCE
from gatewire import messages

LEADER = 2
WORKER = 4
PERMIT = dict(
    permit_id=7,
    job_id=70,
    measure_ref="KM-7",
    start_s=NOW_S,
    end_s=NOW_S + 7200,
    workers=[person_of(WORKER)],
    fire_watcher=0,
    flags=KEY_MAINTENANCE,
)
NEW_ROSTER = [roster_entry(t) for t in (40, 41, 42)]
TIME_AHEAD_S = 90
# More flash operations than any command (and its step) makes: the rounds past the last
# one cut after every write was done.
MAX_OPS = 16  # the ack makes 14 (its counter slot written in place: 2)


def _roster():
    out = []
    for t in (1, LEADER, 3, WORKER, 5):
        out.append(roster_entry(t, role=roles.TEAM_LEADER if t == LEADER else roles.MINER))
    return out


# name -> (set the stage, the command's fields, the check that it is in force)
def _stage_none(rig):
    return None


def _stage_sealed(rig):
    rig.call("seal")


def _stage_evacuating(rig):
    rig.call("evacuate", reason=1, drill=False)


def _stage_override(rig):
    rig.call("cap-override", cap=10, expiry_s=NOW_S + 3600, reason="repair crew")


def _stage_permit(rig):
    rig.call("permit-issue", **PERMIT)


def _stage_events(rig):
    rig.cross(1)
    rig.cross(3)


def _fields(name, rig):
    if name == "cap-override":
        return dict(cap=10, expiry_s=NOW_S + 3600, reason="repair crew")
    if name == "evacuate":
        return dict(reason=1, drill=False)
    if name == "permit-issue":
        return PERMIT
    if name == "permit-revoke":
        return dict(permit_id=PERMIT["permit_id"])
    if name == "config-set":
        return dict(changes={"warn_pct": 70})
    if name == "roster-load":
        return dict(load_id=9, part=0, parts=1, entries=NEW_ROSTER, total=len(NEW_ROSTER))
    if name == "time-set":
        return dict(time_s=rig.board.rtc + TIME_AHEAD_S)
    if name == "ack":
        return dict(up_to_seq=rig.last_seq())
    return {}


def _in_force(name, rig, fields):
    gw = rig.gw
    status = rig.call("status")
    if name == "seal":
        return status["sealed"]
    if name == "unseal":
        return not status["sealed"]
    if name == "evacuate":
        return status["evacuating"]
    if name == "all-clear":
        return not status["evacuating"]
    if name == "cap-override":
        return status["override_active"] and status["cap"] == fields["cap"]
    if name == "cap-override-clear":
        return not status["override_active"]
    ids = [p["permit_id"] for p in rig.call("permit-list")["permits"]]
    if name == "permit-issue":
        return PERMIT["permit_id"] in ids
    if name == "permit-revoke":
        return PERMIT["permit_id"] not in ids
    if name == "config-set":
        return rig.call("config-get", keys=["warn_pct"])["settings"]["warn_pct"] == 70
    if name == "roster-load":
        roster = gw.zone.roster
        return roster.n == len(NEW_ROSTER) and roster.find_person(person_of(41)) >= 0
    if name == "time-set":
        return rig.board.rtc >= fields["time_s"]
    if name == "ack":
        return gw.log.acked >= fields["up_to_seq"]
    raise AssertionError("no check for %s" % name)


STAGES = {
    "seal": _stage_none,
    "unseal": _stage_sealed,
    "evacuate": _stage_none,
    "all-clear": _stage_evacuating,
    "cap-override": _stage_none,
    "cap-override-clear": _stage_override,
    "permit-issue": _stage_none,
    "permit-revoke": _stage_permit,
    "config-set": _stage_none,
    "roster-load": _stage_none,
    "time-set": _stage_none,
    "ack": _stage_events,
}


def _staged(name, inside):
    # A ledger of 16 rows, not 512 (the ledger's arrays: about 20 KB less live heap, as
    # tests/test_config_set_cuts.py): the 5 people of the roster need no more.
    rig = yield from rig_in_parts(board_class=TornBoard, config={"ledger_capacity": 16})
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts(_roster())
    yield from rig.ready_in_parts()
    for tag in inside:
        rig.cross(tag)
        yield
    STAGES[name](rig)
    yield
    return rig


def _ok_sent(rig, rid):
    for obj in rig.inbox:
        if obj[messages.KEY_ID] == rid and obj[messages.KEY_TYPE] == messages.OK:
            return True
    return False


def _drop_job(gw):
    # The dead board's command, ended now: under CPython its generator (a cycle with the
    # gateway) would otherwise be collected at some later moment, and its cleanup could
    # run in the middle of the next boot (tests/test_config_set_cuts.py says so too).
    job = gw._job
    gw._job = None
    if job is not None:
        job[0].close()


def _reboot(rig):
    rig.board_class = FakeBoard
    _drop_job(rig.gw)
    yield from rig.power_cut_in_parts()
    yield  # the boot's last phase and the hello: apart, each fits
    rig.call("hello", min_version=1, max_version=1)
    yield


def cut_during(name, op, part, fill=None, inside=()):
    # Cut at the op-th flash operation after the command is sent, `part` bytes into it
    # (fill: what an interrupted append leaves, as tornflash.arm), with `inside` crossed in
    # first. Returns (whether an OK left before the cut, whether the command is in force):
    # `ok, in_force = yield from cut_during(...)`.
    rig = yield from _staged(name, inside)
    fields = _fields(name, rig)
    env = rig.envelope(name, **fields)
    rid = env[messages.KEY_ID]
    flash = rig.board.flash
    flash.arm(op, part, fill)
    rig.send(env)
    env = None
    try:
        for _ in range(20):
            rig.step(10)
            if _ok_sent(rig, rid) and not flash.dead and flash._cut_in is None:
                break
            yield
    except PowerCut:
        rig._collect()  # what left the board before the power went
    ok = _ok_sent(rig, rid)
    flash = None
    yield from _reboot(rig)
    return ok, _in_force(name, rig, fields)


def check_every_instant(name):
    answered = 0
    for op in range(MAX_OPS):
        for part in (0, 5):
            ok, in_force = yield from cut_during(name, op, part)
            assert in_force or not ok, "%s: OK sent, then lost to a cut at flash op %d" % (
                name,
                op,
            )
            answered += ok
            yield
    # Not firing: the late cuts come after the reply, so the command was answered.
    assert answered > 0, name


@in_parts
def test_an_acknowledged_seal_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("seal")


@in_parts
def test_an_acknowledged_unseal_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("unseal")


@in_parts
def test_an_acknowledged_evacuation_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("evacuate")


@in_parts
def test_an_acknowledged_all_clear_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("all-clear")


@in_parts
def test_an_acknowledged_cap_override_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("cap-override")


@in_parts
def test_an_acknowledged_cap_override_clear_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("cap-override-clear")


@in_parts
def test_an_acknowledged_permit_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("permit-issue")


@in_parts
def test_an_acknowledged_permit_revocation_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("permit-revoke")


@in_parts
def test_an_acknowledged_config_change_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("config-set")


@in_parts
def test_an_acknowledged_roster_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("roster-load")


@in_parts
def test_an_acknowledged_time_set_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("time-set")


@in_parts
def test_an_acknowledged_ack_survives_a_power_cut_at_any_instant():
    yield from check_every_instant("ack")


# Mutating commands whose cuts at every flash operation are tested in a file of their own
# (CPython only there: this file's MicroPython run is long enough).
ELSEWHERE = {
    "recount": "tests/test_recount_app.py::test_a_recount_survives_a_power_cut_at_every_flash_operation",
}


def test_every_mutating_command_is_covered():
    names = sorted(messages.name_of(c) for c in messages.MUTATING)
    assert names == sorted(list(STAGES) + list(ELSEWHERE)), names


@in_parts
def test_a_cut_with_nothing_yet_written_loses_an_order_that_was_never_answered():
    # Not firing: cut at the first flash operation, before anything of the order is
    # stored: no OK left, and the zone is not sealed after the reboot.
    ok, in_force = yield from cut_during("seal", 0, 0)
    assert not ok and not in_force


@in_parts
def test_a_snapshot_save_cut_anywhere_leaves_the_older_snapshot_in_force():
    # The slot is rewritten in place (gateway/snapshot.py): a cut at any of the save's
    # flash operations, with nothing or part of it written, leaves a slot whose crc fails, and boot takes the
    # other, whole one; the crossings after it are replayed from the log. A save is 9
    # operations: the header rewritten, the interlocks and 6 columns, the trailer. One
    # rig, cut and rebooted again and again, someone crossing before each save.
    rig = yield from _staged("evacuate", (1, 3))  # no stage: two people in
    inside = 2
    for op in range(9):
        for part in (0, 5):  # nothing of it, or part of it (all of a 4-byte trailer)
            into = inside == 2
            rig.cross(5, into=into)
            inside += 1 if into else -1
            gw = rig.gw
            assert gw.zone.count == inside
            gen = gw.snapshots.gen
            flash = rig.board.flash
            mark = len(flash.history)
            flash.arm(op, part)
            raises(PowerCut, gw._save_state)
            call, name = flash.history[-1][:2]
            assert len(flash.history) - mark == op + 1
            assert name in ("state.a", "state.b") and call in ("rewrite", "append"), call
            gw = flash = None
            yield from rig.power_cut_in_parts()  # on the same files, still a TornBoard
            rig.call("hello", min_version=1, max_version=1)
            gw = rig.gw
            assert not gw.system & app.SYS_STATE_LOST, "state lost after a cut at op %d" % op
            assert gw.zone.count == inside, (op, part, gw.zone.count)
            if op == 8 and part >= 4:
                assert gw.snapshots.gen == gen + 2  # the trailer went whole: the save stands
            else:
                # The older snapshot restored (then saved again by the boot).
                assert gw.snapshots.gen == gen + 1, (op, part, gw.snapshots.gen, gen)
            gw = None
            yield
