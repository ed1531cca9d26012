# A gateway whose log no longer holds events the record never had (another host acked
# them and the room was reused): serve raises the R-DATA-2 alarm, stores nothing past the
# gap, and goes on only when an operator with the authority accepts the gap.
import sqlite3
import time

import pytest
from fake_gateway import KEY, FakeGateway

from gateway import events as ev
from shaftgate.cli.selfcheck import PtyPeer
from shaftgate.station import site as site_file
from shaftgate.station.control import ControlError, ControlServer
from shaftgate.station.serve import Station


def wait(cond, timeout_s=15):
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def station(tmp_path):
    gw = FakeGateway("gw-face1", flash_root=str(tmp_path / "flash"))
    peer = PtyPeer(gw.handle_on_pty)
    gw.attach(peer.send)
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "gw-face1.key").write_bytes(KEY)
    (keys / "gw-face1.key").chmod(0o600)
    (tmp_path / "site.toml").write_text(
        "\n".join(
            [
                "[mine]",
                'id = "m"',
                'time_zone = "Asia/Shanghai"',
                "[serve]",
                "clock_drift_s = 86400",
                "[[gateways]]",
                'id = "gw-face1"',
                'port = "%s"' % peer.path,
                'zone = "face1"',
                'kind = "coal_face"',
                "[operators.wang]",
                'name = "Wang"',
                'authority = ["admin"]',
                "[operators.li]",
                'name = "Li"',
                'authority = ["orders"]',
            ]
        )
    )
    st = Station(site_file.load(tmp_path / "site.toml"), publish=False)
    server = ControlServer(st, tmp_path / "serve.sock")
    st.start()
    try:
        yield gw, st, server
    finally:
        server.stop()
        st.stop()
        gw.attach(None)
        peer.stop()


def test_missing_events_are_a_chain_alarm_until_an_operator_accepts_the_gap(station):
    gw, st, server = station
    for tag in (11, 12, 13):
        gw.emit(ev.ENTRY, tag, 500 + tag, 1)
    wait(lambda: st.store.position("gw-face1")[0] == 3)
    # Serve stops hearing it for a while; another host acks 4..8 and the room is reused.
    gw.silent = True
    for tag in range(14, 19):
        gw.emit(ev.ENTRY, tag, 500 + tag, 1)
    gw.log.ack(8)
    gw.ignore_from_seq = True
    gw.silent = False
    gw.emit(ev.ENTRY, 19, 519, 1)
    wait(lambda: "chain:gw-face1" in st.alarms.active)
    assert "R-DATA-2" in st.alarms.active["chain:gw-face1"]["text"]
    time.sleep(0.5)
    assert st.store.position("gw-face1")[0] == 3  # nothing stored past the gap
    assert st.store.read("SELECT * FROM gaps") == []
    with pytest.raises(ControlError, match="no authority"):
        server.handle({"op": "accept-gap", "gateway": "gw-face1", "operator": "li", "reason": "x"})
    with pytest.raises(ControlError, match="needs a reason"):
        server.handle({"op": "accept-gap", "gateway": "gw-face1", "operator": "wang"})
    assert "chain:gw-face1" in st.alarms.active
    reply = server.handle(
        {
            "op": "accept-gap",
            "gateway": "gw-face1",
            "operator": "wang",
            "reason": "lamp-room laptop acked them",
        }
    )
    assert reply["results"][0]["result"]["gaps"] == [[4, 8]]
    assert "chain:gw-face1" not in st.alarms.active
    assert st.store.read("SELECT first_seq, last_seq FROM gaps") == [(4, 8)]
    assert st.store.position("gw-face1")[0] >= 9
    order = st.store.orders(1)[0]
    assert (order["operator"], order["command"]) == ("wang", "accept gap")
    assert order["reason"] == "lamp-room laptop acked them"


def test_a_link_survives_a_record_that_fails_and_nothing_is_acked_meanwhile(station):
    gw, st, _ = station
    real = st.alarms.on_events
    failures = []

    def fail_twice(conn, gid, events):
        if len(failures) < 2:
            failures.append(len(events))
            raise sqlite3.OperationalError("database is locked")
        return real(conn, gid, events)

    st.alarms.on_events = fail_twice
    gw.emit(ev.ENTRY, 21, 521, 1)
    wait(lambda: len(failures) == 2)
    assert gw.acks_received == 0 and st.store.count_events() == 0
    wait(lambda: st.store.position("gw-face1")[0] >= 1)  # the same link, recording again
    wait(lambda: gw.acks_received >= 1)
    assert st.links["gw-face1"].is_alive()


def test_serve_checks_an_orders_input_itself_whoever_sends_it(station):
    # A client that skips the CLI's checks (a script on the socket) changes nothing either.
    gw, st, server = station
    bad = {"permit_id": 7, "job_id": 3, "measure_ref": "HW-1", "end": "+4h", "workers": "501"}
    request = {"op": "run", "command": "permit issue", "targets": ["gw-face1"]}
    request.update(operator="li", reason="welding the conveyor head")
    with pytest.raises(ControlError, match="say what the permit is for"):
        server.handle(dict(request, args=bad))
    with pytest.raises(ControlError, match="needs --fire-watcher"):
        server.handle(dict(request, args=dict(bad, hot_work=True)))
    assert "permit-issue" not in gw.requests
    assert st.store.orders(5) == []
    good = dict(bad, hot_work=True, fire_watcher=502)
    wait(lambda: st.links["gw-face1"].state.connected)
    reply = server.handle(dict(request, args=good))
    assert "result" in reply["results"][0], reply
    assert "permit-issue" in gw.accepted


def test_an_operator_tied_to_an_account_is_refused_from_another(station):
    import os
    import pwd

    gw, st, server = station
    me = pwd.getpwuid(os.getuid()).pw_name
    li = st.site.operators["li"]
    request = {"op": "run", "command": "seal", "targets": ["gw-face1"], "operator": "li"}
    request.update(args={"reason": None}, reason="roof fall")
    st.site.operators["li"] = li._replace(user="li-" + me)
    with pytest.raises(ControlError, match="comes from %s" % me):
        server.handle(request, uid=os.getuid())
    assert "seal" not in gw.requests and st.store.orders(5) == []
    st.site.operators["li"] = li._replace(user=me)
    wait(lambda: st.links["gw-face1"].state.connected)
    reply = server.handle(request, uid=os.getuid())
    assert "result" in reply["results"][0], reply
    assert "seal" in gw.accepted
