# One zone entrance: the people side of a gateway. Composes the doorway (direction), the
# roster (who a tag is), the ledger (who is in) and the cap policy, and decides refusals
# and violations. Pure: time comes in as now_ms / now_s, events go out through
# emit(kind, tag, a, b), and nothing here raises on what the field sends. now_s counts
# from the zone's epoch_s (caps.now_clock): the app gives clock seconds (small ints, so a
# step allocates nothing for time), tests and tools may give unix seconds.
#
# The count is the truth (R-CAP-11, R-ID-2 "hiding the number underground"): whoever
# crosses inward is counted, refused or not. A refusal is a signal shown while someone
# approaches at the outer point (entry_refused output, ENTRY_REFUSED event); crossing
# anyway is counted and logged as a violation naming the tag.
#
# A shaft gateway's zone is the whole underground (kind "shaft"); R-CAP-7 crews are about
# one working place, so a shaft does not check them.
#
# What the app uses:
#   in   on_read(point, tag, rssi, battery_low, now_ms, now_s)  each tag read
#        on_beam(total_count, now_ms)                            cumulative beam count
#        tick(now_ms, now_s)            every step: completes crossings, timers, refusals
#        set_evacuating / set_sealed / set_restricted(on), set_access(roles, people),
#        check_override / set_override(cap, expiry_s, now_s), clear_override(),
#        roster.begin/add/commit
#   out  count, cap, level (caps.LEVEL_*), shift, lamp (LAMP_*), entry_refused,
#        parallel_crews, is_present(person), occupants(), unnamed_tags / unnamed_n (the
#        remembered tags counted without a ledger row), restore_start / restore_row /
#        restore_unnamed / restore_finish, replay(...)
# Crossings complete in tick(), not in on_read(): a read alone never moves anyone.
from array import array

from gateway import roles
from gateway.caps import (
    EPOCH_S,
    LEVEL_FULL,
    LEVEL_WARNING,
    SHIFT_UNKNOWN,
    CapPolicy,
    clock_known,
    now_clock,
    unix_hi,
    unix_lo,
    unix_of,
)
from gateway.doorway import (
    INNER,
    OUTER,
    REFUSAL_LOGGED,
    REFUSED,
    Doorway,
)
from gateway.events import (
    CAP_CHANGED,
    CAP_OK,
    CAP_OVERRIDE_ENDED,
    CAP_OVERRIDE_SET,
    ENTRY,
    ENTRY_REFUSED,
    EVACUATION_ENTRY,
    EXIT,
    LEDGER_FULL,
    MISSED_ENTRY,
    MISSED_EXIT,
    OVER_CAP_ENTRY,
    OVERSTAY,
    PARALLEL_CREWS,
    PARALLEL_CREWS_CLEARED,
    READ_POINT_UNKNOWN,
    RESTRICTED_ENTRY,
    SEALED_ENTRY,
    SHIFT_CHANGED,
    TAG_INVALID,
    UNAUTHORISED_ENTRY,
    UNCERTIFIED_ENTRY,
    UNKNOWN_TAG_ENTRY,
)
from gateway.ledger import (
    FLAG_OVER_CAP,
    FLAG_OVERSTAY,
    FLAG_UNKNOWN,
    TICKS_MASK,
    Ledger,
    ticks_age,
)
from gateway.roster import MAX_ID, Roster

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# Why an approach is refused (ENTRY_REFUSED b), first failing check wins, in this order.
REFUSE_EVACUATION = const(1)  # R-EVAC: only rescue may go in
REFUSE_SEALED = const(2)  # R-SEAL-1
REFUSE_RESTRICTED = const(3)  # restricted zone (限制区域)
REFUSE_UNKNOWN_TAG = const(4)  # R-ID-4: not in the roster
REFUSE_CLOCK = const(5)  # R-ID-4: wall clock unset, certificates cannot be checked
REFUSE_CERTIFICATE = const(6)  # R-ID-4: certificate expired or none
REFUSE_NOT_ADMITTED = const(7)  # access-controlled zone (准入区域): role or person not listed
REFUSE_PARALLEL_CREWS = const(8)  # R-CAP-7: the other crew is inside
REFUSE_LEDGER_FULL = const(9)  # no room to record them by name
REFUSE_CAP = const(10)  # R-CAP-1..6, R-CAP-9: at or over the cap
REFUSE_NAMES = (
    "",
    "evacuation",
    "sealed",
    "restricted",
    "unknown-tag",
    "clock-unset",
    "certificate",
    "not-admitted",
    "parallel-crews",
    "ledger-full",
    "cap",
)

