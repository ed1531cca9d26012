"""Cap warning and refusal at a 25-person coal face (R-CAP-1) and an 8-person repair
point (R-CAP-5): amber from the early-warning level (R-CAP-6), red and entry refused at
the cap, and whoever crosses anyway is counted and logged as OVER_CAP_ENTRY (R-CAP-11)."""

import pytest

from gateway import events as ev
from gateway import zone

from .hil_bench import face_config, morning_crew

GREEN, AMBER, RED = 1, 2, 3


@pytest.mark.parametrize(
    ("zone_kind", "cap", "warn_at"),
    [("coal_face", 25, 20), ("repair", 8, 6)],
    ids=["coal_face_25", "repair_8"],
)
def test_cap_warning_refusal_and_over_cap_entry(board, report, zone_kind, cap, warn_at):
    crew = morning_crew(cap + 3)
    face = board.gate(face_config("gw-%s" % zone_kind.replace("_", "-"), zone_kind), crew)
    tags = [p.tag for p in crew]
    report.note("%s: cap %d, early warning from %d (warn_pct 80)" % (zone_kind, cap, warn_at))
    face.expect_status(0, lamp=GREEN, entry_refused=False, why="empty zone")

    face.walk_in(tags[: warn_at - 1])
    face.expect_status(lamp=GREEN, entry_refused=False, why="one below the warning")
    face.walk_in(tags[warn_at - 1 : warn_at])
    face.expect_status(lamp=AMBER, entry_refused=False, why="early warning (R-CAP-6)")
    face.walk_in(tags[warn_at : cap - 1])
    face.expect_status(lamp=AMBER, entry_refused=False, why="one below the cap")
    face.walk_in(tags[cap - 1 : cap])
    face.expect_status(lamp=RED, entry_refused=True, why="at the cap")

    # The next one is refused at the outer reader, crosses anyway, and is counted.
    over = tags[cap]
    face.approach(over)
    face.expect_status(lamp=RED, entry_refused=True, why="tag %d waiting at the door" % over)
    face.walk_in([over], why="ignoring the red lamp")
    face.expect_status(lamp=RED, entry_refused=True, why="over the cap, counted (R-CAP-11)")
    face.expect_occupants()

    face.catch_up()
    refused = [e for e in face.events(ev.ENTRY_REFUSED) if e["tag"] == over]
    report.expect(
        face.name,
        "ENTRY_REFUSED for tag %d, reason cap" % over,
        len(refused) == 1 and refused[0]["b"] == zone.REFUSE_CAP,
    )
    over_cap = face.events(ev.OVER_CAP_ENTRY)
    report.expect(
        face.name,
        "OVER_CAP_ENTRY logged once, tag %d, count %d" % (over, cap + 1),
        [(e["tag"], e["b"]) for e in over_cap] == [(over, cap + 1)],
    )
    levels = [
        (e["kind"], e["a"], e["b"])
        for e in face.events()
        if e["kind"] in (ev.CAP_OK, ev.CAP_WARNING, ev.CAP_FULL, ev.CAP_OVER)
    ]
    report.expect(
        face.name,
        "cap levels logged in order: warning at %d, full at %d, over at %d, of cap %d"
        % (warn_at, cap, cap + 1, cap),
        levels
        == [(ev.CAP_WARNING, warn_at, cap), (ev.CAP_FULL, cap, cap), (ev.CAP_OVER, cap + 1, cap)],
    )
    report.observe(face.name, "events so far: %s" % dict(face.kinds()))

    # Two leave: back under the cap, amber, entry permitted again.
    face.walk_out(tags[:2])
    face.expect_status(lamp=AMBER, entry_refused=False, why="two left: below the cap")
    face.walk_out(tags[2 : cap + 1 - (warn_at - 1)])
    face.expect_status(lamp=GREEN, entry_refused=False, why="below the warning again")
    face.catch_up()
    report.expect(
        face.name,
        "CAP_OK logged when the count fell below the warning",
        face.events(ev.CAP_OK)[-1]["a"] == warn_at - 1,
    )
    report.expect(
        face.name,
        "no other violation logged",
        not face.events(ev.UNKNOWN_TAG_ENTRY) and not face.events(ev.UNCERTIFIED_ENTRY),
    )
    face.expect_event_log_whole()
