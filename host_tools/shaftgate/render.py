"""Tables for a dispatcher at 3 a.m.: names instead of codes, local times, what is wrong
first. Everything here formats data the library returned; nothing is decided here."""

import unicodedata

from gateway import caps, gas, reasons, roles
from shaftgate import eventtext, i18n, minetime

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


def local_time(time_s, with_zone=False):
    # In the mine's time zone (minetime: the site file's), never the host's by accident.
    if not time_s:
        return i18n.t("never")
    return minetime.fmt(time_s, with_zone)


def duration(seconds):
    return eventtext.duration(seconds)


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


def describe_event(e, people=None):
    return eventtext.describe(e, people)


# Kinds below this carry a locator tag in `tag`; above it, `tag` is a camera, gas, permit
# or person and describe_event() names it.
_PEOPLE_KINDS_END = 50


def event_rows(events, people=None, with_gateway=False):
    rows = []
    for e in events:
        row = [
            local_time(e["time_s"]),
            e["seq"],
            i18n.kind_name(e["kind"]),
            (e["tag"] or "") if e["kind"] < _PEOPLE_KINDS_END else "",
            describe_event(e, people),
        ]
        if with_gateway:
            row.insert(1, e.get("gateway_id") or "")
        rows.append(tuple(row))
    return rows


def events_table(events, people=None, with_gateway=False):
    t = i18n.t
    head = [t("col_time", zone=minetime.label()), t("col_seq"), t("col_event"), t("col_tag")]
    head.append(t("col_what"))
    if with_gateway:
        head.insert(1, t("col_gateway"))
    return table(head, event_rows(events, people, with_gateway))


def event_line(e, people=None):
    row = event_rows([e], people)[0]
    return "%s  #%d  %s  %s" % (
        row[0],
        row[1],
        row[2],
        ((i18n.t("tag", id=row[3]) + "  ") if row[3] else "") + row[4],
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
