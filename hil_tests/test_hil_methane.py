"""Methane rising to evacuation (R-GAS-1, R-GAS-2, R-EVAC): at a busy coal face methane
climbs minute by minute. At 1.0 % work stops and the exceedance is recorded; at 1.5 % the
gateway orders everyone out by itself: red lamp, sounder, entry refused except to mine
rescue. The crew walks out; the gateway logs the zone clear with the time it took. The
all-clear is refused while methane is still high, and accepted once it is back under the
stop level for the gas hold-off, when the exceedance is closed with its peak and
duration."""

import pytest

from gateway import events as ev
from gateway import roles, zone
from gateway.reasons import CAUSE_GAS, EVAC_REASON_GAS, WHY_GAS_HIGH
from shaftgate.link.client import GatewayError

from .hil_bench import (
    GAS_HOLDOFF_S,
    VIDEO_HOLDOFF_S,
    Person,
    face_config,
    morning_crew,
    outputs_text,
)

RESCUER = Person(38001, 8001, roles.RESCUE, roles.CREW_NONE)
LATECOMER = Person(38002, 8002, roles.MINER, roles.CREW_PRODUCTION)
CH4_STOP_PPM = 10000
CH4_EVAC_PPM = 15000
# ppm, what the lamp, relay and entry must show once the reading is in.
RISE = [
    (3000, "green", True, False),
    (6000, "green", True, False),
    (9000, "green", True, False),
    (10000, "red", False, False),
    (12500, "red", False, False),
    (15000, "red", False, True),
    (16200, "red", False, True),
]
LAMPS = {"green": 1, "red": 3}


