# A rig for the whole gateway application (gateway.app.Gateway) on a FakeBoard, under
# CPython and MicroPython alike: a fresh flash folder, a provisioned key and config, the
# host's side of the link (requests as gatewire frames, signed when they mutate, replies
# and pushed events decoded), inputs the rig keeps feeding (camera heartbeats, gas
# samples), people walking through the doorway, and a power cut (a new board and a new
# Gateway on the same flash folder). Not a test file itself.
import os

from fakeboard import FakeBoard

from gateway import app, roles, store
from gatewire import auth, cbor, frame, messages

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
NOW_S = 1750000000  # 2025-06-15 15:06 UTC; 23:06 at the mine (UTC+8), a production shift
YEAR_S = 365 * 86400
GATEWAY_ID = "gw-face-1"
ZONE_ID = "face-1"
SAFE = {"work": False, "hot": False, "refused": True, "sounder": False, "lamp": 3}
OUTPUTS = ("work", "hot", "refused", "sounder", "lamp")
# The most a reply to the rig may hold (the host side's frame buffer): the gateway's
# largest (config-get, a page of permits, occupants or events) fit well within it, and
# under the MicroPython runner the host's buffer sits in the board's heap.
HOST_RX_MAX = 2048

_made = [0]
_base = [None]


def fresh_root():
    # A new, empty folder for one board's flash. CPython: under /dev/shm when there is
    # one (each event is fsynced; tmpfs makes that free), removed at exit. MicroPython
    # has no tempfile: a numbered folder in its in-memory file system.
    if _base[0] is None:
        try:
            import atexit
            import shutil
            import tempfile

            shm = "/dev/shm"
            try:
                base = tempfile.mkdtemp(prefix="shaftgate-app-", dir=shm)
            except OSError:
                base = tempfile.mkdtemp(prefix="shaftgate-app-")
            atexit.register(shutil.rmtree, base, True)
        except ImportError:
            base = "/tmp/shaftgate-app"
            try:
                os.mkdir("/tmp")
            except OSError:
                pass
            os.mkdir(base)
        _base[0] = base
    _made[0] += 1
    root = "%s/g%d" % (_base[0], _made[0])
    os.mkdir(root)
    return root


def face_config(**changes):
    cfg = {
        "gateway_id": GATEWAY_ID,
        "zone_id": ZONE_ID,
        "role": "face",
        "zone_kind": "coal_face",
    }
    for k in changes:
        cfg[k] = changes[k]
    return cfg


def person_of(tag):
    return 1000 + tag


def roster_entry(tag, role=roles.MINER, crew=roles.CREW_PRODUCTION, cert_s=NOW_S + YEAR_S):
    return [tag, person_of(tag), role, cert_s, crew]


def event_tuple(body):
    # An event body by name -> (seq, time_s, kind, tag, a, b, digest), as verify_chain takes.
    return (
        body["seq"],
        body["time_s"],
        body["kind"],
        body["tag"],
        body["a"],
        body["b"],
        bytes(body["digest"]),
    )


class Reply:
    def __init__(self, name, obj):
        code, rid, body = messages.parse(obj, "reply", answers=name)
        self.name = name
        self.rid = rid
        self.ok = code == messages.OK
        self.body = body
        self.code = 0 if self.ok else body["code"]
        self.text = None if self.ok else body["text"]
        self.field = None if self.ok else body.get("field")

    def __repr__(self):
        if self.ok:
            return "<ok %s %r>" % (self.name, self.body)
        return "<error %s %d %r field=%r>" % (self.name, self.code, self.text, self.field)


def rig_in_parts(**kw):
    # A Rig whose gateway boots one phase per part, for a test in parts
    # (tests/hostcalls.py): `rig = yield from rig_in_parts(...)`. Each part is a call of
    # its own under the MicroPython runner, so no one call is charged the whole boot.
    rig = Rig(staged=True, **kw)
    yield
    while rig.gw.boot_step():
        yield
    return rig


