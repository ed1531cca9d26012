"""serve's alarms as the dispatcher reads them, in zh or en: the class, what happened
(from the alarm's kind and detail, with people named; serve's stored text is the
fallback), its state and who acknowledged it when."""

from shaftgate import eventtext, i18n, minetime
from shaftgate.render import local_time, table


def _zone(a):
    zone, gid = a.get("zone"), a.get("gateway_id")
    if zone and gid:
        return "%s (%s)" % (zone, gid)
    return zone or gid or ""


def _tag(tag, people):
    name = people.name_of_tag(tag) if tag else None
    return "%d %s" % (tag, name) if name else str(tag)


def what(a, people=None):
    t = i18n.t
    p = people or eventtext.People()
    d = a.get("detail") or {}
    kind = a["kind"]
    try:
        if "kind" in d and "a" in d:  # raised by one of the gateway's own events
            return "%s: %s" % (i18n.kind_name(d["kind"]), eventtext.describe(d, p))
        if kind == "link_lost":
            return t(
                "al_link_lost",
                where=_zone(a),
                dur=eventtext.duration(d.get("silent_s", 0)),
                error=d.get("error") or "-",
            )
        if kind == "chain":
            return t("al_chain", where=_zone(a), error=d.get("error", ""))
        if kind == "headcount":
            faces = d.get("faces") or {}
            return t("al_headcount", faces=sum(faces.values()), shaft=d["underground"])
        if kind == "outside_mine":
            return t("al_outside_mine", tag=_tag(d["tag"], p), where=_zone(a))
        if kind == "two_places":
            return t(
                "al_two_places",
                tag=_tag(d["tag"], p),
                where=" / ".join(d.get("gateways") or [a.get("gateway_id") or ""]),
            )
        if kind == "clock_drift":
            return t("al_clock_drift", where=_zone(a), s=round(d["drift_s"]))
        if kind == "feed_late":
            return t("al_feed_late", dur=eventtext.duration(d["late_s"]), n=d["owed"])
    except (KeyError, TypeError, ValueError):
        pass  # a detail this desk does not know: serve's own words below
    return a.get("text") or ""


def state(a):
    t = i18n.t
    if a.get("cleared_s"):
        return t("alarm_cleared")
    if a.get("acked_s"):
        return t("alarm_acked")
    return t("alarm_open")


def handled(a):
    # Who acknowledged it, when and what they noted; when and why it cleared.
    t = i18n.t
    parts = []
    if a.get("acked_s"):
        parts.append(
            t(
                "alarm_acked_by",
                who=a.get("acked_by") or "?",
                when=local_time(a["acked_s"]),
                note=a.get("ack_note") or "",
            )
        )
    if a.get("cleared_s"):
        parts.append(
            t("alarm_cleared_by", when=local_time(a["cleared_s"]), by=a.get("cleared_by") or "")
        )
    return "; ".join(parts)


def rows(alarms, people=None):
    return [
        (
            local_time(a["raised_s"]),
            i18n.alarm_class_name(a["kind"]),
            _zone(a),
            state(a),
            what(a, people),
            handled(a),
            a["key"],
        )
        for a in alarms
    ]


def headers():
    t = i18n.t
    keys = ("col_class", "col_zone", "col_state", "col_what", "col_ack", "col_key")
    return [t("col_raised", zone=minetime.label())] + [t(k) for k in keys]


def alarms_table(alarms, people=None):
    return table(headers(), rows(alarms, people))
