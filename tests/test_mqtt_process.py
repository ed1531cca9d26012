"""station/mqtt_process.py: serve's publisher in a child process, against a real
Mosquitto. It publishes what the parent commits when woken, says "offline" on stop, is
started again if it dies (nothing lost), and never outlives a serve killed with -9
(R-DATA-2: one account of what is owed, one publisher for it)."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from mqtt_broker import Subscriber, wait_until
from test_mqtt_publisher import add_events, assert_in_order_once, events_of, open_db

from shaftgate.station import outbox
from shaftgate.station.mqtt_process import PublisherProcess

REPO = Path(__file__).resolve().parent.parent


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    stat = Path("/proc/%d/stat" % pid)
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_publishes_what_is_committed_and_says_offline_on_stop(mosquitto, tmp_path):
    path = tmp_path / "station.sqlite"
    conn = open_db(path)
    sub = Subscriber(mosquitto, "shaftgate/#")
    pub = PublisherProcess(path, mosquitto.config(), "m1", "serve-m1")
    try:
        pub.start()
        assert wait_until(lambda: pub.status()["connected"], 15)
        assert pub.pid is not None and pub.pid != os.getpid()
        add_events(conn, "m1", 1, 300)
        pub.wake()
        msgs = sub.wait_for(lambda m: len(events_of(m)) >= 300)
        assert_in_order_once(events_of(msgs), 1, 300)
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
        assert wait_until(lambda: pub.status()["published"] == 300, 5)
        child = pub.pid
        assert pub.restarts == 0
        pub.stop()
        assert not _alive(child)
        presence = [p["state"] for t, p, _ in sub.snapshot() if "/presence/" in t]
        assert presence[-2:] == ["online", "offline"]
    finally:
        pub.stop()
        sub.close()
        conn.close()


def test_a_child_that_dies_is_started_again_and_nothing_is_lost(mosquitto, tmp_path):
    path = tmp_path / "station.sqlite"
    conn = open_db(path)
    sub = Subscriber(mosquitto, "shaftgate/+/event/#")
    pub = PublisherProcess(path, mosquitto.config(), "m1", "serve-m1")
    try:
        pub.start()
        assert wait_until(lambda: pub.status()["connected"], 15)
        first = pub.pid
        add_events(conn, "m1", 1, 2000)
        pub.wake()
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: pub.restarts == 1, 10)
        assert wait_until(lambda: pub.pid not in (None, first) and pub.status()["connected"], 15)
        add_events(conn, "m1", 2001, 2100)
        pub.wake()
        msgs = sub.wait_for(lambda m: len({p["id"] for p in events_of(m)}) >= 2100, 30)
        assert_in_order_once(events_of(msgs), 1, 2100)
        assert wait_until(lambda: outbox.pending(conn) == 0, 10)
    finally:
        pub.stop()
        sub.close()
        conn.close()


def test_a_child_that_stops_reading_holds_up_no_wake_and_is_killed_on_stop(mosquitto, tmp_path):
    # Link threads call wake() after every commit: a hung child must not block them.
    path = tmp_path / "station.sqlite"
    conn = open_db(path)
    pub = PublisherProcess(path, mosquitto.config(), "m1", "serve-m1")
    try:
        pub.start()
        assert wait_until(lambda: pub.status()["connected"], 15)
        child = pub.pid
        os.kill(child, signal.SIGSTOP)
        woke = threading.Thread(target=lambda: [pub.wake() for _ in range(200_000)])
        woke.start()
        woke.join(30)  # 200,000 wakes are 400 KB: far past what a pipe holds
        assert not woke.is_alive()
        stopper = threading.Thread(target=pub.stop, kwargs={"timeout_s": 1.0})
        stopper.start()
        stopper.join(15)
        assert not stopper.is_alive() and not _alive(child)
        assert pub.restarts == 0  # stopped on purpose: not started again
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGCONT)
        pub.stop()
        conn.close()


def test_never_outlives_a_serve_killed_with_minus_9(mosquitto, tmp_path):
    # The parent is a separate Python standing in for serve; it prints its child's pid.
    path = tmp_path / "station.sqlite"
    open_db(path).close()
    script = textwrap.dedent(
        """
        import sys, time
        sys.path[:0] = [%r]
        from shaftgate.station.broker import BrokerConfig
        from shaftgate.station.mqtt_process import PublisherProcess
        p = PublisherProcess(%r, BrokerConfig("127.0.0.1", %d), "m1", "serve-m1")
        p.start()
        while not p.status()["connected"]:
            time.sleep(0.02)
        print(p.pid, flush=True)
        time.sleep(600)
        """
        % (str(REPO / "host_tools"), str(path), mosquitto.port)
    )
    sub = Subscriber(mosquitto, "shaftgate/+/presence/#")
    serve = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(serve.stdout.readline())
        time.sleep(0.5)
        assert _alive(child)  # while serve lives, so does its publisher
        serve.kill()
        serve.wait()
        assert wait_until(lambda: not _alive(child), 5)
        # The connection dropped without a goodbye: the broker published the will.
        msgs = sub.wait_for(lambda m: [p["state"] for _, p, _ in m][-1:] == ["offline"], 10)
        assert [p["state"] for _, p, _ in msgs][-2:] == ["online", "offline"]
    finally:
        if serve.poll() is None:
            serve.kill()
        sub.close()
