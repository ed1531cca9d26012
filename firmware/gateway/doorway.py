# Direction of travel from two read points, outer (0) and inner (1), and the beam's inward
# pulses. The model, its timing constants and why are in docs/firmware-design.md
# ("The doorway"); in short:
#
# In doubt, the person is in (R-CAP-11: the count is the truth). A false "in" costs a
# search; a false "out" can cost a life.
# Each tag in range has a track: what this passage has shown so far (read at which points,
# in which order, how many reads in the last run at one point, the strongest inner read,
# when). Tracks live in fixed preallocated arrays; nothing here allocates per read.
#   - Entry: read at the inner point after the outer one, and then `settle_ms` without
#     more than ONE outer read after the inner one. A lone stray outer read never cancels
#     an entry; two or more outer reads after the inner one look like a turn-back, which
#     the beam arbitrates (a body no other crossing explains: counted in, doubtful).
#   - Exit: needs more: inner, then at least EXIT_READS outer reads after the last inner
#     one, and `settle_ms` without an inner read. A single outer read is never an exit: the
#     person stays counted, with a DOUBTFUL_CROSSING event the dispatcher sees.
#   - Read at the inner point only (the outer reader missed them) and not inside: counted
#     in when a beam body pairs with it, or at once when no beam has ever pulsed; a single
#     such read with a working beam that saw nobody is a stray, ignored.
#   - Every decision taken on thin evidence logs DOUBTFUL_CROSSING (tag, a=DECIDED_*,
#     b=DOUBT_* bits): never a silent guess.
#   - Beam pulses pair with entries in order (a pulse waits `pair_ms` for its tag), so a
#     pulse that arrives before its tag's crossing settles is no UNTAGGED_ENTRY.
#   - Full (more tags in range than tracks): tags without a track are counted in on an
#     inner read, with DOORWAY_OVERFLOW; nobody is dropped, exits wait for a free track.
#
# R-ID-2 tag-person separation, as a doorway can see it: readers only cover the entrance,
# and a person walks through a read field in seconds. A tag that goes on being read in
# the doorway for `still_ms` without completing a crossing (hung on a hook, dropped,
# left with a colleague at the door) is the observable sign of a tag without its person.
from array import array

from gateway.events import (
    DOORWAY_OVERFLOW,
    DOORWAY_OVERFLOW_END,
    DOUBTFUL_CROSSING,
    TAG_BATTERY_LOW,
    TAG_STATIONARY,
    TURNED_BACK,
    UNTAGGED_ENTRY,
)
from gateway.ledger import TICKS_MASK, ticks_age

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


OUTER = const(0)
INNER = const(1)
EXIT_READS = const(2)  # outer reads after the last inner one that make an exit

# Track flags. The zone owns REFUSED and REFUSAL_LOGGED; the doorway clears them when a
# crossing completes, since they are about the approach just made.
REFUSED = const(2)  # the zone would refuse this approach now
REFUSAL_LOGGED = const(4)
STILL_LOGGED = const(8)
BATTERY_LOGGED = const(16)
LEFT = const(32)  # just went out: lingering outside is no approach until read inside again
# An inner read of this passage and a beam body within settle_ms of each other, in either
# order: set on the track when the second arrives, so that no crowd of later bodies can
# push it out of a list of recent ones before the track's window ends.
_NEAR_BODY = const(64)
_KEPT_ON_CROSSING = const(16)  # BATTERY_LOGGED: one report a passage is enough

# Evidence of the passage so far (reset at each crossing).
_E_OUTER = const(1)  # read at the outer point
_E_INNER = const(2)  # read at the inner point
_E_IN_AFTER_OUT = const(4)  # an inner read after an outer one
_E_OUT_AFTER_IN = const(8)  # an outer read after an inner one
_E_INSIDE = const(16)  # counted in the zone (cached from is_in; changed only here)
_E_HELD = const(32)  # window over, kept for a beam pulse that may pair with it
_E_BODY = const(64)  # counted inside and took a beam body this passage
_E_SAID = const(128)  # its kept-in DOUBTFUL_CROSSING is logged

