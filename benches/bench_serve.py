"""shaftgate serve: events stored and acknowledged per second from 10 gateway links,
`status --json` through serve with 50 gateways and 3,000 people, and database bytes per
million events.

The gateways are tests/fake_gateway.py (the real protocol stack and hash-chained event
log, no rules) each behind a real pty; serve's Station runs in this process with its
real link threads, SQLite on disk (WAL, synchronous=FULL) and control socket, and its MQTT
publishers in the child processes serve gives them (station/mqtt_shares.py: N connections,
each a share of the gateways), into serve's embedded Mosquitto. For the throughput figures
the fakes run in a child process of their own (like gateways, they are not serve's work);
on the shared 2-core build machine the rates are still a floor. CPU per event is counted
per process: the link threads', each publisher's (their sum is serve's), and apart from
serve's, Mosquitto's and the fakes'. From those: the cores a station needs for 10x.

BENCH_SERVE_PUBLISHERS=1,2,3 (the default) chooses the counts measured in "each" mode.
"""

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "host_tools")]

from fake_gateway import KEY, FakeGateway  # noqa: E402
from mqtt_broker import Subscriber, TestMosquitto  # noqa: E402

from gateway import events as ev  # noqa: E402
from gatewire import messages  # noqa: E402
from shaftgate.cli.selfcheck import PtyPeer  # noqa: E402
from shaftgate.sim import Sim  # noqa: E402
from shaftgate.station import site as site_file  # noqa: E402
from shaftgate.station.broker import EmbeddedMosquitto  # noqa: E402
from shaftgate.station.control import ControlServer, ServeClient  # noqa: E402
from shaftgate.station.serve import Station  # noqa: E402
from shaftgate.station.store import EventRecord, Store  # noqa: E402
from shaftgate.vboard import OUTER  # noqa: E402

LINKS = 10
EVENTS_PER_LINK = 3000  # the fake's log holds 4096
BAUD_BYTES_S = 115200 / 10  # 8N1
STATUS_GATEWAYS = 50
PEOPLE = 3000
STATUS_RUNS = 30
DB_EVENTS = 100_000
LATENCY_READS = 60  # one every 0.3 s: the doorway tracks at most 32 tags per 8 s window
PAGE = 16


def _site(folder, gateways, mqtt_events="each", publishers=1):
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    lines = [
        "[mine]",
        'id = "bench"',
        'time_zone = "Asia/Shanghai"',
        "[serve]",
        "link_lost_s = 600",
        "clock_drift_s = 86400",
        "transit_allowance = 1000",
        'mqtt_events = "%s"' % mqtt_events,
        "mqtt_publishers = %d" % publishers,
    ]
    for i, (gid, port) in enumerate(gateways):
        fd = os.open(keys / ("%s.key" % gid), os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, KEY)
        os.close(fd)
        kind = "shaft" if i == 0 else "coal_face"
        lines += [
            "[[gateways]]",
            'id = "%s"' % gid,
            'port = "%s"' % port,
            'zone = "z%d"' % i,
            'kind = "%s"' % kind,
        ]
    path = folder / "site.toml"
    path.write_text("\n".join(lines) + "\n")
    return site_file.load(path)


def _fakes(folder, n, push=False):
    out = []
    for i in range(n):
        gw = FakeGateway("gw-%02d" % i, flash_root=str(folder / ("flash-%d" % i)), push_events=push)
        peer = PtyPeer(gw.handle_on_pty)
        gw.attach(peer.send)
        out.append((gw, peer))
    return out


def _stop(fakes):
    for gw, peer in fakes:
        gw.attach(None)
        peer.stop()


def _farm(pipe, folder, n, events_per_link):
    # The child: n fakes with their logs filled, then answers "acked" until "stop".
    from gatewire import cbor, frame

    fakes = _fakes(folder, n)
    for gw, _ in fakes:
        for i in range(events_per_link):
            gw.emit(ev.ENTRY if i % 2 == 0 else ev.EXIT, 1000 + i % 500, 500 + i % 500, i % 30)
        # From memory: reading its flash is a gateway's own time, not serve's, and ten
        # gateways have ten CPUs where this child has a share of one.
        held = gw.log.since(0, events_per_link)
        gw.log.since = lambda seq, n, out=None, held=held: held[seq : seq + n]
    record = fakes[0][0].log.since(0, 1)[0]
    frame_bytes = len(frame.encode(cbor.dumps(messages.event(*record))))
    pipe.send(([(gw.gateway_id, peer.path) for gw, peer in fakes], frame_bytes))
    while pipe.recv() == "acked":
        pipe.send(sum(gw.log.acked for gw, _ in fakes))
    _stop(fakes)
    pipe.send(None)


