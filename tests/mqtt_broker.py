"""A real Mosquitto for tests (Debian's package, ./dev setup installs it) and a subscriber.

    broker = TestMosquitto(tmp_path)            # or the `mosquitto` fixture (conftest.py)
    broker.start(); broker.stop(); broker.restart(); broker.pause(); broker.resume()
    broker.config(**kw) -> BrokerConfig for MqttPublisher
    sub = Subscriber(broker, "shaftgate/#"); sub.wait_for(lambda msgs: ..., timeout_s=10)

Each broker has its own config, persistence and log under its folder and listens on a free
loopback port; it never touches the system's Mosquitto service. TLS and passwords:
TestMosquitto(tmp_path, tls=make_tls(tmp_path), users={"serve": "secret"}).
"""

import json
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from shaftgate.station.broker import BrokerConfig, TlsConfig, free_loopback_port

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


def _accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def make_tls(folder, name="ca", client=False):
    """A throwaway CA and a server certificate for 127.0.0.1/localhost (and a client
    certificate if asked), made with openssl. Returns a dict of paths."""
    d = Path(folder) / ("tls-" + name)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=shaftgate test CA %s" % name,
    )  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    out = {"ca": str(d / "ca.crt")}
    pairs = [("server", "/CN=localhost", True)]
    if client:
        pairs.append(("client", "/CN=serve-test", False))
    for who, subj, san in pairs:
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr", "-subj", subj)  # fmt: skip
        sign = ["x509", "-req", "-in", who + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", who + ".crt"]  # fmt: skip
        if san:
            sign += ["-extfile", "san.ext"]
        run(*sign)
        out[who + "_cert"] = str(d / (who + ".crt"))
        out[who + "_key"] = str(d / (who + ".key"))
    return out


class TestMosquitto:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(
        self,
        folder,
        tls=None,
        users=None,
        require_certificate=False,
        port=None,
        acl=None,
        extra_conf=(),
    ):
        self.folder = Path(folder) / ("mosquitto-%d" % id(self))
        self.folder.mkdir(parents=True)
        self.tls = tls
        self.users = users
        self.require_certificate = require_certificate
        self.acl = acl  # text of a mosquitto acl_file; change it and restart() to apply
        self.extra_conf = list(extra_conf)  # more mosquitto.conf lines
        self.port = port or free_loopback_port()
        self.proc = None

    @property
    def log_path(self):
        return self.folder / "mosquitto.log"

    def _write_conf(self):
        lines = [
            "listener %d 127.0.0.1" % self.port,
            "persistence true",
            "persistence_location %s/" % self.folder,
            "autosave_interval 3600",
            "max_queued_messages 0",  # a disconnected test subscriber loses nothing
            "user %s" % pwd.getpwuid(os.getuid()).pw_name,
            "log_dest stderr",
            "log_type all",
        ]
        if self.users:
            pw = self.folder / "passwd"
            pw.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(pw), user, password], check=True)
            lines += ["allow_anonymous false", "password_file %s" % pw]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            (self.folder / "acl").write_text(self.acl)
            lines.append("acl_file %s" % (self.folder / "acl"))
        if self.tls:
            lines += [
                "cafile %s" % self.tls["ca"],
                "certfile %s" % self.tls["server_cert"],
                "keyfile %s" % self.tls["server_key"],
                "require_certificate %s" % ("true" if self.require_certificate else "false"),
            ]
        lines += self.extra_conf
        (self.folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")

    def start(self, timeout_s=10.0):
        self._write_conf()
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.folder / "mosquitto.conf")],
                stdout=logf,
                stderr=logf,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while not _accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("test mosquitto did not start: %s" % self.log_tail())
            time.sleep(0.02)
        return self

    def stop(self):
        """A clean stop: mosquitto saves its persistence (sessions, queued messages)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def pause(self):
        """SIGSTOP: the socket stays open, nothing is answered (no PUBACK)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def log_tail(self, n=20):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def config(self, **kw):
        """A BrokerConfig pointing at this broker; keyword arguments override."""
        args = {"host": "127.0.0.1", "port": self.port, "keepalive": 30}
        if self.tls:
            args["tls"] = TlsConfig(ca=self.tls["ca"])
        args.update(kw)
        return BrokerConfig(**args)


class Subscriber:
    """A paho client in its own thread, QoS 1, a persistent session of its own: collects
    every message as (topic, payload dict, retain) so a test can wait for what it expects."""

    def __init__(self, broker, *filters, client_id=None, tls=None, username=None, password=None):
        self.messages = []
        self._cond = threading.Condition()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or "test-sub-%d" % id(self),
            protocol=paho.MQTTv5,
        )
        self.client.reconnect_delay_set(0.05, 0.5)
        if username:
            self.client.username_pw_set(username, password)
        tls = tls or (broker.tls and {"ca": broker.tls["ca"]})
        if tls:
            self.client.tls_set(
                ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key")
            )
        self._subscribed = threading.Event()

        def on_connect(client, userdata, flags, reason_code, properties):
            if not reason_code.is_failure:
                client.subscribe([(f, 1) for f in filters])

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self._subscribed.set()

        def on_message(client, userdata, msg):
            with self._cond:
                self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))
                self._cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", broker.port, 30, clean_start=False, properties=props)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("test subscriber could not subscribe: %s" % broker.log_tail())

    def wait_for(self, done, timeout_s=20.0):
        """Wait until done(messages) is true; returns the messages either way."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not done(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.messages)

    def snapshot(self):
        with self._cond:
            return list(self.messages)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(cond, timeout_s=20.0, step_s=0.02):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step_s)
    return cond()
