# docs/protocol.md against the code. The generated parts (catalogue, errors, limits, event
# kinds, examples) must equal what tests/protocol_doc_tables.py renders now; and every
# worked example is re-checked from the document's own bytes with implementations that
# share nothing with gatewire: zlib's CRC-32, a COBS decoder written here, cbor2, Python's
# hmac, hashlib and struct. CPython only (cbor2, file access).
import ast
import hashlib
import hmac
import re
import struct
import zlib

import cbor2
import protocol_doc_tables as tables
import pytest

from gateway import eventlog
from gatewire import auth, cbor, frame
from gatewire import errors as gw_errors
from gatewire import messages as m

DOC = tables.DOC_PATH.read_text(encoding="utf-8")
HINT = "docs/protocol.md is out of date with the code; update it with:\n    %s" % (
    tables.UPDATE_COMMAND
)

# The two vectors of tests/test_frame.py, written out again here on purpose.
FRAME_VECTOR_WIRE = {
    "frame-vector-1": "0002110622b151c53700",
    "frame-vector-2": "000e3132333435363738392639f4cb00",
}

# (example, envelope class, the request a reply answers)
MESSAGE_EXAMPLES = (
    ("hello", "request", None),
    ("hello-reply", "reply", "hello"),
    ("evacuate", "request", None),
    ("evacuate-ok", "reply", "evacuate"),
    ("replay-error", "reply", "evacuate"),
    ("event", "event", None),
    ("seal-bodyless", "request", None),
    ("bad-envelope-error", "reply", "status"),
)

_BLOCK = re.compile(
    r"^`(?P<example>[a-z0-9-]+)` · (?P<part>[a-z0-9 -]+?)(?: \((?P<n>\d+) bytes\))?:\n\n"
    r"```(?P<lang>[a-z-]+)\n(?P<body>.*?)\n```$",
    re.M | re.S,
)


def _blocks():
    found = {}
    for match in _BLOCK.finditer(DOC):
        key = (match.group("example"), match.group("part"))
        assert key not in found, "example block %s appears twice" % (key,)
        body = match.group("body")
        if match.group("lang") == "hex":
            assert re.fullmatch(
                r"[0-9a-f]{2}( [0-9a-f]{2})*(\n[0-9a-f]{2}( [0-9a-f]{2})*)*", body
            ), "block %s is not lowercase hex pairs separated by spaces" % (key,)
            data = bytes.fromhex(body)
            assert match.group("n") is not None and int(match.group("n")) == len(data), (
                "block %s says %s bytes, holds %d" % (key, match.group("n"), len(data))
            )
            found[key] = data
        else:
            found[key] = body
    return found


BLOCKS = _blocks()


def _diag_to_python(text):
    # RFC 8949 diagnostic notation as the examples use it -> a Python literal.
    def swap(match):
        token = match.group(0)
        if token.startswith('"'):
            return token
        if token.startswith("h'"):
            return repr(bytes.fromhex(token[2:-1]))
        return {"true": "True", "false": "False", "null": "None"}[token]

    return ast.literal_eval(
        re.sub(r'"(?:[^"\\]|\\.)*"|h\'[0-9a-f]*\'|\btrue\b|\bfalse\b|\bnull\b', swap, text)
    )


def _cobs_decode(encoded):
    out = bytearray()
    i = 0
    while i < len(encoded):
        code = encoded[i]
        assert code != 0 and i + code <= len(encoded), "COBS block overruns the frame"
        out += encoded[i + 1 : i + code]
        i += code
        if code != 0xFF and i < len(encoded):
            out.append(0)
    return bytes(out)


def _unframe(wire):
    # The document's framing rules, applied by hand: one frame, zeros only at the ends.
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    data = _cobs_decode(wire[1:-1])
    payload, crc = data[:-4], data[-4:]
    assert crc == struct.pack("<I", zlib.crc32(payload)), "CRC-32 does not match"
    return payload


# ---- the generated parts ----


