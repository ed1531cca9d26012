# Framing for the serial link: one frame on the wire is
#     0x00 || COBS(payload || crc32(payload), 4 bytes little-endian) || 0x00
# Why this shape:
# - COBS leaves no zero inside a frame, so a zero always means "frame boundary" and the
#   decoder resynchronises at the next zero whatever came before. Cost: 7 bytes a frame
#   (2 delimiters, 1 code byte, 4 CRC) plus 1 per further 254 bytes: a 2,500-byte batch
#   takes at most 1.007 wire bytes per payload byte, a lone 40-byte message 1.175.
# - The CRC-32 (IEEE, binascii.crc32, in MicroPython too) rejects damaged frames; COBS
#   alone would hand corrupted bytes to the CBOR layer as a "valid" payload.
# - The LEADING zero is deliberate: garbage between two frames becomes a frame of its
#   own (and fails its CRC) instead of being glued onto the front of the next frame, so
#   garbage costs only itself and a flipped delimiter costs only the frame it belongs to.
#   Two frames back to back leave an empty frame between them, which is ignored.
# - Limits are explicit (MAX_PAYLOAD) and the decoder's buffer is preallocated: a stream
#   with no zero in it cannot grow memory on the board (ARCHITECTURE principle 6).
# The decoder decodes COBS as bytes arrive (a small state machine), so its one buffer
# holds the decoded frame (max_payload + 4 bytes) rather than the longer encoded form.

import binascii
import struct

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MAX_PAYLOAD = const(4096)
CRC_BYTES = const(4)
# What a gateway takes while it is busy, without loss: one largest frame with both
# delimiters (docs/protocol.md section 2.1). A host never has more than this in flight.
LINK_IN_FLIGHT_MAX = const(4119)
# After a timeout a host reads for this long before it sends again (section 2.1).
LINK_SETTLE_MS = const(500)
_BLOCK_FULL = const(0xFF)  # COBS code of a block of 254 data bytes with no zero after it
# CRC-32 over a payload followed by its own CRC (little-endian) always gives this residue,
# and no other 4-byte tail does. Checking it is one crc32 call, and the value is below
# 2**30, a small int in MicroPython: a good frame's check allocates nothing.
_CRC_RESIDUE = const(0x2144DF1C)
_DELIMITER = b"\x00"
_SHORT_RUN = const(32)  # COBS runs up to this long are copied byte by byte (_take)


def max_wire_len(payload_len):
    # Bytes between the two delimiters for the worst-case payload of this length: one
    # code byte per started block of 254, plus the data, plus the CRC.
    n = payload_len + CRC_BYTES
    return n + n // 254 + 1


def _bytes_like(data, what):
    # By type first: an isinstance tuple is built per call (32 B on a board, every feed).
    t = type(data)
    if t is bytearray or t is bytes or isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        # memoryview has no find(); the copy is the price of passing one.
        return bytes(data)
    raise TypeError("%s must be bytes, bytearray or memoryview, not %s" % (what, type(data)))


def encode(payload):
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes, bytearray or memoryview, not %s" % type(payload))
    out = bytearray(max_wire_len(_checked_len(payload)) + 2)
    w = encode_into(payload, out)
    if w == len(out):
        return bytes(out)
    return bytes(memoryview(out)[:w])


def encode_into(payload, out):
    # The frame of `payload` written into `out` from index 0 (a bytearray or writable
    # memoryview of at least max_wire_len(len(payload)) + 2 bytes); returns its length.
    # Allocates nothing beyond the CRC's int (a big int on a 32-bit board for 3 CRCs in
    # 4), so the gateway frames its pushed events and small replies in buffers it keeps.
    n = _checked_len(payload)
    end = len(out)
    if end < max_wire_len(n) + 2:
        raise ValueError(
            "frame buffer of %d bytes is too small for a %d-byte payload (%d needed)"
            % (end, n, max_wire_len(n) + 2)
        )
    # The CRC's bytes parked at the buffer's end and read before the COBS pass can reach
    # them: no bytes object for four bytes.
    struct.pack_into("<I", out, end - CRC_BYTES, binascii.crc32(payload))
    c0 = out[end - 4]
    c1 = out[end - 3]
    c2 = out[end - 2]
    c3 = out[end - 1]
    out[0] = 0  # the leading delimiter
    code_at = 1  # where the current block's code byte goes, written when the block closes
    w = 2
    for i in range(n + CRC_BYTES):
        if i < n:
            c = payload[i]
        elif i == n:
            c = c0
        elif i == n + 1:
            c = c1
        elif i == n + 2:
            c = c2
        else:
            c = c3
        if c == 0:
            out[code_at] = w - code_at
            code_at = w
            w += 1
        else:
            out[w] = c
            w += 1
            if w - code_at == _BLOCK_FULL:
                out[code_at] = _BLOCK_FULL
                code_at = w
                w += 1
    out[code_at] = w - code_at
    out[w] = 0  # the trailing delimiter
    return w + 1


def _checked_len(payload):
    n = len(payload)
    if n == 0:
        raise ValueError("frame payload is empty; a frame must carry a message")
    if n > MAX_PAYLOAD:
        raise ValueError("frame payload is %d bytes, over the %d-byte limit" % (n, MAX_PAYLOAD))
    return n


