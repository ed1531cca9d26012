# micropython-test
# config-set on a board's heap (issue 9; docs/hardware.md "Board fit", "config-set"): the
# settings are checked without building a second zone, then the zone in force is changed
# in place, or for a new ledger_capacity its ledger is rebuilt a phase per step after the
# old one is let go (gateway/reconfigure.py). The zone it leaves is the zone a boot builds
# from the same settings, the rules they drive hold as before, nobody inside is lost, and
# what the zone cannot take is refused with nothing changed. In parts (tests/hostcalls.py):
# under the pico profile each request's steps are calls of their own.
import gc
import sys

from apprig import of_kind, person_of, rig_in_parts, roster_entry
from hostcalls import in_parts

from gateway import app, build, roles, store
from gateway import events as ev
from gateway import ledger as ledger_mod
from gateway import zone as zone_mod
from gatewire import messages
from gatewire.errors import E_AUTH_REPLAY, E_BAD_FIELD, E_REFUSED

SMALL = 32  # ledger rows: small zones, so that a board's heap holds the rig and a check
PRODUCTION = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
MAINTENANCE = (21, 22)
LEADER = 30
ROSTER = (
    [roster_entry(t) for t in PRODUCTION]
    + [roster_entry(t, crew=roles.CREW_MAINTENANCE) for t in MAINTENANCE]
    + [roster_entry(LEADER, role=roles.TEAM_LEADER)]
)
ON_MICROPYTHON = sys.implementation.name == "micropython"


def _staffed(inside=(), **config):
    # A coal face (production shift at the rig's clock), its roster, work on, `inside` in.
    cfg = {"ledger_capacity": SMALL}
    for k in config:
        cfg[k] = config[k]
    rig = yield from rig_in_parts(config=cfg)
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.load_roster_in_parts(ROSTER)
    yield
    yield from rig.ready_in_parts()
    for t in inside:
        rig.cross(t)
        _forget_pushed(rig)
        yield
    return rig


def _forget_pushed(rig):
    # The host's copies of the pushed events are not the board's: let them go.
    rig.pushed = []
    rig.seen = {}


def _set(rig, **changes):
    return (yield from rig.call_in_parts("config-set", changes=changes))


def _set_refused(rig, **changes):
    r = yield from rig.request_in_parts("config-set", changes=changes)
    assert not r.ok, r
    return r


def _inside(zone):
    # (tags named in the ledger, the headcount): who the zone counts in.
    ld = zone.ledger
    return sorted([ld.tag(r) for r in range(ld.n)]), zone.count


def _settings(z):
    # Everything of a zone that its configuration sets (gateway/build.py zone()).
    pol = z.policy
    dw = z.doorway
    return [
        z.kind,
        z.role,
        pol.kind,
        pol.legal,
        pol.caps,
        pol.warn_pct,
        pol.utc_offset_min,
        pol._starts,
        pol._types,
        pol.epoch_s,
        z._epoch_s,
        z._max_dwell_ms,
        dw.capacity,
        dw.settle_ms,
        dw.window_ms,
        dw.still_ms,
        dw.pair_ms,
        z.restricted,
        z._access,
        bytes(z._admit_roles),
        list(z._admit_people),
        z.ledger.capacity,
        len(z.unnamed_tags),
    ]


def _derived(z):
    # Its settings and what the clock and the people inside make of them.
    out = _settings(z)
    out.extend([z.shift, z.cap, z.level, z.parallel_crews])
    return out


# ---- in place: no second zone ----


