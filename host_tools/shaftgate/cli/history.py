"""History from serve's record: `events` with filters, `occupants --at TIME`, `trace
PERSON --from --to` (R-ID-3); `--csv FILE` for each writes what the table shows, for
Excel. Times typed and printed are the mine's (minetime)."""

import json
import sys
import time

from shaftgate import csvout, eventtext, i18n, minetime, render
from shaftgate.cli import register
from shaftgate.cli.station import (
    EXIT_FAILED,
    EXIT_OK,
    DeskError,
    adopt_mine,
    local_args,
    people_from,
    say_error,
    when_arg,
)
from shaftgate.link.client import EVENT_KIND_NAMES, jsonable


def history_args(p, events=False):
    p.add_argument("--csv", metavar="FILE", help="also write the rows to FILE (opens in Excel)")
    if events:
        p.add_argument(
            "--since", metavar="WHEN", help="from: 2026-12-04 08:00, or 8h (ago) (history)"
        )
        p.add_argument("--until", metavar="WHEN", help="up to (history)")
        p.add_argument("--zone", metavar="ZONE", help="one zone or gateway (history)")
        p.add_argument(
            "--kind",
            action="append",
            metavar="KIND",
            help="ENTRY, GAS_OVER, 进入, 气体超限, ... (repeatable; history)",
        )
        p.add_argument("--person", metavar="WHO", help="a name, person id or tag id (history)")


def wants_history(args):
    return any(getattr(args, k, None) for k in ("since", "until", "zone", "kind", "person", "csv"))


def kind_code(text):
    t = text.strip()
    by_name = {v.lower(): k for k, v in EVENT_KIND_NAMES.items()}
    if t.lower() in by_name:
        return by_name[t.lower()]
    for code, (en, zh) in i18n.KINDS.items():
        if t.lower() == en.lower() or t == zh:
            return code
    if t.isascii() and t.isdigit():
        return int(t)
    raise DeskError(i18n.t("err_bad_kind", text=text))


def _write_csv(path, headers, rows):
    try:
        n = csvout.write(path, headers, rows)
    except OSError as e:
        raise DeskError(i18n.t("err_csv_write", path=path, error=e)) from e
    print(i18n.t("csv_written", n=n, path=path), file=sys.stderr)


def events(serve, args, out):
    """`events` with a filter: every gateway's record, in time order."""
    request = {"op": "history-events", "limit": max(1, min(args.last or 1000, 100000))}
    if args.since:
        request["since_s"] = when_arg(args.since, "--since")
    if args.until:
        request["until_s"] = when_arg(args.until, "--until")
    if args.zone:
        request["zone"] = args.zone
    if args.kind:
        request["kinds"] = [kind_code(k) for k in args.kind]
    if args.person:
        request["person"] = args.person
    if args.gateway and not args.zone and len(args.gateway) == 1 and "=" not in args.gateway[0]:
        request["zone"] = args.gateway[0]
    people = people_from(serve)
    reply = serve.call(request)
    rows = reply["events"]
    if args.csv:
        headers, table_rows = _event_table(rows, people)
        _write_csv(args.csv, headers, table_rows)
    if args.json:
        out.write(json.dumps(jsonable(reply), ensure_ascii=False, sort_keys=True) + "\n")
        return EXIT_OK
    if not rows:
        out.write(i18n.t("events_none") + "\n")
        return EXIT_OK
    out.write(render.events_table(rows, people, with_gateway=True) + "\n")
    out.write(i18n.t("events_count", n=len(rows)) + "\n")
    return EXIT_OK


def _event_table(rows, people):
    t = i18n.t
    headers = [t("col_time", zone=minetime.label()), t("col_gateway"), t("col_seq")]
    headers += [t("col_event"), t("col_tag"), t("col_what")]
    return headers, render.event_rows(rows, people, with_gateway=True)


