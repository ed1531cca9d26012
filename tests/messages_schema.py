# The message schema as readable nested tuples: the source that the compact tables in
# protocol/gatewire/messages.py (_S, _T, _N, _W) are generated from. The board never
# imports this file (tuples cost it about 10 KB of heap); tests/test_messages.py checks
# that the tables decode to exactly these tuples. After editing the schema here:
#   .venv/bin/python tests/messages_schema.py --write
# rewrites the generated block of messages.py.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "protocol"))

from gatewire.messages import (
    ACK,
    ALL_CLEAR,
    CAP_OVERRIDE,
    CAP_OVERRIDE_CLEAR,
    CONFIG_GET,
    CONFIG_SET,
    ERROR,
    ERROR_FIELD_MAX,
    ERROR_TEXT_MAX,
    EVACUATE,
    EVENT,
    EVENTS_MAX,
    EVENTS_SINCE,
    HELLO,
    ID_MAX,
    OCCUPANTS,
    OCCUPANTS_MAX,
    OK,
    PERMIT_ISSUE,
    PERMIT_LIST,
    PERMIT_REVOKE,
    PERMIT_WORKERS_MAX,
    PERMITS_MAX,
    RECOUNT,
    ROSTER_CHUNK_MAX,
    ROSTER_LOAD,
    ROSTER_PARTS_MAX,
    SEAL,
    STATUS,
    T_BOOL,
    T_BYTES,
    T_DICT,
    T_EITHER,
    T_ENUM,
    T_INT,
    T_LIST,
    T_MAP,
    T_STR,
    T_TUPLE,
    TIME_MAX,
    TIME_SET,
    TIME_SET_MIN,
    UNSEAL,
)

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
_PERMIT_FLAGS = (T_INT, 1, 7)
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

ROSTER_ENTRY = (
    ("tag_id", _ID),
    ("person_id", _ID),
    ("role_code", _U8),
    ("cert_expiry_s", _TIME),  # 0: no certificate on record
    ("crew_code", _U16),
)

OCCUPANT = (
    ("tag_id", _ID),
    ("person_id", _ID_OR_NONE),  # 0: the tag was not in the roster when it entered
    ("since_s", _TIME),
)

# Config values are checked by the gateway's config module (one rule, one place); here
# only their shape is bounded: scalars, and short lists of ints, texts or int pairs.
_CONFIG_LIST_ITEM = (T_EITHER, (_I32, _NAME, (T_LIST, 0, 8, _I32)))
_CONFIG_VALUE = (T_EITHER, (_I32, _BOOL, (T_STR, 0, 64), (T_LIST, 0, 64, _CONFIG_LIST_ITEM)))
_SETTINGS_MAX = 64

ERROR_FIELDS = (
    (0, "code", _REQ, (T_INT, 1, 0xFF)),  # gatewire.errors E_*
    (1, "text", _REQ, (T_STR, 0, ERROR_TEXT_MAX)),
    (2, "field", _OPT, (T_STR, 1, ERROR_FIELD_MAX)),
)


def _map(fields, orders=(), label="body"):
    return (T_MAP, fields, orders, label)


_EMPTY = _map(())
_ERROR = _map(ERROR_FIELDS, (), "error")

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
    (
        RECOUNT,
        "recount",
        True,
        # R-CAP-11: the headcount a physical count (muster) found in the zone, who counted,
        # and the count the gateway showed when they counted (refused if it has moved
        # since: people crossed meanwhile). by: who gives the order, as for all-clear
        # (R-EVAC-1); absent: the dispatcher. The gateway never goes below the people it
        # knows by name or by remembered tag (gateway/commands.py recount).
        _map(
            (
                (0, "found", _REQ, _U16),
                (1, "was", _REQ, _U16),
                (2, "counted_by", _REQ, _ID),
                (3, "by", _OPT, _ID),
            )
        ),
        _map(((0, "before", _REQ, _U16), (1, "after", _REQ, _U16))),
    ),
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


# ---- encoding (the layout messages.py walks) ----
# _N: every number, _W: every word (field names, labels, enum words, type names), one
# byte indexes each; _S: specs, field lists and order lists, at 2-byte offsets; _T: per
# type code, name, mutating, body offset, reply offset (0xFFFF: none). Shared tuples stay
# shared (one offset), so decoding gives back the same sharing.


