# micropython-test
# The interlocks together (R-VIDEO-1/2, R-GAS-1/2, R-HOT-1/2, R-EVAC-1..3): the relay
# decisions, lamp and sounder demands and entry refusal that app.py copies to the board.
import gc

from interlock_rig import T0_S, ZONE, Log, Rig
from mpcheck import raises

from gateway import config, events, permits
from gateway.caps import EPOCH_S
from gateway.interlocks import (
    LAMP_AMBER,
    LAMP_NONE,
    LAMP_RED,
    PERMIT_CAPACITY_MAX,
    Interlocks,
    from_config,
)
from gateway.permits import KEY_MAINTENANCE
from gateway.reasons import (
    ALARM_EVACUATION,
    ALARM_FIRE_WATCH,
    ALARM_GAS_FAULT,
    ALARM_GAS_HIGH,
    ALARM_VIDEO,
    CAUSE_DISPATCHER,
    CAUSE_GAS,
    CAUSE_TEAM_LEADER,
    EVAC_REASON_DRILL,
    EVAC_REASON_FLOOD_WARNING,
    OK,
    REFUSE_GAS_NOT_SAFE,
    REFUSE_UNKNOWN_PERMIT,
    WHY_CLOCK_UNSET,
    WHY_EVACUATION,
    WHY_GAS_HIGH,
    WHY_GAS_HOT,
    WHY_GAS_UNKNOWN,
    WHY_NO_PERMIT,
    WHY_PERMIT_CHANGED,
    WHY_VIDEO,
    WHY_WATCHER_ABSENT,
    WHY_WORKER_ABSENT,
)
from gatewire.errors import ProtocolError

WATCHER = 50


def _hot_rig(**kw):
    # Ready for work, a hot-work permit open, the watcher and a worker in: hot relay on.
    r = Rig(**kw).ready()
    assert r.hot_permit(7) == OK
    r.people.enter(WATCHER, 51)
    r.step()
    assert r.il.hot_relay and r.il.hot_reasons == 0, r.il.hot_reasons
    r.log.clear()
    return r


def test_after_boot_everything_is_off_until_inputs_are_known():
    # Fail safe: no relay before a fresh heartbeat plus hold-off and a healthy gas sample.
    r = Rig()
    il = r.il
    assert not il.work_relay and not il.hot_relay
    assert il.work_reasons == WHY_VIDEO | WHY_GAS_UNKNOWN
    r.step()
    assert not il.work_relay and il.gas.known  # gas known, both hold-offs running
    assert il.work_reasons == WHY_VIDEO | WHY_GAS_UNKNOWN
    r.run(5)
    assert not il.work_relay  # the first beat change came at the 2nd step: 5 s from then
    r.step()
    assert il.work_relay and il.work_reasons == 0
    assert il.lamp_demand == LAMP_NONE and not il.sounder and not il.entry_refused
    assert r.log.kinds() == [events.VIDEO_OK, events.WORK_ON]


def test_inputs_drop_relays_but_only_tick_raises_them():
    r = Rig()
    r.run(7)
    assert r.il.work_relay
    r.camera_alive[0] = False
    r.run(11)
    assert not r.il.work_relay
    r.camera_alive[0] = True
    r.run(5)
    # The next beat completes the hold-off: conditions hold, yet the input alone does not
    # raise the relay; the tick that follows it in the same step does.
    r.now_ms += 1000
    r.beats[0] = r.now_ms
    r.il.on_video(r.beats, 1, r.now_ms)
    r.il.on_gas(2000, 0, 0, r.now_ms)
    assert r.il.video.ok and r.il.work_reasons == 0 and not r.il.work_relay
    r.il.tick(r.now_ms, r.now_s, 0)
    assert r.il.work_relay


