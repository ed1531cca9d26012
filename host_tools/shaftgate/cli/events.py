"""`shaftgate events`: the gateway's log into this host's record, or serve's record while it runs."""

import json

from shaftgate import render
from shaftgate.cli import UsageError, _timeout, register
from shaftgate.cli import history as history_cli
from shaftgate.cli.common import (
    _count,
)
from shaftgate.link.client import is_own_ack, jsonable


def _events_args(p):
    history_cli.history_args(p, events=True)
    p.add_argument("--follow", action="store_true", help="keep watching; new events as they come")
    p.add_argument(
        "--last",
        type=_count,
        default=20,
        metavar="N",
        help="show the last N events held (default 20)",
    )
    p.add_argument(
        "--no-ack",
        action="store_true",
        help="do not acknowledge (the gateway keeps the events for the record-keeping host)",
    )
    p.add_argument(
        "--accept-gap",
        action="store_true",
        help="carry on past missing events, recording the gap (only after checking why)",
    )
    p.add_argument(
        "--wait",
        type=_timeout,
        default=1.0,
        metavar="SECONDS",
        help="--follow: check at least this often",
    )


@register(
    "events",
    "fetch new events into this host's record (acknowledged if a key is present) and show the latest",
    add_arguments=_events_args,
    render=lambda d, a: render.render_events(d),
)
def _events(client, args, session):
    if history_cli.wants_history(args):
        raise UsageError(
            "--since/--until/--zone/--kind/--person/--csv read serve's record: serve is not "
            "running here (start it, or give --serve SOCKET)"
        )
    gid = client.gateway_id
    store = session.event_store(gid)
    ack = not args.no_ack
    note = None
    if ack:
        if session.keystore.has_key(gid):
            session.load_key(client)
        else:
            ack = False
            note = "not acknowledged: no key for %s on this host" % gid
    result = client.catch_up(store, ack=ack, accept_gap=args.accept_gap, timeout_s=args.timeout)
    data = {
        "gateway_id": gid,
        "catch_up": result.to_json(),
        "recent": store.tail(args.last) if args.last else [],
        "ack_note": note,
        "last": args.last,
    }
    if not args.follow:
        return data
    out = session.out
    if args.json:
        # JSON Lines: the catch-up document, then one event a line.
        out.write(json.dumps(jsonable(data), ensure_ascii=False, sort_keys=True) + "\n")
    else:
        out.write(render.render_events(data) + "\n")
    out.flush()
    while True:
        client.wait_for_events(args.wait)
        result = client.catch_up(
            store, ack=False, accept_gap=args.accept_gap, timeout_s=args.timeout
        )
        # Every ack is itself logged (a COMMAND event): acking only our own acks' events
        # would wake us again at once, for ever.
        if ack and any(not is_own_ack(e) for e in result.events):
            client.ack(result.events[-1]["seq"], args.timeout)
        # A gap (only with --accept-gap) comes before the events that follow it.
        for first, last in result.gaps:
            if args.json:
                out.write(json.dumps({"gap": [first, last]}) + "\n")
            else:
                out.write("GAP: events %d..%d are not held on this host\n" % (first, last))
        for e in result.events:
            if args.json:
                out.write(json.dumps(jsonable(e), ensure_ascii=False, sort_keys=True) + "\n")
            else:
                out.write(render.event_line(e) + "\n")
        out.flush()
