"""``shaftgate demo``: the simulated mine with the live dispatch view.

Virtual boards (the real firmware under MicroPython, shaftgate.vboard) stand at the shaft
and at four faces of different kinds: a coal face (cap 25 on production shifts, 40 on
maintenance), a fully mechanised heading (18), a drill-and-blast heading (15) and a
repair point (8). The demo provisions their keys (keystore under the demo home) and
configuration, loads a roster of 150 people over gatewire, sets the gateways' clocks and
plays a scripted morning shift: crews ride down the shaft and walk to their faces;
a worker whose certificate has expired is turned back; the repair point fills and turns
the next fitter away; a heading's camera drops out and comes back; a welder works at the
coal face under a hot-work permit with a fire-watcher; methane rises at the
drill-and-blast heading until the gateway orders everyone out, the zone clears, the gas
falls and dispatch gives the all-clear.

Two sides that never touch: the *world* here drives the boards' peripherals through
their side channel, as people, cameras and gas would; *dispatch* (dispatch_view.py)
knows only what the gateways say over gatewire and sends the signed commands a
dispatcher would (time-set, roster load, permit, all-clear).

Time: --speed N runs the mine N times faster than the wall clock by moving every
board's clock forward together (VirtualBoard.advance), so the firmware's own timers
(doorway settle time, video hold-off, gas records, fire watch) all run on mine time.
"""

import argparse
import bisect
import contextlib
import datetime
import fcntl
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from shaftgate import roster_csv, sim
from shaftgate.link.client import GatewayError
from shaftgate.link.keystore import Keystore, KeystoreError
from shaftgate.link.transport import LinkError
from shaftgate.sim.view import (
    LiveScreen,
    ServeDispatch,
    ViewError,
    frame_lines,
    plain_frame,
)
from shaftgate.station.control import ControlError, ServeClient
from shaftgate.station.control import wait_for as wait_for_serve
from shaftgate.vboard import OUTER, BoardError, VirtualBoard

DEFAULT_HOME = "run/demo"
DEFAULT_SPEED = 60.0
MAX_SPEED = 200.0
DEFAULT_BOARDS = 5
MAX_DEMO_BOARDS = 12  # each board is a MicroPython VM stepping every few ms
MARKER = ".shaftgate-demo"  # a folder holding this is the demo's to wipe
BOOT_TIMEOUT_S = 20.0
LIVE_REDRAW_S = 0.5
PLAIN_FRAME_S = 2.0
WORLD_TICK_S = (0.01, 0.1)  # the world's step, shortest and longest
# Clock jumps: at most MAX_JUMP_MS a world tick, below the firmware's video timeout
# (10 s) and gas silence limit (5 s) even if two jumps reach a board between its steps.
# This bounds the speed the boards can follow: MAX_SPEED.
MAX_JUMP_MS = 2000
MIN_JUMP_MS = 20
CATCH_UP_TIMEOUT_S = 10.0
LAST_WORDS_EVENTS = 20  # events printed after the live screen closes

UTC_OFFSET_MIN = 480  # the mine keeps China Standard Time, the firmware's default
STORY_START_MIN = 5 * 60 + 45  # 05:45; the morning production shift starts at 06:00
# [start minute of the day, 0 production / 1 maintenance]: maintenance overnight, the
# morning production shift from 06:00 (the coal face's cap drops from 40 to 25, R-CAP-1/2),
# maintenance again from 22:00.
SHIFTS = [[0, 1], [360, 0], [1320, 1]]
SEED = 1958  # the roster and the walk times are the same on every run

# The roster a Chinese mine keeps: names in Chinese characters (two columns a character).
SURNAMES = tuple("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧曹邓")
GIVEN = tuple("伟芳军磊强敏杰涛明超浩鹏斌刚辉勇建平鑫龙波凯亮峰宇东华成江振")

