# The message catalogue: every message type, its code, whether it changes gateway state,
# and the schema of its body. The wire spec (docs/protocol.md) is rendered from CATALOGUE,
# body_spec() and reply_spec().
#
# Envelope: a CBOR map {0: type, 1: request id, 2: body, 3: auth counter, 4: auth tag}.
# Keys 3 and 4 belong to gatewire.auth; unknown envelope keys and unknown body keys are
# ignored so an older peer reads a newer one's messages. Bodies are maps with small int
# keys on the wire and named fields on the Python side.
#
# Schemas are nested tuples rather than a class per message: one shared tuple per kind of
# field, and one validator walks all of them, so the board holds data, not code per type.
from gatewire.errors import E_BAD_ENVELOPE, E_BAD_FIELD, E_UNKNOWN_TYPE, E_VERSION, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


PROTOCOL_VERSION = const(1)

# Envelope keys (3 and 4: gatewire.auth)
KEY_TYPE = const(0)
KEY_ID = const(1)
KEY_BODY = const(2)

# Request ids are uint32; 0 is reserved: an event's id, and the id of an error answering
# a request whose own id could not be read.
REQ_ID_MAX = 0xFFFFFFFF
# Tag, person, permit, job and load ids: 1..2**30-1, small ints on a 32-bit board (no
# heap allocation per compare), as gateway/roster.py and gateway/permits.py store them;
# 0 means "none" where a field allows it.
ID_MAX = const(0x3FFFFFFF)
TIME_MAX = 0xFFFFFFFF  # unix seconds, good until 2106

# ---- type specs ----
# (T_INT, lo, hi)                          int, lo <= v <= hi (bool is not an int here)
# (T_BOOL,)                                true / false
# (T_STR, lo, hi)                          text of lo..hi UTF-8 bytes (what a record stores)
# (T_BYTES, lo, hi)                        byte string of lo..hi bytes
# (T_ENUM, (word, ...))                    one of these texts
# (T_LIST, lo, hi, elem)                   array of lo..hi elements of spec elem
# (T_TUPLE, ((name, spec), ...), label)    array, positional named elements; extras ignored
# (T_MAP, fields, orders, label)           map with int keys (a body is one)
# (T_DICT, lo, hi, key, value)             map of lo..hi entries with text keys (settings)
# (T_EITHER, (spec, ...))                  the first spec that accepts the value
# A field is (key, name, required, spec); an order (lo_name, hi_name, strict) says
# body[lo_name] < body[hi_name] (<= if not strict) when both are present.
T_INT = const(0)
T_BOOL = const(1)
T_STR = const(2)
T_BYTES = const(3)
T_ENUM = const(4)
T_LIST = const(5)
T_TUPLE = const(6)
T_MAP = const(7)
T_DICT = const(8)
T_EITHER = const(9)

_REQ = True
_OPT = False

_ID = (T_INT, 1, ID_MAX)
_ID_OR_NONE = (T_INT, 0, ID_MAX)
_U32 = (T_INT, 0, 0xFFFFFFFF)
_U16 = (T_INT, 0, 0xFFFF)
_U8 = (T_INT, 0, 0xFF)
_TIME = (T_INT, 0, TIME_MAX)  # 0: unset / never
_SEQ = (T_INT, 0, 0xFFFFFFFF)
_BOOL = (T_BOOL,)
_NAME = (T_STR, 1, 32)  # gateway, zone, job ids; config keys
_REASON = (T_STR, 1, 64)
_VERSION = (T_INT, 1, 0xFF)
# 100 % methane is 1,000,000 ppm: nothing larger is a reading.
_PPM = (T_INT, 0, 1000000)
# Event a/b (the event log stores them as i32) and config ints.
_I32 = (T_INT, -0x80000000, 0x7FFFFFFF)
# 2020-01-01: a host with an unset clock must not drag the gateway's clock back to 1970.
TIME_SET_MIN = 1577836800

