"""The generated parts of docs/protocol.md, rendered from the code itself.

The wire spec quotes the message catalogue, the error codes, the limits, the event kinds
and every worked example byte for byte. Each of those lives in the document between
``<!-- BEGIN generated NAME -->`` and ``<!-- END generated NAME -->`` and is rendered here
from gatewire (and, for events, the firmware's event log), so the document cannot drift
from the code: tests/test_protocol_doc.py fails when they differ.

    .venv/bin/python tests/protocol_doc_tables.py           # check, print a diff
    .venv/bin/python tests/protocol_doc_tables.py --write   # rewrite the generated parts

Field meanings are written here (FIELD_NOTES) because the code carries types and bounds
but not meanings; the test requires a note for every field and no note for a field that
no longer exists.
"""

import binascii
import difflib
import json
import re
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC_PATH = ROOT / "docs" / "protocol.md"
UPDATE_COMMAND = ".venv/bin/python tests/protocol_doc_tables.py --write"

if __name__ == "__main__":
    # pytest puts these on sys.path (pyproject.toml); a direct run has to.
    for sub in ("firmware", "protocol"):
        if str(ROOT / sub) not in sys.path:
            sys.path.insert(0, str(ROOT / sub))

from gateway import config as gw_config  # noqa: E402
from gateway import eventlog, events, reasons  # noqa: E402
from gatewire import auth, cbor, frame  # noqa: E402
from gatewire import errors as gw_errors  # noqa: E402
from gatewire import messages as m  # noqa: E402

# ---- the worked examples' inputs (shared with the test) ----

EXAMPLE_KEY = bytes(range(32))
EXAMPLE_COUNTER = 1767225600000  # 2026-01-01T00:00:00Z in unix ms, as initial_counter gives
EXAMPLE_GATEWAY = "gw-F1201-in"
EXAMPLE_NOW_S = 1767225600
FRAME_VECTORS = (b"\x11\x00\x22", b"123456789")

ENVELOPE_KEY_NAMES = {0: "type", 1: "id", 2: "body", 3: "counter", 4: "tag"}

# ---- what each field means: (table, field) -> text ----
# table: "<request> request", "<request> reply", "error", or a structure's label.


def _evac_reasons():
    items = sorted(
        (v, k[len("EVAC_REASON_") :].lower().replace("_", " "))
        for k, v in vars(reasons).items()
        if k.startswith("EVAC_REASON_") and k != "EVAC_REASON_MAX"
    )
    return ", ".join("%d %s" % item for item in items)