@in_parts
def test_a_config_set_changes_the_zone_in_force_in_place():
    rig = yield from _staffed(inside=(1, 2, 3, 4))
    gw = rig.gw
    zone = gw.zone
    ledger = zone.ledger
    doorway = zone.doorway
    people = _inside(zone)
    assert zone.cap == 25 and rig.board.lamp == 1
    before = rig.last_seq()
    yield
    yield from _set(
        rig,
        zone_kind="repair",
        warn_pct=50,
        doorway_window_ms=9000,
        tag_still_s=300,
        max_dwell_s=7200,
        untagged_window_ms=12000,
    )
    # Firing: the same zone, ledger and doorway, changed (no second zone was built).
    assert gw.zone is zone and zone.ledger is ledger and zone.doorway is doorway
    assert _inside(zone) == people
    assert zone.kind == "repair" and zone.cap == 8  # R-CAP-5
    assert doorway.window_ms == 9000 and doorway.still_ms == 300000
    assert doorway.pair_ms == 12000 and zone._max_dwell_ms == 7200000
    rig.step(100)
    assert rig.board.lamp == 2  # R-CAP-6: 4 of 8 at 50 % warns
    evs = rig.events_after(before)
    assert len(of_kind(evs, ev.CONFIG_CHANGED)) == 1
    # The cap's change and the level it puts the zone at are evidence, once each.
    assert [e[4:6] for e in of_kind(evs, ev.CAP_CHANGED)] == [(8, 25)]
    assert [e[4:6] for e in of_kind(evs, ev.CAP_WARNING)] == [(4, 8)]
    assert not of_kind(evs, ev.SHIFT_CHANGED)  # the shift did not change
    assert "gateway.reconfigure" not in sys.modules and "gateway.build" not in sys.modules
    _forget_pushed(rig)
    yield
    # Not firing: a change that needs no new arrays never rebuilds the ledger either;
    # one that does (below) is the only one that replaces it.
    yield from _set(rig, warn_pct=80)
    assert zone.ledger is ledger and rig.call("status")["lamp"] == 1


@in_parts
def test_a_new_ledger_capacity_rebuilds_the_ledger_with_everyone_still_in():
    rig = yield from _staffed(inside=PRODUCTION[:6])
    gw = rig.gw
    zone = gw.zone
    old = zone.ledger
    rows = sorted(gw.zone.occupants())
    parked = []

    def watch():
        # While the ledger is rebuilt the gateway is parked as at boot: outputs safe.
        if gw.booting:
            b = rig.board
            parked.append((b.refused, b.work, b.hot, bool(gw.system & app.SYS_RESTORING)))

    rig.on_step = watch
    yield
    yield from _set(rig, ledger_capacity=16)
    rig.on_step = None
    assert gw.zone is zone and zone.ledger is not old
    assert zone.ledger.capacity == 16 and gw.cfg["ledger_capacity"] == 16
    assert sorted(zone.occupants()) == rows  # the same people, since the same times
    assert zone.ledger.crew_count[roles.CREW_PRODUCTION] == 6
    assert parked and parked == [(True, False, False, True)] * len(parked), parked
    assert not gw.system & app.SYS_RESTORING
    yield
    # Parked as at boot, but not booted again: the command counter holds, so a command
    # signed with a counter already used is still a replay.
    env = rig.envelope("config-set", counter=rig.signer.counter - 1, changes={"warn_pct": 70})
    rig.send(env)
    r = yield from rig.reply_to_in_parts("config-set", env[messages.KEY_ID])
    assert r.code == E_AUTH_REPLAY and gw.cfg["warn_pct"] == 80, r
    env = None
    yield from rig.ready_in_parts()
    assert rig.board.work and not rig.board.refused
    yield
    # Smaller than the count: the rows past it are counted without a row and remembered
    # (R-CAP-11), so they go out as anyone does and nobody is lost.
    yield from _set(rig, ledger_capacity=8)
    for t in (7, 8, 9, 10):
        rig.cross(t)
        _forget_pushed(rig)
        yield
    assert zone.ledger.n == 8 and zone.count == 10
    for t in PRODUCTION:
        rig.cross(t, into=False)
        _forget_pushed(rig)
        yield
    assert zone.count == 0 and zone.ledger.overflow == 0
    gw = zone = old = None  # the board's RAM goes with the power
    yield from rig.power_cut_in_parts()
    assert rig.gw.zone.ledger.capacity == 8 and rig.gw.zone.count == 0


# ---- the zone it leaves is the zone a boot builds ----

CHANGES = (
    {"warn_pct": 50},
    {"zone_kind": "repair"},
    {"zone_kind": "coal_face", "cap_limit": 6},
    {"shifts": [[0, 1], [720, 0]]},
    {"utc_offset_min": 0},
    {"restricted": True},
    {"restricted": False, "admit_roles": [roles.MINER], "admit_people": [person_of(21)]},
    {"doorway_window_ms": 5000, "tag_still_s": 60, "max_dwell_s": 900},
    {"untagged_window_ms": 3000, "cap_limit": 0, "admit_roles": [], "admit_people": []},
    {"role": "shaft", "zone_kind": "shaft", "mine_cap": 12},
    {"mine_cap": 3},
    {"role": "face", "zone_kind": "fm_heading", "ledger_capacity": 16},
)


