"""The CLI through serve: when serve runs (its socket answers), gateway commands go to it
instead of opening serial ports, so any number of dispatchers work at once and serve stays
the only host that acknowledges events. `--port` and `--gateway ID=PATH` still open the
port directly (commissioning a board, serve stopped).

An order (a signed command) through serve needs an operator named in the site file with
the authority for it, and a reason; serve stores both with the result. An order to several
gateways goes to all of them at once and ends with a table of who answered.
"""

import datetime
import getpass
import json
import os
import sys
import time
import zoneinfo
from pathlib import Path

from shaftgate import alarmtext, csvout, eventtext, i18n, minetime, render, roster_csv
from shaftgate.link.client import jsonable
from shaftgate.station.control import ControlError, ServeClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LINK = 0, 1, 2, 3
NO_ANSWER = ("NoAnswer", "NotConnected", "GatewayTimeout", "LinkError")


def mine_time(time_s, time_zone):
    # Operator-facing times are the mine's, wherever the CLI runs.
    when = datetime.datetime.fromtimestamp(time_s, zoneinfo.ZoneInfo(time_zone))
    return when.strftime("%Y-%m-%d %H:%M:%S %Z")


def serve_socket(args, home):
    """The socket of a running serve, or None: --serve, $SHAFTGATE_SERVE, HOME/serve.sock."""
    path = getattr(args, "serve", None) or os.environ.get("SHAFTGATE_SERVE")
    if path:
        return Path(path)
    default = Path(home) / "serve.sock"
    return default if default.exists() else None


def wants_direct(args):
    # A port named on the command line is a commissioning session on that port.
    if getattr(args, "direct", False) or args.port:
        return True
    return any("=" in g for g in (args.gateway or []))


def operator_of(args):
    return (
        getattr(args, "operator", None) or os.environ.get("SHAFTGATE_OPERATOR") or getpass.getuser()
    )


def _args_for_serve(args):
    out = {}
    for k, v in vars(args).items():
        if k in ("roster_entries", "serve", "home", "key_dir", "port", "gateway", "all"):
            continue
        try:
            json.dumps(v)
        except TypeError:
            continue
        out[k] = v
    return out


def run_through(command, args, out, path, usage_error):
    name = command.name
    targets = None if args.all or not args.gateway else list(args.gateway)
    if targets is None and not args.all and command.kind == "signed":
        raise usage_error("an order through serve names its gateways: --gateway ID or --all")
    with ServeClient(path) as serve:
        from shaftgate.cli import history

        try:
            if name == "events" and history.wants_history(args):
                return history.events(serve, args, out)
            if name == "occupants" and getattr(args, "at", None):
                return history.occupants_at(serve, args, out)
        except DeskError as e:
            raise usage_error(str(e)) from e
        if name == "events":
            return _events(serve, args, out, targets)
        request = {
            "op": "run",
            "command": name,
            "args": _args_for_serve(args),
            "targets": targets,
        }
        if name == "roster load":
            request["args"]["roster_csv"] = roster_csv.read_text(args.file)
        if command.kind == "signed":
            request["operator"] = operator_of(args)
            reason = getattr(args, "why", None)
            if not reason and isinstance(getattr(args, "reason", None), str):
                reason = args.reason
            if not reason and name == "evacuate":
                reason = "evacuation reason %s" % render.EVAC_REASON_NAMES.get(
                    args.reason, args.reason
                )
            request["reason"] = reason
        reply = serve.call(request)
    results = reply["results"]
    status = EXIT_OK
    for r in results:
        if "error" in r:
            kind = r["error"]["type"]
            status = max(status, EXIT_LINK if kind in NO_ANSWER else EXIT_FAILED)
    if args.json:
        out.write(json.dumps(jsonable(reply), ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return status
    blocks = [command.render(r["result"], args) for r in results if "result" in r]
    if blocks:
        out.write("\n\n".join(blocks) + "\n")
    if command.kind == "signed" or len(results) > 1 or any("error" in r for r in results):
        out.write(order_table(reply) + "\n")
    return status


def order_table(reply):
    results = reply["results"]
    lines = []
    if reply.get("order_id"):
        lines.append("order %d (%s) 指令记录:" % (reply["order_id"], reply["command"]))
    width = max([len(r["gateway_id"]) for r in results] + [7])
    zwidth = max([len(r.get("zone") or "") for r in results] + [4])
    lines.append("%-*s  %-*s  %s" % (width, "gateway", zwidth, "zone", "result 结果"))
    for r in results:
        if "result" in r:
            what = "done 已执行"
        elif r["error"]["type"] == "GatewayError":
            what = "REFUSED 拒绝: %s" % r["error"]["message"]
        elif r["error"]["type"] not in NO_ANSWER:
            what = "FAILED 失败 (%s): %s" % (r["error"]["type"], r["error"]["message"])
        else:
            what = "NO ANSWER 无应答: %s" % r["error"]["message"]
        lines.append("%-*s  %-*s  %s" % (width, r["gateway_id"], zwidth, r.get("zone") or "", what))
    failed = [r for r in results if "error" in r]
    silent = [r["gateway_id"] for r in failed if r["error"]["type"] in NO_ANSWER]
    refused = [r["gateway_id"] for r in failed if r["gateway_id"] not in silent]
    summary = "done at %d of %d" % (len(results) - len(failed), len(results))
    if refused:
        summary += "; REFUSED or failed at: %s" % ", ".join(refused)
    if silent:
        summary += "; NO ANSWER, not carried out at: %s" % ", ".join(silent)
    lines.append(summary)
    return "\n".join(lines)


def _events(serve, args, out, targets):
    if targets is None:
        targets = [r["gateway_id"] for r in serve.call({"op": "status"})["rows"]]
    if args.follow and len(targets) != 1:
        raise ControlError("--follow watches one gateway; name exactly one")
    data = {"events": []}
    for gid in targets:
        data = serve.call({"op": "events", "gateway": gid, "last": args.last})
        doc = {
            "gateway_id": gid,
            "catch_up": {
                "gateway_id": gid,
                "new_events": 0,
                "acked_to": None,
                "unacked": None,
                "gaps": [],
                "chain_anchored_at": None,
            },
            "recent": data["events"] if args.last else [],
            "ack_note": "read from serve's record (serve alone acknowledges)",
            "last": args.last,
        }
        if args.json:
            out.write(json.dumps(jsonable(doc), ensure_ascii=False, sort_keys=True) + "\n")
        else:
            out.write(render.render_events(doc) + "\n")
    out.flush()
    if not args.follow:
        return EXIT_OK
    last = data["events"][-1]["seq"] if data["events"] else 0
    while True:
        time.sleep(args.wait)
        fresh = serve.call({"op": "events", "gateway": targets[0], "last": 1000})["events"]
        for e in fresh:
            if e["seq"] > last:
                last = e["seq"]
                if args.json:
                    out.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
                else:
                    out.write(render.event_line(e) + "\n")
        out.flush()


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
    for o in orders:
        results = o["results"] or []
        ok = sum(1 for r in results if "error" not in r)
        print(
            "%5d %s %-10s %-14s %s  answered %d/%d  why: %s"
            % (
                o["id"],
                mine_time(o["received_s"], reply["mine"]["time_zone"]),
                o["operator"],
                o["command"],
                ",".join(o["targets"]),
                ok,
                len(results),
                o["reason"],
            )
        )
    return EXIT_OK


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
