# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, the link: unknown
# types, garbage, a failing handler, the protocol version. Each behaviour is shown firing
# and not firing; rules are named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py
# (a staffed face gateway), tests/flashtap.py.

from appkit import staffed_in_parts
from apprig import of_kind, rig_in_parts
from hostcalls import in_parts

from gateway import events as ev
from gatewire import cbor, frame, messages
from gatewire.errors import E_BAD_ENVELOPE, E_INTERNAL, E_UNKNOWN_TYPE


@in_parts
def test_an_unknown_message_type_is_refused_as_such():
    rig = yield from rig_in_parts()
    before = rig.last_seq()
    yield
    for code in (50, messages.OK, messages.ERROR, messages.EVENT, 127, 1000):
        rig.send({0: code, 1: 77, 2: {}})
        r = rig.reply_to("status", 77)
        assert r.code == E_UNKNOWN_TYPE and r.field == "type", (code, r)
    yield
    assert rig.last_seq() == before  # read-only failures log nothing
    yield
    # Not firing: a known type is answered.
    assert rig.request("status").ok


@in_parts
def test_garbage_on_the_link_changes_nothing():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    st = rig.call("status")
    yield
    last = st["last_seq"]
    noise = bytearray()
    x = 12345
    for i in range(600):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        noise.append(x >> 16 & 0xFF)
        if i % 100 == 99:
            yield  # the LCG's products are big ints: 100 a part
    rig.board.rx.extend(noise)
    yield
    good = frame.encode(cbor.dumps({0: messages.STATUS, 1: 5, 2: {}}))
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0x40
    rig.board.rx.extend(damaged)
    yield
    rig.board.rx.extend(good[: len(good) // 2])  # cut short, then noise again
    yield
    rig.board.rx.extend(noise[:50])
    yield
    rig.board.rx.extend(frame.encode(b"\xff\xfe not cbor"))
    yield
    rig.board.rx.extend(frame.encode(cbor.dumps([1, 2, 3])))
    yield
    yield from rig.step_in_parts(10, 20)
    yield
    for obj in rig.inbox:
        r = messages.parse(obj, "reply", answers="status")
        assert r[0] == messages.ERROR and r[2]["code"] == E_BAD_ENVELOPE, r
        assert r[1] == 0  # no request id could be read
    rig.inbox = []
    st2 = rig.call("status")
    yield
    assert st2["last_seq"] == last and st2["occupants"] == st["occupants"]
    assert rig.board.work and not rig.board.sounder
    assert not rig.call("status")["sealed"]


@in_parts
def test_an_exception_inside_a_handler_is_answered_logged_and_survived():
    rig = yield from staffed_in_parts()

    def broken(body):
        return 1 // 0

    before = rig.last_seq()
    yield
    rig.gw._cmd_status = broken
    env = rig.envelope("status")
    yield
    rig.send(env)
    yield
    r = rig.reply_to("status", env[messages.KEY_ID])
    yield
    assert r.code == E_INTERNAL and "ZeroDivisionError" in r.text, r
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    err = of_kind(evs, ev.INTERNAL_ERROR)
    assert [(e[3], e[4]) for e in err] == [(messages.STATUS, env[messages.KEY_ID])]
    del rig.gw._cmd_status
    # The gateway goes on: commands answered, people counted, work on.
    rig.cross(1)
    yield
    assert rig.call("status")["occupants"] == 1
    yield
    assert rig.board.work


@in_parts
def test_a_host_with_the_wrong_version_is_refused_and_gets_no_events():
    rig = yield from rig_in_parts()
    r = rig.request("hello", min_version=2, max_version=3)
    yield
    assert not r.ok and r.field == "min_version"
    yield from rig.step_in_parts(10, 20)
    yield
    assert rig.pushed == []
