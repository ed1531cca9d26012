# micropython-test
# The permit book (R-HOT-1, R-VIDEO-2): gateway/permits.py on its own, with its issue and
# restore code (gateway/permitissue.py).
from interlock_rig import T0_S, ZONE, Log
from mpcheck import raises

from gateway import events, permitissue
from gateway.permits import HOT, KEY_MAINTENANCE, KEY_MEASUREMENT, MAX_WORKERS, PermitBook
from gateway.reasons import (
    OK,
    REFUSE_BOOK_FULL,
    REFUSE_CLOCK_UNSET,
    REFUSE_DUPLICATE,
    REFUSE_ENDED,
    REFUSE_OVERLAP,
    REFUSE_WATCH_FULL,
    REFUSE_WRONG_ZONE,
)
from gatewire.errors import E_BAD_FIELD, ProtocolError

NOW = T0_S


def _book(capacity=8):
    log = Log()
    return PermitBook(ZONE, log, capacity), log


def _args(permit_id=1, start=NOW, end=NOW + 3600, watcher=50, workers=None, flags=HOT, zone=ZONE):
    if workers is None:
        workers = [51, 52]
    n = permit_id if type(permit_id) is int else 0
    return [permit_id, zone, 100 + n, "STM-%d" % n, start, end, watcher, workers, flags]


def _issue(book, now_s=NOW, watches_busy=0, **kw):
    return permitissue.issue(book, *_args(**kw), now_s=now_s, watches_busy=watches_busy)


def test_a_valid_hot_work_permit_is_stored_and_logged():
    # R-HOT-1: job id, measure reference, window, named workers, named fire-watcher.
    book, log = _book()
    assert _issue(book) == OK
    slot = book.find(1)
    assert slot >= 0 and book.count == 1 and permitissue.hot_count(book) == 1
    assert book.entries() == [[1, 101, "STM-1", NOW, NOW + 3600, 50, HOT, 0, [51, 52]]]
    assert log.items == [(events.PERMIT_ISSUED, 1, 101, HOT)]


def test_a_second_overlapping_hot_permit_is_refused():
    # R-HOT-1 one job, one safety measure, one ticket: never two hot tickets at once.
    book, log = _book()
    assert _issue(book) == OK
    assert _issue(book, permit_id=2, start=NOW + 3599, end=NOW + 7000) == REFUSE_OVERLAP
    assert _issue(book, permit_id=3, start=NOW - 100, end=NOW + 1) == REFUSE_OVERLAP
    assert book.count == 1 and len(log.items) == 1


def test_back_to_back_hot_permits_and_key_work_beside_one_are_accepted():
    # R-HOT-1 not firing: [start, end) windows that only touch do not overlap.
    book, _log = _book()
    assert _issue(book) == OK
    assert _issue(book, permit_id=2, start=NOW + 3600, end=NOW + 7200) == OK
    assert _issue(book, permit_id=3, flags=KEY_MAINTENANCE, watcher=0) == OK
    assert _issue(book, permit_id=4, flags=KEY_MEASUREMENT, watcher=0, workers=[51]) == OK
    assert book.count == 4 and permitissue.hot_count(book) == 2


def test_refusals_say_why_and_change_nothing():
    book, log = _book(capacity=2)
    assert _issue(book, zone="face-2") == REFUSE_WRONG_ZONE
    assert _issue(book, now_s=0) == REFUSE_CLOCK_UNSET
    assert _issue(book, now_s=NOW + 3600) == REFUSE_ENDED
    assert book.count == 0 and not log.items
    assert _issue(book) == OK
    assert _issue(book, start=NOW + 5000, end=NOW + 6000) == REFUSE_DUPLICATE
    assert _issue(book, permit_id=2, flags=KEY_MAINTENANCE, watcher=0) == OK
    assert _issue(book, permit_id=3, flags=KEY_MAINTENANCE, watcher=0) == REFUSE_BOOK_FULL
    assert book.count == 2 and len(log.items) == 2


