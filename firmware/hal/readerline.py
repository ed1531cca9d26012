# The tag reader line protocol (docs/hardware.md), parsed without allocating:
#   $TAG,<tag id>,<rssi dBm>,<low battery 0|1>*<XOR checksum, 2 hex digits>\r\n
# e.g. "$TAG,40213,-61,0*50". The checksum is the XOR of every byte between "$" and "*"
# (as in NMEA 0183): reader cables run tens of metres past conveyors and shearer cables,
# so a corrupted line must be dropped, not read as another tag.
# Any other line, an overlong one, a bad checksum or a field out of range is counted in
# bad_lines and skipped; the parser resynchronises at the next newline by itself.
try:
    from micropython import const
except ImportError:

    def const(__x):  # positional-only like micropython.const (keeps the checker quiet)
        return __x


LINE_MAX = const(48)  # the longest valid line is 24 bytes; more is noise
WIRE_LINE_MAX = const(26)  # the longest valid line with its "\r\n": bytes lost -> lines
RX_CHUNK = const(64)  # bytes taken from the UART per poll: bounds the time one poll takes
TAG_ID_MAX = const(999_999_999)  # 9 digits: stays a small int on a 32-bit board
RSSI_MIN_DBM = const(-127)

_PREFIX = b"$TAG,"
_NL = const(10)
_CR = const(13)
_COMMA = const(44)
_STAR = const(42)
_MINUS = const(45)
_ZERO = const(48)
_NINE = const(57)


def checksum(data):
    # XOR of the bytes between "$" and "*"; readers (and tests) build lines with it.
    x = 0
    for b in data:
        x ^= b
    return x


def _hex_digit(b):
    if _ZERO <= b <= _NINE:
        return b - _ZERO
    b |= 0x20  # fold A-F to a-f
    if 97 <= b <= 102:
        return b - 87
    return -1


class ReaderLine:
    # stream: anything with any() -> int and readinto(buf, n) -> int or None, i.e. a
    # machine.UART with timeout=0 (or a fake one in tests). point: 0 outer, 1 inner.
    def __init__(self, stream, point):
        if point not in (0, 1):
            raise ValueError("reader point must be 0 (outer) or 1 (inner), got %r" % (point,))
        self._stream = stream
        self.point = point
        self._rx = bytearray(RX_CHUNK)
        self._rx_len = 0
        self._rx_pos = 0
        self._line = bytearray(LINE_MAX)
        self._line_len = 0
        self._value = 0  # the last number _number() read
        self._overlong = False
        self.bad_lines = 0
        self.tag_lines = 0
        # A DMA ring (hal/dmaring.py) counts what its overruns lost; a UART does not.
        self._ring = stream if hasattr(stream, "lost_bytes") else None

    def lost(self):
        # Lines lost before they could be read as tags, since boot: each that failed (a
        # checksum, a line cut short) and, from a DMA ring's overruns, at least one per
        # WIRE_LINE_MAX bytes. Any of them may have been a person crossing (R-DATA-1).
        n = self.bad_lines
        if self._ring is not None:
            n += self._ring.lost_bytes // WIRE_LINE_MAX
        return n

    def poll(self, out):
        # At most one read from the stream per call, so a babbling reader cannot hold up
        # the gateway's loop; leftover bytes are parsed on the next call.
        if self._rx_pos >= self._rx_len:
            avail = self._stream.any()
            if not avail:
                return False
            n = self._stream.readinto(self._rx, avail if avail < RX_CHUNK else RX_CHUNK)
            if not n:
                return False
            self._rx_len = n
            self._rx_pos = 0
        rx = self._rx
        line = self._line
        while self._rx_pos < self._rx_len:
            b = rx[self._rx_pos]
            self._rx_pos += 1
            if b == _NL:
                ok = not self._overlong and self._parse(out)
                self._line_len = 0
                self._overlong = False
                if ok:
                    self.tag_lines += 1
                    return True
                self.bad_lines += 1
            elif b == _CR:
                continue
            elif self._line_len < LINE_MAX:
                line[self._line_len] = b
                self._line_len += 1
            else:
                self._overlong = True
        return False

    def _number(self, line, i, star, max_digits):
        # Decimal digits from i up to a comma: the value goes to self._value (no tuple, so
        # nothing is allocated per read); returns the comma's index, or -1.
        value = 0
        digits = 0
        while i < star and _ZERO <= line[i] <= _NINE:
            value = value * 10 + line[i] - _ZERO
            digits += 1
            i += 1
            if digits > max_digits:
                return -1
        if digits == 0 or line[i] != _COMMA:
            return -1
        self._value = value
        return i

    def _parse(self, out):
        line = self._line
        end = self._line_len
        # "$TAG," + id + "," + rssi + "," + batt + "*" + 2 hex digits
        if end < 13:  # "$TAG,1,0,1*4E", the shortest valid line
            return False
        for i in range(5):
            if line[i] != _PREFIX[i]:
                return False
        star = end - 3
        if line[star] != _STAR:
            return False
        hi = _hex_digit(line[star + 1])
        lo = _hex_digit(line[star + 2])
        if hi < 0 or lo < 0:
            return False
        x = 0
        for i in range(1, star):
            x ^= line[i]
        if x != (hi << 4) | lo:
            return False

        i = self._number(line, 5, star, 9)
        tag = self._value
        if i < 0 or tag == 0:
            return False
        i += 1

        negative = line[i] == _MINUS
        if negative:
            i += 1
        i = self._number(line, i, star, 3)
        if i < 0:
            return False
        rssi = self._value
        if negative:
            rssi = -rssi
        if rssi > 0 or rssi < RSSI_MIN_DBM:
            return False
        i += 1

        if i + 1 != star:
            return False
        batt = line[i] - _ZERO
        if batt != 0 and batt != 1:
            return False

        out[0] = self.point
        out[1] = tag
        out[2] = rssi
        out[3] = batt
        return True
