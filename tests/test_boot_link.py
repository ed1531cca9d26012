# micropython-test
# The link's code (gatewire.messages, frame and auth, the event framer) comes into the
# heap as the boot's last phases, once the restore's code has gone: a board's boot peak
# holds neither theirs nor the other's (docs/hardware.md "Board fit"). The outputs stay
# safe until those phases are done, the verifier takes the counter read at boot (no
# replay after a reboot), and an import that fails is the boot's fault: outputs safe,
# recorded, the board reset; a MemoryError collected and the phase tried again.
import builtins
import sys

from apprig import NOW_S, rig_in_parts, roster_entry
from fakeboard import FakeBoard
from hostcalls import in_parts

from gateway import app, store
from gatewire.errors import E_AUTH_REPLAY

LINK = ("gatewire.messages", "gatewire.frame", "gatewire.auth", "gateway.pushframe")


class BoardReset(Exception):
    pass


class ResettingBoard(FakeBoard):
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.resets = 0

    def reset_cause(self):
        return 3

    def reset(self):
        self.resets += 1
        raise BoardReset()


def _staffed():
    # A face gateway with its roster, video and gas live, three people in (in parts:
    # tests/hostcalls.py).
    rig = yield from rig_in_parts()
    yield from rig.call_in_parts("hello", min_version=1, max_version=1)
    yield from rig.load_roster_in_parts([roster_entry(t) for t in range(1, 11)])
    yield from rig.ready_in_parts()
    for t in (1, 2, 3):
        yield from rig.cross_in_parts(t)
    return rig


class Imports:
    # Watches the imports of the link's modules (by builtins.__import__, as the
    # interpreter's own import statements call it): each with what was in the heap then.
    # fail: {module: exception} raised (once) instead of importing that module.
    def __init__(self, board, fail=None):
        self.board = board
        self.fail = fail or {}
        self.seen = []
        self._real = builtins.__import__

    def __enter__(self):
        builtins.__import__ = self._import
        return self

    def __exit__(self, *exc):
        builtins.__import__ = self._real
        return False

    def _import(self, name, *args):
        # `from a import b` may import the module a.b; MicroPython passes False, CPython
        # None, as the fromlist of a plain `import name`.
        self._saw(name)
        fromlist = args[2] if len(args) > 2 else None
        if isinstance(fromlist, (tuple, list)):
            for word in fromlist:
                self._saw(name + "." + word)
        return self._real(name, *args)

    def _saw(self, module):
        if module not in LINK:
            return
        b = self.board
        self.seen.append(
            (
                module,
                "gateway.restore" in sys.modules or "gateway.bootseq" in sys.modules,
                b.refused and not b.work,
            )
        )
        e = self.fail.pop(module, None)
        if e is not None:
            raise e


def _reboot(rig, board_class=FakeBoard, fail=None):
    # The board's power cut, then its staged boot a phase per step (a part each) with the
    # imports watched: returns (gateway, imports, steps, outputs safe after every booting
    # step).
    rig.board.flash.close()
    b = board_class(rig.root)
    b.rtc = NOW_S + 600
    rig.board = b
    rig.gw = None
    rig.inbox = []
    yield
    with Imports(b, fail) as imports:
        gw = app.Gateway(b, staged=True)
        steps = 0
        safe = True
        while gw.booting and steps < 200:
            b.ms += 10
            try:
                gw.step()
            finally:
                steps += 1
                if gw.booting:
                    safe = safe and b.refused and not b.work
            yield
    rig.gw = gw
    return gw, imports, steps, safe


@in_parts
def test_the_links_code_comes_in_after_the_restores_with_outputs_safe():
    rig = yield from _staffed()
    gw, imports, steps, safe = yield from _reboot(rig)
    assert not gw.booting and safe and steps >= 9
    names = [m for m, _, _ in imports.seen]
    for m in LINK:
        assert m in names, imports.seen
    # Each came in with the boot's and the restore's code gone and the outputs safe.
    for module, boot_code_in, outputs_safe in imports.seen:
        assert not boot_code_in and outputs_safe, (module, imports.seen)
    # messages alone, a phase before the others (its import's garbage collected first).
    assert names[0] == "gatewire.messages", names
    assert gw.zone.count == 3 and gw.system == 0


@in_parts
def test_the_gateway_booted_this_way_serves_the_link_and_refuses_a_replay():
    rig = yield from _staffed()
    env = rig.envelope("ack", up_to_seq=rig.last_seq())
    rig.send(env)
    r = yield from rig.reply_to_in_parts("ack", env[1])
    assert r.ok, r
    yield from _reboot(rig)
    yield from rig.ready_in_parts()
    body = yield from rig.call_in_parts("status")
    assert body["occupants"] == 3
    # The verifier took the counter on flash: the same signed order again is a replay.
    rig.send(env)
    r = yield from rig.reply_to_in_parts("ack", env[1])
    assert not r.ok and r.code == E_AUTH_REPLAY, r
    r = yield from rig.request_in_parts("ack", up_to_seq=rig.last_seq())
    assert r.ok, r


@in_parts
def test_a_memory_error_in_the_links_phase_is_collected_and_the_phase_tried_again():
    rig = yield from _staffed()
    gw, imports, _, safe = yield from _reboot(
        rig, ResettingBoard, fail={"gatewire.frame": MemoryError()}
    )
    assert not gw.booting and safe and rig.board.resets == 0
    names = [m for m, _, _ in imports.seen]
    assert names.count("gatewire.frame") == 2, names  # refused once, then imported
    assert store.read_cbor(rig.board.flash, app.FAULT_FILE) is None
    yield from rig.ready_in_parts()
    body = yield from rig.call_in_parts("status")
    assert body["occupants"] == 3


@in_parts
def test_a_link_import_that_fails_is_a_fault_with_outputs_safe_and_a_reset():
    rig = yield from _staffed()
    fail = {"gatewire.messages": ImportError("no module named 'gatewire.messages'")}
    try:
        yield from _reboot(rig, ResettingBoard, fail)
    except BoardReset:
        pass
    else:
        raise AssertionError("the board was not reset")
    b = rig.board
    assert b.resets == 1 and b.refused and not b.work and not b.hot and b.lamp == 3
    rec = store.read_cbor(b.flash, app.FAULT_FILE)
    assert rec[1] == app.AT_BOOT and rec[3] == "ImportError", rec
    # The next boot imports it and logs the fault.
    gw, _, _, safe = yield from _reboot(rig)
    assert not gw.booting and safe and gw.zone.count == 3