# DOUBTFUL_CROSSING a: what was decided.
DECIDED_IN = const(1)  # counted in
DECIDED_KEPT_IN = const(2)  # an exit was not accepted: still counted in
# DOUBTFUL_CROSSING b: what was ambiguous (bits).
DOUBT_NO_OUTER = const(1)  # read at the inner point only
DOUBT_NO_BEAM = const(2)  # no beam body confirmed it (no beam, or none unexplained)
DOUBT_OUTER_AFTER = const(4)  # read at the outer point after the inner one
DOUBT_BEAM_PAIRED = const(8)  # a beam body no other crossing explains was paired with it
DOUBT_ONE_OUTER = const(16)  # left with a single outer read: not enough for an exit
DOUBT_OUTER_ONLY = const(32)  # counted inside, read only at the outer point
DOUBT_OVERFLOW = const(64)  # doorway full: counted in on an inner read, untracked
DOUBT_BODY_NEAR = const(128)  # one inner read, near a beam body another track was paired with
# The zone's (Zone._exit): out by a tag it does not know inside while some counted
# without a ledger row are not remembered; it may be one of them, so kept in.
DOUBT_UNNAMED = const(256)

_PULSES = const(128)  # beam bodies waiting for their tag
_CREDITS = const(32)  # tag entries waiting for their beam body


def _u32s(n):
    return array("I", bytes(4 * n))


class _Ring:
    # Times (masked ms) in arrival order, oldest first; fixed size.
    def __init__(self, size):
        self.t = _u32s(size)
        self.head = 0
        self.n = 0

    def push(self, m):
        # False when full (the caller decides what an overflow means).
        size = len(self.t)
        if self.n >= size:
            return False
        self.t[(self.head + self.n) % size] = m
        self.n += 1
        return True

    def oldest(self):
        return self.t[self.head]

    def pop(self):
        self.head = (self.head + 1) % len(self.t)
        self.n -= 1

    def clear(self):
        self.head = 0
        self.n = 0


