"""A reader's lines the board could not take are never silent (R-DATA-1): 24 people read
at the outer point and 24 at the inner one in one instant put both readers' lines on
their wires together; the board takes reads in the world's order, so the inner lines
wait unread for the outer ones still arriving, and 24 lines back to back (504 bytes)
are more than the Pico's DMA ring holds unread (496). The lines the ring drops are lost,
and the gateway says so: READER_DATA_LOST at the inner point, counting them, raised on
the dispatcher's desk as "someone may not have been counted". A burst the board can take
whole (8 people) logs no such event."""

import pytest

from gateway import events as ev

from .hil_bench import face_config, morning_crew

OUTER = 0
INNER = 1


def _dma_sim(board, face):
    vb = getattr(face.io, "vb", None)
    if vb is None or not vb.profile.get("board_time") or vb.profile["reader_rx"] != "dma":
        pytest.skip("the DMA ring's overrun is modelled on a sim board with board time (pico)")
    return vb


def _lost(vb):
    # The board's next report, sent after everything done so far (one every 0.2 s).
    steps = vb.status().get("steps") or 0
    return vb.wait_status(lambda s: "tags_lost" in s and s["steps"] > steps, 30)["tags_lost"]


def test_a_reader_burst_the_ring_drops_is_alarmed(board, report):
    board.require("tags")
    crew = morning_crew(32)
    tags = [p.tag for p in crew]
    face = board.gate(face_config("gw-face1", "db_heading"), crew, may_be_real=False)
    vb = _dma_sim(board, face)

    # 8 people at once: the ring holds their lines (unless host load slowed a step past
    # the ring's 85 ms: then whatever was lost must be alarmed, and nothing else).
    vb.read_tags([(OUTER, t) for t in tags[:8]] + [(INNER, t) for t in tags[:8]])
    face.io.sync()
    face.catch_up()
    lost8 = _lost(vb)
    said8 = sum(e["b"] for e in face.events(ev.READER_DATA_LOST))
    report.expect(
        face.name,
        "8 people read at once: %d lines lost, %d said lost" % (lost8, said8),
        said8 == lost8,
    )
    board.advance(61)  # past the minute a further loss would wait

    n0 = len(face.events(ev.READER_DATA_LOST))
    vb.read_tags([(OUTER, t) for t in tags[8:]] + [(INNER, t) for t in tags[8:]])
    face.io.sync()
    board.advance(2)
    face.catch_up()
    lost = _lost(vb) - lost8
    events = face.events(ev.READER_DATA_LOST)[n0:]
    report.observe(face.name, "the model dropped %d lines; events %s" % (lost, events))
    report.expect(
        face.name,
        "24 people read at once: the %d lines the ring dropped are READER_DATA_LOST at the "
        "inner point, one event counting them all" % lost,
        lost > 0 and [(e["tag"], e["a"], e["b"]) for e in events] == [(0, INNER, lost)],
    )
