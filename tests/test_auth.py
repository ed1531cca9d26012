# micropython-test
# gatewire.auth under both interpreters: the RFC 4231 vectors prove the hand-built
# HMAC-SHA256 on MicroPython itself, where no hmac module exists on a board.
from mpcheck import raises

from gatewire import auth, cbor
from gatewire.errors import (
    E_AUTH_BAD,
    E_AUTH_MISSING,
    E_AUTH_REPLAY,
    E_BAD_ENVELOPE,
    AuthError,
    ProtocolError,
)

KEY = bytes(range(32))
OTHER_KEY = b"\x55" * 32


def _envelope():
    return {0: 7, 1: 42, 2: {"zone": "F1"}}


def _signed(counter, key=KEY):
    return auth.sign(_envelope(), key, counter)


def _hex(data):
    return bytes(data).hex()


def _check_rfc4231(key, data, expected_hex):
    got = auth.hmac_sha256(key, data)
    assert len(got) == 32
    assert _hex(got[: len(expected_hex) // 2]) == expected_hex


def test_rfc4231_case_1():
    _check_rfc4231(
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    )


def test_rfc4231_case_2_key_shorter_than_output():
    _check_rfc4231(
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    )


def test_rfc4231_case_3():
    _check_rfc4231(
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    )


def test_rfc4231_case_4():
    _check_rfc4231(
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    )


def test_rfc4231_case_5_truncated_to_128_bits():
    _check_rfc4231(b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b")


def test_rfc4231_case_6_key_longer_than_block():
    _check_rfc4231(
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    )


def test_rfc4231_case_7_key_and_data_longer_than_block():
    _check_rfc4231(
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size"
        b" data. The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    )


def test_hmac_accepts_bytearray_and_memoryview():
    want = auth.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert auth.hmac_sha256(bytearray(b"Jefe"), memoryview(b"what do ya want for nothing?")) == want


def test_hmac_rejects_str_key_and_message():
    # MicroPython's hashlib would hash a str silently.
    e = raises(TypeError, auth.hmac_sha256, "Jefe", b"data")
    assert "key" in str(e)
    e = raises(TypeError, auth.hmac_sha256, b"Jefe", "data")
    assert "message" in str(e)


def test_lengths():
    assert auth.KEY_LEN == 32
    assert auth.TAG_LEN == 16


def test_mac_input_is_canonical_cbor_without_tag():
    envelope = {0: 7, 1: 42, 2: {"zone": "F1"}, 3: 5, 4: b"\x00" * 16}
    want = "a4000701182a02a1647a6f6e656246310305"
    assert _hex(auth.mac_input(envelope)) == want
    # The caller's envelope keeps its tag.
    assert envelope[4] == b"\x00" * 16
    assert len(envelope) == 5


def test_mac_input_ignores_insertion_order():
    a = {0: 7, 1: 42, 2: {"zone": "F1", "cap": 25}, 3: 5}
    b = {3: 5, 2: {"cap": 25, "zone": "F1"}, 1: 42, 0: 7}
    assert auth.mac_input(a) == auth.mac_input(b)


def test_sign_known_answer():
    # Pins the wire format: host and every board must produce this exact tag.
    envelope = auth.sign(_envelope(), KEY, 5)
    assert envelope[3] == 5
    assert _hex(envelope[4]) == "1b6c7212bfd8f37c3b583a9ceeb5d3c9"
    assert envelope[0] == 7 and envelope[1] == 42 and envelope[2] == {"zone": "F1"}


def test_sign_returns_the_same_envelope():
    envelope = _envelope()
    assert auth.sign(envelope, KEY, 1) is envelope
    assert isinstance(envelope[4], bytes) and len(envelope[4]) == auth.TAG_LEN


def test_sign_rejects_bad_counters_and_changes_nothing():
    for counter in (0, -1, True, "1", 1.0, None, auth.COUNTER_MAX + 1):
        envelope = _envelope()
        e = raises(ValueError, auth.sign, envelope, KEY, counter)
        assert "counter" in str(e)
        assert envelope == _envelope()


def test_sign_accepts_counter_max():
    envelope = auth.sign(_envelope(), KEY, auth.COUNTER_MAX)
    assert auth.Verifier(KEY).verify(envelope) == auth.COUNTER_MAX


def test_sign_rejects_non_map():
    e = raises(ProtocolError, auth.sign, [0, 1], KEY, 1)
    assert e.code == E_BAD_ENVELOPE


def test_round_trip():
    verifier = auth.Verifier(KEY)
    assert verifier.verify(_signed(1)) == 1
    assert verifier.last_counter == 1


def test_round_trip_through_the_wire_encoding():
    wire = cbor.dumps(_signed(9))
    verifier = auth.Verifier(KEY)
    assert verifier.verify(cbor.loads(wire)) == 9


def test_verify_ignores_insertion_order():
    signed = _signed(3)
    reordered = {}
    for k in (4, 3, 2, 1, 0):
        reordered[k] = signed[k]
    assert auth.Verifier(KEY).verify(reordered) == 3


def test_verify_hands_the_envelope_back_as_given_with_or_without_a_body():
    # The tag is taken out only while the MAC input is encoded (no copy of the
    # envelope per command); a missing body is covered as the empty body.
    verifier = auth.Verifier(KEY)
    signed = _signed(5)
    keys = list(signed)
    assert verifier.verify(signed) == 5
    assert list(signed) == keys and signed == _signed(5)
    bodiless = auth.sign({0: 7, 1: 43}, KEY, 6)
    same = dict(bodiless)
    assert verifier.verify(bodiless) == 6
    assert bodiless == same and 2 not in bodiless
    as_empty = auth.sign({0: 7, 1: 43, 2: {}}, KEY, 7)
    del as_empty[2]  # signed over {} and sent without: the same message
    assert verifier.verify(as_empty) == 7
    forged = auth.sign({0: 7, 1: 43, 2: {"zone": "F2"}}, KEY, 8)
    forged[2] = {"zone": "F1"}
    _rejected(verifier, forged, E_AUTH_BAD)


def test_verifying_a_command_copies_no_envelope():
    # MicroPython: sha256's objects and digests are the floor (384 B); the envelope's
    # encoding goes into a kept buffer and the envelope is not copied: 453 B here (533 B
    # before, 501 B with the kept buffer alone).
    import gc

    if not hasattr(gc, "mem_alloc"):
        return
    verifier = auth.Verifier(KEY)
    # An ack's shape: int keys all through (string keys cost the encoder a sort).
    signed = [auth.sign({0: 9, 1: c, 2: {0: 40}}, KEY, c) for c in range(1, 22)]
    envs = [cbor.loads(cbor.dumps(e)) for e in signed]
    verifier.verify(envs[0])
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for env in envs[1:]:
        verifier.verify(env)
    used = (gc.mem_alloc() - before) // 20
    gc.enable()
    assert used <= 470, used


def test_counter_gaps_are_accepted():
    verifier = auth.Verifier(KEY)
    assert verifier.verify(_signed(1)) == 1
    assert verifier.verify(_signed(1000)) == 1000
    assert verifier.last_counter == 1000


def _snapshot(envelope):
    # Two levels deep: envelope and body. Not CBOR, since some tests plant unencodable values.
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in envelope.items()}


def _rejected(verifier, envelope, code):
    before_counter = verifier.last_counter
    before = _snapshot(envelope)
    e = raises(AuthError, verifier.verify, envelope)
    assert e.code == code, "expected code %d, got %d (%s)" % (code, e.code, e.text)
    # A failed verify changes nothing, in the verifier or in the message.
    assert verifier.last_counter == before_counter
    assert _snapshot(envelope) == before
    return e


def test_missing_counter():
    envelope = _signed(1)
    del envelope[3]
    e = _rejected(auth.Verifier(KEY), envelope, E_AUTH_MISSING)
    assert e.field == "counter"


def test_missing_tag():
    envelope = _signed(1)
    del envelope[4]
    e = _rejected(auth.Verifier(KEY), envelope, E_AUTH_MISSING)
    assert e.field == "tag"


def test_unsigned_envelope():
    _rejected(auth.Verifier(KEY), _envelope(), E_AUTH_MISSING)


def test_counter_of_wrong_type_or_range():
    for counter in ("1", True, 1.0, b"\x01", None, 0, -5, auth.COUNTER_MAX + 1):
        envelope = _signed(1)
        envelope[3] = counter
        e = _rejected(auth.Verifier(KEY), envelope, E_AUTH_MISSING)
        assert e.field == "counter"


def test_tag_of_wrong_type():
    for tag in ("a" * 16, bytearray(16), [0] * 16, 0, None):
        envelope = _signed(1)
        envelope[4] = tag
        e = _rejected(auth.Verifier(KEY), envelope, E_AUTH_MISSING)
        assert e.field == "tag"


def test_tag_of_wrong_length():
    full = auth.hmac_sha256(KEY, auth.mac_input(_signed(1)))
    # The untruncated 32-byte tag is as wrong as a short one: one length, one answer.
    for tag in (b"", full[:15], full[:17], full):
        envelope = _signed(1)
        envelope[4] = tag
        e = _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)
        assert "%d bytes" % len(tag) in e.text


def test_flipped_tag_bit():
    for i in (0, 7, 15):
        envelope = _signed(1)
        tag = bytearray(envelope[4])
        tag[i] ^= 0x01
        envelope[4] = bytes(tag)
        _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)


def test_wrong_key():
    _rejected(auth.Verifier(OTHER_KEY), _signed(1), E_AUTH_BAD)


def test_modified_body():
    envelope = _signed(1)
    envelope[2] = {"zone": "F2"}
    _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)


