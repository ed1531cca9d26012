# micropython-test
# Evacuation (R-EVAC-1..3, R-GAS-1): gateway/evacuation.py on its own.
from interlock_rig import Log
from mpcheck import raises

from gateway import events
from gateway.evacuation import Evacuation
from gateway.reasons import (
    CAUSE_DISPATCHER,
    CAUSE_GAS,
    CAUSE_TEAM_LEADER,
    EVAC_REASON_ACCIDENT_SIGNS,
    EVAC_REASON_DRILL,
    EVAC_REASON_FLOOD_WARNING,
    EVAC_REASON_GAS,
    OK,
    REFUSE_DRILL_IN_EVACUATION,
    REFUSE_GAS_NOT_SAFE,
    REFUSE_NOT_EVACUATING,
)
from gatewire.errors import ProtocolError

LEADER = 77


def _evac():
    log = Log()
    return Evacuation(log), log


def test_nothing_is_in_force_until_ordered():
    e, log = _evac()
    e.tick(1000, 0)
    assert not e.active and not log.items


def test_the_dispatcher_orders_an_evacuation():
    # R-EVAC-1, R-EVAC-2: a flood warning.
    e, log = _evac()
    assert e.order(CAUSE_DISPATCHER, 0, EVAC_REASON_FLOOD_WARNING, False, 1000) == OK
    assert e.active and not e.drill
    assert log.items == [(events.EVAC_START, 0, CAUSE_DISPATCHER, EVAC_REASON_FLOOD_WARNING)]


def test_a_team_leader_orders_an_evacuation():
    # R-EVAC-1: team leaders may withdraw people (the app has checked the role).
    e, log = _evac()
    assert e.order(CAUSE_TEAM_LEADER, LEADER, EVAC_REASON_ACCIDENT_SIGNS, False, 1000) == OK
    assert log.items == [(events.EVAC_START, LEADER, CAUSE_TEAM_LEADER, EVAC_REASON_ACCIDENT_SIGNS)]


def test_zone_clear_is_reported_once_with_the_time_it_took():
    e, log = _evac()
    e.order(CAUSE_DISPATCHER, 0, 0, False, 1000)
    e.tick(30000, 3)
    e.tick(95000, 1)
    assert not log.of(events.ZONE_CLEAR)  # people still inside: not firing
    e.tick(96250, 0)
    assert log.of(events.ZONE_CLEAR) == [(events.ZONE_CLEAR, 0, 95, 250)]
    e.tick(97000, 1)  # a rescuer goes in and out again: reported once
    e.tick(98000, 0)
    assert len(log.of(events.ZONE_CLEAR)) == 1


def test_a_drill_is_marked_as_one_and_measures_time_to_clear():
    # R-EVAC-3: evacuation drills measure the time to clear the zone.
    e, log = _evac()
    assert e.order(CAUSE_DISPATCHER, 0, EVAC_REASON_DRILL, True, 1000) == OK
    assert e.active and e.drill
    e.tick(61000, 2)
    e.tick(182345, 0)
    assert log.items == [
        (events.DRILL_START, 0, CAUSE_DISPATCHER, EVAC_REASON_DRILL),
        (events.ZONE_CLEAR, 1, 181, 345),
    ]
    assert e.all_clear(0, True, 200000) == OK
    assert log.items[-1] == (events.EVAC_END, 0, 199, 1)
    assert not e.active and not e.drill


def test_a_real_order_during_a_drill_starts_a_real_evacuation_timed_from_it():
    e, log = _evac()
    e.order(CAUSE_DISPATCHER, 0, EVAC_REASON_DRILL, True, 1000)
    e.tick(5000, 4)
    assert e.order(CAUSE_TEAM_LEADER, LEADER, EVAC_REASON_ACCIDENT_SIGNS, False, 10000) == OK
    assert not e.drill and e.active
    e.tick(40000, 0)
    assert log.items[-2:] == [
        (events.EVAC_START, LEADER, CAUSE_TEAM_LEADER, EVAC_REASON_ACCIDENT_SIGNS),
        (events.ZONE_CLEAR, 0, 30, 0),
    ]


def test_no_drill_during_a_real_evacuation():
    e, log = _evac()
    e.order(CAUSE_DISPATCHER, 0, 0, False, 1000)
    assert e.order(CAUSE_DISPATCHER, 0, EVAC_REASON_DRILL, True, 2000) == REFUSE_DRILL_IN_EVACUATION
    assert not e.drill and len(log.items) == 1