EVENT_FIELDS = (
    (0, "seq", _REQ, (T_INT, 1, 0xFFFFFFFF)),
    (1, "time_s", _REQ, _TIME),
    (2, "kind", _REQ, (T_INT, 1, 0xFFFF)),  # gateway/events.py
    (3, "tag", _REQ, _U32),  # 0: no tag
    (4, "a", _REQ, _I32),
    (5, "b", _REQ, _I32),
    (6, "digest", _REQ, (T_BYTES, 16, 16)),  # hash chain up to and including this event
)
_EVENT = (T_MAP, EVENT_FIELDS, (), "event")
EVENTS_MAX = const(50)

# R-HOT-1: one job, one safety technical measure, one ticket; R-HOT-2: a fire watcher.
PERMIT_HOT_WORK = const(1)  # flag bit 0
PERMIT_KEY_MAINTENANCE = const(2)  # bit 1, R-VIDEO-2
PERMIT_KEY_MEASUREMENT = const(4)  # bit 2, R-VIDEO-2
# Unknown bits are refused, not ignored: an old gateway must not accept a permit whose
# meaning it cannot enforce.
_PERMIT_FLAGS = (T_INT, 1, 7)
PERMIT_WORKERS_MAX = const(16)
PERMIT_FIELDS = (
    (0, "permit_id", _REQ, _ID),
    (1, "job_id", _REQ, _ID),
    (2, "measure_ref", _REQ, _NAME),  # the safety technical measure's reference
    (3, "start_s", _REQ, _TIME),
    (4, "end_s", _REQ, _TIME),
    (5, "workers", _REQ, (T_LIST, 1, PERMIT_WORKERS_MAX, _ID)),
    (6, "fire_watcher", _REQ, _ID_OR_NONE),  # 0: none; hot work needs one (gateway/permits.py)
    (7, "flags", _REQ, _PERMIT_FLAGS),
)
_PERMIT_ORDERS = (("start_s", "end_s", True),)
_PERMIT = (T_MAP, PERMIT_FIELDS, _PERMIT_ORDERS, "permit")
PERMITS_MAX = const(16)  # per permit-list reply; 16 worst-case permits fit one frame

ROSTER_ENTRY = (
    ("tag_id", _ID),
    ("person_id", _ID),
    ("role_code", _U8),
    ("cert_expiry_s", _TIME),  # 0: no certificate on record
    ("crew_code", _U16),
)
ROSTER_CHUNK_MAX = const(100)  # 100 worst-case entries: about 2.1 KB of a 4 KB frame
ROSTER_PARTS_MAX = const(255)  # 25,500 people: above the roster's own limit

OCCUPANT = (
    ("tag_id", _ID),
    ("person_id", _ID_OR_NONE),  # 0: the tag was not in the roster when it entered
    ("since_s", _TIME),
)
OCCUPANTS_MAX = const(200)

# Config values are checked by the gateway's config module (one rule, one place); here
# only their shape is bounded: scalars, and short lists of ints, texts or int pairs.
_CONFIG_LIST_ITEM = (T_EITHER, (_I32, _NAME, (T_LIST, 0, 8, _I32)))
_CONFIG_VALUE = (T_EITHER, (_I32, _BOOL, (T_STR, 0, 64), (T_LIST, 0, 64, _CONFIG_LIST_ITEM)))
_SETTINGS_MAX = const(64)

ERROR_TEXT_MAX = const(160)
ERROR_FIELD_MAX = const(48)
ERROR_FIELDS = (
    (0, "code", _REQ, (T_INT, 1, 0xFF)),  # gatewire.errors E_*
    (1, "text", _REQ, (T_STR, 0, ERROR_TEXT_MAX)),
    (2, "field", _OPT, (T_STR, 1, ERROR_FIELD_MAX)),
)


def _map(fields, orders=(), label="body"):
    return (T_MAP, fields, orders, label)


_EMPTY = _map(())
_ERROR = _map(ERROR_FIELDS, (), "error")