def test_added_body_field():
    envelope = _signed(1)
    envelope[2] = {"zone": "F1", "cap": 40}
    _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)


def test_modified_type_and_request_id():
    for k, v in ((0, 8), (1, 43)):
        envelope = _signed(1)
        envelope[k] = v
        _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)


def test_added_envelope_field():
    envelope = _signed(1)
    envelope[5] = 1
    _rejected(auth.Verifier(KEY), envelope, E_AUTH_BAD)


def test_modified_counter():
    # Raising the counter of a captured command to get past the replay check must fail.
    verifier = auth.Verifier(KEY)
    captured = _signed(1)
    assert verifier.verify(captured) == 1
    captured[3] = 2
    _rejected(verifier, captured, E_AUTH_BAD)


def test_replay_of_the_same_message():
    verifier = auth.Verifier(KEY)
    wire = cbor.dumps(_signed(4))
    assert verifier.verify(cbor.loads(wire)) == 4
    e = _rejected(verifier, cbor.loads(wire), E_AUTH_REPLAY)
    assert e.field == "counter"
    assert verifier.last_counter == 4


def test_older_counter_is_a_replay():
    verifier = auth.Verifier(KEY)
    older = _signed(2)
    assert verifier.verify(_signed(3)) == 3
    _rejected(verifier, older, E_AUTH_REPLAY)