def test_video_lost_drops_the_work_relay_at_once_and_alarms():
    # R-VIDEO-1 firing, then the hold-off before work returns.
    r = Rig().ready()
    r.log.clear()
    r.camera_alive[0] = False
    r.run(10)
    assert r.il.work_relay  # 10 s old beat: exactly the timeout, not yet lost
    r.step(1)
    assert not r.il.work_relay and r.il.work_reasons == WHY_VIDEO
    assert r.il.alarms == ALARM_VIDEO and r.il.sounder and r.il.lamp_demand == LAMP_AMBER
    assert r.log.kinds() == [events.VIDEO_LOST, events.WORK_OFF]
    assert r.log.of(events.WORK_OFF)[0][2] == WHY_VIDEO
    r.camera_alive[0] = True
    r.run(5)  # live again from the first of these steps: 4 s of the 5 s hold-off
    assert not r.il.work_relay and r.il.alarms == 0
    r.run(1)
    assert r.il.work_relay


def test_methane_at_the_stop_level_drops_the_work_relay():
    # R-GAS-1: 1.0 % stops work; 0.9999 % does not.
    r = Rig().ready()
    r.jitter = False
    r.ch4_ppm = 9999
    r.step()
    assert r.il.work_relay and r.il.lamp_demand == LAMP_NONE
    r.ch4_ppm = 10000
    r.step()
    assert not r.il.work_relay and r.il.work_reasons == WHY_GAS_HIGH
    assert not r.il.evacuation.active
    assert r.il.alarms == ALARM_GAS_HIGH and r.il.lamp_demand == LAMP_RED and r.il.sounder
    assert r.log.of(events.GAS_OVER) == [(events.GAS_OVER, 1, 10000, 10000)]
    r.ch4_ppm = 4000
    r.step()
    assert not r.il.work_relay and r.il.work_reasons == WHY_GAS_HIGH  # the gas hold-off
    assert r.il.alarms == 0 and r.il.lamp_demand == LAMP_NONE  # the alarm ends at once
    assert r.log.of(events.GAS_OVER_END)[0][2] == 10000
    r.run(5)
    assert r.il.work_relay


def test_methane_at_one_and_a_half_percent_evacuates_the_zone():
    # R-GAS-1 withdraw the workers; the all-clear waits for safe gas.
    r = _hot_rig()
    r.ch4_ppm = 15000
    r.step()
    il = r.il
    assert il.evacuation.active and il.entry_refused
    assert not il.work_relay and not il.hot_relay
    assert il.work_reasons & WHY_EVACUATION and il.work_reasons & WHY_GAS_HIGH
    assert il.alarms & ALARM_EVACUATION and il.lamp_demand == LAMP_RED and il.sounder
    kinds = r.log.kinds()
    assert kinds.index(events.EVAC_START) < kinds.index(events.HOT_OFF)
    assert r.log.of(events.EVAC_START) == [(events.EVAC_START, 0, CAUSE_GAS, 1)]
    r.ch4_ppm = 12000
    r.step()
    assert il.all_clear(0, r.now_ms) == REFUSE_GAS_NOT_SAFE
    r.ch4_ppm = 3000
    r.step()
    assert il.all_clear(0, r.now_ms) == REFUSE_GAS_NOT_SAFE  # safe for the hold-off first
    r.run(5)
    assert il.evacuation.active and not il.work_relay  # gas safe, but no all-clear yet
    assert il.all_clear(0, r.now_ms) == OK
    r.step()
    assert il.work_relay and il.hot_relay and not il.entry_refused


def test_co_at_its_limit_evacuates_and_just_below_does_not():
    r = Rig().ready()
    r.co_ppm = 23
    r.run(3)
    assert r.il.work_relay and not r.il.evacuation.active
    r.co_ppm = 24
    r.step()
    assert r.il.evacuation.active and not r.il.work_relay


def test_a_gas_sensor_fault_stops_work_and_alarms_but_does_not_evacuate():
    r = Rig().ready()
    r.gas_flags = 1
    r.step()
    assert not r.il.work_relay and r.il.work_reasons == WHY_GAS_UNKNOWN
    assert r.il.alarms == ALARM_GAS_FAULT and r.il.lamp_demand == LAMP_AMBER and r.il.sounder
    assert not r.il.evacuation.active and not r.il.entry_refused
    r.gas_flags = 0
    r.step()
    assert not r.il.work_relay and r.il.alarms == 0  # the fault alarm ends, the hold-off runs
    r.run(5)
    assert r.il.work_relay


