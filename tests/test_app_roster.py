# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, the roster loaded over
# the link in parts, refused parts and entries. Each behaviour is shown firing and not
# firing; rules are named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a
# staffed face gateway), tests/flashtap.py.

from appkit import staffed_in_parts
from apprig import of_kind, person_of, rig_in_parts, roster_entry
from hostcalls import in_parts

from gateway import app
from gateway import events as ev
from gatewire import messages
from gatewire.errors import E_BAD_FIELD, E_INTERNAL, E_REFUSED


@in_parts
def test_a_roster_loads_in_parts_and_survives_a_power_cut():
    rig = yield from rig_in_parts()
    bodies = []
    for p in range(3):
        # tags 1-250, 100 a part, each part's entries made as it is sent (a host reads
        # its roster from disk a part at a time: a board never holds all 250 lists)
        entries = [roster_entry(t) for t in range(p * 100 + 1, min(p * 100 + 100, 250) + 1)]
        body = yield from rig.call_in_parts(
            "roster-load", load_id=9, part=p, parts=3, entries=entries, total=250
        )
        bodies.append(body)
        entries = body = None
        yield
    assert [(b["received"], b["complete"]) for b in bodies] == [(1, False), (2, False), (3, True)]
    assert bodies[2]["entries"] == 250
    loaded = rig.last_seq()
    yield
    yield from rig.power_cut_in_parts()
    # Restoring the stored roster at boot is not a new roster: no ROSTER_LOADED for it.
    assert not of_kind((yield from rig.fetch_in_parts(loaded + 1)), ev.ROSTER_LOADED)
    yield
    yield from rig.ready_in_parts()
    yield
    before = rig.last_seq()
    yield
    rig.cross(250)
    yield
    entry = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.ENTRY)
    yield
    assert [(e[3], e[4]) for e in entry] == [(250, person_of(250))]
    assert not rig.gw.system & app.SYS_ROSTER_BAD


@in_parts
def test_a_roster_part_out_of_sequence_is_refused_and_the_old_roster_stays():
    rig = yield from rig_in_parts()
    yield from rig.load_roster_in_parts([roster_entry(1)])
    yield
    part0 = {"load_id": 4, "parts": 3, "total": 3}
    yield from rig.call_in_parts("roster-load", part=0, entries=[roster_entry(2)], **part0)
    yield
    r = yield from rig.request_in_parts("roster-load", part=2, entries=[roster_entry(3)], **part0)
    yield
    assert r.code == E_REFUSED and r.field == "part", r
    r = yield from rig.request_in_parts(
        "roster-load", load_id=5, part=1, parts=3, entries=[], total=3
    )
    yield
    assert r.code == E_REFUSED and r.field == "part", r
    # A power cut mid-load: the old roster is in force and the load starts over.
    yield from rig.power_cut_in_parts()
    yield from rig.ready_in_parts()
    yield
    before = rig.last_seq()
    yield
    rig.cross(1)
    yield
    rig.cross(2)
    yield
    entries = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.ENTRY)
    yield
    assert [(e[3], e[4]) for e in entries] == [(1, person_of(1)), (2, 0)]
    r = yield from rig.request_in_parts("roster-load", part=1, entries=[roster_entry(3)], **part0)
    yield
    assert r.code == E_REFUSED and r.field == "part"
    # Not firing: parts in order are taken.
    yield from rig.call_in_parts("roster-load", part=0, entries=[roster_entry(2)], **part0)
    yield
    yield from rig.call_in_parts("roster-load", part=1, entries=[roster_entry(3)], **part0)
    yield
    done = yield from rig.call_in_parts("roster-load", part=2, entries=[roster_entry(4)], **part0)
    yield
    assert done["complete"] and done["entries"] == 3


@in_parts
def test_a_bad_roster_entry_is_refused_naming_it():
    rig = yield from rig_in_parts()
    yield from rig.load_roster_in_parts([roster_entry(1)])
    yield
    bad_role = roster_entry(6, role=0)
    r = rig.request(
        "roster-load",
        load_id=2,
        part=0,
        parts=1,
        entries=[roster_entry(5), bad_role],
        total=2,
    )
    yield
    assert r.code == E_BAD_FIELD and r.field == "entries" and "tag 6" in r.text, r
    bad_tag = roster_entry(5)
    bad_tag[0] = 0
    r = rig.raw_request("roster-load", {0: 2, 1: 0, 2: 1, 3: [bad_tag], 4: 1})
    yield
    assert r.code == E_BAD_FIELD and r.field == "entries[0].tag_id", r
    # R-ID-1: one person, one tag.
    twice = roster_entry(8)
    twice[1] = person_of(7)
    r = rig.request(
        "roster-load", load_id=3, part=0, parts=1, entries=[roster_entry(7), twice], total=2
    )
    yield
    assert r.code == E_REFUSED and "R-ID-1" in r.text, r
    yield from rig.ready_in_parts()
    yield
    before = rig.last_seq()
    yield
    rig.cross(1)
    yield
    rig.cross(5)
    yield
    entries = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.ENTRY)
    yield
    assert [(e[3], e[4]) for e in entries] == [(1, person_of(1)), (5, 0)]


@in_parts
def test_a_roster_part_whose_staging_write_fails_is_answered_and_the_load_ends():
    # A part is staged in the step after it was read (a job): a flash fault there is
    # answered and logged as in _handle, never a reset, and the old roster stays.
    rig = yield from staffed_in_parts()
    rs = rig.gw.zone.roster
    n_before = rs.n
    flash = rs._flash

    class Failing:
        def __getattr__(self, name):
            return getattr(flash, name)

        def append(self, name, data):
            raise OSError(28, "no space")

    rs._flash = Failing()
    before = rig.last_seq()
    yield
    part = [roster_entry(t) for t in range(1, 11)]
    r = yield from rig.request_in_parts(
        "roster-load", load_id=9, part=0, parts=2, entries=part, total=20
    )
    yield
    assert r.code == E_INTERNAL and "OSError" in r.text, r
    err = of_kind((yield from rig.fetch_in_parts(before + 1)), ev.INTERNAL_ERROR)
    yield
    assert [e[3] for e in err] == [messages.ROSTER_LOAD]
    rs._flash = flash
    # The load ended: its next part is out of sequence; the old roster is in force.
    r = yield from rig.request_in_parts(
        "roster-load", load_id=9, part=1, parts=2, entries=part, total=20
    )
    yield
    assert r.code == E_REFUSED, r
    assert rs.n == n_before
    # A fresh load goes through.
    r = yield from rig.request_in_parts(
        "roster-load", load_id=10, part=0, parts=1, entries=part, total=10
    )
    yield
    assert r.ok, r
    assert rs.n == 10
