# CBOR (RFC 8949) for gatewire: the subset the protocol needs, on CPython and MicroPython.
#
# Encoded:  int (-2**64 .. 2**64-1), str, bytes/bytearray/memoryview (as a byte string),
#           list/tuple (array), dict (map; keys int, str or bytes), True, False, None, float.
# Output is core deterministic encoding (RFC 8949 section 4.2.1): shortest heads, definite
# lengths, map keys sorted bytewise by their encoded form, floats in the shortest of
# half/single/double that keeps the value (NaN is always f97e00, as cbor2 canonical).
# dumps refuses anything else with TypeError, and ints beyond 64 bits or nesting deeper
# than MAX_DEPTH with ValueError; encode_into appends to a caller's bytearray instead.
# Decoded:  major types 0-5 and 7 (false, true, null, half/single/double floats), exactly one
#           item per call. Byte strings come back as bytes, arrays as lists, maps as dicts.
# Rejected on decode with CBORDecodeError (never another exception, never an allocation
# sized by a length the input merely claims):
#   - indefinite lengths and tags (major 6): the protocol never sends them;
#   - simple values other than false/true/null (undefined included);
#   - duplicate map keys, and map keys other than int, text or byte strings;
#   - nesting deeper than MAX_DEPTH, trailing bytes, truncation, reserved additional
#     information 28-30, a break (0xff) anywhere, invalid UTF-8 (strictly: no overlongs,
#     surrogates or code points above U+10FFFF, on MicroPython too).
# cbor2's canonical mode differs only in map order: it sorts keys length-first (RFC 8949
# section 4.2.3), which departs from bytewise order only for keys of different major types,
# e.g. {-1: x, 24: y}.
# Accepted on decode although not deterministic: non-shortest heads and floats, and map
# keys in any order. gatewire.auth MACs dumps() of the decoded envelope, so the tag binds
# the meaning, not the spelling; duplicate keys are refused because two readers could
# take two different meanings from them.
# Boards with single-precision floats decode a double to the nearest float they hold.

import struct
from math import ldexp

from gatewire.errors import E_BAD_ENVELOPE, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MAX_DEPTH = const(16)  # nested arrays/maps; a top-level array or map is depth 1

_UINT64_MAX = const(0xFFFFFFFFFFFFFFFF)
_NONE_LIST = [None]  # multiplied, never changed: a decoded array's first form
_AT_POOL = [[0]]  # loads()'s position lists, reused (see loads)
_AT_POOL_MAX = const(4)
_INF = float("inf")
_NAN = float("nan")


class CBORDecodeError(ProtocolError):
    # offset: index into the input where the fault was found
    def __init__(self, text, offset):
        ProtocolError.__init__(self, E_BAD_ENVELOPE, "CBOR: %s at offset %d" % (text, offset))
        self.offset = offset


def _decoder_accepts(raw):
    try:
        str(raw, "utf-8")
        return True
    except UnicodeError:
        return False


# How far the platform's UTF-8 decoder can be trusted: 0 strict (CPython); 1 checks only
# the lead/continuation structure (MicroPython: overlongs and surrogates get through);
# 2 checks nothing (a build without the unicode check).
if _decoder_accepts(b"\xc3A"):
    _UTF8_LAX = 2
elif (
    _decoder_accepts(b"\xc0\x80")
    or _decoder_accepts(b"\xe0\x80\x80")
    or _decoder_accepts(b"\xed\xa0\x80")
    or _decoder_accepts(b"\xf4\x90\x80\x80")
):
    _UTF8_LAX = 1
else:
    _UTF8_LAX = 0


def _utf8_valid(buf, i, end):
    # Well-formed sequences per the Unicode standard, table 3-7.
    while i < end:
        c = buf[i]
        if c < 0x80:
            i += 1
            continue
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= c <= 0xDF:
            n = 1
        elif 0xE0 <= c <= 0xEF:
            n = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            n = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            return False
        if i + n >= end:
            return False
        c = buf[i + 1]
        if c < lo or c > hi:
            return False
        k = i + 2
        i += n + 1
        while k < i:
            if buf[k] & 0xC0 != 0x80:
                return False
            k += 1
    return True