class FakeFarm:
    """Fake gateways on ptys in a child process (forked before serve starts threads)."""

    def __init__(self, folder, n, events_per_link):
        self.pipe, child = multiprocessing.Pipe()
        ctx = multiprocessing.get_context("fork")
        # daemon: a bench that fails does not wait at exit for fakes waiting for "stop"
        self.proc = ctx.Process(target=_farm, args=(child, folder, n, events_per_link), daemon=True)
        self.proc.start()
        self.ports, self.frame_bytes = self.pipe.recv()
        self.cpu0_s = _cpu_s(self.proc.pid)  # its logs filled: what follows is the run

    def cpu_s(self):
        return _cpu_s(self.proc.pid) - self.cpu0_s

    def acked(self):
        self.pipe.send("acked")
        return self.pipe.recv()

    def stop(self):
        self.pipe.send("stop")
        self.pipe.recv()
        self.proc.join(10)


def _cpu_s(pid):
    # A child's CPU time so far, user and system (Linux: /proc/<pid>/stat fields 14, 15).
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _acked(station):
    # What serve's links had acked (each link's last ack; an ack follows the commit).
    return sum(link.state.acked_to or 0 for link in station.links.values())


def _owed(station):
    # Any row left? One index lookup, where a count would read the whole outbox at every
    # poll (and this thread's CPU counts as serve's).
    with station.store.lock:
        return station.store.conn.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0]


def bench_links(folder, publish=False, publishers=1):
    farm = FakeFarm(folder, LINKS, EVENTS_PER_LINK)
    frame_bytes = farm.frame_bytes
    site = _site(folder, farm.ports, publish or "each", publishers)
    # serve's own broker as a site without [broker] runs it (the tests' Mosquitto logs
    # every message), started before the clock like a broker that is already up.
    broker = EmbeddedMosquitto(folder / "mosquitto") if publish else None
    config = broker.start() if publish else None
    station = Station(site, publish=publish)
    total = LINKS * EVENTS_PER_LINK
    t0 = time.perf_counter()
    c0 = time.process_time()  # serve's CPU: this process (the fakes are in their own)
    station.start(config)
    try:
        # Acked implies stored (serve acks after the commit); then what is owed to MQTT.
        # Polled every 50 ms: this thread's CPU counts as serve's.
        while _acked(station) < total or (publish and _owed(station)):
            if time.perf_counter() - t0 > 300:
                raise RuntimeError("serve did not take %d events in 300 s" % total)
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        cpu_s = time.process_time() - c0
        pubs_cpu_s = []  # each publisher's own process
        if station.publisher is not None:
            if station.publisher.restarts:
                raise RuntimeError("a publisher process died during the run")
            pubs_cpu_s = [_cpu_s(pid) for pid in station.publisher.pids]
        broker_cpu_s = _cpu_s(broker.pid) if broker is not None else 0.0
        farm_cpu_s = farm.cpu_s()
        stored = station.store.count_events()
        if stored != total or farm.acked() != total:
            raise RuntimeError(
                "serve stored %d of %d events, the gateways saw %d acked"
                % (stored, total, farm.acked())
            )
    finally:
        station.stop()
        farm.stop()
        if broker is not None:
            broker.stop()
    rate = total / elapsed
    wire = LINKS * BAUD_BYTES_S / frame_bytes
    links_us = cpu_s / total * 1e6
    pubs_us = [c / total * 1e6 for c in pubs_cpu_s]
    cpu_us = links_us + sum(pubs_us)
    what = "stored and acknowledged"
    if publish:
        what = "stored, acknowledged and published (QoS 1, events = %s, %d publisher%s)" % (
            publish,
            len(pubs_us),
            "s" if len(pubs_us) > 1 else "",
        )
    rows = [
        ("events %s, %d links" % (what, LINKS), "events/s", rate),
        ("  ratio to the wire (goal >= 10)", "x", rate / wire),
        ("  serve's CPU per event (all its threads and processes)", "us", cpu_us),
        ("  events/s one free core would take: ratio to the wire", "x", 1e6 / cpu_us / wire),
    ]
    if publish:
        # The link threads and each publisher are processes of their own: on as many free
        # cores the slowest sets the pace (the gateways being boards of their own). The
        # cores a station needs for 10x: all of serve's and Mosquitto's CPU at 10x the
        # wire, and no one process past one core's worth.
        broker_us = broker_cpu_s / total * 1e6
        goal = 10 * wire
        rows += [("    of which the link threads' process", "us", links_us)]
        rows += [
            ("    of which publisher %d's process (its start included)" % i, "us", us)
            for i, us in enumerate(pubs_us)
        ]
        rows += [
            (
                "  events/s %d free cores would take (the slowest process): ratio to the wire"
                % (1 + len(pubs_us)),
                "x",
                1e6 / max(links_us, *pubs_us) / wire,
            ),
            ("  Mosquitto's CPU per event (not counted above)", "us", broker_us),
            (
                "  cores serve and Mosquitto need at 10x the wire (%d events/s)" % goal,
                "cores",
                (cpu_us + broker_us) * goal / 1e6,
            ),
            (
                "  the busiest process at 10x the wire (over 1.0: it cannot keep up)",
                "cores",
                max(links_us, *pubs_us) * goal / 1e6,
            ),
            (
                "  the fake gateways' CPU per event (not counted above)",
                "us",
                farm_cpu_s / total * 1e6,
            ),
        ]
    if not publish:
        rows.insert(
            0,
            (
                "what %d links at 115,200 baud carry (%d-byte event frames)" % (LINKS, frame_bytes),
                "events/s",
                wire,
            ),
        )
    return rows


