# config-set's change to the gateway in force (change(), gateway/commands.py's job), with
# no second zone beside it: a Zone for ledger_capacity 512 is 23 KB (the ledger's arrays,
# the doorway's tracks), more than a Pico's heap has free (docs/hardware.md "Board fit").
#   check       the new settings against what the zone, its caps and the heap can take,
#               building no zone: a refusal changes nothing.
#   interlocks  the new interlocks (small: built whole, as at boot) given the state of
#               those in force, read back as a boot reads it from the snapshot.
#   apply       the zone in force changed in place (caps, warning, shifts, doorway timings,
#               access): who is inside and the doorway's tracks stay as they are.
#   rebuild     a new ledger_capacity: the gateway parked as at boot (app's boot phases:
#               SYS_RESTORING, outputs safe, the watchdog fed), the old ledger let go, the
#               new one built in the next step, the settings stored, then the rows read back
#               from the state snapshot saved before it began and the log after it.
# A power cut anywhere leaves the old settings in force or the new (config.cbor is written
# whole, and a boot builds the zone from it, the snapshot and the log): never a mix.
# Imported for a config-set and let go after (store.unload).
import gc

from gateway import build, roles, store
from gateway import events as ev
from gateway.app import SYS_CONFIG_BAD, SYS_RESTORING, _config
from gateway.caps import EPOCH_S, CapPolicy
from gateway.ledger import Ledger
from gatewire import cbor
from gatewire.errors import E_BAD_FIELD, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# What the step that builds a new ledger needs beside it (the settings written, events
# logged, the interlocks built): a larger ledger is refused unless the heap has this much
# more free than the growth, before anything changes.
_HEAP_MARGIN = const(8192)


def change(gw, changes):
    # The job's steps (gateway/commands.py config_set): the check, then the change; a
    # new ledger_capacity parks the gateway for the rebuild's phases between the two
    # yields. A refusal before the settings are stored changes nothing.
    configuration = _config()
    new = configuration.apply(gw.cfg, changes)
    loosened = []
    for k in configuration.loosened(gw.cfg, new):
        loosened.append((configuration.GAS_LIMITS.index(k) + 1, new[k], gw.cfg[k]))
    configuration = None
    store.unload("config")
    try:
        pol = check(gw, new)
    except (ValueError, ProtocolError) as e:
        raise _refused(e)
    yield
    try:
        check_override(gw, new, pol)
        il = interlocks(gw, new)
    except (ValueError, ProtocolError) as e:
        raise _refused(e)
    n = len(changes)
    if resized(gw, new):
        il = None
        result = [None, False]
        rebuild(gw, new, pol, lambda: _store(gw, new, n, loosened), result)
        yield  # the job waits while the gateway is parked (app: boot phases)
        if not result[1]:
            # A phase failed after the old ledger was let go: the zone is in doubt, so
            # the board resets and boots from what is on flash (app._fault).
            gw._fault(RuntimeError("config-set: the ledger's rebuild did not finish"))
        if result[0] is not None:
            raise ProtocolError(E_BAD_FIELD, "config refused: %s" % result[0], "ledger_capacity")
        return
    _store(gw, new, n, loosened)
    gw._in_command = True  # the command's effects (they may use the log's reserve)
    try:
        apply(gw, new, pol, il)
    except Exception as e:
        # The new settings are stored and the zone only part changed: in doubt, the
        # board resets and boots from them (app._fault: outputs safe first).
        gw._fault(e)
    finally:
        gw._in_command = False


def _refused(e):
    return ProtocolError(E_BAD_FIELD, "config refused: %s" % e, getattr(e, "field", None))


def _store(gw, new, n, loosened):
    # The change on flash, as one command's effects. Loosening a gas limit is allowed
    # only signed, as this is; it is evidence, logged before the settings are stored (a
    # cut between leaves the old ones, and the attempt said).
    gw._in_command = True
    try:
        for g in loosened:
            gw.emit(ev.GAS_LIMIT_LOOSENED, g[0], g[1], g[2])
        store.write_cbor(gw.flash, store.CONFIG_FILE, new)
        try:
            gw.emit(ev.CONFIG_CHANGED, 0, n, 0)
            gw.system &= ~SYS_CONFIG_BAD
        except Exception as e:
            gw._fault(e)  # stored, not said: in doubt, as after apply() below
    finally:
        gw._in_command = False