def test_a_silent_gas_sensor_stops_work():
    r = Rig().ready()
    r.gas_alive = False
    r.run(5)
    assert r.il.work_relay  # exactly silent_ms: not yet
    r.step(1)
    assert not r.il.work_relay and r.il.alarms == ALARM_GAS_FAULT


def test_a_flapping_gas_sensor_does_not_chatter_the_relays():
    # R-GAS-1 hold-off firing: faulty and healthy by turns, both relays stay off with one
    # WORK_OFF and one HOT_OFF on record, and come back only after 5 s of healthy gas.
    r = _hot_rig()
    for i in range(20):
        r.gas_flags = 0 if i & 1 else 4
        r.step()
        assert not r.il.work_relay and not r.il.hot_relay, i
        assert r.il.work_reasons == WHY_GAS_UNKNOWN, i
        assert bool(r.il.alarms & ALARM_GAS_FAULT) == (not i & 1), i  # the alarm tells
    assert r.log.kinds().count(events.HOT_OFF) == 1
    assert r.log.kinds().count(events.WORK_OFF) == 1
    assert not r.log.of(events.WORK_ON) and not r.log.of(events.HOT_ON)
    r.gas_flags = 0
    r.run(4)  # the last of the 20 steps was healthy: 4 s of the 5 s hold-off
    assert not r.il.work_relay and not r.il.hot_relay
    assert r.il.work_reasons == WHY_GAS_UNKNOWN and r.il.alarms == 0
    r.step()
    assert r.il.work_relay and r.il.hot_relay
    assert len(r.log.of(events.WORK_ON)) == 1 and len(r.log.of(events.HOT_ON)) == 1


def test_methane_hovering_at_the_stop_level_does_not_chatter_the_work_relay():
    # R-GAS-1 hold-off firing: 1.0 % and 0.9999 % by turns keep work stopped.
    r = Rig().ready()
    r.jitter = False
    r.log.clear()
    for i in range(20):
        r.ch4_ppm = 9999 if i & 1 else 10000
        r.step()
        assert not r.il.work_relay and r.il.work_reasons == WHY_GAS_HIGH, i
        assert bool(r.il.alarms & ALARM_GAS_HIGH) == (not i & 1), i
    assert r.log.kinds().count(events.WORK_OFF) == 1 and not r.log.of(events.WORK_ON)
    assert len(r.log.of(events.GAS_OVER)) == 10  # R-GAS-2: every exceedance on record
    r.ch4_ppm = 4000
    r.run(4)
    assert not r.il.work_relay
    r.step()
    assert r.il.work_relay and len(r.log.of(events.WORK_ON)) == 1


def test_methane_hovering_at_the_hot_work_limit_does_not_chatter_the_hot_relay():
    # R-HOT-2: 0.5 % and just over by turns keep hot work stopped; work goes on.
    r = _hot_rig()
    r.jitter = False
    for i in range(10):
        r.ch4_ppm = 5000 if i & 1 else 5001
        r.step()
        assert not r.il.hot_relay and r.il.hot_reasons == WHY_GAS_HOT, i
        assert r.il.work_relay, i
    assert r.log.kinds() == [events.HOT_OFF]
    r.ch4_ppm = 3000
    r.run(4)
    assert not r.il.hot_relay
    r.step()
    assert r.il.hot_relay and r.log.kinds() == [events.HOT_OFF, events.HOT_ON]


def test_steady_healthy_gas_gives_work_after_the_gas_holdoff():
    # Not firing: without a video hold-off, healthy gas from the first step gives work
    # 5 s after that sample, and it stays on.
    r = Rig(video_holdoff_ms=0)
    for _ in range(5):
        r.step()
        assert not r.il.work_relay and r.il.work_reasons & WHY_GAS_UNKNOWN
    assert r.il.work_reasons == WHY_GAS_UNKNOWN and r.il.alarms == 0  # video is back
    r.step()
    assert r.il.work_relay
    r.run(60)
    assert r.il.work_relay and r.log.kinds() == [events.VIDEO_OK, events.WORK_ON]


