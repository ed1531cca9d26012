# Load through serve, end to end with MQTT on (issue 13, "Load"): a cage of 60 down the
# shaft with stray reads and reader misses; every event the gateway logged is a row in
# SQLite and a message on MQTT, once each, everyone down has an ENTRY, the count is the
# world's, and no queue on the way dropped anything. The long form (three cages down and
# up) is `./dev reliability load`; tests/reliability_load.py has the scenario.
import reliability_load as rl


def test_a_cage_of_sixty_through_serve_is_recorded_and_published_once_each(tmp_path):
    r = rl.run(tmp_path, cages=1, profile=None)  # the session's board profile (pico)
    assert r.last_seq > 60
    assert r.rows == r.rows_distinct == r.last_seq and r.rows_in_order
    assert r.published == r.last_seq and r.published_twice == 0
    assert r.all_down_entered
    assert [(want, got) for _, want, got in r.counts] == [(60, 60)]
    assert r.depths.pushed_dropped == 0
    assert r.depths.samples > 3  # the queues were watched while the cage unloaded
