"""Bad input for every parser a frame crosses, and for the gateway behind them (issue 13,
"Bad input"). Not a test file: tests/test_fuzz.py runs a short form in CI and
`./dev reliability fuzz --long` the long form, whose figures go to docs/reliability.md.

Inputs are valid samples of everything on the wire (requests of every type, signed ones,
replies, events), mutated the ways links and attackers damage bytes: bit flips, bytes set
to edge values, insertions, deletions, duplicated and swapped ranges, truncation,
splices of two samples, and plain random bytes. Seeded, so a finding replays.

Each target returns a Tally: inputs tried, crashes (an exception other than the
parser's own error, or a gateway fault), and for the gateway, state changes caused by
invalid input. All three of the latter must be 0.
"""

import random

from apprig import NOW_S, Rig, person_of, roster_entry

from gateway import events as ev
from gateway import roles
from gateway.permits import KEY_MAINTENANCE
from gatewire import auth, cbor, frame, messages
from gatewire.errors import ProtocolError

EDGE_BYTES = (0x00, 0x01, 0x17, 0x18, 0x1B, 0x1F, 0x3F, 0x5F, 0x7F, 0x80, 0x9F, 0xBF, 0xFF)
KEY = bytes(range(32))


class Tally:
    def __init__(self, target):
        self.target = target
        self.tried = 0
        self.accepted = 0  # inputs the target took as valid
        self.crashes = []  # (input, what went wrong), the first few kept
        self.crash_count = 0
        self.state_changes = 0
        self.changes = []

    def crash(self, data, what):
        self.crash_count += 1
        if len(self.crashes) < 5:
            self.crashes.append((bytes(data)[:200], what))

    def as_row(self):
        return {
            "target": self.target,
            "tried": self.tried,
            "accepted": self.accepted,
            "crashes": self.crash_count,
            "state_changes": self.state_changes,
        }


# ---- samples of everything on the wire ----


def _roster():
    out = []
    for t in range(1, 9):
        role = roles.TEAM_LEADER if t == 2 else roles.MINER
        out.append(roster_entry(t, role=role))
    return out


def _permit_fields(permit_id):
    return dict(
        permit_id=permit_id,
        job_id=100 + permit_id,
        measure_ref="KM-%d" % permit_id,
        start_s=NOW_S,
        end_s=NOW_S + 7200,
        workers=[person_of(4)],
        fire_watcher=person_of(3),
        flags=KEY_MAINTENANCE | 1,
    )


def sample_requests():
    # (name, fields) for every request type, with values a real host sends.
    return [
        ("hello", dict(min_version=1, max_version=1, host_id="fuzz")),
        ("status", {}),
        ("occupants", dict(start=0, max_count=10)),
        ("events-since", dict(from_seq=1, max_count=8)),
        ("ack", dict(up_to_seq=1)),
        ("config-get", dict(keys=["warn_pct", "zone_id"])),
        ("config-set", dict(changes={"warn_pct": 75, "max_dwell_s": 36000})),
        (
            "roster-load",
            dict(load_id=5, part=0, parts=1, entries=_roster(), total=len(_roster())),
        ),
        ("permit-issue", _permit_fields(9)),
        ("permit-revoke", dict(permit_id=9)),
        ("permit-list", dict(start=0)),
        ("evacuate", dict(reason=2, drill=True, by=person_of(2))),
        ("all-clear", dict(by=person_of(2))),
        ("cap-override", dict(cap=12, expiry_s=NOW_S + 3600, reason="rectification")),
        ("seal", dict(reason="closed working")),
        ("unseal", dict(reason="reopened")),
        ("time-set", dict(time_s=NOW_S + 60)),
    ]


def sample_payloads(counter0=1000):
    # CBOR payloads: every request (the mutating ones signed), replies and events.
    out = []
    signer = auth.Signer(KEY, counter0)
    rid = 1
    for name, fields in sample_requests():
        env = messages.request(name, rid, **fields)
        if messages.is_mutating(env[messages.KEY_TYPE]):
            signer.sign(env)
        out.append(cbor.dumps(env))
        rid += 1
    out.append(cbor.dumps(messages.error_reply(3, 7, "refused: over cap", "cap")))
    out.append(cbor.dumps(messages.event(12, NOW_S, ev.ENTRY, 77, 1077, 3, bytes(16))))
    out.append(cbor.dumps({0: 64, 1: 4, 2: {0: 3}}))
    return out