# Who works at each face this morning: (role, crew, how many), sized against each kind's
# cap: the coal face past its amber warning (80 %), the headings green, the repair point
# exactly full. Faces follow sim.mine_layout: 1 coal face, 2 FM heading, 3 D&B heading,
# 4 repair point.
FACE_TEAMS = {
    1: (
        ("team_leader", "production", 1),
        ("driver", "production", 3),
        ("electrician", "production", 1),
        ("welder", "production", 1),
        ("miner", "production", 17),
        ("safety_inspector", "support", 1),
    ),
    2: (
        ("team_leader", "production", 1),
        ("driver", "production", 2),
        ("electrician", "production", 1),
        ("miner", "production", 9),
    ),
    3: (
        ("team_leader", "production", 1),
        ("blaster", "production", 1),
        ("gas_inspector", "support", 1),
        ("miner", "production", 8),
    ),
    4: (
        ("team_leader", "maintenance", 1),
        ("electrician", "maintenance", 1),
        ("fitter", "maintenance", 6),
    ),
}
# Roadway staff (belts, haulage, ventilation, pumps, inspection): they pass the shaft only.
ROADWAY = (
    ("mine_leader", "support", 1),
    ("gas_inspector", "support", 3),
    ("safety_inspector", "support", 2),
    ("technician", "support", 4),
    ("electrician", "maintenance", 8),
    ("fitter", "maintenance", 10),
    ("driver", "production", 16),
    ("miner", "production", 46),
)
EXTRA_FITTER = ("fitter", "maintenance")  # the ninth for the repair point: over its cap
EXPIRED = (("electrician", "maintenance"), ("driver", "production"), ("blaster", "production"))

CAGE_SIZE = 12
FIRST_CAGE_S = 120
CAGE_EVERY_S = 90
STEP_IN_CAGE_S = 3
WALK_S = {1: 1080, 2: 840, 3: 720, 4: 540}  # shaft bottom to each face entrance
WALK_JITTER_S = 120
EXPIRED_TRY_S = FIRST_CAGE_S + 3 * CAGE_EVERY_S + 20
# Mid-shift, once every crew is at its face (the last arrive about 06:13):
VIDEO_LOST_S = 1800  # 06:15 the FM heading's camera fails, for five minutes
VIDEO_BACK_S = 2100
PERMIT_S = 2220  # 06:22 hot-work permit issued; its window opens 2 min later, for 25 min
PERMIT_LEAD_S = 120
PERMIT_WINDOW_S = 1500
METHANE_RISE_S = 2700  # 06:30 methane starts rising at the D&B heading
METHANE_PEAK_S = 3000
METHANE_FALL_S = 3300
METHANE_LOW_S = 3600
EVAC_WALK_OUT_S = 3030  # people hear the sounder and walk out, a few seconds apart
EVAC_STEP_S = 20
ALL_CLEAR_S = 3720  # 06:47
ALL_CLEAR_RETRY_S = 60
STORY_END_S = 4200  # 06:55
GAS_EVERY_S = 20

# CH4 ppm through the story at each face (1 % = 10 000 ppm); face 3's methane rises past
# the stop level (1.0 %) and the evacuation level (1.5 %) and falls back.
CH4_BASE_PPM = {0: 400, 1: 2500, 2: 3000, 3: 2800, 4: 1200}
CH4_FACE3 = (
    (0, 2800),
    (METHANE_RISE_S, 3000),
    (METHANE_PEAK_S, 16500),
    (METHANE_FALL_S, 16800),
    (METHANE_LOW_S, 3500),
)
PERMIT_ID = 7001
JOB_ID = 31
MEASURE_REF = "HW-1201-031"


class DemoError(Exception):
    """The demo cannot start or go on as asked; the text says why."""


class Person(NamedTuple):
    tag_id: int
    person_id: int
    name: str
    role: str
    crew: str
    cert_expiry: datetime.date
    face: int  # the face they work at, 0 for roadway work
    expired: bool
    extra: bool  # the fitter the repair point has no room for


# ---- the roster ----


def mine_day():
    # The mine's calendar day today, in its own time zone.
    tz = datetime.timezone(datetime.timedelta(minutes=UTC_OFFSET_MIN))
    return datetime.datetime.now(tz).date()


def story_start_s(day):
    tz = datetime.timezone(datetime.timedelta(minutes=UTC_OFFSET_MIN))
    start = datetime.datetime.combine(day, datetime.time(), tz)
    return int(start.timestamp()) + STORY_START_MIN * 60