def test_no_gas_holdoff_means_work_returns_at_once():
    # Not firing: gas_holdoff_ms = 0 behaves as before the hold-off existed.
    r = Rig(gas_holdoff_ms=0).ready()
    r.gas_flags = 1
    r.step()
    assert not r.il.work_relay
    r.gas_flags = 0
    r.step()
    assert r.il.work_relay
    r.ch4_ppm = 10000
    r.step()
    assert not r.il.work_relay
    r.ch4_ppm = 4000
    r.step()
    assert r.il.work_relay


def test_the_hot_work_relay_needs_every_condition():
    # R-HOT-1, R-HOT-2 not firing: with everything in place the relay is on.
    r = _hot_rig()
    r.run(30)
    assert r.il.hot_relay and r.il.work_relay
    assert not r.log.of(events.HOT_OFF)


def _drops_hot(change, why, **kw):
    r = _hot_rig(**kw)
    change(r)
    r.step()
    assert not r.il.hot_relay, why
    off = r.log.of(events.HOT_OFF)
    assert len(off) == 1 and off[0][1] == 7 and off[0][2] & why, (off, why)
    assert r.il.hot_reasons & why
    return r


def test_each_failing_condition_drops_the_hot_work_relay_naming_it():
    # R-HOT-1, R-HOT-2 firing, one condition at a time.
    _drops_hot(lambda r: r.people.leave(WATCHER), WHY_WATCHER_ABSENT)
    _drops_hot(lambda r: r.people.leave(51), WHY_WORKER_ABSENT)

    def methane(r):
        r.ch4_ppm = 5001

    r = _drops_hot(methane, WHY_GAS_HOT)
    assert r.il.work_relay  # 0.5 % stops hot work only

    def co(r):
        r.co_ppm = 24

    _drops_hot(co, WHY_GAS_HIGH)

    def fault(r):
        r.gas_flags = 2

    _drops_hot(fault, WHY_GAS_UNKNOWN)

    def evacuate(r):
        r.il.evacuate(CAUSE_TEAM_LEADER, 77, EVAC_REASON_FLOOD_WARNING, False, r.now_ms)
        assert not r.il.hot_relay  # at once, not at the next tick

    _drops_hot(evacuate, WHY_EVACUATION)

    def revoke(r):
        assert r.il.revoke_permit(7, r.now_ms) == OK
        assert not r.il.hot_relay

    _drops_hot(revoke, WHY_NO_PERMIT)

    def clock_lost(r):
        r.now_s = 0

    _drops_hot(clock_lost, WHY_CLOCK_UNSET)

    def window_over(r):
        r.now_s += 3600

    _drops_hot(window_over, WHY_NO_PERMIT)


def test_video_lost_drops_the_hot_work_relay_too():
    r = _hot_rig()
    r.camera_alive[0] = False
    r.run(11)
    assert not r.il.hot_relay and r.il.hot_reasons & WHY_VIDEO
    assert r.log.of(events.HOT_OFF)[0][2] & WHY_VIDEO


def test_one_ticket_at_a_time_the_relay_drops_between_two_permits():
    # R-HOT-1: back-to-back permits never share one energised period.
    r = Rig().ready()
    assert r.hot_permit(7, length_s=10) == OK
    assert r.hot_permit(8, start_off_s=10, length_s=600, watcher=WATCHER, workers=(51,)) == OK
    r.people.enter(WATCHER, 51)
    r.step()
    assert r.il.hot_relay
    r.log.clear()
    r.run(8)
    assert r.il.hot_relay  # permit 7's window is [t, t + 10): now t + 9
    r.step()
    assert not r.il.hot_relay
    off = r.log.of(events.HOT_OFF)
    assert off == [(events.HOT_OFF, 7, WHY_PERMIT_CHANGED, 107)]
    r.step()
    assert r.il.hot_relay and r.log.of(events.HOT_ON) == [(events.HOT_ON, 8, 108, WATCHER)]


