"""Garbage on the line (docs/protocol.md 3.3, principle 3): line noise, console control
bytes, an endless frame, a boot ROM's chatter, a damaged frame, frames that are valid but
say nothing sensible, half a frame, a forged command and a replayed one. After each the
gateway still answers, has counted nobody wrongly, has changed nothing it was not told to
by an authentic command, and has logged the rejected commands as evidence."""

import random

from gateway import events as ev
from gatewire import cbor, frame, messages
from gatewire.auth import Signer
from gatewire.errors import E_AUTH_BAD, E_AUTH_REPLAY

from .hil_bench import face_config, morning_crew


def test_garbage_on_the_line(board, report):
    board.require("garbage_to_board")
    rng = random.Random(7)
    crew = morning_crew(16)
    tags = [p.tag for p in crew]
    face = board.gate(face_config("gw-face1", "db_heading"), crew)
    face.walk_in(tags[:6], why="before the garbage")
    before = face.expect_status(why="baseline")
    uptime0_s = before["uptime_s"]

    # A legitimate seal and unseal; the seal's frame is kept to replay it later.
    face.client.seal()
    seal_payload = face.sent_payloads()[-1]
    face.client.unseal()
    report.drive(face.name, "seal, then unseal (authentic); the seal frame is kept")

    status_frame = frame.encode(cbor.dumps(messages.request("status", 4242)))
    wrong_key = Signer(bytes(32), 1 << 62)
    forged = messages.request("seal", 4243, reason="forged")
    wrong_key.sign(forged)
    garbage = [
        ("line noise", bytes(rng.randrange(256) for _ in range(300))),
        ("console control bytes (Ctrl-C, Ctrl-D, raw REPL)", b"\x03\x03\x04\x01\x02\r\n" * 10),
        ("a frame that never ends", b"\x00" + bytes(range(1, 256)) * 24 + b"\x00"),
        (
            "an ESP32 boot ROM's chatter",
            b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 "
            b"(SPI_FAST_FLASH_BOOT)\r\nconfigsip: 0, SPIWP:0xee\r\n",
        ),
        ("a status request with one byte flipped", _flip(status_frame, rng)),
        ("a valid frame that is not CBOR", frame.encode(b"\xff\xfe\xfd not cbor")),
        ("a request of an unknown type", frame.encode(cbor.dumps({0: 50, 1: 7, 2: {}}))),
        ("half of a seal frame", frame.encode(seal_payload)[:20]),
        ("a seal signed with the wrong key", frame.encode(cbor.dumps(forged))),
        ("the authentic seal frame, replayed", frame.encode(seal_payload)),
    ]
    for what, data in garbage:
        face.inject_garbage(data, what=what)
        s = face.status()
        out = face.io.outputs()
        report.expect(
            face.name,
            "still answers: count %d, sealed %s, lamp %d"
            % (s["occupants"], s["sealed"], out["lamp"]),
            s["occupants"] == len(face.inside) and not s["sealed"] and s["uptime_s"] >= uptime0_s,
        )

    if "garbage_to_host" in face.io.features:
        damaged = _damaged(face)
        face.inject_garbage(bytes(rng.randrange(1, 256) for _ in range(500)), "host", "noise")
        face.inject_garbage(_flip(status_frame, rng), "host", "a damaged frame")
        s = face.status()
        report.expect(
            face.name,
            "the host's decoder dropped the damaged input (%d frames) and still gets replies"
            % (_damaged(face) - damaged),
            _damaged(face) > damaged and s["occupants"] == len(face.inside),
        )

    # Crossings with garbage in between still count right.
    for tag in tags[6:12]:
        face.inject_garbage(bytes(rng.randrange(256) for _ in range(40)), what="noise")
        face.walk_in([tag])
    face.expect_status(why="crossings between bursts of noise")
    face.expect_occupants()

    face.catch_up()
    rejected = [(e["tag"], e["a"]) for e in face.events(ev.AUTH_REJECTED)]
    report.expect(
        face.name,
        "AUTH_REJECTED logged for the forged seal (bad tag) and the replayed one: %s" % rejected,
        rejected
        == [(messages.code_of("seal"), E_AUTH_BAD), (messages.code_of("seal"), E_AUTH_REPLAY)],
    )
    report.expect(
        face.name,
        "the zone was sealed once only, by the authentic command",
        len(face.events(ev.SEALED)) == 1 and len(face.events(ev.UNSEALED)) == 1,
    )
    report.expect(
        face.name,
        "no reboot, no internal error",
        len(face.events(ev.BOOT)) == 1 and not face.events(ev.INTERNAL_ERROR),
    )
    face.expect_event_log_whole()


def _flip(data, rng):
    damaged = bytearray(data)
    i = rng.randrange(2, len(damaged) - 2)
    damaged[i] = damaged[i] ^ 0x20 or 0x01
    return bytes(damaged)


def _damaged(face):
    d = face.client.transport.decoder
    return d.frames_bad_crc + d.frames_bad_cobs + d.frames_too_short + d.frames_oversize
