# A doorway noise model: people crossing (in crowds), with what the readers and the beam
# really report, and the truth of who is inside. Used by the property tests
# (tests/test_doorway_noise.py), the bench (benches/bench_doorway.py) and the HIL cage
# scenario. The world knows nothing of the doorway's rules; it only says what happened.
#
# What it models (issue 10):
#   - a crossing: 1-4 reads at the point a person comes from, then 1-4 at the other, each
#     run a few hundred ms apart; an inward crossing cuts the beam between the two;
#   - a reader miss: someone entering read at the inner point only (the beam still counts
#     the body);
#   - a real turn-back: read at the origin, once at the other point, then read on at the
#     origin (2-4 more reads); no beam body (they never passed it);
#   - stray reads: one read of someone at either point at any time (a reflection, a reader
#     repeating, a neighbour's antenna). A stray is a single read, so strays of one
#     person are at least STRAY_GAP_MS apart: two reads close together are a passage.
#   - Each person's passages are at least PASSAGE_GAP_MS apart (the doorway's window):
#     checkpoints come when everyone has been quiet that long.

OUTER = 0
INNER = 1
WINDOW_MS = 8000  # the doorway's default window
STRAY_GAP_MS = WINDOW_MS + 4000
PASSAGE_GAP_MS = WINDOW_MS + 2000
QUIET_MS = 30000  # enough for every track, beam pairing and held candidate to end

CROSS = "cross"
MISS_OUTER = "miss-outer"  # entering, outer reads missed
TURN_BACK = "turn-back"