def occupants_at(serve, args, out):
    at_s = when_arg(args.at, "--at")
    people = people_from(serve)
    reply = serve.call({"op": "occupants-at", "time_s": at_s})
    t = i18n.t
    rows = []
    for z in reply["zones"]:
        for o in z["tags"]:
            info = people.by_tag.get(o["tag"]) or {}
            rows.append(
                (
                    z["zone"],
                    z["gateway_id"],
                    o["tag"],
                    info.get("person_id") or "",
                    info.get("name") or "",
                    i18n.role_name(info.get("role")),
                    i18n.crew_name(info.get("crew")),
                    render.local_time(o["since_s"]),
                    render.duration(at_s - o["since_s"]),
                )
            )
    headers = [t("col_zone"), t("col_gateway"), t("col_tag"), t("col_person"), t("col_name")]
    headers += [t("col_role"), t("col_crew"), t("col_since_zone", zone=minetime.label())]
    headers.append(t("col_for"))
    if args.csv:
        _write_csv(args.csv, headers, rows)
    if args.json:
        out.write(json.dumps(jsonable(reply), ensure_ascii=False, sort_keys=True) + "\n")
        return EXIT_OK
    lines = [t("occ_head", when=render.local_time(at_s, with_zone=True))]
    shaft = reply["underground"]
    if shaft is None:
        lines.append(t("occ_no_shaft"))
    else:
        lines.append(t("occ_underground", shaft=shaft["zone"], n=len(shaft["tags"])))
    for z in reply["zones"]:
        if z["shaft"]:
            continue
        line = "  " + t("occ_zone", zone=z["zone"], gateway=z["gateway_id"], n=len(z["tags"]))
        lines.append(line)
    for z in reply["zones"]:
        if z["incomplete"]:
            lines.append(t("occ_incomplete", zone=z["zone"], gateway=z["gateway_id"]))
    if rows:
        lines.append(render.table(headers, rows))
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def trace_args(p):
    p.add_argument("person", metavar="PERSON", help="a name, person id or tag id 姓名/编号")
    p.add_argument("--from", dest="since", default="24h", metavar="WHEN", help="default 24h (ago)")
    p.add_argument("--to", dest="until", default="now", metavar="WHEN", help="default now")
    p.add_argument("--json", action="store_true", help="one JSON document")
    history_args(p)


def trace(serve, args, out):
    now_s = time.time()
    since_s = when_arg(args.since, "--from", now_s)
    until_s = when_arg(args.until, "--to", now_s)
    t = i18n.t
    if since_s >= until_s:
        raise DeskError(
            t("err_range", start=render.local_time(since_s), end=render.local_time(until_s))
        )
    reply = serve.call(
        {"op": "trace", "person": args.person, "since_s": since_s, "until_s": until_s}
    )
    adopt_mine(reply)
    p = reply["person"]
    rows = [
        (
            s["zone"],
            i18n.zone_kind_name(s["kind"]),
            render.local_time(s["in_s"]) + (" " + t("trace_before") if s["open_start"] else ""),
            t("trace_still_inside") if s["open_end"] else render.local_time(s["out_s"]),
            render.duration(s["out_s"] - s["in_s"]),
        )
        for s in reply["stays"]
    ]
    headers = [t("col_zone"), t("col_kind"), t("col_from"), t("col_to"), t("col_dwell")]
    if args.csv:
        _write_csv(args.csv, headers, rows)
    if args.json:
        out.write(json.dumps(jsonable(reply), ensure_ascii=False, sort_keys=True) + "\n")
        return EXIT_OK
    who = "%s (%s, %s)" % (
        p["name"] or t("person", id=p["person_id"]),
        t("person", id=p["person_id"]),
        i18n.role_name(p["role"]),
    )
    lines = [
        t(
            "trace_head",
            who=who,
            start=render.local_time(since_s),
            end=render.local_time(until_s, with_zone=True),
        )
    ]
    if not rows:
        lines.append(t("trace_none"))
    else:
        lines.append(render.table(headers, rows))
        lines.append(t("trace_working", dur=eventtext.duration(reply["working_s"])))
        for zone, secs in reply["dwell_s"].items():
            lines.append(t("trace_dwell", zone=zone, dur=eventtext.duration(secs)))
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def run_trace(args):
    from shaftgate.cli.station import _client, _serve_failed
    from shaftgate.station.control import ControlError

    try:
        with _client(args) as c:
            return trace(c, args, sys.stdout)
    except DeskError as e:
        say_error(e)
        return 2
    except (ControlError, OSError) as e:
        return _serve_failed(args, e)


def permit_history_args(p):
    p.add_argument("--gateway", metavar="ID", help="one gateway's permits (default: all)")
    p.add_argument("--since", default="30d", metavar="WHEN", help="default 30d (ago)")
    p.add_argument("--json", action="store_true", help="one JSON document")
    history_args(p)


