"""Attacks on a gateway by someone on the link without the key, or with an old capture
(issue 13, "Attacks"). Not a test file: tests/test_attacks.py runs it in CI and
`./dev reliability attacks` writes its figures to docs/reliability.md.

Each attack returns a row: attempts, accepted (must be 0), refused with the right
error, and detected-and-logged (must equal attempts: the gateway's own log holds the
evidence a dispatcher sees). The gateway's state must not move.
"""

import binascii
import struct

import fuzzing
from apprig import KEY, OTHER_KEY, Rig, roster_entry

from gateway import events as ev
from gateway import roles
from gateway.eventlog import RECORD_SIZE
from gatewire import auth, messages
from gatewire.errors import E_AUTH_BAD, E_AUTH_MISSING, E_AUTH_REPLAY

LEADER = 2


class Row:
    def __init__(self, attack):
        self.attack = attack
        self.attempts = 0
        self.accepted = 0
        self.refused_right = 0
        self.logged = 0
        self.state_moved = False

        self.before = None
        self.seq0 = 0
        self.counted_already = False
        self.refusal_applies = True
        self.accepted_note = None  # why "accepted" does not apply (the host detects)
        self.false_alarms = None  # alarms raised for people who did nothing wrong
        self.order_after = True  # an authentic order after the attack went through

    def as_row(self):
        return {
            "attack": self.attack,
            "attempts": self.attempts,
            "accepted": self.accepted,
            "refused": self.refused_right,
            "logged": self.logged,
            "state_moved": self.state_moved,
        }


def _roster():
    return [
        roster_entry(t, role=roles.TEAM_LEADER if t == LEADER else roles.MINER) for t in range(1, 9)
    ]


def staged():
    rig = Rig()
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster(_roster())
    rig.ready()
    for tag in (1, 3):
        rig.cross(tag)
    rig.step(500, 20)
    rig.ack(rig.last_seq())
    return rig


def orders():
    # Every mutating request a real host sends (fuzzing's samples), by name and fields.
    return [
        (n, f) for n, f in fuzzing.sample_requests() if messages.is_mutating(messages.code_of(n))
    ]


def _rejections_logged(rig, since_seq):
    # The gateway's evidence of refused attempts, from its own log. Rejections are pooled
    # (gateway/rejects.py): a few one event each, the rest in an event a minute later
    # whose b counts the frames it stands for; wait for the pool to go out.
    for _ in range(5):
        if not rig.gw.rejects.pending:
            break
        rig.run_s(61)
    n = 0
    for e in rig.fetch(since_seq + 1):
        if e[2] == ev.AUTH_REJECTED:
            n += e[5]
    return n


def _attempt(rig, row, env, want_code):
    row.attempts += 1
    rig.send(env)
    r = rig.reply_to(messages.name_of(env[messages.KEY_TYPE]), env[messages.KEY_ID])
    if r.ok:
        row.accepted += 1
    elif r.code == want_code:
        row.refused_right += 1


def _run(attack, fn):
    rig = staged()
    row = Row(attack)
    row.before = fuzzing.gateway_state(rig)
    row.seq0 = rig.last_seq()
    fn(rig, row)  # may move the baseline past what it set up on purpose
    if not row.counted_already:
        row.logged = _rejections_logged(rig, row.seq0)
        row.state_moved = fuzzing.gateway_state(rig) != row.before
    return row


def unsigned(rig, row):
    for name, fields in orders():
        rig.rid += 1
        _attempt(rig, row, messages.request(name, rig.rid, **fields), E_AUTH_MISSING)


def wrong_key(rig, row):
    signer = auth.Signer(OTHER_KEY, rig.signer.counter + 1000)
    for name, fields in orders():
        rig.rid += 1
        env = messages.request(name, rig.rid, **fields)
        signer.sign(env)
        _attempt(rig, row, env, E_AUTH_BAD)


def replayed(rig, row):
    # A capture of orders the gateway accepted, sent again.
    captured = []
    for name in ("seal", "unseal", "cap-override"):
        fields = dict(orders())[name]
        env = rig.envelope(name, **fields)
        rig.send(env)
        assert rig.reply_to(name, env[messages.KEY_ID]).ok
        captured.append(env)
    rig.step(500, 20)
    row.before = fuzzing.gateway_state(rig)
    row.seq0 = rig.last_seq()
    for env in captured * 3:
        _attempt(rig, row, env, E_AUTH_REPLAY)


def reordered(rig, row):
    # Two orders signed in sequence, delivered in the other order: the older is refused.
    for name in ("seal", "evacuate", "cap-override"):
        fields = dict(orders())[name]
        first = rig.envelope(name, **fields)
        later = rig.envelope("unseal")  # signed after `first`; refused here, counter spent
        rig.send(later)
        rig.reply_to("unseal", later[messages.KEY_ID])
        row.before = fuzzing.gateway_state(rig)  # the authentic one moved the counter
        _attempt(rig, row, first, E_AUTH_REPLAY)


