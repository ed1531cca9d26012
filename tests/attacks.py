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
    names = [n for n in rig.gw.flash.names() if n.startswith("ev") and n != "evmeta"]
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
    # the board's flash and powers it up again. When the host catches up from its last
    # digest, the chain must break (R-DATA-2).
    from gateway.eventlog import ChainBroken, verify_chain

    row.counted_already = True
    row.refusal_applies = False  # nothing is sent to refuse: the host must detect it
    for how, seqs in ((_edit, (0, 1, 3)), (_delete, (1,)), (_swap, (0,)), (_drop_segment, (2,))):
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
)


def run_all():
    return [_run(name, fn) for name, fn in ATTACKS]
