# The message schema as nested tuples (the shapes listed in gatewire/messages.py), decoded
# from messages' compact tables for the docs (docs/protocol.md), tools and tests, and the
# rest of the host's side of messages: building a request, a type's code by name. The
# board validates on the tables in place, answers and never imports this module; these
# are messages' attributes of the same names on the host (messages.__getattr__).
from gatewire.errors import E_UNKNOWN_TYPE, ProtocolError
from gatewire.messages import (
    _N,
    _S,
    _T,
    _W,
    KEY_BODY,
    KEY_ID,
    KEY_TYPE,
    T_BOOL,
    T_BYTES,
    T_DICT,
    T_ENUM,
    T_INT,
    T_LIST,
    T_MAP,
    T_STR,
    T_TUPLE,
    _body_of,
    _build_body,
    _check_id,
    _off,
    _range,
    _reply_of,
    _request_type,
    _type_by_code,
    _type_named,
)

# messages._TYPE_SIZE: a const() there, so not an attribute under MicroPython
_TYPE_SIZE = 7


def _spec(o, memo):
    # The spec tuple at offset o; memo keeps shared parts shared (one tuple per offset).
    s = memo.get(o)
    if s is not None:
        return s
    k = _S[o]
    if k == T_INT or k == T_STR or k == T_BYTES:
        s = (k, _N[_S[o + 1]], _N[_S[o + 2]])
    elif k == T_BOOL:
        s = (k,)
    elif k == T_ENUM:
        s = (k, tuple([_W[_S[o + 2 + j]] for j in range(_S[o + 1])]))
    elif k == T_LIST:
        s = (k, _N[_S[o + 1]], _N[_S[o + 2]], _spec(_off(o + 3), memo))
    elif k == T_TUPLE:
        parts = []
        p = o + 3
        for _ in range(_S[o + 2]):
            parts.append((_W[_S[p]], _spec(_off(p + 1), memo)))
            p += 3
        s = (k, tuple(parts), _W[_S[o + 1]])
    elif k == T_MAP:
        s = (k, _fields(_off(o + 2), memo), _orders(_off(o + 4), memo), _W[_S[o + 1]])
    elif k == T_DICT:
        s = (k, _N[_S[o + 1]], _N[_S[o + 2]], _spec(_off(o + 3), memo), _spec(_off(o + 5), memo))
    else:
        s = (k, tuple([_spec(_off(o + 2 + 2 * j), memo) for j in range(_S[o + 1])]))
    memo[o] = s
    return s


def _fields(o, memo):
    fs = memo.get(o)
    if fs is None:
        out = []
        p = o + 1
        for _ in range(_S[o]):
            out.append((_S[p], _W[_S[p + 1]], _S[p + 2] == 1, _spec(_off(p + 3), memo)))
            p += 5
        fs = memo[o] = tuple(out)
    return fs


def _orders(o, memo):
    os = memo.get(o)
    if os is None:
        out = []
        p = o + 1
        for _ in range(_S[o]):
            out.append((_W[_S[p]], _W[_S[p + 1]], _S[p + 2] == 1))
            p += 3
        os = memo[o] = tuple(out)
    return os


# Specs decoded for body_spec() and reply_spec() (host side: the board never calls them),
# kept so that each call returns the same shared tuples.
_decoded = {}


def catalogue():
    # For docs and tools: (code, name, mutating, body fields) per type
    out = []
    i = 0
    while i < len(_T):
        # the body's fields tuple (the memo makes it the one body_spec()[1] returns)
        fields = _fields(_off(_body_of(i) + 2), _decoded)
        out.append((_T[i], _W[_T[i + 1]], _T[i + 2] == 1, fields))
        i += _TYPE_SIZE
    return tuple(out)


def spec_at(o):
    # the (shared) tuple of the spec at offset o
    return _spec(o, _decoded)


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


# ---- the host's side of gatewire.messages ----

# messages._NO_REPLY: a const() there, so not an attribute under MicroPython
_NO_REPLY = 0xFFFF


def request(type_name, req_id, **fields):
    t = _type_named(type_name)
    if _reply_of(t) == _NO_REPLY:
        raise ProtocolError(E_UNKNOWN_TYPE, "'%s' is not a request" % type_name, "type")
    _check_id(req_id, 1, "request")
    return {KEY_TYPE: _T[t], KEY_ID: req_id, KEY_BODY: _build_body(_body_of(t), fields)}


def code_of(name):
    return _T[_type_named(name)]


def body_spec(type_name_or_code):
    # (T_MAP, fields, orders, label) of a type's body; an OK body is reply_spec()'s
    if type(type_name_or_code) is int:
        i = _type_by_code(type_name_or_code)
        if i < 0:
            raise ProtocolError(
                E_UNKNOWN_TYPE, "unknown message type %d" % type_name_or_code, "type"
            )
    else:
        i = _type_named(type_name_or_code)
    return spec_at(_body_of(i))


def reply_spec(request):
    # The body of the OK reply to a request (name or code)
    return spec_at(_reply_of(_request_type(request)))