def test_generated_parts_equal_what_the_code_renders_now():
    rendered, _ = tables.render_all()
    in_doc = tables.doc_regions(DOC)
    assert sorted(in_doc) == sorted(rendered), "generated regions in the doc: %s; expected: %s" % (
        sorted(in_doc),
        sorted(rendered),
    )
    stale = [name for name in rendered if in_doc[name] != rendered[name]]
    assert not stale, "stale generated parts %s.\n%s" % (stale, HINT)


def test_the_write_command_restores_a_damaged_region():
    rendered, _ = tables.render_all()
    damaged = DOC.replace("| 4 | `E_AUTH_BAD` |", "| 4 | `E_AUTH_WORSE` |")
    assert damaged != DOC
    assert tables.rewrite(damaged, rendered) == DOC


def test_every_field_has_a_meaning_and_every_meaning_a_field():
    _, used = tables.render_all()
    assert used == set(tables.FIELD_NOTES), "notes for no field: %s" % sorted(
        set(tables.FIELD_NOTES) - used
    )
    assert set(tables.PURPOSE) == {name for _, name, _, _ in m.CATALOGUE}


def test_every_catalogue_message_has_its_section():
    for code, name, _mutating, _fields in m.CATALOGUE:
        assert "\n#### %d `%s`\n" % (code, name) in DOC, name
        assert "| %d | `%s` | %s |" % (code, name, m.message_class(code)) in DOC, name


def test_every_error_code_is_in_the_table_and_in_the_prose():
    prose = DOC
    for name in tables.doc_regions(DOC):
        prose = re.sub(
            r"<!-- BEGIN generated %s -->.*?<!-- END generated %s -->" % (name, name),
            "",
            prose,
            flags=re.S,
        )
    names = [k for k in vars(gw_errors) if k.startswith("E_")]
    assert len(names) == len(gw_errors.CODE_NAMES)
    for name in names:
        code = getattr(gw_errors, name)
        assert "| %d | `%s` | `%s` |" % (code, name, gw_errors.CODE_NAMES[code]) in DOC, name
        # the prose says when each code is sent, not only the table
        assert "`%s`" % name in prose, "%s is not explained outside the table" % name


def test_the_doc_covers_what_a_peer_needs():
    for phrase in (
        "115 200 baud, 8 data bits, no parity, 1 stop bit",
        "micropython.kbd_intr(-1)",
        "RFC 8949 §4.2.1",
        "length-first",
        "`MAX_DEPTH`",
        "HMAC-SHA256(key, M)[0:16]",
        "auth.initial_counter",
        "events-since",
        "At most one request outstanding",
        'digest_0 = SHA-256("shaftgate event log genesis:"',
    ):
        assert phrase in DOC, phrase


def test_numbers_in_the_framing_prose():
    assert "0x2144DF1C" in DOC and "0xCBF43926" in DOC
    payload = b"any payload at all"
    assert zlib.crc32(payload + struct.pack("<I", zlib.crc32(payload))) == 0x2144DF1C
    assert zlib.crc32(b"123456789") == 0xCBF43926
    assert "`n + 4 + (n + 4) // 254 + 1`" in DOC
    for n in (1, 250, 251, 4096):
        assert frame.max_wire_len(n) == n + 4 + (n + 4) // 254 + 1
    assert "(17 bytes for a 4 KB payload)" in DOC
    assert frame.max_wire_len(4096) - (4096 + 4) == 17


def test_the_cbor2_difference_the_doc_describes():
    assert "`{-1: x, 24: y}` is `24` (`18 18`) first" in DOC
    mixed = {-1: 0, 24: 0}
    assert cbor.dumps(mixed) == bytes.fromhex("a2 1818 00 20 00")
    assert cbor2.dumps(mixed, canonical=True) == bytes.fromhex("a2 20 00 1818 00")


# ---- the worked examples, from the document's bytes ----