# ---- mutation ----


def mutate(rng, data, corpus):
    # One to four damages; never returns the input unchanged.
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[rng.randrange(n)] = rng.choice(EDGE_BYTES)
        elif op == 2:
            i = rng.randint(0, n)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            i = rng.randrange(n)
            del b[i : i + rng.randint(1, 8)]
        elif op == 4 and n:
            i = rng.randrange(n)
            j = rng.randint(i, min(n, i + 16))
            b[j:j] = b[i:j]
        elif op == 5 and n > 1:
            del b[rng.randrange(1, n) :]
        elif op == 6:
            other = rng.choice(corpus)
            cut = rng.randint(0, len(other))
            b = b[: rng.randint(0, n)] + bytearray(other[cut:])
        elif op == 7 and n > 2:
            i, j = sorted(rng.sample(range(n), 2))
            b[i], b[j] = b[j], b[i]
        else:
            b = bytearray(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    if bytes(b) == bytes(data):
        b.append(rng.randrange(256))
    return bytes(b)


# ---- targets: the parsers ----


def fuzz_frame(n, seed):
    # Damaged wire bytes in random chunks: the decoder never raises, and no damaged frame
    # comes out as a payload (bar CRC-32's 2**-32 chance, which the figure would show).
    rng = random.Random(seed)
    t = Tally("frame decoder")
    corpus = sample_payloads()
    wires = [frame.encode(p) for p in corpus]
    valid = set(corpus)
    d = frame.Decoder()
    for _ in range(n):
        wire = mutate(rng, rng.choice(wires), wires)
        t.tried += 1
        try:
            got = []
            at = 0
            while at < len(wire):
                step = rng.randint(1, 64)
                got += d.feed(wire[at : at + step])
                at += step
            got += d.feed(b"\x00")  # end the frame, as the next frame's start would
        except Exception as e:
            t.crash(wire, "%s: %s" % (type(e).__name__, e))
            d = frame.Decoder()
            continue
        for p in got:
            if p in valid:
                t.accepted += 1
            else:
                # A mutated frame is let through only if it decodes to a valid frame's
                # bytes (a flip inside the delimiters can leave one whole frame behind).
                t.crash(wire, "damaged frame accepted: %r" % p[:40])
    return t


def fuzz_cbor(n, seed):
    # loads() gives a value or CBORDecodeError, nothing else; a value it gives encodes
    # back to bytes that decode to the same value.
    rng = random.Random(seed)
    t = Tally("CBOR decoder")
    corpus = sample_payloads()
    for _ in range(n):
        data = mutate(rng, rng.choice(corpus), corpus)
        t.tried += 1
        try:
            obj = cbor.loads(data)
        except cbor.CBORDecodeError:
            continue
        except Exception as e:
            t.crash(data, "%s: %s" % (type(e).__name__, e))
            continue
        t.accepted += 1
        try:
            again = cbor.loads(cbor.dumps(obj))
        except Exception as e:
            t.crash(data, "decoded value does not round-trip: %s: %s" % (type(e).__name__, e))
            continue
        if again != obj:
            t.crash(data, "decoded value changes on a round trip")
    return t


def fuzz_messages(n, seed):
    # Every CBOR value the decoder takes, through the validator as a request, a reply and
    # an event: a parsed message or ProtocolError, nothing else.
    rng = random.Random(seed)
    t = Tally("message validator")
    corpus = sample_payloads()
    names = [name for name, _ in sample_requests()]
    for _ in range(n):
        data = mutate(rng, rng.choice(corpus), corpus)
        try:
            obj = cbor.loads(data)
        except cbor.CBORDecodeError:
            obj = _random_value(rng, 3)
        t.tried += 1
        answers = rng.choice(names)
        for expect in ("request", "reply", "event"):
            try:
                messages.parse(obj, expect, answers=answers if expect == "reply" else None)
                t.accepted += 1
            except ProtocolError:
                pass
            except Exception as e:
                t.crash(data, "parse(%s): %s: %s" % (expect, type(e).__name__, e))
    return t


def _random_value(rng, depth):
    k = rng.randrange(7 if depth else 4)
    if k == 0:
        return rng.choice([0, 1, -1, 23, 24, 255, 256, 2**31, 2**32, 2**64 - 1, -(2**64)])
    if k == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 20)))
    if k == 2:
        return rng.choice(["", "gw", "工作面一", "\x00", "x" * 300])
    if k == 3:
        return rng.choice([None, True, False, 1.5, float("nan")])
    if k == 4:
        return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice([0, 1, 2, 3, 4, 5, "a"]): _random_value(rng, depth - 1)
        for _ in range(rng.randint(0, 5))
    }


