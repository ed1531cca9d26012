# Helpers for the zone tests, under CPython and MicroPython alike: an event recorder, a
# roster builder and a clock that walks tags through the doorway.
from gateway import events
from gateway.zone import Zone

# 2025-06-15 12:00 local (UTC+8), in the production shift of SCHEDULE.
NOW_S = 1749960000
DAY_S = 86400
SCHEDULE = [[0, 1], [480, 0], [960, 0]]  # 00:00 maintenance, 08:00 and 16:00 production
OFFSET_MIN = 480

_NAMES = {}
for _k in dir(events):
    _v = getattr(events, _k)
    if _k.isupper() and isinstance(_v, int):
        _NAMES[_v] = _k


def kind_name(kind):
    return _NAMES.get(kind, str(kind))


class Recorder:
    def __init__(self):
        self.log = []

    def __call__(self, kind, tag, a, b):
        self.log.append((kind, tag, a, b))

    def of(self, kind):
        return [e for e in self.log if e[0] == kind]

    def tags(self, kind):
        return [e[1] for e in self.log if e[0] == kind]

    def kinds(self):
        return [e[0] for e in self.log]

    def names(self):
        return [kind_name(e[0]) for e in self.log]

    def clear(self):
        self.log = []


class Clock:
    # The wall clock follows the monotonic one, as on a board whose RTC was set.
    def __init__(self, now_s=NOW_S, now_ms=1000):
        self.s = now_s
        self.ms = now_ms
        self._part_ms = 0

    def step(self, ms):
        self.ms += ms
        self._part_ms += ms
        self.s += self._part_ms // 1000
        self._part_ms %= 1000


def person(tag):
    return 1000 + tag


def load_roster(zone, entries):
    zone.roster.begin(len(entries))
    zone.roster.add(entries)
    zone.roster.commit()


def crew_roster(tags, crew=1, role=1, cert_s=NOW_S + 365 * DAY_S):
    return [[t, person(t), role, cert_s, crew] for t in tags]


def make_zone(kind="coal_face", role="face", roster_tags=(), **kw):
    rec = Recorder()
    if "schedule" not in kw:
        kw["schedule"] = SCHEDULE
        kw["utc_offset_min"] = OFFSET_MIN
    z = Zone(kind, role, rec, **kw)
    if roster_tags:
        load_roster(z, crew_roster(roster_tags))
    clock = Clock()
    z.tick(clock.ms, clock.s)
    rec.clear()
    return z, rec, clock


def settle(zone, clock, ms=10000):
    # Ticks the zone every 250 ms for `ms`: long enough for every track to end.
    end = clock.ms + ms
    while clock.ms < end:
        clock.step(250)
        zone.tick(clock.ms, clock.s)


def reads(zone, clock, tag, points, step_ms=250):
    for p in points:
        zone.on_read(p, tag, -60, 0, clock.ms, clock.s)
        clock.step(step_ms)
        zone.tick(clock.ms, clock.s)


def walk_in(zone, clock, tag):
    reads(zone, clock, tag, (0, 0, 1, 1))
    settle(zone, clock)


def walk_out(zone, clock, tag):
    reads(zone, clock, tag, (1, 1, 0, 0))
    settle(zone, clock)


def walk_in_group(zone, clock, tags):
    # Several people through the doorway together, their reads interleaved.
    for p in (0, 0, 1, 1):
        for tag in tags:
            zone.on_read(p, tag, -60, 0, clock.ms, clock.s)
        clock.step(250)
        zone.tick(clock.ms, clock.s)
    settle(zone, clock)


def idle(zone, clock, seconds):
    # Time passing with nobody in the doorway: a tick a second.
    for _ in range(seconds):
        clock.step(1000)
        zone.tick(clock.ms, clock.s)


def idle_in_parts(zone, clock, seconds, part_s=300):
    # idle() in parts of part_s seconds, for a test in parts (tests/hostcalls.py): a tick
    # allocates while the wall clock is a Unix time (a big int on a 32-bit MicroPython),
    # garbage a board collects between its steps and this port only between host calls.
    while seconds > 0:
        n = min(seconds, part_s)
        idle(zone, clock, n)
        seconds -= n
        yield


# The zone's state as a plain list and back, for tests that reboot a zone in the same
# heap: [overflow, override cap (-1 none), override expiry_s, k, then the k remembered tags
# counted without a ledger row, then per named person: tag, person, since_s, role, crew,
# flags]. The board keeps it on flash in binary (gateway/snapshot.py, which checks every
# value) and restores it through the same restore_start / restore_row / restore_unnamed /
# restore_finish as here. memory=False: as a snapshot from before the zone remembered
# those tags (version 1 on flash): the overflow with no tag remembered.
def snapshot(z, memory=True):
    ld = z.ledger
    out = [ld.overflow, z.policy.override_cap, z.policy.override_expiry_s]
    u, k = z.unnamed_tags, z.unnamed_n
    if not memory:
        k = 0
    out.append(k)
    for i in range(k):
        out.append(u[i])
    for r in range(ld.n):
        for v in (ld.tag(r), ld.person(r), ld.since_s(r), ld.role(r), ld.crew(r), ld.flags(r)):
            out.append(v)
    return out


def restore(z, snap, now_ms, now_s):
    z.restore_start(snap[0], snap[1], snap[2])
    k = snap[3]
    for b in range(4 + k, len(snap), 6):
        row = snap[b : b + 6]
        assert z.restore_row(row[0], row[1], row[2], row[3], row[4], row[5], now_ms, now_s)
    for i in range(k):
        assert z.restore_unnamed(snap[4 + i])
    z.restore_finish(now_ms, now_s)