def test_a_hot_permit_needs_room_for_its_fire_watch():
    # R-HOT-2: every hot permit ends in a fire watch, so one is refused when the watches
    # running plus the hot permits stored would leave no slot for it.
    book, _log = _book(capacity=3)
    assert _issue(book, watches_busy=2) == OK  # 1 hot + 2 watches = 3
    later = {"permit_id": 2, "start": NOW + 3600, "end": NOW + 7000}
    assert _issue(book, watches_busy=2, **later) == REFUSE_WATCH_FULL  # 2 hot + 2 watches
    assert _issue(book, watches_busy=1, **later) == OK
    assert _issue(book, permit_id=3, flags=KEY_MAINTENANCE, watcher=0, watches_busy=2) == OK


def test_each_malformed_field_is_named_and_nothing_is_stored():
    book, log = _book()
    cases = (
        ({"permit_id": 0}, "permit_id"),
        ({"permit_id": "7"}, "permit_id"),
        ({"start": 0}, "start_s"),
        ({"end": NOW}, "end_s"),
        ({"end": NOW + 43201}, "end_s"),
        ({"flags": 0}, "flags"),
        ({"flags": 8}, "flags"),
        ({"workers": []}, "workers"),
        ({"workers": list(range(1, MAX_WORKERS + 2))}, "workers"),
        ({"workers": [51, 51]}, "workers"),
        ({"workers": [51, -3]}, "workers"),
        ({"workers": "51"}, "workers"),
        ({"watcher": 0}, "watcher"),
        ({"watcher": 51}, "watcher"),
        ({"zone": None}, "zone_id"),
    )
    for kw, field in cases:
        e = raises(ProtocolError, _issue, book, **kw)
        assert e.code == E_BAD_FIELD and e.field == field, (kw, e.field)
    args = _args()
    args[2] = -1
    e = raises(ProtocolError, permitissue.issue, book, *args, now_s=NOW)
    assert e.field == "job_id"
    for measure in (None, 7, "", "x" * 33):
        args = _args()
        args[3] = measure
        e = raises(ProtocolError, permitissue.issue, book, *args, now_s=NOW)
        assert e.field == "measure_ref"
    assert book.count == 0 and not log.items


def test_the_listing_and_the_count_of_open_permits():
    book, _log = _book()
    _issue(book, workers=list(range(51, 51 + MAX_WORKERS)))
    _issue(book, permit_id=2, flags=KEY_MEASUREMENT, watcher=0, start=NOW + 100, end=NOW + 200)
    listing = permitissue.listing(book)
    assert listing[0] == {
        "permit_id": 1,
        "job_id": 101,
        "measure_ref": "STM-1",
        "start_s": NOW,
        "end_s": NOW + 3600,
        "workers": list(range(51, 51 + MAX_WORKERS)),
        "fire_watcher": 50,
        "flags": HOT,
    }
    assert listing[1]["permit_id"] == 2 and listing[1]["fire_watcher"] == 0
    assert book.active_count(NOW) == 1 and book.active_count(NOW + 150) == 2
    assert book.active_count(0) == 0


def test_the_window_is_start_inclusive_end_exclusive_on_a_set_clock():
    book, _log = _book()
    assert _issue(book, start=NOW + 10, end=NOW + 20) == OK
    slot = book.find(1)
    assert not book.in_window(slot, NOW + 9)
    assert book.in_window(slot, NOW + 10) and book.in_window(slot, NOW + 19)
    assert not book.in_window(slot, NOW + 20)
    assert not book.in_window(slot, 0)
    assert book.hot_in_window(NOW + 15) == slot and book.hot_in_window(NOW + 20) == -1
    assert book.hot_in_window(0) == -1


def test_presence_of_named_workers():
    book, _log = _book()
    _issue(book, workers=[51, 52, 53])
    slot = book.find(1)
    inside = []
    assert not book.any_worker_present(slot, lambda p: p in inside)
    inside.append(50)  # the watcher is not a worker
    assert not book.any_worker_present(slot, lambda p: p in inside)
    inside.append(53)
    assert book.any_worker_present(slot, lambda p: p in inside)


def test_remove_frees_the_slot_and_logs():
    book, log = _book(capacity=1)
    _issue(book)
    book.began[book.find(1)] = 1
    book.remove(book.find(1), events.PERMIT_REVOKED)
    assert book.count == 0 and book.find(1) == -1
    assert log.items[-1] == (events.PERMIT_REVOKED, 1, 101, 1)
    assert _issue(book, permit_id=2) == OK


