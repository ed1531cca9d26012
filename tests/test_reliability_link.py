# Link faults, short form (issue 13; the long form is `./dev reliability linkfaults`):
# crossings at a virtual gateway while serve records them through a serial line that
# drops, corrupts, duplicates and delays frames, and publishes them to a real Mosquitto.
# The gateway's events, the SQLite rows and the MQTT messages must be the same set, each
# once: no dedup by id is needed to make the counts equal.
from faultproxy import FAULTS, Faults
from reliability_link import link_faults


def test_every_event_crosses_a_bad_line_once_into_sqlite_and_mqtt(tmp_path):
    run = link_faults(
        tmp_path, crossings=150, faults=Faults.each(0.03), seed=13, rate_per_s=20, quiet_s=2.0
    )
    done = run.faults_done()
    assert all(done[f] > 0 for f in FAULTS), done  # the line was bad in every way
    assert run.problems() == []
    assert run.gateway_total > run.crossings  # entries, exits and the gateway's own events
    assert run.db_rows == run.gateway_total == run.mqtt_raw == len(run.mqtt_ids)
    assert run.lost == 0 and run.mqtt_duplicates == 0 and run.mqtt_out_of_order == 0
