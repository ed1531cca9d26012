"""Commands about one gateway's own state: status, occupants, time-set, config get/set."""

import json
import time

from shaftgate.cli import UsageError, register
from shaftgate.cli.common import (
    _done,
    _render_done,
    _setting,
    config_value,
    parse_when,
)

# The renderers, the roster and the link's errors are imported where used: `status --json`
# through serve is a whole process start and needs none of them (cli/__init__.py).


def _render(name):
    def render_with(data, args):
        from shaftgate import render

        return getattr(render, name)(data)

    return render_with


@register(
    "status",
    "the gateway's state: people, cap, interlocks, gas, video",
    render=_render("render_status"),
)
def _status(client, args, session):
    return {
        "gateway_id": client.gateway_id,
        "gateway": client.identity,
        "status": client.status(args.timeout),
    }


def _occupants_render(data, args):
    from shaftgate import render

    return render.render_occupants(data, data.get("now_s") or int(time.time()))


def _occupants_args(p):
    p.add_argument(
        "--at",
        metavar="WHEN",
        help="who was where at that time, from serve's record (e.g. 2026-12-04 03:00) 历史时刻",
    )
    p.add_argument("--csv", metavar="FILE", help="--at: also write the rows to FILE (Excel)")


@register(
    "occupants",
    "who is in the zone now (or --at a past time, from serve's record), with names",
    add_arguments=_occupants_args,
    render=_occupants_render,
)
def _occupants(client, args, session):
    if getattr(args, "at", None):
        raise UsageError("occupants --at reads serve's record: serve is not running here")
    from shaftgate import roster_csv

    names = roster_csv.load_names(session.roster_copy(client.gateway_id))
    data = client.occupants(names, args.timeout)
    data["now_s"] = client.identity["now_s"]
    return data


def _time_set_args(p):
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--now", action="store_true", help="this host's clock")
    g.add_argument("--time", metavar="WHEN", help="an ISO time, e.g. 2025-06-15T12:00:00+08:00")
    p.add_argument(
        "--backwards",
        action="store_true",
        help="allow moving the gateway's clock back (more than 2 s): the record's times "
        "then run backwards, and the step is logged (R-DATA-2)",
    )


@register("time-set", "set the gateway's wall clock", "signed", _time_set_args, _render_done)
def _time_set(client, args, session):
    from gateway.caps import clock_known
    from shaftgate import render
    from shaftgate.link.client import GatewayError

    now_s = int(time.time())
    time_s = now_s if args.now else parse_when(args.time, now_s, "--time")
    was_s = client.identity.get("now_s", 0) if client.identity else 0
    try:
        client.time_set(time_s, args.timeout, args.backwards)
    except GatewayError as e:
        if e.field == "backwards":
            e.text += (
                "; the gateway's clock read %s, %s is %s earlier: give --backwards to move "
                "it back on purpose"
                % (
                    render.zoned_time(was_s),
                    render.zoned_time(time_s),
                    render.duration(was_s - time_s),
                )
            )
        raise
    text = "clock set to %s" % render.zoned_time(time_s)
    if clock_known(was_s):
        step = time_s - was_s
        if step < 0 and args.backwards:
            text += " - MOVED BACK %s from %s (logged)" % (
                render.duration(-step),
                render.zoned_time(was_s),
            )
        else:
            text += " (was %s)" % render.zoned_time(was_s)
    return _done(client, text, time_s=time_s, was_s=was_s or None)


@register(
    "config get",
    "show gateway settings",
    add_arguments=lambda p: p.add_argument("keys", nargs="*", metavar="KEY"),
    render=_render("render_config"),
)
def _config_get(client, args, session):
    settings = client.config_get(args.keys, args.timeout)
    missing = [k for k in args.keys if k not in settings]
    if missing:
        known = client.config_get(None, args.timeout)
        raise UsageError(
            "no setting %s on %s; its settings are: %s"
            % (", ".join(missing), client.gateway_id, ", ".join(sorted(known)))
        )
    return {"gateway_id": client.gateway_id, "settings": settings}


@register(
    "config set",
    "change settings; all apply together or none does",
    "signed",
    lambda p: p.add_argument("settings", nargs="+", type=_setting, metavar="KEY=VALUE"),
    _render_done,
)
def _config_set(client, args, session):
    from gatewire.errors import ProtocolError

    changes = {k: config_value(v) for k, v in args.settings}
    try:
        client.config_set(changes, args.timeout)
    except ProtocolError as e:
        # the message schema's complaint, first line only: which field, what was wrong
        raise UsageError("config set: %s" % str(e).strip().splitlines()[0]) from None
    return _done(
        client,
        "settings changed: "
        + ", ".join("%s=%s" % (k, json.dumps(v, ensure_ascii=False)) for k, v in changes.items()),
        changes=changes,
    )
