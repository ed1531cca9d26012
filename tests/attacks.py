"""Attacks on a gateway by someone on the link without the key, or with an old capture
(issue 13, "Attacks"). Not a test file: tests/test_attacks.py runs it in CI and
`./dev reliability attacks` writes its figures to docs/reliability.md.

Each attack returns a row: attempts, accepted (must be 0), refused with the right
error, and detected-and-logged (must equal attempts: the gateway's own log holds the
evidence a dispatcher sees). The gateway's state must not move.
"""

import fuzzing
from apprig import KEY, OTHER_KEY, Rig, roster_entry

from gateway import events as ev
from gateway import roles
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
    # The gateway's evidence of refused attempts, from its own log.
    n = 0
    for e in rig.fetch(since_seq + 1):
        if e[2] == ev.AUTH_REJECTED:
            n += 1
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


ATTACKS = (
    ("unsigned orders (every mutating type, roster and config pushes included)", unsigned),
    ("orders signed with a wrong key", wrong_key),
    ("accepted orders replayed", replayed),
    ("orders delivered out of order", reordered),
    ("stale captures (counter far below)", stale),
)


def run_all():
    return [_run(name, fn) for name, fn in ATTACKS]
