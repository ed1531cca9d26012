"""Power cuts during a busy shift (issue 13, "Power cuts"). Not a test file:
tests/test_power_cuts_busy.py runs a few cuts in CI and `./dev reliability powercuts`
writes the long form's figures to docs/reliability.md.

The shaft gateway runs the real firmware (gateway.app) on a board whose flash is a real
folder behind tornflash.TornFlash. Each cycle puts everything a busy shift has in flight
at once: people crossing both ways, the host's ack of what it stored, a signed order
(a permit, its revocation, a config change) and a roster load of two parts; then the
power goes at a random instant: part-way through a random flash operation (its bytes
cut short, or filled with zeros or erased flash), or between two steps once everything
was written. After each power-on the host does what a host does (hello, catch up from
what it holds, carry on) and the cycle counts:

- acknowledged events lost: events the host holds (pushed or fetched, chain-verified)
  that the gateway's log no longer continues from (a gap or a broken chain): must be 0;
- boots that held every output safe until restored: entry refused, work and hot work
  off, from power-on through every boot phase, and no work before the video hold-off:
  must be all;
- the ledger (who is inside) equal to the reference model: the host's own replay of
  every ENTRY and EXIT in its record, independent of the gateway's snapshot and replay;
- every order answered OK in force (the ack, the permit, the config change, the roster
  whose last part was answered OK), and a roster never half-loaded.
"""

import collections
import random

from apprig import KEY, NOW_S, Rig, person_of, roster_entry
from tornboard import TornBoard
from tornflash import PowerCut

from gateway import events as ev
from gateway import roles
from gateway.eventlog import ChainBroken, genesis_digest, verify_chain
from gateway.permits import KEY_MAINTENANCE
from gatewire import frame, messages

CREW = 60
EXTRA = tuple(range(201, 221))  # in roster B only; never walk
VIDEO_HOLDOFF_MS = 5000
STEP_MS = 100
MAX_OP = 40  # flash operations a cycle makes, about (the cut lands in 0..MAX_OP-1)
SAFE = {"work": False, "hot": False, "refused": True}


def _crew_entry(tag):
    role = roles.TEAM_LEADER if tag % 10 == 1 else roles.MINER
    return roster_entry(tag, role=role)


ROSTER_A = [_crew_entry(t) for t in range(1, CREW + 1)]
ROSTER_B = ROSTER_A + [roster_entry(t) for t in EXTRA]


class Figures:
    def __init__(self):
        self.cuts = 0
        self.in_a_write = 0  # the cut fell part-way through a flash operation
        self.acked_lost = 0
        self.boots_safe = 0
        self.ledger_equal = 0
        self.orders_ok = 0  # orders answered OK before the cut (ack, command, roster)
        self.orders_lost = 0  # ... of which not in force after it
        self.roster_half = 0
        self.crossings_logged = 0  # in flight at the cut and on the log after it
        self.crossings_in_flight = 0
        self.failures = []  # (cycle, what)
        self.where = collections.Counter()  # (call, file) the cut fell in
        self.answered = collections.Counter()  # order name -> answered OK before a cut
        self.sent = collections.Counter()  # order name -> in flight at a cut

    def fail(self, cycle, what):
        self.failures.append((cycle, what))

    def ok(self):
        return not self.failures and self.boots_safe == self.cuts == self.ledger_equal


class Host:
    # The dispatch host's record: events stored in seq order from 1, each verified to
    # chain from the one before (from the gateway's genesis).
    def __init__(self, gateway_id):
        self.events = []
        self.digest = genesis_digest(gateway_id)

    @property
    def last(self):
        return self.events[-1][0] if self.events else 0

    def take(self, evs):
        # Stores the contiguous run that continues the record; ChainBroken if it does
        # not chain. Returns how many it stored.
        run = []
        for e in sorted({e[0]: e for e in evs}.values()):
            if e[0] == self.last + 1 + len(run):
                run.append(e)
            elif e[0] > self.last + len(run):
                break
        if run:
            self.digest = verify_chain(run, self.digest, self.last)
            self.events.extend(run)
        return len(run)

    def inside(self):
        # The reference model of the ledger: the record's own entries and exits.
        inside = set()
        for e in self.events:
            if e[2] == ev.ENTRY:
                inside.add(e[3])
            elif e[2] == ev.EXIT:
                inside.discard(e[3])
        return inside


def _config():
    return {
        "gateway_id": "gw-shaft",
        "zone_id": "shaft",
        "role": "shaft",
        "zone_kind": "shaft",
        "mine_cap": 200,
        "shifts": [[0, 0]],
        "video_holdoff_ms": VIDEO_HOLDOFF_MS,
    }


def _outputs(board):
    return {"work": board.work, "hot": board.hot, "refused": board.refused}