class Encoder:
    def __init__(self):
        self.nums = []
        self.words = []
        self.blob = bytearray()
        self.at = {}  # id(tuple) -> offset
        self.keep = []

    def num(self, n):
        if n not in self.nums:
            self.nums.append(n)
        i = self.nums.index(n)
        assert i < 256
        return i

    def word(self, w):
        if w not in self.words:
            self.words.append(w)
        i = self.words.index(w)
        assert i < 256
        return i

    def _place(self, obj, make):
        off = self.at.get(id(obj))
        if off is None:
            rec = make()
            off = len(self.blob)
            assert off < 0xFFFF
            self.blob += bytes(rec)
            self.at[id(obj)] = off
            self.keep.append(obj)
        return off

    @staticmethod
    def _o(off):
        return [off >> 8, off & 0xFF]

    def spec(self, s):
        return self._place(s, lambda: self._spec_rec(s))

    def _spec_rec(self, s):
        k = s[0]
        if k in (T_INT, T_STR, T_BYTES):
            return [k, self.num(s[1]), self.num(s[2])]
        if k == T_BOOL:
            return [k]
        if k == T_ENUM:
            return [k, len(s[1])] + [self.word(w) for w in s[1]]
        if k == T_LIST:
            return [k, self.num(s[1]), self.num(s[2]), *self._o(self.spec(s[3]))]
        if k == T_TUPLE:
            rec = [k, self.word(s[2]), len(s[1])]
            for name, part in s[1]:
                rec += [self.word(name), *self._o(self.spec(part))]
            return rec
        if k == T_MAP:
            return [k, self.word(s[3]), *self._o(self.fields(s[1])), *self._o(self.orders(s[2]))]
        if k == T_DICT:
            return [
                k,
                self.num(s[1]),
                self.num(s[2]),
                *self._o(self.spec(s[3])),
                *self._o(self.spec(s[4])),
            ]
        assert k == T_EITHER
        rec = [k, len(s[1])]
        for part in s[1]:
            rec += self._o(self.spec(part))
        return rec

    def fields(self, fs):
        def make():
            rec = [len(fs)]
            for key, name, req, spec in fs:
                rec += [key, self.word(name), 1 if req else 0, *self._o(self.spec(spec))]
            return rec

        return self._place(fs, make)

    def orders(self, os):
        def make():
            rec = [len(os)]
            for lo, hi, strict in os:
                rec += [self.word(lo), self.word(hi), 1 if strict else 0]
            return rec

        return self._place(os, make)

    def types(self):
        out = bytearray()
        for code, name, mutating, body, reply in _TYPES:
            b = self.spec(body)
            r = 0xFFFF if reply is None else self.spec(reply)
            out += bytes([code, self.word(name), 1 if mutating else 0, *self._o(b), *self._o(r)])
        return bytes(out)


def generated():
    # The text of messages.py's generated block.
    enc = Encoder()
    t = enc.types()
    s = bytes(enc.blob)
    mutating = tuple(x[0] for x in _TYPES if x[2])
    lines = [BEGIN]
    lines.append("_N = (%s)" % "".join("%d, " % n for n in enc.nums).rstrip(" "))
    lines.append("_W = (%s)" % "".join("%r, " % w for w in enc.words).rstrip(" "))
    lines.append("_S = %r" % s)
    lines.append("_T = %r" % t)
    lines.append("MUTATING = %r" % (mutating,))
    # the error and event bodies, which error_reply() and event() check
    lines.append("_ERROR = const(%d)" % enc.spec(_ERROR))
    lines.append("_EVENT = const(%d)" % enc.spec(_TYPES[-1][3]))
    lines.append(END)
    return "\n".join(lines) + "\n"


BEGIN = "# ---- generated by tests/messages_schema.py: do not edit ----"
END = "# ---- end of generated tables ----"

if __name__ == "__main__":
    text = generated()
    if "--write" in sys.argv:
        target = Path(__file__).resolve().parent.parent / "protocol" / "gatewire" / "messages.py"
        src = target.read_text()
        a = src.index(BEGIN)
        b = src.index(END) + len(END) + 1
        target.write_text(src[:a] + text + src[b:])
    else:
        sys.stdout.write(text)
