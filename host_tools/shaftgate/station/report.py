"""The shift report's numbers (R-CAP-10, R-CAP-11), computed from the record alone.

Per zone, over [start_s, end_s): the headcount over time and its peak against the cap,
time at or above the early warning, over-cap entries and refusals, violations,
evacuations and drills with their time to clear, gas exceedances with peak and duration.
Across shifts: the underground headcount (the shaft's zone) of the same shift on earlier
days, against the 10 % reduction goal.

The counts come from the firmware's own fields: entries and exits carry the count in the
zone after them (b), the cap-level events the count and the cap (a, b). Times are the
gateways'. Nothing here formats: shaftgate/cli/report.py renders.
"""

from gateway import events as ev
from gateway import zone as zone_codes
from shaftgate.station.alarms import PEOPLE_VIOLATIONS

# Kinds whose b is the count in the zone after the event.
COUNT_IN_B = frozenset(
    (
        ev.ENTRY,
        ev.EXIT,
        ev.OVER_CAP_ENTRY,
        ev.SEALED_ENTRY,
        ev.RESTRICTED_ENTRY,
        ev.UNKNOWN_TAG_ENTRY,
        ev.EVACUATION_ENTRY,
        ev.MISSED_ENTRY,
        ev.LEDGER_FULL,
    )
)
LEVELS = {ev.CAP_OK: 0, ev.CAP_WARNING: 1, ev.CAP_FULL: 2, ev.CAP_OVER: 3}
VIOLATIONS = (
    *PEOPLE_VIOLATIONS,
    ev.PARALLEL_CREWS,
    ev.FIRE_WATCH_LEFT,
)
GOAL_REDUCTION = 0.10  # R-CAP-10: underground headcount down by at least 10 %