LAMP_GREEN = const(1)
LAMP_AMBER = const(2)
LAMP_RED = const(3)

_MAX_TIMER_MS = const(0x1FFFFFFF)  # ages are exact below 2**29 ms (6.2 days)
_SCAN_MS = const(1000)  # overstay is checked once a second, not on every step
_BAD_RING = const(8)  # R-DATA-4 alarms remembered, so one stray reader cannot flood the log
_BAD_REPEAT_MS = const(60000)
_ADMIT_PEOPLE_MAX = const(256)
# Tags counted without a ledger row (the ledger full) that the zone remembers, so it knows
# them inside (_is_in) and un-counts one only when a remembered tag goes out (R-CAP-11).
# Past what it holds, an exit by a tag it does not know is kept in and said. 32 covers a
# crowd past a full ledger as the doorway's ring of 32 entries awaiting their beam body
# does; 128 bytes of u32, allocated once. Overflow past the ledger is itself exceptional
# (the ledger is sized above the zone's cap), so this is a second line, not the count.
UNNAMED_MEMORY = const(32)
# events.DOUBTFUL_CROSSING, doorway.DECIDED_KEPT_IN and doorway.DOUBT_UNNAMED as folded
# constants: imported, each would be a global of this module on the board's heap
# (tests/test_zone.py checks they agree).
_DOUBTFUL_CROSSING = const(33)
_KEPT_IN = const(2)
_DOUBT_UNNAMED = const(256)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _int(what, v, lo, hi):
    if not _is_int(v) or v < lo or v > hi:
        raise ValueError("%s: %r is not an integer in %d..%d" % (what, v, lo, hi))
    return v


def _i32(v):
    # Event fields a and b are signed 32-bit on flash: a jumped clock or counter must not
    # make an event unloggable.
    if v > 0x7FFFFFFF:
        return 0x7FFFFFFF
    return v


def _small(v):
    # A field value for an event's a/b: ints of reasonable size, else -1.
    if _is_int(v) and -0x8000 <= v <= 0x7FFF:
        return v
    return -1


