# serve crashes, short form (issue 13; the long form is `./dev reliability servecrash`):
# kill -9 of serve at random instants while two gateways push crossings and orders are in
# flight; after each kill the gateway was never acknowledged past what SQLite held, and at
# the end every event is in SQLite once and on MQTT (repeats counted apart), in order.
from reliability_crash import serve_crashes


def test_kill_9_loses_nothing_stores_nothing_twice_and_never_acks_ahead(tmp_path):
    run = serve_crashes(tmp_path, kills=4, seed=13, up_s=(0.3, 2.0), quiet_s=1.5)
    assert run.kills == 4 and run.ack_checks == 8 and run.kills_mid_order >= 1
    assert run.problems() == []
    assert run.db_rows == run.gateway_total == len(run.mqtt_ids)
    assert run.mqtt_raw >= len(run.mqtt_ids)  # QoS 1: a repeat may come, a loss may not
    assert run.orders_done >= 2 and run.crossing_events == run.crossings > 0