# ---- encoding ----


def _head(buf, major, n):
    if n < 24:
        buf.append(major | n)
    elif n < 0x100:
        buf.append(major | 24)
        buf.append(n)
    elif n < 0x10000:
        buf.append(major | 25)
        buf.append(n >> 8)
        buf.append(n & 0xFF)
    elif n < 0x40000000:
        # A small int on a board: byte by byte, nothing allocated.
        buf.append(major | 26)
        buf.append(n >> 24)
        buf.append((n >> 16) & 0xFF)
        buf.append((n >> 8) & 0xFF)
        buf.append(n & 0xFF)
    elif n < 0x100000000:
        # A big int on a board: packed into room made with a constant, no bytes object.
        buf.append(major | 26)
        buf.extend(b"\0\0\0\0")
        struct.pack_into(">I", buf, len(buf) - 4, n)
    else:
        buf.append(major | 27)
        buf.extend(n.to_bytes(8, "big"))


def _encode_int(buf, n):
    if n >= 0:
        if n > _UINT64_MAX:
            raise ValueError("int %d is above the CBOR limit 2**64-1" % n)
        _head(buf, 0x00, n)
    else:
        n = -1 - n
        if n > _UINT64_MAX:
            raise ValueError("int %d is below the CBOR limit -2**64" % (-1 - n))
        _head(buf, 0x20, n)


def _half_bits(single):
    # single: the 32 bits of a float32; the float16 bits holding the same value, or None.
    sign = (single >> 16) & 0x8000
    exp = (single >> 23) & 0xFF
    mant = single & 0x7FFFFF
    if exp == 0:
        # zero, or a float32 subnormal: far below the smallest half
        return sign if mant == 0 else None
    exp -= 127
    if -14 <= exp <= 15:
        if mant & 0x1FFF:
            return None
        return sign | ((exp + 15) << 10) | (mant >> 13)
    if -24 <= exp < -14:
        # a half subnormal: its mantissa counts units of 2**-24
        shift = -1 - exp
        mant |= 0x800000
        if mant & ((1 << shift) - 1):
            return None
        return sign | (mant >> shift)
    return None


def _encode_float(buf, x):
    if x != x:
        buf.extend(b"\xf9\x7e\x00")
        return
    if x == _INF:
        buf.extend(b"\xf9\x7c\x00")
        return
    if x == -_INF:
        buf.extend(b"\xf9\xfc\x00")
        return
    single = b""
    try:
        single = struct.pack(">f", x)
        fits = struct.unpack(">f", single)[0] == x
    except OverflowError:
        # CPython refuses to pack a finite double beyond float32 range
        fits = False
    if not fits:
        buf.append(0xFB)
        buf.extend(struct.pack(">d", x))
        return
    half = _half_bits(struct.unpack(">I", single)[0])
    if half is None:
        buf.append(0xFA)
        buf.extend(single)
    else:
        buf.append(0xF9)
        buf.append(half >> 8)
        buf.append(half & 0xFF)


def _encode_map(buf, obj, depth):
    _head(buf, 0xA0, len(obj))
    # The protocol's own messages have small non-negative int keys; for those the
    # bytewise order of the encoded keys is plain numeric order.
    numeric = True
    ascending = True
    prev = -1
    for k in obj:
        if type(k) is not int or k < 0:
            numeric = False
            break
        if k < prev:
            ascending = False
        prev = k
    if numeric:
        for k in obj if ascending else sorted(obj):
            _encode_int(buf, k)
            _encode(buf, obj[k], depth)
        return
    pairs = []
    for k in obj:
        if k is True or k is False or not isinstance(k, (int, str, bytes)):
            raise TypeError(
                "cannot encode a map key of type %s: keys must be int, str or bytes"
                % type(k).__name__
            )
        key_buf = bytearray()
        _encode(key_buf, k, depth)
        pairs.append((bytes(key_buf), k))
    pairs.sort(key=_first)
    for key_bytes, k in pairs:
        buf.extend(key_bytes)
        _encode(buf, obj[k], depth)


def _first(pair):
    return pair[0]