def stale(rig, row):
    # A capture from long ago: properly signed, counter far below the gateway's.
    old = auth.Signer(KEY, 1)
    for name, fields in orders():
        rig.rid += 1
        env = messages.request(name, rig.rid, **fields)
        old.sign(env)
        _attempt(rig, row, env, E_AUTH_REPLAY)


FLOOD = 3000


def flood(rig, row):
    # 3,000 forged frames (unsigned, wrong-key, a replayed capture) as fast as the link
    # takes them, then an authentic evacuation: it must go through and be logged.
    from test_app_flood import forged_frames

    frames = forged_frames(rig, FLOOD)
    row.before = fuzzing.gateway_state(rig)
    row.seq0 = rig.last_seq()
    for i, f in enumerate(frames):
        rig.board.rx.extend(f)
        if i % 8 == 7:
            rig.step(10)
    rig.step(10, 20)
    for obj in rig.inbox:
        row.attempts += 1
        if obj[messages.KEY_TYPE] == messages.OK:
            row.accepted += 1
        elif obj[messages.KEY_BODY][0] in (E_AUTH_MISSING, E_AUTH_BAD, E_AUTH_REPLAY):
            row.refused_right += 1
    rig.inbox = []
    row.logged = _rejections_logged(rig, row.seq0)
    row.state_moved = fuzzing.gateway_state(rig) != row.before
    env = rig.envelope("evacuate", reason=1, drill=False)
    rig.send(env)
    ok = rig.reply_to("evacuate", env[messages.KEY_ID]).ok
    logged = [e for e in rig.fetch(row.seq0 + 1) if e[2] in (ev.COMMAND, ev.EVAC_START)]
    row.order_after = ok and len(logged) >= 2
    row.counted_already = True


# ---- the record on flash, edited while no host was looking ----


def _segments(rig):
    names = [n for n in rig.gw.flash.names() if n.startswith("ev") and not n.startswith("evmeta")]
    out = []
    for n in names:
        try:
            out.append((int(n[2:], 16), n))
        except ValueError:
            pass
    return sorted(out)


def _locate(rig, seq):
    first, name = max(f for f in _segments(rig) if f[0] <= seq)
    return name, (seq - first) * RECORD_SIZE


def _edit(rig, seq):
    # Change who entered (field a) and forge the record's crc, as a careful forger would.
    name, off = _locate(rig, seq)
    data = bytearray(rig.gw.flash.read(name))
    struct.pack_into("<i", data, off + 16, 999999)
    struct.pack_into("<I", data, off + 40, binascii.crc32(bytes(data[off : off + 40])))
    rig.gw.flash.write(name, bytes(data))


def _delete(rig, seq):
    name, off = _locate(rig, seq)
    data = rig.gw.flash.read(name)
    rig.gw.flash.write(name, data[:off] + data[off + RECORD_SIZE :])


def _swap(rig, seq):
    name, off = _locate(rig, seq)
    data = bytearray(rig.gw.flash.read(name))
    if off + 2 * RECORD_SIZE > len(data):
        off -= RECORD_SIZE
    a = data[off : off + RECORD_SIZE]
    data[off : off + RECORD_SIZE] = data[off + RECORD_SIZE : off + 2 * RECORD_SIZE]
    data[off + RECORD_SIZE : off + 2 * RECORD_SIZE] = a
    rig.gw.flash.write(name, bytes(data))


def _drop_segment(rig, seq):
    name, _ = _locate(rig, seq)
    rig.gw.flash.remove(name)


def events_edited(rig, row):
    # The host holds everything up to the last ack and its digest. People cross while
    # it is away; someone edits, deletes, reorders records or removes a segment file on
    # the board's flash and powers it up again.
    _tamper_runs(row, ((_edit, (0, 1, 3)), (_delete, (1,)), (_swap, (0,)), (_drop_segment, (2,))))


# ---- orders that change who may enter or how the gateway runs, without the key ----