def test_a_second_overlapping_hot_permit_is_refused():
    r = Rig().ready()
    assert r.hot_permit(7) == OK
    assert r.hot_permit(8, start_off_s=100) != OK


def test_a_fire_watch_alarm_sounds():
    # R-HOT-2: the watcher leaving during the watch alarms (amber, sounder).
    r = _hot_rig()
    assert r.il.revoke_permit(7, r.now_ms) == OK
    r.step()
    assert r.il.alarms == 0 and r.il.hotwork.watching == 1
    r.people.leave(WATCHER)
    r.step()
    assert r.il.alarms == ALARM_FIRE_WATCH and r.il.sounder and r.il.lamp_demand == LAMP_AMBER
    assert r.log.of(events.FIRE_WATCH_LEFT)[0][1] == WATCHER
    assert r.il.work_relay  # the watch alarms; it does not stop other work


def test_key_work_permits_count_only_under_video():
    # R-VIDEO-2
    r = Rig().ready()
    assert r.hot_permit(9, watcher=0, flags=KEY_MAINTENANCE) == OK
    r.step()
    assert r.il.permit_valid(9)
    r.camera_alive[0] = False
    r.run(11)
    assert not r.il.permit_valid(9)
    assert r.log.of(events.KEY_WORK_HALTED) == [(events.KEY_WORK_HALTED, 9, WHY_VIDEO, 109)]
    r.camera_alive[0] = True
    r.run(6)
    assert r.il.permit_valid(9) and r.log.of(events.KEY_WORK_RESUMED)


def test_an_evacuation_order_drops_both_relays_and_refuses_entry():
    # R-EVAC-1: the dispatcher's order; zone clear with the time it took.
    r = _hot_rig()
    assert r.il.evacuate(CAUSE_DISPATCHER, 0, EVAC_REASON_FLOOD_WARNING, False, r.now_ms) == OK
    il = r.il
    assert not il.work_relay and not il.hot_relay and il.entry_refused
    assert il.sounder and il.lamp_demand == LAMP_RED and il.alarms == ALARM_EVACUATION
    r.run(40)
    r.people.leave(WATCHER, 51)
    r.step()
    clear = r.log.of(events.ZONE_CLEAR)
    assert clear == [(events.ZONE_CLEAR, 0, 41, 0)]
    assert il.all_clear(0, r.now_ms) == OK
    assert not il.entry_refused
    r.step()
    assert il.work_relay and not il.hot_relay  # hot work waits for its people


def test_a_drill_is_the_same_marked_as_a_drill():
    # R-EVAC-3
    r = Rig().ready()
    r.people.enter(1, 2)
    assert r.il.evacuate(CAUSE_DISPATCHER, 0, EVAC_REASON_DRILL, True, r.now_ms) == OK
    assert not r.il.work_relay and r.il.entry_refused and r.il.lamp_demand == LAMP_RED
    r.run(90)
    r.people.leave(1, 2)
    r.step(500)
    assert r.log.of(events.DRILL_START) and r.log.of(events.ZONE_CLEAR) == [
        (events.ZONE_CLEAR, 1, 90, 500)
    ]


def test_a_reboot_keeps_permits_watch_and_evacuation_but_not_the_relays():
    r = _hot_rig()
    assert r.hot_permit(8, start_off_s=3600, length_s=600) == OK
    r.il.revoke_permit(7, r.now_ms)
    r.il.evacuate(CAUSE_TEAM_LEADER, 77, 0, False, r.now_ms)
    r.run(10)
    saved = r.il.snapshot()
    r2 = Rig()
    r2.il.restore(saved, 0)
    assert r2.il.snapshot()[1:3] == saved[1:3]
    assert r2.il.evacuation.active and r2.il.hotwork.watching == 1 and r2.il.permits.count == 1
    assert not r2.il.work_relay and not r2.il.hot_relay and r2.il.entry_refused
    r2.run(20)
    assert not r2.il.work_relay  # still evacuating