def test_frame_vectors_are_the_frame_tests_vectors():
    for name, wire_hex in FRAME_VECTOR_WIRE.items():
        wire = BLOCKS[(name, "wire")]
        assert wire.hex() == wire_hex
        assert _unframe(wire) == BLOCKS[(name, "payload")]
        assert frame.encode(BLOCKS[(name, "payload")]) == wire


@pytest.mark.parametrize("example,cls,answers", MESSAGE_EXAMPLES)
def test_message_example_decodes_to_its_stated_fields(example, cls, answers):
    wire = BLOCKS[(example, "wire")]
    payload = BLOCKS[(example, "payload")]
    stated = _diag_to_python(BLOCKS[(example, "decoded")])

    assert _unframe(wire) == payload
    decoder = frame.Decoder()
    assert decoder.feed(wire) == [payload]
    assert decoder.bytes_discarded == 0

    assert cbor2.loads(payload) == stated
    # deterministic: cbor2's canonical mode agrees on every protocol message (doc 4.2)
    assert cbor2.dumps(stated, canonical=True) == payload
    assert cbor.loads(payload) == stated
    assert cbor.dumps(stated) == payload

    code, req_id, _body = m.parse(stated, expect=cls, answers=answers)
    assert code == stated[0] and req_id == stated[1]


@pytest.mark.parametrize("example,cls,answers", MESSAGE_EXAMPLES)
def test_annotated_dump_holds_exactly_the_payload(example, cls, answers):
    lines = BLOCKS[(example, "annotated")].split("\n")
    dumped = bytearray()
    for line in lines:
        match = re.match(r"^ *((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:   +\S.*)?$", line)
        assert match, "annotation line has no bytes: %r" % line
        dumped += bytes.fromhex(match.group(1))
    assert bytes(dumped) == BLOCKS[(example, "payload")]


def test_hello_example():
    hello = _diag_to_python(BLOCKS[("hello", "decoded")])
    reply = _diag_to_python(BLOCKS[("hello-reply", "decoded")])
    assert hello[0] == m.HELLO and reply[0] == m.OK and reply[1] == hello[1]
    assert reply[2][0] == m.agree_version(hello[2][0], hello[2][1])
    assert reply[2][1] == tables.EXAMPLE_GATEWAY


def test_evacuate_example_signature_by_stdlib_hmac():
    key = BLOCKS[("evacuate", "key")]
    assert key == bytes(range(32))
    signed = _diag_to_python(BLOCKS[("evacuate", "decoded")])
    assert signed[0] == m.EVACUATE and m.is_mutating(signed[0])
    assert signed[3] == tables.EXAMPLE_COUNTER

    unsigned = {k: v for k, v in signed.items() if k != 4}
    mac_input = BLOCKS[("evacuate", "mac input")]
    assert mac_input == cbor2.dumps(unsigned, canonical=True)
    full = hmac.new(key, mac_input, hashlib.sha256).digest()
    assert BLOCKS[("evacuate", "hmac-sha256")] == full
    assert BLOCKS[("evacuate", "tag")] == full[:16] == signed[4]

    # and the gateway's side accepts exactly this frame's content, once
    verifier = auth.Verifier(key, last_counter=signed[3] - 1)
    assert verifier.verify(cbor.loads(_unframe(BLOCKS[("evacuate", "wire")]))) == signed[3]


def test_error_example_is_the_answer_to_the_evacuate_frame_sent_again():
    evacuate = cbor.loads(_unframe(BLOCKS[("evacuate", "wire")]))
    error = _diag_to_python(BLOCKS[("replay-error", "decoded")])
    assert error[0] == m.ERROR and error[1] == evacuate[1]
    assert error[2][0] == gw_errors.E_AUTH_REPLAY and error[2][2] == "counter"

    verifier = auth.Verifier(BLOCKS[("evacuate", "key")], last_counter=0)
    verifier.verify(dict(evacuate))
    with pytest.raises(gw_errors.AuthError) as caught:
        verifier.verify(dict(evacuate))
    assert caught.value.code == error[2][0] and caught.value.field == error[2][2]


