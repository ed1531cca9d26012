"""What the gateway commands share: the input parsers, the session (home, keys, which
gateways), running a command on each gateway (directly or through serve) and how its
result or error is printed."""

import argparse
import datetime
import json
import re
import sys
import time
from pathlib import Path

from shaftgate.cli import EXIT_FAILED, EXIT_LINK, EXIT_OK, EXIT_USAGE, UsageError, through
from shaftgate.station.control_client import ControlError

# The link, keys, serial port, renderers and roster are imported where they are used: a
# command through serve needs none of them (cli/__init__.py).

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
        from shaftgate import minetime

        when = when.replace(tzinfo=minetime.zone())  # the mine's time zone (site file)
    return int(when.timestamp())


def _positive_int(text):
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError("%r is not a whole number above 0" % text)
    return int(text)


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
    from shaftgate import render

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


class Session:
    def __init__(self, args):
        self.args = args
        self.out = sys.stdout
        self.home = Path(args.home) if args.home else _shaftgate_home()
        self._keystore = None

    @property
    def keystore(self):
        if self._keystore is None:
            from shaftgate.link.keystore import Keystore

            self._keystore = Keystore(self.args.key_dir or self.home / "keys")
        return self._keystore

    def event_store(self, gateway_id):
        from shaftgate.link.client import JsonlEventStore
        from shaftgate.link.keystore import check_gateway_id

        return JsonlEventStore(self.home / "events" / ("%s.jsonl" % check_gateway_id(gateway_id)))

    def roster_copy(self, gateway_id):
        from shaftgate.link.keystore import check_gateway_id

        return self.home / "rosters" / ("%s.json" % check_gateway_id(gateway_id))

    def load_key(self, client):
        gid = client.gateway_id
        client.use_key(self.keystore.load(gid), self.keystore.counter_store(gid))

    def sites(self):
        import tomllib

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
            from shaftgate.link.keystore import check_gateway_id

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
    from shaftgate.link.client import BadReply, EventLogError, GatewayError, WrongGateway
    from shaftgate.link.transport import LinkError

    if isinstance(e, GatewayError | EventLogError | OSError):
        return EXIT_FAILED
    if isinstance(e, LinkError | WrongGateway | BadReply):
        return EXIT_LINK
    return EXIT_USAGE


def cli_errors():
    """Errors a dispatcher can act on; anything else is a bug and keeps its traceback."""
    from gatewire.errors import ProtocolError
    from shaftgate.link.client import (
        BadReply,
        EventLogError,
        GatewayError,
        KeyRequired,
        WrongGateway,
    )
    from shaftgate.link.keystore import KeystoreError
    from shaftgate.link.transport import LinkError
    from shaftgate.roster_csv import RosterError

    return (
        GatewayError,
        EventLogError,
        LinkError,
        WrongGateway,
        BadReply,
        UsageError,
        KeystoreError,
        KeyRequired,
        RosterError,
        ProtocolError,
        OSError,  # the event record or a roster copy could not be written: disk, permissions
    )


def _shaftgate_home():
    from shaftgate.home import shaftgate_home

    return shaftgate_home()


def _run_on(command, args, session, gateway_id, port):
    key = None
    if command.kind == "signed" and gateway_id is not None:
        key = session.keystore.load(gateway_id)  # a key problem stops us before the port
    from shaftgate.link.client import GatewayClient
    from shaftgate.link.transport import SerialTransport

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
    from shaftgate.link.client import jsonable

    out.write(json.dumps(jsonable(data), ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    out.flush()


def _say_error(e, where=None):
    from shaftgate import refusaltext

    text = refusaltext.exception_text(e)  # a refusal or a timeout in the operator's language
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
    path = None if through.wants_direct(args) else through.serve_socket(args, session.home)
    if path is not None:
        if command.prepare is not None and command.name != "roster load":
            command.prepare(args, session)  # bad input is refused here: nothing is sent
        try:
            return through.run_through(command, args, out, path, UsageError)
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
        except Exception as e:
            if len(targets) == 1 or not isinstance(e, cli_errors()):
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


def _done(client, text, **extra):
    data = {"gateway_id": client.gateway_id, "done": text}
    data.update(extra)
    return data


def _render_done(data, args):
    from shaftgate import render

    return render.render_done(data)


def _reason_arg(p):
    p.add_argument("--reason", default=None, help="recorded with the command")


def _by_arg(p):
    p.add_argument(
        "--by",
        type=_positive_int,
        default=None,
        metavar="PERSON_ID",
        help="a team leader or the mine leader on duty whose order this is (R-EVAC-1); "
        "default: the dispatcher",
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


def _gateway_now(client):
    # The gateway's clock as its hello gave it; the host's if the gateway's is unset.
    now_s = client.identity.get("now_s", 0) if client.identity else 0
    from gateway.caps import clock_known

    return now_s if clock_known(now_s) else int(time.time())
