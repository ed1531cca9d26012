"""shaftgate: the dispatch command line. A thin shell over shaftgate.link.client: it parses
arguments, picks the gateways, prints what the library returns (a table, or with --json
the library's own data as one JSON document) and turns errors into one line on stderr
and an exit code. Commands register themselves in COMMANDS through register(), so other
modules (the simulator, the demo) add theirs the same way.
"""

import argparse
import datetime
import json
import math
import re
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from gateway.caps import MAX_OVERRIDE_S, clock_known
from gatewire.errors import ProtocolError
from shaftgate import i18n, minetime, render, roster_csv, sim
from shaftgate.cli import deploy
from shaftgate.cli import history as history_cli
from shaftgate.cli import station as station_cli
from shaftgate.link.client import (
    DEFAULT_TIMEOUT_S,
    BadReply,
    EventLogError,
    GatewayClient,
    GatewayError,
    JsonlEventStore,
    KeyRequired,
    WrongGateway,
    is_own_ack,
    jsonable,
)
from shaftgate.link.keystore import Keystore, KeystoreError, check_gateway_id, shaftgate_home
from shaftgate.link.transport import LinkError, SerialTransport
from shaftgate.sim import demo
from shaftgate.station.control import ControlError

EXIT_OK = 0
EXIT_FAILED = 1  # a gateway refused, its event log is not whole, or a local file failed
EXIT_USAGE = 2  # bad arguments, input file or key: nothing was sent
EXIT_LINK = 3  # no usable answer: port, timeout, another gateway on the port

EPILOG = """\
gateways:
  --port PATH            the gateway on this serial port (its id comes from its hello)
  --gateway ID=PATH      this gateway on this port; repeat for several
  --gateway ID           a gateway named in $SHAFTGATE_HOME/gateways.toml:
                           [gateways]
                           shaft-1 = "/dev/ttyACM0"
  --all                  every gateway in gateways.toml
  With several gateways a command runs on each in turn; one failing does not stop
  the others (an evacuation order reaches every zone that answers).

files (under $SHAFTGATE_HOME, default ~/.config/shaftgate):
  keys/ID.key, keys/ID.counter, events/ID.jsonl, rosters/ID.json   (docs/keys.md)

exit status:
  0 done   1 a gateway refused, its event log is not whole, or a local file failed
  2 bad arguments, input or key: nothing was sent   3 no usable answer from a gateway
"""


class UsageError(Exception):
    pass


class Command(NamedTuple):
    name: str  # "status", or "group sub" for a nested command ("permit issue")
    help: str
    run: Callable
    # "read": run(client, args, session) -> data; "signed": the same, with the key loaded;
    # "local": run(args) -> exit status, no gateway involved.
    kind: str
    add_arguments: Callable | None
    render: Callable | None  # render(data, args) -> text
    # prepare(args, session): checks input before any port is opened (e.g. a roster file)
    prepare: Callable | None


COMMANDS: dict[str, Command] = {}
GROUP_HELP = {
    "permit": "hot-work and key-work permits (R-HOT-1, R-VIDEO-2)",
    "roster": "the roster of people and tags (R-ID-1, R-ID-4)",
    "config": "gateway settings",
    "key": "gateway keys (docs/keys.md)",
    "alarm": "serve's alarms",
    "report": "reports from serve's record (R-CAP-10)",
}


def register(name, help, kind="read", add_arguments=None, render=None, prepare=None):
    if kind not in ("read", "signed", "local"):
        raise ValueError("command kind must be read, signed or local, got %r" % kind)

    def wrap(run):
        COMMANDS[name] = Command(name, help, run, kind, add_arguments, render, prepare)
        return run

    return wrap


# ---- input parsing ----

_UNITS_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text):
    # "+4h" / "90m" / "2d" -> seconds; None if text is not a duration.
    m = re.fullmatch(r"\+?(\d+)\s*(s|m|min|h|d)", text.strip().lower())
    return int(m.group(1)) * _UNITS_S[m.group(2)] if m else None


def parse_when(text, now_s, option):
    # "now", "+4h" / "90m" / "2d" from now, or an ISO time (the mine's zone if no offset).
    t = text.strip().lower()
    if t == "now":
        return now_s
    ahead = parse_duration(t)
    if ahead is not None:
        return now_s + ahead
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            "%s: %r is not a time; expected now, +4h, 90m, 2d, 2025-06-15T18:00 or "
            "2025-06-15T18:00+08:00" % (option, text)
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=minetime.zone())  # the mine's time zone (site file)
    return int(when.timestamp())


