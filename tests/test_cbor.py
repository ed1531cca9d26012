# micropython-test
# gatewire.cbor under CPython and MicroPython: RFC 8949 Appendix A vectors for the subset
# the protocol uses, deterministic encoding, and every way loads must refuse bad input
# with CBORDecodeError alone (garbage on the wire must never crash the gateway).
import math
import time

from hostcalls import in_parts
from mpcheck import raises

from gatewire.cbor import MAX_DEPTH, CBORDecodeError, dumps, encode_into, loads
from gatewire.errors import E_BAD_ENVELOPE, ProtocolError

h = bytes.fromhex

EVENT = {0: 96, 1: 0, 2: {0: 1234, 1: 1700000000, 2: 3, 3: 305419896, 4: "zone-A", 5: b"\x01" * 16}}
EVENT_HEX = (
    "a3001860010002a6001904d2011a6553f1000203031a1234567804667a6f6e652d41"
    "055001010101010101010101010101010101"
)


def same(a, b):
    # Equality that tells 1 from 1.0 and True, -0.0 from 0.0, and lets NaN equal NaN.
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if a != a:
            return b != b
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if type(a) is list:
        return len(a) == len(b) and all(same(a[i], b[i]) for i in range(len(a)))
    if type(a) is dict:
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a)
    return a == b


def refused(data):
    # loads must raise exactly CBORDecodeError; returns it for further checks
    e = raises(CBORDecodeError, loads, data)
    assert type(e) is CBORDecodeError, type(e)
    return e


def ms_now():
    if hasattr(time, "ticks_ms"):
        return time.ticks_ms()
    return int(time.monotonic() * 1000)


def ms_since(t0):
    if hasattr(time, "ticks_diff"):
        return time.ticks_diff(time.ticks_ms(), t0)
    return ms_now() - t0


# ---- RFC 8949 Appendix A, both ways ----