def test_entries_restore_into_a_new_book():
    book, _log = _book()
    _issue(book)
    _issue(book, permit_id=2, flags=KEY_MAINTENANCE | HOT, start=NOW + 3600, end=NOW + 4000)
    book.began[book.find(1)] = 1
    saved = book.entries()
    book2, log2 = _book()
    permitissue.restore(book2, saved)
    assert book2.entries() == saved and book2.count == 2 and not log2.items


def test_a_bad_restore_raises_and_changes_nothing():
    book, _log = _book()
    _issue(book)
    before = book.entries()
    good = [1, 101, "STM-1", NOW, NOW + 3600, 50, HOT, 0, [51]]
    bad = (
        "x",
        [good[:8]],
        [good, good],  # the same permit twice
        [good, [2, 102, "STM-2", NOW + 10, NOW + 20, 60, HOT, 0, [61]]],  # two hot overlapping
        [[1, 101, "STM-1", NOW, NOW + 3600, 50, HOT, 2, [51]]],  # began not 0/1
        [[1, 101, "STM-1", NOW, NOW + 3600, 0, HOT, 0, [51]]],  # hot without a watcher
        [good] * 9,
    )
    for items in bad:
        raises(ProtocolError, permitissue.restore, book, items)
        assert book.entries() == before


def test_book_arguments_are_checked():
    log = Log()
    assert raises(ProtocolError, PermitBook, "", log).field == "zone_id"
    assert raises(ProtocolError, PermitBook, ZONE, log, 0).field == "permit_capacity"
    assert raises(ProtocolError, PermitBook, ZONE, log, 8, 10).field == "max_permit_s"


def test_windows_in_clock_seconds_decide_as_in_unix_seconds_to_2054_and_past_it():
    # The app's book counts now_s in clock seconds (gateway/caps.py); windows stay unix as
    # the wire gives them (entries, listing) and compare exactly, across 2038 and with an
    # end after 2054 (a window the clock never sees end: in force to the clock's last
    # second, then the clock is unknown and nothing is in its window).
    from gateway.caps import CLOCK_MAX_S, EPOCH_S, UNIX_MAX_S

    log = Log()
    book = PermitBook(ZONE, log, 8, 43200, epoch_s=EPOCH_S)
    c = NOW - EPOCH_S
    assert permitissue.issue(book, *_args(), now_s=c) == OK
    slot = book.find(1)
    assert book.entries()[0][3:5] == [NOW, NOW + 3600]  # unix, as given
    assert not book.in_window(slot, c - 1) and book.in_window(slot, c)
    assert book.in_window(slot, c + 3599) and not book.in_window(slot, c + 3600)
    assert not book.in_window(slot, 0)  # unknown clock: no window is open
    assert permitissue.issue(book, *_args(permit_id=2), now_s=0) == REFUSE_CLOCK_UNSET
    assert (
        permitissue.issue(book, *_args(permit_id=3, start=NOW - 60, end=NOW), now_s=c)
        == REFUSE_ENDED
    )
    t38 = 0x80000000  # 2038-01-19T03:14:08Z
    assert (
        permitissue.issue(
            book,
            *_args(permit_id=4, start=t38 - 10, end=t38 + 10, flags=KEY_MAINTENANCE, watcher=0),
            now_s=c,
        )
        == OK
    )
    s4 = book.find(4)
    for k in (-11, -10, 0, 9, 10):
        assert book.in_window(s4, t38 - EPOCH_S + k) == (-10 <= k < 10), k
    end = UNIX_MAX_S + 100  # after the clock's range: its bound keeps it open to the end
    assert (
        permitissue.issue(
            book,
            *_args(permit_id=5, start=UNIX_MAX_S - 100, end=end, flags=KEY_MAINTENANCE, watcher=0),
            now_s=c,
        )
        == OK
    )
    s5 = book.find(5)
    assert book.in_window(s5, CLOCK_MAX_S) and not book.in_window(s5, CLOCK_MAX_S - 101)
    assert not book.in_window(s5, CLOCK_MAX_S + 1)  # not a clock second: unknown