def _boot(rig):
    # Power on: boot one phase a step, outputs checked after each; then the host says
    # hello. Returns whether every output stayed safe until the boot was done and work
    # waited for the video hold-off.
    from gateway import app

    rtc = rig.board.rtc  # the RTC runs on through the cut
    rig.board = TornBoard(rig.root, rig.cameras)
    rig.board.rtc = rtc
    rig.decoder = frame.Decoder()
    rig.inbox = []
    rig.pushed = []
    rig.seen = {}
    rig.gw = app.Gateway(rig.board, staged=True)
    safe = _outputs(rig.board) == SAFE  # set first thing, before any flash is read
    t_on = rig.board.ms
    phases = 0
    while rig.gw.booting:
        rig.step(STEP_MS)
        phases += 1
        safe = safe and _outputs(rig.board) == SAFE
        if phases > 500:
            return False  # a boot that never ends is not safe: it never restores
    # Restored: work only after the video hold-off from power-on.
    while rig.board.ms - t_on < VIDEO_HOLDOFF_MS - STEP_MS:
        rig.step(STEP_MS)
        safe = safe and not rig.board.work and not rig.board.hot
    rig.call("hello", min_version=1, max_version=1)
    return safe


def _order(rig, rng, state):
    # A signed order to have in flight, and the check that it is in force.
    kind = rng.choice(("permit-issue", "permit-revoke", "config-set"))
    if kind == "permit-revoke" and not state["permits"]:
        kind = "permit-issue"
    if kind == "permit-issue":
        state["next_permit"] += 1
        pid = state["next_permit"]
        fields = dict(
            permit_id=pid,
            job_id=100 + pid,
            measure_ref="KM-%d" % pid,
            start_s=NOW_S,
            end_s=NOW_S + 43200,
            workers=[person_of(1 + pid % CREW)],
            fire_watcher=0,
            flags=KEY_MAINTENANCE,
        )

        def check(r):
            return pid in [p["permit_id"] for p in r.call("permit-list")["permits"]]

        def done():
            state["permits"].append(pid)

    elif kind == "permit-revoke":
        pid = rng.choice(state["permits"])
        fields = dict(permit_id=pid)

        def check(r):
            return pid not in [p["permit_id"] for p in r.call("permit-list")["permits"]]

        def done():
            state["permits"].remove(pid)

    else:
        pct = rng.choice((70, 75, 80, 85))
        fields = dict(changes={"warn_pct": pct})

        def check(r):
            return r.call("config-get", keys=["warn_pct"])["settings"]["warn_pct"] == pct

        def done():
            pass

    return rig.envelope(kind, **fields), check, done


def _roster_load(rig, state):
    state["load_id"] += 1
    entries = ROSTER_B if state["roster"] is ROSTER_A else ROSTER_A
    half = len(entries) // 2
    envs = []
    for part, chunk in enumerate((entries[:half], entries[half:])):
        envs.append(
            rig.envelope(
                "roster-load",
                load_id=state["load_id"],
                part=part,
                parts=2,
                entries=chunk,
                total=len(entries),
            )
        )
    return envs, entries


def _replies(rig):
    out = {}
    for obj in rig.inbox:
        out[obj[messages.KEY_ID]] = obj[messages.KEY_TYPE] == messages.OK
    return out


def _roster_now(rig):
    roster = rig.gw.zone.roster
    if roster.n == len(ROSTER_B) and roster.find_person(person_of(EXTRA[0])) >= 0:
        return ROSTER_B
    if roster.n == len(ROSTER_A) and roster.find_person(person_of(EXTRA[0])) < 0:
        return ROSTER_A
    return None  # neither: a mix


def _catch_up(rig, host):
    # The host's catch-up after a boot: everything after what it holds, which must
    # continue its record (no gap, the chain unbroken).
    got = []
    at = host.last + 1
    while True:
        page = rig.call("events-since", from_seq=at, max_count=messages.EVENTS_MAX)["events"]
        if not page:
            break
        got.extend(page)
        at = page[-1]["seq"] + 1
    evs = [
        (b["seq"], b["time_s"], b["kind"], b["tag"], b["a"], b["b"], bytes(b["digest"]))
        for b in got
    ]
    if evs and evs[0][0] != host.last + 1:
        raise ChainBroken(0, evs[0][0], "seq %d after %d held" % (evs[0][0], host.last))
    host.take(evs)
    return rig.call("status")


