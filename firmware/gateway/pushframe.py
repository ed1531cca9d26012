# The `event` notification a gateway pushes to its host, framed for the wire, built in
# preallocated buffers: byte for byte what gatewire's messages.event + cbor.dumps +
# frame.encode give (tests/test_board_fit.py compares them), without their ~900 bytes of
# dicts, bytes and buffers per event. Every logged crossing is pushed to a connected
# host, so this is the crossing's hot path (issue 9 item 7). The CBOR payload is written
# here; the framing is gatewire's own encoder (frame.encode_into), into a kept buffer.
import struct

from gatewire.frame import encode_into, max_wire_len
from gatewire.messages import EVENT

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


_PAYLOAD_MAX = const(80)  # 3 + EVENT + 7 keys + 6 ints of at most 5 bytes + a 17-byte digest
_WIRE_MAX = max_wire_len(_PAYLOAD_MAX) + 2  # + both delimiters


class EventFramer:
    def __init__(self):
        self._p = bytearray(_PAYLOAD_MAX)
        self._out = bytearray(_WIRE_MAX)
        self._mv = memoryview(self._out)
        self._pmv = memoryview(self._p)
        # Views of each length once made are kept: a frame's lengths vary over a few
        # values, and a slice per event would be 32 bytes of garbage.
        self._pviews: list = [None] * (_PAYLOAD_MAX + 1)
        self._views: list = [None] * (_WIRE_MAX + 1)

    def frame(self, seq, time_hi, time_lo, kind, tag, a, b, digest):
        # The framed notification as a memoryview into a buffer reused by the next call.
        # The event's unix time comes as its 16-bit halves (caps.unix_hi / unix_lo): a
        # unix time is a big int on a 32-bit board, its halves are not.
        p = self._p
        p[0] = 0xA3  # {type, id, body}
        p[1] = 0
        w = self._int(2, EVENT)
        p[w] = 1
        p[w + 1] = 0  # id 0
        p[w + 2] = 2
        p[w + 3] = 0xA7  # body: 7 fields, keys 0..6 in order
        w += 4
        p[w] = 0
        w = self._int(w + 1, seq)
        p[w] = 1
        if time_hi:
            # Past 0xFFFF: CBOR's four-byte head, as _int would give the whole value.
            p[w + 1] = 26
            struct.pack_into(">HH", p, w + 2, time_hi, time_lo)
            w += 6
        else:
            w = self._int(w + 1, time_lo)
        p[w] = 2
        w = self._int(w + 1, kind)
        p[w] = 3
        w = self._int(w + 1, tag)
        p[w] = 4
        w = self._int(w + 1, a)
        p[w] = 5
        w = self._int(w + 1, b)
        p[w] = 6
        p[w + 1] = 0x40 | len(digest)
        w += 2
        for i in range(len(digest)):
            p[w + i] = digest[i]
        w += len(digest)
        v = self._pviews[w]
        if v is None:
            v = self._pviews[w] = self._pmv[:w]
        n = encode_into(v, self._out)
        f = self._views[n]
        if f is None:
            f = self._views[n] = self._mv[:n]
        return f

    def _int(self, w, v):
        # CBOR's shortest head for v at p[w:]; the index after it.
        p = self._p
        major = 0
        if v < 0:
            major = 0x20
            v = -1 - v
        if v < 24:
            p[w] = major | v
            return w + 1
        if v <= 0xFF:
            p[w] = major | 24
            p[w + 1] = v
            return w + 2
        if v <= 0xFFFF:
            p[w] = major | 25
            struct.pack_into(">H", p, w + 1, v)
            return w + 3
        p[w] = major | 26
        struct.pack_into(">I", p, w + 1, v)
        return w + 5
