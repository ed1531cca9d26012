"""The link unplugged and replugged (R-DATA-1, principle 3): the gateway goes on counting
while no host hears it; once the link is back, the host catches up on every event it
missed, and nothing is stored twice even though pushed notifications and the catch-up
overlap. Twice: a cable that only stops carrying bytes, and a USB-CDC device that
disappears and comes back under a new pty (the host has to reopen its port)."""

import pytest

from gateway import events as ev
from shaftgate.link.transport import LinkError

from .hil_bench import face_config, morning_crew, outputs_text


def test_link_unplugged_and_replugged_events_catch_up_once(board, report):
    crew = morning_crew(40)
    tags = [p.tag for p in crew]
    face = board.gate(face_config("gw-face1", "coal_face"), crew)
    face.walk_in(tags[:10], why="before the link fails")
    face.expect_status(why="link up")
    face.catch_up()
    held_before = face.store.position()[0]

    for round_no, reenumerate in ((1, False), (2, True)):
        face.unplug(reenumerate)
        gone = tags[10 * round_no : 10 * round_no + 6]
        face.walk_in(gone, why="while the link is down")
        face.walk_out(tags[round_no * 2 : round_no * 2 + 2], why="while the link is down")
        out = face.io.outputs()
        report.observe(face.name, "working offline: %s" % outputs_text(out))
        if face.link_open:
            with pytest.raises(LinkError):
                face.client.status(timeout_s=0.5)
            report.check(face.name, "the host sees no answer while unplugged")
            if reenumerate:
                face.close_transport()  # its device is gone: a host reopens the port
        dropped = getattr(face.io, "vb", None)
        if dropped is not None:
            report.observe(
                face.name,
                "bytes the board sent into the unplugged line: %d" % dropped.board_bytes_dropped,
            )
        face.replug()
        hello = face.reconnect()
        report.observe(face.name, "answers again: last seq %d" % hello["last_seq"])
        result = face.client.catch_up(face.store)
        got = result.events
        missed_entries = sorted(e["tag"] for e in got if e["kind"] == ev.ENTRY)
        report.observe(
            face.name,
            "catch-up: %d events (%d ENTRY, %d EXIT), %d duplicates dropped"
            % (
                len(got),
                len(missed_entries),
                len([e for e in got if e["kind"] == ev.EXIT]),
                result.duplicates_dropped,
            ),
        )
        report.expect(
            face.name,
            "every crossing made while unplugged is in the catch-up",
            set(gone) <= set(missed_entries),
        )
        face.expect_status(why="count kept while unplugged")
        # More crossings now: pushed notifications and events-since overlap.
        face.walk_in(tags[30 + round_no * 3 : 33 + round_no * 3], why="after the replug")
        face.catch_up()
        face.expect_event_log_whole()

    entries = [e["tag"] for e in face.events(ev.ENTRY)]
    report.expect(
        face.name,
        "no crossing stored twice (%d ENTRY, %d EXIT events, first held %d)"
        % (len(entries), len(face.events(ev.EXIT)), held_before),
        len(entries) == len(set(entries)),
    )
    face.expect_occupants()