def cycle(rig, rng, host, state, figs, n):
    inside = host.inside()
    outside = [t for t in range(1, CREW + 1) if t not in inside]
    going_in = rng.sample(outside, min(len(outside), rng.randint(2, 12)))
    going_out = rng.sample(sorted(inside), min(len(inside), rng.randint(0, 8)))
    b = rig.board
    for t in going_in:
        b.reads.append((0, t, -60, 0))
        b.reads.append((1, t, -60, 0))
    for t in going_out:
        b.reads.append((1, t, -60, 0))
        b.reads.append((0, t, -60, 0))
        b.reads.append((0, t, -60, 0))
    # The ack of what the host holds, an order and a roster load, all on the wire now.
    acked_to = host.last
    ack = rig.envelope("ack", up_to_seq=acked_to) if acked_to else None
    order, order_check, order_done = _order(rig, rng, state)
    loads, target = _roster_load(rig, state)
    sends = [e for e in (ack, order) if e is not None] + loads
    rng.shuffle(sends)
    for env in sends:
        rig.send(env)

    flash = b.flash
    op = rng.randrange(MAX_OP)
    flash.arm(op, rng.randrange(0, 64), rng.choice((None, 0, 0xFF)))
    steps = rng.randint(5, 60)  # the cut, if no flash operation took it first
    try:
        for _ in range(steps):
            rig.step(STEP_MS)
    except PowerCut:
        figs.in_a_write += 1
        call, name = flash.history[-1][:2]
        if name.startswith("ev") and not name.startswith("evmeta"):
            name = "ev<seq>"
        figs.where[(call, name)] += 1
        rig._collect()  # what left the board before the power went
    figs.cuts += 1
    flash.disarm()
    replies = _replies(rig)
    for env in sends:
        kind = messages.name_of(env[messages.KEY_TYPE])
        if env is loads[0]:
            continue  # a load counts once, by its last part
        figs.sent[kind] += 1
        figs.answered[kind] += bool(replies.get(env[messages.KEY_ID]))
    try:
        host.take(rig.pushed)
    except ChainBroken as e:
        figs.fail(n, "pushed events do not chain: %s" % e)
    flash.close()

    if not _boot(rig):
        figs.fail(n, "an output was not safe during the boot or before the hold-off")
    else:
        figs.boots_safe += 1
    try:
        status = _catch_up(rig, host)
    except ChainBroken as e:
        figs.acked_lost += 1
        figs.fail(n, "the log does not continue the host's record: %s" % e)
        return False
    if status["last_seq"] < host.last:
        figs.acked_lost += host.last - status["last_seq"]
        figs.fail(
            n, "the gateway's log ends at %d, the host holds %d" % (status["last_seq"], host.last)
        )

    # Orders answered OK are in force.
    if ack is not None and replies.get(ack[messages.KEY_ID]):
        figs.orders_ok += 1
        if rig.gw.log.acked < acked_to:
            figs.orders_lost += 1
            figs.fail(n, "ack answered OK, then undone")
    if replies.get(order[messages.KEY_ID]):
        figs.orders_ok += 1
        order_done()
        if not order_check(rig):
            figs.orders_lost += 1
            figs.fail(n, "%s answered OK, then undone" % messages.name_of(order[messages.KEY_TYPE]))
    else:
        # Either state is allowed; the host learns which from the gateway.
        state["permits"] = [p["permit_id"] for p in rig.call("permit-list")["permits"]]
    now = _roster_now(rig)
    if now is None:
        figs.roster_half += 1
        figs.fail(n, "the roster in force is neither the old one nor the new one")
    if replies.get(loads[-1][messages.KEY_ID]):
        figs.orders_ok += 1
        if now is not target:
            figs.orders_lost += 1
            figs.fail(n, "roster load answered complete, then undone")
    if now is not None:
        state["roster"] = now

    # Who is inside: the gateway's ledger against the host's reference.
    total, rows = rig.occupants()
    ledger = sorted(r[0] for r in rows)
    want = sorted(host.inside())
    if ledger == want and total == len(want):
        figs.ledger_equal += 1
    else:
        figs.fail(n, "ledger %s (total %d) is not the reference %s" % (ledger, total, want))
    moved = set(going_in) | set(going_out)
    figs.crossings_in_flight += len(moved)
    logged = {e[3] for e in host.events[-400:] if e[2] in (ev.ENTRY, ev.EXIT)}
    figs.crossings_logged += len(moved & logged)
    # A quiet spell: every crossing in the doorway decided before the next cycle.
    rig.step(STEP_MS, 30)
    try:
        host.take(rig.pushed)
    except ChainBroken as e:
        figs.fail(n, "pushed events do not chain: %s" % e)
    rig.pushed = []
    return True


