"""The gateway's permit book: permit issue, revoke, list (R-HOT-1, R-VIDEO-2)."""

import time

from shaftgate import render
from shaftgate.cli import UsageError, register
from shaftgate.cli.common import (
    _count,
    _done,
    _id_list,
    _positive_int,
    _render_done,
    parse_when,
)


def _permit_issue_args(p):
    p.add_argument("--permit-id", type=_positive_int, required=True)
    p.add_argument("--job-id", type=_positive_int, required=True)
    p.add_argument(
        "--measure-ref", required=True, help="the safety technical measure's reference (R-HOT-1)"
    )
    p.add_argument(
        "--start", default="now", metavar="WHEN", help="start of the window (default now)"
    )
    p.add_argument("--end", required=True, metavar="WHEN", help="end of the window, e.g. +4h")
    p.add_argument(
        "--workers", required=True, metavar="ID,ID,...", help="person ids allowed to do the work"
    )
    p.add_argument(
        "--fire-watcher",
        type=_count,
        default=0,
        metavar="PERSON",
        help="hot work needs one (R-HOT-2)",
    )
    p.add_argument("--hot-work", action="store_true", help="welding, cutting (R-HOT-1)")
    p.add_argument(
        "--key-maintenance",
        action="store_true",
        help="key-part maintenance under video (R-VIDEO-2)",
    )
    p.add_argument(
        "--key-measurement",
        action="store_true",
        help="key data measurement under video (R-VIDEO-2)",
    )


def _permit_prepare(args, session):
    # Everything that can be known without the gateway, before any port is opened.
    args.flags = (
        (1 if args.hot_work else 0)
        | (2 if args.key_maintenance else 0)
        | (4 if args.key_measurement else 0)
    )
    if not args.flags:
        raise UsageError(
            "say what the permit is for: --hot-work, --key-maintenance or --key-measurement"
        )
    if args.hot_work and not args.fire_watcher:
        raise UsageError(
            "--hot-work needs --fire-watcher PERSON: a dedicated person watches the site "
            "during and after hot work (R-HOT-2); nothing was sent"
        )
    now_s = int(time.time())
    args.start_s = parse_when(args.start, now_s, "--start")
    args.end_s = parse_when(args.end, now_s, "--end")
    if args.end_s <= args.start_s:
        raise UsageError(
            "--end %s is not after --start %s"
            % (render.zoned_time(args.end_s), render.zoned_time(args.start_s))
        )
    args.worker_ids = _id_list(args.workers, "--workers")


@register(
    "permit issue",
    "issue a permit to the gateway's permit book",
    "signed",
    _permit_issue_args,
    _render_done,
    _permit_prepare,
)
def _permit_issue(client, args, session):
    start_s = args.start_s
    end_s = args.end_s
    client.permit_issue(
        args.timeout,
        permit_id=args.permit_id,
        job_id=args.job_id,
        measure_ref=args.measure_ref,
        start_s=start_s,
        end_s=end_s,
        workers=args.worker_ids,
        fire_watcher=args.fire_watcher,
        flags=args.flags,
    )
    return _done(
        client,
        "permit %d issued for job %d, %s until %s"
        % (args.permit_id, args.job_id, render.zoned_time(start_s), render.zoned_time(end_s)),
        permit_id=args.permit_id,
        start_s=start_s,
        end_s=end_s,
    )


@register(
    "permit revoke",
    "revoke a permit",
    "signed",
    lambda p: p.add_argument("permit_id", type=_positive_int, metavar="PERMIT_ID"),
    _render_done,
)
def _permit_revoke(client, args, session):
    client.permit_revoke(args.permit_id, args.timeout)
    return _done(client, "permit %d revoked" % args.permit_id, permit_id=args.permit_id)


@register(
    "permit list", "the permits in the gateway's book", render=lambda d, a: render.render_permits(d)
)
def _permit_list(client, args, session):
    return client.permit_list(args.timeout)
