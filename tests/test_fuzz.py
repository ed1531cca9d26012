# Bad input, short form (issue 13): every parser a frame crosses and the gateway behind
# them, fed damaged and hostile bytes (tests/fuzzing.py). Zero crashes, and zero state
# changes in the gateway from input that was not a valid, authentic order. The long form
# with its figures: ./dev reliability fuzz --long (docs/reliability.md).
import fuzzing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewire import frame

SHORT = {"frame": 3000, "cbor": 3000, "messages": 2000, "gateway": 600}


@pytest.mark.parametrize("target", sorted(SHORT))
def test_bad_input_crashes_nothing_and_changes_nothing(target):
    t = fuzzing.TARGETS[target](SHORT[target], seed=20261204)
    assert t.tried == SHORT[target]
    assert t.crash_count == 0, t.crashes
    assert t.state_changes == 0, t.changes


def test_the_gateway_target_sees_a_state_change_when_there_is_one():
    # Not firing without cause, firing with one: an authentic order, sent as the host
    # signs it, changes the state the fuzz check compares.
    rig, _ = fuzzing._staged_gateway()
    before = fuzzing.gateway_state(rig)
    rig.call("seal")
    assert fuzzing.gateway_state(rig) != before


def test_the_frame_target_counts_a_damaged_frame_let_through(monkeypatch):
    # A decoder that passed damaged frames would be caught: every CRC "checks out".
    class AnyCrc:
        @staticmethod
        def crc32(data, *start):
            return frame._CRC_RESIDUE

    monkeypatch.setattr(frame, "binascii", AnyCrc)
    t = fuzzing.fuzz_frame(300, seed=1)
    assert t.crash_count > 0


_gateway = []


def _shared_gateway():
    # One staged gateway for every example: each example must leave it as it found it.
    if not _gateway:
        rig, _ = fuzzing._staged_gateway()
        _gateway.append([rig, fuzzing.gateway_state(rig)])
    return _gateway[0]


@settings(max_examples=200)
@given(
    payload=st.one_of(
        st.binary(min_size=1, max_size=300),
        st.sampled_from(fuzzing.sample_payloads()).flatmap(
            lambda p: st.integers(0, len(p) - 1).map(
                lambda i: p[:i] + bytes([p[i] ^ 0x40]) + p[i + 1 :]
            )
        ),
    )
)
def test_no_payload_a_host_could_send_without_the_key_changes_the_gateway(payload):
    held = _shared_gateway()
    rig = held[0]
    rig.board.rx.extend(frame.encode(payload))
    rig.step(10, 2)
    rig.inbox = []
    assert fuzzing.gateway_state(rig) == held[1]
