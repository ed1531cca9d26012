"""The MQTT broker serve publishes to: the site file's [broker] table, or, with none, a
Mosquitto of our own on loopback (Debian's package, installed by ./dev setup).

The embedded broker never uses the package's configuration or its system service: it gets
its own config file, persistence and log in serve's state folder and listens on a loopback
port only, so a system Mosquitto on 1883 (which Debian starts on install in some setups)
neither collides with it nor is relied on.
"""

import contextlib
import ctypes
import logging
import os
import pwd
import secrets
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
EMBEDDED_USER = "shaftgate-serve"
LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
DEFAULT_KEEPALIVE_S = 30
READY_TIMEOUT_S = 10.0
MAX_QUEUED_MESSAGES = 1_000_000  # per consumer of the embedded broker
RESTART_DELAY_S = (0.5, 30.0)  # first and longest wait before restarting a dead broker


class SiteError(ValueError):
    """A site file value that cannot be used; the message names the key."""


class BrokerError(RuntimeError):
    """The embedded broker could not be started."""

    bad_persistence = False  # mosquitto refused its persistence file


class TlsConfig:
    def __init__(self, ca=None, cert=None, key=None):
        self.ca = ca  # None: the system's trusted CAs
        self.cert = cert  # client certificate and key: both or neither
        self.key = key

    def __repr__(self):
        return "TlsConfig(ca=%r, cert=%r, key=%r)" % (self.ca, self.cert, self.key)