# ---- type codes: requests 1..63, replies 64..95, notifications 96..127 ----
HELLO = const(1)
STATUS = const(2)
OCCUPANTS = const(3)
EVENTS_SINCE = const(4)
ACK = const(5)
CONFIG_GET = const(6)
CONFIG_SET = const(7)
ROSTER_LOAD = const(8)
PERMIT_ISSUE = const(9)
PERMIT_REVOKE = const(10)
PERMIT_LIST = const(11)
EVACUATE = const(12)
ALL_CLEAR = const(13)
CAP_OVERRIDE = const(14)
SEAL = const(15)
UNSEAL = const(16)
TIME_SET = const(17)
CAP_OVERRIDE_CLEAR = const(18)
OK = const(64)
ERROR = const(65)
EVENT = const(96)

# (code, name, mutating, body spec, reply body spec or None)
_TYPES = (
    (
        HELLO,
        "hello",
        False,
        _map(
            (
                (0, "min_version", _REQ, _VERSION),
                (1, "max_version", _REQ, _VERSION),
                (2, "host_id", _OPT, _NAME),
            ),
            (("min_version", "max_version", False),),
        ),
        _map(
            (
                (0, "version", _REQ, _VERSION),
                (1, "gateway_id", _REQ, _NAME),
                (2, "role", _REQ, (T_ENUM, ("shaft", "face"))),
                (3, "zone_id", _REQ, _NAME),
                (4, "zone_kind", _REQ, (T_STR, 1, 16)),  # gateway/config.py ZONE_KINDS
                (5, "firmware", _REQ, (T_STR, 1, 32)),
                (6, "boot_count", _REQ, _U32),
                (7, "last_seq", _REQ, _SEQ),
                (8, "now_s", _REQ, _TIME),
                (9, "board", _REQ, (T_STR, 1, 16)),
            )
        ),
    ),
    (
        STATUS,
        "status",
        False,
        _EMPTY,
        _map(
            (
                (0, "now_s", _REQ, _TIME),
                (1, "uptime_s", _REQ, _U32),
                (2, "occupants", _REQ, _U16),
                (3, "cap", _REQ, _U16),
                (4, "shift", _REQ, _U8),  # 0 unknown (strictest cap applies)
                (5, "lamp", _REQ, (T_INT, 0, 3)),  # 0 off, 1 green, 2 amber, 3 red
                (6, "work_allowed", _REQ, _BOOL),
                (7, "hot_work_allowed", _REQ, _BOOL),
                (8, "sealed", _REQ, _BOOL),
                (9, "evacuating", _REQ, _BOOL),
                (10, "drill", _REQ, _BOOL),
                (11, "video_ok", _REQ, _BOOL),
                (12, "gas_ok", _REQ, _BOOL),
                (13, "override_active", _REQ, _BOOL),
                (14, "ch4_ppm", _OPT, _PPM),  # absent: no reading yet
                (15, "co_ppm", _OPT, _PPM),
                (16, "last_seq", _REQ, _SEQ),
                (17, "unacked", _REQ, _U32),
                (18, "permits_active", _REQ, _U8),
            )
        ),
    ),
    (
        OCCUPANTS,
        "occupants",
        False,
        _map(
            (
                (0, "start", _OPT, _U16),  # absent: 0
                (1, "max_count", _OPT, (T_INT, 1, OCCUPANTS_MAX)),  # absent: OCCUPANTS_MAX
            )
        ),
        _map(
            (
                (0, "total", _REQ, _U16),
                (1, "start", _REQ, _U16),
                (2, "occupants", _REQ, (T_LIST, 0, OCCUPANTS_MAX, (T_TUPLE, OCCUPANT, "occupant"))),
            )
        ),
    ),
    (
        EVENTS_SINCE,
        "events-since",
        False,
        _map(
            (
                (0, "from_seq", _REQ, _SEQ),  # events with seq >= from_seq
                (1, "max_count", _REQ, (T_INT, 1, EVENTS_MAX)),
            )
        ),
        _map(
            (
                (0, "events", _REQ, (T_LIST, 0, EVENTS_MAX, _EVENT)),
                (1, "last_seq", _REQ, _SEQ),
            )
        ),
    ),
    (
        ACK,
        "ack",
        True,
        _map(((0, "up_to_seq", _REQ, _SEQ),)),  # inclusive
        _map(((0, "unacked", _REQ, _U32),)),
    ),
    (
        CONFIG_GET,
        "config-get",
        False,
        _map(((0, "keys", _OPT, (T_LIST, 1, 32, _NAME)),)),  # absent: every setting
        _map(((0, "settings", _REQ, (T_DICT, 0, _SETTINGS_MAX, _NAME, _CONFIG_VALUE)),)),
    ),
    (
        CONFIG_SET,
        "config-set",
        True,
        # All changes in one command apply together or not at all (gateway/config.py).
        _map(((0, "changes", _REQ, (T_DICT, 1, 32, _NAME, _CONFIG_VALUE)),)),
        _EMPTY,
    ),
    (
        ROSTER_LOAD,
        "roster-load",
        True,
        _map(
            (
                (0, "load_id", _REQ, _ID),  # the same in every part of one load
                (1, "part", _REQ, (T_INT, 0, ROSTER_PARTS_MAX - 1)),
                (2, "parts", _REQ, (T_INT, 1, ROSTER_PARTS_MAX)),
                (
                    3,
                    "entries",
                    _REQ,
                    (T_LIST, 0, ROSTER_CHUNK_MAX, (T_TUPLE, ROSTER_ENTRY, "roster entry")),
                ),
                (4, "total", _REQ, _U16),  # entries in all parts together, for begin(count)
            ),
            (("part", "parts", True),),
        ),
        _map(
            (
                (0, "received", _REQ, (T_INT, 0, ROSTER_PARTS_MAX)),  # parts held of this load
                (1, "complete", _REQ, _BOOL),  # all parts in: the new roster is in force
                (2, "entries", _OPT, _U32),  # the new roster's size, once complete
            )
        ),
    ),
    (PERMIT_ISSUE, "permit-issue", True, _map(PERMIT_FIELDS, _PERMIT_ORDERS), _EMPTY),
    (PERMIT_REVOKE, "permit-revoke", True, _map(((0, "permit_id", _REQ, _ID),)), _EMPTY),
    (
        PERMIT_LIST,
        "permit-list",
        False,
        _map(((0, "start", _OPT, _U16),)),
        _map(
            (
                (0, "total", _REQ, _U16),
                (1, "permits", _REQ, (T_LIST, 0, PERMITS_MAX, _PERMIT)),
            )
        ),
    ),
    (
        EVACUATE,
        "evacuate",
        True,
        # R-EVAC-1/2; reason: gateway/reasons.py EVAC_REASON_*. Any 0..255 passes here:
        # refusing an evacuation for a reason code it does not know would fail unsafe.
        # by: a team leader's person id when one gives the order (R-EVAC-1; the gateway
        # checks the role in its roster); absent: the dispatcher.
        _map(((0, "reason", _REQ, _U8), (1, "drill", _REQ, _BOOL), (2, "by", _OPT, _ID))),
        _EMPTY,
    ),
    (ALL_CLEAR, "all-clear", True, _map(((0, "by", _OPT, _ID),)), _EMPTY),
    (
        CAP_OVERRIDE,
        "cap-override",
        True,
        # R-CAP-9: a temporary cap set by dispatch, until expiry_s. below_count true: set
        # it even below the people inside (R-CAP-11: the zone is over its cap at once).
        _map(
            (
                (0, "cap", _REQ, _U16),
                (1, "expiry_s", _REQ, _TIME),
                (2, "reason", _REQ, _REASON),
                (3, "below_count", _OPT, _BOOL),
            )
        ),
        _EMPTY,
    ),
    # R-CAP-9: the temporary cap in force ends now (rectification done early).
    (CAP_OVERRIDE_CLEAR, "cap-override-clear", True, _map(((0, "reason", _OPT, _REASON),)), _EMPTY),
    (SEAL, "seal", True, _map(((0, "reason", _OPT, _REASON),)), _EMPTY),  # R-SEAL-1
    (UNSEAL, "unseal", True, _map(((0, "reason", _OPT, _REASON),)), _EMPTY),
    (
        TIME_SET,
        "time-set",
        True,
        # backwards true: the clock may go back more than the gateway's 2 s tolerance.
        _map(((0, "time_s", _REQ, (T_INT, TIME_SET_MIN, TIME_MAX)), (1, "backwards", _OPT, _BOOL))),
        _EMPTY,
    ),
    # The body of OK is the reply schema of the request it answers (reply_spec()).
    (OK, "ok", False, _EMPTY, None),
    (ERROR, "error", False, _ERROR, None),
    (EVENT, "event", False, _map(EVENT_FIELDS), None),
)

