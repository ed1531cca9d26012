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
    assert row.refused_right == row.attempts, row.as_row()
    assert row.logged == row.attempts, row.as_row()
    assert not row.state_moved


def test_an_authentic_order_is_accepted_and_moves_the_state():
    # Not firing: the same staging accepts a signed order, and the check sees it.
    rig = attacks.staged()
    import fuzzing

    before = fuzzing.gateway_state(rig)
    rig.call("seal")
    assert fuzzing.gateway_state(rig) != before
