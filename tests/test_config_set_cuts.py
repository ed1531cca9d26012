# micropython-test
# A power cut anywhere in a config-set (issue 9; gateway/reconfigure.py): at every flash
# operation from the moment the command arrives, part-way through that operation's bytes
# and, past the last one, after everything was written. After the reboot the settings in
# force are the old ones or the new ones, whole (config.cbor and the zone built from it),
# never a mix; if an OK reply left the board they are the new ones; and every person
# counted in before is counted in still, named or remembered (R-CAP-11). Both ways a
# config-set goes: the zone changed in place, and a new ledger_capacity (the ledger let
# go and rebuilt while the gateway is parked as at boot), here one smaller than the
# headcount, so some are kept without a row. In parts (tests/hostcalls.py): each boot,
# each step of the command and each reboot a call of its own under the board profile.
import sys

from apprig import Rig, rig_in_parts, roster_entry
from fakeboard import FakeBoard
from hostcalls import in_parts
from tornboard import TornBoard
from tornflash import PowerCut

from gateway import app, store
from gatewire import messages

INSIDE = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
# Each loosens a gas limit too: its event is logged before the settings are stored.
IN_PLACE = {"zone_kind": "repair", "warn_pct": 60, "ch4_stop_ppm": 11000}
RESIZED = {"ledger_capacity": 8, "warn_pct": 60, "ch4_stop_ppm": 11000}
# Flash operations to cut at: more than each makes up to its reply (in place 7, the
# resized one 14, the COMMAND event included), so the last rounds cut after every write.
IN_PLACE_OPS = 9
RESIZED_OPS = 16
# Cut before the operation wrote anything, and 5 bytes into it; under MicroPython the
# second only (the same firmware: the CPython run has both, CI's time is short).
PARTS = (5,) if sys.implementation.name == "micropython" else (0, 5)


def _staged_files():
    # A coal face with INSIDE in, its flash's files: every round starts from a copy.
    rig = yield from rig_in_parts(config={"ledger_capacity": 16})
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts([roster_entry(t) for t in INSIDE])
    yield from rig.ready_in_parts()
    for t in INSIDE:
        rig.cross(t)
        rig.pushed = []
        rig.seen = {}
        yield
    assert rig.gw.zone.count == len(INSIDE)
    fl = rig.board.flash
    files = {}
    for name in fl.names():
        files[name] = bytes(fl.read(name))
    files["counter"] = rig.signer.counter  # the host's, as it goes on
    return files, dict(rig.gw.cfg)


class _Files:
    def __init__(self, files):
        self.files = files

    def read(self, name):
        return self.files.get(name)


def _rig_on(files):
    rig = Rig(config=None, board_class=TornBoard, staged=True)
    fl = rig.board.flash
    for name in files:
        if name == "counter":
            rig.signer.counter = files[name]
        else:
            fl.write(name, files[name])
    yield
    while rig.gw.boot_step():
        yield
    return rig


def _ok_sent(rig, rid):
    for obj in rig.inbox:
        if obj[messages.KEY_ID] == rid and obj[messages.KEY_TYPE] == messages.OK:
            return True
    return False


def _cut_during(files, changes, op, part):
    # Returns (OK sent before the cut, the settings stored after the reboot, the gateway).
    rig = yield from _rig_on(files)
    env = rig.envelope("config-set", changes=changes)
    rid = env[messages.KEY_ID]
    flash = rig.board.flash
    flash.arm(op, part)
    rig.send(env)
    try:
        for _ in range(30):
            rig.step(10)
            if _ok_sent(rig, rid) and not flash.dead and flash._cut_in is None:
                break
            yield
    except PowerCut:
        rig._collect()  # what left the board before the power went
    ok = _ok_sent(rig, rid)
    env = flash = None
    _drop_job(rig.gw)
    rig.board_class = FakeBoard
    yield from rig.power_cut_in_parts()
    stored = store.read_cbor(rig.board.flash, store.CONFIG_FILE)
    return ok, stored, rig.gw


def _drop_job(gw):
    # The dead board's command, ended now: under CPython its generator (a cycle with the
    # gateway) would otherwise be collected at some later moment, and its cleanup
    # (store.unload) could run in the middle of the next boot's import of that module.
    job = gw._job
    gw._job = None
    if job is not None:
        job[0].close()


def _everyone_counted(gw):
    z = gw.zone
    ld = z.ledger
    tags = [ld.tag(r) for r in range(ld.n)]
    for i in range(z.unnamed_n):
        tags.append(z.unnamed_tags[i])
    return z.count == len(INSIDE) and sorted(tags) == list(INSIDE)


def _sweep(changes, max_ops):
    files, old = yield from _staged_files()
    old_file = store.read_cbor(_Files(files), store.CONFIG_FILE)  # as provisioned
    new = dict(old)
    for k in changes:
        new[k] = changes[k]
    answered = 0
    kept = 0
    for op in range(max_ops):
        for part in PARTS:
            ok, stored, gw = yield from _cut_during(files, changes, op, part)
            where = (op, part, ok)
            # Old or new, whole: the settings in force are the ones stored.
            was = stored == old_file and gw.cfg == old
            assert was or (stored == new and gw.cfg == new), where
            assert not gw.system & app.SYS_CONFIG_BAD, where
            assert gw.zone.ledger.capacity == gw.cfg["ledger_capacity"], where
            assert gw.zone.kind == gw.cfg["zone_kind"], where
            assert gw.zone.policy.warn_pct == gw.cfg["warn_pct"], where
            assert gw.il.gas.ch4_stop_ppm == gw.cfg["ch4_stop_ppm"], where
            # Never an OK for settings that are gone, never a person lost.
            assert not was or not ok, where
            assert not gw.system & app.SYS_STATE_LOST and _everyone_counted(gw), where
            answered += ok
            kept += was
            gw = stored = None
            yield
    # Not firing: the early cuts leave the old settings, the late ones come after the
    # reply, so both outcomes were reached.
    assert answered > 0 and kept > 0, (answered, kept)


@in_parts
def test_a_power_cut_anywhere_in_a_config_set_in_place_leaves_old_or_new():
    yield from _sweep(IN_PLACE, IN_PLACE_OPS)


@in_parts
def test_a_power_cut_anywhere_in_a_ledger_rebuild_leaves_old_or_new_and_nobody_lost():
    yield from _sweep(RESIZED, RESIZED_OPS)
