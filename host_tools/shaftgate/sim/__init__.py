"""``shaftgate sim N``: run N virtual gateway boards until Ctrl-C.

Board 1 stands at the shaft, the others at working faces of each kind in turn. The run
lives in a shaftgate home folder (default ./run), laid out as the CLI expects its own:
``keys/<id>.key`` (created on first use, docs/keys.md), ``gateways.toml`` naming each
board's serial device, and ``vboards/<id>/`` with the board's flash folder, log, serial
device symlink and side-channel socket. So ``SHAFTGATE_HOME=run shaftgate status --all``
talks to the simulated mine, and ``shaftgate.vboard.side.RemoteBoard(<socket>)`` drives a
board's peripherals. Flash folders persist between runs unless --fresh.
The CLI hooks in with ``add_arguments(parser)`` and ``run(args)``; ``python -m
shaftgate.sim`` works on its own.
"""

import argparse
import fcntl
import json
import os
import signal
import sys
import threading
from pathlib import Path

from shaftgate.link.keystore import Keystore, KeystoreError
from shaftgate.vboard import BoardError, VirtualBoard
from shaftgate.vboard.board import CONFIG_FILE, DEFAULT_ENTRY
from shaftgate.vboard.side import SideChannelServer

MAX_BOARDS = 32
FACE_KINDS = ("coal_face", "fm_heading", "db_heading", "repair")
SHAFT_MINE_CAP = 200


class SimError(Exception):
    """The simulator cannot start as asked (bad keystore, bad count, ...)."""


def mine_layout(n):
    """(gateway id, config) for n boards: the shaft, then faces of each kind in turn."""
    if type(n) is not int or not 1 <= n <= MAX_BOARDS:
        raise SimError("number of boards must be 1..%d, got %r" % (MAX_BOARDS, n))
    layout = [
        (
            "gw-shaft",
            {
                "gateway_id": "gw-shaft",
                "zone_id": "shaft",
                "role": "shaft",
                "zone_kind": "shaft",
                "mine_cap": SHAFT_MINE_CAP,
            },
        )
    ]
    for i in range(1, n):
        gateway_id = "gw-face%d" % i
        layout.append(
            (
                gateway_id,
                {
                    "gateway_id": gateway_id,
                    "zone_id": "face%d" % i,
                    "role": "face",
                    "zone_kind": FACE_KINDS[(i - 1) % len(FACE_KINDS)],
                },
            )
        )
    return layout


def gateway_key(keystore, gateway_id):
    """The gateway's key from the keystore, created there if it has none."""
    if not keystore.has_key(gateway_id):
        keystore.create(gateway_id)
    return keystore.load(gateway_id)


def write_sites(home, boards):
    # The CLI's gateways.toml: id = "serial device", for every board of this run.
    lines = ["# written by shaftgate sim: the simulated mine's boards", "[gateways]"]
    lines += ["%s = %s" % (b.name, json.dumps(b.port)) for b in boards]  # JSON escapes are TOML's
    path = Path(home) / "gateways.toml"
    temp = path.with_name(path.name + ".tmp")
    temp.write_text("\n".join(lines) + "\n")
    os.replace(temp, path)
    return path


def lock_home(home):
    """Hold home/sim.lock for this process: two sims on one home would run two firmwares
    on each board's flash, repeating event seqs (issue 13). The lock goes with the process."""
    home.mkdir(parents=True, exist_ok=True)
    f = open(home / "sim.lock", "a+")  # noqa: SIM115 -- held open: the lock lives as long as it
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise SimError("another shaftgate sim is running on %s: stop it first" % home) from None
    return f


class Sim:
    """N boards with their side channels; stop() releases everything."""

    def __init__(self, n, home, fresh=False, entry=DEFAULT_ENTRY, extra_dir=None):
        self.home = Path(home)
        self.boards = []
        self.servers = []
        self._lock = None
        layout = self.layout = mine_layout(n)
        self._lock = lock_home(self.home)
        try:
            keystore = Keystore(self.home / "keys")
            for gateway_id, config in layout:
                key = gateway_key(keystore, gateway_id)
                board = VirtualBoard(
                    gateway_id, self.home / "vboards", entry=entry, extra_dir=extra_dir
                )
                self.boards.append(board)
                if fresh:
                    board.wipe_flash()
                # The keystore is the truth for keys; a config the firmware has since
                # changed by signed config-set is kept unless --fresh.
                has_config = (board.flash_dir / CONFIG_FILE).exists()
                board.provision(key=key, config=None if has_config else config)
            for board in self.boards:
                board.start()
                self.servers.append(SideChannelServer(board, board.dir / "side.sock"))
            self.sites = write_sites(self.home, self.boards)
            self.keys = keystore.directory
        except BaseException:
            self.stop()
            raise

    def describe(self):
        return [
            {
                "gateway_id": b.name,
                "pid": b.pid,
                "port": b.port,
                "pty": b.pty_path,
                "side": s.path,
                "key": str(self.keys / ("%s.key" % b.name)),
                "flash": str(b.flash_dir),
                "log": str(b.log_path),
            }
            for b, s in zip(self.boards, self.servers, strict=True)
        ]

    def stop(self):
        for server in self.servers:
            server.close()
        for board in self.boards:
            board.stop()
        self.servers = []
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None


def add_arguments(parser):
    parser.add_argument("n", type=int, help="how many boards (1..%d)" % MAX_BOARDS)
    # SUPPRESS: a --home given before the subcommand is not overridden by this default.
    parser.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="the run's shaftgate home: keys, gateways.toml, boards (default ./run)",
    )
    parser.add_argument("--fresh", action="store_true", help="erase the boards' flash first")
    parser.add_argument("--json", action="store_true", help="print the boards as one JSON document")
    parser.add_argument("--entry", default=DEFAULT_ENTRY, help=argparse.SUPPRESS)
    parser.add_argument("--extra-dir", default=None, help=argparse.SUPPRESS)


def run(args):
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        try:
            sim = Sim(
                args.n, getattr(args, "home", None) or "run", args.fresh, args.entry, args.extra_dir
            )
        except (SimError, BoardError, KeystoreError, OSError) as e:
            print("shaftgate sim: %s" % e, file=sys.stderr)
            return 1
        try:
            boards = sim.describe()
            if args.json:
                doc = {"home": str(sim.home), "gateways_toml": str(sim.sites), "boards": boards}
                print(json.dumps(doc), flush=True)
            else:
                for b in boards:
                    print(
                        "%-12s port %s (%s)  side %s  log %s"
                        % (b["gateway_id"], b["port"], b["pty"], b["side"], b["log"])
                    )
                print(
                    "host: SHAFTGATE_HOME=%s shaftgate status --all   (Ctrl-C stops the boards)"
                    % sim.home,
                    flush=True,
                )
            reported = set()
            while not stop.wait(0.5):
                for board in sim.boards:
                    if board.crashed is not None and board.name not in reported:
                        reported.add(board.name)
                        print(
                            "board %s crashed (log %s):\n%s"
                            % (board.name, board.log_path, board.crashed),
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            sim.stop()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="shaftgate sim", description="Run N virtual gateway boards until Ctrl-C."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