class Doorway:
    # on_cross(tag, into_zone) is called for each decided crossing; is_in(tag) says
    # whether the zone counts the tag inside (asked when a track starts).
    def __init__(self, capacity, settle_ms, window_ms, still_ms, pair_ms, emit, on_cross, is_in):
        self.capacity = capacity
        self.settle_ms = settle_ms
        self.window_ms = window_ms
        self.still_ms = still_ms  # 0: no stationary-tag alarm
        self.pair_ms = pair_ms  # how long a beam body waits for its tag
        self._emit = emit
        self._on_cross = on_cross
        self._is_in = is_in
        self.n = 0
        self._tag = _u32s(capacity)
        self._origin = bytearray(capacity)  # first point of this passage
        self._flags = bytearray(capacity)
        self._ev = bytearray(capacity)
        self._run_pt = bytearray(capacity)  # point of the last run of reads
        self._run_n = bytearray(capacity)  # reads in that run (to 255)
        self._n_in = bytearray(capacity)  # inner reads this passage (to 255)
        self._n_out = bytearray(capacity)
        self._rssi_in = array("b", bytes(capacity))  # strongest inner read, dBm
        self._t_out = _u32s(capacity)  # last outer read
        self._t_in = _u32s(capacity)  # last inner read
        self._t_last = _u32s(capacity)  # last read anywhere
        self._t_since = _u32s(capacity)  # track start or last crossing
        self._pulses = _Ring(_PULSES)
        self._last_body = 0  # when the last beam body went in
        self._body_seen = False  # _last_body holds a body's time
        self._credits = _Ring(_CREDITS)
        self.beam_seen = False  # a beam pulse arrived since boot: the beam works
        self.beam_total = 0
        self.overflowing = False
        self.overflow_reads = 0  # reads of tags without a track, this overflow
        self.overflow_in = 0  # people counted in untracked, this overflow
        self._pending = 0  # tracks that may still explain a beam body by themselves

    # ---- reads ----

    def find(self, tag):
        tags = self._tag
        for i in range(self.n):
            if tags[i] == tag:
                return i
        return -1

    def read(self, point, tag, rssi, battery_low, now_ms):
        # Returns the slot of a track this read started, else -1.
        m = now_ms & TICKS_MASK
        i = self.find(tag)
        new = -1
        if i < 0:
            i = self.n
            if i >= self.capacity:
                self._overflow(point, tag, m)
                return -1
            self.n = i + 1
            self._tag[i] = tag
            self._origin[i] = point
            self._flags[i] = 0
            self._ev[i] = _E_INSIDE if self._is_in(tag) else 0
            self._run_pt[i] = point
            self._run_n[i] = 0
            self._n_in[i] = 0
            self._n_out[i] = 0
            self._rssi_in[i] = -128
            self._t_since[i] = m
            new = i
        e = self._ev[i] & ~_E_HELD
        if point == OUTER:
            if e & _E_INNER:
                e |= _E_OUT_AFTER_IN
            e |= _E_OUTER
            self._t_out[i] = m
            if self._n_out[i] < 255:
                self._n_out[i] += 1
        else:
            if e & _E_OUTER:
                e |= _E_IN_AFTER_OUT
            e |= _E_INNER
            self._t_in[i] = m
            if self._n_in[i] < 255:
                self._n_in[i] += 1
            if rssi > self._rssi_in[i]:
                self._rssi_in[i] = rssi if rssi > -128 else -128
            f = self._flags[i] & ~LEFT
            if self._body_seen and ticks_age(m, self._last_body) <= self.settle_ms:
                f |= _NEAR_BODY
            self._flags[i] = f
        self._ev[i] = e
        if self._run_pt[i] == point:
            if self._run_n[i] < 255:
                self._run_n[i] += 1
        else:
            self._run_pt[i] = point
            self._run_n[i] = 1
        self._t_last[i] = m
        if battery_low and not self._flags[i] & BATTERY_LOGGED:
            self._flags[i] = self._flags[i] | BATTERY_LOGGED
            self._emit(TAG_BATTERY_LOW, tag, point, 0)
        return new

    def _overflow(self, point, tag, m):
        # No track for this tag: degrade to counting in. An inner read of someone not
        # inside counts them (they may have crossed); nothing counts anyone out.
        if not self.overflowing:
            self.overflowing = True
            self.overflow_reads = 0
            self.overflow_in = 0
            self._emit(DOORWAY_OVERFLOW, tag, self.capacity, self.n)
        self.overflow_reads += 1
        if point == INNER and not self._is_in(tag):
            self.overflow_in += 1
            self._beam_entry(m)
            self._on_cross(tag, True)
            self._emit(DOUBTFUL_CROSSING, tag, DECIDED_IN, DOUBT_OVERFLOW)

    # ---- the beam ----

    def beam(self, bodies, total, now_ms):
        # `bodies` more counted entering by the beam / turnstile, cumulative `total`.
        m = now_ms & TICKS_MASK
        self.beam_seen = True
        self.beam_total = total
        if bodies > 0:
            self._last_body = m
            self._body_seen = True
            settle = self.settle_ms
            for i in range(self.n):
                if self._n_in[i] and ticks_age(m, self._t_in[i]) <= settle:
                    self._flags[i] = self._flags[i] | _NEAR_BODY
        cr = self._credits
        pu = self._pulses
        while bodies > 0:
            bodies -= 1
            if cr.n:
                cr.pop()  # a tag entry that was waiting for its body
            elif not pu.push(m):
                # More bodies waiting than the ring holds: judge the oldest now.
                self._expire_pulse(m)
                pu.push(m)

    def _beam_entry(self, m):
        # An entry pairs with the oldest body waiting, or waits for one itself.
        if self._pulses.n:
            self._pulses.pop()
        elif not self._credits.push(m):
            self._credits.pop()
            self._credits.push(m)

    def unexplained(self):
        # Beam bodies that no decided entry has paired with yet.
        return self._pulses.n

    # ---- decisions ----

    def tick(self, now_ms):
        m = now_ms & TICKS_MASK
        settle = self.settle_ms
        window = self.window_ms
        pending = 0
        i = 0
        while i < self.n:
            e = self._ev[i]
            ended = ticks_age(m, self._t_last[i]) >= window
            if e & _E_INSIDE:
                if e & _E_OUT_AFTER_IN:
                    if (
                        self._run_pt[i] == OUTER
                        and self._run_n[i] >= EXIT_READS
                        and ticks_age(m, self._t_in[i]) >= settle
                    ):
                        self._cross(i, False, 0, m)
                        e = self._ev[i]
                    elif (
                        self._run_pt[i] == OUTER
                        and self._n_in[i]
                        and not e & _E_SAID
                        and ticks_age(m, self._t_out[i]) >= settle
                        and ticks_age(m, self._t_in[i]) >= settle
                    ):
                        # Inner, then one outer read and quiet: a stray or a thin exit.
                        # Kept in, and said now (a later stray inner read must not hide it).
                        self._doubt(i, DECIDED_KEPT_IN, DOUBT_ONE_OUTER)
                        e |= _E_SAID
                        self._ev[i] = e
                elif e & _E_IN_AFTER_OUT and self._origin[i] == OUTER and self._run_pt[i] == INNER:
                    if ticks_age(m, self._t_out[i]) < settle:
                        pending += 1  # its body is its own
                    elif self._n_out[i] >= EXIT_READS:
                        # Came in from outside while counted inside: left unseen before
                        # (the zone logs MISSED_EXIT); still one person inside.
                        self._cross(i, True, 0, m)
                        e = self._ev[i]
                    else:
                        # Counted in already (on thin evidence) and now seen coming in:
                        # nothing to count, but the beam body was theirs.
                        if not e & _E_BODY:
                            self._beam_entry(m)
                        kept = self._flags[i] & _KEPT_ON_CROSSING
                        self._begin(i, INNER, _E_INSIDE | _E_INNER, kept, m)
                        e = self._ev[i]
                elif ended and e == _E_INSIDE | _E_OUTER and self._n_out[i] >= EXIT_READS:
                    self._doubt(i, DECIDED_KEPT_IN, DOUBT_OUTER_ONLY)
            elif e & _E_IN_AFTER_OUT:
                tail = self._run_n[i] if self._run_pt[i] == OUTER else 0
                if tail <= 1 and ticks_age(m, self._t_out[i]) >= settle:
                    doubt = 0
                    if e & _E_OUT_AFTER_IN:
                        # Read outside after inside (one stray outer read at the end, or
                        # back and forth): never a cancelled entry, but said.
                        doubt = DOUBT_OUTER_AFTER
                        if not self._pulses.n:
                            doubt |= DOUBT_NO_BEAM
                    self._cross(i, True, doubt, m)
                    e = self._ev[i]
                elif tail <= 1:
                    pending += 1
            elif e & _E_INNER:
                if (
                    e & _E_OUT_AFTER_IN
                    and self._run_pt[i] == OUTER
                    and self._run_n[i] >= EXIT_READS
                ):
                    if self._n_in[i] >= 2 and ticks_age(m, self._t_in[i]) >= settle:
                        # Out by someone not counted in: the zone logs MISSED_ENTRY. (One
                        # inner read first may be a stray before an approach: that waits
                        # for the window's end.)
                        self._cross(i, False, 0, m)
                        e = self._ev[i]
                elif (
                    not self.beam_seen
                    and self._candidate(i)
                    and ticks_age(m, self._t_last[i]) >= settle
                ):
                    # Read inside, not outside before: no beam to ask, so counted in.
                    doubt = DOUBT_NO_OUTER | DOUBT_NO_BEAM
                    if e & _E_OUT_AFTER_IN:
                        doubt |= DOUBT_OUTER_AFTER
                    self._cross(i, True, doubt, m)
                    e = self._ev[i]
            elif e & _E_OUTER and not ended:
                pending += 1  # approaching: its crossing will explain its own body
            if ended:
                if self._candidate(i) and self._pulses.n:
                    self._ev[i] = e | _E_HELD
                else:
                    self._end(i, m)
                    continue
            self._still(i, m)
            i += 1
        self._pending = pending
        self._pair(m)
        cr = self._credits
        while cr.n and ticks_age(m, cr.oldest()) >= self.pair_ms:
            cr.pop()  # a tag the beam missed: forgiven, so it cannot hide a later body
        if self.overflowing and self.n <= self.capacity - (self.capacity >> 2):
            self.overflowing = False
            self._emit(DOORWAY_OVERFLOW_END, 0, self.overflow_reads, self.overflow_in)

    def _candidate(self, i):
        # A track of someone not counted in that a beam body may show to have entered:
        # read inside only, or read inside and then more than once outside.
        e = self._ev[i]
        if e & _E_INSIDE or not e & _E_INNER:
            return False
        if e & _E_IN_AFTER_OUT:
            return self._run_pt[i] == OUTER and self._run_n[i] > 1
        return self._run_pt[i] == INNER or self._run_n[i] <= 1

    def _pair(self, m):
        # Beam bodies that no track on its way can explain go to the best candidate.
        pu = self._pulses
        while pu.n > self._pending:
            i = self._best_candidate()
            if i >= 0:
                self._pair_with(i, m)
            elif not self._insider_body(m):
                break
        while pu.n and ticks_age(m, pu.oldest()) >= self.pair_ms:
            self._expire_pulse(m)

    def _expire_pulse(self, m):
        # The oldest body waited its full time: a candidate track, else an untagged entry.
        i = self._best_candidate()
        if i >= 0:
            self._pair_with(i, m)
            return
        if self._insider_body(m):
            return
        self._pulses.pop()
        self._emit(UNTAGGED_ENTRY, 0, 1, self.beam_total)

    def _pair_with(self, i, m):
        doubt = DOUBT_BEAM_PAIRED
        doubt |= DOUBT_OUTER_AFTER if self._ev[i] & _E_IN_AFTER_OUT else DOUBT_NO_OUTER
        held = self._ev[i] & _E_HELD
        self._cross(i, True, doubt, m)
        if held:
            self._drop(i)

    def _insider_body(self, m):
        # Someone counted inside (kept in after a thin exit, say) read only at the inner
        # point just as a body went in: coming back with the outer reads missed. The body
        # is theirs; nothing to count. True if one took the oldest body.
        t = self._pulses.oldest()
        settle = self.settle_ms
        for i in range(self.n):
            e = self._ev[i]
            if (
                e & (_E_INSIDE | _E_BODY) == _E_INSIDE
                and self._run_pt[i] == INNER
                and self._n_in[i]
                and (ticks_age(t, self._t_in[i]) <= settle or ticks_age(self._t_in[i], t) <= settle)
            ):
                self._beam_entry(m)
                self._ev[i] = e | _E_BODY  # the passage goes on: it may still leave
                return True
        return False

    def _best_candidate(self):
        # Read inside only beats read inside then outside; then more inner reads, then
        # the stronger inner read.
        best = -1
        score = -1
        for i in range(self.n):
            if self._candidate(i):
                s = (0 if self._ev[i] & _E_IN_AFTER_OUT else 0x10000) + self._n_in[i] * 256
                s += self._rssi_in[i] + 128
                if s > score:
                    best = i
                    score = s
        return best

    def _cross(self, i, into_zone, doubt, m):
        tag = self._tag[i]
        kept = self._flags[i] & _KEPT_ON_CROSSING
        if into_zone:
            # Just read inside (or paired with a body that went in): a passage out of the
            # zone from here needs only the outer reads.
            self._begin(i, INNER, _E_INSIDE | _E_INNER, kept, m)
            self._beam_entry(m)
        else:
            self._begin(i, OUTER, 0, kept | LEFT, m)
        self._on_cross(tag, into_zone)
        if doubt:
            self._emit(DOUBTFUL_CROSSING, tag, DECIDED_IN, doubt)

    def _begin(self, i, origin, e, flags, m):
        # A new passage on the same track: the evidence so far is spent.
        self._origin[i] = origin
        self._ev[i] = e
        self._flags[i] = flags
        self._run_pt[i] = origin
        self._run_n[i] = 0
        self._n_in[i] = 0
        self._n_out[i] = 0
        self._rssi_in[i] = -128
        self._t_since[i] = m

    def _doubt(self, i, decided, why):
        self._emit(DOUBTFUL_CROSSING, self._tag[i], decided, why)

    def _end(self, i, m):
        # The window is over: what the track showed and nobody decided yet.
        e = self._ev[i]
        tag = self._tag[i]
        out_tail = self._run_n[i] if self._run_pt[i] == OUTER else 0
        n_in = self._n_in[i]  # the track is dropped below: read what it showed first
        near = self._flags[i] & _NEAR_BODY
        self._drop(i)
        if e & _E_INSIDE or not e & _E_INNER:
            return  # read outside only, or counted in: nothing to change
        if e & _E_IN_AFTER_OUT:
            # Reached the inner point and went on being read outside, and no beam body
            # wants it: turned back.
            self._emit(TURNED_BACK, tag, OUTER, 0)
        elif out_tail >= EXIT_READS:
            self._on_cross(tag, False)  # out by someone not counted in: MISSED_ENTRY
        else:
            if n_in >= 2:
                # Read inside again and again, and the beam saw no body: in doubt, in.
                doubt = DOUBT_NO_OUTER | DOUBT_NO_BEAM
            elif near:
                # One read inside as a body went in that another track took: which of
                # the two was the body is unknowable, so both are in.
                doubt = DOUBT_NO_OUTER | DOUBT_BODY_NEAR
            else:
                return  # one read, and the beam saw nobody go in then: a stray
            self._beam_entry(m)
            self._on_cross(tag, True)
            self._emit(DOUBTFUL_CROSSING, tag, DECIDED_IN, doubt)

    def _still(self, i, m):
        if (
            self.still_ms
            and not self._flags[i] & STILL_LOGGED
            and ticks_age(m, self._t_since[i]) >= self.still_ms
        ):
            self._flags[i] = self._flags[i] | STILL_LOGGED
            self._emit(
                TAG_STATIONARY,
                self._tag[i],
                self._run_pt[i],
                ticks_age(m, self._t_since[i]) // 1000,
            )

    def _drop(self, i):
        last = self.n - 1
        if i != last:
            self._tag[i] = self._tag[last]
            self._origin[i] = self._origin[last]
            self._flags[i] = self._flags[last]
            self._ev[i] = self._ev[last]
            self._run_pt[i] = self._run_pt[last]
            self._run_n[i] = self._run_n[last]
            self._n_in[i] = self._n_in[last]
            self._n_out[i] = self._n_out[last]
            self._rssi_in[i] = self._rssi_in[last]
            self._t_out[i] = self._t_out[last]
            self._t_in[i] = self._t_in[last]
            self._t_last[i] = self._t_last[last]
            self._t_since[i] = self._t_since[last]
        self.n = last

    def clear(self):
        # A new ledger (restore): every track and every beam body waiting is forgotten.
        self.n = 0
        self._pulses.clear()
        self._credits.clear()
        self.overflowing = False

    # ---- for the zone ----

    def tag(self, i):
        return self._tag[i]

    def origin(self, i):
        return self._origin[i]

    def flags(self, i):
        return self._flags[i]

    def set_flags(self, i, flags):
        self._flags[i] = flags

    def approaching(self, i):
        # Is track i someone coming from outside towards the zone?
        return self._origin[i] == OUTER and not self._flags[i] & LEFT

    def waiting_refused(self):
        # Is anyone approaching from outside whom the zone would refuse?
        for i in range(self.n):
            if self._flags[i] & REFUSED and self.approaching(i):
                return True
        return False