def _encode(buf, obj, depth):
    t = type(obj)
    if t is int:
        _encode_int(buf, obj)
    elif t is str:
        raw = obj.encode("utf-8")
        _head(buf, 0x60, len(raw))
        buf.extend(raw)
    elif t is dict or t is list or t is tuple:
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError("cannot encode: nesting deeper than MAX_DEPTH=%d" % MAX_DEPTH)
        if t is dict:
            _encode_map(buf, obj, depth)
        else:
            _head(buf, 0x80, len(obj))
            for item in obj:
                _encode(buf, item, depth)
    elif t is bytes or t is bytearray:
        _head(buf, 0x40, len(obj))
        buf.extend(obj)
    elif obj is None:
        buf.append(0xF6)
    elif obj is True:
        buf.append(0xF5)
    elif obj is False:
        buf.append(0xF4)
    elif t is float:
        _encode_float(buf, obj)
    elif t is memoryview:
        # len() of a memoryview counts items, not bytes; copy to count bytes
        raw = bytes(obj)
        _head(buf, 0x40, len(raw))
        buf.extend(raw)
    elif isinstance(obj, int):
        _encode_int(buf, int(obj))
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        _head(buf, 0x60, len(raw))
        buf.extend(raw)
    elif isinstance(obj, (bytes, bytearray)):
        _head(buf, 0x40, len(obj))
        buf.extend(obj)
    elif isinstance(obj, float):
        _encode_float(buf, float(obj))
    elif isinstance(obj, (dict, list, tuple)):
        _encode(buf, dict(obj) if isinstance(obj, dict) else list(obj), depth)
    else:
        raise TypeError("cannot encode an object of type %s as CBOR" % t.__name__)


def encode_into(buf, obj):
    # Appends the encoding of obj to the bytearray buf and returns the number of bytes
    # added; on any error buf is left exactly as it was.
    start = len(buf)
    try:
        _encode(buf, obj, 0)
    except BaseException:
        buf[start:] = b""
        raise
    return len(buf) - start


def dumps(obj):
    buf = bytearray()
    _encode(buf, obj, 0)
    return bytes(buf)


# ---- decoding ----


def _half_to_float(h):
    exp = (h >> 10) & 0x1F
    mant = h & 0x3FF
    if exp == 0:
        value = ldexp(mant, -24)
    elif exp == 31:
        value = _INF if mant == 0 else _NAN
    else:
        value = ldexp(mant | 0x400, exp - 25)
    return -value if h & 0x8000 else value


def _truncated(what, need, have, offset):
    return CBORDecodeError("truncated: %s needs %d bytes, %d left" % (what, need, have), offset)