def _events(store, gateway_id, start_s, end_s):
    keys = ("seq", "time_s", "kind", "tag", "a", "b")
    rows = store.read(
        "SELECT seq, time_s, kind, tag, a, b FROM events WHERE gateway_id=? AND time_s>=? "
        "AND time_s<? ORDER BY seq",
        (gateway_id, int(start_s), int(end_s)),
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _before(store, gateway_id, start_s, kinds):
    # The last event of these kinds before the window: the state the shift began in.
    marks = ",".join("?" * len(kinds))
    row = store.read(
        "SELECT kind, a, b FROM events WHERE gateway_id=? AND time_s<? AND kind IN (%s) "
        "ORDER BY time_s DESC, seq DESC LIMIT 1" % marks,
        [gateway_id, int(start_s), *kinds],
    )
    return row[0] if row else None


def zone_report(store, gateway, start_s, end_s, current_cap=None):
    gid = gateway.id
    count_kinds = sorted(COUNT_IN_B | set(LEVELS))
    last = _before(store, gid, start_s, count_kinds)
    count = 0
    if last is not None:
        count = last[1] if last[0] in LEVELS else last[2]
    level_row = _before(store, gid, start_s, sorted(LEVELS))
    level = LEVELS[level_row[0]] if level_row else 0
    cap_row = _before(store, gid, start_s, sorted([*LEVELS, ev.CAP_CHANGED]))
    cap = None
    if cap_row is not None:
        cap = cap_row[1] if cap_row[0] == ev.CAP_CHANGED else cap_row[2]
    series = [(int(start_s), count)]
    peak, peak_s = count, int(start_s)
    above_s, above_since = 0, (int(start_s) if level >= 1 else None)
    refusals, cap_refusals, over_cap_entries = 0, 0, 0
    violations = {}
    evacuations = []
    open_evac = None
    gas = []
    open_gas = {}
    caps_seen = [cap] if cap is not None else []
    for e in _events(store, gid, start_s, end_s):
        k, t = e["kind"], e["time_s"]
        if k in COUNT_IN_B or k in LEVELS:
            count = e["a"] if k in LEVELS else e["b"]
            series.append((t, count))
            if count > peak:
                peak, peak_s = count, t
        if k in LEVELS:
            cap = e["b"]
            caps_seen.append(cap)
            new = LEVELS[k]
            if new >= 1 and above_since is None:
                above_since = t
            elif new == 0 and above_since is not None:
                above_s += t - above_since
                above_since = None
        elif k == ev.CAP_CHANGED:
            cap = e["a"]
            caps_seen.append(cap)
        if k == ev.ENTRY_REFUSED:
            refusals += 1
            cap_refusals += e["b"] == zone_codes.REFUSE_CAP
        if k == ev.OVER_CAP_ENTRY:
            over_cap_entries += 1
        if k in VIOLATIONS:
            violations[k] = violations.get(k, 0) + 1
        if k in (ev.EVAC_START, ev.DRILL_START) and open_evac is None:
            open_evac = {"drill": k == ev.DRILL_START, "start_s": t, "clear_s": None}
            open_evac.update(end_s=None, cause=e["a"], reason=e["b"])
        elif k == ev.ZONE_CLEAR and open_evac is not None and open_evac["clear_s"] is None:
            open_evac["clear_s"] = e["a"] + e["b"] / 1000
        elif k == ev.EVAC_END and open_evac is not None:
            open_evac["end_s"] = t
            evacuations.append(open_evac)
            open_evac = None
        if k == ev.GAS_OVER:
            open_gas[e["tag"] & 0x7F] = {"gas": e["tag"] & 0x7F, "start_s": t, "peak": e["a"]}
            open_gas[e["tag"] & 0x7F].update(limit=e["b"], duration_s=None)
        elif k == ev.GAS_PEAK and (e["tag"] & 0x7F) in open_gas:
            g = open_gas[e["tag"] & 0x7F]
            g["peak"] = max(g["peak"], e["a"])
        elif k == ev.GAS_OVER_END:
            g = open_gas.pop(e["tag"] & 0x7F, None) or {
                "gas": e["tag"] & 0x7F,
                "start_s": t - e["b"],
                "limit": None,
            }
            g.update(peak=e["a"], duration_s=e["b"])
            gas.append(g)
    if above_since is not None:
        above_s += int(end_s) - above_since
    if open_evac is not None:
        evacuations.append(open_evac)
    gas.extend(open_gas.values())  # still over when the shift ended: duration unknown
    series.append((int(end_s), count))
    if cap is None:
        cap = current_cap
    return {
        "gateway_id": gid,
        "zone": gateway.zone,
        "kind": gateway.kind,
        "shaft": gateway.is_shaft,
        "cap": cap,
        "cap_max": max(caps_seen) if caps_seen else cap,
        "peak": peak,
        "peak_s": peak_s,
        "over_cap": cap is not None and peak > cap,
        "above_warning_s": above_s,
        "over_cap_entries": over_cap_entries,
        "refusals": refusals,
        "cap_refusals": cap_refusals,
        "violations": violations,
        "evacuations": evacuations,
        "gas": gas,
        "series": series,
    }


def _current_caps(store):
    import json

    caps = {}
    for gid, status in store.read("SELECT gateway_id, status FROM gateway_state"):
        try:
            caps[gid] = json.loads(status)["cap"] if status else None
        except (ValueError, KeyError, TypeError):
            caps[gid] = None
    return caps


def shift_report(store, site, start_s, end_s):
    caps = _current_caps(store)
    return {
        "start_s": int(start_s),
        "end_s": int(end_s),
        "zones": [zone_report(store, g, start_s, end_s, caps.get(g.id)) for g in site.gateways],
    }


def underground(store, site, start_s, end_s):
    """The shaft's zone over one shift: peak count and the people who went down."""
    shaft = next((g for g in site.gateways if g.is_shaft), None)
    if shaft is None:
        return None
    z = zone_report(store, shaft, start_s, end_s)
    people = store.read(
        "SELECT COUNT(DISTINCT tag) FROM events WHERE gateway_id=? AND time_s>=? AND time_s<? "
        "AND kind IN (%d,%d)" % (ev.ENTRY, ev.OVER_CAP_ENTRY),
        (shaft.id, int(start_s), int(end_s)),
    )[0][0]
    return {"peak": z["peak"], "people": people}


def trend(store, site, shifts):
    """shifts: [(label, start_s, end_s)] oldest first. The first is the baseline; the
    goal is GOAL_REDUCTION below it (R-CAP-10)."""
    rows = []
    base = None
    for label, s0, s1 in shifts:
        u = underground(store, site, s0, s1)
        if u is None:
            return []
        if base is None and u["people"]:
            base = u["people"]
        change = (u["people"] - base) / base if base else None
        rows.append(
            {
                "label": label,
                "start_s": s0,
                "peak": u["peak"],
                "people": u["people"],
                "change": change,
                "goal_met": change is not None and change <= -GOAL_REDUCTION,
            }
        )
    goal = base * (1 - GOAL_REDUCTION) if base else None
    return {"rows": rows, "baseline": base, "goal": goal}