class Rig:
    # config: a dict laid over face_config(), bytes written as config.cbor as they are,
    # or None for no config file at all. key None: an unprovisioned gateway.
    def __init__(
        self, config=(), key=KEY, cameras=1, rtc_s=NOW_S, board_class=FakeBoard, staged=False
    ):
        # staged: the gateway boots one phase per boot_step() (a test in parts yields
        # between them, tests/hostcalls.py); else it is booted on return.
        self.root = fresh_root()
        self.cameras = cameras
        self.board_class = board_class
        self.board = board_class(self.root, cameras)
        self.board.rtc = rtc_s
        flash = self.board.flash
        if key is not None:
            flash.write(store.KEY_FILE, key)
        self.gateway_id = "gw"  # the default config's
        if isinstance(config, (bytes, bytearray)):
            flash.write(store.CONFIG_FILE, config)
        elif config is not None:
            cfg = face_config()
            for k in config:
                cfg[k] = config[k]
            store.write_cbor(flash, store.CONFIG_FILE, cfg)
            self.gateway_id = cfg["gateway_id"]
        self.signer = auth.Signer(KEY, 1000)
        self.rid = 0
        self.inbox = []  # replies not yet taken, in arrival order
        self.pushed = []  # event tuples pushed to us, in arrival order
        self.seen = {}  # seq -> event tuple, pushed or fetched
        self.acked = 0
        self.video = False  # beat every camera on every step
        self.gas = None  # (ch4_ppm, co_ppm, flags) sampled on every step, None: silent
        self.gas_jitter = False  # wobble CH4 by 1 ppm so a steady reading is not "stuck"
        self.clock_runs = True  # the wall clock follows the ms clock
        self._wobble = 0
        self._ms_carry = 0
        self.last_gas = None  # (ms, ch4, co, flags) as last fed since boot
        self.step_now_s = rtc_s  # the wall clock the last step ran with
        self.on_step = None  # called after every step of the gateway
        self.gw = app.Gateway(self.board, staged=staged)
        self.decoder = frame.Decoder(HOST_RX_MAX)

    # ---- time and inputs ----

    def step(self, ms=100, n=1):
        b = self.board
        for _ in range(n):
            b.ms += ms
            if self.clock_runs and b.rtc:
                self._ms_carry += ms
                b.rtc += self._ms_carry // 1000
                self._ms_carry %= 1000
            if self.video:
                for i in range(self.cameras):
                    b.beats[i] = b.ms
            if self.gas is not None:
                ch4, co, flags = self.gas
                if self.gas_jitter:
                    self._wobble = 1 - self._wobble
                    ch4 += self._wobble
                b.gas_samples.append((ch4, co, flags))
                self.last_gas = (b.ms, ch4, co, flags)
            self.step_now_s = b.rtc
            self.gw.step()
            self._collect()
            if self.on_step is not None:
                self.on_step()

    def run_s(self, seconds, ms=500):
        self.step(ms, seconds * 1000 // ms)

    def step_in_parts(self, ms=100, n=1, steps=10):
        # step() for a test in parts: `yield from rig.step_in_parts(10, 60)`, a part per
        # `steps` steps of the gateway.
        while n > 0:
            self.step(ms, min(n, steps))
            n -= steps
            yield

    def run_s_in_parts(self, seconds, ms=500, steps=20):
        # run_s() for a test in parts: `yield from rig.run_s_in_parts(61)`, a part per
        # `steps` steps of the gateway.
        n = seconds * 1000 // ms
        while n > 0:
            self.step(ms, min(n, steps))
            n -= steps
            yield

    def ready(self, ch4_ppm=2000, co_ppm=0):
        # Live video and healthy gas, held past the video hold-off: work may go on.
        self.video = True
        self.gas = (ch4_ppm, co_ppm, 0)
        self.step(500, 14)

    def ready_in_parts(self, ch4_ppm=2000, co_ppm=0):
        # ready() for a test in parts: `yield from rig.ready_in_parts()`.
        self.video = True
        self.gas = (ch4_ppm, co_ppm, 0)
        for _ in range(7):
            self.step(500, 2)
            yield

    def cross(self, tag, into=True):
        # One person through the doorway: read at the point they come from, then at the
        # other (twice on the way out: one outer read is never an exit), then past the
        # settle time with no read at the first.
        first = 0 if into else 1
        self.board.reads.append((first, tag, -60, 0))
        self.step(200)
        for _ in range(1 if into else 2):
            self.board.reads.append((1 - first, tag, -60, 0))
            self.step(200)
        self.step(500, 5)

    # ---- the link ----

    def _collect(self):
        b = self.board
        if not b.tx:
            return
        data = bytes(b.tx)
        b.tx = bytearray()
        for payload in self.decoder.feed(data):
            obj = cbor.loads(payload)
            if obj[messages.KEY_TYPE] == messages.EVENT:
                e = event_tuple(messages.parse(obj, "event")[2])
                self._keep(e)
                self.pushed.append(e)
            else:
                self.inbox.append(obj)

    def _keep(self, e):
        old = self.seen.get(e[0])
        assert old is None or old == e, "event %d changed: %r then %r" % (e[0], old, e)
        self.seen[e[0]] = e

    def envelope(self, name, signed=None, key=None, counter=None, **fields):
        self.rid += 1
        env = messages.request(name, self.rid, **fields)
        if signed is None:
            signed = messages.is_mutating(env[messages.KEY_TYPE])
        if signed:
            if key is None and counter is None:
                self.signer.sign(env)
            else:
                self.signer.counter += 1
                auth.sign(env, key or KEY, counter or self.signer.counter)
        return env

    def raw_envelope(self, name, body, signed=True):
        # A request whose body (int keys, as on the wire) the host library would refuse
        # to build: what a buggy or hostile host may send.
        self.rid += 1
        env = {0: messages.code_of(name), 1: self.rid, 2: body}
        if signed:
            self.signer.sign(env)
        return env

    def raw_request(self, name, body, signed=True):
        env = self.raw_envelope(name, body, signed)
        self.send(env)
        return self.reply_to(name, env[messages.KEY_ID])

    def send(self, env):
        self.board.rx.extend(frame.encode(cbor.dumps(env)))

    def reply_to(self, name, rid, max_steps=40):
        for _ in range(max_steps):
            for i in range(len(self.inbox)):
                obj = self.inbox[i]
                if obj[messages.KEY_ID] == rid:
                    self.inbox.pop(i)
                    return Reply(name, obj)
            self.step(10)
        raise AssertionError("no reply to %s (id %d)" % (name, rid))

    def request(self, name, signed=None, key=None, counter=None, **fields):
        env = self.envelope(name, signed, key, counter, **fields)
        self.send(env)
        return self.reply_to(name, env[messages.KEY_ID])

    # ---- the link, for a test in parts (tests/hostcalls.py) ----
    # `body = yield from rig.call_in_parts(...)`: a part per step of the gateway, so that
    # a long command (a roster load's staging and commit, config-set) is never one call.

    def reply_to_in_parts(self, name, rid, max_steps=40):
        for _ in range(max_steps):
            for i in range(len(self.inbox)):
                obj = self.inbox[i]
                if obj[messages.KEY_ID] == rid:
                    self.inbox.pop(i)
                    return Reply(name, obj)
            self.step(10)
            yield
        raise AssertionError("no reply to %s (id %d)" % (name, rid))

    def request_in_parts(self, name, signed=None, key=None, counter=None, **fields):
        env = self.envelope(name, signed, key, counter, **fields)
        self.send(env)
        rid = env[messages.KEY_ID]
        env = None
        return (yield from self.reply_to_in_parts(name, rid))

    def call_in_parts(self, name, **fields):
        r = yield from self.request_in_parts(name, **fields)
        assert r.ok, r
        return r.body

    def cross_in_parts(self, tag, into=True):
        # cross() a part per read.
        first = 0 if into else 1
        self.board.reads.append((first, tag, -60, 0))
        self.step(200)
        yield
        for _ in range(1 if into else 2):
            self.board.reads.append((1 - first, tag, -60, 0))
            self.step(200)
            yield
        self.step(500, 5)

    def call(self, name, **fields):
        r = self.request(name, **fields)
        assert r.ok, r
        return r.body

    def refused(self, name, code, **fields):
        r = self.request(name, **fields)
        assert not r.ok and r.code == code, r
        return r

    # ---- events ----

    def fetch(self, from_seq=1):
        # Every event from from_seq on, paged as a host catches up; kept in self.seen.
        out = []
        while True:
            body = self.call("events-since", from_seq=from_seq, max_count=messages.EVENTS_MAX)
            page = body["events"]
            for ev in page:
                e = event_tuple(ev)
                self._keep(e)
                out.append(e)
            if not page:
                return out
            from_seq = out[-1][0] + 1

    def fetch_in_parts(self, from_seq=1):
        # fetch() for a test in parts (tests/hostcalls.py): `evs = yield from
        # rig.fetch_in_parts(1)`, a part per step of the gateway and per page.
        out = []
        while True:
            body = yield from self.call_in_parts(
                "events-since", from_seq=from_seq, max_count=messages.EVENTS_MAX
            )
            page = body["events"]
            body = None
            for ev in page:
                e = event_tuple(ev)
                self._keep(e)
                out.append(e)
            if not page:
                return out
            page = None
            from_seq = out[-1][0] + 1
            yield

    def events_after(self, seq):
        return self.fetch(seq + 1)

    def last_seq(self):
        return self.call("status")["last_seq"]

    def ack(self, up_to_seq):
        body = self.call("ack", up_to_seq=up_to_seq)
        self.acked = up_to_seq
        return body

    # ---- people ----

    def load_roster(self, entries, part_size=100, load_id=1):
        parts = (len(entries) + part_size - 1) // part_size or 1
        body = None
        for p in range(parts):
            body = self.call(
                "roster-load",
                load_id=load_id,
                part=p,
                parts=parts,
                entries=entries[p * part_size : (p + 1) * part_size],
                total=len(entries),
            )
        return body

    def load_roster_in_parts(self, entries, part_size=10, load_id=1):
        # load_roster() for a test in parts: `yield from rig.load_roster_in_parts(...)`,
        # a part per roster part.
        parts = (len(entries) + part_size - 1) // part_size or 1
        for p in range(parts):
            yield from self.call_in_parts(
                "roster-load",
                load_id=load_id,
                part=p,
                parts=parts,
                entries=entries[p * part_size : (p + 1) * part_size],
                total=len(entries),
            )

    def occupants(self):
        # Every page, as a host reads them (docs/protocol.md 8.5): a gateway sends at most
        # app.OCCUPANTS_PAGE rows a reply.
        rows = []
        while True:
            body = self.call("occupants", start=len(rows))
            rows.extend([tuple(r) for r in body["occupants"]])
            if not body["occupants"] or len(rows) >= body["total"]:
                return body["total"], sorted(rows)

    # ---- power ----

    def power_cut_in_parts(self, rtc_s=None, board=None, check=None):
        # power_cut() for a test in parts: `gw = yield from rig.power_cut_in_parts()`, the
        # boot a phase per part. board: the new board (else one of board_class on the
        # same flash folder); check(board) after each phase (e.g. outputs still safe).
        old = self.board
        old.flash.close()
        rtc = old.rtc if rtc_s is None else rtc_s
        old = self.board = self.gw = None  # the dead board's RAM: gone before the new one
        self.decoder = None
        self.inbox = []
        self.last_gas = None
        yield
        if board is None:
            board = self.board_class(self.root, self.cameras)
        board.rtc = rtc
        self.board = board
        self.decoder = frame.Decoder(HOST_RX_MAX)
        self.gw = app.Gateway(self.board, staged=True)
        yield
        while True:
            more = self.gw.boot_step()
            if check is not None:
                check(self.board)
            if not more:
                return self.gw
            yield

    def power_cut(self, rtc_s=None):
        # The board dies and comes back: outputs and RAM gone, flash kept, the wall clock
        # as its RTC kept it (or rtc_s), the monotonic clock restarted.
        old = self.board
        old.flash.close()
        self.board = self.board_class(self.root, self.cameras)
        self.board.rtc = old.rtc if rtc_s is None else rtc_s
        self.decoder = frame.Decoder(HOST_RX_MAX)
        self.inbox = []
        self.last_gas = None
        self.gw = app.Gateway(self.board)
        return self.gw


def of_kind(events, kind):
    return [e for e in events if e[2] == kind]