class World:
    def __init__(self):
        self.timeline = []  # (t_ms, order, what, point, tag, rssi): what "read" / "beam"
        self.inside = set()  # truth at the end of the timeline
        self._busy = {}  # tag -> t_ms its last passage ended
        self._strays = {}  # tag -> [t_ms of its strays]
        self._order = 0
        self.crossings = 0  # real crossings (in or out)
        self.thin_exits = []  # tags that left read once at the outer point
        self.end_ms = 0

    def __repr__(self):
        # The timeline, for a failing example: t, what, point, tag.
        out = []
        for t, _, what, point, tag, _ in sorted(self.timeline):
            out.append("%d %s" % (t, "beam" if what == "beam" else "%s%d" % ("OI"[point], tag)))
        return "World(%s)" % ", ".join(out)

    def _add(self, t, what, point=0, tag=0, rssi=0):
        self._order += 1
        self.timeline.append((t, self._order, what, point, tag, rssi))
        if t > self.end_ms:
            self.end_ms = t

    def free_at(self, tag):
        return self._busy.get(tag, -PASSAGE_GAP_MS) + PASSAGE_GAP_MS

    def passage(self, tag, t0, kind, n_first, n_second, spacing_ms=(150, 400), gap_ms=600):
        # One person's passage starting at t0 (or when they are free); returns its end.
        # kind CROSS goes the other way from where they are; MISS_OUTER is an entry read
        # inside only; TURN_BACK comes back to where they were.
        t = max(t0, self.free_at(tag))
        lo, hi = spacing_ms
        into = tag not in self.inside
        first = OUTER if into else INNER
        second = INNER if into else OUTER
        step = (lo + hi) // 2
        if kind == MISS_OUTER:
            if not into:
                kind = CROSS
            else:
                t += gap_ms
                self._add(t - gap_ms // 2, "beam")
                for k in range(n_second):
                    self._add(t + k * step, "read", INNER, tag, -55)
                t += n_second * step
                self.inside.add(tag)
                self.crossings += 1
                self._busy[tag] = t
                return t
        for k in range(n_first):
            self._add(t + k * step, "read", first, tag, -55)
        t += n_first * step + gap_ms
        if kind == TURN_BACK:
            self._add(t, "read", second, tag, -70)
            t += gap_ms
            for k in range(max(2, n_second)):
                self._add(t + k * step, "read", first, tag, -55)
            t += max(2, n_second) * step
        else:
            if into:
                self._add(t - gap_ms // 2, "beam")
            for k in range(n_second):
                self._add(t + k * step, "read", second, tag, -55)
            t += n_second * step
            self.crossings += 1
            if into:
                self.inside.add(tag)
            else:
                self.inside.discard(tag)
                if n_second == 1:
                    self.thin_exits.append(tag)
        self._busy[tag] = t
        return t

    def stray(self, tag, point, t):
        # A single read; False (and nothing added) if it would come close to another.
        for s in self._strays.get(tag, ()):
            if abs(s - t) < STRAY_GAP_MS:
                return False
        self._strays.setdefault(tag, []).append(t)
        self._add(t, "read", point, tag, -80)
        return True

    def sorted_timeline(self):
        return sorted(self.timeline)


def play(zone, timeline, clock, until_ms, step_ms=100, start=0):
    # Feeds the timeline (ms relative to clock.ms at the first call) to a zone, ticking
    # every step_ms; returns the index of the first entry not yet played.
    i = start
    beam = getattr(zone, "_noise_beam", 0)
    while True:
        while i < len(timeline) and timeline[i][0] + clock.base <= clock.ms:
            _, _, what, point, tag, rssi = timeline[i]
            if what == "beam":
                beam += 1
                zone.on_beam(beam, clock.ms)
            else:
                zone.on_read(point, tag, rssi, 0, clock.ms, clock.s)
            i += 1
        zone._noise_beam = beam
        zone.tick(clock.ms, clock.s)
        if clock.ms - clock.base >= until_ms:
            return i
        clock.step(step_ms)


def play_to_board(board, advance, timeline, i, until_ms, now_ms, step_s=0.25, after_step=None):
    # Sends the timeline's reads and beam bodies to a board (read_tag, beam) in step_s
    # steps up to until_ms, moving its time with advance(seconds); a quiet doorway lets
    # time pass in one step. after_step(), if given, runs after each step. Returns (next
    # index, model time reached).
    while now_ms < until_ms:
        step_end = now_ms + int(step_s * 1000)
        bodies = 0
        while i < len(timeline) and timeline[i][0] < step_end:
            _, _, what, point, tag, rssi = timeline[i]
            if what == "beam":
                bodies += 1
            else:
                board.read_tag(point, tag, rssi)
            i += 1
        if bodies:
            board.beam(bodies)
        if i >= len(timeline) or timeline[i][0] > step_end + 5000:
            target = until_ms if i >= len(timeline) else min(until_ms, timeline[i][0])
            advance((target - now_ms) / 1000.0)
            now_ms = target
        else:
            advance(step_s)
            now_ms = step_end
        if after_step is not None:
            after_step()
    return i, now_ms


def random_crowd(
    rng, people, crossings, stray_pct, miss_pct, turn_pct=2, span_ms=None, min_exit_reads=1
):
    # A random shift at a doorway for the bench: `crossings` passages of `people`, with
    # stray reads at stray_pct % of crossings, reader misses at miss_pct % of entries,
    # real turn-backs at turn_pct %, and min_exit_reads..4 outer reads on the way out.
    w = World()
    tags = list(range(1, people + 1))
    if span_ms is None:
        span_ms = crossings * 700
    t = 0
    done = 0
    while done < crossings:
        tag = rng.choice(tags)
        t0 = max(t, w.free_at(tag))
        roll = rng.uniform(0, 100)
        if roll < turn_pct:
            kind = TURN_BACK
        elif tag not in w.inside and rng.uniform(0, 100) < miss_pct:
            kind = MISS_OUTER
        else:
            kind = CROSS
        second = rng.randint(1 if tag not in w.inside else min_exit_reads, 4)
        w.passage(tag, t0, kind, rng.randint(1, 4), second)
        if kind != TURN_BACK:
            done += 1
        t += rng.randint(0, 2 * span_ms // crossings)
    for _ in range(crossings * stray_pct // 100):
        for _attempt in range(5):
            if w.stray(rng.choice(tags), rng.choice((OUTER, INNER)), rng.randint(0, w.end_ms)):
                break
    return w
