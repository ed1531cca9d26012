# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, events on the link:
# pushed after hello in a window until acked, events-since paging, the hash chain. Each
# behaviour is shown firing and not firing; rules are named by their IDs. Shared rig:
# tests/apprig.py, tests/appkit.py (a staffed face gateway), tests/flashtap.py.
import struct

from appkit import bad_reads_in_parts, staffed_in_parts
from apprig import GATEWAY_ID, of_kind, rig_in_parts
from hostcalls import in_parts
from mpcheck import raises

from gateway import app
from gateway import events as ev
from gateway.eventlog import ChainBroken, genesis_digest, unpack_record, verify_chain
from gatewire.errors import E_BAD_FIELD


@in_parts
def test_events_are_pushed_only_after_hello_in_order_within_a_window_until_acked():
    rig = yield from rig_in_parts()
    yield from bad_reads_in_parts(rig, 150)
    yield from rig.step_in_parts(10, 40)
    assert rig.pushed == []  # not firing: nobody said hello
    last = rig.last_seq()
    yield
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.step_in_parts(10, 60, steps=1)  # a step pushes up to 8 events
    seqs = [e[0] for e in rig.pushed]
    assert seqs == list(range(1, 65)), seqs  # the window: 64 beyond the last ack
    assert last > 64
    rig.ack(40)
    yield
    yield from rig.step_in_parts(10, 60, steps=1)
    seqs = [e[0] for e in rig.pushed]
    assert seqs == list(range(1, 40 + 65)), seqs
    rig.ack(seqs[-1])
    yield
    yield from rig.step_in_parts(10, 80, steps=1)
    seqs = [e[0] for e in rig.pushed]
    assert seqs == list(range(1, seqs[-1] + 1))
    assert seqs[-1] == rig.gw.log.last_seq
    # A new boot: nothing is pushed until the host says hello again.
    yield from rig.power_cut_in_parts()
    n = len(rig.pushed)
    yield
    yield from rig.step_in_parts(10, 20)
    assert len(rig.pushed) == n
    yield
    rig.call("hello", min_version=1, max_version=1)
    yield
    yield from rig.step_in_parts(10, 20)
    assert of_kind(rig.pushed[n:], ev.BOOT)


@in_parts
def test_an_ack_beyond_the_last_event_is_refused_naming_up_to_seq():
    rig = yield from rig_in_parts()
    last = rig.last_seq()
    yield
    r = rig.request("ack", up_to_seq=last + 1)
    yield
    assert r.code == E_BAD_FIELD and r.field == "up_to_seq", r
    assert rig.call("status")["unacked"] == last + 1  # + COMMAND_REFUSED
    yield
    # Not firing: an ack of the last event empties the backlog.
    last = rig.last_seq()
    yield
    assert rig.call("ack", up_to_seq=last)["unacked"] == 0
    yield
    assert rig.call("ack", up_to_seq=1)["unacked"] == 1  # an old ack is harmless


@in_parts
def test_events_since_pages_through_the_log():
    rig = yield from rig_in_parts()
    yield from bad_reads_in_parts(rig, 120)
    last = rig.last_seq()
    yield
    # A page is at most what the host asked for and at most the gateway's own page
    # (app.EVENTS_PAGE: a reply is held whole in a board's heap); the host pages on.
    k = app.EVENTS_PAGE
    assert 3 < k < 50
    page = rig.call("events-since", from_seq=1, max_count=50)
    yield
    assert [e["seq"] for e in page["events"]] == list(range(1, 1 + k))
    assert page["last_seq"] == last
    page = rig.call("events-since", from_seq=51, max_count=50)
    yield
    assert [e["seq"] for e in page["events"]] == list(range(51, 51 + k))
    page = rig.call("events-since", from_seq=0, max_count=3)["events"]
    yield
    assert [e["seq"] for e in page] == [1, 2, 3]
    everything = yield from rig.fetch_in_parts(1)
    assert [e[0] for e in everything] == list(range(1, last + 1))
    assert rig.call("events-since", from_seq=last + 1, max_count=50)["events"] == []
    yield
    r = rig.request("events-since", from_seq=last + 2, max_count=50)
    yield
    assert r.code == E_BAD_FIELD and r.field == "from_seq", r


@in_parts
def test_the_hash_chain_of_everything_fetched_verifies_from_the_gateways_genesis():
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    rig.cross(1, into=False)
    yield
    evs = yield from rig.fetch_in_parts(1)
    yield
    verify_chain(evs, genesis_digest(GATEWAY_ID), 0)
    # Not firing... and firing: another gateway's genesis does not verify.
    raises(ChainBroken, verify_chain, evs, genesis_digest("gw-other"), 0)


@in_parts
def test_a_record_changed_on_flash_is_reported_and_breaks_the_chain():
    # R-DATA-2: modification is detectable, by the gateway at boot and by the host.
    rig = yield from staffed_in_parts()
    rig.cross(1)
    yield
    name = "ev00000001"
    data = bytearray(rig.board.flash.read(name))
    yield
    seq = 3
    off = (seq - 1) * 44
    rec, _ = unpack_record(data, off)
    # Change field a and give the record a valid crc, as a careful forger would.
    import binascii

    struct.pack_into("<i", data, off + 16, rec[4] + 1)
    struct.pack_into("<I", data, off + 40, binascii.crc32(bytes(data[off : off + 40])))
    rig.board.flash.write(name, bytes(data))
    yield
    yield from rig.power_cut_in_parts()
    assert rig.gw.system & app.SYS_LOG_TAMPERED
    fetched = []  # page by page, as the host reads them (not rig.fetch: it keeps the
    # events it saw pushed, and refuses one changed since)
    while True:
        page = rig.call("events-since", from_seq=len(fetched) + 1, max_count=50)["events"]
        if not page:
            break
        fetched.extend(
            [
                (e["seq"], e["time_s"], e["kind"], e["tag"], e["a"], e["b"], e["digest"])
                for e in page
            ]
        )
    yield
    broken = raises(ChainBroken, verify_chain, fetched, genesis_digest(GATEWAY_ID), 0)
    assert broken.seq == seq
    tampered = of_kind(fetched, ev.LOG_TAMPERED)
    assert tampered and tampered[0][4] == seq


@in_parts
def test_events_the_host_acknowledged_are_not_pushed_to_it_again():
    # A host catching up with events-since acks far ahead of the push: the push goes on
    # from the ack, not from where it had got to.
    rig = yield from rig_in_parts()
    yield from bad_reads_in_parts(rig, 150)
    rig.call("hello", min_version=1, max_version=1)
    yield
    last = (yield from rig.fetch_in_parts(1))[-1][0]
    yield
    n = len(rig.pushed)
    yield
    assert n <= 64 and rig.pushed[-1][0] < last  # the push window: 64 beyond the ack
    rig.ack(last)  # handled in the very next step, before that step pushes anything
    yield
    yield from rig.step_in_parts(10, 60)
    again = [e[0] for e in rig.pushed[n:] if e[0] <= last]
    assert again == [], again
    # Not firing: what came after the ack is pushed.
    assert rig.pushed[-1][0] == rig.gw.log.last_seq > last