def plan_people(day, faces):
    # 150 people, the same on every run for the same day; `faces` are the face numbers
    # that have a gateway (crews of the others work the roadways this morning).
    rng = random.Random(SEED)
    plan = []
    for face in sorted(FACE_TEAMS):
        for role, crew, n in FACE_TEAMS[face]:
            plan += [(role, crew, face if face in faces else 0, False, False)] * n
    plan.append((*EXTRA_FITTER, 4 if 4 in faces else 0, False, True))
    for role, crew, n in ROADWAY:
        plan += [(role, crew, 0, False, False)] * n
    plan += [(role, crew, 0, True, False) for role, crew in EXPIRED]
    names = rng.sample([s + g for s in SURNAMES for g in GIVEN], len(plan))
    people = []
    for i, (role, crew, face, expired, extra) in enumerate(plan):
        if expired:
            cert = day - datetime.timedelta(days=rng.randint(3, 60))
        else:
            cert = day + datetime.timedelta(days=rng.randint(20, 900))
        people.append(Person(1001 + i, 501 + i, names[i], role, crew, cert, face, expired, extra))
    return people


def write_roster(path, people):
    # The CSV a dispatcher keeps (roster_csv.COLUMNS), read back through the same parser
    # `shaftgate roster load` uses, so the demo loads exactly what a mine would.
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(roster_csv.COLUMNS)]
    for p in people:
        lines.append(
            "%d,%d,%s,%s,%s,%s"
            % (p.tag_id, p.person_id, p.name, p.role, p.cert_expiry.isoformat(), p.crew)
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return roster_csv.read_roster(path)


# ---- the boards ----


def demo_layout(n):
    # sim's mine (gw-shaft, then gw-face1.. of each kind in turn) with the demo's shifts.
    layout = []
    for gateway_id, config in sim.mine_layout(n):
        config = dict(config, shifts=SHIFTS, utc_offset_min=UTC_OFFSET_MIN, cameras=1)
        layout.append((gateway_id, config))
    return layout


def prepare_home(home):
    # The demo wipes its boards' flash and its event records on every run, so it only
    # works in a folder that is empty or that it made itself: never a real dispatch home.
    # -> the open lock file, held while the demo runs, so a second demo in the same folder
    # cannot wipe the flash of boards that are running.
    home = Path(home)
    if home.exists():
        if not home.is_dir():
            raise DemoError("demo home %s is not a folder" % home)
        if any(home.iterdir()) and not (home / MARKER).exists():
            raise DemoError(
                "demo home %s is not empty and was not made by the demo; give another "
                "--home (the demo erases its boards and event records there)" % home
            )
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text("made by shaftgate demo: boards, keys and records of the demo\n")
    lock = open(home / MARKER, "rb")  # noqa: SIM115 (held until the demo ends)
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise DemoError("another demo is running in %s; give another --home" % home) from None
    for sub in ("events", "rosters", "vboards", "mosquitto"):
        shutil.rmtree(home / sub, ignore_errors=True)
    for name in ("station.db", "station.db-wal", "station.db-shm", "serve.sock", "serve.log"):
        with contextlib.suppress(FileNotFoundError):
            (home / name).unlink()
    return lock


DEMO_OPERATOR = "dispatch"


def write_site(home, layout, boards):
    # The site file serve reads (docs/serve.md): the demo's boards, keys and one dispatcher.
    lines = [
        "# written by shaftgate demo",
        "[mine]",
        'id = "demo-mine"',
        'name = "示范煤矿 Demo mine"',
        'time_zone = "Asia/Shanghai"',
        "",
        "[serve]",
        'database = "station.db"',
        'socket = "serve.sock"',
        'keys = "keys"',
        # The boards' clocks run at --speed: judge them against each other, not the host,
        # and loosely, since at x200 a quarter second between two polls is 50 mine seconds.
        'clock_reference = "gateways"',
        "clock_drift_s = 3600",
        "",
    ]
    for (gid, config), board in zip(layout, boards, strict=True):
        lines += [
            "[[gateways]]",
            "id = %s" % json.dumps(gid),
            "port = %s" % json.dumps(board.port),
            "zone = %s" % json.dumps(config["zone_id"]),
            "kind = %s" % json.dumps(config["zone_kind"]),
            "",
        ]
    lines += [
        "[operators.%s]" % DEMO_OPERATOR,
        'name = "调度员 Dispatcher"',
        'authority = ["evacuate", "orders", "admin"]',
    ]
    path = Path(home) / "site.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _each(items, fn):
    # fn(item) for every item at once (boards boot in parallel); the first error is raised
    # after all have finished.
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        futures = [pool.submit(fn, item) for item in items]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return [f.result() for f in futures]


class MineClock:
    """Mine time is what the boards' clocks say: the story's start, plus real time since
    begin(), plus everything the world has advanced them by (advanced_ms)."""

    def __init__(self, start_s, speed):
        self.start_s = start_s
        self.speed = speed
        self.origin = None
        self.advanced_ms = 0

    def begin(self):
        self.origin = time.monotonic()

    def real_s(self):
        origin = self.origin
        if origin is None:
            # Mine time starts at begin(), as setup() sets the boards' clocks: none before.
            raise DemoError("the mine clock was read before it began")
        return time.monotonic() - origin

    def elapsed_s(self):
        return self.real_s() + self.advanced_ms / 1000

    def now_s(self):
        return self.start_s + int(self.elapsed_s())

    def due_ms(self):
        # How far the boards' clocks are behind real time times the speed.
        return int(self.real_s() * self.speed * 1000) - int(self.elapsed_s() * 1000)


class Step(NamedTuple):
    at_s: float
    what: str | None  # the story line shown while it plays, None for routine steps
    act: object  # act(world)


class World:
    """The mine around the gateways: people walking, cameras, gas sensors. It touches
    boards only through their peripherals (the side channel), and dispatch only through
    the commands a dispatcher sends over gatewire."""

    def __init__(self, boards, order, people, clock, log):
        self.boards = {b.name: b for b in boards}
        self.order = order  # order(gateway id, command, args, reason): through serve
        self.people = people
        self.clock = clock
        self.log = log  # log(text): what the world wants the operator of the demo to know
        self.headline = None
        self.done = threading.Event()
        self.failures = []
        self.broken = None
        self._next_gas_s = 0.0
        # As often as the speed needs for jumps of about MAX_JUMP_MS, and no more often:
        # each jump is a message to every board.
        fit = 0.8 * MAX_JUMP_MS / 1000 / clock.speed
        self._tick_s = min(WORLD_TICK_S[1], max(WORLD_TICK_S[0], fit))
        self._rng = random.Random(SEED + 1)
        self._pending = sorted(self._story(), key=lambda s: s.at_s)
        self._stop = threading.Event()
        self._thread = None

    def face_board(self, face):
        return self.boards.get("gw-face%d" % face)

    # ---- the story ----

    def _story(self):
        rng = random.Random(SEED + 2)
        steps = []

        def at(at_s, act, what=None):
            steps.append(Step(at_s, what and "%s %s" % (_hhmm(at_s), what), act))

        at(0, _noop, "the night shift is out; the morning crews arrive at the shaft")
        # Cage order: the repair crew first, then the headings, the coal face, and the
        # roadway staff; the ninth fitter rides a later cage and finds the repair point full.
        goers = [p for p in self.people if not p.expired and not p.extra]
        order = sorted(goers, key=lambda p: {4: 0, 3: 1, 2: 2, 1: 3, 0: 4}[p.face])
        order[40:40] = [p for p in self.people if p.extra]
        for i, p in enumerate(order):
            cage, k = divmod(i, CAGE_SIZE)
            down_s = FIRST_CAGE_S + cage * CAGE_EVERY_S + k * STEP_IN_CAGE_S
            at(down_s, _cross_in("gw-shaft", p), None if k else "cage %d goes down" % (cage + 1))
            if p.face and self.face_board(p.face):
                face_s = down_s + WALK_S[p.face] + rng.randint(0, WALK_JITTER_S)
                if p.extra:
                    at(face_s, _approach("gw-face4", p), "%s finds the repair point full" % p.name)
                else:
                    at(face_s, _cross_in("gw-face%d" % p.face, p))
        late = next(p for p in self.people if p.expired)
        what = "%s (%s) tries the shaft with an expired certificate" % (late.name, late.role)
        at(EXPIRED_TRY_S, _approach("gw-shaft", late), what)
        if self.face_board(2):
            at(VIDEO_LOST_S, _camera("gw-face2", False), "the FM heading's camera fails")
            at(VIDEO_BACK_S, _camera("gw-face2", True), "the FM heading's camera is back")
        if self.face_board(1):
            welder = next(p for p in self.people if p.face == 1 and p.role == "welder")
            watcher = next(p for p in self.people if p.face == 1 and p.role == "safety_inspector")
            what = "dispatch issues hot-work permit %d at the coal face: welder %s, fire-watcher %s"
            at(
                PERMIT_S,
                _issue_permit("gw-face1", welder, watcher),
                what % (PERMIT_ID, welder.name, watcher.name),
            )
        if self.face_board(3):
            at(METHANE_RISE_S, _noop, "methane rises at the D&B heading")
            at(EVAC_WALK_OUT_S, _noop, "the D&B heading's crew walks out to the shaft")
            crew = [p for p in self.people if p.face == 3]
            for i, p in enumerate(crew):
                out_s = EVAC_WALK_OUT_S + i * EVAC_STEP_S
                at(out_s, _cross_out("gw-face3", p))
                at(out_s + WALK_S[3] + rng.randint(0, WALK_JITTER_S), _cross_out("gw-shaft", p))
            at(METHANE_LOW_S, _noop, "methane is falling back at the D&B heading")
            at(
                ALL_CLEAR_S,
                _all_clear("gw-face3"),
                "dispatch gives the all-clear at the D&B heading",
            )
        at(STORY_END_S, _end, "the shift works on; the story is over")
        return steps

    # ---- running ----

    def prime(self):
        # Cameras and gas sensors on from power-up: the video hold-off and the first gas
        # sample are behind us by the time the crews arrive.
        for b in self.boards.values():
            for camera in range(b.cameras):
                b.video(camera, True)
        self._gas(0.0)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="demo-world", daemon=True)
        self._thread.start()

    @property
    def running(self):
        return self._thread is not None and not self._stop.is_set()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def schedule(self, step):
        # From a step's act (the world's own thread): one more step, in time order.
        bisect.insort(self._pending, step, key=lambda s: s.at_s)

    def _run(self):
        try:
            self._play()
        except Exception:
            # A bug in the simulation, not in a gateway: stop the demo and say where.
            self.broken = traceback.format_exc()
            self.failures.append("the simulated world failed:\n" + self.broken)

    def _play(self):
        while not self._stop.is_set():
            t = self.clock.elapsed_s()
            self._advance()
            if t >= self._next_gas_s:
                self._gas(t)
            while self._pending and self._pending[0].at_s <= t and not self._stop.is_set():
                step = self._pending.pop(0)
                if step.what:
                    self.headline = step.what
                try:
                    step.act(self)
                except (
                    BoardError,
                    GatewayError,
                    OrderRefused,
                    LinkError,
                    ControlError,
                    OSError,
                ) as e:
                    self.failures.append("%s: %s" % (step.what or "a step", e))
                    self.log("demo step failed: %s" % e)
            self._stop.wait(self._tick_s)

    def _advance(self):
        # Every board's clock moves together, in jumps short enough that the firmware
        # still sees each camera beat within its timeout (a longer jump is, rightly, a
        # video outage to it) and a gas sample within gas_silent_ms.
        jump_ms = min(self.clock.due_ms(), MAX_JUMP_MS)
        if jump_ms < MIN_JUMP_MS:
            return
        for b in self.boards.values():
            b.advance(jump_ms / 1000)
        self.clock.advanced_ms += jump_ms

    def _gas(self, t):
        self._next_gas_s = t + GAS_EVERY_S
        for gid, b in self.boards.items():
            face = 0 if gid == "gw-shaft" else int(gid.rsplit("face", 1)[1])
            base = _ch4_at(t) if face == 3 else CH4_BASE_PPM.get(face, 2000)
            ch4 = int(base * (1 + self._rng.uniform(-0.04, 0.04))) // 10 * 10
            co = self._rng.randint(2, 6)
            b.gas(max(ch4, 0), co)