class BrokerConfig:
    """Where and how to connect. host None means: start the embedded broker."""

    KEYS = ("host", "port", "tls", "username", "password", "keepalive")
    TLS_KEYS = ("ca", "cert", "key")

    def __init__(
        self,
        host=None,
        port=DEFAULT_PORT,
        tls=None,
        username=None,
        password=None,
        keepalive=DEFAULT_KEEPALIVE_S,
    ):
        self.host = host
        self.port = port
        self.tls = tls
        self.username = username
        self.password = password
        self.keepalive = keepalive

    @property
    def embedded(self):
        return self.host is None

    def describe(self):
        if self.embedded:
            return "embedded Mosquitto"
        return "%s://%s:%d%s" % (
            "mqtts" if self.tls else "mqtt",
            self.host,
            self.port,
            " as %s" % self.username if self.username else "",
        )

    def __repr__(self):
        # Never the password: this ends up in logs.
        return "BrokerConfig(%s)" % self.describe()

    @classmethod
    def from_table(cls, table, where, base_dir=None):
        """The [broker] table of a site file (a dict from tomllib), or None for the embedded
        broker. `where` prefixes every error (e.g. "site.toml"); relative certificate paths
        are taken from base_dir (the site file's folder) when given."""
        if table is None:
            return cls()
        if not isinstance(table, dict):
            raise SiteError("%s: broker must be a table, got %r" % (where, table))
        for k in table:
            if k not in cls.KEYS:
                raise SiteError(
                    "%s: broker.%s is not a broker setting (known: %s)"
                    % (where, k, ", ".join(cls.KEYS))
                )
        host = table.get("host")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise SiteError(
                "%s: broker.host must be a host name or address, got %r (leave out the "
                "[broker] table for the embedded broker)" % (where, host)
            )
        tls = _tls_from(table.get("tls"), where, base_dir)
        port = table.get("port", DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        if type(port) is not int or not 1 <= port <= 65535:
            raise SiteError("%s: broker.port must be an integer 1..65535, got %r" % (where, port))
        keepalive = table.get("keepalive", DEFAULT_KEEPALIVE_S)
        if type(keepalive) is not int or not 5 <= keepalive <= 65535:
            raise SiteError(
                "%s: broker.keepalive must be whole seconds 5..65535, got %r" % (where, keepalive)
            )
        username = table.get("username")
        password = table.get("password")
        if username is not None and (not isinstance(username, str) or not username):
            raise SiteError("%s: broker.username must be a non-empty string" % where)
        if password is not None:
            if not isinstance(password, str):
                raise SiteError("%s: broker.password must be a string" % where)
            if username is None:
                raise SiteError("%s: broker.password is set but broker.username is not" % where)
        return cls(host.strip(), port, tls, username, password, keepalive)


def _tls_from(value, where, base_dir):
    if value is None or value is False:
        return None
    if value is True:
        return TlsConfig()
    if not isinstance(value, dict):
        raise SiteError(
            "%s: broker.tls must be true or a table with ca, cert, key; got %r" % (where, value)
        )
    for k in value:
        if k not in BrokerConfig.TLS_KEYS:
            raise SiteError(
                "%s: broker.tls.%s is not a TLS setting (known: ca, cert, key)" % (where, k)
            )
    paths = {}
    for k in BrokerConfig.TLS_KEYS:
        v = value.get(k)
        if v is None:
            continue
        if not isinstance(v, str) or not v:
            raise SiteError("%s: broker.tls.%s must be a file path, got %r" % (where, k, v))
        p = Path(v)
        if base_dir is not None and not p.is_absolute():
            p = Path(base_dir) / p
        if not p.is_file():
            raise SiteError("%s: broker.tls.%s: no such file: %s" % (where, k, p))
        paths[k] = str(p)
    if ("cert" in paths) != ("key" in paths):
        raise SiteError("%s: broker.tls.cert and broker.tls.key go together" % where)
    return TlsConfig(paths.get("ca"), paths.get("cert"), paths.get("key"))


# ---- the embedded broker ----


def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As mosquitto binds: a port in TIME_WAIT from our own last run is free to it.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def accepts(port, timeout_s=0.2):
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _die_with_parent():
    # Linux: the broker gets SIGTERM when the thread that started it ends, so a serve
    # killed with -9 does not leave an orphan broker holding the port and the persistence
    # file. That thread is the supervisor, which lives as long as the broker should.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedMosquitto:
    """Debian's mosquitto on a loopback port with its config, persistence and log in
    state_dir; a supervisor thread restarts it (same port) if it dies."""

    def __init__(self, state_dir, port=None):
        self.state_dir = Path(state_dir).absolute()
        self.port = port  # None: the port used last time if free, else a free one
        self.restarts = 0
        self._proc = None
        self._stop = threading.Event()
        self._thread = None
        self._started = threading.Event()
        self._start_error = None
        self._lock = threading.Lock()
        self._password = None

    @property
    def conf_path(self):
        return self.state_dir / "mosquitto.conf"

    @property
    def log_path(self):
        return self.state_dir / "mosquitto.log"

    @property
    def running(self):
        p = self._proc
        return p is not None and p.poll() is None

    @property
    def pid(self):
        p = self._proc
        return p.pid if p is not None else None

    def start(self):
        if self._thread is not None:
            raise RuntimeError("embedded mosquitto already started")
        if not os.access(MOSQUITTO, os.X_OK):
            raise BrokerError(
                "%s not found: install Debian's mosquitto package (./dev setup does)" % MOSQUITTO
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._kill_leftover()
        self._write_credentials()
        self._stop.clear()
        self._started.clear()
        self._start_error = None
        self._thread = threading.Thread(target=self._supervise, name="mosquitto", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise self._start_error
        assert self.port is not None  # set by _spawn_first before _started
        return BrokerConfig(LOOPBACK, self.port, username=EMBEDDED_USER, password=self._password)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def kill(self):
        """Kill the broker process (tests: the supervisor must bring it back)."""
        p = self._proc
        if p is not None:
            p.kill()

    # ---- inside the supervisor thread ----

    def _supervise(self):
        try:
            self._spawn_first()
        except BrokerError as e:
            self._start_error = e
            self._started.set()
            return
        self._started.set()
        delay_s = RESTART_DELAY_S[0]
        while not self._stop.is_set():
            proc = self._proc
            rc = proc.poll() if proc is not None else -1
            if rc is None:
                self._stop.wait(0.2)
                continue
            log.error(
                "embedded mosquitto exited with %s; restarting in %.1f s (log: %s)",
                rc,
                delay_s,
                self.log_path,
            )
            if self._stop.wait(delay_s):
                break
            try:
                self._spawn(self.port)
                self.restarts += 1
                delay_s = RESTART_DELAY_S[0]
            except BrokerError as e:
                log.error("embedded mosquitto did not come back: %s", e)
                delay_s = min(delay_s * 2, RESTART_DELAY_S[1])
        self._terminate()

    def _spawn_first(self):
        ports = []
        if self.port is not None:
            ports = [self.port]
        else:
            last = self._last_port()
            if last is not None and port_is_free(last):
                ports.append(last)
            ports += [free_loopback_port() for _ in range(3)]
        err = BrokerError("no loopback port to try")
        for port in ports:
            try:
                self._spawn(port)
                self.port = port
                (self.state_dir / "port").write_text("%d\n" % port)
                return
            except BrokerError as e:
                err = e  # most likely the port was taken between the check and the bind
        raise err

    def _spawn(self, port):
        try:
            self._spawn_once(port)
        except BrokerError as e:
            if not e.bad_persistence:
                raise
            # A damaged mosquitto.db would keep the broker down for good, and with it the
            # whole feed. Set it aside (evidence) and start empty: serve's outbox still
            # holds everything not yet acknowledged; what is lost is the broker's retained
            # state and queues, which serve's next publications rebuild.
            aside = self.state_dir / ("mosquitto.db.damaged-%d" % int(time.time()))
            os.replace(self.state_dir / "mosquitto.db", aside)
            log.error("embedded mosquitto could not read its persistence file; moved to %s", aside)
            self._spawn_once(port)

    def _spawn_once(self, port):
        self._write_conf(port)
        try:
            log_start = self.log_path.stat().st_size
        except OSError:
            log_start = 0
        with open(self.log_path, "ab") as logf:
            proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = BrokerError(
                    "mosquitto exited with %s on port %d: %s"
                    % (proc.returncode, port, self._log_tail())
                )
                err.bad_persistence = (self.state_dir / "mosquitto.db").exists() and (
                    "restore persistent database" in self._log_since(log_start)
                )
                raise err
            if accepts(port):
                with self._lock:
                    self._proc = proc
                (self.state_dir / "mosquitto.pid").write_text("%d\n" % proc.pid)
                return
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        raise BrokerError(
            "mosquitto did not listen on port %d within %.0f s" % (port, READY_TIMEOUT_S)
        )

    def _terminate(self):
        with self._lock:
            p, self._proc = self._proc, None
        if p is None:
            return
        if p.poll() is None:
            p.terminate()  # mosquitto saves its persistence file on SIGTERM
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        with contextlib.suppress(OSError):
            (self.state_dir / "mosquitto.pid").unlink()

    def _write_conf(self, port):
        lines = [
            "# written by shaftgate serve; edits are overwritten at each start",
            "listener %d %s" % (port, LOOPBACK),
            # Anyone on this machine may read; only serve (a password made at each start)
            # may publish, so no local program can put a false headcount on serve's topics.
            "allow_anonymous true",
            "password_file %s" % (self.state_dir / "passwd"),
            "acl_file %s" % (self.state_dir / "acl"),
            "persistence true",
            "persistence_location %s/" % self.state_dir,
            "autosave_interval 30",
            # Mosquitto's default of 1000 silently drops QoS 1 messages to a consumer that
            # falls that far behind (R-DATA-2); this bounds memory at ~300 bytes a message.
            "max_queued_messages %d" % MAX_QUEUED_MESSAGES,
            # Run as whoever runs serve: as root, mosquitto would otherwise switch to the
            # 'mosquitto' user, which cannot write serve's state folder.
            "user %s" % pwd.getpwuid(os.getuid()).pw_name,
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
            "",
        ]
        self.conf_path.write_text("\n".join(lines))

    def _write_credentials(self):
        self._password = secrets.token_urlsafe(24)
        passwd = self.state_dir / "passwd"
        passwd.unlink(missing_ok=True)
        # Plain text first, then hashed in place by mosquitto_passwd -U: the password never
        # appears on a command line, where another local user could read it.
        fd = os.open(passwd, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("%s:%s\n" % (EMBEDDED_USER, self._password))
        try:
            subprocess.run(
                [MOSQUITTO_PASSWD, "-U", str(passwd)], check=True, capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError) as e:
            passwd.unlink(missing_ok=True)
            raise BrokerError("could not hash the embedded broker's password: %s" % e) from e
        (self.state_dir / "acl").write_text(
            "# written by shaftgate serve at each start\n"
            "# anonymous clients: read only\n"
            "topic read #\n"
            "user %s\n"
            "topic readwrite #\n" % EMBEDDED_USER
        )

    def _last_port(self):
        try:
            port = int((self.state_dir / "port").read_text())
        except (OSError, ValueError):
            return None
        return port if 1024 <= port <= 65535 else None

    def _kill_leftover(self):
        # A broker left by a serve that died without its supervisor's SIGTERM (another OS,
        # or a kill between spawn and prctl): it holds our persistence file. Only a process
        # running our own config file is touched.
        try:
            pid = int((self.state_dir / "mosquitto.pid").read_text())
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.conf_path).encode() not in cmdline:
            return
        log.warning("stopping a leftover embedded mosquitto (pid %d)", pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and Path("/proc/%d" % pid).exists():
            time.sleep(0.05)

    def _log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _log_tail(self, n=5):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-n:]) or "(empty log)"