# For docs and tools: (code, name, mutating, body fields)
CATALOGUE = tuple((t[0], t[1], t[2], t[3][1]) for t in _TYPES)
# Mutating commands must arrive authenticated (gatewire.auth); the firmware checks.
MUTATING = tuple(t[0] for t in _TYPES if t[2])


def is_mutating(code):
    return type(code) is int and code in MUTATING


def message_class(code):
    if type(code) is not int:
        return None
    if 1 <= code <= 63:
        return "request"
    if 64 <= code <= 95:
        return "reply"
    if 96 <= code <= 127:
        return "event"
    return None


def _type_by_code(code):
    for t in _TYPES:
        if t[0] == code:
            return t
    return None


def _type_named(name):
    for t in _TYPES:
        if t[1] == name:
            return t
    raise ProtocolError(E_UNKNOWN_TYPE, "unknown message type %r" % (name,), "type")


def code_of(name):
    return _type_named(name)[0]


def name_of(code):
    t = _type_by_code(code)
    return t[1] if t is not None else None


def body_spec(type_name_or_code):
    # (T_MAP, fields, orders, label) of a type's body; an OK body is reply_spec()'s
    if type(type_name_or_code) is int:
        t = _type_by_code(type_name_or_code)
        if t is None:
            raise ProtocolError(
                E_UNKNOWN_TYPE, "unknown message type %d" % type_name_or_code, "type"
            )
        return t[3]
    return _type_named(type_name_or_code)[3]