FIELD_NOTES = {
    ("hello request", "min_version"): "lowest protocol version the host speaks",
    ("hello request", "max_version"): "highest protocol version the host speaks",
    ("hello request", "host_id"): "names the host, for the gateway's records",
    ("hello reply", "version"): "the version agreed: the highest both speak",
    ("hello reply", "gateway_id"): "this gateway (setting `gateway_id`)",
    ("hello reply", "role"): "`shaft`: counts who is underground; `face`: one zone's entrance",
    ("hello reply", "zone_id"): "the zone it guards (setting `zone_id`)",
    ("hello reply", "zone_kind"): "one of %s (firmware gateway/config.py)"
    % ", ".join("`%s`" % k for k in gw_config.ZONE_KINDS),
    ("hello reply", "firmware"): "firmware version",
    ("hello reply", "boot_count"): "boots so far: a change since the last hello means a restart",
    ("hello reply", "last_seq"): "seq of the newest event logged, 0 if none yet",
    ("hello reply", "now_s"): "gateway wall clock, unix s; 0 until `time-set` in this boot",
    ("hello reply", "board"): "board support in use, e.g. `pico`, `esp32`, `virtual`",
    ("status reply", "now_s"): "gateway wall clock, unix s; 0 until `time-set` in this boot",
    ("status reply", "uptime_s"): "seconds since boot",
    ("status reply", "occupants"): "people counted inside (underground, for a shaft gateway)",
    ("status reply", "cap"): "cap in force now (R-CAP-1..5, tightened or overridden)",
    ("status reply", "shift"): "0 unknown (the strictest cap applies), 1 production, 2 maintenance",
    ("status reply", "lamp"): "0 off, 1 green, 2 amber, 3 red",
    ("status reply", "work_allowed"): "work relay energised",
    ("status reply", "hot_work_allowed"): "hot-work relay energised (R-HOT-1)",
    ("status reply", "sealed"): "zone sealed: cap 0, any entry alarms (R-SEAL-1)",
    ("status reply", "evacuating"): "an evacuation or drill is in force (R-EVAC-1..3)",
    ("status reply", "drill"): "the evacuation in force is a drill (R-EVAC-3)",
    ("status reply", "video_ok"): "every camera's heartbeat is fresh (R-VIDEO-1)",
    ("status reply", "gas_ok"): "a fresh, healthy gas reading below the stop levels (R-GAS-1)",
    ("status reply", "override_active"): "a `cap-override` is in force (R-CAP-9)",
    ("status reply", "ch4_ppm"): "latest methane reading, 10 000 ppm = 1 %; absent: none yet",
    ("status reply", "co_ppm"): "latest CO reading; absent: none yet",
    ("status reply", "last_seq"): "seq of the newest event logged, 0 if none yet",
    ("status reply", "unacked"): "events logged but not yet acknowledged",
    ("status reply", "permits_active"): "permits whose window is open now",
    ("occupants request", "start"): "index of the first occupant wanted; absent: 0",
    ("occupants request", "max_count"): "at most this many; absent: %d" % m.OCCUPANTS_MAX,
    ("occupants reply", "total"): "people inside now",
    ("occupants reply", "start"): "index of the first occupant in this reply",
    ("occupants reply", "occupants"): "from index `start` on",
    ("events-since request", "from_seq"): "first seq wanted: events with seq >= from_seq; "
    "below the oldest event the gateway still holds, the reply starts at that one",
    ("events-since request", "max_count"): "at most this many events",
    ("events-since reply", "events"): "oldest first, consecutive seqs; the first may be "
    "above from_seq when older events were acknowledged and dropped (section 8.3)",
    ("events-since reply", "last_seq"): "seq of the newest event logged: fetch again while "
    "the last event returned is below it",
    ("ack request", "up_to_seq"): "the host holds every event up to this seq (inclusive)",
    ("ack reply", "unacked"): "events still unacknowledged after this ack",
    ("config-get request", "keys"): "setting names wanted; absent: every setting",
    ("config-get reply", "settings"): "setting name -> value",
    ("config-set request", "changes"): "setting name -> new value; all apply or none do",
    ("roster-load request", "load_id"): "the same in every part of one load",
    ("roster-load request", "part"): "this part's index, 0 first",
    ("roster-load request", "parts"): "number of parts in the load",
    ("roster-load request", "entries"): "this part's people",
    ("roster-load request", "total"): "entries in all parts together",
    ("roster-load reply", "received"): "parts of this load the gateway holds",
    ("roster-load reply", "complete"): "all parts in and checked: the new roster is in force",
    ("roster-load reply", "entries"): "people in the new roster, once complete",
    ("permit-revoke request", "permit_id"): "the permit to withdraw",
    ("permit-list request", "start"): "index of the first permit wanted; absent: 0",
    ("permit-list reply", "total"): "permits in the gateway's book",
    ("permit-list reply", "permits"): "from index `start` on",
    ("evacuate request", "reason"): "firmware gateway/reasons.py EVAC_REASON_*: "
    + _evac_reasons()
    + "; unknown codes are accepted (refusing an evacuation would fail unsafe)",
    ("evacuate request", "drill"): "true: an evacuation drill (R-EVAC-3), timed per zone",
    (
        "evacuate request",
        "by",
    ): "a team leader's person id when one orders it (R-EVAC-1; the gateway checks the role in its roster, never a certificate: withdrawing people is always allowed); absent: the dispatcher",
    ("all-clear request", "by"): "person id of who gives the all-clear: in the roster with "
    "the authority to order people out (R-EVAC-1) and a certificate valid now, so not while "
    "the wall clock is unset (R-ID-4); absent: the dispatcher",
    ("recount request", "found"): "the headcount a physical count (muster) found in the "
    "zone (R-CAP-11)",
    ("recount request", "was"): "the count the gateway showed when the people were counted; "
    "refused if its count is another now (people crossed since)",
    ("recount request", "counted_by"): "person id of who counted: in the roster with a "
    "certificate valid now (R-ID-4)",
    ("recount request", "by"): "person id of who gives the order, checked as for the "
    "all-clear (R-EVAC-1, R-ID-4); absent: the dispatcher",
    ("recount reply", "before"): "the count before the recount",
    ("recount reply", "after"): "the count after it: `found`",
    ("cap-override request", "cap"): "temporary cap (R-CAP-9); 0 closes the zone",
    ("cap-override request", "expiry_s"): "unix s when the override ends",
    ("cap-override request", "reason"): "why, for the record",
    ("cap-override-clear request", "reason"): "why, for the record",
    ("cap-override request", "below_count"): (
        "true: set it even below the people inside (they are then over the cap, R-CAP-11); "
        "absent or false: such a cap is refused"
    ),
    ("seal request", "reason"): "why, for the record",
    ("unseal request", "reason"): "why, for the record",
    ("time-set request", "time_s"): (
        "unix s, UTC; values before 2020-01-01 are refused; the gateway also refuses "
        "(`bad-field`, `time_s`) 1577836800 itself and anything after 2651578623 "
        "(2054-01-09T13:37:03Z): its clock counts seconds since 2020-01-01 as a 30-bit "
        'small int (docs/firmware-design.md, "Time")'
    ),
    ("time-set request", "backwards"): (
        "true: the clock may move back more than 2 s; absent or false: such a step is refused"
    ),
    ("error", "code"): "an error code (section 7)",
    ("error", "text"): "what was wrong, for people; never parsed",
    ("error", "field"): "the offending field: a name, dotted path or `[index]` "
    "(e.g. `workers[2]`); `type`, `id`, `body`, `counter`, `tag` for envelope keys; "
    "`envelope` when the payload is not a map",
    ("event", "seq"): "1, 2, 3, ... without gaps, per gateway",
    ("event", "time_s"): "unix s when logged; 0 if the clock was not set",
    ("event", "kind"): "what happened (appendix A)",
    ("event", "tag"): "locator tag or other subject (per kind); 0: none",
    ("event", "a"): "per kind (appendix A)",
    ("event", "b"): "per kind (appendix A)",
    ("event", "digest"): "hash chain up to and including this event (section 8.4)",
    ("permit", "permit_id"): "the ticket's number (R-HOT-1: one job, one ticket)",
    ("permit", "job_id"): "the job it covers",
    ("permit", "measure_ref"): "reference of the job's safety technical measure (R-HOT-1)",
    ("permit", "start_s"): "window start, unix s",
    ("permit", "end_s"): "window end, unix s",
    ("permit", "workers"): "person ids allowed to do the work",
    ("permit", "fire_watcher"): "person id of the fire watcher (R-HOT-2); 0: none",
    ("permit", "flags"): "bits: %d hot work, %d key maintenance, %d key measurement "
    "(R-VIDEO-2); unknown bits are refused"
    % (m.PERMIT_HOT_WORK, m.PERMIT_KEY_MAINTENANCE, m.PERMIT_KEY_MEASUREMENT),
    ("occupant", "tag_id"): "locator tag",
    ("occupant", "person_id"): "0: the tag was not in the roster when it entered",
    ("occupant", "since_s"): "entry time, unix s; 0 if the clock was not set",
    ("roster entry", "tag_id"): "locator tag (R-ID-1: one tag per person)",
    ("roster entry", "person_id"): "the person",
    ("roster entry", "role_code"): "post, firmware gateway/roles.py (1 miner, 2 team leader, ...)",
    ("roster entry", "cert_expiry_s"): "certificate expiry, unix s; 0: none on record (R-ID-4)",
    ("roster entry", "crew_code"): "0 none, 1 production, 2 maintenance (R-CAP-7)",
}

