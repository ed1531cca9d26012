# micropython-test
# The gateway's side of docs/protocol.md sections 7 and 8.3 (issue 13.4): an error for a
# bad envelope carries the request's id whenever key 1 held a valid one; events-since
# below the oldest event the gateway still holds starts at that one.
from apprig import event_tuple, rig_in_parts
from hostcalls import in_parts

from gatewire import cbor, frame, messages
from gatewire.errors import E_BAD_ENVELOPE


def _answer(rig, payload):
    rig.board.rx.extend(frame.encode(payload))
    for _ in range(10):
        rig.step(10)
        if rig.inbox:
            return rig.inbox.pop(0)
    raise AssertionError("no answer")


# Each test in parts (tests/hostcalls.py): the rig's boot, then each exchange, a call of
# its own, as a board's collector could reclaim between them.


@in_parts
def test_a_bad_envelope_is_answered_under_its_valid_id():
    rig = yield from rig_in_parts()
    for env, field in (
        ({0: 2, 1: 77, 2: 0}, "body"),  # body not a map
        ({0: "status", 1: 78, 2: {}}, "type"),  # type not a uint
        ({1: 79, 2: {}}, "type"),  # no type at all
    ):
        err = _answer(rig, cbor.dumps(env))
        assert err[0] == messages.ERROR and err[1] == env[1], err
        assert err[2][0] == E_BAD_ENVELOPE and err[2][2] == field, err
        yield


@in_parts
def test_a_bad_envelope_without_a_valid_id_is_answered_under_id_0():
    rig = yield from rig_in_parts()
    for env, field in (
        ({0: 2, 1: 0, 2: {}}, "id"),
        ({0: 2, 1: -5, 2: {}}, "id"),
        ({0: 2, 2: {}}, "id"),
        ([2, 1, {}], "envelope"),
    ):
        err = _answer(rig, cbor.dumps(env))
        assert err[0] == messages.ERROR and err[1] == 0, err
        assert err[2][0] == E_BAD_ENVELOPE and err[2].get(2) == field, err
        yield
    err = _answer(rig, b"\xff")  # not CBOR at all
    assert err[1] == 0 and err[2][0] == E_BAD_ENVELOPE


@in_parts
def test_events_since_below_the_oldest_kept_event_starts_at_that_one():
    rig = yield from rig_in_parts()
    for k in range(40):
        rig.board.reads.append((7, 1 + k, -70, 0))  # a read point no zone has: one event
        rig.step(10)
        if k % 2 == 1:
            yield  # a board collects between steps: 2 steps' garbage a part, not 10
    last = rig.last_seq()
    rig.ack(last - 3)
    yield
    page = rig.call("events-since", from_seq=1, max_count=50)["events"]
    first = event_tuple(page[0])[0]
    assert first > 1  # the acked, dropped ones are gone: the reply says from where
    assert [event_tuple(e)[0] for e in page] == list(range(first, first + len(page)))
    assert first <= last - 2
    page = None
    yield
    # Not firing: from a seq still held, the reply starts exactly there.
    page = rig.call("events-since", from_seq=last - 2, max_count=50)["events"]
    assert event_tuple(page[0])[0] == last - 2