def reply_spec(request):
    # The body of the OK reply to a request (name or code)
    return _request_type(request)[4]


def _request_type(request):
    t = _type_by_code(request) if type(request) is int else _type_named(request)
    if t is None or t[4] is None:
        raise ProtocolError(E_UNKNOWN_TYPE, "%r is not a request type" % (request,), "type")
    return t


# ---- describing specs (error texts and the docs) ----


def _range(lo, hi):
    return ("%d" % lo) if lo == hi else ("%d..%d" % (lo, hi))


def describe(spec):
    kind = spec[0]
    if kind == T_INT:
        return "int in %d..%d" % (spec[1], spec[2])
    if kind == T_BOOL:
        return "bool"
    if kind == T_STR:
        return "str of %s UTF-8 bytes" % _range(spec[1], spec[2])
    if kind == T_BYTES:
        return "bytes of length %s" % _range(spec[1], spec[2])
    if kind == T_ENUM:
        return "one of " + ", ".join(["'%s'" % w for w in spec[1]])
    if kind == T_LIST:
        return "list of %s (%s)" % (_range(spec[1], spec[2]), describe(spec[3]))
    if kind == T_TUPLE:
        return "%s [%s]" % (spec[2], ", ".join([p[0] for p in spec[1]]))
    if kind == T_MAP:
        return "%s map" % spec[3]
    if kind == T_DICT:
        return "map of %s entries, str key -> value" % _range(spec[1], spec[2])
    return " or ".join([describe(s) for s in spec[1]])


def _got(v):
    t = type(v)
    if t is int:
        return "int %d" % v
    if t is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if t is list or t is tuple:
        return "list"
    if t is dict:
        return "map"
    if t is bytearray:
        return "bytes"
    return t.__name__