PURPOSE = {
    "hello": "first request on a link: version agreement, gateway identity",
    "status": "counts, cap, lamp, relays, interlocks, gas, log state",
    "occupants": "who is inside, a page at a time",
    "events-since": "events from a seq on (catch-up after a reconnect)",
    "ack": "host has stored events up to a seq; the gateway may drop them",
    "config-get": "read settings",
    "config-set": "change settings (all or none)",
    "roster-load": "replace the roster, in parts",
    "permit-issue": "add a work permit (hot work, key work under video)",
    "permit-revoke": "withdraw a permit",
    "permit-list": "permits in the book, a page at a time",
    "evacuate": "order withdrawal of everyone, or start a drill (R-EVAC-1..3)",
    "all-clear": "end the evacuation or drill in force",
    "cap-override": "temporary cap until a time (R-CAP-9)",
    "cap-override-clear": "end the temporary cap in force now (R-CAP-9)",
    "recount": "set the count a muster found: clears a said excess (R-CAP-11)",
    "seal": "seal the zone: cap 0, any entry alarms (R-SEAL-1)",
    "unseal": "lift the seal",
    "time-set": "set the gateway's wall clock",
    "ok": "success reply; body as the request's reply schema",
    "error": "failure reply; nothing was changed",
    "event": "notification: one new event, already durable on flash",
}

CONSTANTS = (
    ("frame.MAX_PAYLOAD", frame.MAX_PAYLOAD, "largest payload a frame may carry, bytes"),
    ("frame.CRC_BYTES", frame.CRC_BYTES, "CRC-32 trailer inside the COBS data"),
    (
        "largest frame on the wire",
        frame.max_wire_len(frame.MAX_PAYLOAD) + 2,
        "bytes, both delimiters included: %.2f s at 115 200 baud 8N1"
        % ((frame.max_wire_len(frame.MAX_PAYLOAD) + 2) * 10 / 115200),
    ),
    (
        "frame.LINK_IN_FLIGHT_MAX",
        frame.LINK_IN_FLIGHT_MAX,
        "bytes a host may have sent and unanswered: one largest frame (section 2.1)",
    ),
    (
        "frame.LINK_SETTLE_MS",
        frame.LINK_SETTLE_MS,
        "ms a host keeps reading after a timeout before it sends again (section 2.1)",
    ),
    ("cbor.MAX_DEPTH", cbor.MAX_DEPTH, "nested arrays and maps; the envelope is depth 1"),
    ("messages.PROTOCOL_VERSION", m.PROTOCOL_VERSION, "the version this spec describes"),
    ("messages.REQ_ID_MAX", m.REQ_ID_MAX, "largest request id (2^32-1); 0 is reserved"),
    ("messages.ID_MAX", m.ID_MAX, "largest tag, person, permit, job or load id (2^30-1)"),
    ("messages.TIME_SET_MIN", m.TIME_SET_MIN, "earliest time `time-set` accepts (2020-01-01)"),
    ("messages.EVENTS_MAX", m.EVENTS_MAX, "events per `events-since` reply"),
    ("messages.OCCUPANTS_MAX", m.OCCUPANTS_MAX, "occupants per `occupants` reply"),
    ("messages.PERMITS_MAX", m.PERMITS_MAX, "permits per `permit-list` reply"),
    ("messages.PERMIT_WORKERS_MAX", m.PERMIT_WORKERS_MAX, "workers named on one permit"),
    ("messages.ROSTER_CHUNK_MAX", m.ROSTER_CHUNK_MAX, "roster entries per `roster-load` part"),
    ("messages.ROSTER_PARTS_MAX", m.ROSTER_PARTS_MAX, "parts per roster load"),
    ("messages.ERROR_TEXT_MAX", m.ERROR_TEXT_MAX, "bytes of error text (longer text is clipped)"),
    ("messages.ERROR_FIELD_MAX", m.ERROR_FIELD_MAX, "bytes of an error's field path"),
    ("auth.KEY_LEN", auth.KEY_LEN, "gateway key, bytes"),
    ("auth.TAG_LEN", auth.TAG_LEN, "truncated HMAC-SHA256 tag, bytes"),
    ("auth.COUNTER_MAX", auth.COUNTER_MAX, "largest auth counter (2^64-1)"),
    ("eventlog.DIGEST_SIZE", eventlog.DIGEST_SIZE, "event chain digest, bytes"),
)

