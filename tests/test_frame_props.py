# Properties of gatewire.frame over random payloads, chunkings, garbage and bit flips
# (CPython only: hypothesis). A damaged or garbage frame passes CRC-32 by chance with
# probability 2**-32; the properties below accept that risk rather than hide it.
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gatewire import frame

# Payloads built from pieces that stress COBS: plain bytes, zero runs, and runs long
# enough to need full (254-byte) blocks.
_piece = st.one_of(
    st.binary(max_size=40),
    st.integers(1, 40).map(lambda n: b"\x00" * n),
    st.integers(250, 520).map(lambda n: b"\xff" * n),
    st.integers(250, 520).map(lambda n: b"\xa5" * n),
)
payloads = (
    st.lists(_piece, min_size=1, max_size=8)
    .map(lambda parts: b"".join(parts)[: frame.MAX_PAYLOAD])
    .filter(lambda p: len(p) > 0)
)
payload_lists = st.lists(payloads, min_size=1, max_size=6)
garbage = st.one_of(
    st.binary(max_size=300),
    st.integers(4000, 9000).map(lambda n: b"\x5a" * n),  # oversize without a delimiter
)
slow = settings(deadline=None, max_examples=150)


def damaged(d):
    return d.frames_bad_crc + d.frames_bad_cobs + d.frames_too_short + d.frames_oversize


def counters(d):
    return (
        d.frames_ok,
        d.frames_bad_crc,
        d.frames_bad_cobs,
        d.frames_too_short,
        d.frames_oversize,
        d.bytes_discarded,
    )


def feed_in_chunks(d, stream, cuts):
    got = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(stream)]:
        got += d.feed(stream[prev:cut])
        prev = cut
    return got


@slow
@given(payloads)
def test_round_trip_and_wire_shape(p):
    w = frame.encode(p)
    assert w[0] == 0 and w[-1] == 0
    assert w.find(b"\x00", 1) == len(w) - 1
    assert len(w) <= frame.max_wire_len(len(p)) + 2
    assert frame.Decoder().feed(w) == [p]


@slow
@given(payload_lists, st.data())
def test_any_chunking_gives_the_same_payloads(ps, data):
    stream = b"".join(frame.encode(p) for p in ps)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    d = frame.Decoder()
    assert feed_in_chunks(d, stream, cuts) == ps
    assert damaged(d) == 0


@slow
@given(st.binary(max_size=3000), st.data())
def test_decoder_state_depends_on_the_bytes_not_the_chunking(stream, data):
    # Also: arbitrary input never raises and never yields an empty or oversize payload.
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=30))
    whole = frame.Decoder(max_payload=600)
    expected = whole.feed(stream)
    pieces = frame.Decoder(max_payload=600)
    assert feed_in_chunks(pieces, stream, cuts) == expected
    assert counters(pieces) == counters(whole)
    assert all(0 < len(p) <= 600 for p in expected)
    assert len(pieces._frame) == 604


@slow
@given(payload_lists, st.data())
def test_garbage_between_frames_costs_only_the_garbage(ps, data):
    junk = [data.draw(garbage) for _ in range(len(ps) + 1)]
    for g in junk:
        # Garbage that is itself a valid frame is a frame; that is not what is tested.
        assume(frame.Decoder().feed(b"\x00" + g + b"\x00") == [])
    stream = junk[0] + b"".join(frame.encode(p) + g for p, g in zip(ps, junk[1:], strict=True))
    stream += b"\x00"  # trailing garbage is only judged once its frame ends
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    d = frame.Decoder()
    assert feed_in_chunks(d, stream, cuts) == ps
    assert d.frames_ok == len(ps)
    assert d.bytes_discarded == sum(len(g) - g.count(0) for g in junk)


@slow
@given(payload_lists, st.data())
def test_a_flipped_bit_costs_exactly_its_frame(ps, data):
    wires = [frame.encode(p) for p in ps]
    victim = data.draw(st.integers(0, len(ps) - 1))
    bit = data.draw(st.integers(0, 8 * len(wires[victim]) - 1))
    hit = bytearray(wires[victim])
    hit[bit // 8] ^= 1 << (bit % 8)
    wires[victim] = bytes(hit)
    # A frame after the victim: a flipped trailing delimiter leaves the victim open
    # until the next zero arrives, and only then is it judged.
    wires.append(frame.encode(b"after"))
    d = frame.Decoder()
    assert d.feed(b"".join(wires)) == [*ps[:victim], *ps[victim + 1 :], b"after"]
    assert d.frames_ok == len(ps)
    assert damaged(d) >= 1


@slow
@given(payloads, st.integers(1, 4096))
def test_decoder_limit_is_exact(p, limit):
    d = frame.Decoder(max_payload=limit)
    got = d.feed(frame.encode(p) + frame.encode(b"n"))
    if len(p) <= limit:
        assert got == [p, b"n"]
    else:
        assert got == [b"n"]
        assert d.frames_oversize == 1
    assert len(d._frame) == limit + 4
