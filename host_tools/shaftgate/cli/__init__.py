"""shaftgate: the dispatch command line. A thin shell over shaftgate.link.client: it parses
arguments, picks the gateways, prints what the library returns (a table, or with --json
the library's own data as one JSON document) and turns errors into one line on stderr
and an exit code.

One module per command group registers its commands in COMMANDS through register(), and
main() imports only the group of the command given (GROUPS): `shaftgate status` does not
load the simulator, the report's or the deploy tools (a command is a process started
by a dispatcher or a script, and its start is most of what it costs). `--help`, an
unknown word, serve and the tests read COMMANDS as a whole, which imports every group.

    gateway.py   status, occupants, time-set, config get/set (the gateway's own state)
    events.py    events
    orders.py    evacuate, all-clear, seal, unseal, cap-override, cap-override-clear,
                 recount
    permits.py   permit issue, revoke, list
    roster.py    roster load
    keys.py      key new, key rotate
    board.py     selfcheck, demo, sim, deploy
    station.py   serve, alarms, alarm ack, accept-gap, orders, roster show, watch,
                 report shift
    history.py   trace, permit history
    common.py    what the gateway commands share; through.py: a command through serve
"""

import argparse
import gettext
import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

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


# The first word of a command -> the modules that register its commands (shaftgate.cli.*).
GROUPS = {
    "status": ("gateway",),
    "occupants": ("gateway",),
    "time-set": ("gateway",),
    "config": ("gateway",),
    "events": ("events",),
    "evacuate": ("orders",),
    "all-clear": ("orders",),
    "seal": ("orders",),
    "unseal": ("orders",),
    "cap-override": ("orders",),
    "cap-override-clear": ("orders",),
    "recount": ("orders",),
    "permit": ("permits", "history"),
    "roster": ("roster", "station"),
    "key": ("keys",),
    "serve": ("station",),
    "alarms": ("station",),
    "alarm": ("station",),
    "accept-gap": ("station",),
    "orders": ("station",),
    "watch": ("station",),
    "report": ("station",),
    "trace": ("history",),
    "selfcheck": ("board",),
    "demo": ("board",),
    "sim": ("board",),
    "deploy": ("board",),
}
GROUP_ORDER = (
    "gateway",
    "events",
    "orders",
    "permits",
    "roster",
    "keys",
    "board",
    "station",
    "history",
)


class _Commands(dict):
    """COMMANDS: filled as the group modules are imported. Read as a whole (serve's
    control socket, --help, the tests) it imports every group first."""

    def __getitem__(self, name):
        load_all()
        return dict.__getitem__(self, name)

    def get(self, name, default=None):
        load_all()
        return dict.get(self, name, default)

    def __contains__(self, name):
        load_all()
        return dict.__contains__(self, name)

    def __iter__(self):
        load_all()
        return dict.__iter__(self)

    def __len__(self):
        load_all()
        return dict.__len__(self)

    def items(self):
        load_all()
        return dict.items(self)

    def keys(self):
        load_all()
        return dict.keys(self)

    def values(self):
        load_all()
        return dict.values(self)


COMMANDS: dict[str, Command] = _Commands()
_loaded = set()


def load_group(module):
    # Marked only once imported: serve's socket threads may ask at once, and importlib
    # makes a second importer wait for the first (a set marked first would not).
    if module not in _loaded:
        importlib.import_module("shaftgate.cli." + module)
        _loaded.add(module)


def load_all():
    for module in GROUP_ORDER:
        load_group(module)


# Options before the command word that take a value (so `--port X status` finds status).
_VALUE_OPTIONS = frozenset(
    ("--port", "--gateway", "--home", "--key-dir", "--serve", "--operator", "--why", "--lang",
     "--timeout")
)  # fmt: skip