@in_parts
def test_the_zone_after_each_config_set_is_the_zone_a_boot_builds():
    rig = yield from _staffed(inside=(1, 2, 21))
    for changes in CHANGES:
        yield from _set(rig, **changes)
        gw = rig.gw
        fresh = build.zone(gw, gw.cfg)
        assert _settings(gw.zone) == _settings(fresh), changes
        fresh = None
        yield
        yield from rig.ready_in_parts()  # the interlocks are new: video and gas again
        status = rig.call("status")
        outputs = [rig.board.lamp, rig.board.refused, rig.board.work]
        z = gw.zone
        derived = _derived(z)
        people = _inside(z)
        gw = z = None  # the board's RAM goes with the power
        yield
        # The boot builds its zone from the stored settings: the same zone, the same
        # people, the same cap, level and outputs.
        yield from rig.power_cut_in_parts()
        yield
        yield from rig.ready_in_parts()
        z = rig.gw.zone
        assert _derived(z) == derived, changes
        assert _inside(z) == people
        now = rig.call("status")
        for k in ("cap", "occupants", "shift", "lamp", "work_allowed"):
            assert now[k] == status[k], (changes, k, now[k], status[k])
        assert [rig.board.lamp, rig.board.refused, rig.board.work] == outputs, changes
        gw = z = None
        yield


@in_parts
def test_the_configs_bounds_are_inside_what_the_zone_accepts():
    # The in-place change sets the zone's timings without its constructor's checks:
    # config.apply's bounds must lie inside them, at both ends (gateway/config.py).
    from gateway import config

    rig = yield from rig_in_parts(config={"ledger_capacity": 8})
    gw = rig.gw
    for end in (1, 2):
        cfg = dict(gw.cfg)
        for k in ("doorway_window_ms", "tag_still_s", "max_dwell_s", "untagged_window_ms"):
            cfg[k] = config._INTS[k][end]
        z = build.zone(gw, config.apply(gw.cfg, cfg))
        assert z.doorway.window_ms == cfg["doorway_window_ms"]
        z = None
        yield
    config = None


# ---- the rules the settings drive, after a config-set ----


@in_parts
def test_the_caps_of_each_kind_hold_after_a_config_set():
    rig = yield from _staffed(inside=PRODUCTION[:8])
    yield from _set(rig, zone_kind="repair")  # R-CAP-5: 8 at a repair point
    before = rig.last_seq()
    rig.cross(9)  # refused at approach, counted all the same (R-CAP-11)
    evs = rig.events_after(before)
    assert [e[3] for e in of_kind(evs, ev.ENTRY_REFUSED)] == [9]
    assert of_kind(evs, ev.ENTRY_REFUSED)[0][5] == zone_mod.REFUSE_CAP
    assert [e[3] for e in of_kind(evs, ev.OVER_CAP_ENTRY)] == [9]
    assert rig.call("status")["occupants"] == 9
    rig.cross(9, into=False)
    _forget_pushed(rig)
    yield
    # Not firing: a coal face's production shift admits 25 (R-CAP-1).
    yield from _set(rig, zone_kind="coal_face")
    before = rig.last_seq()
    rig.cross(9)
    evs = rig.events_after(before)
    assert not of_kind(evs, ev.ENTRY_REFUSED) and not of_kind(evs, ev.OVER_CAP_ENTRY)
    assert rig.call("status")["cap"] == 25
    _forget_pushed(rig)
    yield
    # A shift schedule that makes now a maintenance shift: 40 (R-CAP-2), said at once.
    before = rig.last_seq()
    yield from _set(rig, shifts=[[0, 1]])
    assert rig.call("status")["cap"] == 40
    evs = rig.events_after(before)
    assert [e[4] for e in of_kind(evs, ev.SHIFT_CHANGED)] == [1]