INT_VECTORS = [
    (0, "00"),
    (1, "01"),
    (10, "0a"),
    (23, "17"),
    (24, "1818"),
    (25, "1819"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"),
    (-10, "29"),
    (-100, "3863"),
    (-1000, "3903e7"),
]

FLOAT_VECTORS = [
    (0.0, "f90000"),
    (-0.0, "f98000"),
    (1.0, "f93c00"),
    (1.1, "fb3ff199999999999a"),
    (1.5, "f93e00"),
    (65504.0, "f97bff"),
    (100000.0, "fa47c35000"),
    (3.4028234663852886e38, "fa7f7fffff"),
    (1.0e300, "fb7e37e43c8800759c"),
    (5.960464477539063e-8, "f90001"),
    (0.00006103515625, "f90400"),
    (-4.0, "f9c400"),
    (-4.1, "fbc010666666666666"),
    (float("inf"), "f97c00"),
    (float("nan"), "f97e00"),
    (float("-inf"), "f9fc00"),
]

OTHER_VECTORS = [
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    (b"", "40"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ('"\\', "62225c"),
    ("\u00fc", "62c3bc"),
    ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"),
    ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    (
        {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
        "a56161614161626142616361436164614461656145",
    ),
]


def test_rfc8949_vectors_encode_to_the_listed_bytes():
    for value, hexed in INT_VECTORS + FLOAT_VECTORS + OTHER_VECTORS:
        assert dumps(value) == h(hexed), (value, dumps(value), hexed)


def test_rfc8949_vectors_decode_to_the_listed_values():
    for value, hexed in INT_VECTORS + FLOAT_VECTORS + OTHER_VECTORS:
        assert same(loads(h(hexed)), value), (hexed, loads(h(hexed)), value)


def test_rfc8949_wider_floats_for_special_values_decode():
    inf = float("inf")
    for hexed, value in (
        ("fa7f800000", inf),
        ("faff800000", -inf),
        ("fb7ff0000000000000", inf),
        ("fbfff0000000000000", -inf),
    ):
        assert loads(h(hexed)) == value, hexed
    for hexed in ("fa7fc00000", "fb7ff8000000000000", "f97e00", "f9fe00"):
        got = loads(h(hexed))
        assert type(got) is float and got != got, hexed


def test_rfc8949_tags_undefined_and_simple_values_are_refused():
    for hexed in (
        "c074323031332d30332d32315432303a30343a30305a",
        "c11a514b67b0",
        "c249010000000000000000",
        "d74401020304",
        "d818456449455446",
        "f7",
        "f0",
        "f818",
        "f8ff",
    ):
        refused(h(hexed))


def test_rfc8949_indefinite_lengths_are_refused():
    for hexed in (
        "5f42010243030405ff",
        "7f657374726561646d696e67ff",
        "9fff",
        "9f018202039f0405ffff",
        "83018202039f0405ff",
        "bf61610161629f0203ffff",
        "bf6346756ef563416d7421ff",
    ):
        e = refused(h(hexed))
        assert "indefinite" in str(e), str(e)


# ---- deterministic encoding (RFC 8949 section 4.2.1) ----


@in_parts
def test_heads_are_shortest_at_every_boundary():
    cases = [
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65535, "19ffff"),
        (65536, "1a00010000"),
        (4294967295, "1affffffff"),
        (4294967296, "1b0000000100000000"),
        (-24, "37"),
        (-25, "3818"),
        (-256, "38ff"),
        (-257, "390100"),
        (-65537, "3a00010000"),
        (-4294967297, "3b0000000100000000"),
    ]
    for value, hexed in cases:
        assert dumps(value) == h(hexed), (value, dumps(value))
    assert dumps(b"x" * 24)[:2] == h("5818")
    assert dumps("y" * 256)[:3] == h("790100")
    yield  # a part of its own (tests/hostcalls.py) for 64 KB beside its 64 KB encoding:
    # encode_into, so that no third copy is made as dumps() would
    buf = bytearray()
    encode_into(buf, b"z" * 65536)
    assert buf[:5] == h("5a00010000") and len(buf) == 65541


def test_an_array_of_65536_items_has_a_four_byte_head():
    # Its list alone is 256 KB on a 32-bit board: listed in tests/board_fit.py.
    assert dumps([0] * 65536)[:5] == h("9a00010000")


def test_map_keys_sort_bytewise_by_their_encoding_whatever_the_insertion_order():
    # RFC 8949 section 4.2.1's example order: 10, 100, -1, "z", "aa"; bytes sit between.
    expected = h("a60a05186404200341000661" + "7a02" + "62616101")
    orders = (
        ["aa", "z", b"\x00", -1, 100, 10],
        [10, 100, -1, b"\x00", "z", "aa"],
        [-1, "aa", 10, b"\x00", "z", 100],
    )
    values = {10: 5, 100: 4, -1: 3, b"\x00": 6, "z": 2, "aa": 1}
    for order in orders:
        m = {}
        for k in order:
            m[k] = values[k]
        assert dumps(m) == expected, (order, dumps(m))


def test_int_keys_sort_numerically_with_negatives_after_all_positives():
    m = {300: 0, 2: 0, -1: 0, 24: 0, -300: 0, 0: 0}
    assert dumps(m) == h("a6" + "0000" + "0200" + "181800" + "19012c00" + "2000" + "39012b00")


def test_typical_event_encodes_canonically_and_round_trips():
    assert dumps(EVENT) == h(EVENT_HEX)
    assert same(loads(h(EVENT_HEX)), EVENT)


def test_floats_take_the_shortest_width_that_keeps_the_value():
    cases = [
        (2.0**-24, "f90001"),  # smallest half subnormal
        (2.0**-14 - 2.0**-24, "f903ff"),  # largest half subnormal
        (3 * 2.0**-20, "f90030"),
        (-(2.0**-24), "f98001"),
        (2.0**-25, "fa33000000"),  # below every half: single
        (65520.0, "fa477ff000"),  # just above half's largest
        (1.0009765625, "f93c01"),  # 1 + 2**-10: last half mantissa bit
        (1.00048828125, "fa3f801000"),  # 1 + 2**-11: needs single
        (2.0**-149, "fa00000001"),  # smallest single subnormal
        (2.0**-150, "fb3690000000000000"),  # below every single: double
        (16777217.0, "fb4170000010000000"),  # 2**24 + 1: needs double
    ]
    for value, hexed in cases:
        assert dumps(value) == h(hexed), (value, dumps(value), hexed)
        assert same(loads(h(hexed)), value), hexed


def test_half_floats_decode_by_hand_including_subnormals_and_signs():
    for hexed, value in (
        ("f90001", 2.0**-24),
        ("f903ff", 1023 * 2.0**-24),
        ("f90400", 2.0**-14),
        ("f93555", 0.333251953125),
        ("f9c000", -2.0),
        ("f98000", -0.0),
        ("f97bff", 65504.0),
        ("f9fbff", -65504.0),
    ):
        assert same(loads(h(hexed)), value), (hexed, loads(h(hexed)))


def test_tuples_are_arrays_and_byte_buffers_are_byte_strings():
    assert dumps((1, (2, 3))) == dumps([1, [2, 3]]) == h("8201820203")
    assert dumps(bytearray(b"ab")) == h("426162")
    assert dumps(memoryview(b"xabcx")[1:4]) == h("43616263")


def test_nan_is_always_the_canonical_half():
    assert dumps(float("nan")) == h("f97e00")
    assert dumps(-float("nan")) == h("f97e00")


def test_encoding_refuses_unsupported_types_naming_them():
    class Crossing:
        pass

    for value in (object(), Crossing(), {1, 2}, range(3)):
        e = raises(TypeError, dumps, value)
        assert type(value).__name__ in str(e), str(e)
    e = raises(TypeError, dumps, {1: [Crossing()]})
    assert "Crossing" in str(e), str(e)


def test_encoding_refuses_map_keys_that_are_not_int_str_or_bytes():
    for key in (True, False, None, 1.5, (1, 2)):
        e = raises(TypeError, dumps, {key: 1})
        assert type(key).__name__ in str(e), str(e)


def test_encoding_refuses_ints_beyond_64_bits():
    assert dumps(2**64 - 1) == h("1bffffffffffffffff")
    assert dumps(-(2**64)) == h("3bffffffffffffffff")
    for n in (2**64, -(2**64) - 1, 2**100, -(2**100)):
        e = raises(ValueError, dumps, n)
        assert "2**64" in str(e), str(e)


def test_encoding_refuses_nesting_deeper_than_max_depth_and_cycles():
    deep = 0
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert loads(dumps(deep)) == deep
    raises(ValueError, dumps, [deep])
    raises(ValueError, dumps, {0: deep})
    loop = [1]
    loop.append(loop)
    e = raises(ValueError, dumps, loop)
    assert "MAX_DEPTH" in str(e), str(e)


def test_encode_into_appends_and_leaves_the_buffer_untouched_on_error():
    buf = bytearray(b"\xaa")
    assert encode_into(buf, EVENT) == len(EVENT_HEX) // 2
    assert bytes(buf) == b"\xaa" + h(EVENT_HEX)
    before = bytes(buf)
    raises(TypeError, encode_into, buf, [1, 2, "three", object()])
    assert bytes(buf) == before
    raises(ValueError, encode_into, buf, {0: 2**70})
    assert bytes(buf) == before


# ---- decoding: input kinds, leniency ----


def test_loads_accepts_bytes_bytearray_and_memoryview_and_returns_bytes():
    data = dumps({0: b"\x00\xff", 1: "z"})
    framed = b"\x7e\x7e" + data + b"\x7e"
    for source in (data, bytearray(data), memoryview(data), memoryview(framed)[2:-1]):
        got = loads(source)
        assert got == {0: b"\x00\xff", 1: "z"}
        assert type(got[0]) is bytes


def test_loads_of_a_view_allocates_only_what_it_decodes():
    # The board's link hands each request as a view of the frame decoder's buffer: it is
    # decoded as it is (no second view, no isinstance tuple) and the read position comes
    # from a pool, so an item of ints costs its maps alone, from bytes or from a view.
    import gc

    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    data = dumps({0: 7, 1: 12345, 2: {0: 600}})
    view = memoryview(bytearray(data))

    def alloc(source):
        loads(source)
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        for _ in range(10):
            loads(source)
        used = (gc.mem_alloc() - before) // 10
        gc.enable()
        return used

    maps = alloc(data)
    assert alloc(view) == maps, (alloc(view), maps)
    assert maps <= 80, maps  # two small dicts; 112 B with a position list per call


def test_loads_gives_its_position_list_back_when_it_fails_and_nests():
    # The pool is left as it was after a refused input, and a loads() inside another
    # (a thread on the host, or a nested decode) takes a list of its own.
    from gatewire import cbor

    size = len(cbor._AT_POOL)
    raises(CBORDecodeError, loads, b"\x82\x01")
    raises(CBORDecodeError, loads, b"\x01\x02")
    assert len(cbor._AT_POOL) == size
    inner = []
    real = cbor._decode

    def nested(buf, at, end, depth):
        if not inner:
            inner.append(None)  # once: the inner loads() comes through here too
            inner[0] = loads(b"\x83\x01\x02\x03")
        return real(buf, at, end, depth)

    cbor._decode = nested
    try:
        assert loads(b"\x82\x18\x64\x05") == [100, 5]
    finally:
        cbor._decode = real
    assert inner == [[1, 2, 3]]
    assert 1 <= len(cbor._AT_POOL) <= 4


def test_loads_refuses_non_buffers_with_type_error():
    for value in ("a0", None, [0xA0], 160):
        e = raises(TypeError, loads, value)
        assert type(value).__name__ in str(e), str(e)


def test_non_canonical_but_valid_input_is_accepted():
    assert loads(h("1801")) == 1
    assert loads(h("1b0000000000000001")) == 1
    assert loads(h("3800")) == -1
    assert loads(h("5801ff")) == b"\xff"
    for hexed in ("fa3f800000", "fb3ff0000000000000"):
        assert same(loads(h(hexed)), 1.0)
    unsorted = h("a3026162016161006163")
    assert loads(unsorted) == {2: "b", 1: "a", 0: "c"}
    # re-encoding gives the one canonical form
    assert dumps(loads(unsorted)) == h("a3006163016161026162")


# ---- decoding: every class of bad input raises CBORDecodeError ----


def test_decode_error_is_a_value_error_and_a_protocol_error_with_an_offset():
    e = refused(h("0000"))
    assert isinstance(e, ValueError)
    assert isinstance(e, ProtocolError)
    assert e.code == E_BAD_ENVELOPE
    assert e.offset == 1
    assert "trailing" in str(e), str(e)


def test_empty_input_is_refused():
    refused(b"")
    refused(bytearray())
    refused(memoryview(b""))


def test_trailing_bytes_are_refused():
    for hexed in ("0000", "a0a0", "8100ff", "f6f6", "6161" + "61"):
        refused(h(hexed))


@in_parts
def test_every_proper_prefix_of_a_valid_encoding_is_refused():
    value = [EVENT, -(2**64), 2**64 - 1, 1.1, 100000.0, 1.5, "\u6c34zone", b"\x00" * 30, {}]
    data = dumps(value)
    assert same(loads(data), value)
    for cut in range(len(data)):
        e = refused(data[:cut])
        assert "truncated" in str(e) or "empty" in str(e), (cut, str(e))
        yield  # a part per prefix (tests/hostcalls.py): each error is garbage after it


def test_reserved_additional_information_28_to_30_is_refused_for_every_major_type():
    for major in range(8):
        for ai in (28, 29, 30):
            e = refused(bytes([(major << 5) | ai]) + b"\x00" * 8)
            assert "reserved" in str(e), str(e)


def test_additional_information_31_is_refused_for_every_major_type():
    for major in (0, 1, 6):
        refused(bytes([(major << 5) | 31]))
    for major in (2, 3, 4, 5):
        refused(bytes([(major << 5) | 31]) + b"\xff")


def test_a_break_out_of_place_is_refused():
    for hexed in ("ff", "81ff", "8201ff", "a1ff00", "a101ff", "ff00"):
        e = refused(h(hexed))
        assert "break" in str(e), (hexed, str(e))


def test_invalid_utf8_is_refused_even_where_the_platform_decoder_is_lax():
    for hexed in (
        "61ff",  # never valid in UTF-8
        "6180",  # lone continuation byte
        "61c3",  # lead byte, string ends
        "62c328",  # lead byte, then not a continuation
        "62c080",  # overlong NUL
        "62c1bf",  # overlong
        "63e08080",  # overlong three-byte
        "64f0808080",  # overlong four-byte
        "63eda080",  # UTF-16 surrogate D800
        "63edbfbf",  # surrogate DFFF
        "64f4908080",  # above U+10FFFF
        "64f5808080",  # lead byte beyond U+10FFFF
        "65f888808080",  # five-byte form
        "636162c3",  # valid prefix, broken end
    ):
        e = refused(h(hexed))
        assert "UTF-8" in str(e), (hexed, str(e))
    # the edges of the valid ranges still pass
    for text in ("\u007f", "\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff"):
        assert loads(dumps(text)) == text
    assert loads(h("64f48fbfbf")) == "\U0010ffff"
    assert loads(h("64f0908080")) == "\U00010000"


def test_nesting_up_to_max_depth_decodes_and_one_deeper_is_refused():
    assert MAX_DEPTH == 16
    ok_arrays = b"\x81" * MAX_DEPTH + b"\x00"
    ok_maps = b"\xa1\x00" * MAX_DEPTH + b"\x00"
    nested_list = 0
    nested_map = 0
    for _ in range(MAX_DEPTH):
        nested_list = [nested_list]
        nested_map = {0: nested_map}
    assert loads(ok_arrays) == nested_list
    assert loads(ok_maps) == nested_map
    for deep in (b"\x81" + ok_arrays, b"\xa1\x00" + ok_maps, b"\x81" * 100000):
        e = refused(deep)
        assert "MAX_DEPTH" in str(e), str(e)


def test_huge_claimed_lengths_are_refused_promptly_without_allocating():
    t0 = ms_now()
    for hexed, what in (
        ("5bffffffffffffffff", "string"),
        ("7bffffffffffffffff", "string"),
        ("9bffffffffffffffff", "array"),
        ("bbffffffffffffffff", "map"),
        ("5affffffff00", "string"),
        ("7affffffff00", "string"),
        ("9affffffff0000", "array"),
        ("baffffffff000000", "map"),
        ("5b7fffffffffffffff41", "string"),
        ("5903e8" + "00" * 999, "string"),
        ("9903e8" + "00" * 999, "array of 1000 items"),
        ("b901f4" + "00" * 999, "map of 500 pairs"),
    ):
        e = refused(h(hexed))
        assert "truncated" in str(e) and what in str(e), (hexed, str(e))
    assert ms_since(t0) < 2000


def test_a_map_needs_two_bytes_a_pair_before_anything_is_decoded():
    e = refused(h("a3010203"))
    assert "map of 3 pairs" in str(e), str(e)
    refused(h("a101"))


def test_duplicate_map_keys_are_refused_even_when_spelled_differently():
    for hexed in (
        "a201000101",
        "a2010018010a",  # 1 and non-shortest 1
        "a2616100616101",  # "a" twice
        "a2410000410001",  # b"\x00" twice
        "a220003800ff",  # -1 and non-shortest -1
    ):
        e = refused(h(hexed))
        assert "duplicate" in str(e), (hexed, str(e))
    # an int, a text and a byte string that look alike are three keys
    assert loads(h("a301006131004131" + "02")) == {1: 0, "1": 0, b"1": 2}


def test_map_keys_other_than_int_text_or_bytes_are_refused():
    for hexed in ("a18000", "a1a000", "a1f400", "a1f600", "a1f93c0000", "a1c10000"):
        e = refused(h(hexed))
        assert "map key" in str(e), (hexed, str(e))


def test_errors_point_at_the_offending_offset():
    assert refused(h("830102ff")).offset == 3
    assert refused(h("82016261")).offset == 3
    assert refused(h("a201010101")).offset == 3
    assert refused(h("a2010061ff00")).offset == 4
    assert refused(h("a3010203")).offset == 1
