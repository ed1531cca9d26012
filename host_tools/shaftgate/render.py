"""Tables for a dispatcher at 3 a.m.: names instead of codes, local times, what is wrong
first. Everything here formats data the library returned; nothing is decided here."""

import datetime
import unicodedata

from gateway import caps, gas, reasons, roles, zone
from gateway import events as ev
from shaftgate.client import event_kind_name

LAMPS = ("off", "green", "amber", "red")
# status.shift on the wire: 0 unknown, then caps.SHIFT_* + 1.
SHIFTS = {0: "unknown (strictest cap)", 1: "production", 2: "maintenance"}
_CAPS_SHIFTS = {
    caps.SHIFT_UNKNOWN: "unknown",
    caps.SHIFT_PRODUCTION: "production",
    caps.SHIFT_MAINTENANCE: "maintenance",
}
GASES = {gas.CH4: "CH4", gas.CO: "CO"}


def prefixed_names(module, prefix, skip=()):
    # {value: "name-in-lower-case"} of a module's PREFIX_* int constants.
    return {
        getattr(module, n): n[len(prefix) :].lower().replace("_", "-")
        for n in dir(module)
        if n.startswith(prefix) and n not in skip and type(getattr(module, n)) is int
    }


WHY_NAMES = prefixed_names(reasons, "WHY_")
CAUSE_NAMES = prefixed_names(reasons, "CAUSE_")
EVAC_REASON_NAMES = prefixed_names(reasons, "EVAC_REASON_", skip=("EVAC_REASON_MAX",))


def local_time(time_s):
    if not time_s:
        return "never"
    return datetime.datetime.fromtimestamp(time_s).strftime("%Y-%m-%d %H:%M:%S")


def zoned_time(time_s):
    # A time a dispatcher acts on, with its UTC offset, so nobody has to guess the zone.
    if not time_s:
        return "never"
    when = datetime.datetime.fromtimestamp(time_s).astimezone()
    z = when.strftime("%z")  # +0800
    return "%s UTC%s:%s" % (when.strftime("%Y-%m-%d %H:%M:%S"), z[:3], z[3:])