@in_parts
def test_early_warning_and_parallel_crews_hold_after_a_config_set():
    rig = yield from _staffed(inside=PRODUCTION[:4], zone_kind="repair")
    assert rig.call("status")["lamp"] == 1  # 4 of 8 below 80 %
    yield from _set(rig, warn_pct=50)
    assert rig.call("status")["lamp"] == 2  # R-CAP-6: amber from 4
    yield from _set(rig, warn_pct=70)
    assert rig.call("status")["lamp"] == 1  # 8 * 70 % rounded down: amber from 5
    _forget_pushed(rig)
    yield
    # R-CAP-7: the maintenance crew is refused while production is in, after a config-set
    # as before it; and admitted once production is out.
    before = rig.last_seq()
    rig.cross(21)
    refused = of_kind(rig.events_after(before), ev.ENTRY_REFUSED)
    assert [(e[3], e[5]) for e in refused] == [(21, zone_mod.REFUSE_PARALLEL_CREWS)]
    assert rig.gw.zone.parallel_crews
    for t in (1, 2, 3, 4, 21):
        rig.cross(t, into=False)
        _forget_pushed(rig)
        yield
    yield from _set(rig, warn_pct=70)
    before = rig.last_seq()
    rig.cross(22)
    assert not of_kind(rig.events_after(before), ev.ENTRY_REFUSED)
    assert not rig.gw.zone.parallel_crews


@in_parts
def test_a_shaft_set_in_place_stops_checking_crews():
    # A face with both crews inside becomes a shaft: R-CAP-7 is a working place's, so the
    # alarm ends, as a shaft built afresh would never have raised it.
    rig = yield from _staffed(inside=(1,))
    gw = rig.gw
    gw.zone.ledger.add(21, person_of(21), roles.MINER, roles.CREW_MAINTENANCE, 0, 0, 0)
    rig.step(100)
    assert gw.zone.parallel_crews
    before = rig.last_seq()
    yield from _set(rig, role="shaft", zone_kind="shaft", mine_cap=100)
    assert not gw.zone.parallel_crews
    cleared = of_kind(rig.events_after(before), ev.PARALLEL_CREWS_CLEARED)
    assert [e[4:6] for e in cleared] == [(1, 1)]


# ---- what the zone cannot take changes nothing ----


@in_parts
def test_a_kind_whose_cap_is_below_a_temporary_cap_in_force_is_refused():
    rig = yield from _staffed(inside=(1, 2))
    now = rig.board.rtc
    rig.call("cap-override", cap=20, expiry_s=now + 3600, reason="rectification")
    stored = rig.board.flash.read(store.CONFIG_FILE)
    before = rig.last_seq()
    yield
    r = yield from _set_refused(rig, zone_kind="repair")
    # Firing: refused, naming the setting; nothing changed, nothing lost after a reboot.
    assert r.code == E_BAD_FIELD and r.field == "zone_kind", r
    assert "temporary cap of 20" in r.text and "cap-override-clear" in r.text, r
    assert rig.board.flash.read(store.CONFIG_FILE) == stored
    status = rig.call("status")
    assert status["override_active"] and status["cap"] == 20
    assert not of_kind(rig.events_after(before), ev.CONFIG_CHANGED)
    yield from rig.power_cut_in_parts()
    assert not rig.gw.system & app.SYS_STATE_LOST and rig.gw.zone.count == 2
    yield
    # None can come between the check and the change (the job's steps): a cap-override
    # read then waits for the config-set's answer.
    rig.call("cap-override-clear")
    for changes in ({"zone_kind": "repair"}, {"ledger_capacity": 16}):
        env = rig.envelope("config-set", changes=changes)
        rig.send(env)
        yield
        rig.step(10)  # read: the job begins
        assert rig.gw._job is not None
        yield
        over = rig.envelope("cap-override", cap=20, expiry_s=rig.board.rtc + 3600, reason="r")
        rig.send(over)
        r = yield from rig.reply_to_in_parts("cap-override", over[messages.KEY_ID])
        assert r.code == E_REFUSED and "config-set is in progress" in r.text, r
        assert rig.gw.zone.policy.override_cap == -1
        r = yield from rig.reply_to_in_parts("config-set", env[messages.KEY_ID])
        assert r.ok, r
        env = over = None
        yield
    assert rig.gw.zone.kind == "repair" and rig.gw.zone.ledger.capacity == 16
    yield from _set(rig, zone_kind="coal_face")
    # Not firing: one within the new kind's caps is kept through the change.
    rig.call("cap-override", cap=6, expiry_s=rig.board.rtc + 3600, reason="rectification")
    yield from _set(rig, zone_kind="repair")
    status = rig.call("status")
    assert status["override_active"] and status["cap"] == 6
    yield from rig.power_cut_in_parts()
    assert rig.call("status")["cap"] == 6 and not rig.gw.system & app.SYS_STATE_LOST


def _mem_free(n):
    def mem_free():
        return n

    return mem_free


