# Attacks without the key, or with an old capture (issue 13; tests/attacks.py): every
# attempt refused with the right error, logged on the gateway, and nothing moved.
import attacks
import pytest


@pytest.mark.parametrize("attack", [a[0] for a in attacks.ATTACKS])
def test_no_attack_is_accepted_and_every_attempt_is_logged(attack):
    fn = dict(attacks.ATTACKS)[attack]
    row = attacks._run(attack, fn)
    assert row.attempts > 0
    assert row.accepted == 0
    if row.refusal_applies:
        assert row.refused_right == row.attempts, row.as_row()
    assert row.logged == row.attempts, row.as_row()
    assert not row.state_moved
    assert row.false_alarms in (None, 0), "alarms for people who did nothing wrong"
    assert row.order_after, "an authentic order after the attack was held back or not logged"


def test_an_authentic_order_is_accepted_and_moves_the_state():
    # Not firing: the same staging accepts a signed order, and the check sees it.
    rig = attacks.staged()
    import fuzzing

    before = fuzzing.gateway_state(rig)
    rig.call("seal")
    assert fuzzing.gateway_state(rig) != before


def test_an_untouched_record_caught_up_from_the_hosts_last_digest_verifies():
    # Not firing: the same catch-up with nobody at the flash finds nothing to report.
    from gateway import events as ev
    from gateway.eventlog import verify_chain

    rig = attacks.staged()
    held = rig.fetch(1)
    anchor_seq, anchor = held[-1][0], held[-1][6]
    rig.power_cut()
    rig.ready()
    for tag in (4, 5, 6):
        rig.cross(tag)
    rig.power_cut()
    rig.call("hello", min_version=1, max_version=1)
    got = [e for e in rig.fetch(anchor_seq + 1) if e[0] > anchor_seq]
    assert len(got) >= 3
    verify_chain(got, anchor, anchor_seq)
    assert not [e for e in got if e[2] in (ev.LOG_TAMPERED, ev.LOG_RECORD_DAMAGED)]
