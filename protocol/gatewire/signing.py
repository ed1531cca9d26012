# The host's side of command authentication (gatewire/auth.py verifies): signing an
# envelope with the gateway key and the next counter, the HMAC-SHA256 itself, the bytes a
# tag covers and the counter a host starts from. A board never imports it; auth's
# attributes of the same names reach it on the host (auth.Signer, auth.sign, ...).
from gatewire import cbor
from gatewire.auth import (
    COUNTER_MAX,
    _check_key,
    _hmac_with_pads,
    _is_counter,
    _pads,
    _tag,
    _unsigned_copy,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# Envelope keys, as gatewire/auth.py's (const() there, so not its attributes on a board)
_KEY_COUNTER = const(3)
_KEY_TAG = const(4)


def _check_buffer(value, what):
    # MicroPython's hashlib accepts str too; a str key or message is a caller bug, not data.
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("%s must be bytes, got %s" % (what, type(value).__name__))


def hmac_sha256(key, msg):
    _check_buffer(key, "HMAC key")
    _check_buffer(msg, "HMAC message")
    inner_pad, outer_pad = _pads(key)
    return _hmac_with_pads(inner_pad, outer_pad, msg)


def mac_input(envelope):
    return cbor.dumps(_unsigned_copy(envelope))


def _sign_with_pads(inner_pad, outer_pad, envelope, counter):
    if not _is_counter(counter):
        raise ValueError("auth counter must be an int in 1..%d, got %r" % (COUNTER_MAX, counter))
    # Tag computed before either key is set: an unencodable envelope is left untouched.
    tag = _tag(inner_pad, outer_pad, envelope, counter)
    envelope[_KEY_COUNTER] = counter
    envelope[_KEY_TAG] = tag
    return envelope


def sign(envelope, key, counter):
    _check_key(key)
    inner_pad, outer_pad = _pads(key)
    return _sign_with_pads(inner_pad, outer_pad, envelope, counter)


def initial_counter(persisted, now_ms):
    # Host start-up: above everything it ever sent even if the counter file is stale or
    # lost (wall clock) and even if the clock went back (persisted + 1). docs/keys.md.
    if type(persisted) is not int or persisted < 0:
        raise ValueError("persisted counter must be an int >= 0, got %r" % (persisted,))
    if type(now_ms) is not int or now_ms < 0:
        raise ValueError("now_ms must be an int >= 0, got %r" % (now_ms,))
    counter = max(persisted + 1, now_ms)
    if counter > COUNTER_MAX:
        raise ValueError("initial counter %d exceeds %d" % (counter, COUNTER_MAX))
    return counter


class Signer:
    # Host side. counter is the last one used: persist it after each sign (docs/keys.md).
    def __init__(self, key, counter=0):
        _check_key(key)
        if type(counter) is not int or not 0 <= counter <= COUNTER_MAX:
            raise ValueError("counter must be an int in 0..%d, got %r" % (COUNTER_MAX, counter))
        self._inner_pad, self._outer_pad = _pads(key)
        self.counter = counter

    def sign(self, envelope):
        if self.counter >= COUNTER_MAX:
            raise ValueError("auth counter exhausted at %d: rotate the key" % COUNTER_MAX)
        next_counter = self.counter + 1
        _sign_with_pads(self._inner_pad, self._outer_pad, envelope, next_counter)
        # Advanced only once the envelope is signed, so a failed sign burns no counter.
        self.counter = next_counter
        return envelope
