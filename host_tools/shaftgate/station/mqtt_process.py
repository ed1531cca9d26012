"""serve's MQTT publisher (mqtt.py) in a child process of its own, so it runs on another
core beside the link threads instead of taking turns with them for one interpreter lock
(issue 11: ten busy links stored, acknowledged and published one message per event).

Nothing about what is owed changes: the child reads the same SQLite outbox the link
threads commit into, publishes it in order and deletes a row only after its PUBACK, so
killing either process at any moment loses nothing (the outbox is the account) and
repeats at most what was in flight. The parent and the child share three things:
  - the child's stdin: the settings as the first line (JSON: the broker's password is
    not on a command line), then "w" for wake() and "s" for stop(). End of file means
    serve died: the child ends at once (os._exit), its connection drops and the broker
    publishes the retained "offline" will (of the one publisher that carries serve's
    presence). A serve killed with -9 therefore never leaves a publisher behind to race
    the next one for the same client id and outbox.
  - the child's stdout: its status() as a JSON line whenever it changes.
  - its stderr: serve's own, for the child's log.
A child that dies is started again (the backoff grows to RESTART_MAX_S), and status()
says so meanwhile (and `restarts`, `last_exit` after). serve runs one of these per share
of the gateways: mqtt_shares.py.
"""

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from shaftgate.station.broker import BrokerConfig, TlsConfig

log = logging.getLogger("shaftgate.serve")
STATUS_EVERY_S = 0.1  # the child's status, when it changed, at most this stale
RESTART_MIN_S = 0.5
RESTART_MAX_S = 10.0
STOP_GRACE_S = 5.0  # beyond the publisher's own stop: then the child is killed
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding shaftgate/


def _broker_json(b):
    tls = None
    if b.tls is not None:
        tls = {"ca": b.tls.ca, "cert": b.tls.cert, "key": b.tls.key}
    return {
        "host": b.host,
        "port": b.port,
        "tls": tls,
        "username": b.username,
        "password": b.password,
        "keepalive": b.keepalive,
    }


def _broker_from(d):
    tls = TlsConfig(**d["tls"]) if d["tls"] is not None else None
    return BrokerConfig(d["host"], d["port"], tls, d["username"], d["password"], d["keepalive"])


