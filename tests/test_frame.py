# micropython-test
# gatewire.frame under both interpreters. The oracle is written here independently of the
# module: a bitwise CRC-32 and a byte-at-a-time COBS encoder, so the module is checked
# against the definition, not against itself.
from hostcalls import in_parts
from mpcheck import raises

from gatewire import frame


def ref_crc32(data):
    # Bitwise, the register held as two 16-bit halves: 32-bit values are big ints on a
    # 32-bit MicroPython (small ints stop at 2**30), and a big-int step allocates.
    hi = lo = 0xFFFF
    for b in data:
        lo ^= b
        for _ in range(8):
            odd = lo & 1
            lo = (lo >> 1) | ((hi & 1) << 15)
            hi >>= 1
            if odd:  # ^ 0xEDB88320
                hi ^= 0xEDB8
                lo ^= 0x8320
    return ((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF)


def ref_cobs(data):
    out = bytearray(1)
    code_at = 0
    for b in data:
        if b == 0:
            out[code_at] = len(out) - code_at
            code_at = len(out)
            out.append(0)
        else:
            out.append(b)
            if len(out) - code_at == 255:
                out[code_at] = 255
                code_at = len(out)
                out.append(0)
    out[code_at] = len(out) - code_at
    return bytes(out)


def ref_wire(payload):
    # Any payload, even one encode() refuses: for feeding the decoder what it must reject.
    c = ref_crc32(payload)
    crc_le = bytes([c & 0xFF, (c >> 8) & 0xFF, (c >> 16) & 0xFF, (c >> 24) & 0xFF])
    return b"\x00" + ref_cobs(payload + crc_le) + b"\x00"


class Rng:
    # xorshift32: the same bytes under CPython and MicroPython. The state is two 16-bit
    # halves so that no step makes a big int (see ref_crc32).
    def __init__(self, seed):
        self.hi = seed >> 16
        self.lo = seed & 0xFFFF

    def _step(self):
        hi, lo = self.hi, self.lo
        # x ^= (x << 13) & 0xFFFFFFFF
        hi ^= ((hi << 13) | (lo >> 3)) & 0xFFFF
        lo ^= (lo << 13) & 0xFFFF
        # x ^= x >> 17
        lo ^= hi >> 1
        # x ^= (x << 5) & 0xFFFFFFFF
        hi ^= ((hi << 5) | (lo >> 11)) & 0xFFFF
        lo ^= (lo << 5) & 0xFFFF
        self.hi, self.lo = hi, lo

    def next(self):
        self._step()
        return (self.hi << 16) | self.lo

    def below(self, n):
        # next() % n without the 32-bit value (n < 2**14 keeps every product small)
        self._step()
        return ((self.hi % n) * (65536 % n) + self.lo) % n

    def data(self, n, zeros=True):
        out = bytearray(n)
        for i in range(n):
            self._step()
            b = self.lo & 0xFF
            if not zeros and b == 0:
                b = 0x5A
            out[i] = b
        return bytes(out)


def damaged(d):
    return d.frames_bad_crc + d.frames_bad_cobs + d.frames_too_short + d.frames_oversize


def boundary_payloads():
    # COBS blocks hold at most 254 data bytes: runs just under, at and over that size,
    # with and without a zero after them, and the CRC continuing the last run.
    out = []
    for n in (1, 2, 249, 250, 251, 253, 254, 255, 256, 507, 508, 509, 510, 762):
        out.append(b"\x5a" * n)
        out.append(b"\xff" * (n - 1) + b"\x00")
        out.append(b"\x00" + b"\x01" * n)
    out.append(bytes(1))
    out.append(bytes(300))
    out.append(b"\x00\x07" * 200)
    out.append(b"\x07" * 254 + b"\x00" + b"\x07" * 254 + b"\x00\x00")
    return out


def mixed_stream():
    rng = Rng(0x5EED)
    payloads = [
        b"\x11\x00\x22",
        rng.data(40),
        b"\xff" * 260,
        bytes(7),
        rng.data(300),
        b"\x01",
    ]
    return payloads, b"".join(frame.encode(p) for p in payloads)


# Known vectors: quoted by docs/protocol.md. CRC bytes are crc32 little-endian;
# 0xCBF43926 is CRC-32/IEEE's published check value for "123456789".


def test_vector_with_a_zero_in_the_payload():
    # data 11 00 22 | b1 51 c5 37 -> blocks [02 11] [06 22 b1 51 c5 37]
    assert frame.encode(b"\x11\x00\x22") == bytes.fromhex("0002110622b151c53700")


def test_vector_crc_check_value():
    wire = frame.encode(b"123456789")
    assert wire == bytes.fromhex("000e3132333435363738392639f4cb00")


def test_vector_crcs_agree_with_bitwise_reference():
    assert ref_crc32(b"123456789") == 0xCBF43926
    assert ref_crc32(b"\x11\x00\x22") == 0x37C551B1


def test_vectors_decode():
    d = frame.Decoder()
    wire = bytes.fromhex("0002110622b151c53700") + bytes.fromhex("000e3132333435363738392639f4cb00")
    assert d.feed(wire) == [b"\x11\x00\x22", b"123456789"]


@in_parts
def test_encode_matches_reference_at_block_boundaries():
    for p in boundary_payloads():
        assert frame.encode(p) == ref_wire(p), len(p)
        yield


@in_parts
def test_round_trip_each_payload_alone():
    rng = Rng(7)
    payloads = boundary_payloads()
    for n in (1, 3, 40, 199, 1000, 2500):
        payloads.append(rng.data(n))
    for p in payloads:
        d = frame.Decoder()
        assert d.feed(frame.encode(p)) == [p]
        assert d.frames_ok == 1
        assert damaged(d) == 0
        assert d.bytes_discarded == 0
        yield


def test_encode_accepts_bytes_bytearray_memoryview():
    p = b"\x00ab\x00"
    w = frame.encode(p)
    assert frame.encode(bytearray(p)) == w
    assert frame.encode(memoryview(p)) == w
    assert frame.encode(memoryview(b"xx" + p)[2:]) == w


@in_parts
def test_encode_into_writes_the_same_frame_into_the_callers_buffer():
    for p in boundary_payloads():
        room = frame.max_wire_len(len(p)) + 2
        want = ref_wire(p)
        for extra in (0, 9):
            out = bytearray(b"\xee" * (room + extra))
            n = frame.encode_into(p, out)
            assert bytes(out[:n]) == want, len(p)
        yield
    out = bytearray(20)
    view = memoryview(b"..\x00ab\x00")[2:]
    assert bytes(out[: frame.encode_into(view, out)]) == frame.encode(b"\x00ab\x00")


def test_encode_into_refuses_a_buffer_too_small_and_writes_nothing():
    p = b"\x01" * 300
    out = bytearray(b"\xee" * (frame.max_wire_len(300) + 1))
    e = raises(ValueError, frame.encode_into, p, out)
    assert "too small" in str(e) and "300-byte payload" in str(e)
    assert out == bytearray(b"\xee" * len(out))
    raises(ValueError, frame.encode_into, b"", bytearray(10))
    raises(ValueError, frame.encode_into, b"\x01" * 4097, bytearray(5000))


def test_encode_into_a_kept_buffer_allocates_nothing():
    import gc

    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    p = b"abc"  # its CRC-32, 0x352441c2, is below 2**30: a small int on a board too
    out = bytearray(16)
    frame.encode_into(p, out)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(100):
        frame.encode_into(p, out)
    after = gc.mem_alloc()
    gc.enable()
    assert after - before == 0, after - before


def test_wire_has_zeros_only_at_both_ends():
    for p in boundary_payloads():
        w = frame.encode(p)
        assert w[0] == 0
        assert w[-1] == 0
        assert w.find(b"\x00", 1) == len(w) - 1


def test_wire_length_within_documented_bound():
    for p in boundary_payloads():
        assert len(frame.encode(p)) <= frame.max_wire_len(len(p)) + 2
    assert len(frame.encode(b"\x01" * 4096)) == frame.max_wire_len(4096) + 2


def test_feed_returns_payloads_in_order():
    payloads, stream = mixed_stream()
    d = frame.Decoder()
    assert d.feed(stream) == payloads
    assert d.frames_ok == len(payloads)
    assert damaged(d) == 0


@in_parts
def test_stream_split_at_every_position():
    payloads, stream = mixed_stream()
    for cut in range(len(stream) + 1):
        d = frame.Decoder()
        got = d.feed(stream[:cut])
        got += d.feed(stream[cut:])
        assert got == payloads, cut
        assert damaged(d) == 0
        yield


def test_stream_byte_by_byte():
    payloads, stream = mixed_stream()
    d = frame.Decoder()
    got = []
    for i in range(len(stream)):
        got += d.feed(stream[i : i + 1])
    assert got == payloads
    assert damaged(d) == 0


@in_parts
def test_stream_in_random_chunks_of_every_type():
    payloads, stream = mixed_stream()
    rng = Rng(99)
    for trial in range(20):
        d = frame.Decoder()
        got = []
        pos = 0
        while pos < len(stream):
            k = 1 + rng.below(90)
            piece = stream[pos : pos + k]
            kind = trial % 3
            if kind == 1:
                piece = bytearray(piece)
            elif kind == 2:
                piece = memoryview(piece)
            got += d.feed(piece)
            pos += k
        assert got == payloads
        yield


def test_empty_frames_are_ignored_silently():
    d = frame.Decoder()
    a = frame.encode(b"a")
    b = frame.encode(b"b")
    assert d.feed(b"\x00" * 10 + a + b"\x00" * 5 + b + b"\x00") == [b"a", b"b"]
    assert damaged(d) == 0
    assert d.bytes_discarded == 0


@in_parts
def test_garbage_between_frames_costs_only_the_garbage():
    a = frame.encode(b"\x01before\x00")
    b = frame.encode(b"after\x00\xff" * 20)
    rng = Rng(1234)
    lengths = list(range(40))
    lengths.extend((253, 254, 255, 256, 600, 4117, 4118, 9000))
    for n in lengths:
        for zeros in (False, True):
            garbage = rng.data(n, zeros)
            d = frame.Decoder()
            assert d.feed(a + garbage + b) == [b"\x01before\x00", b"after\x00\xff" * 20], n
            assert d.frames_ok == 2
            nonzero = n - garbage.count(b"\x00")
            assert d.bytes_discarded == nonzero, n
            assert (damaged(d) > 0) == (nonzero > 0)
            yield


def test_garbage_before_the_first_frame_is_dropped():
    d = frame.Decoder()
    assert d.feed(b"\x13\x37garbage" + frame.encode(b"hello")) == [b"hello"]
    assert d.bytes_discarded == 9


def flip_every_bit(a, b, c):
    # b's whole wire form, both delimiters included, one bit at a time (in parts: a part
    # per byte of it).
    wa, wb, wc = frame.encode(a), frame.encode(b), frame.encode(c)
    for i in range(len(wb)):
        for bit in range(8):
            hit = bytearray(wb)
            hit[i] ^= 1 << bit
            d = frame.Decoder()
            got = d.feed(wa + hit + wc)
            assert got == [a, c], (i, bit)
            assert d.frames_ok == 2
            assert damaged(d) >= 1, (i, bit)
            assert d.bytes_discarded >= 1
        yield


@in_parts
def test_bit_flip_in_a_short_frame_costs_only_that_frame():
    yield from flip_every_bit(b"first", b"\x11\x00\x22\x00\x00\x33middle", b"third")


@in_parts
def test_bit_flip_in_a_frame_with_full_blocks_costs_only_that_frame():
    yield from flip_every_bit(b"first", b"\xa5" * 300 + b"\x00\x01", b"third\x00")


@in_parts
def test_truncated_frame_then_a_good_one():
    payloads, _ = mixed_stream()
    good = frame.encode(b"good")
    for p in payloads:
        w = frame.encode(p)
        for cut in range(len(w) - 1):
            d = frame.Decoder()
            assert d.feed(w[:cut] + good) == [b"good"], (len(p), cut)
            assert d.frames_ok == 1
            assert damaged(d) == (1 if cut > 1 else 0)
            assert d.bytes_discarded == (cut - 1 if cut > 1 else 0)
            yield


def test_counters_name_the_damage():
    ok = frame.encode(b"payload")
    d = frame.Decoder()
    # a data byte changed (not to zero): COBS intact, CRC wrong
    bad = bytearray(ok)
    bad[3] ^= 0x40
    d.feed(bad)
    assert (d.frames_bad_crc, d.frames_bad_cobs, d.frames_too_short) == (1, 0, 0)
    # the code byte promises more than arrives before the delimiter
    d.feed(b"\x00\x09abc\x00")
    assert d.frames_bad_cobs == 1
    # decodes to two bytes: no room for a payload and a CRC
    d.feed(b"\x00\x03ab\x00")
    assert d.frames_too_short == 1
    # the CRC of an empty payload is 00000000: a valid-looking frame encode() refuses
    assert ref_wire(b"") == b"\x00\x01\x01\x01\x01\x01\x00"
    d.feed(ref_wire(b""))
    assert d.frames_too_short == 2
    assert d.frames_ok == 0
    assert d.frames_oversize == 0
    assert d.bytes_discarded == len(ok) - 2 + 4 + 3 + 5


@in_parts
def test_oversize_run_is_bounded_and_recovered_from():
    # R-DATA-1: a babbling line must not exhaust the board; the next frame still arrives.
    run = Rng(5).data(20000, zeros=False)
    for chunk_len in (20000, 4096, 1000, 7):
        d = frame.Decoder()
        buffer_len = len(d._frame)
        got = []
        for i in range(0, len(run), chunk_len):
            got += d.feed(run[i : i + chunk_len])
            if i % 4096 < chunk_len:
                yield
        got += d.feed(frame.encode(b"after"))
        assert got == [b"after"], chunk_len
        assert d.frames_oversize == 1
        assert d.bytes_discarded == 20000
        assert len(d._frame) == buffer_len == frame.MAX_PAYLOAD + 4
        yield


@in_parts
def test_max_payload_exactly_is_accepted():
    for p in (b"\x01" * 4096, bytes(4096), Rng(3).data(4096)):
        w = frame.encode(p)
        assert w == ref_wire(p)
        d = frame.Decoder()
        assert d.feed(w) == [p]
        yield


def test_one_byte_over_max_is_refused_by_encode():
    e = raises(ValueError, frame.encode, b"\x01" * 4097)
    assert "4097" in str(e)
    assert "4096" in str(e)


@in_parts
def test_one_byte_over_max_is_refused_by_decoder():
    # Without zeros the wire form is over max_wire_len; all zeros it is short on the wire
    # and only the decoded length gives it away.
    for p in (b"\x01" * 4097, bytes(4097), Rng(4).data(4097)):
        d = frame.Decoder()
        got = d.feed(frame.encode(b"a") + ref_wire(p) + frame.encode(b"b"))
        assert got == [b"a", b"b"]
        assert d.frames_oversize == 1
        assert d.bytes_discarded == len(ref_wire(p)) - 2
        yield


def test_smaller_decoder_limit():
    d = frame.Decoder(max_payload=100)
    assert d.max_wire_len == frame.max_wire_len(100)
    assert d.feed(frame.encode(bytes(100)) + frame.encode(bytes(101))) == [bytes(100)]
    assert d.feed(frame.encode(b"\x02" * 101) + frame.encode(b"z")) == [b"z"]
    assert d.frames_oversize == 2


def test_empty_payload_is_refused_by_encode():
    e = raises(ValueError, frame.encode, b"")
    assert "empty" in str(e)


def test_wrong_types_are_refused():
    raises(TypeError, frame.encode, "text")
    raises(TypeError, frame.encode, None)
    raises(TypeError, frame.Decoder().feed, "text")
    raises(TypeError, frame.Decoder, "100")
    raises(TypeError, frame.Decoder, True)
    raises(ValueError, frame.Decoder, 0)
    e = raises(ValueError, frame.Decoder, 4097)
    assert "4097" in str(e)


def test_refused_feed_changes_nothing():
    d = frame.Decoder()
    w = frame.encode(b"whole")
    d.feed(w[:4])
    raises(TypeError, d.feed, "text")
    assert d.feed(w[4:]) == [b"whole"]
    assert damaged(d) == 0


def test_feed_takes_the_first_n_bytes_of_a_buffer_as_they_are():
    # A board's receive buffer, fed with the count read into it: the bytes past n are
    # stale and must not count, delimiters included.
    payloads, stream = mixed_stream()
    stale = b"\x00\x02x" * 13 + b"\x00"  # whole frames, but past n
    for cut in (0, 1, len(stream) // 2, len(stream)):
        d = frame.Decoder()
        buf = bytearray(stream[:cut]) + stale
        got = d.feed(buf, cut)
        rest = bytearray(stream[cut:]) + bytearray(8)
        got += d.feed(rest, len(stream) - cut)
        assert got == payloads, cut
    d = frame.Decoder()
    raises(ValueError, d.feed, buf, len(buf) + 1)
    raises(ValueError, d.feed, buf, -1)
    raises(ValueError, d.feed, buf, True)
    assert d.feed(frame.encode(b"ok")) == [b"ok"]


def test_feed_each_hands_each_payload_as_feed_returns_it_split_anywhere():
    # The board's link: each payload handed over as soon as its frame ends, as a view of
    # the decoder's buffer valid during the call, the same payloads feed() returns,
    # whatever the chunks; stale bytes past n never count.
    payloads, stream = mixed_stream()
    got = []

    def take(view):
        assert type(view) is memoryview
        got.append(bytes(view))

    for cut in (0, 1, 5, len(stream) // 2, len(stream) - 1, len(stream)):
        d = frame.Decoder()
        del got[:]

        d.feed_each(bytearray(stream[:cut]) + b"\x00\x02x\x00", cut, take)
        d.feed_each(bytearray(stream[cut:]), len(stream) - cut, take)
        assert got == payloads, cut
        assert d.frames_ok == len(payloads)
    d = frame.Decoder()
    raises(ValueError, d.feed_each, bytearray(4), 5, take)


def test_feed_each_passes_on_what_the_handler_raises_and_decodes_the_next_frame():
    d = frame.Decoder()
    seen = []

    def fail(view):
        seen.append(bytes(view))
        raise KeyError("handler")

    raises(KeyError, d.feed_each, frame.encode(b"one") + frame.encode(b"two"), None, fail)
    assert seen == [b"one"]  # the rest of that chunk is not decoded
    assert d.feed(frame.encode(b"three")) == [b"three"]
    bad = bytearray(frame.encode(b"four"))
    bad[3] ^= 1
    d.feed_each(bad, len(bad), fail)  # a damaged frame reaches no handler
    assert seen == [b"one"] and d.frames_bad_crc == 1


def test_feed_each_allocates_no_list_and_no_copy_of_a_request():
    # A signed ack's frame (41 bytes, int keys: many short COBS runs) through feed_each:
    # two views of the decoder's buffer (the crc's and the payload's), where feed()
    # made a list, a view of the chunk, a view per run and a bytes copy (224 B here).
    import gc

    if not hasattr(gc, "mem_alloc"):
        return  # CPython: the [micropython] run of this test is the one that counts
    head = bytes.fromhex("a5000701193039" + "02a10019025803" + "1b0000019390" + "0a2f7b0450")
    payload = head + bytes(range(1, 17))
    wire = frame.encode(payload)
    buf = bytearray(256)
    buf[: len(wire)] = wire
    n = len(wire)
    d = frame.Decoder()
    got = [0, 0]  # the last payload's length, how many

    def take(view):
        got[0] = len(view)
        got[1] += 1

    d.feed_each(buf, n, take)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(20):
        d.feed_each(buf, n, take)
    used = (gc.mem_alloc() - before) // 20
    gc.enable()
    assert got == [len(payload), 21] and len(payload) == 41
    assert used <= 32, used


def test_reset_forgets_partial_frame_and_counters():
    d = frame.Decoder()
    w = frame.encode(b"interrupted frame")
    d.feed(b"\x00\x05ab\x00")
    d.feed(w[:8])
    d.reset()
    assert (d.frames_ok, damaged(d), d.bytes_discarded) == (0, 0, 0)
    # the tail alone is a damaged frame of its own; the next frame is whole
    assert d.feed(w[8:] + frame.encode(b"next")) == [b"next"]
    assert damaged(d) == 1
    assert d.bytes_discarded == len(w) - 9
