"""Orders to a zone: evacuate and all-clear (R-EVAC), seal and unseal (R-SEAL-1), the temporary cap (R-CAP-9), the recount after a muster (R-CAP-11)."""

import time

from gateway.caps import MAX_OVERRIDE_S
from shaftgate import i18n, render
from shaftgate.cli import UsageError, register
from shaftgate.cli.common import (
    _by_arg,
    _cap,
    _count,
    _done,
    _gateway_now,
    _positive_int,
    _reason_arg,
    _render_done,
    evac_reason_code,
    parse_duration,
    parse_when,
)
from shaftgate.link.client import GatewayError


def _evacuate_args(p):
    _by_arg(p)
    p.add_argument("--drill", action="store_true", help="an evacuation drill (R-EVAC-3)")
    p.add_argument(
        "--reason",
        required=True,
        type=evac_reason_code,
        help="why: %s, or a code" % ", ".join(sorted(render.EVAC_REASON_NAMES.values())),
    )


@register(
    "evacuate",
    "order everyone out of the zone (R-EVAC-1/2), or start a drill",
    "signed",
    _evacuate_args,
    _render_done,
)
def _evacuate(client, args, session):
    client.evacuate(args.reason, args.drill, args.by, args.timeout)
    reason = render.EVAC_REASON_NAMES.get(args.reason, "code %d" % args.reason)
    what = "evacuation DRILL started" if args.drill else "EVACUATION ordered"
    who = " by person %d" % args.by if args.by else ""
    return _done(
        client, "%s%s, reason %s" % (what, who, reason), reason=reason, drill=args.drill, by=args.by
    )


@register("all-clear", "end the evacuation or drill in force", "signed", _by_arg, _render_done)
def _all_clear(client, args, session):
    client.all_clear(args.by, args.timeout)
    who = " by person %d" % args.by if args.by else ""
    return _done(client, "all clear given" + who, by=args.by)


@register(
    "seal",
    "seal the zone: cap zero, every entry alarms (R-SEAL-1)",
    "signed",
    _reason_arg,
    _render_done,
)
def _seal(client, args, session):
    client.seal(args.reason, args.timeout)
    return _done(client, "zone sealed", reason=args.reason)


@register("unseal", "lift the seal", "signed", _reason_arg, _render_done)
def _unseal(client, args, session):
    client.unseal(args.reason, args.timeout)
    return _done(client, "seal lifted", reason=args.reason)


def _cap_override_args(p):
    p.add_argument("cap", type=_cap, metavar="N", help="the temporary cap; 0 closes the zone")
    p.add_argument(
        "--until",
        required=True,
        metavar="WHEN",
        help="+4h from the gateway's clock (at most +%dd), or 2025-06-15T18:00"
        % (MAX_OVERRIDE_S // 86400),
    )
    p.add_argument("--reason", required=True, help="the approved rectification or job (R-CAP-9)")
    p.add_argument(
        "--below-count",
        action="store_true",
        help="set it even below the people inside now: they are over the cap at once (R-CAP-11)",
    )


def _cap_override_prepare(args, session):
    # A duration is checked against the gateway's own bound before any port is opened.
    args.until_s = parse_duration(args.until)
    if args.until_s is not None and not 0 < args.until_s <= MAX_OVERRIDE_S:
        raise UsageError(
            "--until %s: a temporary cap lasts more than 0 s and at most %d days (R-CAP-9)"
            % (args.until, MAX_OVERRIDE_S // 86400)
        )
    if args.until_s is None:
        parse_when(args.until, int(time.time()), "--until")  # a bad time: say so now


@register(
    "cap-override",
    "a temporary, time-limited cap (R-CAP-9)",
    "signed",
    _cap_override_args,
    _render_done,
    _cap_override_prepare,
)
def _cap_override(client, args, session):
    # Relative to the gateway's clock: that is the clock its 7-day bound is checked on,
    # and a host clock a second ahead would turn +0h into 1 s and refuse +7d.
    now_s = _gateway_now(client)
    expiry_s = parse_when(args.until, now_s, "--until")
    if not 0 < expiry_s - now_s <= MAX_OVERRIDE_S:
        raise UsageError(
            "--until %s is not after the gateway's clock (%s) and within %d days of it; "
            "nothing was sent"
            % (render.zoned_time(expiry_s), render.zoned_time(now_s), MAX_OVERRIDE_S // 86400)
        )
    try:
        client.cap_override(args.cap, expiry_s, args.reason, args.timeout, args.below_count)
    except GatewayError as e:
        if e.field == "below_count":
            e.text += "; give --below-count if that is meant"
        raise
    return _done(
        client,
        "temporary cap %d until %s%s"
        % (
            args.cap,
            render.zoned_time(expiry_s),
            " (below the people inside: over the cap now)" if args.below_count else "",
        ),
        cap=args.cap,
        expiry_s=expiry_s,
        below_count=args.below_count,
    )


@register(
    "cap-override-clear",
    "end the temporary cap in force now; the configured cap returns (R-CAP-9)",
    "signed",
    _reason_arg,
    _render_done,
)
def _cap_override_clear(client, args, session):
    client.cap_override_clear(args.reason, args.timeout)
    return _done(client, "temporary cap cleared: the configured cap is back", reason=args.reason)


def _recount_args(p):
    _by_arg(p)
    p.add_argument("found", type=_count, metavar="FOUND", help="the people the muster found inside")
    p.add_argument(
        "--was",
        required=True,
        type=_count,
        metavar="N",
        help="the count the gateway showed when they were counted (`shaftgate status`); "
        "refused if it has moved since: people crossed meanwhile",
    )
    p.add_argument(
        "--counted-by",
        required=True,
        type=_positive_int,
        metavar="PERSON_ID",
        help="who counted the people in the zone: in the gateway's roster with a valid "
        "certificate (R-ID-4), recorded with the recount",
    )


def _recount_prepare(args, session):
    # A muster counts one zone: the same figures sent to several gateways would be a wrong
    # order wherever they happened to fit. (Through serve, serve checks its targets:
    # station/control.py ONE_GATEWAY.)
    if not hasattr(args, "all"):
        return
    named = (1 if args.port else 0) + len(args.gateway or [])
    if args.all or named != 1:
        raise UsageError(
            "recount: a muster counts one zone; name exactly one gateway (--gateway ID or "
            "--port PATH); nothing was sent"
        )


@register(
    "recount",
    "set the count a physical count (muster) found: clears a said excess, or adds people "
    "found uncounted; never below those known by name (R-CAP-11)",
    "signed",
    _recount_args,
    _render_done,
    _recount_prepare,
)
def _recount(client, args, session):
    body = client.recount(args.found, args.was, args.counted_by, args.by, args.timeout)
    before, after = body["before"], body["after"]
    who = " by person %d" % args.by if args.by else ""
    return _done(
        client,
        i18n.t(
            "done_recount_up" if after > before else "done_recount_down",
            before=before,
            after=after,
            counter=args.counted_by,
        )
        + who,
        before=before,
        after=after,
        counted_by=args.counted_by,
        by=args.by,
    )
