# Every queue on the way from a reader to the broker stays in its bound and says so when
# full (issue 13, "Load"): serve's per-link order queue refuses the one past its bound
# with an error naming it; the pushed-event queue drops from memory only, counts it and
# serve's row and log say so; the outbox (never trimmed: what it owes is evidence)
# raises outbox_full at its bound; the gateway pushes at most a window beyond the host's
# ack and holds the rest on flash. The gateway's log full (LOG_FULL, entries refused)
# and the pooled rejections are tests/test_app_log_full.py and tests/test_app_flood.py.
import logging
import time

from apprig import Rig, roster_entry
from mqtt_broker import TestMosquitto
from serve_rig import Mine

from shaftgate.link.client import PUSHED_MAX, GatewayClient
from shaftgate.station import links
from shaftgate.station import site as site_file

SITE = """\
[mine]
id = "q-mine"
name = "q"
time_zone = "Asia/Shanghai"

[[gateways]]
id = "gw-shaft"
port = "/dev/ttyS91"
zone = "shaft"
kind = "shaft"
"""


def _link(tmp_path):
    (tmp_path / "site.toml").write_text(SITE)
    site = site_file.load(tmp_path / "site.toml")
    link = links.GatewayLink(site.gateways[0], station=None)
    link.state.connected = True  # its thread is not running: orders only queue
    return link


def test_a_links_order_queue_refuses_the_order_past_its_bound_saying_so(tmp_path, caplog):
    link = _link(tmp_path)
    queued = [link.submit(lambda client: "ran") for _ in range(links.ORDERS_MAX)]
    # Not firing: up to the bound every order waits its turn.
    assert not any(f.done() for f in queued)
    assert link.state.row()["orders_waiting"] == links.ORDERS_MAX
    assert link.state.row()["orders_refused_full"] == 0
    with caplog.at_level(logging.WARNING, "shaftgate.serve"):
        late = link.submit(lambda client: "ran")
    assert late.done()
    e = late.exception()
    assert isinstance(e, links.OrdersFull)
    assert "%d orders waiting" % links.ORDERS_MAX in str(e) and "gw-shaft" in str(e)
    assert "not carried out" in str(e)
    assert link.state.row()["orders_refused_full"] == 1
    assert "one more refused" in caplog.text
    # Once the link runs them, there is room again.
    link._run_orders(_NoClient())
    assert [f.result() for f in queued] == ["ran"] * links.ORDERS_MAX
    assert not link.submit(lambda client: "ran").done()


class _NoClient:
    pushed_dropped = 0

    def pushed(self):
        return []


def _event(seq):
    return {"seq": seq, "time_s": 0, "kind": 1, "tag": seq, "a": 0, "b": 0, "digest": b"x" * 16}


def test_pushed_events_past_the_bound_are_dropped_from_memory_and_serve_says_so(tmp_path, caplog):
    client = GatewayClient(None, "gw-shaft")
    for seq in range(1, PUSHED_MAX + 1):
        client._queue_pushed(_event(seq))
    link = _link(tmp_path)
    link._note_queues(client)
    # Not firing: exactly the bound is held, nothing dropped, nothing said.
    assert client.pushed_dropped == 0 and link.state.row()["pushed_dropped"] == 0
    assert link.state.row()["pushed_waiting"] == PUSHED_MAX
    for seq in range(PUSHED_MAX + 1, PUSHED_MAX + 6):
        client._queue_pushed(_event(seq))
    assert len(client.pushed()) == PUSHED_MAX  # in its bound
    assert client.pushed()[0]["seq"] == 6  # the oldest went; events-since fetches them
    with caplog.at_level(logging.WARNING, "shaftgate.serve"):
        link._note_queues(client)
    assert link.state.row()["pushed_dropped"] == 5
    assert "5 pushed events dropped" in caplog.text


def _alarm_keys(mine):
    return {a["key"] for a in mine.call({"op": "alarms"})["alarms"]}


def test_the_outbox_says_it_is_full_at_its_bound_and_not_below(tmp_path):
    broker = TestMosquitto(tmp_path).start()
    conf = 'host = "127.0.0.1"\nport = %d' % broker.port
    full = Mine(tmp_path / "full", 1, extra_serve="feed_late_s = 3600\noutbox_max = 5", broker=conf)
    roomy = Mine(tmp_path / "roomy", 1, extra_serve="feed_late_s = 3600", broker=conf)
    try:
        for m in (full, roomy):
            m.start_serve()
            m.wait(lambda m=m: m.call({"op": "status"})["mqtt"].get("connected"), 20, "mqtt")
        broker.stop()  # from here on everything is owed
        for m in (full, roomy):
            for tag in range(900001, 900009):  # unknown tags: refused, an event each
                m.boards["gw-shaft"].read_tag(0, tag)
        full.wait(lambda: "outbox_full" in _alarm_keys(full), 20, "outbox_full")
        alarm = next(a for a in full.call({"op": "alarms"})["alarms"] if a["key"] == "outbox_full")
        assert alarm["detail"]["bound"] == 5 and alarm["detail"]["owed"] >= 5
        assert "outbox_max" in alarm["text"]
        # Not firing: the same backlog under the default bound, and feed_late_s not yet.
        time.sleep(2)
        assert not {"outbox_full", "feed_late"} & _alarm_keys(roomy)
        broker.start()
        full.wait(lambda: "outbox_full" not in _alarm_keys(full), 30, "outbox drained")
    finally:
        full.close()
        roomy.close()
        broker.stop()


def test_the_gateway_pushes_a_window_beyond_the_ack_and_holds_the_rest_on_flash():
    rig = Rig()
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster([roster_entry(t) for t in range(1, 80)])
    rig.ready()
    rig.ack(rig.last_seq())
    rig.pushed = []
    acked = rig.gw.log.acked  # the ack's own COMMAND event came after it
    for t in range(1, 80):
        rig.cross(t)
    status = rig.call("status")
    held = status["last_seq"] - acked
    assert held > 64
    # In its bound: pushed up to the window beyond the ack, the rest on flash, and the
    # status says how many the host owes an ack for.
    assert max(e[0] for e in rig.pushed) == acked + 64
    assert status["unacked"] == held
    rig.ack(acked + 64)
    rig.step(100, 20)
    # Not firing: with room again it pushes on.
    assert max(e[0] for e in rig.pushed) > acked + 64