def _positive_int(text):
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError("%r is not a whole number above 0" % text)
    return int(text)


def _timeout(text):
    # nan never times out, inf and 1e10 overflow pyserial, 0 and below never wait.
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number of seconds" % text) from None
    if not math.isfinite(value) or not TIMEOUT_MIN_S <= value <= TIMEOUT_MAX_S:
        raise argparse.ArgumentTypeError(
            "%r: a timeout is %g to %g seconds" % (text, TIMEOUT_MIN_S, TIMEOUT_MAX_S)
        )
    return value


TIMEOUT_MIN_S, TIMEOUT_MAX_S = 0.05, 300.0


def _cap(text):
    if text.isascii() and text.lstrip("-").isdigit() and text.startswith("-"):
        raise argparse.ArgumentTypeError(
            "%r: a cap is a number of people and cannot be negative; 0 closes the zone" % text
        )
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            "%r is not a cap: give the number of people allowed in, e.g. 8" % text
        )
    return int(text)


def _count(text):
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    return int(text)


def evac_reason_code(text):
    names = {v: k for k, v in render.EVAC_REASON_NAMES.items()}
    t = text.strip().lower().replace("_", "-")
    if t in names:
        return names[t]
    if t.isascii() and t.isdigit() and int(t) <= 255:
        return int(t)
    raise argparse.ArgumentTypeError(
        "%r is not an evacuation reason; expected one of %s, or a code 0..255"
        % (text, ", ".join(sorted(names)))
    )


def config_value(text):
    # JSON when it parses (480, true, [[0,0],[480,1]], "quoted"), else the text as is.
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, float | dict) or value is None:
        raise UsageError("%r: settings are ints, true/false, text or lists" % text)
    if type(value) is int and not -(2**31) <= value < 2**31:
        raise UsageError("%r: out of range for any setting (a 32-bit whole number)" % text)
    if isinstance(value, str) and not value.isprintable():
        raise UsageError("%r: control characters (escape codes, NUL) are not allowed" % text)
    return value