def _ch4_at(t):
    points = CH4_FACE3
    if t <= points[0][0]:
        return points[0][1]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t <= t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return points[-1][1]


def _hhmm(at_s):
    minute = STORY_START_MIN + int(at_s) // 60
    return "%02d:%02d" % (minute // 60 % 24, minute % 60)


def _noop(world):
    return None


def _end(world):
    world.done.set()


def _cross_in(gid, p):
    return lambda world: world.boards[gid].cross_in(p.tag_id)


def _cross_out(gid, p):
    return lambda world: world.boards[gid].cross_out(p.tag_id)


def _approach(gid, p):
    # Read at the outer point only: they see the red lamp and the refusal and stay out.
    return lambda world: world.boards[gid].read_tag(OUTER, p.tag_id)


def _camera(gid, on):
    return lambda world: world.boards[gid].video(0, on)


def _iso(time_s):
    tz = datetime.timezone(datetime.timedelta(minutes=UTC_OFFSET_MIN))
    return datetime.datetime.fromtimestamp(time_s, tz).isoformat()


def _issue_permit(gid, welder, watcher):
    def act(world):
        now_s = world.clock.now_s()
        world.order(
            gid,
            "permit issue",
            {
                "permit_id": PERMIT_ID,
                "job_id": JOB_ID,
                "measure_ref": MEASURE_REF,
                "start": _iso(now_s + PERMIT_LEAD_S),
                "end": _iso(now_s + PERMIT_LEAD_S + PERMIT_WINDOW_S),
                "workers": str(welder.person_id),
                "fire_watcher": watcher.person_id,
                "hot_work": True,
                "key_maintenance": False,
                "key_measurement": False,
            },
            "hot-work permit %d for job %d (%s)" % (PERMIT_ID, JOB_ID, MEASURE_REF),
        )

    return act


def _all_clear(gid):
    def act(world):
        try:
            world.order(gid, "all-clear", {"by": None}, "methane back below the limit")
        except OrderRefused as e:
            # R-GAS-1: refused while the gas is not yet known safe; the dispatcher waits.
            world.log("all-clear at %s refused (%s); trying again in a minute" % (gid, e))
            world.schedule(Step(world.clock.elapsed_s() + ALL_CLEAR_RETRY_S, None, act))

    return act


class OrderRefused(Exception):
    """The gateway answered an order through serve with a refusal."""


# ---- the command ----


class Demo:
    def __init__(self, home, n_boards, speed, out, plain):
        self.home = Path(home)
        self.n_boards = n_boards
        self.speed = speed
        self.out = out
        self.plain = plain
        self.boards = []
        self.serve = None
        self.dispatch = None
        self.world = None
        self.notes = []
        self.failures = []
        self.ended_by = None
        self.started = time.monotonic()
        self._lock = None

    def say(self, text):
        # Progress while starting, before any frame: to stderr, so stdout holds frames.
        sys.stderr.write("[demo %4.1f s] %s\n" % (time.monotonic() - self.started, text))
        sys.stderr.flush()

    def note(self, text):
        self.notes.append(text)

    def setup(self):
        self._lock = prepare_home(self.home)
        home = self.home
        layout = demo_layout(self.n_boards)
        faces = {int(gid.rsplit("face", 1)[1]) for gid, _ in layout if gid != "gw-shaft"}
        day = mine_day()
        people = plan_people(day, faces)
        roster_path = home / "roster.csv"
        entries = write_roster(roster_path, people)
        keystore = Keystore(home / "keys")
        self.say(
            "starting %d virtual gateway boards (the firmware under MicroPython) in %s"
            % (len(layout), home / "vboards")
        )
        for gid, config in layout:
            board = VirtualBoard(
                gid, home / "vboards", config=config, key=sim.gateway_key(keystore, gid)
            )
            self.boards.append(board)
        _each(self.boards, lambda b: b.start(BOOT_TIMEOUT_S))
        clock = MineClock(story_start_s(day), self.speed)
        site = write_site(home, layout, self.boards)
        self.say(
            "starting shaftgate serve (%s): it owns the links, the record and the broker" % site
        )
        self.start_serve(site)
        self.world = World(self.boards, self.order, people, clock, self.note)
        self.world.prime()
        self.dispatch = ServeDispatch(home / "serve.sock", [b.name for b in self.boards])
        self.dispatch.load_names_from(entries)
        self.dispatch.start()
        self.say("waiting for serve to hear every gateway over its serial port (gatewire)")
        self._wait_answering()
        self.say(
            "loading the roster of %d people (%s) into every gateway, through serve"
            % (len(entries), roster_path)
        )
        roster_args = {
            "file": str(roster_path),
            "roster_csv": roster_path.read_text(encoding="utf-8"),
            "utc_offset_min": UTC_OFFSET_MIN,
            "timeout": 10.0,
        }
        _each(
            [b.name for b in self.boards],
            lambda gid: self.order(gid, "roster load", roster_args, "the morning roster"),
        )
        clock.begin()
        _each(
            [b.name for b in self.boards],
            lambda gid: self.order(
                gid, "time-set", {"now": False, "time": _iso(clock.now_s())}, "mine clock"
            ),
        )
        self.dispatch.wait_first_poll(BOOT_TIMEOUT_S)
        self.world.start()
        self.say("ready: the shift starts at %s mine time, x%g" % (_hhmm(0), self.speed))

    def start_serve(self, site):
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115 (the child holds it)
        try:
            self.serve = subprocess.Popen(
                [sys.executable, "-m", "shaftgate.cli", "serve", "--site", str(site)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        try:
            wait_for_serve(self.home / "serve.sock", BOOT_TIMEOUT_S)
        except (OSError, ControlError) as e:
            raise DemoError(
                "serve did not start (log %s): %s" % (self.home / "serve.log", e)
            ) from e

    def _wait_answering(self):
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        rows = self.dispatch.links if self.dispatch is not None else []
        while not all(row.status is not None and row.error is None for row in rows):
            if time.monotonic() > deadline:
                silent = [r.gateway_id for r in rows if r.error]
                raise DemoError(
                    "serve does not hear %s (log %s)" % (", ".join(silent), self.home / "serve.log")
                )
            time.sleep(0.1)

    def order(self, gid, command, args, reason):
        # A dispatcher's order through serve, as `shaftgate` sends it: stored with who and why.
        args = dict(args)
        args.setdefault("timeout", 5.0)
        with ServeClient(self.home / "serve.sock") as serve:
            reply = serve.call(
                {
                    "op": "run",
                    "command": command,
                    "args": args,
                    "targets": [gid],
                    "operator": DEMO_OPERATOR,
                    "reason": reason,
                }
            )
        r = reply["results"][0]
        if "error" in r:
            if r["error"]["type"] == "GatewayError":
                raise OrderRefused(r["error"]["message"])
            raise LinkError("%s: %s" % (gid, r["error"]["message"]))
        return r["result"]

    def _running(self):
        # -> (dispatch, world), which only a setup() that succeeded leaves behind.
        dispatch, world = self.dispatch, self.world
        if dispatch is None or world is None:
            raise DemoError("the demo was not set up; nothing to show")
        return dispatch, world

    def state(self):
        dispatch, world = self._running()
        note = self.notes[-1] if self.notes else None
        return dispatch.state(world.headline, note)

    def play(self, duration_s, once):
        # Shows the view until the duration is up, the story has played and dispatch holds
        # every event (--once), a board crashes, or Ctrl-C. -> True if nothing went wrong.
        dispatch, world = self._running()
        finished_at = None
        frame = 0
        mark = 0
        next_frame = 0.0
        screen = None if self.plain else LiveScreen(self.out)
        self.ended_by = None  # Ctrl-C, unless the loop or the output says otherwise
        with contextlib.suppress(KeyboardInterrupt), screen or contextlib.nullcontext():
            while True:
                now = time.monotonic()
                if self._should_stop(world, now, duration_s):
                    break
                if once and finished_at is None and world.done.is_set():
                    finished_at = now
                if finished_at is not None:
                    if dispatch.all_polled_since(finished_at):
                        self.ended_by = "the story has played once"
                        break
                    if now - finished_at > CATCH_UP_TIMEOUT_S:
                        self.failures.append("dispatch did not catch up with every gateway")
                        break
                if now >= next_frame:
                    if screen is not None:
                        cols, rows = screen.size()
                        screen.draw(
                            frame_lines(
                                dispatch, self.state(), cols, rows, self.speed, screen.unicode
                            )
                        )
                        next_frame = now + LIVE_REDRAW_S
                    else:
                        frame += 1
                        fresh, mark = dispatch.events_after(mark)
                        self._print(plain_frame(dispatch, self.state(), fresh, frame, self.speed))
                        next_frame = now + PLAIN_FRAME_S
                time.sleep(0.05)
        self.ended_by = self.ended_by or "Ctrl-C"
        self.stop_world()
        # The last word in plain text, on the normal screen, whichever view ran.
        if self.plain:
            fresh, mark = dispatch.events_after(mark)
            caption = "events since the last frame"
        else:
            fresh = dispatch.latest_events(LAST_WORDS_EVENTS)
            caption = "latest events"
        self._print(
            plain_frame(dispatch, self.state(), fresh, frame + 1, self.speed, True, caption)
        )
        return not self.failures

    def _should_stop(self, world, now, duration_s):
        crashed = [b for b in self.boards if b.crashed is not None]
        for b in crashed:
            self.failures.append("board %s crashed (log %s)" % (b.name, b.log_path))
        if crashed:
            self.ended_by = "a board crashed"
            return True
        if world.broken is not None:
            self.ended_by = "the simulation failed"
            return True
        if duration_s is not None and now - self.started >= duration_s:
            self.ended_by = "--duration"
            return True
        return False

    def _print(self, text):
        try:
            self.out.write(text + "\n\n")
            self.out.flush()
        except BrokenPipeError:
            # Whoever read our output has gone (`| head`): stop like Ctrl-C, quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.out.fileno())
            os.close(devnull)
            self.ended_by = "the output was closed"
            raise KeyboardInterrupt from None

    def stop_world(self):
        # The world stops first, so no step runs against a board being switched off.
        if self.world is not None and self.world.running:
            self.world.stop()
            self.failures.extend(self.world.failures)

    def close(self):
        self.stop_world()
        if self.dispatch is not None:
            self.dispatch.stop()
        if self.serve is not None:
            self.serve.terminate()
            try:
                self.serve.wait(15)
            except subprocess.TimeoutExpired:
                self.serve.kill()
                self.serve.wait()
            self.serve = None
        for b in self.boards:
            b.stop()
        if self._lock is not None:
            self._lock.close()  # and with it the flock
            self._lock = None


def _speed(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            "%r is not a speed; expected a number from 1 (real time) to %g" % (text, MAX_SPEED)
        )
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise argparse.ArgumentTypeError("%r is not a number of seconds above 0" % text)
    return value


def _boards(text):
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DEMO_BOARDS:
        raise argparse.ArgumentTypeError(
            "%r boards: expected 1..%d (the shaft, then the faces)" % (text, MAX_DEMO_BOARDS)
        )
    return int(text)


def add_arguments(parser):
    parser.add_argument(
        "--speed",
        type=_speed,
        default=DEFAULT_SPEED,
        metavar="N",
        help="mine seconds per real second (default %g; 1 is real time, %g the most the "
        "boards' clocks can follow)" % (DEFAULT_SPEED, MAX_SPEED),
    )
    parser.add_argument(
        "--duration",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="stop once the scripted shift has played and dispatch has every event",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="print plain text frames (the default when stdout is not a terminal)",
    )
    parser.add_argument(
        "--boards",
        type=_boards,
        default=DEFAULT_BOARDS,
        metavar="N",
        help="gateways: the shaft, then faces of each kind in turn (default %d)" % DEFAULT_BOARDS,
    )
    # SUPPRESS: `shaftgate --home DIR demo` (the main parser's option) stands too.
    parser.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the demo's folder: keys, boards, records (default ./%s)" % DEFAULT_HOME,
    )


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args):
    out = sys.stdout
    plain = args.plain or not out.isatty()
    home = getattr(args, "home", None) or DEFAULT_HOME
    demo = Demo(home, args.boards, args.speed, out, plain)
    # Both stop the demo the same way, also when started from a script whose background
    # jobs begin with SIGINT ignored (as `shaftgate sim` does).
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            demo.setup()
        except DemoError as e:
            print("shaftgate demo: %s" % e, file=sys.stderr)
            return 2
        except (
            BoardError,
            LinkError,
            GatewayError,
            KeystoreError,
            roster_csv.RosterError,
            OSError,
        ) as e:
            print("shaftgate demo: could not start: %s" % e, file=sys.stderr)
            return 1
        try:
            ok = demo.play(args.duration, args.once)
        except ViewError as e:
            print("shaftgate demo: %s" % e, file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            ok = not demo.failures
        return 0 if ok and not demo.failures else 1
    except KeyboardInterrupt:
        demo.ended_by = demo.ended_by or "Ctrl-C"
        return 0
    finally:
        demo.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for text in demo.failures:
            print("shaftgate demo: %s" % text, file=sys.stderr)
        from shaftgate.i18n import DEMO_ENDED, pick, t

        ended = demo.ended_by or "it could not start"
        print(
            t(
                "demo_stopped",
                s="%.0f" % (time.monotonic() - demo.started),
                why=pick(ended, DEMO_ENDED.get(ended, ended)),
                home=home,
            ),
            file=sys.stderr,
        )