def test_further_orders_join_the_evacuation_in_force():
    e, log = _evac()
    e.order(CAUSE_DISPATCHER, 0, 0, False, 1000)
    e.order(CAUSE_TEAM_LEADER, LEADER, EVAC_REASON_FLOOD_WARNING, False, 2000)
    assert log.items[-1] == (events.EVAC_JOIN, LEADER, CAUSE_TEAM_LEADER, EVAC_REASON_FLOOD_WARNING)
    assert e.causes == (1 << CAUSE_DISPATCHER) | (1 << CAUSE_TEAM_LEADER)


def test_gas_orders_an_evacuation_once():
    # R-GAS-1: methane at 1.5 % or CO at 24 ppm withdraws the workers.
    e, log = _evac()
    e.gas(1000)
    e.gas(2000)
    assert e.active and e.gas_caused()
    assert log.items == [(events.EVAC_START, 0, CAUSE_GAS, EVAC_REASON_GAS)]


def test_gas_during_a_drill_makes_it_real_and_joins_a_real_one():
    e, log = _evac()
    e.order(CAUSE_DISPATCHER, 0, EVAC_REASON_DRILL, True, 1000)
    e.gas(2000)
    assert not e.drill and log.items[-1] == (events.EVAC_START, 0, CAUSE_GAS, EVAC_REASON_GAS)
    e2, log2 = _evac()
    e2.order(CAUSE_DISPATCHER, 0, 0, False, 1000)
    e2.gas(2000)
    e2.gas(3000)
    assert log2.items[1:] == [(events.EVAC_JOIN, 0, CAUSE_GAS, EVAC_REASON_GAS)]


def test_all_clear_is_refused_while_gas_is_not_safe():
    # R-GAS-1: a gas evacuation ends only once gas is known to be back below the stop level.
    e, log = _evac()
    e.gas(1000)
    assert e.all_clear(0, False, 5000) == REFUSE_GAS_NOT_SAFE
    assert e.active and len(log.items) == 1
    assert e.all_clear(0, True, 6000) == OK
    assert log.items[-1] == (events.EVAC_END, 0, 5, 0)


def test_all_clear_of_an_evacuation_without_gas_does_not_wait_for_the_sensor():
    e, log = _evac()
    e.order(CAUSE_TEAM_LEADER, LEADER, 0, False, 1000)
    assert e.all_clear(LEADER, False, 1500) == OK
    assert log.items[-1] == (events.EVAC_END, LEADER, 1, 0)


def test_all_clear_with_nothing_in_force_is_refused():
    e, log = _evac()
    assert e.all_clear(0, True, 1000) == REFUSE_NOT_EVACUATING
    assert not log.items


def test_malformed_orders_name_the_field():
    e, log = _evac()
    assert raises(ProtocolError, e.order, CAUSE_GAS, 0, 0, False, 1).field == "cause"
    assert raises(ProtocolError, e.order, 9, 0, 0, False, 1).field == "cause"
    assert raises(ProtocolError, e.order, CAUSE_DISPATCHER, -1, 0, False, 1).field == "by"
    assert raises(ProtocolError, e.order, CAUSE_DISPATCHER, 0, 99, False, 1).field == "reason"
    assert raises(ProtocolError, e.order, CAUSE_DISPATCHER, 0, 0, 1, 1).field == "drill"
    assert raises(ProtocolError, e.all_clear, None, True, 1).field == "by"
    assert not e.active and not log.items


def test_an_evacuation_survives_a_reboot():
    e, _log = _evac()
    e.order(CAUSE_TEAM_LEADER, LEADER, EVAC_REASON_FLOOD_WARNING, False, 1000)
    e.gas(2000)
    e.tick(31500, 5)
    saved = e.snapshot()
    e2, log2 = _evac()
    e2.check(saved)
    e2.restore(saved, 10)
    assert e2.active and e2.gas_caused() and e2.by == LEADER
    e2.tick(20010, 0)
    assert log2.items == [(events.ZONE_CLEAR, 0, 50, 500)]
    assert e2.all_clear(0, False, 30000) == REFUSE_GAS_NOT_SAFE


def test_a_bad_snapshot_is_refused():
    e, _log = _evac()
    good = [1, 0, 1 << CAUSE_DISPATCHER, 0, 0, 0, 12, 5]
    e.check(good)
    for bad in (
        None,
        good[:7],
        [1, 0, 0, 0, 0, 0, 12, 5],  # in force without a cause
        [1, 0, 1 << 5, 0, 0, 0, 12, 5],
        [1, 1, 1 << CAUSE_GAS, 0, 0, 0, 12, 5],  # a gas drill
        [1, 0, 2, 0, 0, 0, 12, 1000],
        [2, 0, 2, 0, 0, 0, 12, 5],
    ):
        raises(ProtocolError, e.check, bad)