def command_word(argv):
    """The command's first word in argv, or None (only options, or nothing)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


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


class _Version(argparse.Action):
    # Looked up when asked for: importlib.metadata costs every other command its time.
    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write("shaftgate %s\n" % _version())
        parser.exit()


def _version():
    from importlib import metadata

    try:
        return metadata.version("shaftgate")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def build_parser(words=None):
    """The parser of every command; or, given words, of the commands starting with one of
    them alone (their groups loaded already: main)."""
    parser = argparse.ArgumentParser(
        prog="shaftgate",
        description="Dispatch tools for shaftgate gateways at mine zone entrances.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _global_options(parser, suppress=False)
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {}
    for name, command in COMMANDS.items() if words is None else dict.items(COMMANDS):
        if words is not None and name.split()[0] not in words:
            continue
        words_ = name.split()
        if len(words_) == 1:
            into = sub
        else:
            if words_[0] not in groups:
                gp = sub.add_parser(words_[0], help=GROUP_HELP.get(words_[0], ""))
                groups[words_[0]] = gp.add_subparsers(
                    dest=words_[0] + "_command", metavar="SUBCOMMAND", required=True
                )
            into = groups[words_[0]]
        parents = [] if command.kind == "local" else [common]
        p = into.add_parser(
            words_[-1], help=command.help, description=command.help, parents=parents
        )
        p.set_defaults(command_name=name)
        if command.kind != "local":
            p.add_argument("--json", action="store_true", help="print one JSON document")
        if command.add_arguments is not None:
            command.add_arguments(p)
    return parser


LANGS = ("zh", "en")  # i18n.LANGS, which imports the gateway's tables (tests/test_cli checks)
DEFAULT_TIMEOUT_S = 2.0  # link.client's, likewise


def add_lang(p, suppress=True):
    p.add_argument(
        "--lang",
        choices=LANGS,
        default=argparse.SUPPRESS if suppress else None,
        help="zh or en (default: from LC_ALL/LANG, zh_* gives zh) 界面语言",
    )


def setup_locale(args):
    # The language and the mine's time zone, before anything is printed.
    from shaftgate import minetime
    from shaftgate.home import shaftgate_home

    # i18n loads the gateway's tables: only when asked for, or already loaded (main
    # called again in one process must not keep an earlier --lang).
    if getattr(args, "lang", None) or "shaftgate.i18n" in sys.modules:
        from shaftgate import i18n

        i18n.set_lang(getattr(args, "lang", None) or i18n.lang_from_env())
    home = Path(args.home) if getattr(args, "home", None) else shaftgate_home()
    minetime.set_zone_lookup(lambda: site_time_zone(home))


def site_time_zone(home):
    """The [mine] time_zone of the site file: $SHAFTGATE_SITE, else HOME/site.toml; None
    (the host's zone, printed as such) when there is none."""
    import os
    import tomllib

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


def _help_language(parser, argv):
    # argparse prints usage, help and its errors while parsing: before --lang is read.
    from shaftgate.langenv import lang_of_argv

    lang = lang_of_argv(argv)
    if lang == "zh" or argparse.__dict__.get("_") is not gettext.gettext:
        from shaftgate.cli import helpzh

        helpzh.use(lang)
        if lang == "zh":
            helpzh.translate(parser)


def main(argv=None, out=None):
    out = out if out is not None else sys.stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    word = command_word(argv)
    if word in GROUPS and "-h" not in argv and "--help" not in argv:
        for module in GROUPS[word]:
            load_group(module)
        parser = build_parser({word})
    else:
        parser = build_parser()  # help, or a word to be refused with the list of them all
    _help_language(parser, argv)
    args = parser.parse_args(argv)
    command = dict.__getitem__(COMMANDS, args.command_name)
    setup_locale(args)
    from shaftgate.cli import common

    try:
        if command.kind == "local":
            return command.run(args)
        return common._run_gateway_command(command, args, out)
    except Exception as e:
        if not isinstance(e, common.cli_errors()):
            raise  # a bug: its traceback
        if getattr(args, "json", False):
            # --json promises one JSON document on stdout, failure included
            common._print_json({"error": {"type": type(e).__name__, "message": str(e)}}, out)
        common._say_error(e)
        return common._exit_status(e)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