class Decoder(object):
    # Counters (cumulative since construction or reset()):
    #   frames_ok         frames delivered by feed()
    #   frames_bad_crc    decoded cleanly but the CRC did not match
    #   frames_bad_cobs   the last COBS block ran past the delimiter (truncated or garbage)
    #   frames_too_short  decoded to fewer than 5 bytes: no room for a payload and its CRC
    #   frames_oversize   decodes to more than max_payload + 4 bytes (always so when
    #                     longer than max_wire_len on the wire); skipped to the next zero
    #   bytes_discarded   wire bytes (delimiters excluded) of every frame counted above
    #                     as bad, too short or oversize
    # Empty frames (two zeros in a row) are normal between frames and counted nowhere.

    def __init__(self, max_payload=MAX_PAYLOAD):
        if isinstance(max_payload, bool) or not isinstance(max_payload, int):
            raise TypeError("max_payload must be an int, not %s" % type(max_payload))
        if max_payload < 1 or max_payload > MAX_PAYLOAD:
            raise ValueError(
                "max_payload is %d; it must be 1 to %d bytes" % (max_payload, MAX_PAYLOAD)
            )
        self.max_payload = max_payload
        self.max_wire_len = max_wire_len(max_payload)
        self._frame = bytearray(max_payload + CRC_BYTES)
        # Writes go through the memoryview: a slice assignment of the wrong length then
        # raises instead of resizing the buffer.
        self._frame_mv = memoryview(self._frame)
        self.reset()

    def reset(self):
        # Back to the just-constructed state: partial frame forgotten, counters zeroed.
        self.frames_ok = 0
        self.frames_bad_crc = 0
        self.frames_bad_cobs = 0
        self.frames_too_short = 0
        self.frames_oversize = 0
        self.bytes_discarded = 0
        self._clear()

    def _clear(self):
        self._wire_len = 0  # wire bytes of the current frame so far
        self._fill = 0  # decoded bytes in _frame
        self._block_left = 0  # data bytes still due in the current COBS block
        self._zero_due = False  # the previous block ended with an implied zero
        self._skipping = False  # oversize: drop everything up to the next zero

    def feed(self, chunk, n=None):
        # n: only chunk[:n] is new (a board's receive buffer, read into in place: fed
        # as it is, with no copy of the bytes read, ~100 B a request).
        payloads = []
        self._feed(chunk, n, payloads, None)
        return payloads

    def feed_each(self, chunk, n, handle):
        # As feed(chunk, n), but each payload goes to handle() as soon as its frame ends,
        # as a memoryview of the decoder's own buffer, valid only until handle returns
        # (the next frame is decoded into the same buffer): no list and no copy of a
        # payload, ~160 B of a board's heap on every request. handle must not feed this
        # decoder; what it raises comes out of feed_each, the rest of the chunk undecoded
        # and the decoder ready for the next frame.
        self._feed(chunk, n, None, handle)

    def _feed(self, chunk, n, payloads, handle):
        chunk = _bytes_like(chunk, "chunk")
        if n is None:
            n = len(chunk)
        elif type(n) is not int or n < 0 or n > len(chunk):
            raise ValueError("n must be an int in 0..%d, got %r" % (len(chunk), n))
        pos = 0
        while pos < n:
            z = chunk.find(_DELIMITER, pos, n)
            stop = n if z < 0 else z
            if stop > pos:
                self._take(chunk, pos, stop)
            if z < 0:
                break
            pos = z + 1
            self._finish(payloads, handle)

    def _take(self, chunk, pos, stop):
        # chunk[pos:stop] holds no zero: it continues the current frame.
        if self._skipping:
            self.bytes_discarded += stop - pos
            return
        self._wire_len += stop - pos
        # An early out only: on the wire a frame is at most decoded + decoded // 254 + 1
        # bytes, so a run this long would overflow _frame before its end anyway.
        if self._wire_len > self.max_wire_len:
            self._oversize()
            return
        frame_mv = self._frame_mv
        cap = len(frame_mv)
        fill = self._fill
        left = self._block_left
        zero_due = self._zero_due
        while pos < stop:
            if left == 0:
                code = chunk[pos]
                pos += 1
                if zero_due:
                    if fill == cap:
                        self._oversize()
                        return
                    frame_mv[fill] = 0
                    fill += 1
                left = code - 1
                zero_due = code != _BLOCK_FULL
            else:
                k = min(left, stop - pos)
                if fill + k > cap:
                    self._oversize()
                    return
                if k > _SHORT_RUN:
                    frame_mv[fill : fill + k] = memoryview(chunk)[pos : pos + k]
                else:
                    # A short run byte by byte: a slice is a view object per run, and a
                    # request's CBOR (int keys 0, 0 bytes in its ints) is mostly short runs.
                    for j in range(k):
                        frame_mv[fill + j] = chunk[pos + j]
                fill += k
                pos += k
                left -= k
        self._fill = fill
        self._block_left = left
        self._zero_due = zero_due

    def _oversize(self):
        self.frames_oversize += 1
        self.bytes_discarded += self._wire_len
        self._clear()
        self._skipping = True

    def _finish(self, payloads, handle):
        # A delimiter arrived: judge the frame before it.
        if self._skipping:
            self._skipping = False
            return
        wire_len = self._wire_len
        if wire_len == 0:
            return
        fill = self._fill
        if self._block_left != 0:
            self.frames_bad_cobs += 1
        elif fill <= CRC_BYTES:
            self.frames_too_short += 1
        else:
            whole = self._frame_mv[:fill]
            if binascii.crc32(whole) == _CRC_RESIDUE:
                self.frames_ok += 1
                self._clear()  # first: handle may raise, and the next frame starts clean
                if handle is None:
                    payloads.append(bytes(whole[: fill - CRC_BYTES]))
                else:
                    handle(whole[: fill - CRC_BYTES])
                return
            self.frames_bad_crc += 1
        self.bytes_discarded += wire_len
        self._clear()
