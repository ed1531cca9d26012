# Evacuation (R-EVAC-1..3, R-GAS-1): ordered by the dispatcher, by a team leader (the app
# checks the role in the roster before calling order()), or by gas. While in force: red
# lamp and sounder, both relays off, entry refused except to rescue roles (the zone side
# reads `active`). "Zone clear" is logged once, when the count first reaches 0, with the
# time it took; a drill is the same, marked as a drill, and measures that time (R-EVAC-3).
#
# Only an all-clear ends it, and an evacuation gas took part in cannot be ended until the
# sensor is healthy again and shows gas below the stop level (R-GAS-1). A real order
# during a drill ends the drill and starts a real evacuation, timed from that order; a
# drill is refused during a real evacuation; gas during a drill makes it real.
from gateway import events
from gateway.checks import bad_field, check_int
from gateway.elapsed import Stopwatch
from gateway.reasons import (
    CAUSE_DISPATCHER,
    CAUSE_GAS,
    CAUSE_MINE_LEADER,
    CAUSE_TEAM_LEADER,
    EVAC_REASON_GAS,
    EVAC_REASON_MAX,
    OK,
    REFUSE_DRILL_IN_EVACUATION,
    REFUSE_GAS_NOT_SAFE,
    REFUSE_NOT_EVACUATING,
)

_ID_MAX = 0x3FFFFFFF

# A snapshot: [active, drill, causes (bits 1 << CAUSE_*), by, reason, cleared, s, ms]
SNAPSHOT_LEN = 8
_CAUSE_BITS = (
    (1 << CAUSE_DISPATCHER) | (1 << CAUSE_TEAM_LEADER) | (1 << CAUSE_GAS) | (1 << CAUSE_MINE_LEADER)
)


class Evacuation:
    def __init__(self, emit):
        self._emit = emit
        self.active = False
        self.drill = False
        self.causes = 0  # bits 1 << CAUSE_* of every order since it started
        self.by = 0  # person who gave the first order (0: the host's dispatcher, or gas)
        self.reason = 0
        self.cleared = False  # "zone clear" already logged for this evacuation
        self.clock = Stopwatch()

    def gas_caused(self):
        return bool(self.causes & (1 << CAUSE_GAS))

    def order(self, cause, by, reason, drill, now_ms):
        # R-EVAC-1: cause CAUSE_DISPATCHER, CAUSE_TEAM_LEADER or CAUSE_MINE_LEADER; by: the
        # person ordering (0 for the dispatcher at the host); reason: EVAC_REASON_*.
        if cause != CAUSE_DISPATCHER and cause != CAUSE_TEAM_LEADER and cause != CAUSE_MINE_LEADER:
            raise bad_field(
                "cause", "expected CAUSE_DISPATCHER, CAUSE_TEAM_LEADER or CAUSE_MINE_LEADER"
            )
        check_int("by", by, 0, _ID_MAX)
        check_int("reason", reason, 0, EVAC_REASON_MAX)
        if drill is not True and drill is not False:
            raise bad_field("drill", "expected true or false")
        if not self.active:
            self._start(cause, by, reason, drill, now_ms)
        elif drill:
            if not self.drill:
                return REFUSE_DRILL_IN_EVACUATION
            self._join(cause, by, reason)
        elif self.drill:
            self._start(cause, by, reason, False, now_ms)  # the drill is over: this is real
        else:
            self._join(cause, by, reason)
        return OK

    def gas(self, now_ms):
        # R-GAS-1: gas at its evacuation level (called whenever the demand holds).
        if not self.active or self.drill:
            self._start(CAUSE_GAS, 0, EVAC_REASON_GAS, False, now_ms)
        elif not self.gas_caused():
            self._join(CAUSE_GAS, 0, EVAC_REASON_GAS)

    def all_clear(self, by, gas_safe, now_ms):
        check_int("by", by, 0, _ID_MAX)
        if not self.active:
            return REFUSE_NOT_EVACUATING
        if self.gas_caused() and not gas_safe:
            return REFUSE_GAS_NOT_SAFE
        self.clock.advance(now_ms)
        self.clock.stop()
        self.active = False
        self._emit(events.EVAC_END, by, self.clock.ceil_s(), 1 if self.drill else 0)
        self.drill = False
        self.causes = 0
        return OK

    def tick(self, now_ms, count):
        if not self.active:
            return
        self.clock.advance(now_ms)
        if not self.cleared and count <= 0:
            self.cleared = True
            self._emit(events.ZONE_CLEAR, 1 if self.drill else 0, self.clock.s, self.clock.ms)

    def _start(self, cause, by, reason, drill, now_ms):
        self.active = True
        self.drill = drill
        self.causes = 1 << cause
        self.by = by
        self.reason = reason
        self.cleared = False
        self.clock.start(now_ms)
        self._emit(events.DRILL_START if drill else events.EVAC_START, by, cause, reason)

    def _join(self, cause, by, reason):
        self.causes |= 1 << cause
        self._emit(events.EVAC_JOIN, by, cause, reason)

    # ---- persistence ----

    def snapshot(self):
        if not self.active:
            return [0, 0, 0, 0, 0, 0, 0, 0]
        c = self.clock
        return [1, int(self.drill), self.causes, self.by, self.reason, int(self.cleared), c.s, c.ms]

    def check(self, item):
        if not isinstance(item, list) or len(item) != SNAPSHOT_LEN:
            raise bad_field("evacuation", "expected a list of %d fields" % SNAPSHOT_LEN)
        check_int("active", item[0], 0, 1)
        check_int("drill", item[1], 0, 1)
        check_int("causes", item[2], 0, _CAUSE_BITS)
        if item[2] & ~_CAUSE_BITS or (item[0] and not item[2]):
            raise bad_field("causes", "unknown cause bits")
        if item[1] and item[2] & (1 << CAUSE_GAS):
            raise bad_field("drill", "gas makes any drill a real evacuation")
        check_int("by", item[3], 0, _ID_MAX)
        check_int("reason", item[4], 0, EVAC_REASON_MAX)
        check_int("cleared", item[5], 0, 1)
        check_int("evac_s", item[6], 0, 0x3FFFFFFF)
        check_int("evac_ms", item[7], 0, 999)

    def restore(self, item, now_ms):
        self.active = bool(item[0])
        self.drill = self.active and bool(item[1])
        self.causes = item[2] if self.active else 0
        self.by = item[3]
        self.reason = item[4]
        self.cleared = bool(item[5])
        if self.active:
            self.clock.start(now_ms, item[6], item[7])
        else:
            self.clock.stop()