# ---- type notation ----


def num(n):
    # Powers of two minus one (and minus powers of two) read better as such in a table.
    if n >= 1 << 20 and (n + 1) & n == 0:
        return "2^%d-1" % ((n + 1).bit_length() - 1)
    if n <= -(1 << 20) and (-n) & (-n - 1) == 0:
        return "-2^%d" % ((-n).bit_length() - 1)
    return str(n)


def _span(lo, hi):
    return num(lo) if lo == hi else "%s..%s" % (num(lo), num(hi))


SETTING_VALUE = "setting value"


class Structures:
    # Named nested shapes (event, permit, occupant, roster entry, setting value), each
    # rendered once in their own section; a table cell names them in italics.
    def __init__(self):
        self.specs = {}

    def add(self, label, spec):
        known = self.specs.get(label)
        if known is not None and known is not spec and known[1] is not spec[1]:
            raise ValueError("two different structures are both labelled %r" % label)
        self.specs.setdefault(label, spec)

    def walk(self, spec):
        kind = spec[0]
        if kind == m.T_MAP:
            if spec[3] != "body":
                self.add(spec[3], spec)
            for f in spec[1]:
                self.walk(f[3])
        elif kind == m.T_TUPLE:
            self.add(spec[2], spec)
            for _, part in spec[1]:
                self.walk(part)
        elif kind == m.T_LIST:
            self.walk(spec[3])
        elif kind == m.T_DICT:
            self.add(SETTING_VALUE, spec[4])
            self.walk(spec[4])
        elif kind == m.T_EITHER:
            for s in spec[1]:
                self.walk(s)

    def label_of_fields(self, fields):
        for label, spec in self.specs.items():
            if spec[0] == m.T_MAP and spec[1] is fields:
                return label
        return None


def type_text(spec, top=True):
    kind = spec[0]
    if kind == m.T_INT:
        return "%s %s" % ("uint" if spec[1] >= 0 else "int", _span(spec[1], spec[2]))
    if kind == m.T_BOOL:
        return "bool"
    if kind == m.T_STR:
        return "text, %s bytes" % _span(spec[1], spec[2])
    if kind == m.T_BYTES:
        return "bytes, %s" % _span(spec[1], spec[2])
    if kind == m.T_ENUM:
        return "text: " + " or ".join('`"%s"`' % w for w in spec[1])
    if kind == m.T_LIST:
        return "array (%s items) of %s" % (_span(spec[1], spec[2]), type_text(spec[3], False))
    if kind == m.T_TUPLE:
        return "*%s*" % spec[2]
    if kind == m.T_MAP:
        return "*%s*" % spec[3]
    if kind == m.T_DICT:
        return "map (%s entries): key %s; value *%s*" % (
            _span(spec[1], spec[2]),
            type_text(spec[3], False),
            SETTING_VALUE,
        )
    if not top:
        return "(%s)" % " or ".join(type_text(s, False) for s in spec[1])
    return " or ".join(type_text(s, False) for s in spec[1])


def _cell(text):
    return text.replace("|", "\\|")


def field_table(table, fields, used):
    rows = ["| key | field | type | required | meaning |", "|---:|---|---|:-:|---|"]
    for key, name, required, spec in fields:
        note = FIELD_NOTES.get((table, name))
        if note is None:
            raise KeyError("FIELD_NOTES has no note for (%r, %r)" % (table, name))
        used.add((table, name))
        rows.append(
            "| %d | `%s` | %s | %s | %s |"
            % (key, name, _cell(type_text(spec)), "yes" if required else "no", _cell(note))
        )
    return "\n".join(rows)


def tuple_table(table, parts, used):
    rows = ["| index | field | type | meaning |", "|---:|---|---|---|"]
    for i, (name, spec) in enumerate(parts):
        note = FIELD_NOTES.get((table, name))
        if note is None:
            raise KeyError("FIELD_NOTES has no note for (%r, %r)" % (table, name))
        used.add((table, name))
        rows.append("| %d | `%s` | %s | %s |" % (i, name, _cell(type_text(spec)), _cell(note)))
    return "\n".join(rows)


