"""The CLI through serve: when serve runs (its socket answers), gateway commands go to it
instead of opening serial ports, so any number of dispatchers work at once and serve stays
the only host that acknowledges events. `--port` and `--gateway ID=PATH` still open the
port directly (commissioning a board, serve stopped).

An order (a signed command) through serve needs an operator named in the site file with
the authority for it, and a reason; serve stores both with the result. An order to several
gateways goes to all of them at once and ends with a table of who answered.
"""

import datetime
import json
import sys
import time
import zoneinfo
from pathlib import Path

from shaftgate import alarmtext, csvout, eventtext, i18n, minetime, refusaltext, render
from shaftgate.cli import register
from shaftgate.station.control import ControlError, ServeClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LINK = 0, 1, 2, 3


def mine_time(time_s, time_zone):
    # Operator-facing times are the mine's, wherever the CLI runs.
    when = datetime.datetime.fromtimestamp(time_s, zoneinfo.ZoneInfo(time_zone))
    return when.strftime("%Y-%m-%d %H:%M:%S %Z")


from shaftgate.cli.through import (  # noqa: E402  (there since the CLI was split; watch, history use them)
    NO_ANSWER,
    operator_of,
    order_table,
    serve_socket,
)

# ---- commands of their own ----


def serve_args(p):
    from shaftgate.station import serve

    serve.add_arguments(p)


def run_serve(args):
    from shaftgate.station import serve

    return serve.run(args)


def _client(args):
    from shaftgate.link.keystore import shaftgate_home

    home = Path(args.home) if getattr(args, "home", None) else shaftgate_home()
    path = serve_socket(args, home)
    if path is None:
        raise ControlError(i18n.t("err_no_serve"))
    return ServeClient(path)


def adopt_mine(reply):
    # The mine's time zone from serve when no site file told us (minetime.set_zone).
    mine = reply.get("mine") or {}
    if minetime.zone_name() is None and mine.get("time_zone"):
        minetime.set_zone(mine["time_zone"])


def people_from(serve):
    reply = serve.call({"op": "roster"})
    adopt_mine(reply)
    return eventtext.People(reply["roster"])


def when_arg(text, option, now_s=None):
    value = minetime.parse(text, time.time() if now_s is None else now_s)
    if value is None:
        raise DeskError(i18n.t("err_bad_time", option=option, text=text))
    return value


class DeskError(Exception):
    """Bad input to a desk command: nothing was asked of serve (exit 2)."""


def say_error(text):
    print(i18n.t("err_prefix", text=text), file=sys.stderr)


def alarms_args(p):
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.add_argument(
        "--history",
        "--past",
        action="store_true",
        help="open and past alarms (default: the open ones only) 含历史报警",
    )
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="CLASS",
        help="only this class (repeatable): %s" % ", ".join(sorted(i18n.ALARM_CLASSES)),
    )
    p.add_argument("--zone", metavar="ZONE", help="only this zone or gateway")
    p.add_argument("--since", metavar="WHEN", help="from this time: 2026-12-04 08:00, or 8h (ago)")
    p.add_argument("--until", metavar="WHEN", help="up to this time")
    g = p.add_mutually_exclusive_group()
    for flag, text in (
        ("--open", "not cleared yet"),
        ("--unacked", "open and nobody acknowledged them"),
        ("--acked", "acknowledged"),
        ("--cleared", "cleared"),
    ):
        g.add_argument(flag, action="store_true", help=text)
    p.add_argument("--last", type=int, default=500, metavar="N", help="at most N (default 500)")
    p.add_argument("--csv", metavar="FILE", help="also write them to FILE (opens in Excel)")


def _class_of(text):
    word = text.strip()
    if word in i18n.ALARM_CLASSES:
        return word
    for key, (en, zh) in i18n.ALARM_CLASSES.items():
        if word.lower() == en.lower() or word == zh:
            return key
    raise DeskError(
        i18n.t("err_bad_class", text=text, classes=", ".join(sorted(i18n.ALARM_CLASSES)))
    )


def alarms_request(args):
    state = next((s for s in ("open", "unacked", "acked", "cleared") if getattr(args, s)), None)
    history = args.history or bool(
        state or args.since or args.until or args.classes or args.zone or args.csv
    )
    if not 1 <= args.last <= 100000:
        raise DeskError("--last: 1..100000")
    request = {"op": "alarms", "history": history, "limit": args.last}
    if history:
        request["state"] = state
        if args.classes:
            request["kinds"] = [_class_of(c) for c in args.classes]
        if args.zone:
            request["zone"] = args.zone
        if args.since:
            request["since_s"] = when_arg(args.since, "--since")
        if args.until:
            request["until_s"] = when_arg(args.until, "--until")
    return request


