# The staffed face gateway the test_app_* files share (tests/apprig.py's Rig with a
# ten-person roster holding the roles the rules need, a host that said hello, live video
# and healthy gas held past the hold-off), and the hot-work permit they issue. Not a test file.
from apprig import OUTPUTS, Rig, person_of, rig_in_parts, roster_entry

from gateway import roles
from gatewire import messages

LEADER = 2  # tag of the team leader in roster() (R-EVAC-1)
WATCHER = 3  # tag of the fire-watcher
WELDER = 4
RESCUER = 9


def roster():
    out = []
    for t in range(1, 11):
        role = roles.MINER
        if t == LEADER:
            role = roles.TEAM_LEADER
        elif t == WELDER:
            role = roles.WELDER
        elif t == RESCUER:
            role = roles.RESCUE
        out.append(roster_entry(t, role=role))
    return out


def staffed(**kw):
    # A provisioned face gateway with the roster loaded, a host that said hello, and
    # live video and healthy gas held past the hold-off.
    rig = Rig(**kw)
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster(roster())
    rig.ready()
    return rig


def hot_permit(rig, permit_id=1, start_s=None, end_s=None, flags=messages.PERMIT_HOT_WORK):
    now = rig.board.rtc
    return rig.request(
        "permit-issue",
        permit_id=permit_id,
        job_id=70 + permit_id,
        measure_ref="STM-%d" % permit_id,
        start_s=now - 60 if start_s is None else start_s,
        end_s=now + 3600 if end_s is None else end_s,
        fire_watcher=person_of(WATCHER),
        workers=[person_of(WELDER)],
        flags=flags,
    )


def outputs(board):
    out = {}
    for k in OUTPUTS:
        out[k] = getattr(board, k)
    return out


def first_values(history):
    out = {}
    for name, value in history:
        if name not in out:
            out[name] = value
    return out


def staffed_in_parts(**kw):
    # staffed() for a test in parts (tests/hostcalls.py): `rig = yield from
    # staffed_in_parts()`, the boot a phase per part, the roster and the hold-off in parts.
    rig = yield from rig_in_parts(**kw)
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts(roster())
    yield from rig.ready_in_parts()
    return rig


def bad_reads(rig, n, first_tag=1):
    # n READ_POINT_UNKNOWN events (R-DATA-4): reads at a point no zone has.
    for _ in bad_reads_in_parts(rig, n, first_tag):
        pass


def bad_reads_in_parts(rig, n, first_tag=1):
    # bad_reads() for a test in parts (tests/hostcalls.py): `yield from
    # bad_reads_in_parts(rig, n)`, a part per step of the gateway (16 events logged).
    for k in range(n):
        rig.board.reads.append((7, first_tag + k, -70, 0))
        if len(rig.board.reads) >= 16:
            rig.step(10)
            yield
    rig.step(10)
    yield