def duration(seconds):
    seconds = int(seconds)
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    if seconds < 86400:
        return "%d h %02d min" % (seconds // 3600, seconds // 60 % 60)
    return "%d d %d h" % (seconds // 86400, seconds // 3600 % 24)


def why_bits(bits):
    names = [name for bit, name in sorted(WHY_NAMES.items()) if bits & bit]
    return ", ".join(names) if names else "none"


def role_name(code):
    try:
        return roles.name(code)
    except ValueError:
        return "role %d" % code


def text_width(text):
    # Terminal columns: Chinese names take two a character.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers, rows):
    cells = [[str(c) for c in headers]] + [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max(text_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        padded = [c + " " * (widths[i] - text_width(c)) for i, c in enumerate(r)]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ---- events ----


def _refusal(b):
    return zone.REFUSE_NAMES[b] if 0 < b < len(zone.REFUSE_NAMES) else "reason %d" % b


def _person(a):
    return "person %d" % a if a else "unknown person"


def _in_zone(e):
    return "%s, %d in zone" % (_person(e["a"]), e["b"])


def _gas(e):
    tag = e["tag"]
    name = GASES.get(tag & 0x7F) or "gas %d" % tag
    return name + (" (across a reboot)" if tag & gas.SPANS_REBOOT else "")


_DESCRIBE = {
    ev.ENTRY: _in_zone,
    ev.EXIT: _in_zone,
    ev.ENTRY_REFUSED: lambda e: "%s refused: %s" % (_person(e["a"]), _refusal(e["b"])),
    ev.OVER_CAP_ENTRY: _in_zone,
    ev.SEALED_ENTRY: _in_zone,
    ev.RESTRICTED_ENTRY: _in_zone,
    ev.UNAUTHORISED_ENTRY: lambda e: "person %d, role %s" % (e["a"], role_name(e["b"])),
    ev.UNKNOWN_TAG_ENTRY: lambda e: "not in the roster, %d in zone" % e["b"],
    ev.UNCERTIFIED_ENTRY: lambda e: (
        "person %d: %s" % (e["a"], "certificate expired or none" if e["b"] == 1 else "clock unset")
    ),
    ev.EVACUATION_ENTRY: _in_zone,
    ev.CAP_OK: lambda e: "%d in zone, cap %d" % (e["a"], e["b"]),
    ev.CAP_WARNING: lambda e: "%d in zone, cap %d" % (e["a"], e["b"]),
    ev.CAP_FULL: lambda e: "%d in zone, cap %d" % (e["a"], e["b"]),
    ev.CAP_OVER: lambda e: "%d in zone, cap %d" % (e["a"], e["b"]),
    ev.CAP_CHANGED: lambda e: "cap %d -> %d" % (e["b"], e["a"]),
    ev.SHIFT_CHANGED: lambda e: (
        "%s shift, %d in zone" % (_CAPS_SHIFTS.get(e["a"], "shift %d" % e["a"]), e["b"])
    ),
    ev.CAP_OVERRIDE_SET: lambda e: "temporary cap %d for %s" % (e["a"], duration(e["b"])),
    ev.CAP_OVERRIDE_ENDED: lambda e: (
        "temporary cap %d %s" % (e["a"], "expired" if e["b"] == 1 else "cleared")
    ),
    ev.PARALLEL_CREWS: lambda e: (
        "production crew %d and maintenance crew %d inside" % (e["a"], e["b"])
    ),
    ev.MISSED_ENTRY: _in_zone,
    ev.MISSED_EXIT: lambda e: "person %d, recorded inside for %s" % (e["a"], duration(e["b"])),
    ev.LEDGER_FULL: _in_zone,
    ev.UNTAGGED_ENTRY: lambda e: "%d bodies without a tag (beam total %d)" % (e["a"], e["b"]),
    ev.OVERSTAY: lambda e: "person %d, %s in zone" % (e["a"], duration(e["b"] * 60)),
    ev.ROSTER_LOADED: lambda e: "%d people" % e["a"],
    ev.WORK_OFF: lambda e: "why: " + why_bits(e["a"]),
    ev.HOT_ON: lambda e: "permit %d, job %d, fire-watcher %d" % (e["tag"], e["a"], e["b"]),
    ev.HOT_OFF: lambda e: "permit %d, job %d, why: %s" % (e["tag"], e["b"], why_bits(e["a"])),
    ev.GAS_OVER: lambda e: "%s %d ppm, limit %d ppm" % (_gas(e), e["a"], e["b"]),
    ev.GAS_PEAK: lambda e: "%s peak %d ppm after %s" % (_gas(e), e["a"], duration(e["b"])),
    ev.GAS_OVER_END: lambda e: "%s peak %d ppm, lasted %s" % (_gas(e), e["a"], duration(e["b"])),
    ev.EVAC_START: lambda e: _evac(e),
    ev.DRILL_START: lambda e: "drill: " + _evac(e),
    ev.EVAC_JOIN: lambda e: "further order: " + _evac(e),
    ev.ZONE_CLEAR: lambda e: (
        "%s cleared in %d.%03d s" % ("drill" if e["tag"] else "zone", e["a"], e["b"])
    ),
    ev.EVAC_END: lambda e: (
        "all clear by %s after %s%s"
        % (
            "person %d" % e["tag"] if e["tag"] else "the dispatcher",
            duration(e["a"]),
            " (drill)" if e["b"] else "",
        )
    ),
    ev.PERMIT_ISSUED: lambda e: "permit %d, job %d" % (e["tag"], e["a"]),
    ev.PERMIT_REVOKED: lambda e: "permit %d, job %d" % (e["tag"], e["a"]),
    ev.PERMIT_ENDED: lambda e: "permit %d, job %d" % (e["tag"], e["a"]),
    ev.FIRE_WATCH_START: lambda e: (
        "watcher %d, permit %d, %s to watch" % (e["tag"], e["a"], duration(e["b"]))
    ),
    ev.FIRE_WATCH_LEFT: lambda e: (
        "watcher %d LEFT, permit %d, %s left" % (e["tag"], e["a"], duration(e["b"]))
    ),
    ev.KEY_WORK_HALTED: lambda e: (
        "permit %d, job %d, why: %s" % (e["tag"], e["b"], why_bits(e["a"]))
    ),
}


def _time_set(e):
    # Logged at the new time with the old one in tag (0: the clock was unset).
    if not e["tag"]:
        return "clock set to %s (it was unset)" % zoned_time(e["time_s"])
    step = e["a"]
    if e["b"]:
        return "clock MOVED BACK %s on explicit order, from %s to %s" % (
            duration(-step),
            zoned_time(e["tag"]),
            zoned_time(e["time_s"]),
        )
    return "clock set to %s (moved %+d s)" % (zoned_time(e["time_s"]), step)


_DESCRIBE.update(
    {
        ev.TIME_SET: _time_set,
        ev.TIME_BACK_REFUSED: lambda e: (
            "refused to move the clock back %s to %s" % (duration(-e["a"]), zoned_time(e["tag"]))
        ),
        ev.CAP_OVERRIDE_REFUSED: lambda e: (
            "temporary cap %d refused: %d people inside (R-CAP-11)" % (e["a"], e["b"])
        ),
        ev.STATE_CONFIRMED: lambda e: (
            "zone state confirmed by %s" % ("person %d" % e["a"] if e["a"] else "the dispatcher")
        ),
    }
)


def _evac(e):
    cause = CAUSE_NAMES.get(e["a"], "cause %d" % e["a"])
    reason = EVAC_REASON_NAMES.get(e["b"], "reason %d" % e["b"])
    who = " (person %d)" % e["tag"] if e["tag"] else ""
    return "ordered by %s%s, reason %s" % (cause, who, reason)


def describe_event(e):
    describe = _DESCRIBE.get(e["kind"])
    if describe is not None:
        try:
            return describe(e)
        except (TypeError, ValueError, KeyError, IndexError):
            pass  # fields outside what the catalogue says: show them raw below
    tag = "tag %d, " % e["tag"] if e["tag"] and e["kind"] >= _PEOPLE_KINDS_END else ""
    return "%sa %d, b %d" % (tag, e["a"], e["b"])


# Kinds below this carry a locator tag in `tag`; above it, `tag` is a camera, gas, permit
# or person and describe_event() names it.
_PEOPLE_KINDS_END = 50


def event_rows(events):
    return [
        (
            local_time(e["time_s"]),
            e["seq"],
            e.get("kind_name") or event_kind_name(e["kind"]),
            (e["tag"] or "") if e["kind"] < _PEOPLE_KINDS_END else "",
            describe_event(e),
        )
        for e in events
    ]


def events_table(events):
    return table(("time", "seq", "event", "tag", "what"), event_rows(events))


def event_line(e):
    row = event_rows([e])[0]
    return "%s  #%d  %s  %s" % (
        row[0],
        row[1],
        row[2],
        (("tag %s  " % row[3]) if row[3] else "") + row[4],
    )


def render_events(data):
    c = data["catch_up"]
    lines = []
    head = "%s: %d new event%s" % (
        c["gateway_id"],
        c["new_events"],
        "" if c["new_events"] == 1 else "s",
    )
    if c["acked_to"] is not None:
        head += ", acknowledged up to seq %d (%d still unacknowledged on the gateway)" % (
            c["acked_to"],
            c["unacked"],
        )
    elif data.get("ack_note"):
        head += "; " + data["ack_note"]
    lines.append(head)
    for first, last in c["gaps"]:
        lines.append("GAP: events %d..%d are not held on this host" % (first, last))
    if c["chain_anchored_at"]:
        lines.append(
            "hash chain verified from seq %d on (earlier events were never held here)"
            % c["chain_anchored_at"]
        )
    recent = data["recent"]
    if recent:
        lines.append(events_table(recent))
    else:
        lines.append("no events held for this gateway yet")
    return "\n".join(lines)


# ---- status, occupants, permits, config ----


def _yes(v, yes="yes", no="no"):
    return yes if v else no


def render_status(data):
    g = data["gateway"]
    s = data["status"]
    alerts = []
    if s["evacuating"]:
        alerts.append("EVACUATION DRILL" if s["drill"] else "EVACUATION")
    if s["sealed"]:
        alerts.append("SEALED")
    if not s["gas_ok"]:
        alerts.append("GAS NOT OK")
    if not s["video_ok"]:
        alerts.append("NO VIDEO")
    if s["occupants"] > s["cap"]:
        alerts.append("OVER CAP")
    work = "WORK ALLOWED" if s["work_allowed"] else "WORK STOPPED"
    gases = []
    if "ch4_ppm" in s:
        gases.append("CH4 %d ppm (%.2f %%)" % (s["ch4_ppm"], s["ch4_ppm"] / 10000))
    else:
        gases.append("CH4 no reading")
    gases.append(("CO %d ppm" % s["co_ppm"]) if "co_ppm" in s else "CO no reading")
    lines = [
        "%s  zone %s (%s, %s gateway)  firmware %s on %s, boot %d"
        % (
            g["gateway_id"],
            g["zone_id"],
            g["zone_kind"],
            g["role"],
            g["firmware"],
            g["board"],
            g["boot_count"],
        ),
        "  %s%s   lamp %s"
        % (work, (" - " + ", ".join(alerts)) if alerts else "", LAMPS[s["lamp"]]),
        "  people     %d / cap %d, %s shift%s"
        % (
            s["occupants"],
            s["cap"],
            SHIFTS.get(s["shift"], "shift %d" % s["shift"]),
            " (temporary cap in force)" if s["override_active"] else "",
        ),
        "  hot work   %s, %d permit%s active"
        % (
            _yes(s["hot_work_allowed"], "allowed", "not allowed"),
            s["permits_active"],
            "" if s["permits_active"] == 1 else "s",
        ),
        "  video      %s    gas %s: %s"
        % (
            _yes(s["video_ok"], "ok", "NOT OK"),
            _yes(s["gas_ok"], "ok", "NOT OK"),
            ", ".join(gases),
        ),
        "  events     last seq %d, %d unacknowledged" % (s["last_seq"], s["unacked"]),
        "  clock      %s (gateway), up %s" % (local_time(s["now_s"]), duration(s["uptime_s"])),
    ]
    return "\n".join(lines)


def render_occupants(data, now_s):
    rows = [
        (
            o["tag_id"],
            o["person_id"] or "unknown",
            o["name"] or "",
            o["role"] or "",
            o["crew"] or "",
            local_time(o["since_s"]),
            duration(now_s - o["since_s"]) if o["since_s"] else "",
        )
        for o in data["occupants"]
    ]
    head = "%s: %d in zone" % (data["gateway_id"], data["total"])
    if not rows:
        return head
    return head + "\n" + table(("tag", "person", "name", "role", "crew", "in since", "for"), rows)


def _permit_flags(flags):
    names = []
    if flags & 1:
        names.append("hot-work")
    if flags & 2:
        names.append("key-maintenance")
    if flags & 4:
        names.append("key-measurement")
    return ",".join(names)


def render_permits(data):
    rows = [
        (
            p["permit_id"],
            p["job_id"],
            _permit_flags(p["flags"]),
            p["measure_ref"],
            local_time(p["start_s"]),
            local_time(p["end_s"]),
            " ".join(str(w) for w in p["workers"]),
            p["fire_watcher"] or "",
        )
        for p in data["permits"]
    ]
    head = "%s: %d permit%s" % (
        data["gateway_id"],
        data["total"],
        "" if data["total"] == 1 else "s",
    )
    if not rows:
        return head
    return (
        head
        + "\n"
        + table(
            ("permit", "job", "kind", "measure", "from", "until", "workers", "fire-watch"), rows
        )
    )


def render_config(data):
    rows = [(k, v) for k, v in sorted(data["settings"].items())]
    return "%s:\n%s" % (data["gateway_id"], table(("setting", "value"), rows))


def render_done(data):
    # One line per command: what the gateway accepted.
    return "%s: %s" % (data["gateway_id"], data["done"])
