# Broker outages, short form (issue 13; the long form is `./dev reliability broker`): the
# real Mosquitto stopped and started while a gateway takes crossings through serve.
# Recording goes on, the outbox holds what is owed and publishes it when the broker is
# back: every event on MQTT, in order, none lost.
from reliability_broker import broker_outages


def test_recording_goes_on_and_the_outbox_publishes_in_order_after_each_outage(tmp_path):
    run = broker_outages(
        tmp_path, outages=2, seed=13, up_s=(1.0, 1.5), down_s=(1.5, 2.5), quiet_s=1.5
    )
    assert len(run.outages) == 2 and run.outages[1].serve_killed
    assert run.problems() == []
    for o in run.outages:
        assert o.recorded_while_down > 0 and o.held >= o.recorded_while_down
        assert o.published_after >= o.held
    assert run.db_rows == run.gateway_total == len(run.mqtt_ids)
    assert run.lost == 0 and run.mqtt_out_of_order == 0 and run.held_ids_missing == 0