class PublisherProcess:
    """MqttPublisher's start/stop/wake/status, with the publisher in a child process."""

    def __init__(
        self,
        db_path,
        broker,
        mine_id,
        client_id,
        only_topics=None,
        skip_topics=None,
        presence=True,
        presence_id=None,
        pass_fds=(),
    ):
        # only_topics, skip_topics, presence, presence_id: MqttPublisher's (its share of
        # the outbox, whether it carries serve's presence). pass_fds: held open by every
        # child for its whole life (mqtt_shares.py: the lock that keeps a later serve's
        # publishers waiting until these are gone).
        if broker.embedded:
            raise ValueError("start the embedded broker first and pass the config it returns")
        self.settings = {
            "db": str(db_path),
            "broker": _broker_json(broker),
            "mine_id": mine_id,
            "client_id": client_id,
            "only_topics": None if only_topics is None else list(only_topics),
            "skip_topics": list(skip_topics or ()),
            "presence": bool(presence),
            "presence_id": presence_id,
        }
        self.broker = broker
        self.client_id = client_id
        self.pass_fds = tuple(pass_fds)
        self.restarts = 0
        self.last_exit = None  # how the last child ended, while serve runs: for status
        self._lock = threading.Lock()  # the child's stdin, and who the child is
        self._proc = None
        self._stdin_fd = None  # the child's stdin, while there is a child
        self._stopping = threading.Event()
        self._thread = None
        self._status = self._status_before(time.time(), None)

    def _status_before(self, down_since, error):
        return {
            "broker": self.broker.describe(),
            "client_id": self.client_id,
            "connected": False,
            "published": 0,
            "connections": 0,
            "last_error": error,
            "down_since": down_since,
        }

    @property
    def pid(self):
        proc = self._proc
        return proc.pid if proc is not None else None

    def start(self):
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-process", daemon=True)
        self._thread.start()

    def stop(self, timeout_s=15.0):
        """The child says "offline", disconnects and ends; rows still owed stay in the
        outbox for the next start. A child that does not end in timeout_s is killed."""
        self._stopping.set()
        self._say(b"s\n")
        thread = self._thread
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():
            with self._lock:
                proc = self._proc
            if proc is not None:
                proc.kill()
            thread.join(STOP_GRACE_S)
        self._thread = None

    def wake(self):
        """The caller committed new outbox rows."""
        self._say(b"w\n")

    def status(self):
        return dict(self._status, restarts=self.restarts, last_exit=self.last_exit)

    def _say(self, line):
        # Never blocks: a link thread calls wake() after each commit, and a child that
        # stopped reading (hung, stopped) must not hold up the acks to the gateways. A
        # wake that does not fit is not needed (a full pipe holds thousands); the child
        # also looks at the outbox every second unwoken. A stop that does not fit ends
        # in a kill (stop()).
        with self._lock:
            if self._stdin_fd is None:
                return
            try:
                os.write(self._stdin_fd, line)
            except (BlockingIOError, BrokenPipeError, ValueError, OSError):
                pass  # full, or it died: _run sees its stdout end and starts another

    # ---- the parent's thread: start the child, read its status, start it again ----

    def _run(self):
        delay_s = RESTART_MIN_S
        while not self._stopping.is_set():
            began = time.monotonic()
            code = self._one_child()
            if self._stopping.is_set():
                break
            if isinstance(code, str):
                error = "publisher process %s; starting it again" % code
            else:
                error = "publisher process ended (exit code %s); starting it again" % code
            log.error("MQTT %s (%s)", error, self.client_id)
            self._status = self._status_before(time.time(), error)
            self.last_exit = error.split(";")[0]
            self.restarts += 1
            if time.monotonic() - began > 60:
                delay_s = RESTART_MIN_S
            if self._stopping.wait(delay_s):
                break
            delay_s = min(delay_s * 2, RESTART_MAX_S)

    def _one_child(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        with self._lock:
            if self._stopping.is_set():
                return None
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "shaftgate.station.mqtt_process"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                    pass_fds=self.pass_fds,
                )
            except OSError as e:
                return "not started: %s" % e
            stdin, stdout = proc.stdin, proc.stdout
            if stdin is None or stdout is None:  # both PIPE above: for the type checker
                proc.kill()
                return "not started: no pipes (exit code %s)" % proc.wait()
            try:
                # Before anything else and blocking: a few hundred bytes, into an empty pipe.
                stdin.write(json.dumps(self.settings).encode() + b"\n")
                stdin.flush()
                os.set_blocking(stdin.fileno(), False)
            except OSError:
                pass  # it died at once: its stdout ends below
            self._proc = proc
            self._stdin_fd = stdin.fileno()
        try:
            for line in stdout:
                with contextlib.suppress(ValueError):
                    self._status = json.loads(line)
        finally:
            deadline = time.monotonic() + STOP_GRACE_S
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
            with self._lock:
                self._proc = None
                self._stdin_fd = None
                stdin.close()
                stdout.close()
        return code


# ---- the child ----


def _child():
    from shaftgate.station.mqtt import MqttPublisher

    stdin = sys.stdin.buffer
    settings = json.loads(stdin.readline())
    logging.basicConfig(
        level=logging.INFO,
        format="serve publisher %s (pid %d): %%(message)s" % (settings["client_id"], os.getpid()),
    )
    pub = MqttPublisher(
        settings["db"],
        _broker_from(settings["broker"]),
        settings["mine_id"],
        settings["client_id"],
        only_topics=settings["only_topics"],
        skip_topics=settings["skip_topics"],
        presence=settings["presence"],
        presence_id=settings["presence_id"],
    )
    stop = threading.Event()

    def listen():
        for line in stdin:
            if line == b"w\n":
                pub.wake()
            elif line == b"s\n":
                stop.set()
                pub.wake()
                return
        # serve is gone (killed, crashed): no goodbye, the broker sends the will.
        os._exit(3)

    pub.start()
    threading.Thread(target=listen, name="parent", daemon=True).start()
    out = sys.stdout
    said = None

    def report():
        nonlocal said
        now = pub.status()
        if now != said:
            out.write(json.dumps(now) + "\n")
            out.flush()
            said = now

    while not stop.wait(STATUS_EVERY_S):
        report()
    pub.stop()
    report()


if __name__ == "__main__":
    _child()