def permit_history(serve, args, out):
    """Every permit issued since --since, with what became of it: still in the book,
    revoked (when, by whom) or ended; from the gateways' events and serve's orders."""
    from gateway import events as ev

    t = i18n.t
    request = {"op": "history-events", "since_s": when_arg(args.since, "--since"), "limit": 100000}
    request["kinds"] = [ev.PERMIT_ISSUED, ev.PERMIT_REVOKED, ev.PERMIT_ENDED]
    if args.gateway:
        request["zone"] = args.gateway
    rows = serve.call(request)["events"]
    orders = serve.call({"op": "orders", "last": 100000})["orders"]
    adopt_mine(serve.call({"op": "roster"}))

    def order_for(command, gid, permit_id):
        for o in orders:  # newest first
            same = o["command"] == command and gid in o["targets"]
            if same and o["args"].get("permit_id") == permit_id:
                return o
        return None

    permits = {}
    for e in rows:
        key = (e["gateway_id"], e["tag"])
        if e["kind"] == ev.PERMIT_ISSUED:
            o = order_for("permit issue", e["gateway_id"], e["tag"])
            window = {}
            for r in (o or {}).get("results") or []:
                if r.get("gateway_id") == e["gateway_id"] and "result" in r:
                    window = r["result"]
            permits[key] = {
                "gateway_id": e["gateway_id"],
                "permit_id": e["tag"],
                "job_id": e["a"],
                "issued_s": e["time_s"],
                "issued_by": o["operator"] if o else None,
                "start_s": window.get("start_s"),
                "end_s": window.get("end_s"),
                "state": "active",
                "closed_s": None,
                "closed_by": None,
            }
        elif key in permits:
            p = permits[key]
            p["closed_s"] = e["time_s"]
            if e["kind"] == ev.PERMIT_REVOKED:
                o = order_for("permit revoke", e["gateway_id"], e["tag"])
                p["state"], p["closed_by"] = "revoked", (o["operator"] if o else None)
            else:
                p["state"] = "ended"
    items = sorted(permits.values(), key=lambda p: p["issued_s"])
    states = {"active": t("ph_active"), "revoked": t("ph_revoked"), "ended": t("ph_ended")}
    table_rows = [
        (
            p["gateway_id"],
            p["permit_id"],
            p["job_id"],
            render.local_time(p["issued_s"]),
            p["issued_by"] or "",
            render.local_time(p["start_s"]) if p["start_s"] else "",
            render.local_time(p["end_s"]) if p["end_s"] else "",
            states[p["state"]],
            render.local_time(p["closed_s"]) if p["closed_s"] else "",
            p["closed_by"] or "",
        )
        for p in items
    ]
    headers = [t("col_gateway"), t("col_permit"), t("col_job"), t("ph_issued"), t("ph_by")]
    headers += [t("col_from"), t("col_until"), t("col_state"), t("ph_closed"), t("ph_by")]
    if args.csv:
        _write_csv(args.csv, headers, table_rows)
    if args.json:
        out.write(json.dumps(items, ensure_ascii=False, sort_keys=True) + "\n")
        return EXIT_OK
    if not items:
        out.write(t("ph_none") + "\n")
        return EXIT_OK
    out.write(
        render.table(headers, table_rows) + "\n" + t("times_in", zone=minetime.label()) + "\n"
    )
    return EXIT_OK


def run_permit_history(args):
    from shaftgate.cli.station import _client, _serve_failed
    from shaftgate.station.control import ControlError

    try:
        with _client(args) as c:
            return permit_history(c, args, sys.stdout)
    except DeskError as e:
        say_error(e)
        return 2
    except (ControlError, OSError) as e:
        return _serve_failed(args, e)


__all__ = ["EXIT_FAILED", "events", "occupants_at", "run_trace", "trace", "wants_history"]


# ---- the commands (shaftgate.cli.GROUPS) ----

register(
    "permit history",
    "every permit issued, with what became of it (revoked, ended): from serve's record",
    "local",
    add_arguments=local_args(permit_history_args),
)(run_permit_history)
register(
    "trace",
    "one person's route from serve's record (R-ID-3): zones, times, working and dwell time",
    "local",
    add_arguments=local_args(trace_args),
)(run_trace)