def test_forged_old_counter_is_bad_not_replay():
    # Tag checked first: "replay" is reserved for authentic commands seen before.
    verifier = auth.Verifier(KEY, last_counter=10)
    _rejected(verifier, _signed(5, OTHER_KEY), E_AUTH_BAD)


def test_failure_then_success():
    verifier = auth.Verifier(KEY)
    bad = _signed(7)
    bad[2] = {"zone": "F9"}
    _rejected(verifier, bad, E_AUTH_BAD)
    # The forged counter 7 was not consumed: the genuine command 7 still goes through.
    assert verifier.verify(_signed(7)) == 7


def test_verifier_resumes_from_persisted_counter():
    verifier = auth.Verifier(KEY, last_counter=10)
    _rejected(verifier, _signed(10), E_AUTH_REPLAY)
    assert verifier.verify(_signed(11)) == 11
    assert verifier.last_counter == 11


def test_verifier_rejects_non_map():
    for envelope in ([0, 1], b"\xa0", None):
        e = raises(ProtocolError, auth.Verifier(KEY).verify, envelope)
        assert e.code == E_BAD_ENVELOPE


def test_keys_of_wrong_length_are_rejected():
    for cls in (auth.Verifier, auth.Signer):
        for key in (b"", KEY[:31], KEY + b"\x00", b"\xaa" * 64):
            e = raises(ValueError, cls, key)
            assert "32 bytes" in str(e) and ("got %d bytes" % len(key)) in str(e)
        e = raises(ValueError, cls, "k" * 32)
        assert "32 bytes" in str(e) and "str" in str(e)
    e = raises(ValueError, auth.sign, _envelope(), KEY[:16], 1)
    assert "got 16 bytes" in str(e)