# ---- validation ----


class _Bad(Exception):
    # path: components from the innermost out (field names, list indexes)
    def __init__(self, what, path=None):
        super().__init__(what)
        self.what = what
        self.path = [] if path is None else path


def _wrong_type(spec, v):
    return _Bad("expected %s, got %s" % (describe(spec), _got(v)))


def _utf8_len(s):
    try:
        return len(s.encode("utf-8"))
    except UnicodeError:
        # only from the Python side (lone surrogates): decoded CBOR text is valid UTF-8
        raise _Bad("expected str, got text that is not valid UTF-8") from None


def _check_len(spec, n, unit):
    if n < spec[1] or n > spec[2]:
        raise _Bad("expected %s, got %d %s" % (describe(spec), n, unit))


def _check(spec, v):
    # Returns the Python-side value (maps by name); raises _Bad and nothing else.
    kind = spec[0]
    t = type(v)
    if kind == T_INT:
        if t is not int:
            raise _wrong_type(spec, v)
        if v < spec[1] or v > spec[2]:
            raise _Bad("expected %s, got %d" % (describe(spec), v))
        return v
    if kind == T_BOOL:
        if t is not bool:
            raise _wrong_type(spec, v)
        return v
    if kind == T_STR:
        if t is not str:
            raise _wrong_type(spec, v)
        _check_len(spec, _utf8_len(v), "bytes")
        return v
    if kind == T_BYTES:
        if t is not bytes and t is not bytearray:
            raise _wrong_type(spec, v)
        _check_len(spec, len(v), "bytes")
        return v
    if kind == T_ENUM:
        if t is not str:
            raise _wrong_type(spec, v)
        if v not in spec[1]:
            raise _Bad("expected %s, got %s" % (describe(spec), repr(v) if len(v) <= 16 else "str"))
        return v
    if kind == T_LIST:
        if t is not list and t is not tuple:
            raise _wrong_type(spec, v)
        _check_len(spec, len(v), "elements")
        elem = spec[3]
        # Scalars are checked in place; lists of tuples and maps become new lists.
        out = v if elem[0] <= T_ENUM else []
        i = 0
        try:
            for e in v:
                if out is v:
                    _check(elem, e)
                else:
                    out.append(_check(elem, e))
                i += 1
        except _Bad as bad:
            bad.path.append(i)
            raise
        return out
    if kind == T_TUPLE:
        parts = spec[1]
        n = len(parts)
        if t is not list and t is not tuple:
            raise _wrong_type(spec, v)
        if len(v) < n:
            raise _Bad("expected %s, got %d elements" % (describe(spec), len(v)))
        for i in range(n):
            try:
                _check(parts[i][1], v[i])
            except _Bad as bad:
                bad.path.append(parts[i][0])
                raise
        return v if (t is list and len(v) == n) else list(v[:n])
    if kind == T_MAP:
        if t is not dict:
            raise _wrong_type(spec, v)
        return _check_map(spec, v)
    if kind == T_DICT:
        if t is not dict:
            raise _wrong_type(spec, v)
        _check_len(spec, len(v), "entries")
        for k in v:
            try:
                _check(spec[3], k)
            except _Bad as bad:
                bad.what = "key: " + bad.what
                raise
            try:
                _check(spec[4], v[k])
            except _Bad as bad:
                bad.path.append(k)
                raise
        return v
    # T_EITHER
    for s in spec[1]:
        try:
            return _check(s, v)
        except _Bad:
            continue
    raise _wrong_type(spec, v)


def _check_map(spec, m):
    fields = spec[1]
    out = {}
    for k in m:
        # type(k) is int: a CBOR true key equals 1 in a Python dict but is not key 1
        if type(k) is not int:
            continue
        for f in fields:
            if f[0] == k:
                try:
                    out[f[1]] = _check(f[3], m[k])
                except _Bad as bad:
                    bad.path.append(f[1])
                    raise
                break
    for f in fields:
        if f[2] and f[1] not in out:
            raise _Bad("required, missing", [f[1]])
    for lo, hi, strict in spec[2]:
        if lo in out and hi in out:
            a = out[lo]
            b = out[hi]
            if a > b or (strict and a == b):
                raise _Bad(
                    "must be %s %s (%d), got %d" % ("above" if strict else "at least", lo, a, b),
                    [hi],
                )
    return out


