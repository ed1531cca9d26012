"""A morning shift: 130 people go down the shaft and spread over four faces of different
kinds (a coal face, a fully-mechanised heading, a drill-and-blast heading and a repair
point). Five gateways: the shaft counts who is underground at all, each face who is in
its zone. Every count, at every gateway, is checked after every batch (R-ID-1, R-CAP)."""

from gateway import events as ev

from .hil_bench import face_config, morning_crew

SHIFT_SIZE = 130
# zone kind -> (cap of the production shift, people sent there)
FACES = {
    "coal_face": (25, 22),
    "fm_heading": (18, 13),
    "db_heading": (15, 11),
    "repair": (8, 6),
}
VIOLATIONS = (
    ev.ENTRY_REFUSED,
    ev.OVER_CAP_ENTRY,
    ev.UNKNOWN_TAG_ENTRY,
    ev.UNCERTIFIED_ENTRY,
    ev.MISSED_ENTRY,
    ev.MISSED_EXIT,
    ev.PARALLEL_CREWS,
    ev.TURNED_BACK,
    ev.DOORWAY_FULL,
    ev.DOORWAY_OVERFLOW,
    ev.DOUBTFUL_CROSSING,
)


def cap_lamp(count, cap, warn_pct=80):
    warn = max(cap * warn_pct // 100, 1)
    return 3 if count >= cap else 2 if count >= warn else 1


def test_morning_shift_spreads_over_four_faces(board, report):
    crew = morning_crew(SHIFT_SIZE)
    shaft = board.gate(face_config("gw-shaft", "shaft", mine_cap=200), crew, may_be_real=False)
    faces = {}
    for i, kind in enumerate(FACES):
        faces[kind] = board.gate(face_config("gw-face%d" % (i + 1), kind), crew)
    gates = [shaft, *faces.values()]
    report.note(
        "%d people; faces: %s"
        % (SHIFT_SIZE, ", ".join("%s cap %d gets %d" % (k, c, n) for k, (c, n) in FACES.items()))
    )

    def check_all(why):
        shaft.expect_status(why=why)
        for kind, face in faces.items():
            cap = FACES[kind][0]
            face.expect_status(lamp=cap_lamp(len(face.inside), cap), why=why)

    check_all("before the shift")
    tags = [p.tag for p in crew]
    for start in range(0, SHIFT_SIZE, 26):
        shaft.walk_in(tags[start : start + 26], why="down the shaft")
        check_all("%d underground" % len(shaft.inside))

    # From the shaft bottom to the faces, a face at a time, a batch at a time.
    at = 0
    for kind, (_, n) in FACES.items():
        group = tags[at : at + n]
        at += n
        for start in range(0, n, 8):
            faces[kind].walk_in(group[start : start + 8], why="to the %s" % kind)
            check_all("%s: %d in" % (kind, len(faces[kind].inside)))

    # Mid-shift: two of the coal-face crew are sent to the repair point.
    movers = [p.tag for p in crew if p.tag in faces["coal_face"].inside][:2]
    faces["coal_face"].walk_out(movers, why="to the repair point")
    check_all("two left the coal face")
    faces["repair"].walk_in(movers, why="from the coal face")
    check_all("two reached the repair point")

    total_at_faces = sum(len(f.inside) for f in faces.values())
    report.observe(
        "mine",
        "%d underground, %d at the faces, %d elsewhere (roadways, transport, shaft bottom)"
        % (len(shaft.inside), total_at_faces, len(shaft.inside) - total_at_faces),
    )
    for gate in gates:
        gate.expect_occupants()
        gate.expect_event_log_whole()
        bad = [e for e in gate.events() if e["kind"] in VIOLATIONS]
        report.expect(
            gate.name,
            "no refusal or violation logged (%d ENTRY, %d EXIT)"
            % (len(gate.events(ev.ENTRY)), len(gate.events(ev.EXIT))),
            not bad,
        )
    report.expect(
        "mine",
        "everyone at a face is underground by the shaft's count",
        all(f.inside <= shaft.inside for f in faces.values()),
    )
