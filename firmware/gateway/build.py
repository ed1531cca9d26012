# The zone and the interlocks built from a configuration, and installed as the gateway's:
# at boot (gateway/bootseq.py, a phase each); config-set (gateway/reconfigure.py) takes its
# log check, caps and interlocks, never a second zone. Code for those moments only: each
# imports it and lets it go after (store.unload), out of a board's heap the rest of the time.
from gateway import interlocks
from gateway.app import SYS_CONFIG_BAD, _config
from gateway.caps import EPOCH_S, LEGAL_CAPS
from gateway.eventlog import SEGMENT_RECORDS, flash_bytes_max
from gateway.zone import Zone
from gatewire.errors import E_BAD_FIELD, ProtocolError


def check_log_fits(gw, cfg):
    # The log must fit the file system it is on, with room beside it for the roster's
    # two slots and staging, the snapshots and the rest: half of it at most.
    if not gw._fs_bytes:
        return
    need = flash_bytes_max(cfg["log_capacity"], SEGMENT_RECORDS)
    if need > gw._fs_bytes // 2:
        raise ProtocolError(
            E_BAD_FIELD,
            "log_capacity %d needs %d bytes of flash; the file system holds %d and "
            "the log may have half" % (cfg["log_capacity"], need, gw._fs_bytes),
            "log_capacity",
        )


def both(gw, cfg):
    # Returns (zone, interlocks) for cfg; ValueError / ProtocolError if they refuse it.
    z = zone(gw, cfg)
    return z, locks(gw, cfg, z)


def zone(gw, cfg):
    # The boot builds the zone and the interlocks in two phases (gateway/bootseq.py),
    # so that the zone's short-lived allocation is collected before the interlocks'.
    check_log_fits(gw, cfg)
    z = Zone(
        cfg["zone_kind"],
        cfg["role"],
        gw.emit,
        caps=caps_of(cfg),
        shaft_cap=cfg["mine_cap"] if cfg["role"] == "shaft" else None,
        warn_pct=cfg["warn_pct"],
        schedule=schedule_of(cfg),
        utc_offset_min=cfg["utc_offset_min"],
        ledger_capacity=cfg["ledger_capacity"],
        roster=gw.roster,
        window_ms=cfg["doorway_window_ms"],
        tag_still_s=cfg["tag_still_s"],
        max_dwell_s=cfg["max_dwell_s"],
        untagged_window_ms=cfg["untagged_window_ms"],
        epoch_s=EPOCH_S,  # the app's now_s is clock seconds (gateway/caps.py)
    )
    z.set_restricted(cfg["restricted"])
    z.set_access(cfg["admit_roles"], cfg["admit_people"])
    return z


def caps_of(cfg):
    # The zone's caps from cfg (Zone's and CapPolicy's caps argument): None for the legal
    # ones; a tighter cap lowers each shift's legal cap, never raises one (R-CAP-1..5).
    limit = cfg["cap_limit"]
    legal = LEGAL_CAPS.get(cfg["zone_kind"])
    if limit and legal is not None:
        return [min(limit, legal[0]), min(limit, legal[1])]
    return None


def schedule_of(cfg):
    schedule = []
    for s in cfg["shifts"]:
        schedule.append((s[0], s[1]))
    return schedule


def locks(gw, cfg, z):
    return interlocks.from_config(cfg, z.is_present, gw.emit, EPOCH_S)


def install(gw, cfg, built=None):
    # built: (zone, interlocks) already built for cfg (the boot's two phases), not built
    # twice; False: cfg was refused while building them.
    try:
        if built is False:
            raise ValueError("configuration refused")
        gw.zone, gw.il = built if built is not None else both(gw, cfg)
    except (ValueError, ProtocolError):
        # Fail safe: the stored config is refused; run on defaults with work off.
        gw.system |= SYS_CONFIG_BAD
        cfg = _config().defaults()
        gw.zone, gw.il = both(gw, cfg)
    gw.cfg = cfg
    gw.sealed = False