def _path_name(path):
    name = ""
    i = len(path) - 1
    while i >= 0:
        p = path[i]
        if type(p) is int:
            name += "[%d]" % p
        elif name:
            name += "." + str(p)
        else:
            name = str(p)
        i -= 1
    return name


def _check_body(spec, body):
    try:
        return _check_map(spec, body)
    except _Bad as bad:
        field = _path_name(bad.path)
        raise ProtocolError(E_BAD_FIELD, "field '%s': %s" % (field, bad.what), field) from None


# ---- building ----


def _field_named(fields, name):
    for f in fields:
        if f[1] == name:
            return f
    return None


def _to_wire(spec, v):
    # Named maps to int-keyed maps, recursively; every other check is _check's.
    kind = spec[0]
    if kind == T_MAP:
        if type(v) is not dict:
            raise _wrong_type(spec, v)
        out = {}
        for name in v:
            value = v[name]
            if value is None:
                continue  # None: leave an optional field out
            f = _field_named(spec[1], name)
            if f is None:
                raise _Bad("no such field in %s" % spec[3], [name])
            try:
                out[f[0]] = _to_wire(f[3], value)
            except _Bad as bad:
                bad.path.append(name)
                raise
        return out
    if kind == T_LIST and spec[3][0] == T_MAP and (type(v) is list or type(v) is tuple):
        out = []
        i = 0
        try:
            for e in v:
                out.append(_to_wire(spec[3], e))
                i += 1
        except _Bad as bad:
            bad.path.append(i)
            raise
        return out
    return v


def _build_body(spec, fields):
    try:
        body = _to_wire(spec, fields)
    except _Bad as bad:
        field = _path_name(bad.path)
        raise ProtocolError(E_BAD_FIELD, "field '%s': %s" % (field, bad.what), field) from None
    _check_body(spec, body)
    return body


def _check_id(req_id, lo, what):
    if type(req_id) is not int or req_id < lo or req_id > REQ_ID_MAX:
        raise ProtocolError(
            E_BAD_ENVELOPE,
            "%s id must be an int in %d..%d, got %s" % (what, lo, REQ_ID_MAX, _got(req_id)),
            "id",
        )


def request(type_name, req_id, **fields):
    t = _type_named(type_name)
    if t[4] is None:
        raise ProtocolError(E_UNKNOWN_TYPE, "'%s' is not a request" % type_name, "type")
    _check_id(req_id, 1, "request")
    return {KEY_TYPE: t[0], KEY_ID: req_id, KEY_BODY: _build_body(t[3], fields)}


def reply(type_name, req_id, **fields):
    # type_name: the request this answers; its reply schema checks the body
    t = _request_type(type_name)
    _check_id(req_id, 1, "reply")
    return {KEY_TYPE: OK, KEY_ID: req_id, KEY_BODY: _build_body(t[4], fields)}


def _clip(text, max_bytes):
    # Never fails: an error reply is built while handling another failure.
    text = str(text)
    try:
        raw = text.encode("utf-8")
    except UnicodeError:
        text = repr(text)
        raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    cut = max_bytes - 3
    while cut > 0 and raw[cut] & 0xC0 == 0x80:
        cut -= 1  # do not split a UTF-8 sequence
    return str(raw[:cut], "utf-8") + "..."


def error_reply(req_id, code, text, field=None):
    # req_id 0: the request's own id could not be read. Long text and field are clipped.
    _check_id(req_id, 0, "reply")
    body = {0: code, 1: _clip(text, ERROR_TEXT_MAX)}
    if field is not None and field != "":
        body[2] = _clip(field, ERROR_FIELD_MAX)
    _check_body(_ERROR, body)
    return {KEY_TYPE: ERROR, KEY_ID: req_id, KEY_BODY: body}


