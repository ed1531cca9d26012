# The accounting of the fault runs (tests/reliability_link.py and friends) sees what it
# is there to see: a lost, doubled or reordered event, an ack ahead of the record.
from reliability_broker import BrokerRun, Outage
from reliability_crash import CrashRun
from reliability_link import LinkRun, tally

from gateway import events as kinds


def _rows(n, gid="gw-shaft"):
    return [(gid, s, kinds.ENTRY if s % 2 else kinds.COMMAND) for s in range(1, n + 1)]


def _msgs(seqs, gid="gw-shaft"):
    return [("shaftgate/m/event/x", {"id": "%s:%d" % (gid, s)}, False) for s in seqs]


def _run(cls, gateway, rows, seqs, crossings=None):
    run = cls()
    tally(run, {"gw-shaft": gateway}, rows, _msgs(seqs))
    run.crossings = run.crossing_events if crossings is None else crossings
    return run


def test_equal_accounts_are_no_problem():
    assert _run(LinkRun, 6, _rows(6), range(1, 7)).problems() == []


def test_an_event_missing_from_sqlite_or_mqtt_is_lost():
    run = _run(LinkRun, 6, _rows(6)[:-1], range(1, 7))
    assert run.lost == 1 and run.db_holes == 1
    assert any("SQLite holds 5 rows" in p for p in run.problems())
    run = _run(LinkRun, 6, _rows(6), [1, 2, 3, 5, 6])
    assert run.lost == 1 and any("MQTT brought 5" in p for p in run.problems())


def test_a_repeat_on_mqtt_is_a_problem_only_where_qos_1_allows_none():
    seqs = [1, 2, 3, 3, 4, 5, 6]
    link = _run(LinkRun, 6, _rows(6), seqs)
    assert link.mqtt_duplicates == 1 and link.problems()
    crash = _run(CrashRun, 6, _rows(6), seqs)
    crash.kills, crash.ack_checks = 1, 2
    assert crash.mqtt_duplicates == 1 and crash.problems() == []


def test_more_repeats_than_the_window_in_flight_at_each_kill_are_a_problem():
    seqs = list(range(1, 31)) + list(range(1, 31))  # 30 again after one kill: window is 20
    crash = _run(CrashRun, 30, _rows(30), seqs)
    crash.kills, crash.ack_checks = 1, 2
    assert any("30 MQTT repeats for 1 lost connections" in p for p in crash.problems())
    crash.kills, crash.ack_checks = 2, 4
    assert crash.problems() == []


def test_a_message_out_of_seq_order_is_seen_but_a_repeat_is_not_one():
    assert _run(LinkRun, 6, _rows(6), [1, 2, 4, 3, 5, 6]).mqtt_out_of_order == 1
    assert _run(CrashRun, 6, _rows(6), [1, 2, 3, 2, 3, 4, 5, 6]).mqtt_out_of_order == 0


def test_a_row_stored_twice_and_a_crossing_not_recorded_are_problems():
    rows = _rows(6)
    run = _run(LinkRun, 6, [*rows, rows[2]], range(1, 7))
    assert run.db_duplicates == 1 and any("twice" in p for p in run.problems())
    run = _run(LinkRun, 6, rows, range(1, 7), crossings=4)
    assert any("4 crossings made, 3 ENTRY/EXIT" in p for p in run.problems())


def test_an_ack_past_the_record_or_an_unrecorded_order_is_a_problem():
    run = _run(CrashRun, 6, _rows(6), range(1, 7))
    run.kills, run.ack_checks = 1, 2
    assert run.problems() == []
    run.ack_ahead.append((1, "gw-shaft", 7, 6))
    run.orders_unfinished = 1
    run.orders_done, run.order_commands_recorded, run.orders_done_unrecorded = 3, 2, 1
    problems = run.problems()
    assert any("acknowledged past SQLite" in p for p in problems)
    assert any("3 orders reported done, 2" in p for p in problems)
    assert any("1 orders left open" in p for p in problems)


def test_an_outage_with_nothing_held_or_never_drained_is_a_problem():
    run = _run(BrokerRun, 6, _rows(6), range(1, 7))
    o = Outage()
    o.recorded_while_down, o.held, o.drain_s = 3, 5, 1.0
    run.outages.append(o)
    assert run.problems() == []
    o.held, o.drain_s = 2, None
    problems = run.problems()
    assert any("3 events recorded, 2 messages held" in p for p in problems)
    assert any("did not drain" in p for p in problems)
