"""A simulated mine under `shaftgate serve`: virtual boards (shaftgate.sim), a site file
naming them, and serve started through the CLI's entry point as a real process."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from shaftgate.sim import Sim
from shaftgate.station.control import ServeClient, wait_for

SHAFTGATE = Path(sys.executable).with_name("shaftgate")


def site_text(sim, extra_serve="", operators=None, broker=None, mine_id="test-mine", link_lost_s=3):
    lines = [
        "[mine]",
        "id = %s" % json.dumps(mine_id),
        'name = "测试矿 Test mine"',
        'time_zone = "Asia/Shanghai"',
        "",
        "[serve]",
        'database = "station.db"',
        'socket = "serve.sock"',
        'keys = "keys"',
        "link_lost_s = %g" % link_lost_s,
        'clock_reference = "gateways"',
        extra_serve,
        "",
    ]
    if broker:
        lines += ["[broker]", broker, ""]
    for board, (_gid, config) in zip(sim.boards, sim.layout, strict=True):
        lines += [
            "[[gateways]]",
            "id = %s" % json.dumps(board.name),
            "port = %s" % json.dumps(board.port),
            "zone = %s" % json.dumps(config["zone_id"]),
            "kind = %s" % json.dumps(config["zone_kind"]),
            "",
        ]
    for oid, authority in (
        operators or {"wang": ["evacuate", "orders", "admin"], "li": []}
    ).items():
        lines += [
            "[operators.%s]" % oid,
            'name = "%s"' % oid,
            "authority = %s" % json.dumps(authority),
            "",
        ]
    return "\n".join(lines)


class Mine:
    def __init__(self, home, n=3, **site):
        self.home = Path(home)
        self.sim = Sim(n, self.home, fresh=True)
        self.boards = {b.name: b for b in self.sim.boards}
        self.site = self.home / "site.toml"
        self.site.write_text(site_text(self.sim, **site))
        self.socket = self.home / "serve.sock"
        self.db = self.home / "station.db"
        self.proc = None

    def start_serve(self, *extra):
        with open(self.home / "serve.log", "ab") as log:
            self.proc = subprocess.Popen(
                [str(SHAFTGATE), "serve", "--site", str(self.site), *extra],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.socket, 30)
        return self.proc

    def kill_serve(self):
        # kill -9: no clean-up, no last words.
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop_serve(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def call(self, request):
        with ServeClient(self.socket) as c:
            return c.call(request)

    def wait(self, predicate, timeout_s=30, what="condition"):
        deadline = time.monotonic() + timeout_s
        while True:
            got = predicate()
            if got:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    "timed out waiting for %s (serve log: %s)" % (what, self.log())
                )
            time.sleep(0.1)

    def rows(self):
        return {r["gateway_id"]: r for r in self.call({"op": "status"})["rows"]}

    def all_answering(self):
        return all(r["answering"] and r["status"] for r in self.rows().values())

    def log(self):
        try:
            return (self.home / "serve.log").read_text()[-3000:]
        except OSError:
            return ""

    def cli(self, *argv, operator="wang", check=False):
        env = dict(os.environ, SHAFTGATE_HOME=str(self.home), SHAFTGATE_OPERATOR=operator)
        proc = subprocess.run(
            [str(SHAFTGATE), *argv], env=env, capture_output=True, text=True, timeout=120
        )
        if check and proc.returncode != 0:
            raise AssertionError("shaftgate %s failed: %s%s" % (argv, proc.stdout, proc.stderr))
        return proc

    def close(self):
        self.stop_serve()
        self.sim.stop()
