"""A gateway command through serve's socket (the CLI's path while serve runs): its
imports are the few the command needs, since a dispatcher's `shaftgate status --json`
through serve is a whole process start (docs/serve.md#figures: <= 100 ms)."""

import getpass
import io
import json
import os
import time
from pathlib import Path

from shaftgate.station.control_client import ControlError, ServeClient

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LINK = 0, 1, 2, 3


NO_ANSWER = ("NoAnswer", "NotConnected", "GatewayTimeout", "LinkError")


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
        if name in ("events", "occupants"):
            from shaftgate.cli import history
            from shaftgate.cli.station import DeskError

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
            from shaftgate import roster_csv

            text = roster_csv.read_text(args.file)
            # Checked here as well as in serve: the problems in this reader's language, and
            # nothing sent for a file with a fault.
            roster_csv.parse_roster(io.StringIO(text, newline=""), str(args.file))
            request["args"]["roster_csv"] = text
        if command.kind == "signed":
            request["operator"] = operator_of(args)
            reason = getattr(args, "why", None)
            if not reason and isinstance(getattr(args, "reason", None), str):
                reason = args.reason
            if not reason and name == "evacuate":
                from shaftgate import render

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
        # serve's reply is JSON already: nothing to convert (link.client.jsonable)
        out.write(json.dumps(reply, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        return status
    blocks = [command.render(r["result"], args) for r in results if "result" in r]
    if blocks:
        out.write("\n\n".join(blocks) + "\n")
    if command.kind == "signed" or len(results) > 1 or any("error" in r for r in results):
        out.write(order_table(reply) + "\n")
    return status


def order_table(reply):
    # imported here, not at the top: a status through serve stays a quick process start
    from shaftgate.i18n import t

    results = reply["results"]
    lines = []
    if reply.get("order_id"):
        lines.append(t("ot_heading", order=reply["order_id"], command=reply["command"]))
    width = max([len(r["gateway_id"]) for r in results] + [7])
    zwidth = max([len(r.get("zone") or "") for r in results] + [4])
    lines.append("%-*s  %-*s  %s" % (width, "gateway", zwidth, "zone", "result 结果"))
    for r in results:
        if "result" in r:
            what = "done 已执行"
            lines.append(
                "%-*s  %-*s  %s" % (width, r["gateway_id"], zwidth, r.get("zone") or "", what)
            )
            continue
        # imported only for a failure: a status through serve stays a quick process start
        from shaftgate import refusaltext

        said = refusaltext.stored(r["error"])
        if r["error"]["type"] == "GatewayError":
            what = "REFUSED 拒绝: %s" % said
        elif r["error"]["type"] not in NO_ANSWER:
            what = "FAILED 失败 (%s): %s" % (r["error"]["type"], said)
        else:
            what = "NO ANSWER 无应答: %s" % said
        lines.append("%-*s  %-*s  %s" % (width, r["gateway_id"], zwidth, r.get("zone") or "", what))
    failed = [r for r in results if "error" in r]
    silent = [r["gateway_id"] for r in failed if r["error"]["type"] in NO_ANSWER]
    refused = [r["gateway_id"] for r in failed if r["gateway_id"] not in silent]
    summary = t("ot_done", ok=len(results) - len(failed), n=len(results))
    if refused:
        summary += t("ot_refused", ids=", ".join(refused))
    if silent:
        summary += t("ot_silent", ids=", ".join(silent))
    lines.append(summary)
    return "\n".join(lines)


def _events(serve, args, out, targets):
    # Read from serve's record, never acknowledged: serve is the only acking host.
    from shaftgate import render

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
            out.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
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