def event(seq, time_s, kind, tag, a, b, digest):
    body = {0: seq, 1: time_s, 2: kind, 3: tag, 4: a, 5: b, 6: digest}
    _check_body(_EVENT, body)
    return {KEY_TYPE: EVENT, KEY_ID: 0, KEY_BODY: body}


def agree_version(min_version, max_version):
    # Gateway side of hello: the version both speak, or E_VERSION.
    if min_version <= PROTOCOL_VERSION <= max_version:
        return PROTOCOL_VERSION
    raise ProtocolError(
        E_VERSION,
        "host speaks protocol versions %d..%d, this gateway speaks %d"
        % (min_version, max_version, PROTOCOL_VERSION),
        "max_version" if max_version < PROTOCOL_VERSION else "min_version",
    )


# ---- parsing ----


def _envelope(obj):
    if type(obj) is not dict:
        raise ProtocolError(
            E_BAD_ENVELOPE, "envelope must be a map, got %s" % _got(obj), "envelope"
        )
    have = 0
    code = req_id = body = None
    for k in obj:
        if type(k) is not int:
            continue
        if k == KEY_TYPE:
            code = obj[k]
            have |= 1
        elif k == KEY_ID:
            req_id = obj[k]
            have |= 2
        elif k == KEY_BODY:
            body = obj[k]
            have |= 4
    if not have & 1:
        raise ProtocolError(E_BAD_ENVELOPE, "envelope has no message type (key 0)", "type")
    if type(code) is not int or code < 0:
        raise ProtocolError(
            E_BAD_ENVELOPE, "message type must be a uint, got %s" % _got(code), "type"
        )
    if not have & 2:
        raise ProtocolError(E_BAD_ENVELOPE, "envelope has no request id (key 1)", "id")
    _check_id(req_id, 0, "request")
    if not have & 4:
        body = {}  # a body with no fields may be left out
    elif type(body) is not dict:
        raise ProtocolError(E_BAD_ENVELOPE, "body must be a map, got %s" % _got(body), "body")
    return code, req_id, body


def envelope_id(obj):
    # The request id to answer with even when the rest of the envelope is bad (section 7):
    # key 1 if it holds a valid request id (1..2**32-1), else 0.
    if type(obj) is dict:
        rid = obj.get(KEY_ID)
        if type(rid) is int and 1 <= rid <= REQ_ID_MAX:
            return rid
    return 0


def parse_envelope(obj):
    # (type code, request id), the body's fields unchecked: the firmware needs the id to
    # address an error reply, the host to find the request a reply answers.
    code, req_id, _ = _envelope(obj)
    return code, req_id


_EXPECT = ("request", "reply", "event")


def parse(obj, expect="request", answers=None):
    # -> (type code, request id, body by field name). Raises ProtocolError only.
    # expect: "request" (gateway side), "reply" or "event" (host side); answers: for a
    # reply, the name or code of the request it answers (selects the OK body schema).
    if expect not in _EXPECT:
        raise ValueError("expect must be one of %s, got %r" % (", ".join(_EXPECT), expect))
    if expect == "reply" and answers is None:
        raise ValueError("parsing a reply needs answers=<the request's type>")
    code, req_id, body = _envelope(obj)
    t = _type_by_code(code)
    if t is None:
        raise ProtocolError(E_UNKNOWN_TYPE, "unknown message type %d" % code, "type")
    cls = message_class(code)
    if cls != expect:
        raise ProtocolError(
            E_UNKNOWN_TYPE,
            "type %d (%s) is a %s, expected a %s" % (code, t[1], cls, expect),
            "type",
        )
    if cls == "event":
        if req_id != 0:
            raise ProtocolError(E_BAD_ENVELOPE, "an event has id 0, got %d" % req_id, "id")
    elif code != ERROR:
        _check_id(req_id, 1, cls)
    spec = _request_type(answers)[4] if code == OK else t[3]
    return code, req_id, _check_body(spec, body)
