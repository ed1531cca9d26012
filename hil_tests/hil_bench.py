"""A HIL scenario's mine: the gateways it starts, the world clock they share, the roster,
and the host side of each gateway (a GatewayClient over the board's serial port, with an
event store it keeps caught up). Scenarios speak in the mine's words (people walk in,
a camera dies, methane rises) and every stimulus and check goes into the run report.

Time: every board is given the same wall clock at each boot (time-set), starting on a
production-shift morning (WORLD_T0; on a real bench the host's own clock, as a board keeps
its log between scenarios and its clock should not run backwards); advance() moves every
virtual board together, or on a bench simply waits. On a bench of virtual boards only the
mine's clock is the scenario's: its boards run the scripted clock (shaftgate.vboard), so
the time the host takes between two stimuli (a host slowed by load) is no time in the
mine, and the scenario means the same on any host. A real board's bench runs on real time,
its virtual neighbours too. Crossings take the doorway's settle time (2 s) to complete and
their doorway tracks a further window (8 s) to clear, so people walk in batches.
"""

import collections
import secrets
import time

import pytest

from gateway import events as ev
from gateway import roles
from shaftgate.link.client import GatewayClient, MemoryEventStore
from shaftgate.link.keystore import Keystore
from shaftgate.link.transport import LinkError, SerialTransport

from .hil_boards import INNER, OUTER, BenchError, JigBoard, SimBoard

# 2026-06-15 06:00 in the mine (UTC+8): a production shift under the default schedule.
WORLD_T0 = 1781474400
CERT_VALID_S = 365 * 86400
SETTLE_S = 2.2  # doorway settle_ms (2000) and a little: crossings complete
DOORWAY_WINDOW_MS = 8000  # config doorway_window_ms default: a batch's tracks then go
BATCH_MAX = 24  # people in the doorway at once (it holds 128 tracks)
READER_PACE = 8  # people read at one point before the board takes their lines (_pass)
VIDEO_HOLDOFF_S = 5  # config video_holdoff_ms default
GAS_HOLDOFF_S = 5  # config gas_holdoff_ms default: gas safe this long before work resumes
# A step of virtual time the firmware sees in one tick: below video_timeout_ms (10 s) less
# a heartbeat period, so a live camera never looks stale (gas is sampled before it is
# judged, so gas_silent_ms does not bound it).
ADVANCE_STEP_S = 8.0
BASE_CH4_PPM = 1500  # 0.15 %: a face with normal ventilation

KIND_NAMES = {getattr(ev, n): n for n in dir(ev) if n.isupper() and type(getattr(ev, n)) is int}


def kind_name(kind):
    return KIND_NAMES.get(kind, "KIND_%d" % kind)


class Person:
    def __init__(self, tag, person_id, role, crew):
        self.tag = tag
        self.person_id = person_id
        self.role = role
        self.crew = crew

    def __repr__(self):
        return "Person(tag=%d, id=%d, %s)" % (self.tag, self.person_id, roles.name(self.role))


def morning_crew(n, first_tag=30001, first_person=1001):
    """n people of a production crew: mostly miners, with team leaders, electricians,
    fitters and drivers; every fifth-and-twentieth a gas inspector (no crew)."""
    posts = (
        (roles.TEAM_LEADER, roles.CREW_PRODUCTION),
        (roles.MINER, roles.CREW_PRODUCTION),
        (roles.MINER, roles.CREW_PRODUCTION),
        (roles.DRIVER, roles.CREW_PRODUCTION),
        (roles.MINER, roles.CREW_PRODUCTION),
        (roles.ELECTRICIAN, roles.CREW_PRODUCTION),
        (roles.MINER, roles.CREW_PRODUCTION),
        (roles.FITTER, roles.CREW_PRODUCTION),
        (roles.MINER, roles.CREW_PRODUCTION),
        (roles.GAS_INSPECTOR, roles.CREW_NONE),
    )
    people = []
    for i in range(n):
        role, crew = posts[i % len(posts)]
        people.append(Person(first_tag + i, first_person + i, role, crew))
    return people


