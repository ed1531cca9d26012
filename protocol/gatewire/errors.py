# Typed protocol errors shared by the codec, the message catalogue and auth.
# A code travels in error replies (see docs/protocol.md); the text names what was wrong.

E_UNKNOWN_TYPE = 1  # message type not in the catalogue
E_BAD_FIELD = 2  # a field is missing, of the wrong type or out of range
E_AUTH_MISSING = 3  # a mutating command arrived without counter or tag
E_AUTH_BAD = 4  # the tag does not verify under this gateway's key
E_AUTH_REPLAY = 5  # the counter is not above the last one accepted
E_VERSION = 6  # no protocol version in common
E_REFUSED = 7  # well-formed and authentic, but a safety rule refuses it
E_FULL = 8  # a bounded store (event log, roster, permits) has no room
E_BAD_ENVELOPE = 9  # the payload is not a CBOR map with a type and an id
E_INTERNAL = 10  # the gateway failed while handling it; state is unchanged

CODE_NAMES = {
    E_UNKNOWN_TYPE: "unknown-type",
    E_BAD_FIELD: "bad-field",
    E_AUTH_MISSING: "auth-missing",
    E_AUTH_BAD: "auth-bad",
    E_AUTH_REPLAY: "auth-replay",
    E_VERSION: "version",
    E_REFUSED: "refused",
    E_FULL: "full",
    E_BAD_ENVELOPE: "bad-envelope",
    E_INTERNAL: "internal",
}


class ProtocolError(ValueError):
    # code: one of the E_* numbers; field: the offending field name, or None
    def __init__(self, code, text, field=None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.field = field


class AuthError(ProtocolError):
    pass
