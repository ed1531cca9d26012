# The gateway boots fail-safe from ANY flash content (R-DATA-2): hypothesis mutates the
# flash of a gateway that has run a while (bytes changed, files truncated, deleted,
# duplicated into each other, swapped, garbage segments added) and every boot must end
# within a bounded number of flash calls and a bounded time, with the outputs safe until
# it has, and the gateway must then serve its host. Damage found in the log is alarmed.
import signal

from apprig import Rig, roster_entry
from fakeboard import FakeBoard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_app_flash_damage import BudgetFlash, _safe

from gateway import app
from gateway import events as ev

_BASE = {}


def base_image():
    # One gateway's flash after crossings, an ack and more crossings: several segments,
    # a meta file, a snapshot, roster, config, key and counter.
    if not _BASE:
        rig = Rig()
        rig.call("hello", min_version=1, max_version=1)
        rig.load_roster([roster_entry(t) for t in (101, 102, 103, 104)])
        rig.ready()
        for t in (101, 102, 103):
            rig.cross(t)
        rig.ack(rig.last_seq() - 3)
        rig.cross(104)
        rig.cross(101, into=False)
        fl = rig.board.flash
        fl.close()
        for name in fl.names():
            _BASE[name] = bytes(fl.read(name))
    return dict(_BASE)


_names = sorted(base_image())
_file = st.sampled_from(_names)
mutation = st.one_of(
    st.tuples(st.just("flip"), _file, st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("truncate"), _file, st.integers(0, 10_000)),
    st.tuples(st.just("delete"), _file),
    st.tuples(st.just("copy"), _file, _file),
    st.tuples(st.just("swap"), _file, _file),
    st.tuples(st.just("repeat"), _file, st.integers(0, 10_000), st.integers(1, 200)),
    st.tuples(st.just("garbage"), st.integers(0, 0xFFFFFFFF), st.binary(max_size=200)),
)


def mutate(files, m):
    op = m[0]
    if op == "garbage":
        files["ev%08x" % m[1]] = m[2]
        return
    name = m[1]
    if name not in files:
        return
    data = bytearray(files[name])
    if op == "flip" and data:
        data[m[2] % len(data)] ^= m[3]
    elif op == "truncate":
        data = data[: m[2] % (len(data) + 1)]
    elif op == "delete":
        del files[name]
        return
    elif op == "copy":
        files[m[2]] = bytes(data)
        return
    elif op == "swap" and m[2] in files:
        files[name], files[m[2]] = files[m[2]], bytes(data)
        return
    elif op == "repeat" and data:
        at = m[2] % len(data)
        data[at:at] = data[at : at + m[3]]  # a stretch written twice
    files[name] = bytes(data)


class _Slow(Exception):
    pass


def _alarm(signum, frame):
    raise _Slow("boot took more than 10 s")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(mutation, min_size=1, max_size=6))
def test_boot_from_any_flash_content_ends_safe_and_serves(mutations):
    files = base_image()
    for m in mutations:
        mutate(files, m)
    rig = Rig()  # its own folder; its flash is replaced by the mutated image
    rig.board.flash.close()
    fl = rig.board.flash
    for name in fl.names():
        fl.remove(name)
    for name in files:
        fl.write(name, files[name])
    board = FakeBoard(rig.root)
    board.rtc = rig.board.rtc
    board.flash = BudgetFlash(board.flash, 50_000)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 10)
    try:
        gw = app.Gateway(board)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert _safe(board)
    if gw.log.tampered:
        assert gw.system & app.SYS_LOG_TAMPERED
    board.flash.left = 1_000_000  # boot is over: the budget was for boot alone
    rig.board = board
    rig.gw = gw
    rig.inbox = []
    rig.seen = {}
    status = rig.call("status")
    assert status["last_seq"] == gw.log.last_seq
    kinds = []
    from_seq = 1
    while True:
        # Paged by the last seq served: below the oldest kept event a page starts there.
        page = rig.call("events-since", from_seq=from_seq, max_count=50)["events"]
        if not page:
            break
        kinds.extend(e["kind"] for e in page)
        assert page[-1]["seq"] >= from_seq, "events-since went backwards"
        from_seq = page[-1]["seq"] + 1
    if gw.log.tampered:
        # Logged, unless a forged segment name far ahead made the log look full (the
        # alarm bits still say both): see the report's list of what is left to do.
        assert ev.LOG_TAMPERED in kinds or gw.system & app.SYS_LOG_FULL
