# micropython-test
# R-DATA-1: reader lines lost before the firmware parsed them (board.reader_lost: a DMA
# ring overrun on the Pico, a line failing its checksum on any board; the HAL's counts
# are tests/test_reader_lost.py's) may be a person crossing uncounted, so the gateway
# alarms them as READER_DATA_LOST (tag 0, a point, b lines): the first at once, then at
# most one a minute per point with every line lost meanwhile in b.
from apprig import of_kind, rig_in_parts
from fakeboard import FakeBoard
from hostcalls import in_parts

from gateway import events as ev


class LossBoard(FakeBoard):
    def __init__(self, root, cameras=1):
        super().__init__(root, cameras)
        self.lost = [0, 0]  # what each reader has lost since boot, as the HAL counts

    def reader_lost(self, point):
        return self.lost[point]


def lost_events(rig):
    evs = yield from rig.fetch_in_parts(1)
    return [(e[3], e[4], e[5]) for e in of_kind(evs, ev.READER_DATA_LOST)]


def loss_rig():
    rig = yield from rig_in_parts(board_class=LossBoard)
    yield from rig.ready_in_parts()
    return rig


def steps(rig, ms, n):
    # n steps of ms each, a part per 10 (tests/hostcalls.py)
    while n > 0:
        rig.step(ms, min(n, 10))
        n -= 10
        yield


@in_parts
def test_a_loss_is_alarmed_at_once_with_its_point_and_lines():
    rig = yield from loss_rig()
    assert (yield from lost_events(rig)) == []
    rig.board.lost[1] = 23  # a ring overrun on the inner reader
    rig.step(100)
    assert (yield from lost_events(rig)) == [(0, 1, 23)]


@in_parts
def test_losses_within_a_minute_are_pooled_into_one_event_and_the_first_is_not_held():
    rig = yield from loss_rig()
    lost = rig.board.lost
    lost[0] = 1
    rig.step(100)
    assert (yield from lost_events(rig)) == [(0, 0, 1)]  # the first loss at once
    for _ in range(20):  # a noisy cable: a bad line every 2 s
        lost[0] += 1
        rig.step(1000, 2)
    yield
    # 40 s on: still one event; the 20 since wait for their minute.
    assert (yield from lost_events(rig)) == [(0, 0, 1)]
    yield from steps(rig, 1000, 21)
    assert (yield from lost_events(rig)) == [(0, 0, 1), (0, 0, 20)]
    # Each point has its own minute: the inner reader's first loss is not held back.
    lost[1] = 1
    rig.step(100)
    assert (yield from lost_events(rig))[-1] == (0, 1, 1)
    # Quiet for a minute: the next loss is logged at once again.
    yield from steps(rig, 1000, 61)
    n = len((yield from lost_events(rig)))
    lost[0] += 3
    rig.step(100)
    assert (yield from lost_events(rig))[n:] == [(0, 0, 3)]


@in_parts
def test_no_loss_no_event():
    rig = yield from loss_rig()
    rig.board.reads.append((0, 300, -60, 0))
    yield from steps(rig, 1000, 65)
    assert (yield from lost_events(rig)) == []


@in_parts
def test_a_board_without_reader_lost_runs_as_before():
    plain = yield from rig_in_parts()
    assert plain.gw._lost is None
    yield from steps(plain, 1000, 5)
    assert (yield from lost_events(plain)) == []