def _setting(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError("%r is not KEY=VALUE" % text)
    return key.strip(), value.strip()


# ---- sessions and gateways ----


class Session:
    def __init__(self, args):
        self.args = args
        self.out = sys.stdout
        self.home = Path(args.home) if args.home else shaftgate_home()
        self.keystore = Keystore(args.key_dir if args.key_dir else self.home / "keys")

    def event_store(self, gateway_id):
        return JsonlEventStore(self.home / "events" / ("%s.jsonl" % check_gateway_id(gateway_id)))

    def roster_copy(self, gateway_id):
        return self.home / "rosters" / ("%s.json" % check_gateway_id(gateway_id))

    def load_key(self, client):
        gid = client.gateway_id
        client.use_key(self.keystore.load(gid), self.keystore.counter_store(gid))

    def sites(self):
        path = self.home / "gateways.toml"
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UsageError("cannot read %s: %s" % (path, e)) from e
        table = doc.get("gateways", {})
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise UsageError('%s: expected [gateways] with lines like id = "/dev/ttyACM0"' % path)
        return table

    def targets(self):
        # -> [(gateway id or None, port path)]
        args = self.args
        out = []
        if args.port:
            out.append((None, args.port))
        named = []
        for spec in args.gateway or []:
            gid, sep, port = spec.partition("=")
            check_gateway_id(gid)
            if sep:
                out.append((gid, port))
            else:
                named.append(gid)
        if named or args.all:
            sites = self.sites()
            if args.all:
                if not sites:
                    raise UsageError(
                        "--all: no gateways listed in %s" % (self.home / "gateways.toml")
                    )
                named = list(sites) + [g for g in named if g not in sites]
            for gid in named:
                if gid not in sites:
                    raise UsageError(
                        "gateway %s is not in %s; give its port as --gateway %s=PATH"
                        % (gid, self.home / "gateways.toml", gid)
                    )
                out.append((gid, sites[gid]))
        if not out:
            sites = self.sites()
            if len(sites) == 1:
                out = list(sites.items())
            else:
                raise UsageError("which gateway? give --port PATH, --gateway ID[=PATH] or --all")
        return out


def _exit_status(e):
    if isinstance(e, GatewayError | EventLogError | OSError):
        return EXIT_FAILED
    if isinstance(e, LinkError | WrongGateway | BadReply):
        return EXIT_LINK
    return EXIT_USAGE


# Errors a dispatcher can act on; anything else is a bug and keeps its traceback.
CLI_ERRORS = (
    GatewayError,
    EventLogError,
    LinkError,
    WrongGateway,
    BadReply,
    UsageError,
    KeystoreError,
    KeyRequired,
    roster_csv.RosterError,
    ProtocolError,
    OSError,  # the event record or a roster copy could not be written: disk, permissions
)


def _run_on(command, args, session, gateway_id, port):
    key = None
    if command.kind == "signed" and gateway_id is not None:
        key = session.keystore.load(gateway_id)  # a key problem stops us before the port
    transport = SerialTransport(port)
    try:
        client = GatewayClient(transport, gateway_id)
        client.hello(args.timeout)
        if command.kind == "signed":
            if key is None:
                session.load_key(client)
            else:
                client.use_key(key, session.keystore.counter_store(gateway_id))
        return command.run(client, args, session)
    finally:
        transport.close()


def _print_json(data, out):
    out.write(json.dumps(jsonable(data), ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    out.flush()


def _say_error(e, where=None):
    text = str(e)
    if where:
        text = "%s: %s" % (where, text)
    sys.stderr.write("shaftgate: error: %s\n" % text)
    sys.stderr.flush()


def _say_interrupted(command, results, targets, at):
    # Ctrl-C: say where the command was carried out, where it may have been, where not.
    done = [r["gateway_id"] or r["port"] for r in results if "result" in r]
    failed = [r["gateway_id"] or r["port"] for r in results if "error" in r]
    now = targets[at][0] or targets[at][1]
    never = [g or p for g, p in targets[at + 1 :]]
    lines = ["shaftgate: interrupted during %s." % command.name]
    lines.append("  carried out at: %s" % (", ".join(done) or "none"))
    if failed:
        lines.append("  failed at: %s" % ", ".join(failed))
    if command.name == "roster load":
        lines.append(
            "  interrupted at %s: a gateway keeps its old roster until the last part is in, "
            "so it has the old or the whole new one; `shaftgate status` / `occupants` shows "
            "which (its ROSTER_LOADED event says the new one arrived)" % now
        )
    else:
        lines.append("  interrupted at %s: it may or may not have been carried out; check" % now)
    lines.append("  not sent to: %s" % (", ".join(never) or "none"))
    sys.stderr.write("\n".join(lines) + "\n")


def _run_gateway_command(command, args, out):
    session = Session(args)
    session.out = out
    path = None if station_cli.wants_direct(args) else station_cli.serve_socket(args, session.home)
    if path is not None:
        if command.prepare is not None and command.name != "roster load":
            command.prepare(args, session)  # bad input is refused here: nothing is sent
        try:
            return station_cli.run_through(command, args, out, path, UsageError)
        except KeyboardInterrupt:
            if command.kind == "signed":
                sys.stderr.write(
                    "shaftgate: interrupted: the %s order was handed to serve, which carries it "
                    "out whatever this terminal does; `shaftgate orders` shows what each "
                    "gateway answered\n" % command.name
                )
            raise
        except FileNotFoundError:
            pass  # no serve after all: the ports are free for a direct session
        except ConnectionRefusedError:
            sys.stderr.write(
                "shaftgate: note: %s answers nobody (serve stopped?); using the ports\n" % path
            )
        except ControlError as e:
            raise UsageError("serve: %s" % e) from e
    if command.prepare is not None:
        command.prepare(args, session)
    targets = session.targets()
    if getattr(args, "follow", False) and len(targets) != 1:
        raise UsageError("--follow watches one gateway; name exactly one")
    results = []
    status = EXIT_OK
    for n, (gateway_id, port) in enumerate(targets):
        try:
            data = _run_on(command, args, session, gateway_id, port)
        except KeyboardInterrupt:
            _say_interrupted(command, results, targets, n)
            raise
        except CLI_ERRORS as e:
            if len(targets) == 1:
                raise
            _say_error(e, gateway_id or port)
            status = max(status, _exit_status(e))
            results.append(
                {
                    "gateway_id": gateway_id,
                    "port": port,
                    "error": {"type": type(e).__name__, "message": str(e)},
                }
            )
            continue
        gid = data["gateway_id"] if data is not None else gateway_id
        results.append({"gateway_id": gid, "port": port, "result": data})
    if len(targets) == 1:
        data = results[0]["result"]
        if data is not None:  # None: the command printed as it went (--follow)
            if args.json:
                _print_json(data, out)
            else:
                out.write(command.render(data, args) + "\n")
        return status
    if args.json:
        _print_json({"gateways": results}, out)
    else:
        blocks = [command.render(r["result"], args) for r in results if "result" in r]
        out.write("\n\n".join(blocks) + ("\n" if blocks else ""))
    return status


# ---- the parser ----


def _global_options(parser, suppress):
    # Also on every subcommand (with SUPPRESS), so `shaftgate status --port X` works too.
    d = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("gateways and files")
    g.add_argument("--port", metavar="PATH", default=d, help="serial port of the gateway")
    g.add_argument(
        "--gateway",
        metavar="ID[=PATH]",
        action="append",
        default=d,
        help="gateway by id (port from gateways.toml) or ID=PATH; repeatable",
    )
    g.add_argument(
        "--all",
        action="store_true",
        default=d if suppress else False,
        help="every gateway in gateways.toml",
    )
    g.add_argument(
        "--home",
        metavar="DIR",
        default=d,
        help="shaftgate home (default $SHAFTGATE_HOME or ~/.config/shaftgate)",
    )
    g.add_argument("--key-dir", metavar="DIR", default=d, help="key directory (default HOME/keys)")
    g.add_argument(
        "--serve",
        metavar="SOCKET",
        default=d,
        help="serve's socket (default $SHAFTGATE_SERVE, else HOME/serve.sock if it exists)",
    )
    g.add_argument(
        "--direct",
        action="store_true",
        default=d if suppress else False,
        help="open the ports even if serve runs (commissioning)",
    )
    g.add_argument(
        "--operator",
        metavar="ID",
        default=d,
        help="who gives an order through serve (default $SHAFTGATE_OPERATOR or your login)",
    )
    g.add_argument("--why", metavar="TEXT", default=d, help="the reason recorded with an order")
    add_lang(g, suppress)
    g.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_timeout,
        default=d if suppress else DEFAULT_TIMEOUT_S,
        help="wait this long for each reply (default %.0f)" % DEFAULT_TIMEOUT_S,
    )


def _version():
    from importlib import metadata

    try:
        return metadata.version("shaftgate")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="shaftgate",
        description="Dispatch tools for shaftgate gateways at mine zone entrances.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version="shaftgate %s" % _version())
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {}
    for name, command in COMMANDS.items():
        words = name.split()
        if len(words) == 1:
            into = sub
        else:
            if words[0] not in groups:
                gp = sub.add_parser(words[0], help=GROUP_HELP.get(words[0], ""))
                groups[words[0]] = gp.add_subparsers(
                    dest=words[0] + "_command", metavar="SUBCOMMAND", required=True
                )
            into = groups[words[0]]
        parents = [] if command.kind == "local" else [common]
        p = into.add_parser(words[-1], help=command.help, description=command.help, parents=parents)
        p.set_defaults(command_name=name)
        if command.kind != "local":
            p.add_argument("--json", action="store_true", help="print one JSON document")
        if command.add_arguments is not None:
            command.add_arguments(p)
    return parser


def add_lang(p, suppress=True):
    p.add_argument(
        "--lang",
        choices=i18n.LANGS,
        default=argparse.SUPPRESS if suppress else None,
        help="zh or en (default: from LC_ALL/LANG, zh_* gives zh) 界面语言",
    )


def setup_locale(args):
    # The language and the mine's time zone, before anything is printed.
    i18n.set_lang(getattr(args, "lang", None) or i18n.lang_from_env())
    home = Path(args.home) if getattr(args, "home", None) else shaftgate_home()
    minetime.set_zone(site_time_zone(home))


def site_time_zone(home):
    """The [mine] time_zone of the site file: $SHAFTGATE_SITE, else HOME/site.toml; None
    (the host's zone, printed as such) when there is none."""
    import os

    path = os.environ.get("SHAFTGATE_SITE") or Path(home) / "site.toml"
    try:
        with open(path, "rb") as f:
            name = tomllib.load(f).get("mine", {}).get("time_zone")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return None
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, TypeError, zoneinfo.ZoneInfoNotFoundError):
        return None
    return name


_DEFAULTS = {}


def command_defaults(name):
    """{dest: default} of a command's options, as its parser would fill them in: what
    serve starts from when a client sends only the options it gives."""
    if not _DEFAULTS:
        for action in build_parser()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for word, sub in action.choices.items():
                    _collect_defaults(word, sub)
    return dict(_DEFAULTS.get(name, {}))


def _collect_defaults(name, parser):
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                _collect_defaults("%s %s" % (name, word), sub)
        elif action.dest not in ("help",) and action.default is not argparse.SUPPRESS:
            found[action.dest] = action.default
    found.update(parser._defaults)
    _DEFAULTS[name] = found


def main(argv=None, out=None):
    out = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)
    command = COMMANDS[args.command_name]
    setup_locale(args)
    try:
        if command.kind == "local":
            return command.run(args)
        return _run_gateway_command(command, args, out)
    except CLI_ERRORS as e:
        if getattr(args, "json", False):
            # --json promises one JSON document on stdout, failure included
            _print_json({"error": {"type": type(e).__name__, "message": str(e)}}, out)
        _say_error(e)
        return _exit_status(e)
    except KeyboardInterrupt:
        return 130