# ---- target: the gateway behind them ----


def gateway_state(rig):
    # What invalid input must never change: who is in, what may be done, the orders in
    # force, the configuration, the roster and the replay counter.
    gw = rig.gw
    status = rig.call("status")
    keep = (
        "occupants",
        "cap",
        "shift",
        "sealed",
        "evacuating",
        "drill",
        "override_active",
        "work_allowed",
        "hot_work_allowed",
        "permits_active",
    )
    return (
        tuple((k, status[k]) for k in keep),
        rig.occupants(),
        tuple(sorted((p["permit_id"], p["end_s"]) for p in rig.call("permit-list")["permits"])),
        tuple(sorted(rig.call("config-get")["settings"].items(), key=lambda kv: kv[0])),
        gw.zone.roster.n,
        gw.verifier.last_counter,
        gw.system,
    )


def _staged_gateway():
    # A face gateway mid-shift: roster, live video and gas, people inside, a permit in
    # force; then every mutating sample sent once as the host signed it, so that every
    # fuzzed copy of one is a replay or a forgery.
    rig = Rig()
    rig.call("hello", min_version=1, max_version=1)
    rig.load_roster(_roster())
    rig.ready()
    for tag in (1, 3, 4):
        rig.cross(tag)
    rig.signer = auth.Signer(KEY, 5000)
    payloads = sample_payloads(counter0=rig.signer.counter)
    for p in payloads:
        rig.board.rx.extend(frame.encode(p))
        rig.step(10, 3)
    rig.step(500, 30)  # past every hold-off the orders started: time alone changes nothing after
    rig.inbox = []
    rig.signer = auth.Signer(KEY, 10**6)  # the rig's own requests from here: above them all
    rig.ack(rig.last_seq())
    return rig, payloads


def fuzz_gateway(n, seed, check_every=25):
    rng = random.Random(seed)
    t = Tally("gateway command handler")
    rig, corpus = _staged_gateway()
    before = gateway_state(rig)
    for i in range(n):
        data = mutate(rng, rng.choice(corpus), corpus) or bytes([rng.randrange(256)])
        # Most inputs framed whole (so they reach the handler), some as raw damaged bytes.
        wire = frame.encode(data) if rng.random() < 0.9 else mutate(rng, frame.encode(data), corpus)
        t.tried += 1
        rig.board.rx.extend(wire)
        try:
            rig.step(10)
        except Exception as e:
            t.crash(data, "step raised %s: %s" % (type(e).__name__, e))
            rig.power_cut()
        if (i + 1) % check_every == 0 or i == n - 1:
            rig.step(10, 2)
            # Replies to fuzzed bytes that were valid reads (a status, a hello): taken.
            t.accepted += len([o for o in rig.inbox if o[messages.KEY_TYPE] == messages.OK])
            rig.inbox = []
            now = gateway_state(rig)
            if now != before:
                t.state_changes += 1
                if len(t.changes) < 5:
                    t.changes.append((data[:200], _diff(before, now)))
            for e in rig.fetch(rig.acked + 1):
                if e[2] == ev.INTERNAL_ERROR:
                    t.crash(data, "INTERNAL_ERROR logged: a handler raised")
            rig.ack(rig.last_seq())  # the station acks as it records: a signed order
            before = gateway_state(rig)
    return t


def _diff(before, now):
    return [(i, a, b) for i, (a, b) in enumerate(zip(before, now, strict=True)) if a != b]


TARGETS = {
    "frame": fuzz_frame,
    "cbor": fuzz_cbor,
    "messages": fuzz_messages,
    "gateway": fuzz_gateway,
}