def pushes_without_authority(rig, row):
    # Roster and config pushes from someone without the key: unsigned, wrong key, an
    # old counter; and a roster load whose first part is authentic and whose second is
    # forged (someone on the link splicing their own people into a real load). The
    # roster and config in force must stay as they were.
    new = [roster_entry(t) for t in (50, 51, 52)]
    pushes = (
        ("roster-load", dict(load_id=7, part=0, parts=1, entries=new, total=len(new))),
        ("config-set", dict(changes={"warn_pct": 60})),
        ("config-set", dict(changes={"max_dwell_s": 600})),
    )
    wrong = auth.Signer(OTHER_KEY, rig.signer.counter + 1000)
    old = auth.Signer(KEY, 1)
    real = _roster()
    first = rig.envelope(
        "roster-load", load_id=8, part=0, parts=2, entries=real[:4], total=len(real) + 3
    )
    rig.send(first)
    assert rig.reply_to("roster-load", first[messages.KEY_ID]).ok
    row.before = fuzzing.gateway_state(rig)  # the authentic part moved the counter
    row.seq0 = rig.last_seq()
    for name, fields in pushes:
        for signer, want in ((None, E_AUTH_MISSING), (wrong, E_AUTH_BAD), (old, E_AUTH_REPLAY)):
            rig.rid += 1
            env = messages.request(name, rig.rid, **fields)
            if signer is not None:
                signer.sign(env)
            _attempt(rig, row, env, want)
    for signer, want in ((None, E_AUTH_MISSING), (wrong, E_AUTH_BAD)):
        rig.rid += 1
        env = messages.request(
            "roster-load", rig.rid, load_id=8, part=1, parts=2, entries=real[4:] + new,
            total=len(real) + 3,
        )  # fmt: skip
        if signer is not None:
            signer.sign(env)
        _attempt(rig, row, env, want)
    if rig.gw.zone.roster.find_person(1000 + new[0][0]) >= 0:
        row.accepted += 1  # a forged person in the roster in force


# ---- the record on flash, forged while no host was looking ----


def _forged_record(seq, prev_digest, tag):
    from gateway.eventlog import chain_digest

    rec = bytearray(RECORD_SIZE)
    struct.pack_into("<IIHHIii", rec, 0, seq, 1_750_000_000, ev.ENTRY, 0, tag, 0, 0)
    rec[24:40] = chain_digest(prev_digest, seq, 1_750_000_000, ev.ENTRY, tag, 0, 0)
    struct.pack_into("<I", rec, 40, binascii.crc32(bytes(rec[:40])))
    return bytes(rec)


def _insert(rig, seq):
    # A forged entry slipped in before record seq, chained from the record before it
    # and with its crc right, as a careful forger would.
    name, off = _locate(rig, seq)
    data = rig.gw.flash.read(name)
    prev = data[off - RECORD_SIZE + 24 : off - RECORD_SIZE + 40] if off else None
    if prev is None:
        prev_name, prev_off = _locate(rig, seq - 1)
        prev = rig.gw.flash.read(prev_name)[prev_off + 24 : prev_off + 40]
    rig.gw.flash.write(name, data[:off] + _forged_record(seq, prev, 999999) + data[off:])


def _far_ahead(rig, seq):
    # A segment named far past the log's end, its one record chained from the newest
    # real one: someone adding "history" the gateway never logged.
    last = _segments(rig)[-1]
    data = rig.gw.flash.read(last[1])
    prev = data[-RECORD_SIZE + 24 : -RECORD_SIZE + 40]
    far = seq + 0x10000
    rig.gw.flash.write("ev%08x" % far, _forged_record(far, prev, 999999))


def events_forged(rig, row):
    _tamper_runs(row, ((_insert, (0, 1, 3)), (_far_ahead, (0, 2))))


# ---- one tag in two places: the station's alarm ----

_SITE = """\
[mine]
id = "attack-mine"
name = "attack mine"
time_zone = "Asia/Shanghai"

[serve]
database = "station.db"
clock_drift_s = 20

[[gateways]]
id = "gw-shaft"
port = "/dev/ttyS90"
zone = "shaft"
kind = "shaft"

[[gateways]]
id = "gw-face1"
port = "/dev/ttyS91"
zone = "face1"
kind = "coal_face"

[[gateways]]
id = "gw-face2"
port = "/dev/ttyS92"
zone = "face2"
kind = "coal_face"
"""