def test_the_snapshot_with_nothing_held_is_one_kept_encoding_and_anything_held_is_encoded():
    from gatewire import cbor

    r = Rig()
    r.run(5)
    buf = bytearray(b"old")
    idle = r.il.snapshot_cbor(buf)
    assert bytes(idle) == cbor.dumps(r.il.snapshot())
    assert r.il.snapshot_cbor(buf) is idle  # the same object: nothing built again
    # Anything held is in the encoding, never the kept idle one.
    held = []
    e = Rig()
    e.il.evacuate(CAUSE_TEAM_LEADER, 77, 0, False, e.now_ms)
    held.append(e)
    g = Rig()
    g.ch4_ppm = 15000
    g.run(3)
    assert g.il.gas.ch4.over
    held.append(g)
    c = Rig()
    c.co_ppm = 100
    c.run(3)
    assert c.il.gas.co.over
    held.append(c)
    held.append(_hot_rig())
    for h in held:
        out = h.il.snapshot_cbor(buf)
        assert out is buf and bytes(out) == cbor.dumps(h.il.snapshot())
        assert bytes(out) != bytes(idle)
    # Once the evacuation is over, nothing is held: the idle encoding again.
    assert e.il.all_clear(77, e.now_ms) == OK
    assert e.il.snapshot_cbor(buf) is idle


def test_a_bad_snapshot_raises_and_changes_nothing():
    r = _hot_rig()
    saved = r.il.snapshot()
    # Built by hand: MicroPython has no unpacking in list displays.
    wrong_version = list(saved)
    wrong_version[0] = 2
    one_gas = saved[:4]
    one_gas.append([[0, 0, 0, 0]])
    for bad in (None, [], wrong_version, saved[:4], one_gas):
        raises(ProtocolError, r.il.restore, bad, r.now_ms)
    assert r.il.snapshot() == saved and r.il.hot_relay


def test_built_from_the_gateway_config():
    cfg = config.defaults()
    cfg["zone_id"] = ZONE
    cfg["cameras"] = 2
    log = Log()
    il = from_config(cfg, lambda p: False, log)
    assert il.video.cameras == 2 and il.gas.ch4_stop_ppm == 10000
    assert il.gas.stuck_ms == 1800000 and il.hotwork is None  # built on first use
    assert il._hot_work().fire_watch_s == 3600
    assert il.gas.holdoff_ms == 5000
    cfg["gas_holdoff_ms"] = 0
    assert from_config(cfg, lambda p: False, log).gas.holdoff_ms == 0
    assert il.permits.zone_id == ZONE
    assert raises(ProtocolError, Interlocks, ZONE, None, log, ch4_evac_ppm=9000).field == (
        "ch4_evac_ppm"
    )


