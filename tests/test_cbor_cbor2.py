# gatewire.cbor against cbor2, the reference codec on the host (CPython only).
import array
import math

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatewire import cbor
from gatewire.cbor import MAX_DEPTH, CBORDecodeError, dumps, loads


def same(a, b):
    # Equality that tells 1 from 1.0 and True, -0.0 from 0.0, and lets NaN equal NaN.
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a)
    return a == b


def depth(value):
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


ints = st.integers(min_value=-(2**64), max_value=2**64 - 1)
small_ints = st.integers(min_value=-300, max_value=70000)
keys = ints | small_ints | st.text(max_size=8) | st.binary(max_size=8)
exact_leaves = ints | small_ints | st.text() | st.binary() | st.booleans() | st.none()
# Single and half floats are drawn on their own so the shorter widths are really exercised.
floats = (
    st.floats()
    | st.floats(width=32)
    | st.floats(width=16)
    | st.sampled_from([0.0, -0.0, float("inf"), float("-inf"), float("nan")])
)


def tree(leaves):
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=6) | st.dictionaries(keys, children, max_size=6)
        ),
        max_leaves=40,
    ).filter(lambda v: depth(v) <= MAX_DEPTH)


exact_values = tree(exact_leaves)
values = tree(exact_leaves | floats)

# cbor2's canonical mode orders map keys length-first (RFC 8949 section 4.2.3, the old
# RFC 7049 canonical form); gatewire follows the core deterministic bytewise order of
# section 4.2.1. The two agree whenever a map's keys share one major type, so the
# byte-for-byte comparison with cbor2 draws maps whose keys are all of one kind.
one_kind_keys = st.sampled_from(
    [
        st.integers(min_value=0, max_value=2**64 - 1),
        st.integers(min_value=-(2**64), max_value=-1),
        st.text(max_size=30),
        st.binary(max_size=30),
    ]
)
one_kind_values = st.recursive(
    exact_leaves,
    lambda children: (
        st.lists(children, max_size=6)
        | one_kind_keys.flatmap(lambda ks: st.dictionaries(ks, children, max_size=6))
    ),
    max_leaves=40,
).filter(lambda v: depth(v) <= MAX_DEPTH)


def core_deterministic(value):
    # RFC 8949 section 4.2.1 spelled out independently: cbor2 encodes every leaf and
    # every head, the keys are ordered here by plain bytewise comparison.
    if isinstance(value, list):
        return array_head(len(value)) + b"".join(core_deterministic(v) for v in value)
    if isinstance(value, dict):
        pairs = sorted((core_deterministic(k), core_deterministic(v)) for k, v in value.items())
        head = array_head(len(value))
        return bytes([head[0] | 0x20]) + head[1:] + b"".join(k + v for k, v in pairs)
    return cbor2.dumps(value, canonical=True)


def array_head(n):
    # every 0 takes one byte, so what precedes them is the head
    return cbor2.dumps([0] * n, canonical=True)[:-n] if n else b"\x80"


@given(values)
def test_cbor2_reads_back_what_we_encode(value):
    assert same(cbor2.loads(dumps(value)), value)


@given(values)
def test_we_read_back_what_cbor2_encodes_canonically(value):
    assert same(loads(cbor2.dumps(value, canonical=True)), value)


@given(values)
def test_we_read_back_what_cbor2_encodes_non_canonically(value):
    # cbor2's default writes every float as a double and keeps insertion order
    assert same(loads(cbor2.dumps(value)), value)


@given(one_kind_values)
def test_encoding_is_byte_identical_to_cbor2_canonical(value):
    assert dumps(value) == cbor2.dumps(value, canonical=True)


@given(exact_values)
def test_map_keys_of_mixed_kinds_follow_the_bytewise_order(value):
    assert dumps(value) == core_deterministic(value)


def test_where_the_bytewise_and_length_first_orders_part():
    # -1 encodes as 20, 24 as 18 18: bytewise 24 comes first, length-first -1 would.
    assert dumps({-1: None, 24: None}) == bytes.fromhex("a21818f620f6")
    assert core_deterministic({-1: None, 24: None}) == bytes.fromhex("a21818f620f6")


@given(floats)
def test_float_encoding_is_byte_identical_to_cbor2_canonical(value):
    assert dumps(value) == cbor2.dumps(value, canonical=True)


@given(st.dictionaries(keys, exact_leaves, max_size=12))
def test_map_order_does_not_depend_on_insertion_order(m):
    reversed_m = dict(reversed(list(m.items())))
    assert dumps(reversed_m) == dumps(m)


def check_decoder_on(data):
    # Only CBORDecodeError may escape; whatever is accepted cbor2 reads the same way,
    # and re-encoding it gives bytes we read back to the same value.
    try:
        value = loads(data)
    except CBORDecodeError:
        return
    assert same(cbor2.loads(data), value)
    assert same(loads(dumps(value)), value)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_either_decode_or_raise_cbor_decode_error(data):
    check_decoder_on(data)


@st.composite
def damaged_encodings(draw):
    data = bytearray(draw(values.map(dumps)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if action == "insert":
            data[at:at] = bytes([draw(st.integers(0, 255))])
        elif at < len(data):
            if action == "flip":
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif action == "delete":
                del data[at]
            else:
                del data[at:]
    return bytes(data)


@given(damaged_encodings())
def test_damaged_valid_encodings_either_decode_or_raise_cbor_decode_error(data):
    check_decoder_on(data)


# Byte soup built from the pieces UTF-8 validation is about: real characters, surrogates
# (as CPython's surrogatepass writes them), overlong forms, stray and truncated bytes.
utf8_pieces = st.lists(
    st.integers(min_value=0, max_value=0x10FFFF).map(
        lambda c: chr(c).encode("utf-8", "surrogatepass")
    )
    | st.sampled_from(
        [
            b"\xc0\x80",
            b"\xc1\xbf",
            b"\xe0\x80\x80",
            b"\xe0\x9f\xbf",
            b"\xf0\x8f\xbf\xbf",
            b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\xf8\x88\x80\x80\x80",
            b"\xff",
        ]
    )
    | st.binary(max_size=3),
    max_size=8,
).map(b"".join)


@given(utf8_pieces)
def test_hand_utf8_check_agrees_with_cpythons_strict_decoder(raw):
    # MicroPython's decoder lets overlongs and surrogates through; gatewire.cbor checks
    # those by hand there, so the hand check must match a strict decoder exactly.
    try:
        raw.decode("utf-8")
        strict_ok = True
    except UnicodeDecodeError:
        strict_ok = False
    assert cbor._utf8_valid(raw, 0, len(raw)) == strict_ok


@given(st.text())
def test_hand_utf8_check_accepts_all_valid_text(text):
    raw = text.encode("utf-8")
    assert cbor._utf8_valid(raw, 0, len(raw))


@given(exact_values)
def test_decode_then_encode_reproduces_canonical_bytes(value):
    data = core_deterministic(value)
    assert dumps(loads(data)) == data


def test_strided_and_wide_memoryviews_are_handled_on_cpython():
    data = dumps(["zone-A", b"\x01\x02"])
    spread = bytes(b for c in data for b in (c, 0))
    assert loads(memoryview(spread)[::2]) == ["zone-A", b"\x01\x02"]
    wide = memoryview(array.array("H", [0xA0A0]))
    with pytest.raises(TypeError, match="2-byte items"):
        loads(wide)


def test_text_that_utf8_cannot_hold_is_refused_on_encode():
    with pytest.raises(ValueError):
        dumps({0: "\ud800"})
