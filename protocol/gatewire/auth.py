# Command authentication: HMAC-SHA256 over the canonical CBOR of the envelope, with a
# monotonic counter against replay. Key provisioning and counter persistence: docs/keys.md.
# Built on hashlib.sha256 alone because board builds ship no hmac module.
#
# A board only verifies: the host's side (Signer, sign, the bare HMAC, mac_input and the
# counter at start-up) is in gatewire/signing.py, out of a board's heap, and reached as
# this module's attributes as well (__getattr__ below).
import hashlib

from gatewire import cbor
from gatewire.errors import (
    E_AUTH_BAD,
    E_AUTH_MISSING,
    E_AUTH_REPLAY,
    E_BAD_ENVELOPE,
    AuthError,
    ProtocolError,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


KEY_LEN = const(32)
# 128 bits: RFC 2104 §5 recommends keeping no less than half the hash output (RFC 4231
# test case 5 is this very truncation); forging still takes ~2**128 tries, and every
# signed frame on the serial link is 16 bytes shorter than with the full tag.
TAG_LEN = const(16)
# CBOR uint range: a larger counter could not be encoded as the uint the wire spec promises.
COUNTER_MAX = 0xFFFFFFFFFFFFFFFF

_BLOCK_LEN = const(64)  # SHA-256 block size, the HMAC pad length
_KEY_BODY = const(2)
_KEY_COUNTER = const(3)
_KEY_TAG = const(4)


def _pads(key):
    if len(key) > _BLOCK_LEN:
        key = hashlib.sha256(key).digest()
    inner_pad = bytearray(_BLOCK_LEN)
    outer_pad = bytearray(_BLOCK_LEN)
    key_len = len(key)
    for i in range(_BLOCK_LEN):
        k = key[i] if i < key_len else 0
        inner_pad[i] = k ^ 0x36
        outer_pad[i] = k ^ 0x5C
    return inner_pad, outer_pad


def _hmac_with_pads(inner_pad, outer_pad, msg):
    inner = hashlib.sha256(inner_pad)
    inner.update(msg)
    outer = hashlib.sha256(outer_pad)
    outer.update(inner.digest())
    return outer.digest()


def _is_counter(value):
    # type() rather than isinstance(): CPython's True is an int and must not pass as counter 1.
    return type(value) is int and 1 <= value <= COUNTER_MAX


def _check_key(key):
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
        if isinstance(key, (bytes, bytearray)):
            got = "%d bytes" % len(key)
        else:
            got = type(key).__name__
        raise ValueError("gateway key must be %d bytes, got %s" % (KEY_LEN, got))


def _unsigned_copy(envelope):
    if not isinstance(envelope, dict):
        raise ProtocolError(
            E_BAD_ENVELOPE, "envelope must be a map, got %s" % type(envelope).__name__
        )
    # A copy, so the caller's envelope keeps its tag. A missing body is the empty body
    # (section 5.1), so the MAC always covers key 2: an envelope sent without it
    # verifies exactly as the same one with {} would, never as a different message.
    unsigned = {}
    for k in envelope:
        if k != _KEY_TAG:
            unsigned[k] = envelope[k]
    if _KEY_BODY not in unsigned:
        unsigned[_KEY_BODY] = {}
    return unsigned


def _tag(inner_pad, outer_pad, envelope, counter):
    unsigned = _unsigned_copy(envelope)
    unsigned[_KEY_COUNTER] = counter
    # Encoded into a bytearray the hash reads as it is (dumps would copy it to bytes).
    msg = bytearray()
    cbor.encode_into(msg, unsigned)
    return _hmac_with_pads(inner_pad, outer_pad, msg)[:TAG_LEN]


def _tags_equal(a, b):
    # Constant time over TAG_LEN bytes, so response timing does not reveal a tag's prefix.
    diff = 0
    for i in range(TAG_LEN):
        diff |= a[i] ^ b[i]
    return diff == 0


class Verifier:
    # Gateway side. last_counter is the whole replay state: the firmware persists it.
    def __init__(self, key, last_counter=0):
        _check_key(key)
        if type(last_counter) is not int or not 0 <= last_counter <= COUNTER_MAX:
            raise ValueError(
                "last_counter must be an int in 0..%d, got %r" % (COUNTER_MAX, last_counter)
            )
        self._inner_pad, self._outer_pad = _pads(key)
        self.last_counter = last_counter
        self._msg = bytearray()  # the signed envelope's encoding, rewritten per command

    def verify(self, envelope):
        if not isinstance(envelope, dict):
            raise ProtocolError(
                E_BAD_ENVELOPE, "envelope must be a map, got %s" % type(envelope).__name__
            )
        if _KEY_COUNTER not in envelope:
            raise AuthError(E_AUTH_MISSING, "no auth counter (key 3)", "counter")
        if _KEY_TAG not in envelope:
            raise AuthError(E_AUTH_MISSING, "no auth tag (key 4)", "tag")
        counter = envelope[_KEY_COUNTER]
        tag = envelope[_KEY_TAG]
        if not _is_counter(counter):
            raise AuthError(
                E_AUTH_MISSING,
                "auth counter must be a uint in 1..%d, got %r" % (COUNTER_MAX, counter),
                "counter",
            )
        if not isinstance(tag, bytes):
            raise AuthError(
                E_AUTH_MISSING, "auth tag must be bytes, got %s" % type(tag).__name__, "tag"
            )
        if len(tag) != TAG_LEN:
            raise AuthError(
                E_AUTH_BAD, "auth tag is %d bytes, expected %d" % (len(tag), TAG_LEN), "tag"
            )
        expected = self._tag_of(envelope, tag)  # the whole HMAC: its first TAG_LEN compared
        if not _tags_equal(expected, tag):
            raise AuthError(E_AUTH_BAD, "auth tag does not verify under this key", "tag")
        # Checked after the tag so that "replay" always names an authentic, already-seen command.
        if counter <= self.last_counter:
            raise AuthError(
                E_AUTH_REPLAY,
                "auth counter %d is not above last accepted %d" % (counter, self.last_counter),
                "counter",
            )
        self.last_counter = counter
        return counter

    def _tag_of(self, envelope, tag):
        # _tag() without its copy of the envelope (a dict per command): the MAC covers
        # the envelope as it is without key 4, its counter (key 3) the one checked, so
        # the tag is taken out for the encoding and put back, and a missing body is the
        # empty body only while encoding. The envelope is as given when this returns.
        no_body = _KEY_BODY not in envelope
        del envelope[_KEY_TAG]
        try:
            if no_body:
                envelope[_KEY_BODY] = {}
            msg = self._msg
            msg[0:] = b""
            cbor.encode_into(msg, envelope)
        finally:
            if no_body:
                envelope.pop(_KEY_BODY, None)
            envelope[_KEY_TAG] = tag
        # Not cut to TAG_LEN: _tags_equal compares the first TAG_LEN bytes, and the cut
        # would be another bytes object per command.
        return _hmac_with_pads(self._inner_pad, self._outer_pad, msg)


_HOST_SIDE = ("Signer", "sign", "hmac_sha256", "mac_input", "initial_counter")


def __getattr__(name):
    # auth.Signer and the rest of the host's side, from gatewire/signing.py.
    if name in _HOST_SIDE:
        from gatewire import signing

        return getattr(signing, name)
    raise AttributeError(name)
