# The `event` notification a gateway pushes to its host, framed for the wire, built in
# preallocated buffers: byte for byte what gatewire's messages.event + cbor.dumps +
# frame.encode give (tests/test_board_fit.py compares them), without their ~900 bytes of
# dicts, bytes and buffers per event. Every logged crossing is pushed to a connected
# host, so this is the crossing's hot path (issue 9 item 7).
import struct
from binascii import crc32

from gatewire.messages import EVENT

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


_PAYLOAD_MAX = const(80)  # 3 + EVENT + 7 keys + 6 ints of at most 5 bytes + a 17-byte digest
_WIRE_MAX = const(_PAYLOAD_MAX + 4 + 3)  # + crc, one COBS code byte, two delimiters


class EventFramer:
    def __init__(self):
        self._p = bytearray(_PAYLOAD_MAX + 4)  # payload, then its crc
        self._out = bytearray(_WIRE_MAX)
        self._mv = memoryview(self._out)
        self._pmv = memoryview(self._p)
        # Views of each length once made are kept: a frame's lengths vary over a few
        # values, and a slice per event would be 32 bytes of garbage.
        self._pviews: list = [None] * (_PAYLOAD_MAX + 1)
        self._views: list = [None] * (_WIRE_MAX + 1)

    def frame(self, seq, time_s, kind, tag, a, b, digest):
        # The framed notification as a memoryview into a buffer reused by the next call.
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
        w = self._int(w + 1, time_s)
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
        struct.pack_into("<I", p, w, crc32(v))
        return self._cobs(w + 4)

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

    def _cobs(self, n):
        # gatewire.frame's framing: a zero, the COBS blocks, a zero.
        p = self._p
        out = self._out
        out[0] = 0
        code_at = 1
        w = 2
        for i in range(n):
            c = p[i]
            if c == 0:
                out[code_at] = w - code_at
                code_at = w
                w += 1
            else:
                out[w] = c
                w += 1
                if w - code_at == 0xFF:
                    out[code_at] = 0xFF
                    code_at = w
                    w += 1
        out[code_at] = w - code_at
        out[w] = 0
        v = self._views[w + 1]
        if v is None:
            v = self._views[w + 1] = self._mv[: w + 1]
        return v
