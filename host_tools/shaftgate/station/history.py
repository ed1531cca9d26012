"""Questions asked of the record (AQ 1119-2023 §3.1: stored, queried, printed): events
filtered by time, zone, kind and person; who was in each zone and underground at a
moment, replayed from the entries and exits; the route of one person (R-ID-3) with the
time spent in each zone and underground.

Times are the gateways' own (time_s of each event). Fail safe: where the record of a
gateway has a gap before the moment asked about, the answer says so (`incomplete`)
instead of presenting a possibly short list as the truth.
"""

from gateway import events as ev
from shaftgate.station.alarms import ENTRY_KINDS, EXIT_KINDS, kept_in_unnamed, recounted_out

MAX_ROWS = 100000
_ENTRY = tuple(sorted(ENTRY_KINDS))
_EXIT = tuple(sorted(EXIT_KINDS))
_MOVES = _ENTRY + _EXIT


def _in(column, values):
    return "%s IN (%s)" % (column, ",".join("?" * len(values))), list(values)


def events(
    store, since_s=None, until_s=None, gateways=None, kinds=None, tags=None, persons=(), limit=1000
):
    """Events in time order (then gateway, seq); gateways/kinds/tags: lists, None = all.
    With tags (a person's), persons are their person ids: kinds from 50 on carry a
    person id in `tag` (fire watcher, who ordered an evacuation), not a tag."""
    where, args = ["1=1"], []
    if since_s is not None:
        where.append("time_s>=?")
        args.append(int(since_s))
    if until_s is not None:
        where.append("time_s<=?")
        args.append(int(until_s))
    for column, values in (("gateway_id", gateways), ("kind", kinds)):
        if values is not None:
            clause, vals = _in(column, values)
            where.append(clause)
            args += vals
    if tags is not None:
        tag_clause, tag_vals = _in("tag", list(tags) or [0])
        pid_clause, pid_vals = _in("tag", list(persons) or [0])
        where.append("((kind<50 AND %s) OR (kind>=50 AND %s))" % (tag_clause, pid_clause))
        args += tag_vals + pid_vals
    limit = max(1, min(int(limit), MAX_ROWS))
    rows = store.read(
        "SELECT gateway_id, seq, time_s, kind, tag, a, b FROM events WHERE %s "
        "ORDER BY time_s, gateway_id, seq LIMIT %d" % (" AND ".join(where), limit),
        args,
    )
    keys = ("gateway_id", "seq", "time_s", "kind", "tag", "a", "b")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _gaps_before(store, gateway_id, time_s):
    # Any gap in the record of this gateway, at a seq stored before `time_s`?
    rows = store.read(
        "SELECT first_seq, last_seq FROM gaps WHERE gateway_id=? AND first_seq <= "
        "COALESCE((SELECT MAX(seq) FROM events WHERE gateway_id=? AND time_s<=?), 0) + 1",
        (gateway_id, gateway_id, int(time_s)),
    )
    return [list(r) for r in rows]


def _replay(store, gateway_id, time_s=None, first=True):
    """One gateway's moves replayed from the record, up to and including time_s (None: all
    of it): (inside {tag: time_s of its entry, the first (first) or the last}, doubted
    {tag: time_s of its kept-in exit}, left {tag: time_s it last went out}). A recount that
    lowered the count takes out the tags the gateway had kept in after they were read
    leaving, oldest first (R-CAP-11), as serve's live view does (station/alarms.py)."""
    inside = {}
    doubted = {}
    left = {}
    entry_sql, entry_args = _in("kind", _MOVES)
    until_sql, until_args = ("AND time_s<=? ", [int(time_s)]) if time_s is not None else ("", [])
    for tag, kind, t, a, b in store.read(
        "SELECT tag, kind, time_s, a, b FROM events WHERE gateway_id=? %s"
        "AND ((tag>0 AND %s) OR kind IN (?, ?)) ORDER BY seq" % (until_sql, entry_sql),
        [gateway_id, *until_args, *entry_args, ev.DOUBTFUL_CROSSING, ev.RECOUNT],
    ):
        e = {"kind": kind, "tag": tag, "time_s": t, "a": a, "b": b}
        if kind == ev.RECOUNT:
            for out in recounted_out(doubted, e):
                if inside.pop(out, None) is not None:
                    left[out] = t
        elif kind == ev.DOUBTFUL_CROSSING:
            if tag > 0 and kept_in_unnamed(e):
                doubted[tag] = t
        elif kind in ENTRY_KINDS:
            doubted.pop(tag, None)
            if first:
                inside.setdefault(tag, t)  # a missed exit keeps the first entry's time
            else:
                inside[tag] = t
        else:
            inside.pop(tag, None)
            left[tag] = t
    return inside, doubted, left


