"""The recount after a muster (R-CAP-11) at an 8-person repair point: one worker went in
without his tag (nothing read), the muster finds 8 where the gateway counts 7, and the
signed recount raises the count to the cap: red, entry refused. A recount below the
people the gateway knows by name is refused and changes nothing, one onto a count that
moved since the muster too; the count set survives a power cut."""

import pytest

from gateway import events as ev
from shaftgate.link.client import GatewayError

from .hil_bench import face_config, morning_crew

GREEN, AMBER, RED = 1, 2, 3
CAP = 8


def test_a_muster_finds_one_uncounted_and_the_recount_holds_the_zone_at_the_cap(board, report):
    board.require("power")
    crew = morning_crew(CAP + 1)
    face = board.gate(face_config("gw-repair", "repair"), crew)
    tags = [p.tag for p in crew]
    counter = crew[0].person_id  # who counted: recorded with the recount
    face.walk_in(tags[: CAP - 1])
    face.expect_status(lamp=AMBER, entry_refused=False, why="7 of 8 in")
    report.drive(face.name, "tag %d's wearer goes in without his tag: nothing read" % tags[CAP - 1])

    # Below the 7 it knows by name: refused, nothing changed.
    with pytest.raises(GatewayError) as below:
        face.client.recount(CAP - 2, CAP - 1, counter)
    report.expect(
        face.name,
        "recount to %d refused: %s" % (CAP - 2, below.value.text),
        below.value.code_name == "refused" and below.value.field == "found",
    )
    # Against a count the gateway no longer shows: refused.
    with pytest.raises(GatewayError) as moved:
        face.client.recount(CAP, CAP, counter)
    report.expect(
        face.name,
        "recount against a count of %d refused (it counts %d): %s"
        % (CAP, CAP - 1, moved.value.text),
        moved.value.code_name == "refused" and moved.value.field == "was",
    )
    face.expect_status(count=CAP - 1, lamp=AMBER, entry_refused=False, why="nothing changed")

    body = face.client.recount(CAP, CAP - 1, counter)
    report.drive(face.name, "muster found %d: recount by dispatch, %r" % (CAP, body))
    face.expect_status(count=CAP, lamp=RED, entry_refused=True, why="at the cap by the recount")
    face.power_cut()
    report.drive(face.name, "power cut right after the recount's reply")
    face.power_on()
    face.reconnect()
    face.expect_status(count=CAP, lamp=RED, entry_refused=True, why="after power-on")

    face.catch_up()
    recounts = [(e["tag"], e["a"], e["b"]) for e in face.events(ev.RECOUNT)]
    report.expect(
        face.name,
        "one RECOUNT logged: counted by %d, from %d to %d" % (counter, CAP - 1, CAP),
        recounts == [(counter, CAP - 1, CAP)],
    )
    ordered = [(e["tag"], e["a"], e["b"]) for e in face.events(ev.RECOUNT_ORDERED)]
    report.expect(
        face.name,
        "RECOUNT_ORDERED for each of the three orders, by dispatch",
        ordered == [(counter, 0, CAP - 2), (counter, 0, CAP), (counter, 0, CAP)],
    )
    face.expect_event_log_whole()