# ---- commands ----


def _done(client, text, **extra):
    data = {"gateway_id": client.gateway_id, "done": text}
    data.update(extra)
    return data


def _render_done(data, args):
    return render.render_done(data)


@register(
    "status",
    "the gateway's state: people, cap, interlocks, gas, video",
    render=lambda d, a: render.render_status(d),
)
def _status(client, args, session):
    return {
        "gateway_id": client.gateway_id,
        "gateway": client.identity,
        "status": client.status(args.timeout),
    }


def _occupants_render(data, args):
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
    names = roster_csv.load_names(session.roster_copy(client.gateway_id))
    data = client.occupants(names, args.timeout)
    data["now_s"] = client.identity["now_s"]
    return data


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


def _by_arg(p):
    p.add_argument(
        "--by",
        type=_positive_int,
        default=None,
        metavar="PERSON_ID",
        help="a team leader or the mine leader on duty whose order this is (R-EVAC-1); "
        "default: the dispatcher",
    )


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


def _id_list(text, option):
    try:
        ids = [int(w) for w in text.replace(" ", "").split(",") if w]
    except ValueError:
        raise UsageError(
            "%s: %r is not a list of person ids like 501,502" % (option, text)
        ) from None
    if not ids:
        raise UsageError("%s: no person ids given" % option)
    return ids


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


