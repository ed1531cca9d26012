"""Tables for a dispatcher at 3 a.m.: names instead of codes, local times, what is wrong
first. Everything here formats data the library returned; nothing is decided here."""

import unicodedata

from gateway import caps, gas, reasons, roles
from shaftgate import eventtext, i18n, minetime
from shaftgate.link.client import is_own_ack

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


def zoned_time(time_s):
    # A time a dispatcher acts on, with its UTC offset, so nobody has to guess the zone.
    return local_time(time_s, with_zone=True)


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


def printable(text):
    # Whatever reached the record, it never drives the terminal: control characters
    # (ANSI escapes, NUL) are shown as \x.. escapes, not sent raw.
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in text)


def table(headers, rows):
    cells = [[printable(str(c)) for c in headers]]
    cells += [[("" if c is None else printable(str(c))) for c in r] for r in rows]
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


def render_events(data, people=None):
    t = i18n.t
    c = data["catch_up"]
    lines = []
    fetched = c.get("events")
    # Each acknowledgement is itself logged (a COMMAND event): not news to the dispatcher.
    new = c["new_events"] if fetched is None else sum(1 for e in fetched if not is_own_ack(e))
    head = t("events_new", gateway=c["gateway_id"], n=new)
    if fetched and len(fetched) > new:
        head += t("events_own_acks", n=len(fetched) - new)
    if c["acked_to"] is not None:
        head += t("events_acked", seq=c["acked_to"], n=c["unacked"])
    else:
        if c.get("unacked"):
            head += t("events_unacked", n=c["unacked"])
        if data.get("ack_note"):
            head += "; " + data["ack_note"]
    lines.append(head)
    for first, last in c["gaps"]:
        lines.append(t("events_gap", first=first, last=last))
    if c["chain_anchored_at"]:
        lines.append(t("events_anchored", seq=c["chain_anchored_at"]))
    recent = data["recent"]
    if recent:
        lines.append(events_table(recent, people))
    elif data.get("last") == 0:
        lines.append(t("events_none_shown"))
    else:
        lines.append(t("events_none_held"))
    return "\n".join(lines)


# ---- status, occupants, permits, config ----


def render_status(data):
    t, pick = i18n.t, i18n.pick
    g = data["gateway"]
    s = data["status"]
    alerts = []
    if s["evacuating"]:
        alerts.append(t("st_drill") if s["drill"] else t("st_evacuation"))
    if s["sealed"]:
        alerts.append(t("st_sealed"))
    if not s["gas_ok"]:
        alerts.append(t("st_gas_not_ok"))
    if not s["video_ok"]:
        alerts.append(t("st_no_video"))
    if s["occupants"] > s["cap"]:
        alerts.append(t("st_over_cap"))
    work = t("st_work_allowed") if s["work_allowed"] else t("st_work_stopped")
    gases = []
    if "ch4_ppm" in s:
        gases.append("CH4 %d ppm (%.2f %%)" % (s["ch4_ppm"], s["ch4_ppm"] / 10000))
    else:
        gases.append("CH4 " + t("st_no_reading"))
    gases.append(("CO %d ppm" % s["co_ppm"]) if "co_ppm" in s else "CO " + t("st_no_reading"))
    ok, bad = t("st_ok"), t("st_not_ok")
    lines = [
        t(
            "st_head",
            gateway=g["gateway_id"],
            zone=g["zone_id"],
            kind=i18n.zone_kind_name(g["zone_kind"]),
            role=g["role"],
            firmware=g["firmware"],
            board=g["board"],
            boot=g["boot_count"],
        ),
        "  %s%s   %s %s"
        % (
            work,
            (" - " + ", ".join(alerts)) if alerts else "",
            t("st_lamp"),
            pick(*LAMP_NAMES[s["lamp"]]) if 0 <= s["lamp"] < len(LAMP_NAMES) else s["lamp"],
        ),
        t(
            "st_people",
            n=s["occupants"],
            cap=s["cap"],
            shift=i18n.name(i18n.SHIFTS, s["shift"]),
            temp=t("st_temp_cap") if s["override_active"] else "",
        ),
        t(
            "st_hot",
            allowed=t("st_allowed") if s["hot_work_allowed"] else t("st_not_allowed"),
            n=s["permits_active"],
        ),
        t(
            "st_video_gas",
            video=ok if s["video_ok"] else bad,
            gas=ok if s["gas_ok"] else bad,
            readings=", ".join(gases),
        ),
        t("st_events", seq=s["last_seq"], n=s["unacked"]),
        t("st_clock", when=local_time(s["now_s"], with_zone=True), up=duration(s["uptime_s"])),
    ]
    return "\n".join(lines)


LAMP_NAMES = (("off", "灭"), ("green", "绿"), ("amber", "黄"), ("red", "红"))


def render_occupants(data, now_s):
    t = i18n.t
    rows = [
        (
            o["tag_id"],
            o["person_id"] or t("unknown_person"),
            o["name"] or "",
            i18n.role_name(o["role"]) if o["role"] else "",
            i18n.crew_name(o["crew"]) if o["crew"] else "",
            local_time(o["since_s"]),
            duration(now_s - o["since_s"]) if o["since_s"] else "",
        )
        for o in data["occupants"]
    ]
    head = t("occ_now", gateway=data["gateway_id"], n=data["total"])
    if not rows:
        return head
    cols = ("col_tag", "col_person", "col_name", "col_role", "col_crew")
    headers = [t(c) for c in cols]
    headers += [t("col_since_zone", zone=minetime.label()), t("col_for")]
    return head + "\n" + table(headers, rows)


def _permit_flags(flags):
    names = []
    if flags & 1:
        names.append(i18n.t("permit_hot"))
    if flags & 2:
        names.append(i18n.t("permit_key_maint"))
    if flags & 4:
        names.append(i18n.t("permit_key_measure"))
    return ",".join(names)


def render_permits(data):
    t = i18n.t
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
    head = t("permits_head", gateway=data["gateway_id"], n=data["total"])
    if not rows:
        return head
    keys = ("col_permit", "col_job", "col_kind", "col_measure", "col_from", "col_until")
    headers = [t(k) for k in keys] + [t("col_workers"), t("col_fire_watch")]
    return head + "\n" + table(headers, rows) + "\n" + t("times_in", zone=minetime.label())


def render_config(data):
    rows = [(k, v) for k, v in sorted(data["settings"].items())]
    return "%s:\n%s" % (
        data["gateway_id"],
        table((i18n.t("col_setting"), i18n.t("col_value")), rows),
    )


def render_done(data):
    # One line per command: what the gateway accepted.
    return "%s: %s" % (data["gateway_id"], data["done"])