class Zone:
    def __init__(
        self,
        kind,
        role,
        emit,
        caps=None,
        shaft_cap=None,
        warn_pct=80,
        schedule=(),
        utc_offset_min=0,
        roster=None,
        ledger_capacity=512,
        doorway_capacity=128,
        settle_ms=2000,
        window_ms=8000,
        tag_still_s=600,
        max_dwell_s=36000,
        untagged_window_ms=10000,
        epoch_s=0,
        unnamed_memory=UNNAMED_MEMORY,
    ):
        if role not in ("shaft", "face"):
            raise ValueError("gateway role %r is not 'shaft' or 'face'" % (role,))
        if (role == "shaft") != (kind == "shaft"):
            raise ValueError("a shaft gateway has zone kind 'shaft' and only it (got %r)" % kind)
        _int("doorway_capacity", doorway_capacity, 1, 255)
        _int("settle_ms", settle_ms, 100, 60000)
        _int("window_ms", window_ms, settle_ms + 1, 600000)
        _int("tag_still_s", tag_still_s, 0, _MAX_TIMER_MS // 1000)
        _int("max_dwell_s", max_dwell_s, 0, _MAX_TIMER_MS // 1000)
        _int("untagged_window_ms", untagged_window_ms, 100, 600000)
        _int("unnamed_memory", unnamed_memory, 1, 255)
        self.policy = CapPolicy(
            kind, caps, shaft_cap, warn_pct, schedule, utc_offset_min, epoch_s=epoch_s
        )
        self._epoch_s = self.policy.epoch_s
        self.kind = kind
        self.role = role
        self._emit = emit
        self.roster = roster if roster is not None else Roster(emit)
        self.ledger = Ledger(ledger_capacity)
        # The first unnamed_n of these are remembered tags counted in ledger.overflow (the
        # rest of the overflow: counted, no tag remembered); the snapshot writes them as
        # they are (gateway/snapshot.py). Cleared with the ledger.
        self.unnamed_tags = array("I", range(unnamed_memory))  # no temporary buffer
        self.unnamed_n = 0
        self.doorway = Doorway(
            doorway_capacity,
            settle_ms,
            window_ms,
            tag_still_s * 1000,
            untagged_window_ms,
            emit,
            self._cross,
            self._is_in,
        )
        self._max_dwell_ms = max_dwell_s * 1000
        self.evacuating = False
        self.sealed = False
        self.restricted = False
        self._access = False  # access-controlled: only listed roles or people
        self._admit_roles = bytearray(256)
        self._admit_people = array("I")
        self._now_ms = 0
        self._now_s = None  # the last now_s seen; derived values below are cached for it
        self._rel_s = -1  # clock seconds (now_s - EPOCH_S as unix), -1 while unknown
        self._c = 0  # the same, 0 while unknown: what the ledger records (as unix halves)
        self.shift = SHIFT_UNKNOWN
        self.cap = self.policy.cap(SHIFT_UNKNOWN, False)
        self.level = self.policy.level(0, self.cap)
        self.parallel_crews = False
        self.entry_refused = True  # until the first refresh: outputs start safe
        self._beam_last = -1  # -1: no beam counter reported yet
        self._scan_ms = 0
        self._bad_point = array("i", [0] * _BAD_RING)
        self._bad_tag = array("I", [0] * _BAD_RING)
        self._bad_ms = array("I", [0] * _BAD_RING)
        self._bad_used = 0
        self._refresh()

    # ---- state out ----

    @property
    def count(self):
        return self.ledger.count

    @property
    def lamp(self):
        if self.entry_refused or self.level >= LEVEL_FULL:
            return LAMP_RED
        if self.level == LEVEL_WARNING:
            return LAMP_AMBER
        return LAMP_GREEN

    def is_present(self, person_id):
        return self.ledger.find_person(person_id) >= 0

    def occupants(self):
        # (tag, person_id, since_s) of each named person inside; person 0 = unknown tag.
        ld = self.ledger
        for r in range(ld.n):
            yield (ld.tag(r), ld.person(r), ld.since_s(r))

    # ---- inputs ----

    def on_read(self, point, tag, rssi, battery_low, now_ms, now_s):
        self._now_ms = now_ms
        self._clock(now_s)
        if point != OUTER and point != INNER:
            # R-DATA-4: a tag seen at a read point that belongs to no registered zone.
            good = _is_int(tag) and 0 < tag <= MAX_ID
            self._bad_read(READ_POINT_UNKNOWN, tag if good else 0, _small(point), rssi, now_ms)
            return
        if not _is_int(tag) or tag <= 0 or tag > MAX_ID:
            self._bad_read(TAG_INVALID, 0, point, rssi, now_ms)
            return
        if not _is_int(rssi) or rssi < -128 or rssi > 0:
            rssi = -128  # unknown strength: the weakest
        slot = self.doorway.read(point, tag, rssi, battery_low, now_ms)
        if slot >= 0 and point == OUTER:
            self._judge(slot)
        self._refresh()

    def on_beam(self, total_count, now_ms):
        # total_count: bodies the beam / turnstile has counted entering, cumulative.
        if not _is_int(total_count):
            return
        last = self._beam_last
        self._beam_last = total_count
        if last < 0 or total_count < last:
            return  # first report or the counter restarted: a new baseline
        if total_count > last:
            # R-ID-2: the doorway pairs each body with a tag entry, or alarms.
            self.doorway.beam(total_count - last, _i32(total_count), now_ms)

    def tick(self, now_ms, now_s):
        self._now_ms = now_ms
        self._clock(now_s)
        self.doorway.tick(now_ms)
        if self._max_dwell_ms and ticks_age(now_ms, self._scan_ms) >= _SCAN_MS:
            self._scan_ms = now_ms & TICKS_MASK
            self._check_overstay(now_ms)
        dw = self.doorway
        for i in range(dw.n):
            if dw.approaching(i):
                self._judge(i)
        self._refresh()

    # ---- flags and settings in ----

    def set_evacuating(self, on):
        # R-EVAC-1..3: the interlocks own evacuation; here it refuses all but rescue.
        self.evacuating = bool(on)
        self._refresh()

    def set_sealed(self, on):
        # R-SEAL-1: cap 0, every entry alarms.
        self.sealed = bool(on)
        self._refresh()

    def set_restricted(self, on):
        # Restricted zone (限制区域): every entry is refused and alarms.
        self.restricted = bool(on)
        self._refresh()

    def set_access(self, admit_roles=(), admit_people=()):
        # Access-controlled zone (准入区域): only these role codes or person ids are
        # admitted. Both empty: no access control. Bad input raises and changes nothing.
        if not isinstance(admit_roles, (list, tuple)) or not isinstance(
            admit_people, (list, tuple)
        ):
            raise ValueError("admitted roles and people: expected lists")
        if len(admit_people) > _ADMIT_PEOPLE_MAX:
            raise ValueError("at most %d admitted people" % _ADMIT_PEOPLE_MAX)
        flags = bytearray(256)
        for r in admit_roles:
            if not roles.is_role(r):
                raise ValueError("admitted role %r is not 1..%d" % (r, roles.MAX_ROLE))
            flags[r] = 1
        people = array("I")
        for p in admit_people:
            _int("admitted person", p, 1, MAX_ID)
            people.append(p)
        _sort(people)
        self._admit_roles = flags
        self._admit_people = people
        self._access = len(admit_roles) > 0 or len(admit_people) > 0
        self._refresh()

    def check_override(self, cap, expiry_s, now_s):
        # What set_override would refuse (ValueError), without setting anything.
        self.policy.check_override(cap, expiry_s, now_s)

    def set_override(self, cap, expiry_s, now_s):
        # R-CAP-9: a temporary cap for rectification work, until expiry_s (wall clock).
        self._clock(now_s)
        self.policy.set_override(cap, expiry_s, now_s)
        self._emit(CAP_OVERRIDE_SET, 0, cap, expiry_s - unix_of(self._c))
        self._refresh()

    def clear_override(self):
        # Returns False when there was none: nothing changed, nothing logged.
        if self.policy.override_cap < 0:
            return False
        self._emit(CAP_OVERRIDE_ENDED, 0, self.policy.clear_override(), 2)
        self._refresh()
        return True

    # ---- persistence ----

    def restore_start(self, overflow, override_cap, override_expiry_s):
        # Replaces the ledger with a snapshot's, in three parts (start, each row, finish)
        # for a snapshot read from flash (gateway/snapshot.py, which has checked every
        # value). Rows beyond this ledger's capacity are kept as counted-unnamed
        # (overflow): nobody is dropped. The monotonic clock restarted with the board, so
        # each stay's age is rebuilt from the wall clock when both are known.
        ld = self.ledger
        ld.clear()
        self.unnamed_n = 0
        self.doorway.clear()
        ld.overflow = overflow
        if override_cap >= 0:
            self.policy.restore_override(override_cap, override_expiry_s)
        else:
            self.policy.clear_override()

    def restore_row(self, tag, person, since_s, role, crew, flags, now_ms, now_s):
        # False if the tag is in already (a damaged snapshot: the caller refuses it).
        ld = self.ledger
        if ld.find(tag) >= 0:
            return False
        now_c = now_clock(now_s, self._epoch_s)
        r = ld.add(tag, person, role, crew, flags, since_s, _since_ms(since_s, now_ms, now_c))
        if r < 0:
            ld.overflow += 1
            self._remember(tag)
        return True

    def restore_unnamed(self, tag):
        # One remembered tag of the snapshot's overflow, after its rows. False (and not
        # remembered: still counted, as one of the unremembered) for a bad tag, one that is
        # in already, or past the overflow or the memory: fail safe, nobody un-counted.
        if not _is_int(tag) or tag <= 0 or tag > MAX_ID or self._is_in(tag):
            return False
        if self.unnamed_n >= self.ledger.overflow:
            return False
        return self._remember(tag)

    def restore_finish(self, now_ms, now_s):
        self._beam_last = -1
        self._now_ms = now_ms
        self._now_s = None
        self._clock(now_s)
        self._refresh()

    def replay(self, kind, tag, time_s, now_ms):
        # Applies an ENTRY or EXIT already in the event log (logged after the snapshot
        # that restore() was given) to the ledger, exactly as it was counted then, without
        # logging it again. Person, role and crew come from the roster now loaded. Other
        # kinds and bad tags are ignored. Outputs catch up at the next tick().
        if not _is_int(tag) or tag <= 0 or tag > MAX_ID:
            return
        # The remembered tags counted without a row are rebuilt as they were kept then.
        ld = self.ledger
        r = ld.find(tag)
        if kind == EXIT:
            if r >= 0:
                ld.remove(r)
                return
            u = self._unnamed_at(tag)
            if u >= 0:
                self._forget(u)
                ld.overflow -= 1
            elif ld.overflow > self.unnamed_n:
                # An EXIT logged for a tag neither named nor remembered: only a log from
                # before the memory (this firmware says such an exit with a kept-in
                # DOUBTFUL_CROSSING instead), which un-counted one then.
                ld.overflow -= 1
            return
        if kind != ENTRY:
            return
        since_s = time_s if clock_known(time_s) else 0
        since_ms = _since_ms(since_s, now_ms, self._c)
        if r >= 0:
            ld.restart(r, since_s, since_ms)
            return
        if self._unnamed_at(tag) >= 0:
            return  # counted without a row already: still one person (a missed exit)
        rs = self.roster
        ri = rs.find(tag)
        if ri >= 0:
            r = ld.add(tag, rs.person(ri), rs.role(ri), rs.crew(ri), 0, since_s, since_ms)
        else:
            r = ld.add(tag, 0, 0, 0, FLAG_UNKNOWN, since_s, since_ms)
        if r < 0:
            ld.overflow += 1
            self._remember(tag)

    # ---- inside ----

    def _clock(self, now_s):
        # Everything derived from the wall clock is computed once per new now_s.
        if now_s == self._now_s:
            return
        self._now_s = now_s
        pol = self.policy
        c = now_clock(now_s, self._epoch_s)
        if c:
            self._rel_s = c
            self._c = c
            shift = pol.shift_at(now_s)
            if pol.override_expired(now_s):
                self._emit(CAP_OVERRIDE_ENDED, 0, pol.clear_override(), 1)
        else:
            self._rel_s = -1
            self._c = 0
            shift = SHIFT_UNKNOWN
        if shift != self.shift:
            self.shift = shift
            self._emit(SHIFT_CHANGED, 0, shift, self.ledger.count)
        self._refresh()

    def _refresh(self):
        # Recomputes cap, level, crews and the refusal output, logging each change.
        ld = self.ledger
        cap = 0 if self.sealed else self.policy.cap(self.shift, self._rel_s >= 0)
        if cap != self.cap:
            self._emit(CAP_CHANGED, 0, cap, self.cap)
            self.cap = cap
        level = self.policy.level(ld.count, cap)
        if level != self.level:
            self.level = level
            self._emit(CAP_OK + level, 0, ld.count, cap)  # CAP_OK..CAP_OVER follow levels
        if self.role == "face":
            p = ld.crew_count[roles.CREW_PRODUCTION]
            m = ld.crew_count[roles.CREW_MAINTENANCE]
            both = p > 0 and m > 0
            if both != self.parallel_crews:
                self.parallel_crews = both
                self._emit(PARALLEL_CREWS if both else PARALLEL_CREWS_CLEARED, 0, p, m)
        self.entry_refused = (
            self.evacuating
            or self.sealed
            or self.restricted
            or self._rel_s < 0
            or level >= LEVEL_FULL
            or ld.full
            or self.doorway.waiting_refused()
        )

    def _judge(self, slot):
        # Sets the track's REFUSED flag from the zone as it is now; logs a refusal once
        # per approach.
        dw = self.doorway
        tag = dw.tag(slot)
        ri = self.roster.find(tag)
        reason = self._refusal(tag, ri)
        flags = dw.flags(slot)
        if reason:
            if not flags & REFUSAL_LOGGED:
                person = self.roster.person(ri) if ri >= 0 else 0
                self._emit(ENTRY_REFUSED, tag, person, reason)
            dw.set_flags(slot, flags | REFUSED | REFUSAL_LOGGED)
        elif flags & REFUSED:
            dw.set_flags(slot, flags & ~REFUSED)

    def _refusal(self, tag, ri):
        rs = self.roster
        role = rs.role(ri) if ri >= 0 else 0
        if self.evacuating:
            return 0 if role == roles.RESCUE else REFUSE_EVACUATION
        if self.sealed:
            return REFUSE_SEALED
        if self.restricted:
            return REFUSE_RESTRICTED
        if ri < 0:
            return REFUSE_UNKNOWN_TAG
        if self._rel_s < 0:
            return REFUSE_CLOCK
        if not rs.cert_ok(ri, self._rel_s):
            return REFUSE_CERTIFICATE
        if not self._admits(role, rs.person(ri)):
            return REFUSE_NOT_ADMITTED
        ld = self.ledger
        crew = rs.crew(ri)
        # R-CAP-7: the second crew is refused while the first is in (3 - crew: the other).
        if self.role == "face" and crew and ld.crew_count[3 - crew] > 0:
            return REFUSE_PARALLEL_CREWS
        if not self._is_in(tag):
            if ld.full:
                return REFUSE_LEDGER_FULL
            if ld.count >= self.cap:
                return REFUSE_CAP
        return 0

    def _admits(self, role, person):
        if not self._access or self._admit_roles[role]:
            return True
        people = self._admit_people
        lo = 0
        hi = len(people)
        while lo < hi:
            mid = (lo + hi) >> 1
            if people[mid] < person:
                lo = mid + 1
            else:
                hi = mid
        return lo < len(people) and people[lo] == person

    def _is_in(self, tag):
        return self.ledger.find(tag) >= 0 or self._unnamed_at(tag) >= 0

    def _unnamed_at(self, tag):
        # Index of tag among the remembered tags counted without a row, else -1. A scan:
        # the memory is small and, but for a full ledger, empty.
        u = self.unnamed_tags
        for i in range(self.unnamed_n):
            if u[i] == tag:
                return i
        return -1

    def _remember(self, tag):
        # False when the memory is full: the tag is counted (overflow) but not remembered.
        n = self.unnamed_n
        if n >= len(self.unnamed_tags):
            return False
        self.unnamed_tags[n] = tag
        self.unnamed_n = n + 1
        return True

    def _forget(self, i):
        n = self.unnamed_n - 1
        self.unnamed_tags[i] = self.unnamed_tags[n]
        self.unnamed_n = n

    def _cross(self, tag, into_zone):
        if into_zone:
            self._entry(tag)
        else:
            self._exit(tag)
        self._refresh()

    def _entry(self, tag):
        # R-CAP-8: people are counted by tag, once, whatever their shift, so a staggered
        # handover never counts anyone twice.
        rs = self.roster
        ld = self.ledger
        emit = self._emit
        now_ms = self._now_ms
        ri = rs.find(tag)
        person = 0
        role = 0
        crew = 0
        if ri >= 0:
            person = rs.person(ri)
            role = rs.role(ri)
            crew = rs.crew(ri)
        r = ld.find(tag)
        new = r < 0 and self._unnamed_at(tag) < 0
        if new:
            flags = 0 if ri >= 0 else FLAG_UNKNOWN
            if ld.count >= self.cap:
                flags |= FLAG_OVER_CAP
            r = ld.add(tag, person, role, crew, flags, 0, now_ms)
            if r < 0:
                # No row: counted all the same, and remembered if the memory has room.
                ld.overflow += 1
                self._remember(tag)
            else:
                ld.set_since(r, unix_hi(self._c), unix_lo(self._c))
        elif r < 0:
            # Counted without a row and in again without an exit between: a missed exit
            # as for a row (how long they were gone is not kept); still one person.
            emit(MISSED_EXIT, tag, person, 0)
        else:
            # A missed exit: they were recorded in, so they left unseen and came back.
            # Still one person inside; the stay starts over. (Rare: unix ints allowed.)
            since = ld.since_s(r)
            now_u = unix_of(self._c)
            gone_s = now_u - since if since and now_u >= since else 0
            emit(MISSED_EXIT, tag, ld.person(r), _i32(gone_s))
            ld.restart(r, 0, now_ms)
            ld.set_since(r, unix_hi(self._c), unix_lo(self._c))
        count = ld.count
        emit(ENTRY, tag, person, count)
        if r < 0:
            emit(LEDGER_FULL, tag, person, count)
        # Violations beside the entry: each is evidence, none un-counts anyone.
        if self.evacuating and role != roles.RESCUE:
            emit(EVACUATION_ENTRY, tag, person, count)
        if self.sealed:
            emit(SEALED_ENTRY, tag, person, count)  # R-SEAL-1
        if self.restricted:
            emit(RESTRICTED_ENTRY, tag, person, count)
        if ri < 0:
            emit(UNKNOWN_TAG_ENTRY, tag, 0, count)  # R-ID-4
        else:
            if self._rel_s < 0:
                emit(UNCERTIFIED_ENTRY, tag, person, 2)
            elif not rs.cert_ok(ri, self._rel_s):
                emit(UNCERTIFIED_ENTRY, tag, person, 1)
            if not self._admits(role, person):
                emit(UNAUTHORISED_ENTRY, tag, person, role)
        if new and count > self.cap:
            emit(OVER_CAP_ENTRY, tag, person, count)  # R-CAP-6, R-CAP-11

    def _exit(self, tag):
        ld = self.ledger
        r = ld.find(tag)
        if r >= 0:
            person = ld.person(r)
            ld.remove(r)
            self._emit(EXIT, tag, person, ld.count)
            return
        ri = self.roster.find(tag)
        person = self.roster.person(ri) if ri >= 0 else 0
        u = self._unnamed_at(tag)
        if u >= 0:
            # Counted without a row while the ledger was full, and remembered: out.
            self._forget(u)
            ld.overflow -= 1
            self._emit(EXIT, tag, person, ld.count)
        elif ld.overflow > self.unnamed_n:
            # Some counted without a row are not remembered (past the memory, or from a
            # snapshot without it): this may be one of them, or someone who came in
            # uncounted. Which is unknowable, so nobody is un-counted (R-CAP-11: in doubt,
            # in), and the doubt is said.
            self._emit(_DOUBTFUL_CROSSING, tag, _KEPT_IN, _DOUBT_UNNAMED)
        else:
            # Leaving without having been seen coming in: never a negative count.
            self._emit(MISSED_ENTRY, tag, person, ld.count)

    def _check_overstay(self, now_ms):
        ld = self.ledger
        limit = self._max_dwell_ms
        for r in range(ld.n):
            if not ld.flags(r) & FLAG_OVERSTAY:
                age = ticks_age(now_ms, ld.since_ms(r))
                if age >= limit:
                    ld.set_flag(r, FLAG_OVERSTAY)
                    self._emit(OVERSTAY, ld.tag(r), ld.person(r), age // 60000)

    def _bad_read(self, kind, tag, point, rssi, now_ms):
        # One alarm per (point, tag) a minute: enough to expose the read, without letting
        # a misconfigured reader repeating itself fill the event log.
        m = now_ms & TICKS_MASK
        used = self._bad_used
        oldest = 0
        for i in range(used):
            if self._bad_point[i] == point and self._bad_tag[i] == tag:
                if ticks_age(m, self._bad_ms[i]) < _BAD_REPEAT_MS:
                    return
                oldest = i
                break
            if ticks_age(m, self._bad_ms[i]) > ticks_age(m, self._bad_ms[oldest]):
                oldest = i
        else:
            if used < _BAD_RING:
                oldest = used
                self._bad_used = used + 1
        self._bad_point[oldest] = point
        self._bad_tag[oldest] = tag
        self._bad_ms[oldest] = m
        self._emit(kind, tag, point, _small(rssi))


def _since_ms(since_s, now_ms, now_c):
    # The monotonic time of an entry recorded at unix time since_s, for a ledger rebuilt
    # after a reboot (ticks restarted), now_c the clock seconds now; unknowable without
    # both clocks: then "just now". A boot path: unix arithmetic allowed.
    age_ms = 0
    if now_c > 0 and clock_known(since_s) and since_s - EPOCH_S <= now_c:
        age_ms = (now_c - (since_s - EPOCH_S)) * 1000
        if age_ms > _MAX_TIMER_MS:
            age_ms = _MAX_TIMER_MS
    return now_ms - age_ms


def _sort(a):
    # Insertion sort for short lists (admitted people); allocates nothing.
    for i in range(1, len(a)):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