def ledger_bytes(capacity):
    # The heap a Ledger of this capacity takes (gateway/ledger.py: four u32 and three u8
    # columns, a u16 table of the next power of two at or above twice the capacity), with
    # its ten objects' headers.
    size = 1
    while size < 2 * capacity:
        size <<= 1
    return 19 * capacity + 2 * size + 256


def _heap_free():
    # The heap free now, after a collection; -1 where it cannot be known (CPython).
    gc.collect()
    free = getattr(gc, "mem_free", None)
    return free() if free is not None else -1


def check(gw, cfg):
    # The zone's side of cfg (config.apply has checked each setting and their agreement):
    # the log inside its file system, the caps of its kind, the temporary cap in force
    # within them, a new ledger inside the heap. Returns the new cap policy, built (it is
    # small), for apply(); raises ProtocolError(E_BAD_FIELD) naming the setting.
    build.check_log_fits(gw, cfg)
    shaft = cfg["role"] == "shaft"
    pol = CapPolicy(
        cfg["zone_kind"],
        build.caps_of(cfg),
        cfg["mine_cap"] if shaft else None,
        cfg["warn_pct"],
        build.schedule_of(cfg),
        cfg["utc_offset_min"],
        epoch_s=EPOCH_S,
    )
    zone = gw.zone
    check_override(gw, cfg, pol)
    cap = cfg["ledger_capacity"]
    grow = ledger_bytes(cap) - ledger_bytes(zone.ledger.capacity)
    if grow > 0:
        free = _heap_free()
        if 0 <= free < grow + _HEAP_MARGIN:
            raise ProtocolError(
                E_BAD_FIELD,
                "ledger_capacity %d needs %d more bytes of heap than the ledger in force "
                "(and %d beside it); %d are free" % (cap, grow, _HEAP_MARGIN, free),
                "ledger_capacity",
            )
    return pol


def check_override(gw, cfg, pol):
    # R-CAP-9: a temporary cap never above the regulation; a boot would refuse the
    # snapshot holding one above the new caps (the zone's state lost), so the order's
    # clearing comes first. Checked again in the change's step: a cap-override may be
    # read in the step between.
    over = gw.zone.policy.override_cap
    top = pol.legal[0] if pol.legal[0] > pol.legal[1] else pol.legal[1]
    if over > top:
        raise ProtocolError(
            E_BAD_FIELD,
            "a temporary cap of %d is in force, above the %d a %s allows: "
            "clear it first (cap-override-clear)" % (over, top, cfg["zone_kind"]),
            "mine_cap" if cfg["role"] == "shaft" else "zone_kind",
        )


def resized(gw, cfg):
    return cfg["ledger_capacity"] != gw.zone.ledger.capacity


def interlocks(gw, cfg):
    # The interlocks for cfg holding the state of those in force (permits, fire watches,
    # an evacuation, gas exceedances), as a boot restores them from the state snapshot:
    # the same bytes (snapshot_cbor), decoded. Raises what they refuse, before anything
    # has changed (a permit for another zone_id, say).
    il = build.locks(gw, cfg, gw.zone)
    il.restore(cbor.loads(gw.il.snapshot_cbor(gw._il_cbor)), gw._now_ms)
    return il


