# Per-shift personnel caps by zone kind (R-CAP-1..5), the shift schedule, temporary caps
# for rectification work (R-CAP-9) and the early-warning level (R-CAP-6).
# Pure: the wall clock comes in as now_s, 0 = never set, counted from the policy's epoch_s
# (unix seconds, or the firmware's clock seconds defined below).
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# Shift types, as the config's schedule writes them ([start minute, 0 or 1]).
SHIFT_UNKNOWN = const(-1)  # no wall clock or no schedule: the strictest cap applies
SHIFT_PRODUCTION = const(0)
SHIFT_MAINTENANCE = const(1)

LEVEL_OK = const(0)
LEVEL_WARNING = const(1)  # amber (R-CAP-6)
LEVEL_FULL = const(2)  # red, entry refused
LEVEL_OVER = const(3)  # red, every further entry a violation (R-CAP-11)

# A wall clock before this (2020-01-01T00:00Z) was never set or was set wrong: treat it as
# unknown, so a board that booted at 1970 cannot make every certificate look valid.
EPOCH_S = 1577836800
# The firmware's time base: "clock seconds" are seconds since EPOCH_S, 1..CLOCK_MAX_S
# (2020-01-01T00:00:01Z .. 2054-01-09T13:37:03Z), 0 = unknown. A unix time is past 2**30,
# a big int on a 32-bit board (32 bytes each new second, and more for every sum with it);
# clock seconds are small ints, so the step reads and compares time allocating nothing.
# Unix seconds cross only at the edges: the wire, flash records and snapshots, through
# unix_of / clock_of, or unix_hi / unix_lo where an edge is on the hot path. EPOCH_S is a
# UTC midnight, so minutes and days of clock seconds are those of unix time. Beyond
# CLOCK_MAX_S the clock reads as unknown (fail safe) and time-set refuses it.
CLOCK_MAX_S = const(0x3FFFFFFF)
UNIX_MAX_S = 2651578623  # EPOCH_S + CLOCK_MAX_S
_EPOCH_HI = const(0x5E0B)  # EPOCH_S in 16-bit halves
_EPOCH_LO = const(0xE100)

# zone kind: (production shift cap, maintenance shift cap, rule ids); None = shaft, whose
# cap is the mine's approved underground headcount from its config.
LEGAL_CAPS = {
    "coal_face": (25, 40, "R-CAP-1", "R-CAP-2"),
    "fm_heading": (18, 18, "R-CAP-3", "R-CAP-3"),
    "db_heading": (15, 15, "R-CAP-4", "R-CAP-4"),
    "repair": (8, 8, "R-CAP-5", "R-CAP-5"),
    "shaft": None,
}
_SHIFT_NAMES = ("production", "maintenance")
MAX_SCHEDULE = const(24)
MAX_OVERRIDE_S = const(604800)  # a temporary cap lasts at most a week; dispatch renews it
MAX_CAP = const(5000)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def clock_known(now_s):
    # A unix time the firmware's clock can hold.
    return _is_int(now_s) and EPOCH_S < now_s <= UNIX_MAX_S


def clock_of(unix_s):
    # Clock seconds of a unix time; 0 (unknown) outside 2020-01-01..2054-01-09. An edge:
    # allocates on a 32-bit board.
    return unix_s - EPOCH_S if clock_known(unix_s) else 0


def clock_bound(unix_s):
    # A window's end from the wire in clock seconds: 0 if before the range, CLOCK_MAX_S + 1
    # if after it. Every comparison with a known clock (1..CLOCK_MAX_S) comes out as it
    # would in unix seconds, so a permit or a cap may end after 2054 and still work.
    if unix_s <= EPOCH_S:
        return 0
    if unix_s > UNIX_MAX_S:
        return CLOCK_MAX_S + 1
    return unix_s - EPOCH_S


def unix_of(clock_s):
    # The unix time of clock seconds (0 stays 0, unknown). An edge: allocates.
    return clock_s + EPOCH_S if clock_s > 0 else 0


def unix_hi(clock_s):
    # The high 16 bits of unix_of(clock_s), without a big int (the hot path's edges: the
    # event record, the pushed event). 0 for an unknown clock.
    if clock_s <= 0:
        return 0
    return (clock_s >> 16) + _EPOCH_HI + (((clock_s & 0xFFFF) + _EPOCH_LO) >> 16)