def bench_status(folder):
    fakes = _fakes(folder, STATUS_GATEWAYS)
    per = PEOPLE // STATUS_GATEWAYS
    for i, (gw, _) in enumerate(fakes):
        gw.occupants = [[10000 + i * per + k, 5000 + i * per + k, gw.now_s] for k in range(per)]
    site = _site(folder, [(gw.gateway_id, peer.path) for gw, peer in fakes])
    station = Station(site, publish=False)
    server = ControlServer(station, site.socket)
    station.start()
    server.start()
    try:
        deadline = time.monotonic() + 120
        while not all(row["answering"] and row["status"] for row in station.rows()):
            if time.monotonic() > deadline:
                raise RuntimeError("not every gateway answered serve")
            time.sleep(0.05)
        socket_ms = []
        request = {"op": "run", "command": "status", "args": {"json": True}, "targets": None}
        for _ in range(STATUS_RUNS):
            t0 = time.perf_counter()
            with ServeClient(site.socket) as c:
                reply = c.call(request)
            socket_ms.append((time.perf_counter() - t0) * 1000)
        assert len(reply["results"]) == STATUS_GATEWAYS
        people = sum(r["result"]["status"]["occupants"] for r in reply["results"])
        assert people == PEOPLE, people
        # The CLI as a dispatcher runs it, and a bare interpreter at the same moment: on a
        # shared machine the difference is what shaftgate itself costs.
        exe = Path(sys.executable).with_name("shaftgate")
        env = dict(os.environ, SHAFTGATE_SERVE=str(site.socket))
        cli_ms, bare_ms = [], []
        for _ in range(7):
            for argv, into in (
                ([str(exe), "status", "--all", "--json"], cli_ms),
                ([sys.executable, "-c", "pass"], bare_ms),
            ):
                t0 = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                into.append((time.perf_counter() - t0) * 1000)
    finally:
        server.stop()
        station.stop()
        _stop(fakes)
    socket_ms.sort()
    cli_ms.sort()
    bare_ms.sort()
    return [
        (
            "status of %d gateways, %d people: socket request, median" % (STATUS_GATEWAYS, PEOPLE),
            "ms",
            socket_ms[len(socket_ms) // 2],
        ),
        ("  the same, slowest of %d" % STATUS_RUNS, "ms", socket_ms[-1]),
        (
            "  `shaftgate status --all --json` as a process (Python start included), median",
            "ms",
            cli_ms[len(cli_ms) // 2],
        ),
        ("  a bare `python -c pass` at the same time, median", "ms", bare_ms[len(bare_ms) // 2]),
    ]


def bench_latency(folder):
    # A tag read on a virtual board (the firmware under MicroPython, a pty) to its event on
    # MQTT: an unknown tag at the outer reader is refused at once (no doorway settle time).
    sim = Sim(1, folder / "sim", fresh=True)
    broker = TestMosquitto(folder).start()
    board = sim.boards[0]
    site = _site_for_board(folder, board)
    station = Station(site)
    station.start(broker.config())
    sub = Subscriber(broker, "shaftgate/bench/event/#")
    took = []
    try:
        deadline = time.monotonic() + 60
        while not all(row["answering"] for row in station.rows()):
            if time.monotonic() > deadline:
                raise RuntimeError("serve does not hear the virtual board")
            time.sleep(0.05)
        for i in range(LATENCY_READS):
            tag = 900000 + i
            t0 = time.perf_counter()
            board.read_tag(OUTER, tag)
            got = sub.wait_for(lambda m, tag=tag: any(p.get("tag") == tag for _, p, _ in m), 10)
            if not any(p.get("tag") == tag for _, p, _ in got):
                raise RuntimeError("no event on MQTT for tag %d" % tag)
            took.append((time.perf_counter() - t0) * 1000)
            time.sleep(max(0.0, 0.3 - (time.perf_counter() - t0)))
    finally:
        sub.close()
        station.stop()
        broker.stop()
        sim.stop()
    took.sort()
    return [
        (
            "tag read on a virtual board -> event on MQTT, p50 (%d reads)" % LATENCY_READS,
            "ms",
            took[len(took) // 2],
        ),
        ("  p99 (goal <= 1,000)", "ms", took[min(len(took) - 1, int(len(took) * 0.99))]),
    ]


def _site_for_board(folder, board):
    keys = folder / "sim" / "keys"
    path = folder / "site.toml"
    path.write_text(
        "\n".join(
            [
                "[mine]",
                'id = "bench"',
                'time_zone = "Asia/Shanghai"',
                "[serve]",
                'keys = "%s"' % keys,
                'database = "latency.db"',
                "clock_drift_s = 86400",
                "[[gateways]]",
                'id = "%s"' % board.name,
                'port = "%s"' % board.port,
                'zone = "shaft"',
                'kind = "shaft"',
            ]
        )
        + "\n"
    )
    return site_file.load(path)


def bench_db_size(folder):
    store = Store(folder / "size.db")
    record = EventRecord(store, "gw-00")
    seq = 0
    for _ in range(DB_EVENTS // PAGE):
        page = []
        for _ in range(PAGE):
            seq += 1
            page.append(
                {
                    "seq": seq,
                    "time_s": 1_790_000_000 + seq,
                    "kind": ev.ENTRY,
                    "tag": 100000 + seq % 3000,
                    "a": 50000 + seq % 3000,
                    "b": seq % 40,
                    "digest": os.urandom(16),
                }
            )
        record.append(page)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    size = (folder / "size.db").stat().st_size
    return [
        (
            "database bytes per million events (%d stored, pages of %d)" % (DB_EVENTS, PAGE),
            "bytes",
            size * 1_000_000 // DB_EVENTS,
        )
    ]


def run():
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    try:
        rows = []
        counts = [int(n) for n in os.environ.get("BENCH_SERVE_PUBLISHERS", "1,2,3").split(",")]
        parts = (
            bench_links,
            *(lambda f, n=n: bench_links(f, publish="each", publishers=n) for n in counts),
            lambda f: bench_links(f, publish="batches"),
            bench_latency,
            bench_status,
            bench_db_size,
        )
        for i, part in enumerate(parts):
            sub = folder / ("part%d" % i)
            sub.mkdir()
            rows += [list(r) for r in part(sub)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [("shaftgate serve", ["what", "unit", "figure"], rows)]
