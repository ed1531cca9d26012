# The permit book's rarely run parts (gateway/permits.py, gateway/hotwork.py): a new
# permit checked and put in the book (permit-issue), the book listed (permit-list), and a
# stored book with its fire watches checked and put back (boot, config-set). Imported by
# gateway/interlocks.py for the call and let go after it, so that while a permit is held
# the heap keeps only what runs every tick (docs/hardware.md "Board fit").
from gateway import events
from gateway.caps import clock_bound
from gateway.checks import bad_field, check_int
from gateway.hotwork import WATCH_LEN
from gateway.permits import (
    ALL_FLAGS,
    ENTRY_LEN,
    HOT,
    ID_MAX,
    MAX_WORKERS,
    MEASURE_REF_MAX,
    TIME_MAX,
)
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


def validate(book, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags):
    # Raises ProtocolError(E_BAD_FIELD) naming the first bad field; changes nothing.
    check_int("permit_id", permit_id, 1, ID_MAX)
    check_int("job_id", job_id, 1, ID_MAX)
    if not isinstance(measure_ref, str) or not 1 <= len(measure_ref) <= MEASURE_REF_MAX:
        raise bad_field("measure_ref", "expected a text of 1..%d characters" % MEASURE_REF_MAX)
    check_int("start_s", start_s, 1, TIME_MAX)
    check_int("end_s", end_s, 1, TIME_MAX)
    if end_s <= start_s:
        raise bad_field("end_s", "the window must end after it starts")
    if end_s - start_s > book.max_window_s:
        raise bad_field("end_s", "the window is longer than %d s" % book.max_window_s)
    check_int("flags", flags, 1, ALL_FLAGS)
    if not isinstance(workers, (list, tuple)) or not 1 <= len(workers) <= MAX_WORKERS:
        raise bad_field("workers", "expected 1..%d person ids" % MAX_WORKERS)
    for i in range(len(workers)):
        check_int("workers", workers[i], 1, ID_MAX)
        for j in range(i):
            if workers[j] == workers[i]:
                raise bad_field("workers", "person %d named twice" % workers[i])
    if flags & HOT:
        check_int("watcher", watcher, 1, ID_MAX)  # R-HOT-2: a dedicated person on site
    else:
        check_int("watcher", watcher, 0, ID_MAX)
    if watcher and watcher in workers:
        raise bad_field("watcher", "the fire-watcher must not be one of the workers")


def issue(
    book,
    permit_id,
    zone_id,
    job_id,
    measure_ref,
    start_s,
    end_s,
    watcher,
    workers,
    flags,
    now_s,
    watches_busy=0,
):
    # Returns OK or a REFUSE_* code; raises ProtocolError for a malformed field.
    # watches_busy: the fire watches running now (HotWork.watching), for which the book
    # keeps room (R-HOT-2).
    if not isinstance(zone_id, str):
        raise bad_field("zone_id", "expected a text")
    validate(book, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags)
    if zone_id != book.zone_id:
        return REFUSE_WRONG_ZONE
    now_c = book.clock(now_s)
    if not now_c:
        return REFUSE_CLOCK_UNSET
    if clock_bound(end_s) <= now_c:
        return REFUSE_ENDED
    if book.find(permit_id) >= 0:
        return REFUSE_DUPLICATE
    if flags & HOT and overlapping(book, start_s, end_s) >= 0:
        return REFUSE_OVERLAP  # R-HOT-1: one job, one ticket
    if book.count >= book.capacity:
        return REFUSE_BOOK_FULL
    # R-HOT-2: each hot permit ends in a fire watch; keep a watch slot for it.
    if flags & HOT and hot_count(book) + watches_busy >= book.capacity:
        return REFUSE_WATCH_FULL
    _put(book, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags, 0)
    book._emit(events.PERMIT_ISSUED, permit_id, job_id, flags)
    return OK


def _put(book, permit_id, job_id, measure_ref, start_s, end_s, watcher, workers, flags, began):
    slot = book.ids.index(0)
    book.ids[slot] = permit_id
    book.jobs[slot] = job_id
    book.measures[slot] = measure_ref
    book.starts[slot] = start_s
    book.ends[slot] = end_s
    book.c_starts[slot] = clock_bound(start_s)
    book.c_ends[slot] = clock_bound(end_s)
    book.watchers[slot] = watcher
    book.flags[slot] = flags
    row = book.workers[slot]
    for i in range(MAX_WORKERS):
        row[i] = workers[i] if i < len(workers) else 0
    book.n_workers[slot] = len(workers)
    book.began[slot] = 1 if began else 0
    book.halted[slot] = 0
    book.count += 1