def apply(gw, cfg, pol, il=None):
    # The zone in force set as a zone built from cfg would be (build.zone: the same
    # arguments), keeping who is inside, the doorway's tracks and a temporary cap; then the
    # shift, cap, warning level and crews worked out again, each change logged as it is in
    # force (tests/test_config_set.py compares every setting with a zone built afresh).
    z = gw.zone
    old = z.policy
    if old.override_cap >= 0:
        pol.restore_override(old.override_cap, old.override_expiry_s)
    z.policy = pol
    z.kind = cfg["zone_kind"]
    z.role = cfg["role"]
    dw = z.doorway
    dw.window_ms = cfg["doorway_window_ms"]
    dw.still_ms = cfg["tag_still_s"] * 1000
    dw.pair_ms = cfg["untagged_window_ms"]
    z._max_dwell_ms = cfg["max_dwell_s"] * 1000
    if z.role != "face" and z.parallel_crews:
        # R-CAP-7 is a working place's: a shaft does not check crews.
        z.parallel_crews = False
        cc = z.ledger.crew_count
        gw.emit(ev.PARALLEL_CREWS_CLEARED, 0, cc[roles.CREW_PRODUCTION], cc[roles.CREW_MAINTENANCE])
    # The clock's derived values again, with the new schedule and caps (SHIFT_CHANGED,
    # CAP_CHANGED, the level's event), before the flags: they change no event.
    z._now_s = None
    z._clock(gw._now_s)
    z.set_access(cfg["admit_roles"], cfg["admit_people"])
    z.set_restricted(cfg["restricted"])
    if il is not None:
        gw.il = il
    gw.cfg = cfg


def rebuild(gw, cfg, pol, commit, result):
    # A new ledger_capacity, from the change's step: the state on flash (the rows the new
    # ledger is filled from), then the gateway parked as at boot, a phase per step. Every
    # output safe and entry refused until done: nothing reads the zone while its ledger is
    # gone. commit(): the settings stored (config.cbor) and their events, once the new
    # ledger exists. result: [error text or None, True once every phase has run].
    gw._save_state()
    gw._safe_outputs()
    gw.system |= SYS_RESTORING
    gw._booting = _phases(gw, cfg, pol, commit, result)


def _phases(gw, cfg, pol, commit, result):
    # Run by app's boot_step, one part per step. It must never end there by StopIteration
    # (that is the boot's own end, which goes on to the link's phases and would build the
    # command verifier again from the counter read at boot): the last part lets go of
    # _booting itself and yields. Any fault resets the board (app._fault), which boots
    # from flash: the old settings or the new, stored whole.
    try:
        for _ in _parts(gw, cfg, pol, commit, result):
            yield
    except Exception as e:
        gw._fault(e)
    gw.system &= ~SYS_RESTORING
    result[1] = True
    gw._booting = None
    yield


def _parts(gw, cfg, pol, commit, result):
    zone = gw.zone
    old_cap = zone.ledger.capacity
    # Let go of the old ledger (and the interlocks, rebuilt below): the new one is made in
    # the next step, a call of its own, once this one's memory is collectable. The snapshot
    # keeps the columns of the ledger it saved last.
    zone.ledger = None
    gw.snapshots._cols = None
    gw.snapshots._ledger = None
    gw.il = None
    yield
    new_cap = cfg["ledger_capacity"]
    try:
        ld = Ledger(new_cap)
    except MemoryError:
        ld = None
    if ld is None:
        # Nothing is stored yet: the old settings stay, with a ledger as before (its
        # memory was just let go). Failing that too, the fault resets the board, which
        # boots on the old settings.
        gc.collect()
        zone.ledger = Ledger(old_cap)
        gw.il = build.locks(gw, gw.cfg, zone)
        result[0] = "ledger_capacity %d: no room in the heap for its ledger (%d bytes)" % (
            new_cap,
            ledger_bytes(new_cap),
        )
    else:
        zone.ledger = ld
        commit()
        gw.il = build.locks(gw, cfg, zone)
    ld = None
    yield
    # The rows back from the snapshot saved before, then the log after it, as a boot (the
    # zone keeps the settings the snapshot was saved under until they are all in).
    from gateway import restore

    for _ in restore.run(gw):
        yield
    restore = None
    if result[0] is None:
        yield
        gw._in_command = True  # the command's effects, as in the change's step
        try:
            apply(gw, cfg, pol)
        finally:
            gw._in_command = False
