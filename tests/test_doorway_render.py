# The dispatcher reads the doorway's new event kinds in words (English and Chinese), with
# what was ambiguous named, and the live view marks them (overflow an alarm, a doubtful
# crossing a warning).
from gateway import doorway
from gateway import events as ev
from shaftgate import dispatch_view, render


def _event(kind, tag, a, b):
    return {"seq": 1, "time_s": 0, "kind": kind, "tag": tag, "a": a, "b": b}


def test_a_doubtful_entry_says_it_was_counted_in_and_why():
    text = render.describe_event(
        _event(
            ev.DOUBTFUL_CROSSING,
            7,
            doorway.DECIDED_IN,
            doorway.DOUBT_NO_OUTER | doorway.DOUBT_BEAM_PAIRED,
        )
    )
    assert "counted IN" in text and "按已进入计" in text
    assert "no-outer" in text and "beam-paired" in text and "no-beam" not in text


def test_a_refused_exit_says_the_person_is_still_counted():
    text = render.describe_event(
        _event(ev.DOUBTFUL_CROSSING, 7, doorway.DECIDED_KEPT_IN, doorway.DOUBT_ONE_OUTER)
    )
    assert "still counted in" in text and "one-outer" in text


def test_overflow_is_an_alarm_and_a_doubtful_crossing_a_warning():
    assert "counting people in only" in render.describe_event(
        _event(ev.DOORWAY_OVERFLOW, 7, 128, 128)
    )
    assert "2 counted in" in render.describe_event(_event(ev.DOORWAY_OVERFLOW_END, 0, 5, 2))
    assert ev.DOORWAY_OVERFLOW in dispatch_view._ALARM_KINDS
    assert ev.DOUBTFUL_CROSSING in dispatch_view._WARN_KINDS
    assert ev.DOUBTFUL_CROSSING not in dispatch_view._ALARM_KINDS


def test_the_doorway_kinds_use_only_its_reserved_numbers():
    assert {ev.DOUBTFUL_CROSSING, ev.DOORWAY_OVERFLOW, ev.DOORWAY_OVERFLOW_END} <= set(
        range(33, 40)
    )