def orders_text(orders):
    return "".join(
        "\nConstraint: `%s` %s `%s`.\n" % (lo, "<" if strict else "<=", hi)
        for lo, hi, strict in orders
    )


def _body_text(table, spec, structures, used):
    if not spec[1]:
        return " empty: `{}` (`a0`)\n"
    label = structures.label_of_fields(spec[1])
    if label is not None:
        return " one *%s* (section 5.4)\n" % label
    return "\n\n" + field_table(table, spec[1], used) + "\n" + orders_text(spec[2])


# ---- the generated regions ----


def _all_structures():
    # Only shapes nested inside bodies: a body itself is rendered with its message.
    structures = Structures()
    for code, _name, _mut, _fields in m.CATALOGUE:
        bodies = [m.body_spec(code)]
        if m.message_class(code) == "request":
            bodies.append(m.reply_spec(code))
        for body in bodies:
            for f in body[1]:
                structures.walk(f[3])
    return structures


def render_summary():
    rows = [
        "| code | name | class | signed | purpose |",
        "|---:|---|---|:-:|---|",
    ]
    for code, name, mutating, _fields in m.CATALOGUE:
        rows.append(
            "| %d | `%s` | %s | %s | %s |"
            % (code, name, m.message_class(code), "yes" if mutating else "no", PURPOSE[name])
        )
    return "\n".join(rows)


def render_catalogue(used):
    structures = _all_structures()
    out = []
    for code, name, mutating, _fields in m.CATALOGUE:
        cls = m.message_class(code)
        out.append("#### %d `%s`\n" % (code, name))
        if cls == "request":
            out.append(
                "Request, %s.\n"
                % ("mutating: must be signed (section 6)" if mutating else "read-only: not signed")
            )
            out.append(
                "Request body:" + _body_text(name + " request", m.body_spec(code), structures, used)
            )
            out.append(
                "Reply `ok` (%d) body:" % m.OK
                + _body_text(name + " reply", m.reply_spec(code), structures, used)
            )
        elif name == "ok":
            out.append(
                "Reply to a request that succeeded; same id as the request. Its body is the "
                "reply body of the request it answers.\n"
            )
        elif name == "error":
            out.append(
                "Reply to a request that failed; same id as the request, or 0 when the "
                "request's id could not be read. Body:\n"
            )
            out.append(field_table("error", m.body_spec(code)[1], used) + "\n")
        else:
            out.append(
                "Notification from the gateway, id always 0, never answered. Body:"
                + _body_text(name, m.body_spec(code), structures, used)
            )
    return "\n".join(out)


def render_structures(used):
    structures = _all_structures()
    out = []
    for label, spec in structures.specs.items():
        out.append("#### *%s*\n" % label)
        if spec[0] == m.T_MAP:
            out.append("A map:\n")
            out.append(field_table(label, spec[1], used) + "\n" + orders_text(spec[2]))
        elif spec[0] == m.T_TUPLE:
            out.append(
                "An array, by position (a longer array is accepted; the extra elements "
                "are ignored):\n"
            )
            out.append(tuple_table(label, spec[1], used) + "\n")
        else:
            out.append(
                "One of: %s. Names and allowed values of the settings: firmware "
                "gateway/config.py.\n" % _cell(type_text(spec))
            )
    return "\n".join(out)


def error_codes():
    # (code, constant, wire name, meaning): the meaning is the comment beside the
    # constant in errors.py, so the table says what the code says.
    source = (Path(gw_errors.__file__)).read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^(E_[A-Z_]+) = (\d+)  # (.+)$", source, re.M):
        name, value, meaning = match.group(1), int(match.group(2)), match.group(3)
        if getattr(gw_errors, name) != value:
            raise ValueError("errors.py: %s parsed as %d" % (name, value))
        found.append((value, name, gw_errors.CODE_NAMES[value], meaning))
    declared = sorted(v for k, v in vars(gw_errors).items() if k.startswith("E_"))
    if sorted(f[0] for f in found) != declared:
        raise ValueError("errors.py: an E_* constant lacks its one-line comment")
    return sorted(found)


def render_errors():
    rows = ["| code | constant | name | meaning |", "|---:|---|---|---|"]
    for code, const_name, wire_name, meaning in error_codes():
        rows.append("| %d | `%s` | `%s` | %s |" % (code, const_name, wire_name, _cell(meaning)))
    return "\n".join(rows)


def render_constants():
    rows = ["| name | value | meaning |", "|---|---:|---|"]
    for name, value, meaning in CONSTANTS:
        rows.append("| `%s` | %d | %s |" % (name, value, meaning))
    return "\n".join(rows)


def _commented_consts(module, lo=None, hi=None, prefix=None):
    source = Path(module.__file__).read_text(encoding="utf-8")
    found = []
    for match in re.finditer(
        r"^([A-Z][A-Z0-9_]*) = const\((0x[0-9A-Fa-f]+|-?\d+)\)(?:  # (.*))?$", source, re.M
    ):
        name, value, comment = match.group(1), int(match.group(2), 0), match.group(3) or ""
        if getattr(module, name) != value:
            raise ValueError("%s: %s parsed as %d" % (module.__name__, name, value))
        if prefix is not None and not name.startswith(prefix):
            continue
        if lo is not None and not lo <= value <= hi:
            continue
        found.append((value, name, comment))
    return found


