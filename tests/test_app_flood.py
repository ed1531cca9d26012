# The audit trail cannot be silenced without the key (issue 13, R-DATA-2): a flood of
# forged frames is counted, pooled into a few AUTH_REJECTED events and costs no flash
# write each; authentic orders after it are accepted and logged, an evacuation above
# all. A command the log has no room for is refused, never run unlogged; an ack and an
# evacuation still get through where other commands are refused.
from apprig import KEY, NOW_S, OTHER_KEY, Rig, of_kind, roster_entry

from gateway import events as ev
from gateway import rejects
from gatewire import auth, cbor, frame, messages
from gatewire.errors import E_FULL

FLOOD = 3000


def forged_frames(rig, n):
    # Unsigned, wrong-key and replayed commands, in turn: what a peer without the key
    # can send. The replayed one is a captured authentic seal.
    captured = rig.envelope("seal")
    rig.send(captured)
    assert rig.reply_to("seal", captured[messages.KEY_ID]).ok
    assert rig.call("unseal") == {}
    frames = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            env = messages.request("evacuate", 1 + i, reason=1, drill=False)
        elif kind == 1:
            env = messages.request("seal", 1 + i)
            auth.sign(env, OTHER_KEY, 10**12 + i)
        else:
            env = captured
        frames.append(frame.encode(cbor.dumps(env)))
    return frames


class CountingFlash:
    def __init__(self, inner):
        self.inner = inner
        self.writes = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def append(self, name, data):
        self.writes += 1
        return self.inner.append(name, data)

    def write(self, name, data):
        self.writes += 1
        return self.inner.write(name, data)


def test_a_flood_of_forged_frames_holds_back_no_authentic_order_and_is_counted():
    rig = Rig()
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster([roster_entry(t) for t in (1, 2, 3)])
    rig.ready()
    frames = forged_frames(rig, FLOOD)
    seq0 = rig.last_seq()
    unacked0 = rig.gw.log.unacked()
    counting = CountingFlash(rig.gw.flash)
    rig.gw.flash = counting
    rig.gw.log._flash = counting
    for sent, f in enumerate(frames, 1):
        rig.board.rx.extend(f)
        if sent % 4 == 0:
            rig.step(50)  # ~80 frames a second: the link's limit at 115 200 baud
    rig.step(50, 20)
    minutes = FLOOD // 4 * 50 // 60000 + 1
    # Cheap for the gateway: a handful of events and flash writes for thousands of frames.
    assert counting.writes <= rejects.BURST_EVENTS + minutes + 2
    assert rig.gw.log.unacked() - unacked0 <= rejects.BURST_EVENTS + minutes + 2
    assert rig.gw.rejects.total == FLOOD
    # Authentic orders right after the flood: accepted and logged, every one.
    rig.inbox = []
    for name, fields in (
        ("time-set", {"time_s": rig.board.rtc + 30}),
        ("seal", {}),
        ("unseal", {}),
        ("cap-override", {"cap": 2, "expiry_s": NOW_S + 3600, "reason": "rectification"}),
        ("evacuate", {"reason": 1, "drill": False}),
    ):
        r = rig.request(name, **fields)
        assert r.ok, (name, r)
    rig.run_s(120)  # the pooled count goes out as the minute's token comes back
    evs = rig.events_after(seq0)
    commands = [e[3] for e in of_kind(evs, ev.COMMAND)]
    assert commands == [
        messages.TIME_SET,
        messages.SEAL,
        messages.UNSEAL,
        messages.CAP_OVERRIDE,
        messages.EVACUATE,
    ]
    for kind in (ev.TIME_SET, ev.SEALED, ev.UNSEALED, ev.CAP_OVERRIDE_SET, ev.EVAC_START):
        assert of_kind(evs, kind), kind
    # Nothing lost from the count: every forged frame is in some event's b.
    rejected = of_kind(evs, ev.AUTH_REJECTED)
    assert sum(e[5] for e in rejected) + rig.gw.rejects.pending == FLOOD
    assert rig.gw.rejects.pending == 0
    assert not of_kind(evs, ev.COMMAND_REFUSED)
    assert rig.gw.lost_events == 0


def test_rejections_are_only_counted_while_the_log_is_a_quarter_full():
    rig = Rig(config={"log_capacity": 256})
    rig.ready()
    from test_app_log_full import _bad_reads

    _bad_reads(rig, 64 - rig.gw.log.unacked())
    assert rig.gw.log.unacked() * 4 >= 256
    before = rig.gw.log.last_seq
    r = rig.request("seal", signed=False)
    assert not r.ok
    rig.run_s(61)
    assert not of_kind(rig.events_after(before), ev.AUTH_REJECTED)
    assert rig.gw.rejects.pending == 1
    # Not firing once acks made room: the count goes out.
    rig.ack(rig.last_seq())
    rig.run_s(61)
    rejected = of_kind(rig.events_after(before), ev.AUTH_REJECTED)
    assert [e[5] for e in rejected] == [1] and rig.gw.rejects.pending == 0


def test_a_command_the_log_has_no_room_for_is_refused_but_ack_and_evacuate_get_through():
    rig = Rig(config={"log_capacity": 1024})  # reserve 64: commands need 32, evacuate 8
    rig.load_roster([roster_entry(t) for t in (1, 2, 3)])
    rig.ready()
    from test_app_log_full import _bad_reads

    _bad_reads(rig, 1024)  # crossings-like events fill every ordinary place
    log = rig.gw.log
    assert log.unacked() >= log.capacity - log.reserve
    # Not firing: commands still fit the reserve.
    assert rig.request("seal").ok
    assert rig.request("unseal").ok
    while log.capacity - log.unacked() >= log.reserve // 2:
        assert rig.request("time-set", time_s=rig.board.rtc + 1).ok
    # Firing: no room left for an ordinary command's events: refused, nothing changed.
    r = rig.request("cap-override", cap=2, expiry_s=NOW_S + 3600, reason="rectification")
    assert not r.ok and r.code == E_FULL and "ack" in r.text
    assert rig.call("status")["override_active"] is False
    # An evacuation still gets through, logged.
    before = log.last_seq
    lost = rig.gw.lost_events  # the ordinary events the full log dropped above
    assert rig.request("evacuate", reason=1, drill=False).ok
    assert rig.call("status")["evacuating"]
    evs = rig.events_after(before)
    assert of_kind(evs, ev.EVAC_START) and of_kind(evs, ev.COMMAND)
    assert rig.gw.lost_events == lost
    # And an ack, which makes the room back.
    rig.ack(log.last_seq)
    assert rig.request("cap-override", cap=2, expiry_s=NOW_S + 3600, reason="rectification").ok


def test_the_forged_frames_key_is_not_the_gateways():
    assert OTHER_KEY != KEY