def overlapping(book, start_s, end_s):
    # The slot of a hot-work permit whose window overlaps [start_s, end_s), or -1.
    for slot in range(book.capacity):
        if not book.ids[slot] or not book.flags[slot] & HOT:
            continue
        if start_s < book.ends[slot] and book.starts[slot] < end_s:
            return slot
    return -1


def hot_count(book):
    n = 0
    for slot in range(book.capacity):
        if book.ids[slot] and book.flags[slot] & HOT:
            n += 1
    return n


def listing(book):
    # The permit-list reply: the permit fields by name (tests/messages_schema.py PERMIT_FIELDS).
    out = []
    for slot in range(book.capacity):
        if book.ids[slot]:
            out.append(
                {
                    "permit_id": book.ids[slot],
                    "job_id": book.jobs[slot],
                    "measure_ref": book.measures[slot],
                    "start_s": book.starts[slot],
                    "end_s": book.ends[slot],
                    "workers": book.workers[slot][: book.n_workers[slot]],
                    "fire_watcher": book.watchers[slot],
                    "flags": book.flags[slot],
                }
            )
    return out


# ---- a stored book (PermitBook.entries) and its fire watches (HotWork.watches) ----


def check_entries(book, items):
    # Raises ProtocolError unless items is a list restore() can take whole.
    if not isinstance(items, list) or len(items) > book.capacity:
        raise bad_field("permits", "expected a list of at most %d permits" % book.capacity)
    for k in range(len(items)):
        e = items[k]
        if not isinstance(e, list) or len(e) != ENTRY_LEN:
            raise bad_field("permits", "each permit is a list of %d fields" % ENTRY_LEN)
        validate(book, e[0], e[1], e[2], e[3], e[4], e[5], e[8], e[6])
        check_int("began", e[7], 0, 1)
        for j in range(k):
            other = items[j]
            if other[0] == e[0]:
                raise bad_field("permit_id", "permit %d stored twice" % e[0])
            if e[6] & HOT and other[6] & HOT and e[3] < other[4] and other[3] < e[4]:
                raise bad_field("start_s", "hot-work permits %d and %d overlap" % (other[0], e[0]))


def restore(book, items):
    check_entries(book, items)
    for slot in range(book.capacity):
        book.ids[slot] = 0
    book.count = 0
    for e in items:
        _put(book, e[0], e[1], e[2], e[3], e[4], e[5], e[8], e[6], e[7])


def check_watches(hw, items, hot_permits):
    # Raises ProtocolError unless items are fire watches restore_watches() can take,
    # with room left for the watches of hot_permits hot-work permits.
    room = len(hw._w_used)
    if not isinstance(items, list) or len(items) + hot_permits > room:
        raise bad_field("watches", "expected a list of at most %d fire watches" % room)
    for item in items:
        if not isinstance(item, list) or len(item) != WATCH_LEN:
            raise bad_field("watches", "each fire watch is a list of %d fields" % WATCH_LEN)
        check_int("permit_id", item[0], 1, ID_MAX)
        check_int("watcher", item[1], 1, ID_MAX)
        check_int("watch_s", item[2], 0, 0x3FFFFFFF)
        check_int("watch_ms", item[3], 0, 999)
        check_int("left", item[4], 0, 0x3FFFFFFF)
        check_int("away", item[5], 0, 1)


def restore_watches(hw, items, now_ms):
    for w in range(len(hw._w_used)):
        hw._w_used[w] = 0
        hw._w_clock[w].stop()
    hw.watching = 0
    for item in items:
        hw._start_watch(item[0], item[1], now_ms, item[2], item[3], item[4], item[5], False)
    hw.alarm = False


def restore_all(hw, permits, watches, now_ms):
    # A snapshot's book and fire watches (Interlocks.restore): all checked, then put back
    # (a refused one raises ProtocolError and changes nothing).
    check_entries(hw.book, permits)
    hot = 0
    for e in permits:
        if e[6] & HOT:
            hot += 1
    check_watches(hw, watches, hot)
    restore(hw.book, permits)
    restore_watches(hw, watches, now_ms)