def roster_parts(people, now_s):
    entries = [[p.tag, p.person_id, p.role, now_s + CERT_VALID_S, p.crew] for p in people]
    return [entries[i : i + 100] for i in range(0, len(entries), 100)]


def face_config(gateway_id, zone_kind, **extra):
    cfg = {
        "gateway_id": gateway_id,
        "zone_id": gateway_id.replace("gw-", ""),
        "role": "shaft" if zone_kind == "shaft" else "face",
        "zone_kind": zone_kind,
        # Production all day: the caps under test are the production shift's (R-CAP-1).
        "shifts": [[0, 0]],
    }
    if zone_kind == "shaft":
        cfg["mine_cap"] = 200
    cfg.update(extra)
    return cfg


class BenchTransport(SerialTransport):
    """The host's transport, able to put raw bytes on the line as well (garbage), and
    keeping the last payloads it sent (to replay one)."""

    def __init__(self, port):
        super().__init__(port)
        self.sent = collections.deque(maxlen=16)

    def send(self, payload):
        self.sent.append(bytes(payload))
        super().send(payload)

    def write_raw(self, data):
        try:
            self._port.write(bytes(data))
            self._port.flush()
        except (OSError, ValueError) as e:
            raise LinkError("raw write to %s failed: %s" % (self.port_name, e)) from e


class Bench:
    """Starts the scenario's gateways: virtual boards, or on a real bench the board under
    test for the first gateway that may be real and virtual boards for the rest."""

    def __init__(self, kind, port, jig, workdir, report, keystore_dir=None):
        self.kind = kind
        self.port = port
        self.jig = jig
        self.workdir = workdir
        self.report = report
        self.keystore_dir = keystore_dir
        self.gates = []
        self._dut_taken = False
        self._mono0 = time.monotonic()
        self._t0 = WORLD_T0 if kind == "sim" else int(time.time())
        self._advanced_s = 0.0
        report.world_now = self.now_s

    @property
    def virtual_clock(self):
        return all(g.io.virtual_clock for g in self.gates)

    @property
    def scripted(self):
        """The mine's time is the scenario's advances only (a bench of virtual boards)."""
        return self.kind == "sim"

    def now_s(self):
        """The mine's wall clock: what every board is told at time-set."""
        real_s = 0.0 if self.scripted else time.monotonic() - self._mono0
        return int(self._t0 + real_s + self._advanced_s)

    def require(self, *features):
        missing = [f for f in features if self.kind != "sim" and f not in JigBoard.features]
        if missing:
            pytest.skip("a %s bench cannot drive %s" % (self.kind, ", ".join(missing)))

    def gate(
        self,
        config,
        people=(),
        cameras_on=None,
        gas=(BASE_CH4_PPM, 0),
        may_be_real=True,
        clock=None,
    ):
        # clock: a virtual board's, when a scenario compares them (else the bench's).
        name = config["gateway_id"]
        if cameras_on is None:
            cameras_on = config.get("cameras", 1)
        if self.kind != "sim" and may_be_real and not self._dut_taken:
            if not self.jig:
                pytest.skip(
                    "this scenario drives the board's inputs: on a %s bench it needs the "
                    "stimulus jig (--jig PORT, docs/hil.md)" % self.kind
                )
            self._dut_taken = True
            io = JigBoard(name, self.kind, self.port, self.jig)
            for camera in range(cameras_on):
                io.video(camera, True)
            io.gas(*gas)
            key = None
        else:
            key = secrets.token_bytes(32)
            clock = clock or ("scripted" if self.scripted else "real")
            io = SimBoard(name, self.workdir, config, key, cameras_on, gas, clock=clock)
        gate = Gate(self, io, config, key, people)
        self.gates.append(gate)
        gate.connect(provision=isinstance(io, JigBoard))
        return gate

    def advance(self, seconds, why=None, wait=True):
        """Time passes for the whole mine: virtual boards jump, a bench waits. With
        wait=False virtual boards get the jump in one go and this returns at once, while
        their firmware is still catching up with it (for cutting power right then)."""
        if why:
            self.report.drive("mine", "%s: %g s pass" % (why, seconds))
        if not (self.gates and self.virtual_clock):
            time.sleep(seconds)
            return
        if not wait:
            self._advanced_s += seconds
            for g in self.gates:
                if g.io.running():
                    g.io.advance(seconds)
            return
        # What the scenario did before time passes, the board takes before it passes (a
        # gas reading set, a camera switched): with the scripted clock nothing else
        # separates the stimulus from the jump when both reach the board in one read.
        for g in self.gates:
            if g.io.running():
                g.io.sync()
        # In steps the firmware sees one by one, as it would see real time pass: one jump
        # longer than the video timeout would read as heartbeats missed in between.
        left = seconds
        while left > 1e-9:
            step = min(left, ADVANCE_STEP_S)
            left -= step
            self._advanced_s += step
            running = [g for g in self.gates if g.io.running()]
            for g in running:
                g.io.advance(step)
            for g in running:
                g.io.sync()

    def advance_until(self, gate, predicate, step_s, limit_s, since=None):
        """Lets time pass in steps of step_s until predicate(outputs) holds at `gate`, for
        at most limit_s. Returns the board time (virtual and real) that had passed since
        `since` (host monotonic time, default now) when the outputs first matched, as an
        upper bound: the board may have got there a little earlier than the host saw the
        change, never later. On a scripted bench the host's time is none of the board's:
        only the advances count. None if they never matched."""
        t_start = time.monotonic() if since is None else since
        marks = []  # (host time an advance was sent, virtual seconds sent up to then)
        sent = 0.0
        seen = len(gate.io.output_history())
        while sent < limit_s - 1e-9:
            marks.append((time.monotonic(), sent + step_s))
            self.advance(step_s)
            sent += step_s
            gate.io.sync()
            if predicate(gate.io.outputs()):
                break
        else:
            return None
        t_match = time.monotonic()
        for t, outputs in gate.io.output_history()[seen:]:
            if predicate(outputs):
                t_match = t
                break
        virtual = 0.0
        if self.virtual_clock:
            virtual = max([v for t, v in marks if t <= t_match], default=0.0)
        real = 0.0 if self.scripted else t_match - t_start
        return round(virtual + real, 2)

    def stop(self):
        for g in self.gates:
            g.close()
        self.gates = []