def tracked(store, site):
    """{gateway_id: (inside, doubted, left)} as serve's live view tracks them
    (station/alarms.py Alarms.restore: entries by their last time), replayed from the whole
    record: what a serve that never stopped would hold, so that a restart between a kept-in
    exit and its recount forgets no tag (R-CAP-11)."""
    return {g.id: _replay(store, g.id, first=False) for g in site.gateways}


def occupants_at(store, site, time_s):
    """{"zones": [{gateway_id, zone, kind, shaft, tags: [{tag, since_s}], incomplete}],
    "underground": the shaft's list or None}: replayed from every entry and exit up to
    and including time_s, and every recount (R-CAP-11: one that lowered the count takes
    out the tags the gateway had kept in after they were read leaving)."""
    zones = []
    underground = None
    for g in site.gateways:
        inside = _replay(store, g.id, time_s)[0]
        recorded = store.read(
            "SELECT MIN(time_s), MAX(time_s) FROM events WHERE gateway_id=?", (g.id,)
        )[0]
        gaps = _gaps_before(store, g.id, time_s)
        zone = {
            "gateway_id": g.id,
            "zone": g.zone,
            "kind": g.kind,
            "shaft": g.is_shaft,
            "tags": [{"tag": tag, "since_s": t} for tag, t in sorted(inside.items())],
            "gaps": gaps,
            # nothing recorded yet at that time, or a gap before it: the list may be short
            "incomplete": bool(gaps) or recorded[0] is None or recorded[0] > time_s,
        }
        zones.append(zone)
        if g.is_shaft:
            underground = zone
    return {"time_s": int(time_s), "zones": zones, "underground": underground}


def trace(store, site, tags, since_s, until_s):
    """One person's route: [{gateway_id, zone, kind, shaft, in_s, out_s, open_start,
    open_end}] in time order, each stay clipped to the range; plus the time underground
    (inside the shaft's zone: working time) and per zone (dwell)."""
    if since_s >= until_s:
        raise ValueError("the range must end after it starts")
    move_sql, move_args = _in("kind", _MOVES)
    tag_sql, tag_args = _in("tag", tags)
    stays = []
    for g in site.gateways:
        # where the person stood when the range began: the last move before it
        before = store.read(
            "SELECT kind, time_s FROM events WHERE gateway_id=? AND time_s<? AND %s AND %s "
            "ORDER BY time_s DESC, seq DESC LIMIT 1" % (move_sql, tag_sql),
            [g.id, int(since_s), *move_args, *tag_args],
        )
        current = None
        if before and before[0][0] in ENTRY_KINDS:
            current = {"in_s": int(since_s), "open_start": True, "entered_s": before[0][1]}
        for kind, t in store.read(
            "SELECT kind, time_s FROM events WHERE gateway_id=? AND time_s>=? AND time_s<=? "
            "AND %s AND %s ORDER BY seq" % (move_sql, tag_sql),
            [g.id, int(since_s), int(until_s), *move_args, *tag_args],
        ):
            if kind in ENTRY_KINDS:
                if current is None:
                    current = {"in_s": t, "open_start": False, "entered_s": t}
            elif current is not None:
                stays.append(_stay(g, current, t, False))
                current = None
        if current is not None:
            stays.append(_stay(g, current, int(until_s), True))
    stays.sort(key=lambda s: (s["in_s"], not s["shaft"]))
    dwell = {}
    for s in stays:
        dwell[s["zone"]] = dwell.get(s["zone"], 0) + s["out_s"] - s["in_s"]
    working = sum(s["out_s"] - s["in_s"] for s in stays if s["shaft"])
    return {
        "since_s": int(since_s),
        "until_s": int(until_s),
        "tags": list(tags),
        "stays": stays,
        "dwell_s": dwell,
        "working_s": working,
    }


def _stay(g, current, out_s, open_end):
    return {
        "gateway_id": g.id,
        "zone": g.zone,
        "kind": g.kind,
        "shaft": g.is_shaft,
        "in_s": current["in_s"],
        "out_s": out_s,
        "entered_s": current["entered_s"],
        "open_start": current["open_start"],
        "open_end": open_end,
    }


def find_person(store, text):
    """Roster rows matching a name, a person id or a tag id (exactly): [{tag_id, ...}]."""
    text = text.strip()
    rows = store.read(
        "SELECT DISTINCT tag_id, person_id, name, role, crew FROM roster "
        "WHERE name=? OR CAST(person_id AS TEXT)=? OR CAST(tag_id AS TEXT)=?",
        (text, text, text),
    )
    keys = ("tag_id", "person_id", "name", "role", "crew")
    return [dict(zip(keys, r, strict=True)) for r in rows]