def _reason_arg(p):
    p.add_argument("--reason", default=None, help="recorded with the command")


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


def _gateway_now(client):
    # The gateway's clock as its hello gave it; the host's if the gateway's is unset.
    now_s = client.identity.get("now_s", 0) if client.identity else 0
    return now_s if clock_known(now_s) else int(time.time())


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
    render=lambda d, a: render.render_config(d),
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


def _key_new_args(p):
    p.add_argument("gateway_id", metavar="GATEWAY_ID")
    # SUPPRESS: given before the command word, the main parser's value stands.
    s = argparse.SUPPRESS
    p.add_argument("--home", metavar="DIR", default=s, help="shaftgate home")
    p.add_argument("--key-dir", metavar="DIR", default=s, help="key directory (default HOME/keys)")


@register(
    "key new",
    "generate a new key for a gateway (32 random bytes, mode 0600)",
    "local",
    _key_new_args,
)
def _key_new(args):
    home = Path(args.home) if args.home else shaftgate_home()
    keystore = Keystore(args.key_dir if args.key_dir else home / "keys")
    path = keystore.create(args.gateway_id)
    print("new key for gateway %s: %s" % (args.gateway_id, path))
    print("provision the board with it, then reset the board (docs/keys.md):")
    print("  mpremote connect PORT fs cp %s :/data/gateway.key" % path)
    return EXIT_OK


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


def _key_rotate_args(p):
    _key_new_args(p)
    p.add_argument(
        "--commit",
        action="store_true",
        help="step 3: the board holds the new key; put it in place of the old one",
    )


