# `shaftgate events --follow` while serve runs: it reads serve's record through the socket,
# prints each new event as it is recorded, and never acknowledges (serve is the only host
# that does, R-DATA-2): not while serve runs, and not when serve goes away under it, when
# it must fail rather than open the port itself.
import json
import os
import queue
import subprocess
import threading
import time

import pytest
from serve_rig import SHAFTGATE, Mine

from gateway import events as ev

TAGS = (424301, 424302, 424303)  # unknown tags: each refused at once, one event each


@pytest.fixture
def mine(tmp_path):
    m = Mine(tmp_path / "mine", 1)
    try:
        m.start_serve("--no-publish")
        m.wait(m.all_answering, 30, "answering")
        # The board's clock, so its reads are logged at once (a link that reconnects just
        # after start fails the first order: asked again until done).
        m.wait(
            lambda: m.cli("time-set", "--now", "--all", "--why", "commissioning").returncode == 0,
            30,
            "the clock set",
        )
        yield m
    finally:
        m.close()


def _lines(proc):
    out = queue.Queue()

    def pump():
        for line in proc.stdout:
            out.put(line)
        out.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return out


def _until(lines, predicate, timeout_s, what):
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(json.loads(line))
        if predicate(seen):
            return seen
    raise AssertionError("no %s from events --follow; it printed %r" % (what, seen))


def test_follow_prints_new_events_as_recorded_and_never_acknowledges(mine):
    board = mine.boards["gw-shaft"]
    env = dict(os.environ, SHAFTGATE_HOME=str(mine.home))
    follow = subprocess.Popen(
        [str(SHAFTGATE), "events", "--gateway", "gw-shaft", "--follow", "--json", "--wait", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(follow)
        first = _until(lines, lambda s: s, 20, "catch-up document")[0]
        assert first["ack_note"] == "read from serve's record (serve alone acknowledges)"
        printed = []
        for tag in TAGS:  # one at a time: each shows up before the next is read
            board.read_tag(0, tag)
            printed += _until(lines, lambda s, t=tag: any(e.get("tag") == t for e in s), 40, tag)
        events = [e for e in printed if e.get("tag") in TAGS]
        assert [e["tag"] for e in events] == list(TAGS)
        seqs = [e["seq"] for e in printed]
        assert seqs == sorted(set(seqs))  # each once, in the gateway's order
        assert all(e["kind"] == ev.ENTRY_REFUSED for e in events), events

        # serve goes away: follow ends with an error and does not take the port to ack.
        mine.stop_serve()
        follow.wait(30)
        assert follow.returncode not in (0, None)
        assert "serve" in follow.stderr.read()
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    board.read_tag(0, 424309)
    held = mine.cli("status", "--gateway", "gw-shaft=%s" % board.port, "--json", check=True)
    status = json.loads(held.stdout)["status"]
    # Whatever serve had not acknowledged when it stopped, and the read since, is still
    # held: nobody else acknowledged (the follow process opened no port).
    assert status["unacked"] >= 1
    assert status["last_seq"] > max(seqs)