@in_parts
def test_a_ledger_larger_than_the_heap_has_room_for_is_refused_before_anything_changes():
    rig = yield from _staffed(inside=(1, 2, 3))
    if ON_MICROPYTHON:
        return  # a board's gc.mem_free cannot be set; the check's arithmetic is the same
    ledger = rig.gw.zone.ledger
    stored = rig.board.flash.read(store.CONFIG_FILE)
    gc.mem_free = _mem_free(20000)  # what a Pico might have free
    try:
        r = yield from _set_refused(rig, ledger_capacity=1024)
        # Firing: 1024 rows need about 23 KB more than 32: refused, naming it.
        assert r.code == E_BAD_FIELD and r.field == "ledger_capacity", r
        assert "20000 are free" in r.text, r
        assert rig.gw.zone.ledger is ledger and rig.board.flash.read(store.CONFIG_FILE) == stored
        # Not firing: 256 rows need less than that.
        yield from _set(rig, ledger_capacity=256)
        assert rig.gw.zone.ledger.capacity == 256 and rig.gw.zone.count == 3
    finally:
        del gc.mem_free


class _NoRoom:
    # A Ledger whose capacity `full` finds no room in the heap.
    full = -1
    real = ledger_mod.Ledger

    def __new__(cls, capacity):
        if capacity == cls.full:
            raise MemoryError("memory allocation failed")
        return cls.real(capacity)


@in_parts
def test_a_ledger_that_finds_no_room_when_built_leaves_the_old_settings():
    rig = yield from _staffed(inside=(1, 2, 3))
    gw = rig.gw
    stored = rig.board.flash.read(store.CONFIG_FILE)
    rows = sorted(gw.zone.occupants())
    before = rig.last_seq()
    _NoRoom.full = 200
    ledger_mod.Ledger = _NoRoom
    try:
        r = yield from _set_refused(rig, ledger_capacity=200, warn_pct=60)
    finally:
        ledger_mod.Ledger = _NoRoom.real
    # Firing: refused after the old ledger was let go; a ledger as before, everyone in.
    assert r.code == E_BAD_FIELD and r.field == "ledger_capacity" and "no room" in r.text, r
    assert rig.board.flash.read(store.CONFIG_FILE) == stored
    assert gw.cfg["ledger_capacity"] == SMALL and gw.cfg["warn_pct"] == 80
    assert gw.zone.ledger.capacity == SMALL and sorted(gw.zone.occupants()) == rows
    assert not gw.system & (app.SYS_RESTORING | app.SYS_STATE_LOST)
    evs = rig.events_after(before)
    assert not of_kind(evs, ev.CONFIG_CHANGED)
    assert [e[3] for e in of_kind(evs, ev.COMMAND_REFUSED)] == [messages.code_of("config-set")]
    yield
    yield from rig.ready_in_parts()
    assert rig.board.work and not rig.board.refused
    # Not firing: with room, the same change goes through.
    yield from _set(rig, ledger_capacity=200, warn_pct=60)
    assert gw.zone.ledger.capacity == 200 and sorted(gw.zone.occupants()) == rows


class BoardReset(BaseException):
    # machine.reset(): nothing after it runs (not an Exception: no handler takes it).
    pass


def _boom(*args):
    raise ValueError("a bug while the zone was changed")


@in_parts
def test_a_fault_after_the_settings_are_stored_resets_onto_them():
    rig = yield from _staffed(inside=(1, 2))
    gw = rig.gw
    resets = []

    def reset():
        resets.append(1)
        raise BoardReset()

    rig.board.reset = reset
    gw.zone.set_access = _boom
    rig.send(rig.envelope("config-set", changes={"zone_kind": "repair"}))
    e = None
    for _ in range(10):
        try:
            rig.step(10)
        except BoardReset as x:
            e = x
            break
        yield
    # Firing: in doubt (the settings stored, the zone part changed), outputs safe and reset.
    assert e is not None and resets == [1]
    b = rig.board
    assert not b.work and not b.hot and b.refused and b.lamp == 3
    assert store.read_cbor(b.flash, store.CONFIG_FILE)["zone_kind"] == "repair"
    gw = e = b = None  # the board's RAM goes with the power
    yield
    # The boot builds the zone from them, everyone still counted.
    yield from rig.power_cut_in_parts()
    assert rig.gw.zone.kind == "repair" and rig.gw.zone.count == 2
    assert rig.call("status")["cap"] == 8