@register(
    "key rotate",
    "rotate a gateway's key (docs/keys.md, Rotation): a new key, then --commit once provisioned",
    "local",
    _key_rotate_args,
)
def _key_rotate(args):
    import os
    import secrets

    home = Path(args.home) if args.home else shaftgate_home()
    keystore = Keystore(args.key_dir if args.key_dir else home / "keys")
    key = keystore.key_path(args.gateway_id)
    new = key.with_name(key.name + ".new")
    try:
        if not args.commit:
            keystore.load(args.gateway_id)  # there is a key to rotate, and it is sound
            try:
                fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise KeystoreError(
                    "%s exists: a rotation is under way; provision the board with it and run "
                    "`shaftgate key rotate %s --commit`, or delete it to start again"
                    % (new, args.gateway_id)
                ) from None
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            print(
                "new key for %s: %s (the old one stays in use until --commit)"
                % (args.gateway_id, new)
            )
            print("2. provision the board with it and reset the board (a maintenance window:")
            print("   the gateway refuses dispatch's commands until step 3):")
            print("     mpremote connect PORT fs cp %s :/data/gateway.key" % new)
            print("3. shaftgate key rotate %s --commit   (then restart serve)" % args.gateway_id)
            print("4. send one harmless signed command and check it is accepted")
            return EXIT_OK
        data = new.read_bytes() if new.exists() else None
        if data is None:
            raise KeystoreError(
                "no rotation under way for %s (%s missing): run `shaftgate key rotate %s` first"
                % (args.gateway_id, new, args.gateway_id)
            )
        if len(data) != 32 or new.stat().st_mode & 0o077:
            raise KeystoreError("%s is not a 32-byte key readable by its owner only" % new)
        os.replace(new, key)  # atomic: the old key or the new one, never half of each
        dir_fd = os.open(key.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except KeystoreError as e:
        _say_error(e)
        return EXIT_USAGE
    print(
        "key for %s rotated: %s now holds the new key; the old one is gone" % (args.gateway_id, key)
    )
    print("restart serve, then send one harmless signed command and check it is accepted")
    return EXIT_OK


def _selfcheck(args):
    # Imported here: the self-check pulls in threads and ptys no other command needs.
    from shaftgate.cli import selfcheck

    return EXIT_OK if selfcheck.run(print) else EXIT_FAILED


register("selfcheck", "check the host's protocol stack over a pty pair, no board needed", "local")(
    _selfcheck
)
register(
    "demo",
    "the simulated mine: virtual gateways, a scripted shift and the live dispatch view",
    "local",
    add_arguments=demo.add_arguments,
)(demo.run)
register(
    "sim",
    "run N virtual gateway boards until Ctrl-C; prints their serial ports",
    "local",
    add_arguments=sim.add_arguments,
)(sim.run)

register(
    "serve",
    "the surface station: owns the gateway links, records, alarms, publishes (docs/serve.md)",
    "local",
    add_arguments=station_cli.serve_args,
)(station_cli.run_serve)
register(
    "alarms",
    "the active alarms, from serve",
    "local",
    add_arguments=station_cli.local_args(station_cli.alarms_args),
)(station_cli.run_alarms)
register(
    "alarm ack",
    "acknowledge a latched alarm after checking it (an order, stored with the reason)",
    "local",
    add_arguments=station_cli.local_args(station_cli.alarm_ack_args),
)(station_cli.run_alarm_ack)
register(
    "accept-gap",
    "through serve: record missing events as a gap and go on (after checking why, R-DATA-2)",
    "local",
    add_arguments=station_cli.local_args(station_cli.accept_gap_args),
)(station_cli.run_accept_gap)
register(
    "watch",
    "every gateway live from serve: alarms on top (a: acknowledge), zones, latest events",
    "local",
    add_arguments=station_cli.local_args(_watch_args),
)(_run_watch)
register(
    "report shift",
    "the shift report (R-CAP-10): zones against caps, violations, evacuations, gas, trend; HTML and PDF",
    "local",
    add_arguments=station_cli.local_args(_report_args),
)(_run_report)
register(
    "roster show",
    "the roster serve loaded into each gateway, with names, roles and crews",
    "local",
    add_arguments=station_cli.local_args(station_cli.roster_show_args),
)(station_cli.run_roster_show)
register(
    "permit history",
    "every permit issued, with what became of it (revoked, ended): from serve's record",
    "local",
    add_arguments=station_cli.local_args(history_cli.permit_history_args),
)(history_cli.run_permit_history)
register(
    "trace",
    "one person's route from serve's record (R-ID-3): zones, times, working and dwell time",
    "local",
    add_arguments=station_cli.local_args(history_cli.trace_args),
)(history_cli.run_trace)
register(
    "orders",
    "the order audit: who ordered what, why, and which gateways answered",
    "local",
    add_arguments=station_cli.local_args(station_cli.orders_args),
)(station_cli.run_orders)

register(
    "deploy",
    "compile the firmware, copy it to a Pico or ESP32 with mpremote, provision key and config",
    "local",
    add_arguments=deploy.add_arguments,
)(deploy.run)


if __name__ == "__main__":
    sys.exit(main())