def test_methane_rises_to_evacuation_and_zone_clear(board, report):
    crew = morning_crew(18)
    face = board.gate(face_config("gw-face1", "coal_face"), [*crew, RESCUER, LATECOMER])
    board.advance(VIDEO_HOLDOFF_S + 1, why="cameras live for the hold-off")
    face.walk_in([p.tag for p in crew], why="the shift at the face")
    face.expect_status(lamp=1, entry_refused=False, why="methane 0.15 %")

    # A minute a step; on a bench, where time passes for real, eight seconds.
    step_s = 60 if face.io.virtual_clock else 8
    t_evac = None
    for ppm, lamp, work, refused in RISE:
        face.io.gas(ppm, 0)
        face.io.sync()  # the new reading is sampled at once
        if refused and t_evac is None:
            t_evac = board.now_s()
        board.advance(2)
        out = face.io.outputs()
        report.drive(face.name, "methane %.2f %%: %s" % (ppm / 10000, outputs_text(out)))
        report.expect(
            face.name,
            "lamp %s, work relay %s, entry %s"
            % (lamp, "on" if work else "off", "refused" if refused else "permitted"),
            out["lamp"] == LAMPS[lamp]
            and out["work_relay"] == work
            and out["entry_refused"] == refused
            and out["sounder"] == (ppm >= CH4_STOP_PPM),
        )
        board.advance(step_s - 2)
    status = face.status()
    report.expect(
        face.name, "status: evacuating, not a drill", status["evacuating"] and not status["drill"]
    )

    face.approach(LATECOMER.tag)
    face.catch_up()
    refusals = [e for e in face.events(ev.ENTRY_REFUSED) if e["tag"] == LATECOMER.tag]
    report.expect(
        face.name,
        "a miner arriving is refused: evacuation",
        [e["b"] for e in refusals] == [zone.REFUSE_EVACUATION],
    )
    face.walk_in([RESCUER.tag], why="mine rescue goes in")
    face.expect_status(why="rescue counted")

    out_order = [p.tag for p in crew]
    for i in range(0, len(out_order), 6):
        face.walk_out(out_order[i : i + 6], why="withdrawing")
        face.expect_status(entry_refused=True, why="evacuating")
    face.walk_out([RESCUER.tag], why="rescue out last")
    # The zone is clear once the rescuer's exit is counted, not when walk_out returns: it
    # then waits out the doorway's tracking window too (6 s more).
    t_clear = face.crossed_s
    face.expect_status(0, lamp=3, entry_refused=True, why="zone clear, still evacuating")

    face.catch_up()
    evac = face.events(ev.EVAC_START)
    report.expect(
        face.name,
        "EVAC_START ordered by gas (cause %d, reason %d)" % (CAUSE_GAS, EVAC_REASON_GAS),
        [(e["tag"], e["a"], e["b"]) for e in evac] == [(0, CAUSE_GAS, EVAC_REASON_GAS)],
    )
    clear = face.events(ev.ZONE_CLEAR)
    report.expect(face.name, "ZONE_CLEAR logged once, real (not a drill)", len(clear) == 1)
    last_exit = [e for e in face.events(ev.EXIT) if e["tag"] == RESCUER.tag]
    report.expect(
        face.name,
        "ZONE_CLEAR logged with the last exit (at %s, the rescuer out at %s)"
        % (clear[0]["time_s"] if clear else None, last_exit[-1]["time_s"] if last_exit else None),
        bool(clear and last_exit) and abs(clear[0]["time_s"] - last_exit[-1]["time_s"]) <= 1,
    )
    assert t_evac is not None
    took_s = clear[0]["a"]
    logged_s = clear[0]["time_s"] - evac[0]["time_s"]
    report.expect(
        face.name,
        "time to clear %d s; by the event times %d s; by the mine clock about %d s"
        % (took_s, logged_s, t_clear - t_evac),
        clear[0]["tag"] == 0
        and abs(took_s - logged_s) <= 1
        and abs(took_s - (t_clear - t_evac)) <= 2,
    )
    rescue_entries = [e for e in face.events(ev.EVACUATION_ENTRY) if e["tag"] == RESCUER.tag]
    report.expect(face.name, "the rescuer's entry is no violation", not rescue_entries)

    with pytest.raises(GatewayError) as refused:
        face.client.all_clear()
    report.expect(
        face.name,
        "all-clear refused while methane is high: %s" % refused.value.text,
        refused.value.code_name == "refused",
    )
    face.io.gas(12000, 0)
    face.io.sync()
    board.advance(30)
    face.io.gas(8000, 0)
    face.io.sync()
    board.advance(GAS_HOLDOFF_S + 1)
    report.drive(face.name, "methane falls to 0.80 % and stays there for the gas hold-off")
    face.client.all_clear()
    report.drive(face.name, "all-clear by dispatch")
    face.wait_outputs(
        lambda o: (
            o["work_relay"] and not o["entry_refused"] and not o["sounder"] and o["lamp"] == 1
        ),
        "back to work",
    )

    face.catch_up()
    over = face.events(ev.GAS_OVER)
    peaks = [e["a"] for e in face.events(ev.GAS_PEAK)]
    ends = face.events(ev.GAS_OVER_END)
    report.expect(
        face.name,
        "methane exceedance on record (R-GAS-2): over at %s, peaks %s, end peak %s after %s s"
        % (
            over[0]["a"] if over else None,
            peaks,
            ends[0]["a"] if ends else None,
            ends[0]["b"] if ends else None,
        ),
        [(e["tag"], e["a"], e["b"]) for e in over] == [(1, CH4_STOP_PPM, CH4_STOP_PPM)]
        and peaks
        and max(peaks) == 16200
        and len(ends) == 1
        and ends[0]["a"] == 16200
        and ends[0]["b"] >= 4 * step_s,
    )
    report.expect(
        face.name,
        "WORK_OFF for high methane logged",
        any(e["a"] & WHY_GAS_HIGH for e in face.events(ev.WORK_OFF)),
    )
    end = face.events(ev.EVAC_END)
    report.expect(
        face.name,
        "EVAC_END: real evacuation, %s s in force" % (end[0]["a"] if end else None),
        len(end) == 1 and end[0]["b"] == 0 and end[0]["a"] >= took_s,
    )
    face.expect_event_log_whole()
