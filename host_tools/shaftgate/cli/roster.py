"""`shaftgate roster load`: the roster from a CSV file, checked line by line before anything is sent."""

from shaftgate import roster_csv
from shaftgate.cli import register
from shaftgate.cli.common import (
    _done,
    _render_done,
)


def _roster_args(p):
    p.add_argument("file", metavar="FILE.csv", help="columns: " + ", ".join(roster_csv.COLUMNS))
    p.add_argument(
        "--utc-offset-min",
        type=int,
        default=None,
        metavar="MINUTES",
        help="the mine's UTC offset for certificate dates (default: the gateway's setting)",
    )


def _roster_prepare(args, session):
    args.roster_entries = roster_csv.read_roster(args.file)


@register(
    "roster load",
    "load the roster from a CSV file; every line is checked before anything is sent",
    "signed",
    _roster_args,
    _render_done,
    _roster_prepare,
)
def _roster_load(client, args, session):
    entries = args.roster_entries
    offset = args.utc_offset_min
    if offset is None:
        offset = client.config_get(["utc_offset_min"], args.timeout)["utc_offset_min"]
    parts = roster_csv.chunks(roster_csv.wire_entries(entries, offset))
    result = client.roster_load(parts, timeout_s=args.timeout)
    roster_csv.save_names(session.roster_copy(client.gateway_id), client.gateway_id, entries)
    return _done(
        client,
        "roster of %d people loaded in %d part%s (load %d)"
        % (
            result["entries"],
            result["parts"],
            "" if result["parts"] == 1 else "s",
            result["load_id"],
        ),
        **{k: v for k, v in result.items() if k != "gateway_id"},
    )