def run(cuts, seed):
    # Returns Figures for `cuts` power cuts from one seeded shift.
    rng = random.Random(seed)
    rig = Rig(config=_config(), key=KEY, board_class=TornBoard)
    rig.call("hello", min_version=1, max_version=1)
    state = {"roster": ROSTER_A, "load_id": 1, "next_permit": 0, "permits": []}
    rig.load_roster(ROSTER_A, part_size=40, load_id=1)
    rig.ready()
    host = Host("gw-shaft")
    host.take(rig.pushed)
    rig.pushed = []
    figs = Figures()
    for n in range(1, cuts + 1):
        if not cycle(rig, rng, host, state, figs, n):
            break
    figs.events = host.last
    return figs


# ---- the long form: `./dev reliability powercuts [CUTS]` ----

SEEDS_FROM = 20261204
PER_SEED = 200


def _where_text(where):
    names = {
        "ev<seq>": "an event-log segment",
        "evmeta": "the log's ack record",
        "evmeta2": "the log's ack record",
        "auth.cbor": "the command counter",
        "config.cbor": "the config",
    }
    by_what = collections.Counter()
    for (call, name), n in where.items():
        what = names.get(name)
        if what is None:
            if name.startswith("state"):
                what = "the state snapshot"
            elif name.startswith("roster"):
                what = "a roster file"
            else:
                what = name
        by_what["%s of %s" % (call, what)] += n
    return ", ".join("%s %d" % (k, n) for k, n in by_what.most_common())


def long_form(cuts, write_section, stamp):
    # One shift per PER_SEED cuts, seeds from SEEDS_FROM; figures summed.
    total = Figures()
    events = 0
    seeds = []
    left = cuts
    seed = SEEDS_FROM
    while left > 0:
        n = min(PER_SEED, left)
        f = run(n, seed)
        seeds.append(seed)
        for k in (
            "cuts",
            "in_a_write",
            "acked_lost",
            "boots_safe",
            "ledger_equal",
            "orders_ok",
            "orders_lost",
            "roster_half",
            "crossings_logged",
            "crossings_in_flight",
        ):
            setattr(total, k, getattr(total, k) + getattr(f, k))
        total.where.update(f.where)
        total.answered.update(f.answered)
        total.sent.update(f.sent)
        total.failures += [(seed, c, w) for c, w in f.failures]
        events += f.events
        print(
            "seed %d: %d cuts, %d in a flash write, %d failures"
            % (seed, f.cuts, f.in_a_write, len(f.failures)),
            flush=True,
        )
        left -= n
        seed += 1
    t = total
    orders = ", ".join("%s %d of %d" % (k, t.answered[k], t.sent[k]) for k in sorted(t.sent))
    lines = [
        "Last run: %s UTC, `./dev reliability powercuts %d`: %d power cuts over %d busy"
        " shifts (seeds %d-%d), %d events logged." % (stamp, cuts, t.cuts, len(seeds),
                                                      seeds[0], seeds[-1], events),
        "",
        "| figure | result | must be |",
        "|---|---:|---|",
        "| power cuts | %d | >= 200 |" % t.cuts,
        "| ... part-way through a flash operation | %d | |" % t.in_a_write,
        "| acknowledged events lost | %d | 0 |" % t.acked_lost,
        "| boots that held every output safe until restored | %d of %d | all |"
        % (t.boots_safe, t.cuts),
        "| ledger equal to the reference after recovery | %d of %d | all |"
        % (t.ledger_equal, t.cuts),
        "| orders answered OK before the cut, then not in force | %d of %d | 0 |"
        % (t.orders_lost, t.orders_ok),
        "| roster half-loaded after a cut | %d | 0 |" % t.roster_half,
        "| crossings in flight at the cut that were logged | %d of %d | (those not yet"
        " decided at the door are lost with the reader's RAM) |"
        % (t.crossings_logged, t.crossings_in_flight),
        "",
        "In flight at every cut: 2-12 people walking in and 0-8 out, the host's ack of"
        " what it holds, a signed order (permit issue or revoke, config change) and a"
        " two-part roster load (60 or 80 people), in a random order. Orders answered OK"
        " before the cut: %s. Where the cuts fell: %s; the rest between two steps."
        % (orders, _where_text(t.where)),
        "",
        "The shaft gateway's firmware runs on CPython over a real folder of files"
        " (tests/tornflash.py cuts a write part-way, leaving a short file, zeros or erased"
        " flash). The ledger's reference is the host's own replay of every ENTRY and EXIT"
        " it holds, chain-verified, not the gateway's snapshot. Short form in CI:"
        " tests/test_power_cuts_busy.py (40 cuts, and two planted bugs it must catch).",
    ]  # fmt: skip
    if t.failures:
        lines.append("")
        lines.append("Failures (seed, cut, what):")
        for f in t.failures[:20]:
            lines.append("- %d, %d: %s" % f)
    write_section("powercuts-busy", "Power cuts during a busy shift", "\n".join(lines))
    return 0 if not t.failures and t.cuts == t.boots_safe == t.ledger_equal else 1