def cloned_tag(rig, row):
    # A cloned (or swapped) tag: each gateway sees one tag crossing, as it should, and
    # admits it; only the station, holding every gateway's record, can see the same tag
    # in two places. Five clones: three entering face 2 while the tag is inside face 1,
    # one at a face after the shaft saw it leave the mine, one never let in by the shaft.
    # Not firing: a walk from face 1 to face 2, and people in one place, raise nothing.
    import tempfile
    from pathlib import Path

    from shaftgate.station import site as site_file
    from shaftgate.station.alarms import Alarms
    from shaftgate.station.store import Store

    row.counted_already = True
    row.refusal_applies = False
    row.accepted_note = "n/a (each gateway sees one tag)"
    home = Path(tempfile.mkdtemp(prefix="shaftgate-clone-"))
    (home / "site.toml").write_text(_SITE)
    site = site_file.load(home / "site.toml")
    store = Store(site.database)
    alarms = Alarms(store, site)
    people = [roster_entry(t) for t in range(1, 12)]
    rigs = {}
    for gid, zone, kind in (
        ("gw-shaft", "shaft", "shaft"),
        ("gw-face1", "face1", "coal_face"),
        ("gw-face2", "face2", "coal_face"),
    ):
        cfg = dict(gateway_id=gid, zone_id=zone, zone_kind=kind, shifts=[[0, 0]])
        if kind == "shaft":
            cfg.update(role="shaft", mine_cap=200)
        r = Rig(config=cfg)
        r.call("hello", min_version=1, max_version=1)
        r.load_roster(people)
        r.ready()
        rigs[gid] = r
    held = {gid: 0 for gid in rigs}

    def feed(gid):
        r = rigs[gid]
        evs = [e for e in r.fetch(held[gid] + 1) if e[0] > held[gid]]
        if evs:
            held[gid] = evs[-1][0]
            names = ("seq", "time_s", "kind", "tag", "a", "b", "digest")
            with store.transaction() as conn:
                alarms.on_events(conn, gid, [dict(zip(names, e, strict=True)) for e in evs])

    shaft, face1, face2 = rigs["gw-shaft"], rigs["gw-face1"], rigs["gw-face2"]
    for t in range(1, 8):
        shaft.cross(t)
    shaft.cross(7, into=False)  # 7 leaves the mine
    feed("gw-shaft")
    for r in (face1, face2):
        r.run_s(120)  # the faces' clocks well past the shaft's exit of 7
    for t in (1, 2, 3, 4):
        face1.cross(t)
    face1.cross(1, into=False)
    feed("gw-face1")
    face2.cross(1)  # walked over from face 1: no alarm
    feed("gw-face2")
    clones = [(face2, t, "two_places:%d" % t) for t in (2, 3, 4)]
    clones += [(face1, 7, "outside_mine:7"), (face2, 9, "outside_mine:9")]
    for r, t, _ in clones:
        r.cross(t)
        row.attempts += 1
    feed("gw-face1")
    feed("gw-face2")
    shaft.run_s(200)
    with store.transaction() as conn:
        alarms.shaft_synced(conn, shaft.board.rtc)
    row.logged = sum(1 for _, _, key in clones if key in alarms.active)
    on_disk = {k for (k,) in store.read("SELECT key FROM alarms")}
    row.logged = min(row.logged, sum(1 for _, _, key in clones if key in on_disk))
    expected = {key for _, _, key in clones}
    row.false_alarms = len(
        [k for k in alarms.active if k.split(":")[0] in ("two_places", "outside_mine")]
    ) - len(expected & set(alarms.active))


def _tamper_runs(row, hows):
    # Staged, acked by the host, then people cross while it is away; someone changes the
    # flash; power on. When the host catches up from its last digest the chain must
    # break (R-DATA-2), or the gateway must have found and logged it itself.
    from gateway.eventlog import ChainBroken, verify_chain

    row.counted_already = True
    row.refusal_applies = False  # nothing is sent to refuse: the host must detect it
    for how, seqs in hows:
        for k in seqs:
            r = staged()
            held = r.fetch(1)
            anchor_seq, anchor = held[-1][0], held[-1][6]
            r.power_cut()  # the host is away from here: nothing is pushed to it
            r.ready()
            for tag in (4, 5, 6, 7, 8):
                r.cross(tag)
            new = r.last_seq()
            target = anchor_seq + 1 + k * max(1, (new - anchor_seq) // 4)
            how(r, target)
            r.power_cut()
            r.call("hello", min_version=1, max_version=1)
            row.attempts += 1
            got = [e for e in r.fetch(anchor_seq + 1) if e[0] > anchor_seq]
            try:
                verify_chain(got, anchor, anchor_seq)
            except ChainBroken:
                row.logged += 1  # detected by the host
                continue
            # Not broken: then the gateway itself must have found and logged it.
            if any(e[2] in (ev.LOG_TAMPERED, ev.LOG_RECORD_DAMAGED) for e in got):
                row.logged += 1


ATTACKS = (
    ("unsigned orders (every mutating type, roster and config pushes included)", unsigned),
    ("orders signed with a wrong key", wrong_key),
    ("accepted orders replayed", replayed),
    ("orders delivered out of order", reordered),
    ("stale captures (counter far below)", stale),
    ("a flood of 3,000 forged frames, then an authentic evacuation", flood),
    ("events edited, deleted, reordered or a segment removed on flash", events_edited),
    (
        "roster and config pushes without the key, and a roster load with a forged part",
        pushes_without_authority,
    ),
    ("events forged on flash: an entry slipped in, a segment named far ahead", events_forged),
    ("one tag at two places at once (a cloned tag): the station's alarm", cloned_tag),
)


def run_all():
    return [_run(name, fn) for name, fn in ATTACKS]