def render_event_kinds():
    rows = ["| kind | name | tag, a, b |", "|---:|---|---|"]
    for value, name, comment in sorted(_commented_consts(events, 1, 0xFFFF)):
        rows.append("| %d | `%s` | %s |" % (value, name, _cell(comment)))
    return "\n".join(rows)


def render_reason_codes():
    rows = ["| name | value | meaning |", "|---|---:|---|"]
    for prefix in ("WHY_", "CAUSE_", "EVAC_REASON_"):
        for value, name, comment in _commented_consts(reasons, prefix=prefix):
            if name.endswith("_MAX"):
                continue
            shown = ("0x%03x" % value) if prefix == "WHY_" else str(value)
            rows.append("| `%s` | %s | %s |" % (name, shown, _cell(comment)))
    return "\n".join(rows)


# ---- the examples ----


def hex_lines(data, per_line=16):
    data = bytes(data)
    return "\n".join(
        " ".join("%02x" % b for b in data[i : i + per_line]) for i in range(0, len(data), per_line)
    )


def diag(value, indent=0):
    # RFC 8949 section 8 diagnostic notation, one line when it fits.
    one = _diag_inline(value)
    if len(one) + indent <= 88 or not isinstance(value, (dict, list)) or not value:
        return one
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = ["%s%s: %s" % (pad, _diag_inline(k), diag(v, indent + 2)) for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + diag(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _diag_inline(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bytes, bytearray)):
        return "h'%s'" % bytes(value).hex()
    if isinstance(value, list):
        return "[" + ", ".join(_diag_inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join("%s: %s" % (_diag_inline(k), _diag_inline(v)) for k, v in value.items())
            + "}"
        )
    raise TypeError("no diagnostic notation for %s" % type(value).__name__)


def _head(buf, i):
    # A CBOR head read here, apart from gatewire.cbor: (major, argument, next index).
    ib = buf[i]
    major, ai = ib >> 5, ib & 0x1F
    if ai < 24:
        return major, ai, i + 1
    n = {24: 1, 25: 2, 26: 4, 27: 8}[ai]
    return major, int.from_bytes(buf[i + 1 : i + 1 + n], "big"), i + 1 + n


ANNOTATE_BYTES = 8  # per line of an annotated dump, so the comments stay in view


def annotate(payload, body_spec):
    # One line per CBOR item: its bytes, then what it is and which field it fills.
    lines = []
    end = _annotate_item(payload, 0, 0, ("envelope", body_spec), "", lines)
    if end != len(payload):
        raise ValueError("annotate: %d bytes left over" % (len(payload) - end))
    width = max(len(h) for h, _ in lines) + 3
    return "\n".join((h + " " * (width - len(h)) + c).rstrip() for h, c in lines)


def _child(ctx, key):
    # (name, context) of the value under `key` inside an item whose context is ctx.
    if ctx is None:
        return None, None
    if ctx[0] == "envelope":
        return ENVELOPE_KEY_NAMES.get(key), (ctx[1] if key == 2 else ("env", key))
    spec = ctx
    if spec[0] == m.T_MAP:
        for f in spec[1]:
            if f[0] == key:
                return f[1], f[3]
        return None, None
    if spec[0] == m.T_LIST:
        return None, spec[3]
    if spec[0] == m.T_TUPLE:
        name, part = spec[1][key]
        return name, part
    if spec[0] == m.T_DICT:
        return None, spec[4]
    return None, None


def _annotate_item(buf, i, depth, ctx, label, lines):
    major, arg, j = _head(buf, i)
    pad = "   " * depth
    if major in (2, 3):
        raw = bytes(buf[j : j + arg])
        room = ANNOTATE_BYTES - (j - i)
        chunks = [bytes(buf[i:j]) + raw[:room]]
        rest = raw[room:]
        chunks += [rest[k : k + ANNOTATE_BYTES] for k in range(0, len(rest), ANNOTATE_BYTES)]
        if major == 2:
            what = "bytes, %d" % arg
        else:
            what = "text, %d bytes: %s" % (arg, json.dumps(raw.decode("utf-8"), ensure_ascii=False))
        lines.append((pad + hex_lines(chunks[0]), label + what))
        for c in chunks[1:]:
            if c:
                lines.append((pad + hex_lines(c), ""))
        return j + arg
    lines.append((pad + hex_lines(buf[i:j]), ""))
    at = len(lines) - 1
    if major == 0:
        what = str(arg)
        if ctx == ("env", 0):
            what += " = %s" % m.name_of(arg)
    elif major == 1:
        what = str(-1 - arg)
    elif major == 7:
        what = {20: "false", 21: "true", 22: "null"}[arg]
    elif major == 4:
        what = "array, %d items" % arg
        for k in range(arg):
            name, sub = (
                _child(ctx, k) if ctx is not None and ctx[0] == m.T_TUPLE else _child(ctx, None)
            )
            sub_label = ("[%d] %s: " % (k, name)) if name else ("[%d] " % k)
            j = _annotate_item(buf, j, depth + 1, sub, sub_label, lines)
    elif major == 5:
        what = "map, %d pairs" % arg
        for _ in range(arg):
            kmajor, karg, kend = _head(buf, j)
            if kmajor == 0:
                name, sub = _child(ctx, karg)
                lines.append(
                    (
                        "   " * (depth + 1) + hex_lines(buf[j:kend]),
                        "key %d: %s" % (karg, name or "(unknown)"),
                    )
                )
                j = kend
            else:
                # a text key (settings): its own line, then the value
                name, sub = _child(ctx, None)
                j = _annotate_item(buf, j, depth + 1, None, "key ", lines)
            j = _annotate_item(buf, j, depth + 2, sub, "", lines)
    else:
        raise ValueError("annotate: major type %d is not in the protocol" % major)
    lines[at] = (lines[at][0], label + what)
    return j


def _block(example, part, data=None, text=None, lang="hex"):
    if data is not None:
        head = "`%s` · %s (%d bytes):" % (example, part, len(data))
        body = hex_lines(data)
    else:
        head = "`%s` · %s:" % (example, part)
        body = text
    return "%s\n\n```%s\n%s\n```\n" % (head, lang, body)


def _message_blocks(example, envelope, body_spec):
    payload = cbor.dumps(envelope)
    return [
        _block(example, "decoded", text=diag(cbor.loads(payload)), lang="cbor-diag"),
        _block(example, "payload", payload),
        _block(example, "annotated", text=annotate(payload, body_spec), lang="text"),
        _block(example, "wire", frame.encode(payload)),
    ]


def render_example_framing():
    out = []
    for i, payload in enumerate(FRAME_VECTORS, 1):
        crc = binascii.crc32(payload) & 0xFFFFFFFF
        name = "frame-vector-%d" % i
        out.append(_block(name, "payload", payload))
        out.append("CRC-32 0x%08x, sent as `%s`.\n" % (crc, hex_lines(crc.to_bytes(4, "little"))))
        out.append(_block(name, "wire", frame.encode(payload)))
    return "\n".join(out)


def example_envelopes():
    # The examples' messages, built through the same calls the gateway and host use.
    hello = m.request("hello", 1, min_version=1, max_version=1, host_id="dispatch-1")
    hello_reply = m.reply(
        "hello",
        1,
        version=m.agree_version(1, 1),
        gateway_id=EXAMPLE_GATEWAY,
        role="face",
        zone_id="F-1201",
        zone_kind="coal_face",
        firmware="0.1.0",
        boot_count=3,
        last_seq=0,
        now_s=EXAMPLE_NOW_S,
        board="pico",
    )
    unsigned = m.request("evacuate", 2, reason=reasons.EVAC_REASON_FLOOD_WARNING, drill=False)
    signed = auth.sign(dict(unsigned), EXAMPLE_KEY, EXAMPLE_COUNTER)
    evacuate_ok = m.reply("evacuate", 2)
    # The same frame again: the gateway already accepted this counter.
    verifier = auth.Verifier(EXAMPLE_KEY, last_counter=EXAMPLE_COUNTER)
    try:
        verifier.verify(cbor.loads(cbor.dumps(signed)))
    except gw_errors.AuthError as e:
        replay_error = m.error_reply(2, e.code, e.text, e.field)
    else:
        raise AssertionError("a replayed evacuate verified")
    digest = eventlog.chain_digest(
        eventlog.genesis_digest(EXAMPLE_GATEWAY),
        1,
        EXAMPLE_NOW_S + 61,
        events.ENTRY,
        30001,
        1001,
        1,
    )
    event = m.event(1, EXAMPLE_NOW_S + 61, events.ENTRY, 30001, 1001, 1, digest)
    # A signed request sent without a body (key 2): the tag covers the empty body.
    bodyless = {m.KEY_TYPE: m.SEAL, m.KEY_ID: 3}
    auth.sign(bodyless, EXAMPLE_KEY, EXAMPLE_COUNTER + 1)
    # A request whose id is valid but whose body is not a map: the error carries its id.
    bad = {m.KEY_TYPE: m.STATUS, m.KEY_ID: 4, m.KEY_BODY: 0}
    try:
        m.parse_envelope(bad)
    except gw_errors.ProtocolError as e:
        bad_error = m.error_reply(m.envelope_id(bad), e.code, e.text, e.field)
    else:
        raise AssertionError("a body that is not a map passed")
    return {
        "seal-bodyless": bodyless,
        "bad-envelope": bad,
        "bad-envelope-error": bad_error,
        "hello": hello,
        "hello-reply": hello_reply,
        "evacuate-unsigned": unsigned,
        "evacuate": signed,
        "evacuate-ok": evacuate_ok,
        "replay-error": replay_error,
        "event": event,
    }


def render_example_hello():
    env = example_envelopes()
    out = _message_blocks("hello", env["hello"], m.body_spec("hello"))
    out.append("The gateway's reply:\n")
    out += _message_blocks("hello-reply", env["hello-reply"], m.reply_spec("hello"))
    return "\n".join(out)


def render_example_evacuate():
    env = example_envelopes()
    mac_input = auth.mac_input(env["evacuate"])
    full = auth.hmac_sha256(EXAMPLE_KEY, mac_input)
    out = [
        _block("evacuate", "key", EXAMPLE_KEY),
        _block("evacuate", "mac input", mac_input),
        "It is the canonical CBOR of\n",
        "```cbor-diag\n%s\n```\n" % diag(cbor.loads(mac_input)),
        _block("evacuate", "hmac-sha256", full),
        _block("evacuate", "tag", full[: auth.TAG_LEN]),
        "The signed request:\n",
    ]
    out += _message_blocks("evacuate", env["evacuate"], m.body_spec("evacuate"))
    out.append("The gateway's reply, once the order is in force:\n")
    out += _message_blocks("evacuate-ok", env["evacuate-ok"], m.reply_spec("evacuate"))
    return "\n".join(out)


def render_example_error():
    env = example_envelopes()
    return "\n".join(_message_blocks("replay-error", env["replay-error"], m.body_spec("error")))


def render_example_bodyless():
    env = example_envelopes()
    mac_input = auth.mac_input(env["seal-bodyless"])
    out = [
        _block("seal-bodyless", "mac input", mac_input),
        "It is the canonical CBOR of\n",
        "```cbor-diag\n%s\n```\n" % diag(cbor.loads(mac_input)),
        _block("seal-bodyless", "tag", auth.hmac_sha256(EXAMPLE_KEY, mac_input)[: auth.TAG_LEN]),
        "The request as sent, without key 2:\n",
    ]
    out += _message_blocks("seal-bodyless", env["seal-bodyless"], m.body_spec("seal"))
    return "\n".join(out)


def render_example_bad_envelope():
    env = example_envelopes()
    payload = cbor.dumps(env["bad-envelope"])
    out = [
        _block("bad-envelope", "decoded", text=diag(env["bad-envelope"]), lang="cbor-diag"),
        _block("bad-envelope", "wire", frame.encode(payload)),
        "The gateway's answer, under the request's id:\n",
    ]
    out += _message_blocks("bad-envelope-error", env["bad-envelope-error"], m.body_spec("error"))
    return "\n".join(out)


def render_example_event():
    env = example_envelopes()
    body = env["event"][m.KEY_BODY]
    genesis = eventlog.genesis_digest(EXAMPLE_GATEWAY)
    record = struct.pack("<IIHHIii", body[0], body[1], body[2], 0, body[3], body[4], body[5])
    out = [
        _block("event", "genesis", genesis),
        _block("event", "chain input", genesis + record),
        _block("event", "digest", body[6]),
    ]
    out += _message_blocks("event", env["event"], m.body_spec("event"))
    return "\n".join(out)


RENDERERS = {
    "constants": lambda used: render_constants(),
    "frame-vectors": lambda used: render_example_framing(),
    "catalogue-summary": lambda used: render_summary(),
    "catalogue": render_catalogue,
    "structures": render_structures,
    "errors": lambda used: render_errors(),
    "example-hello": lambda used: render_example_hello(),
    "example-evacuate": lambda used: render_example_evacuate(),
    "example-error": lambda used: render_example_error(),
    "example-bodyless": lambda used: render_example_bodyless(),
    "example-bad-envelope": lambda used: render_example_bad_envelope(),
    "example-event": lambda used: render_example_event(),
    "event-kinds": lambda used: render_event_kinds(),
    "reason-codes": lambda used: render_reason_codes(),
}


def render_all():
    # -> ({region name: text}, set of FIELD_NOTES keys the tables used)
    used = set()
    regions = {}
    for name, renderer in RENDERERS.items():
        regions[name] = renderer(used).strip("\n")
    return regions, used


# ---- the document ----

_REGION = re.compile(
    r"^<!-- BEGIN generated (?P<name>[a-z0-9-]+) -->\n(?P<body>.*?)\n?<!-- END generated (?P=name) -->$",
    re.M | re.S,
)


def doc_regions(text):
    regions = {}
    for match in _REGION.finditer(text):
        if match.group("name") in regions:
            raise ValueError("generated region %r appears twice" % match.group("name"))
        regions[match.group("name")] = match.group("body").strip("\n")
    return regions


def rewrite(text, regions):
    def fill(match):
        name = match.group("name")
        if name not in regions:
            return match.group(0)
        return "<!-- BEGIN generated %s -->\n%s\n<!-- END generated %s -->" % (
            name,
            regions[name],
            name,
        )

    return _REGION.sub(fill, text)


def main(argv):
    text = DOC_PATH.read_text(encoding="utf-8")
    regions, _ = render_all()
    missing = sorted(set(regions) - set(doc_regions(text)))
    if missing:
        print("docs/protocol.md lacks the markers of: %s" % ", ".join(missing))
        return 1
    new_text = rewrite(text, regions)
    if "--write" in argv:
        if new_text != text:
            DOC_PATH.write_text(new_text, encoding="utf-8")
            print("docs/protocol.md: generated parts rewritten")
        else:
            print("docs/protocol.md: generated parts already current")
        return 0
    if new_text == text:
        print("docs/protocol.md: generated parts are current")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            text.splitlines(True), new_text.splitlines(True), "docs/protocol.md", "generated"
        )
    )
    print("\nUpdate with: %s" % UPDATE_COMMAND)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
