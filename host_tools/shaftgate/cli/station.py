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

from shaftgate import render
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
        if name == "events":
            return _events(serve, args, out, targets)
        request = {
            "op": "run",
            "command": name,
            "args": _args_for_serve(args),
            "targets": targets,
        }
        if name == "roster load":
            request["args"]["roster_csv"] = Path(args.file).read_text(encoding="utf-8-sig")
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
            "recent": data["events"],
            "ack_note": "read from serve's record (serve alone acknowledges)",
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
        raise ControlError("serve is not running (no socket; give --serve PATH)")
    return ServeClient(path)


def alarms_args(p):
    p.add_argument("--json", action="store_true")


def run_alarms(args):
    try:
        with _client(args) as c:
            reply = c.call({"op": "alarms"})
            alarms = reply["alarms"]
    except (ControlError, OSError) as e:
        print("shaftgate: error: %s" % e, file=sys.stderr)
        return EXIT_LINK
    if args.json:
        print(json.dumps(alarms, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not alarms:
        print("no active alarms 无报警")
    for a in alarms:
        when = mine_time(a["raised_s"], reply["mine"]["time_zone"])
        print("%s  %-28s %s" % (when, a["key"], a["text"]))
    return EXIT_OK


def alarm_ack_args(p):
    p.add_argument("key", metavar="KEY", help="the alarm's key, as `shaftgate alarms` lists it")
    p.add_argument("--why", required=True, help="what was checked (recorded with the order)")


def run_alarm_ack(args):
    try:
        with _client(args) as c:
            r = c.call(
                {
                    "op": "alarm-ack",
                    "key": args.key,
                    "operator": operator_of(args),
                    "reason": args.why,
                }
            )
    except (ControlError, OSError) as e:
        print("shaftgate: error: %s" % e, file=sys.stderr)
        return EXIT_FAILED
    print("alarm %s cleared (order %d)" % (r["cleared"], r["order_id"]))
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
        extra(p)

    return add