def test_event_example_digest_by_the_documented_chain():
    event = _diag_to_python(BLOCKS[("event", "decoded")])
    assert event[0] == m.EVENT and event[1] == 0
    seq, time_s, kind, tag, a, b, digest = (event[2][k] for k in range(7))

    genesis = hashlib.sha256(
        b"shaftgate event log genesis:" + tables.EXAMPLE_GATEWAY.encode()
    ).digest()[:16]
    assert BLOCKS[("event", "genesis")] == genesis
    record = struct.pack("<IIHHIii", seq, time_s, kind, 0, tag, a, b)
    assert len(record) == 24
    assert BLOCKS[("event", "chain input")] == genesis + record
    assert BLOCKS[("event", "digest")] == hashlib.sha256(genesis + record).digest()[:16] == digest
    # the host's check in the firmware's own terms
    assert eventlog.verify_chain([(seq, time_s, kind, tag, a, b, digest)], genesis) == digest


def test_bodyless_example_is_signed_over_the_empty_body_by_stdlib_hmac():
    sent = _diag_to_python(BLOCKS[("seal-bodyless", "decoded")])
    assert 2 not in sent and sent[0] == m.SEAL
    mac_input = BLOCKS[("seal-bodyless", "mac input")]
    with_body = {k: v for k, v in sent.items() if k != 4}
    with_body[2] = {}
    assert mac_input == cbor2.dumps(with_body, canonical=True)
    assert b"\x02\xa0" in mac_input
    key = BLOCKS[("evacuate", "key")]
    tag = hmac.new(key, mac_input, hashlib.sha256).digest()[:16]
    assert BLOCKS[("seal-bodyless", "tag")] == tag == sent[4]
    # The gateway takes it, and takes the same message with an empty body the same way.
    wire = cbor.loads(_unframe(BLOCKS[("seal-bodyless", "wire")]))
    assert auth.Verifier(key, last_counter=sent[3] - 1).verify(dict(wire)) == sent[3]
    assert auth.Verifier(key, last_counter=sent[3] - 1).verify({**wire, 2: {}}) == sent[3]
    # A tag over the envelope without key 2 is refused: one message, one MAC input.
    literal = {k: v for k, v in sent.items() if k != 4}
    forged = dict(literal)
    forged[4] = hmac.new(key, cbor2.dumps(literal, canonical=True), hashlib.sha256).digest()[:16]
    with pytest.raises(gw_errors.AuthError):
        auth.Verifier(key, last_counter=0).verify(forged)


def test_bad_envelope_example_is_answered_under_the_requests_id():
    request = cbor.loads(_unframe(BLOCKS[("bad-envelope", "wire")]))
    assert request == _diag_to_python(BLOCKS[("bad-envelope", "decoded")])
    error = _diag_to_python(BLOCKS[("bad-envelope-error", "decoded")])
    with pytest.raises(gw_errors.ProtocolError) as caught:
        m.parse_envelope(request)
    assert error[0] == m.ERROR and error[1] == request[1] == m.envelope_id(request) != 0
    assert error[2][0] == gw_errors.E_BAD_ENVELOPE == caught.value.code
    assert error[2][2] == "body" == caught.value.field


def test_every_example_block_is_checked():
    checked = {(name, part) for name in FRAME_VECTOR_WIRE for part in ("payload", "wire")}
    for example, _cls, _answers in MESSAGE_EXAMPLES:
        checked |= {(example, p) for p in ("wire", "payload", "decoded", "annotated")}
    checked |= {("evacuate", p) for p in ("key", "mac input", "hmac-sha256", "tag")}
    checked |= {("event", p) for p in ("genesis", "chain input", "digest")}
    checked |= {("seal-bodyless", p) for p in ("mac input", "tag")}
    checked |= {("bad-envelope", p) for p in ("decoded", "wire")}
    assert set(BLOCKS) == checked