def test_bad_initial_counters_are_rejected():
    for counter in (-1, True, "0", None, auth.COUNTER_MAX + 1):
        raises(ValueError, auth.Verifier, KEY, counter)
        raises(ValueError, auth.Signer, KEY, counter)


def test_signer_advances_its_counter():
    signer = auth.Signer(KEY)
    verifier = auth.Verifier(KEY)
    for expected in (1, 2, 3):
        envelope = signer.sign(_envelope())
        assert envelope[3] == expected
        assert signer.counter == expected
        assert verifier.verify(envelope) == expected


def test_signer_resumes_from_persisted_counter():
    signer = auth.Signer(KEY, counter=41)
    assert signer.sign(_envelope())[3] == 42
    assert signer.counter == 42


def test_signer_matches_sign():
    envelope = auth.Signer(KEY, counter=4).sign(_envelope())
    assert envelope == auth.sign(_envelope(), KEY, 5)


def test_failed_sign_burns_no_counter():
    signer = auth.Signer(KEY, counter=3)
    raises(ProtocolError, signer.sign, "not a map")
    assert signer.counter == 3
    assert signer.sign(_envelope())[3] == 4


def test_signer_exhausted():
    signer = auth.Signer(KEY, counter=auth.COUNTER_MAX)
    envelope = _envelope()
    e = raises(ValueError, signer.sign, envelope)
    assert "rotate" in str(e)
    assert envelope == _envelope()
    assert signer.counter == auth.COUNTER_MAX


def test_initial_counter_follows_the_clock():
    assert auth.initial_counter(0, 1700000000000) == 1700000000000
    assert auth.initial_counter(1699999999999, 1700000000000) == 1700000000000


def test_initial_counter_survives_a_clock_set_back():
    # Counter ran ahead of a clock that was later set back: never reuse a counter.
    assert auth.initial_counter(1700000000000, 1600000000000) == 1700000000001
    assert auth.initial_counter(1700000000000, 1700000000000) == 1700000000001


def test_initial_counter_rejects_bad_input():
    for persisted, now_ms in ((-1, 0), (0, -1), (True, 0), (0, 1.5), ("1", 0)):
        raises(ValueError, auth.initial_counter, persisted, now_ms)
    raises(ValueError, auth.initial_counter, auth.COUNTER_MAX, 0)


def test_restarted_signer_never_reuses_a_counter():
    # The start-up recipe in docs/keys.md, with the clock set back behind the file.
    before = auth.Signer(KEY, counter=1700000000000)
    verifier = auth.Verifier(KEY)
    verifier.verify(before.sign(_envelope()))
    restarted = auth.Signer(KEY, counter=auth.initial_counter(before.counter, 1600000000000))
    assert verifier.verify(restarted.sign(_envelope())) > before.counter