# The read position travels in a one-slot list (at[0]) shared down the recursion rather
# than in returned (value, position) tuples: measured under MicroPython, that cut the
# bytes allocated to decode a typical event by two fifths.
def _decode(buf, at, end, depth):
    i = at[0]
    if i >= end:
        raise _truncated("an item", 1, 0, i)
    start = i
    ib = buf[i]
    major = ib >> 5
    ai = ib & 0x1F
    i += 1
    if ai < 24:
        arg = ai
    elif ai == 24:
        if i >= end:
            raise _truncated("the head", 1, end - i, i)
        arg = buf[i]
        i += 1
    elif ai == 25:
        if i + 2 > end:
            raise _truncated("the head", 2, end - i, i)
        arg = (buf[i] << 8) | buf[i + 1]
        i += 2
    elif ai == 26:
        if i + 4 > end:
            raise _truncated("the head", 4, end - i, i)
        if buf[i] < 0x40:
            # Below 2**30: a small int on a board, made without allocating.
            arg = (buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]
        else:
            # A big int on a board (unix times are): made once, not by four shifts and ors.
            arg = struct.unpack_from(">I", buf, i)[0]
        i += 4
    elif ai == 27:
        if i + 8 > end:
            raise _truncated("the head", 8, end - i, i)
        arg = int.from_bytes(bytes(buf[i : i + 8]), "big")
        i += 8
    elif ai == 31:
        if major == 7:
            raise CBORDecodeError("break (0xff) outside an indefinite-length item", start)
        if 2 <= major <= 5:
            raise CBORDecodeError("indefinite length (not supported)", start)
        raise CBORDecodeError(
            "additional information 31 is invalid for major type %d" % major, start
        )
    else:
        raise CBORDecodeError("reserved additional information %d" % ai, start)
    at[0] = i

    if major == 0:
        return arg
    if major == 1:
        return -1 - arg
    if major == 2 or major == 3:
        if arg > end - i:
            raise _truncated("a string", arg, end - i, i)
        j = i + arg
        raw = buf[i:j]
        if major == 2:
            at[0] = j
            return raw if type(raw) is bytes else bytes(raw)
        text = ""
        try:
            text = str(raw, "utf-8")
            valid = True
        except UnicodeError:
            valid = False
        if valid and _UTF8_LAX and (_UTF8_LAX == 2 or len(text) != arg):
            valid = _utf8_valid(buf, i, j)
        if not valid:
            raise CBORDecodeError("text string is not valid UTF-8", i)
        at[0] = j
        return text
    if major == 4 or major == 5:
        if depth >= MAX_DEPTH:
            raise CBORDecodeError("nesting deeper than MAX_DEPTH=%d" % MAX_DEPTH, start)
        depth += 1
        if major == 4:
            # every item takes at least one byte: refuse a count the input cannot hold
            if arg > end - i:
                raise _truncated("an array of %d items" % arg, arg, end - i, i)
            # Made at its final size from a list never changed (no [None] made per array,
            # no growing list leaving its old blocks behind).
            items = _NONE_LIST * arg
            for k in range(arg):
                items[k] = _decode(buf, at, end, depth)
            return items
        if arg > (end - i) >> 1:
            raise _truncated("a map of %d pairs" % arg, 2 * arg, end - i, i)
        result = {}
        for _ in range(arg):
            i = at[0]
            if i >= end:
                raise _truncated("a map key", 1, 0, i)
            key_head = buf[i]
            if key_head >> 5 > 3 and key_head != 0xFF:
                raise CBORDecodeError("map key must be an integer, text or byte string", i)
            key = _decode(buf, at, end, depth)
            if key in result:
                raise CBORDecodeError("duplicate map key %r" % (key,), i)
            result[key] = _decode(buf, at, end, depth)
        return result
    if major == 6:
        raise CBORDecodeError("tag %d (tags are not supported)" % arg, start)
    # major 7
    if ai == 20:
        return False
    if ai == 21:
        return True
    if ai == 22:
        return None
    if ai == 25:
        return _half_to_float(arg)
    if ai == 26:
        return struct.unpack_from(">f", buf, start + 1)[0]
    if ai == 27:
        return struct.unpack_from(">d", buf, start + 1)[0]
    raise CBORDecodeError("simple value %d is not supported" % arg, start)


def loads(data):
    t = type(data)
    if t is bytes:
        buf = data
    elif t is memoryview or isinstance(data, (bytes, bytearray, memoryview)):
        # A view is decoded as it is (the board's link hands one per request), and known
        # by its type first: the isinstance tuple is built per call (32 B on a board).
        buf = data if t is memoryview else memoryview(data)
        # CPython only: MicroPython's memoryview has neither attribute
        size = getattr(buf, "itemsize", 1)
        if size != 1:
            raise TypeError("cannot decode CBOR from a memoryview of %d-byte items" % size)
        if not getattr(buf, "c_contiguous", True):
            buf = bytes(buf)  # a strided view cannot be decoded to str in place
    else:
        raise TypeError("cannot decode CBOR from an object of type %s" % type(data).__name__)
    end = len(buf)
    if end == 0:
        raise CBORDecodeError("empty input", 0)
    # The position list is taken from a pool and given back: one list a call is 32 B of
    # a board's heap on every request, and a pool (not one shared list) stays right
    # for loads() called from two threads (the host) or from inside a decode.
    at = _AT_POOL.pop() if _AT_POOL else [0]
    at[0] = 0
    try:
        value = _decode(buf, at, end, 0)
        if at[0] != end:
            raise CBORDecodeError("%d trailing bytes after the item" % (end - at[0]), at[0])
    finally:
        if len(_AT_POOL) < _AT_POOL_MAX:
            _AT_POOL.append(at)
    return value