def unix_lo(clock_s):
    if clock_s <= 0:
        return 0
    return ((clock_s & 0xFFFF) + _EPOCH_LO) & 0xFFFF


def now_clock(now_s, epoch_s):
    # A caller's now_s as clock seconds (0: unknown). epoch_s: what now_s counts from,
    # EPOCH_S (the firmware: already clock seconds, allocation-free) or 0 (unix seconds:
    # tests and host tools; allocates on a 32-bit board).
    if not _is_int(now_s) or now_s <= 0:
        return 0
    if epoch_s:
        return now_s if now_s <= CLOCK_MAX_S else 0
    return clock_of(now_s)


def _int(what, v, lo, hi):
    if not _is_int(v):
        raise ValueError("%s: expected an integer, got %r" % (what, v))
    if v < lo or v > hi:
        raise ValueError("%s: %d is outside %d..%d" % (what, v, lo, hi))
    return v


class CapPolicy:
    # caps: None (the legal caps), one int for every shift, or [production, maintenance].
    # A configured cap may only be lower than the legal one. schedule: [[start minute of
    # local day, SHIFT_*], ...] in increasing start order; the shift in force is the one
    # that started last (wrapping to the previous day before the first start).
    # epoch_s: what every now_s given counts from (now_clock): 0 unix seconds, EPOCH_S
    # the firmware's clock seconds. Expiry times stay unix seconds, as the wire has them.
    def __init__(
        self,
        kind,
        caps=None,
        shaft_cap=None,
        warn_pct=80,
        schedule=(),
        utc_offset_min=0,
        epoch_s=0,
    ):
        if epoch_s != 0 and epoch_s != EPOCH_S:
            raise ValueError("epoch_s must be 0 (unix seconds) or EPOCH_S (clock seconds)")
        self.epoch_s = epoch_s
        if kind not in LEGAL_CAPS:
            raise ValueError("zone kind %r is not one of %s" % (kind, ", ".join(LEGAL_CAPS)))
        legal = LEGAL_CAPS[kind]
        if legal is None:
            if shaft_cap is None:
                raise ValueError("a shaft needs shaft_cap, the mine's approved underground cap")
            _int("shaft_cap", shaft_cap, 1, MAX_CAP)
            legal = (shaft_cap, shaft_cap, "the mine's approved cap", "the mine's approved cap")
        elif shaft_cap is not None:
            raise ValueError("shaft_cap is only for a shaft, not a %s" % kind)
        self.kind = kind
        self.legal = (legal[0], legal[1])
        if caps is None:
            caps = self.legal
        elif _is_int(caps):
            caps = (caps, caps)
        elif not isinstance(caps, (list, tuple)) or len(caps) != 2:
            raise ValueError("caps: expected an integer or [production, maintenance]")
        for shift in (SHIFT_PRODUCTION, SHIFT_MAINTENANCE):
            what = "cap for the %s shift" % _SHIFT_NAMES[shift]
            _int(what, caps[shift], 0, MAX_CAP)
            if caps[shift] > legal[shift]:
                raise ValueError(
                    "%s of a %s: %d is above the legal %d (%s)"
                    % (what, kind, caps[shift], legal[shift], legal[2 + shift])
                )
        self.caps = (caps[0], caps[1])
        self.warn_pct = _int("warn_pct", warn_pct, 1, 100)
        self.utc_offset_min = _int("utc_offset_min", utc_offset_min, -720, 840)
        if not isinstance(schedule, (list, tuple)) or len(schedule) > MAX_SCHEDULE:
            raise ValueError("schedule: expected a list of at most %d shifts" % MAX_SCHEDULE)
        starts = []
        types = []
        for i in range(len(schedule)):
            s = schedule[i]
            if not isinstance(s, (list, tuple)) or len(s) != 2:
                raise ValueError("schedule entry %d: expected [start minute, shift type]" % i)
            _int("schedule entry %d start minute" % i, s[0], 0, 1439)
            _int("schedule entry %d shift type" % i, s[1], SHIFT_PRODUCTION, SHIFT_MAINTENANCE)
            if starts and s[0] <= starts[-1]:
                raise ValueError("schedule entry %d: start minutes must increase" % i)
            starts.append(s[0])
            types.append(s[1])
        self._starts = tuple(starts)
        self._types = tuple(types)
        self.override_cap = -1  # -1: none
        self.override_expiry_s = 0  # unix seconds, as set (the snapshot keeps it)
        self._expiry_c = 0  # the same as clock_bound, for the per-second check

    def shift_at(self, now_s):
        c = now_clock(now_s, self.epoch_s)
        if not self._starts or not c:
            return SHIFT_UNKNOWN
        # EPOCH_S is a UTC midnight: the minute of the day is the same in clock seconds.
        minute = (c // 60 + self.utc_offset_min) % 1440
        shift = self._types[-1]  # before the first start: yesterday's last shift goes on
        for i in range(len(self._starts)):
            if self._starts[i] <= minute:
                shift = self._types[i]
        return shift

    def cap(self, shift, clock_ok):
        # Unknown shift: the strictest cap of the kind, so not knowing the time never
        # lets more people in (fail safe).
        if shift == SHIFT_UNKNOWN:
            base = min(self.caps[0], self.caps[1])
            legal = min(self.legal[0], self.legal[1])
        else:
            base = self.caps[shift]
            legal = self.legal[shift]
        c = self.override_cap
        if c < 0:
            return base
        # R-CAP-9: dispatch's number for rectification work replaces the configured cap,
        # never above the regulation; without a clock its expiry is unknowable, so then it
        # may only lower the cap.
        if clock_ok:
            return c if c < legal else legal
        return c if c < base else base

    def warn_at(self, cap):
        # Rounded down (at least 1) so the amber warning never comes later than the
        # configured share of the cap: 80 % of 18 warns from 14 people, of 8 from 6.
        w = cap * self.warn_pct // 100
        return w if w > 1 else 1

    def level(self, count, cap):
        if count > cap:
            return LEVEL_OVER
        if count >= cap:
            return LEVEL_FULL
        if count >= self.warn_at(cap):
            return LEVEL_WARNING
        return LEVEL_OK

    def check_override(self, cap, expiry_s, now_s):
        # R-CAP-9: raises ValueError naming what is wrong with a temporary cap; changes
        # nothing. The window is told in seconds from the gateway's clock, not as unix
        # times: the host shows times in the mine's zone, the board cannot.
        top = self.legal[0] if self.legal[0] > self.legal[1] else self.legal[1]
        _int("temporary cap", cap, 0, MAX_CAP)
        if cap > top:
            raise ValueError(
                "temporary cap %d for a %s is above the legal %d" % (cap, self.kind, top)
            )
        c = now_clock(now_s, self.epoch_s)
        if not c:
            raise ValueError("temporary cap needs the wall clock set, to know when it ends")
        if not _is_int(expiry_s):
            raise ValueError("temporary cap expiry: expected unix seconds")
        ahead = expiry_s - EPOCH_S - c
        if ahead <= 0:
            raise ValueError(
                "temporary cap would end %s the gateway's clock; it must end after it"
                % ("at" if ahead == 0 else "%d s before" % -ahead)
            )
        if ahead > MAX_OVERRIDE_S:
            raise ValueError(
                "temporary cap would last %d s; at most %d s (7 days) from the gateway's clock"
                % (ahead, MAX_OVERRIDE_S)
            )

    def set_override(self, cap, expiry_s, now_s):
        # R-CAP-9: a temporary cap by signed command. Raises ValueError and changes
        # nothing when the cap is above the regulation or the window is not sensible.
        self.check_override(cap, expiry_s, now_s)
        self.restore_override(cap, expiry_s)

    def restore_override(self, cap, expiry_s):
        # From a snapshot, checked by its reader.
        self.override_cap = cap
        self.override_expiry_s = expiry_s
        self._expiry_c = clock_bound(expiry_s)

    def clear_override(self):
        cap = self.override_cap
        self.override_cap = -1
        self.override_expiry_s = 0
        self._expiry_c = 0
        return cap

    def override_expired(self, now_s):
        if self.override_cap < 0:
            return False
        c = now_clock(now_s, self.epoch_s)
        return c > 0 and c >= self._expiry_c
