# Power cuts at random instants during a busy shift (issue 13): crossings, the host's
# ack, a signed order and a two-part roster load in flight at every cut. The short form
# of `./dev reliability powercuts` (tests/reliability_cuts.py has the scenario and the
# checks; docs/reliability.md the long form's figures).
import reliability_cuts as rc

from gateway import app

CUTS = 40
SEED = 20261204


def test_no_acked_event_lost_outputs_safe_and_the_ledger_matches_after_every_cut():
    figs = rc.run(CUTS, SEED)
    assert figs.failures == []
    assert figs.cuts == CUTS
    assert figs.acked_lost == 0
    assert figs.boots_safe == CUTS
    assert figs.ledger_equal == CUTS
    assert figs.orders_lost == 0 and figs.roster_half == 0
    # The cuts were where it matters: inside flash writes, with orders answered and
    # people crossing (else the checks above would prove little).
    assert figs.in_a_write >= CUTS // 4
    assert figs.orders_ok >= CUTS // 8
    assert figs.answered["roster-load"] and figs.answered["ack"]
    assert figs.crossings_logged >= CUTS


def test_the_checks_catch_a_boot_that_forgets_the_crossings_after_the_snapshot(monkeypatch):
    # Firing: a gateway that restores the snapshot but replays nothing logged after it
    # (the restore-no-replay mutant) leaves people out of its ledger.
    def no_replay(self, covered):
        return iter(())

    monkeypatch.setattr(app.Gateway, "_replay", no_replay)
    figs = rc.run(12, SEED)
    assert figs.ledger_equal < figs.cuts
    assert any("ledger" in what for _, what in figs.failures)


def test_the_checks_catch_a_boot_that_drives_outputs_before_it_is_restored(monkeypatch):
    # Firing: outputs left as the board powers up (not driven safe first) are counted.
    monkeypatch.setattr(app.Gateway, "_safe_outputs", lambda self: None)
    figs = rc.run(5, SEED)
    assert figs.boots_safe < figs.cuts