def test_the_permit_book_is_held_only_while_it_holds_something():
    # Its code (gateway/permits.py, hotwork.py) is imported when a permit comes and let
    # go once no permit and no fire watch is left: a board keeps imported code in its heap.
    import sys

    r = Rig(fire_watch_s=10).ready()
    il = r.il
    assert il.hotwork is None and il.permits is None
    assert il.hot_reasons == WHY_NO_PERMIT and not il.hot_relay  # as an empty book's
    assert il.permits_active(r.now_s) == 0 and il.permit_listing() == []
    assert il.snapshot()[1:3] == [[], []]
    assert il.revoke_permit(9, r.now_ms) == REFUSE_UNKNOWN_PERMIT
    assert raises(ProtocolError, il.revoke_permit, 0, r.now_ms).field == "permit_id"
    assert not il.permit_valid(7)
    assert r.hot_permit(7, length_s=5) == OK
    assert il.hotwork is not None and "gateway.hotwork" in sys.modules
    # The and the listing's code (gateway/permitissue.py) goes with the call.
    assert "gateway.permitissue" not in sys.modules
    assert il.permits_active(r.now_s) == 1 and len(il.permit_listing()) == 1
    assert "gateway.permitissue" not in sys.modules
    r.people.enter(WATCHER, 51)
    r.step()
    assert il.hot_relay
    r.run(5)  # the window ends: the fire watch that follows keeps the book
    assert not il.hot_relay and il.hotwork is not None and il.hotwork.watching == 1
    r.run(10)  # the watch is over: nothing held, the code let go
    assert il.hotwork is None and il.permits is None
    assert "gateway.hotwork" not in sys.modules and "gateway.permits" not in sys.modules
    assert il.hot_reasons == WHY_NO_PERMIT
    # A permit for later keeps the book, and it comes back on the next one.
    assert r.hot_permit(8, start_off_s=3600) == OK
    r.run(3)
    assert il.hotwork is not None and il.permits.count == 1
    saved = il.snapshot()
    assert saved[1] and il.permit_listing()[0]["permit_id"] == 8
    # Restored at a boot: the book held, its restore code let go (firing and not: a
    # refused snapshot lets it go as well).
    r2 = Rig(fire_watch_s=10)
    r2.il.restore(saved, 0)
    assert r2.il.permits.count == 1 and "gateway.permits" in sys.modules
    assert "gateway.permitissue" not in sys.modules
    wrong = list(saved)
    wrong[2] = "x"
    assert raises(ProtocolError, Rig().il.restore, wrong, 0).field == "watches"
    assert "gateway.permitissue" not in sys.modules


def test_a_snapshot_without_permits_loads_no_book_and_a_bad_list_is_refused():
    r = Rig()
    saved = r.il.snapshot()
    r2 = Rig()
    r2.il.restore(saved, 0)
    assert r2.il.hotwork is None
    for i in (1, 2):
        for bad in (None, 0, (), {}):
            wrong = list(saved)
            wrong[i] = bad
            raises(ProtocolError, Rig().il.restore, wrong, 0)


def test_the_permit_settings_are_checked_without_the_book():
    # A bad setting is refused when the interlocks are built (boot, config-set), not when
    # the first permit comes; the limits are the book's own.
    assert PERMIT_CAPACITY_MAX == permits.MAX_CAPACITY
    for kw, field in (
        ({"permit_capacity": 0}, "permit_capacity"),
        ({"permit_capacity": PERMIT_CAPACITY_MAX + 1}, "permit_capacity"),
        ({"max_permit_s": 59}, "max_permit_s"),
        ({"fire_watch_s": -1}, "fire_watch_s"),
        ({"fire_watch_s": 86401}, "fire_watch_s"),
    ):
        assert raises(ProtocolError, Interlocks, ZONE, None, Log(), **kw).field == field
    assert raises(ProtocolError, Interlocks, "", None, Log()).field == "zone_id"
    il = Interlocks(ZONE, None, Log(), permit_capacity=PERMIT_CAPACITY_MAX, fire_watch_s=0)
    assert il._hot_work().book.capacity == PERMIT_CAPACITY_MAX


def test_the_steady_path_allocates_nothing():
    # Budget: no heap allocation per step with both relays on, two permits open, the
    # wall clock in the firmware's clock seconds as the app gives it (a unix now_s is a
    # big int on a 32-bit board: converting it would allocate every new second).
    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the measurement
    r = _hot_rig(cameras=4, epoch_s=EPOCH_S)
    assert r.hot_permit(9, watcher=0, flags=KEY_MAINTENANCE) == OK
    r.run(5)
    il = r.il
    beats = r.beats
    nows = [T0_S - EPOCH_S + 100 + i for i in range(100)]
    now_ms = r.now_ms
    il.tick(now_ms, nows[0], 2)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(1000):
        now_ms += 100
        beats[0] = now_ms
        beats[1] = now_ms
        beats[2] = now_ms
        beats[3] = now_ms
        il.on_video(beats, 4, now_ms)
        il.on_gas(2000 + (i & 1), 3, 0, now_ms)
        il.tick(now_ms, nows[i // 10], 2)
    used = gc.mem_alloc() - before
    gc.enable()
    assert il.work_relay and il.hot_relay
    assert used == 0, used