class Gate:
    """One gateway as the host and the world see it: its board (io), its client, the
    events stored so far, and the people the scenario believes are inside."""

    def __init__(self, bench, io, config, key, people):
        self.bench = bench
        self.io = io
        self.config = dict(config)
        self.name = config["gateway_id"]
        self.key = key
        self.people = list(people)
        self.store = MemoryEventStore()
        # A real board's id and key are learnt from its hello and the keystore (connect).
        self.client = GatewayClient(
            BenchTransport(io.port), None if key is None else self.name, key, host_id="hil"
        )
        self.link_open = True
        self.inside = set()  # tags the scenario has walked in and not out
        # The mine clock when the last batch's crossings were complete (settled), before
        # the doorway's window ran out: when the gateway counts them in or out.
        self.crossed_s = None
        self.report = bench.report

    # ---- the link ----

    def _reopen(self):
        self.client.transport = BenchTransport(self.io.port)
        self.link_open = True

    def connect(self, provision=False):
        hello = self.client.hello(timeout_s=5)
        if self.key is None:
            # A real board: its id and key come from the deploy (shaftgate deploy).
            self.name = hello["gateway_id"]
            keys = Keystore(self.bench.keystore_dir) if self.bench.keystore_dir else Keystore()
            self.key = keys.load(self.name)
            self.client.use_key(self.key, keys.counter_store(self.name))
        self.client.time_set(self.bench.now_s())
        self.report.drive(
            self.name,
            "hello (boot %d, last seq %d), time-set %d"
            % (hello["boot_count"], hello["last_seq"], self.bench.now_s()),
        )
        if provision:
            self._baseline()
        if self.people:
            loaded = self.client.roster_load(roster_parts(self.people, self.bench.now_s()))
            self.report.drive(self.name, "roster loaded: %d people" % loaded["entries"])
        self.catch_up()

    def _baseline(self):
        # A real board keeps its state between scenarios: bring it to this scenario's
        # configuration with nobody inside, no permit, no evacuation and no seal.
        changes = {k: v for k, v in self.config.items() if k != "gateway_id"}
        self.client.config_set(changes)
        status = self.client.status()
        if status["sealed"]:
            self.client.unseal()
        if status["evacuating"]:
            # An evacuation gas took part in ends only on a fresh, healthy reading.
            deadline = time.monotonic() + 10
            while not self.client.status()["gas_ok"] and time.monotonic() < deadline:
                time.sleep(0.5)
            self.client.all_clear()
        for p in self.client.permit_list()["permits"]:
            self.client.permit_revoke(p["permit_id"])
        left = [o["tag_id"] for o in self.client.occupants()["occupants"]]
        if left:
            self.walk_out(left, why="left from an earlier scenario")
        self.report.drive(self.name, "baseline: config set, zone emptied (%d out)" % len(left))

    def ensure_link(self, timeout_s=20.0):
        """Reopens the host's port if it was closed (a replug, a board that re-enumerated
        on USB after a reset) and waits until the gateway answers; returns its hello."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if not self.link_open:
                    self._reopen()
                return self.client.hello(timeout_s=2)
            except LinkError:
                if time.monotonic() > deadline:
                    raise
                self.close_transport()
                time.sleep(0.2)

    def reconnect(self, timeout_s=20.0):
        """After a power cycle or a replug: the link, hello, and the clock set again."""
        hello = self.ensure_link(timeout_s)
        self.client.time_set(self.bench.now_s())
        return hello

    def power_cut(self):
        self.io.power_cut()
        if self.io.kind != "sim":
            self.close_transport()  # a Pico's USB device goes with it

    def power_on(self):
        self.io.power_on()

    def unplug(self, reenumerate=False):
        """The cable is pulled. A real board's port is closed by the host (for the board,
        the host has gone); a virtual one's line stops carrying bytes, and with
        reenumerate its device disappears as USB-CDC's does."""
        self.io.unplug(reenumerate)
        if self.io.kind != "sim":
            self.close_transport()
        self.report.drive(self.name, "link unplugged%s" % (" (device gone)" if reenumerate else ""))

    def replug(self):
        self.io.replug()
        self.report.drive(self.name, "link plugged back in")

    def inject_garbage(self, data, toward="board", what="garbage"):
        if toward == "board" and self.io.kind != "sim":
            self.client.transport.write_raw(data)
        else:
            self.io.inject_garbage(data, toward)
        self.report.drive(self.name, "%s toward the %s: %d bytes" % (what, toward, len(data)))

    def close_transport(self):
        if self.link_open:
            self.client.transport.close()
            self.link_open = False

    def sent_payloads(self):
        """What the host sent last (the newest last): for replaying a real frame."""
        return list(self.client.transport.sent)

    def close(self):
        self.close_transport()
        self.io.stop()

    # ---- people ----

    def walk_in(self, tags, why=None):
        self._walk(list(tags), True, why)

    def walk_out(self, tags, why=None):
        self._walk(list(tags), False, why)

    def _walk(self, tags, into, why):
        first, second = (OUTER, INNER) if into else (INNER, OUTER)
        for i in range(0, len(tags), BATCH_MAX):
            batch = tags[i : i + BATCH_MAX]
            # The batch passes the first point before it reaches the second: the reads of
            # one reach the board before the other's (each reader's lines arrive at its
            # baud rate, both readers at once, as on a board). Twice at the outer point on
            # the way out: one outer read is never an exit.
            self._pass(first, batch, 1)
            self._pass(second, batch, 1 if into else 2)
            self.bench.advance(SETTLE_S)
            self.crossed_s = self.bench.now_s()
            if into:
                self.inside.update(batch)
            else:
                self.inside.difference_update(batch)
            self.report.drive(
                self.name,
                "%d %s%s: tags %s" % (len(batch), "in" if into else "out", _why(why), _span(batch)),
            )
            clear_s = self.config.get("doorway_window_ms", DOORWAY_WINDOW_MS) / 1000 + 0.2
            self.bench.advance(clear_s - SETTLE_S)

    def _pass(self, point, tags, reads):
        # People pass a reader a few at a time: at most READER_PACE of them read before
        # the board has taken their lines. 24 lines back to back on one wire (504 bytes)
        # are more than the Pico's DMA ring holds unread (512 less its 16-byte guard):
        # the board would have to poll in the middle of the burst.
        for k in range(0, len(tags), READER_PACE):
            for _ in range(reads):
                for tag in tags[k : k + READER_PACE]:
                    self.io.read_tag(point, tag)
            self.io.sync()

    def approach(self, tag):
        """Someone reads at the outer point and waits there (not yet crossing)."""
        self.io.read_tag(OUTER, tag)
        self.io.sync()

    # ---- what the gateway says ----

    def status(self):
        return self.client.status()

    def catch_up(self):
        """Stores (verified, acknowledged) every event up to the gateway's last; returns
        the new ones."""
        return self.client.catch_up(self.store).events

    def events(self, kind=None):
        out = self.store.events
        if kind is not None:
            out = [e for e in out if e["kind"] == kind]
        return out

    def expect_status(self, count=None, lamp=None, entry_refused=None, why=""):
        """Checks the gateway's count against the scenario's and the outputs against the
        cap level; returns the status."""
        self.io.sync()
        s = self.status()
        out = self.io.outputs()
        n = len(self.inside) if count is None else count
        parts = ["count %d (expected %d)" % (s["occupants"], n)]
        ok = s["occupants"] == n
        if lamp is not None:
            parts.append(
                "lamp %s (expected %s)" % (LAMP_WORDS.get(out["lamp"]), LAMP_WORDS.get(lamp))
            )
            ok = ok and out["lamp"] == lamp and s["lamp"] == lamp
        if entry_refused is not None:
            parts.append("entry %s" % ("refused" if out["entry_refused"] else "permitted"))
            ok = ok and out["entry_refused"] == entry_refused
        self.report.expect(self.name, "%s%s" % (", ".join(parts), _why(why)), ok)
        return s

    def expect_occupants(self, tags=None):
        want = set(self.inside if tags is None else tags)
        listed = self.client.occupants()
        got = {o["tag_id"] for o in listed["occupants"]}
        self.report.expect(
            self.name,
            "occupant list holds exactly the %d tags walked in" % len(want),
            got == want and listed["total"] == len(want),
        )

    def expect_event_log_whole(self):
        """Every event from the first stored on, once each, in order, chain verified by
        the client on the way in (catch_up raises on a gap or a broken chain)."""
        self.catch_up()
        seqs = [e["seq"] for e in self.store.events]
        first = seqs[0] if seqs else 1
        ok = seqs == list(range(first, first + len(seqs)))
        self.report.expect(
            self.name,
            "event log whole: seq %d..%d, %d events, none missing or twice, chain verified"
            % (first, seqs[-1] if seqs else 0, len(seqs)),
            ok,
        )

    def kinds(self, events=None):
        return collections.Counter(kind_name(e["kind"]) for e in (events or self.store.events))

    def wait_outputs(self, predicate, what, timeout_s=10.0):
        out = self.io.wait_outputs(predicate, timeout_s)
        self.report.check(self.name, "%s: %s" % (what, _outputs_text(out)))
        return out


def _why(why):
    return " (%s)" % why if why else ""


def _span(tags):
    tags = sorted(tags)
    if not tags:
        return "none"
    if tags == list(range(tags[0], tags[0] + len(tags))) and len(tags) > 2:
        return "%d..%d" % (tags[0], tags[-1])
    return ",".join(str(t) for t in tags)


LAMP_WORDS = {-1: "SEVERAL", 0: "dark", 1: "green", 2: "amber", 3: "red"}


def _outputs_text(o):
    on = [n for n in ("work_relay", "hot_relay", "sounder") if o[n]]
    return "lamp %s, entry %s, %s" % (
        LAMP_WORDS.get(o["lamp"], o["lamp"]),
        "refused" if o["entry_refused"] else "permitted",
        "+".join(on) if on else "relays off, sounder off",
    )


outputs_text = _outputs_text


__all__ = ["INNER", "OUTER", "Bench", "BenchError", "Gate", "Person", "morning_crew"]
