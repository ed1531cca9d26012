# Properties of gatewire.auth under CPython, against independent implementations:
# CPython's hmac module for the MAC and cbor2's canonical encoder for the signed bytes.
import hmac

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatewire import auth, cbor
from gatewire.errors import E_AUTH_BAD, E_AUTH_REPLAY, AuthError

keys = st.binary(min_size=auth.KEY_LEN, max_size=auth.KEY_LEN)
counters = st.integers(min_value=1, max_value=auth.COUNTER_MAX)

# Uniform key types within a map: there cbor2's canonical order (length first) and
# RFC 8949 §4.2.1 order (bytewise) coincide, so cbor2 is a fair independent reference.
scalars = (
    st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.text(max_size=40)
    | st.binary(max_size=40)
    | st.booleans()
    | st.none()
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.text(max_size=12), values, max_size=6)
envelopes = st.builds(
    lambda msg_type, request_id, body: {0: msg_type, 1: request_id, 2: body},
    st.integers(min_value=0, max_value=255),
    st.integers(min_value=0, max_value=2**32 - 1),
    bodies,
)


@settings(max_examples=500)
@given(key=st.binary(max_size=200), msg=st.binary(max_size=1000))
def test_hmac_matches_cpython(key, msg):
    assert auth.hmac_sha256(key, msg) == hmac.new(key, msg, "sha256").digest()


@settings(max_examples=300)
@given(key=keys, envelope=envelopes, counter=counters)
def test_tag_matches_independent_reference(key, envelope, counter):
    signed = auth.sign(envelope, key, counter)
    unsigned = {0: signed[0], 1: signed[1], 2: signed[2], 3: counter}
    reference = hmac.new(key, cbor2.dumps(unsigned, canonical=True), "sha256").digest()
    assert signed[4] == reference[: auth.TAG_LEN]


@settings(max_examples=300)
@given(key=keys, envelope=envelopes, counter=counters)
def test_round_trip_through_the_wire(key, envelope, counter):
    wire = cbor.dumps(auth.sign(envelope, key, counter))
    verifier = auth.Verifier(key)
    assert verifier.verify(cbor.loads(wire)) == counter
    assert verifier.last_counter == counter
    with pytest.raises(AuthError) as e:
        verifier.verify(cbor.loads(wire))
    assert e.value.code == E_AUTH_REPLAY


@given(key=keys, envelope=envelopes, counter=counters, bit=st.integers(0, auth.TAG_LEN * 8 - 1))
def test_any_tag_bit_flip_is_rejected(key, envelope, counter, bit):
    signed = auth.sign(envelope, key, counter)
    tag = bytearray(signed[4])
    tag[bit // 8] ^= 1 << (bit % 8)
    signed[4] = bytes(tag)
    verifier = auth.Verifier(key)
    with pytest.raises(AuthError) as e:
        verifier.verify(signed)
    assert e.value.code == E_AUTH_BAD
    assert verifier.last_counter == 0


@given(key=keys, envelope=envelopes, counter=counters, data=st.data())
def test_any_body_change_is_rejected(key, envelope, counter, data):
    signed = auth.sign(envelope, key, counter)
    new_body = data.draw(bodies.filter(lambda b: cbor.dumps(b) != cbor.dumps(envelope[2])))
    signed[2] = new_body
    with pytest.raises(AuthError) as e:
        auth.Verifier(key).verify(signed)
    assert e.value.code == E_AUTH_BAD


@given(key=keys, other=keys, envelope=envelopes, counter=counters)
def test_other_key_is_rejected(key, other, envelope, counter):
    signed = auth.sign(envelope, key, counter)
    verifier = auth.Verifier(other)
    if other == key:
        assert verifier.verify(signed) == counter
    else:
        with pytest.raises(AuthError) as e:
            verifier.verify(signed)
        assert e.value.code == E_AUTH_BAD


@given(
    key=keys,
    start=st.integers(min_value=0, max_value=1000),
    sequence=st.lists(st.integers(min_value=1, max_value=1000), max_size=30),
)
def test_verifier_accepts_exactly_the_rising_counters(key, start, sequence):
    # Model: a command is accepted iff its counter is above every counter accepted before.
    verifier = auth.Verifier(key, last_counter=start)
    highest = start
    for counter in sequence:
        signed = auth.sign({0: 1, 1: counter, 2: {}}, key, counter)
        if counter > highest:
            assert verifier.verify(signed) == counter
            highest = counter
        else:
            with pytest.raises(AuthError) as e:
                verifier.verify(signed)
            assert e.value.code == E_AUTH_REPLAY
        assert verifier.last_counter == highest


@given(
    persisted=st.integers(min_value=0, max_value=2**48),
    now_ms=st.integers(min_value=0, max_value=2**48),
)
def test_initial_counter_never_reuses(persisted, now_ms):
    counter = auth.initial_counter(persisted, now_ms)
    assert counter > persisted
    assert counter >= now_ms
    assert counter in (persisted + 1, now_ms)
