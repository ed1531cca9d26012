# Gateway configuration: defaults from the regulations, validation of what the host
# sets, and the rule that gas limits may be tightened freely but loosened only by a
# signed config-set, which is itself an event (REQUIREMENTS.md, "numbers from the wider
# field"). Every config-set arrives authenticated; loosening is additionally logged.
from gatewire.errors import E_BAD_FIELD, ProtocolError

ZONE_KINDS = ("coal_face", "fm_heading", "db_heading", "repair", "shaft")
ROLES = ("shaft", "face")

# key: (default, min, max). None default = required.
_INTS = {
    "mine_cap": (0, 0, 5000),  # shaft only: the mine's approved underground headcount
    "warn_pct": (80, 10, 100),  # R-CAP-6 early warning level
    "utc_offset_min": (480, -720, 840),  # China Standard Time by default
    "cameras": (1, 0, 8),
    "video_timeout_ms": (10000, 1000, 60000),  # R-VIDEO-1
    "video_holdoff_ms": (5000, 0, 600000),
    "ch4_stop_ppm": (10000, 1000, 15000),  # 1.0 % stop work
    "ch4_evac_ppm": (15000, 1000, 20000),  # 1.5 % withdraw people
    "co_evac_ppm": (24, 1, 100),  # CO limit
    "ch4_hot_max_ppm": (5000, 500, 10000),  # 0.5 % for welding
    "gas_silent_ms": (5000, 500, 60000),
    "gas_stuck_s": (1800, 60, 86400),
    "gas_holdoff_ms": (5000, 0, 600000),  # R-GAS-1: gas safe this long before work resumes
    "fire_watch_s": (3600, 0, 86400),  # R-HOT-2: one hour after the work ends
    "max_dwell_s": (36000, 600, 172800),  # overstay
    "tag_still_s": (600, 30, 86400),  # R-ID-2 tag-person separation
    "doorway_window_ms": (8000, 2001, 60000),  # above the doorway's 2 s settle time
    "ledger_capacity": (512, 8, 4096),
    "log_capacity": (4096, 64, 65536),
    "untagged_window_ms": (10000, 1000, 120000),  # R-ID-2 beam vs tag entries
}
_STRS = {"gateway_id": 32, "zone_id": 32}

# Upper bounds above stop a signed config from loosening a limit into the explosive
# range (methane explodes from 5 %); within them a loosening is logged.
# Safety direction of each gas limit: a larger value is looser for all of them.
GAS_LIMITS = ("ch4_stop_ppm", "ch4_evac_ppm", "co_evac_ppm", "ch4_hot_max_ppm")


def _bad(key, text):
    return ProtocolError(E_BAD_FIELD, "config %r: %s" % (key, text), key)


def defaults():
    cfg = {}
    for k in _INTS:
        cfg[k] = _INTS[k][0]
    cfg["gateway_id"] = "gw"
    cfg["zone_id"] = "zone"
    cfg["role"] = "face"
    cfg["zone_kind"] = "coal_face"
    cfg["shifts"] = [
        [0, 0],
        [480, 1],
        [960, 0],
    ]  # [start minute of day, 0 production / 1 maintenance]
    cfg["restricted"] = False
    cfg["admit_roles"] = []  # empty: every role the roster knows
    cfg["admit_people"] = []  # empty: nobody named specially
    cfg["cap_limit"] = 0  # 0: the regulation's cap; else a tighter one (never looser)
    return cfg


def _int(key, value, lo, hi):
    if type(value) is not int or isinstance(value, bool):
        raise _bad(key, "expected an integer, got %s" % type(value).__name__)
    if value < lo or value > hi:
        raise _bad(key, "%d is outside %d..%d" % (value, lo, hi))
    return value


def _int_list(key, value, lo, hi, max_len):
    if not isinstance(value, list) or len(value) > max_len:
        raise _bad(key, "expected a list of at most %d integers" % max_len)
    for v in value:
        _int(key, v, lo, hi)
    return value


def apply(current, changes):
    # Returns a new validated config with `changes` applied; raises ProtocolError naming
    # the first bad key and leaves `current` untouched.
    if not isinstance(changes, dict):
        raise _bad("*", "expected a map of settings")
    cfg = dict(current)
    for key in changes:
        value = changes[key]
        if key in _INTS:
            lo, hi = _INTS[key][1], _INTS[key][2]
            cfg[key] = _int(key, value, lo, hi)
        elif key in _STRS:
            if not isinstance(value, str) or not value or len(value) > _STRS[key]:
                raise _bad(key, "expected a text of 1..%d characters" % _STRS[key])
            cfg[key] = value
        elif key == "role":
            if value not in ROLES:
                raise _bad(key, "expected one of %s" % ", ".join(ROLES))
            cfg[key] = value
        elif key == "zone_kind":
            if value not in ZONE_KINDS:
                raise _bad(key, "expected one of %s" % ", ".join(ZONE_KINDS))
            cfg[key] = value
        elif key == "restricted":
            if not isinstance(value, bool):
                raise _bad(key, "expected true or false")
            cfg[key] = value
        elif key == "shifts":
            cfg[key] = _shifts(value)
        elif key == "admit_roles":
            cfg[key] = _int_list(key, value, 1, 255, 32)
        elif key == "admit_people":
            cfg[key] = _int_list(key, value, 1, (1 << 30) - 1, 64)
        elif key == "cap_limit":
            cfg[key] = _int(key, value, 0, 5000)
        else:
            raise _bad(key, "unknown setting")
    _consistent(cfg)
    return cfg


def _shifts(value):
    if not isinstance(value, list) or not 1 <= len(value) <= 6:
        raise _bad("shifts", "expected 1..6 shifts of [start minute, type]")
    last = -1
    for s in value:
        if not isinstance(s, list) or len(s) != 2:
            raise _bad(
                "shifts", "each shift is [start minute of day, 0 production / 1 maintenance]"
            )
        _int("shifts", s[0], 0, 1439)
        _int("shifts", s[1], 0, 1)
        if s[0] <= last:
            raise _bad("shifts", "start minutes must increase")
        last = s[0]
    return value


def _consistent(cfg):
    if cfg["ch4_evac_ppm"] < cfg["ch4_stop_ppm"]:
        raise _bad("ch4_evac_ppm", "must not be below ch4_stop_ppm")
    if cfg["ch4_hot_max_ppm"] > cfg["ch4_stop_ppm"]:
        raise _bad("ch4_hot_max_ppm", "must not be above ch4_stop_ppm")
    if (cfg["role"] == "shaft") != (cfg["zone_kind"] == "shaft"):
        raise _bad("zone_kind", "a shaft gateway has zone kind 'shaft' and only it")
    if cfg["role"] == "shaft" and cfg["mine_cap"] < 1:
        raise _bad("mine_cap", "a shaft gateway needs the mine's approved underground cap")


def loosened(old, new):
    # The gas limits the change makes looser than before (each becomes an event).
    out = []
    for k in GAS_LIMITS:
        if new[k] > old[k]:
            out.append(k)
    return out