def run_alarms(args):
    try:
        request = alarms_request(args)
    except DeskError as e:
        say_error(e)
        return EXIT_USAGE
    try:
        with _client(args) as c:
            people = people_from(c)
            reply = c.call(request)
    except (ControlError, OSError) as e:
        return _serve_failed(args, e)
    alarms = reply["alarms"]
    if not request["history"]:
        alarms = sorted(alarms, key=lambda a: -a["raised_s"])
    if args.csv:
        try:
            n = csvout.write(args.csv, alarmtext.headers(), alarmtext.rows(alarms, people))
        except OSError as e:
            say_error(i18n.t("err_csv_write", path=args.csv, error=e))
            return EXIT_FAILED
        print(i18n.t("csv_written", n=n, path=args.csv), file=sys.stderr)
    if args.json:
        print(json.dumps(alarms, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not alarms:
        print(i18n.t("no_alarms_match" if request["history"] else "no_alarms"))
        return EXIT_OK
    print(alarmtext.alarms_table(alarms, people))
    still = sum(1 for a in alarms if not a.get("cleared_s"))
    print(i18n.t("alarm_count", n=len(alarms), open=still))
    return EXIT_OK


def _serve_failed(args, e):
    if getattr(args, "json", False):
        print(
            json.dumps({"error": {"type": type(e).__name__, "message": str(e)}}, ensure_ascii=False)
        )
    say_error(e)
    # serve unreachable: exit 3; serve answered that the request was wrong: exit 1.
    unreachable = isinstance(e, OSError) or str(e) == i18n.t("err_no_serve")
    return EXIT_LINK if unreachable else EXIT_FAILED


def alarm_ack_args(p):
    p.add_argument("key", metavar="KEY", help="the alarm's key, as `shaftgate alarms` lists it")
    p.add_argument(
        "--note",
        "--why",
        dest="note",
        required=True,
        help="what you checked or did (stored with your name and the time) 处理说明",
    )
    p.add_argument("--json", action="store_true", help="one JSON document")


def run_alarm_ack(args):
    note = args.note.strip()
    if not note or not note.isprintable():
        say_error("--note: say in printable words what was checked or done")
        return EXIT_USAGE
    try:
        with _client(args) as c:
            r = c.call(
                {
                    "op": "alarm-ack",
                    "key": args.key,
                    "operator": operator_of(args),
                    "reason": note,
                }
            )
    except (ControlError, OSError) as e:
        if getattr(args, "json", False):
            print(
                json.dumps(
                    {"error": {"type": type(e).__name__, "message": str(e)}}, ensure_ascii=False
                )
            )
        say_error(e)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(r, ensure_ascii=False))
        return EXIT_OK
    who = r.get("operator_name") or r["acked_by"]
    print(i18n.t("alarm_ack_done", key=r["key"], who=who, order=r["order_id"]))
    if not r.get("cleared"):
        print(i18n.t("alarm_still_open"))
    return EXIT_OK


def accept_gap_args(p):
    p.add_argument("gateway_id", metavar="GATEWAY", help="the gateway whose record has a gap")
    p.add_argument("--why", required=True, help="what was checked (recorded with the order)")


def run_accept_gap(args):
    try:
        with _client(args) as c:
            reply = c.call(
                {
                    "op": "accept-gap",
                    "gateway": args.gateway_id,
                    "operator": operator_of(args),
                    "reason": args.why,
                }
            )
    except (ControlError, OSError) as e:
        print("shaftgate: error: %s" % e, file=sys.stderr)
        return EXIT_FAILED
    r = reply["results"][0]
    if "error" in r:
        print(order_table(reply))
        return EXIT_LINK if r["error"]["type"] in NO_ANSWER else EXIT_FAILED
    gaps = r["result"]["gaps"]
    what = ", ".join("%d..%d" % tuple(g) for g in gaps) or "none found"
    print(
        "%s: recording goes on; events recorded as missing: %s (order %d)"
        % (args.gateway_id, what, reply["order_id"])
    )
    return EXIT_OK


def roster_show_args(p):
    p.add_argument("--gateway", metavar="ID", help="one gateway's roster (default: every one)")
    p.add_argument("--csv", metavar="FILE", help="also write it to FILE (opens in Excel)")
    p.add_argument("--json", action="store_true", help="one JSON document")


def run_roster_show(args):
    t = i18n.t
    request = {"op": "roster", "rows": True}
    if args.gateway:
        request["gateway"] = args.gateway
    try:
        with _client(args) as c:
            reply = c.call(request)
    except (ControlError, OSError) as e:
        return _serve_failed(args, e)
    adopt_mine(reply)
    rows = [
        (
            r["gateway_id"],
            r["tag_id"],
            r["person_id"],
            r["name"] or "",
            i18n.role_name(r["role"]),
            i18n.crew_name(r["crew"]),
        )
        for r in reply["rows"]
    ]
    keys = ("col_gateway", "col_tag", "col_person", "col_name", "col_role", "col_crew")
    headers = [t(k) for k in keys]
    if args.csv:
        n = csvout.write(args.csv, headers, rows)
        print(t("csv_written", n=n, path=args.csv), file=sys.stderr)
    if args.json:
        print(json.dumps(reply["rows"], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print(t("roster_empty"))
        return EXIT_OK
    print(render.table(headers, rows))
    print(t("roster_count", n=len({r[2] for r in rows}), gateways=len({r[0] for r in rows})))
    return EXIT_OK


def run_orders(args):
    try:
        with _client(args) as c:
            reply = c.call({"op": "orders", "last": args.last})
            orders = reply["orders"]
    except (ControlError, OSError) as e:
        print("shaftgate: error: %s" % e, file=sys.stderr)
        return EXIT_LINK
    if args.json:
        print(json.dumps(orders, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(orders_text(orders, reply["mine"]["time_zone"]))
    return EXIT_OK


def orders_text(orders, time_zone):
    """The audit of orders as a dispatcher reads it: one line per order (who, when, what,
    to which gateways, why, how many answered), then one line per gateway that did not
    carry it out, with the reason it gave or why there was no answer."""
    t = i18n.t
    if not orders:
        return t("orders_none")
    lines = []
    for o in orders:
        results = o["results"]
        if results is None:
            outcome = t("orders_in_progress")
        else:
            ok = sum(1 for r in results if "error" not in r)
            outcome = t("orders_answered", ok=ok, n=len(results))
        lines.append(
            "%5d %s %-10s %-14s %s  %s  %s"
            % (
                o["id"],
                mine_time(o["received_s"], time_zone),
                o["operator"],
                o["command"],
                ",".join(o["targets"]),
                outcome,
                t("orders_why", why=o["reason"]),
            )
        )
        for r in results or []:
            err = r.get("error")
            if err is not None:
                where = r.get("gateway_id") or r.get("alarm") or "?"
                zone = r.get("zone")
                if zone:
                    where = "%s (%s)" % (where, zone)
                lines.append(
                    "      %s"
                    % t(
                        "orders_failed",
                        where=where,
                        kind=refusaltext.kind(err),
                        message=refusaltext.stored(err),
                    )
                )
    return "\n".join(lines)


def orders_args(p):
    p.add_argument("--last", type=int, default=20, metavar="N")
    p.add_argument("--json", action="store_true")


def local_args(extra):
    def add(p):
        import argparse

        s = argparse.SUPPRESS
        p.add_argument("--home", metavar="DIR", default=s, help="shaftgate home")
        p.add_argument("--serve", metavar="SOCKET", default=s, help="serve's socket")
        p.add_argument(
            "--operator", metavar="ID", default=s, help="you, as the site file names you"
        )
        from shaftgate.cli import add_lang

        add_lang(p)
        extra(p)

    return add


# ---- the commands (shaftgate.cli.GROUPS) ----


def _watch_args(p):
    from shaftgate.cli import watch

    watch.watch_args(p)


def _run_watch(args):
    # Imported here: rich is needed by watch alone.
    from shaftgate.cli import watch

    return watch.run_watch(args)


def _report_args(p):
    from shaftgate.cli import report

    report.report_args(p)


def _run_report(args):
    # Imported here: matplotlib, Jinja2 and WeasyPrint are for the report alone.
    from shaftgate.cli import report

    return report.run_report(args)


register(
    "serve",
    "the surface station: owns the gateway links, records, alarms, publishes (docs/serve.md)",
    "local",
    add_arguments=serve_args,
)(run_serve)
register(
    "alarms",
    "the active alarms, from serve",
    "local",
    add_arguments=local_args(alarms_args),
)(run_alarms)
register(
    "alarm ack",
    "acknowledge a latched alarm after checking it (an order, stored with the reason)",
    "local",
    add_arguments=local_args(alarm_ack_args),
)(run_alarm_ack)
register(
    "accept-gap",
    "through serve: record missing events as a gap and go on (after checking why, R-DATA-2)",
    "local",
    add_arguments=local_args(accept_gap_args),
)(run_accept_gap)
register(
    "watch",
    "every gateway live from serve: alarms on top (a: acknowledge), zones, latest events",
    "local",
    add_arguments=local_args(_watch_args),
)(_run_watch)


register(
    "report shift",
    "the shift report (R-CAP-10): zones against caps, violations, evacuations, gas, trend; HTML and PDF",
    "local",
    add_arguments=local_args(_report_args),
)(_run_report)
register(
    "roster show",
    "the roster serve loaded into each gateway, with names, roles and crews",
    "local",
    add_arguments=local_args(roster_show_args),
)(run_roster_show)


register(
    "orders",
    "the order audit: who ordered what, why, and which gateways answered",
    "local",
    add_arguments=local_args(orders_args),
)(run_orders)
