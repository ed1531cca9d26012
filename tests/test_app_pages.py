# micropython-test
# The gateway's pages (docs/protocol.md 8.5): an `occupants` or `events-since` reply holds
# at most what the host asked for and at most the gateway's own page (app.OCCUPANTS_PAGE,
# app.EVENTS_PAGE), since a reply is held whole in a board's heap while it is built: a
# full page of 200 people or 50 events took 30-41 KB in one step (issue 9, tests/
# board_fit.py). The host pages on from what it received and gets everyone, once.
# In parts (tests/hostcalls.py): under the pico profile each request is a call of its
# own, so the heap a full-size request needs is checked on its own.
from apprig import rig_in_parts
from hostcalls import in_parts

from gateway import app

PEOPLE = 40


@in_parts
def test_an_occupants_reply_holds_at_most_the_gateways_page_and_the_host_pages_on():
    k = app.OCCUPANTS_PAGE
    assert 2 < k < PEOPLE < 200
    rig = yield from rig_in_parts()
    rig.call("hello", min_version=1, max_version=1)
    yield
    # Tags the gateway has no roster for: counted, with person 0 (R-ID-4).
    for t in range(1, PEOPLE + 1):
        rig.cross(t)
        # The host's copies of the pushed events are not the board's: let them go.
        rig.pushed = []
        rig.seen = {}
        yield
    assert rig.call("status")["occupants"] == PEOPLE
    yield
    # Firing: the host asks for 200 (the protocol's most) and gets the gateway's page.
    body = rig.call("occupants", max_count=200)
    assert body["total"] == PEOPLE and body["start"] == 0
    assert len(body["occupants"]) == k
    first = [r[0] for r in body["occupants"]]
    body = None
    yield
    body = rig.call("occupants", start=k)  # no max_count: the gateway's page
    assert body["start"] == k and len(body["occupants"]) == k
    assert not set(first) & set([r[0] for r in body["occupants"]])
    body = None
    yield
    # Not firing: fewer than the page are exactly as many as asked, from start.
    body = rig.call("occupants", start=1, max_count=2)
    assert [r[0] for r in body["occupants"]] == first[1:3]
    body = None
    yield
    # The last page is short, and past the end is empty.
    body = rig.call("occupants", start=PEOPLE - 3, max_count=200)
    assert len(body["occupants"]) == 3
    assert rig.call("occupants", start=PEOPLE)["occupants"] == []
    body = None
    yield
    rows = []  # page by page, as a host reads them
    while True:
        body = rig.call("occupants", start=len(rows))
        rows.extend([r[0] for r in body["occupants"]])
        if not body["occupants"]:
            break
        body = None
        yield
    assert sorted(rows) == list(range(1, PEOPLE + 1))


@in_parts
def test_an_events_since_reply_holds_at_most_the_gateways_page_and_the_host_pages_on():
    k = app.EVENTS_PAGE
    assert 3 < k < 50
    rig = yield from rig_in_parts()
    for n in range(60):
        rig.board.reads.append((7, 1 + n, -70, 0))  # a read point no zone has: one event
        rig.step(10)
        if n % 10 == 9:
            yield
    last = rig.last_seq()
    assert last >= 60
    yield
    # Firing: the host asks for 50 (the protocol's most) and gets the gateway's page.
    body = rig.call("events-since", from_seq=1, max_count=50)
    assert [e["seq"] for e in body["events"]] == list(range(1, 1 + k))
    assert body["last_seq"] == last
    body = None
    yield
    # Not firing: fewer than the page are exactly as many as asked.
    body = rig.call("events-since", from_seq=5, max_count=3)
    assert [e["seq"] for e in body["events"]] == [5, 6, 7]
    body = None
    yield
    evs = yield from rig.fetch_in_parts(1)  # page by page, as a host catches up
    seqs = [e[0] for e in evs]
    assert seqs == list(range(1, last + 1))
