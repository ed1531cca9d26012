# shaftgate.link.client against tests/fake_gateway.py, in memory and over a real pty pair
# opened with pyserial (SerialTransport), as a Pico's USB-CDC port would be.
import os
import time

import pytest
from fake_gateway import KEY, OTHER_KEY, FakeGateway, MemoryLink

from gateway import eventlog, events
from gatewire import auth, cbor, messages
from gatewire.errors import (
    E_AUTH_BAD,
    E_AUTH_MISSING,
    E_AUTH_REPLAY,
    E_BAD_FIELD,
    E_REFUSED,
    ProtocolError,
)
from shaftgate.cli.selfcheck import PtyPeer
from shaftgate.link.client import (
    EventChainBroken,
    EventGap,
    EventLogReset,
    GatewayClient,
    GatewayError,
    GatewayTimeout,
    JsonlEventStore,
    KeyRequired,
    MemoryEventStore,
    WrongGateway,
)
from shaftgate.link.keystore import CounterFile, MemoryCounter
from shaftgate.link.transport import LinkError, SerialTransport


class Recording(MemoryLink):
    # Keeps every payload the host sent, to replay one as an eavesdropper would.
    def __init__(self, gateway):
        super().__init__(gateway)
        self.sent = []

    def send(self, payload):
        self.sent.append(bytes(payload))
        super().send(payload)


def memory_client(gateway, key=KEY, counter=None, gateway_id="face-1", **kw):
    return GatewayClient(MemoryLink(gateway), gateway_id, key, counter or MemoryCounter(), **kw)


@pytest.fixture
def fake(tmp_path):
    return FakeGateway("face-1", flash_root=str(tmp_path / "flash"))


@pytest.fixture
def pty_fake(tmp_path):
    gw = FakeGateway("face-1", flash_root=str(tmp_path / "flash"))
    peer = PtyPeer(gw.handle_on_pty)
    gw.attach(peer.send)
    yield gw, peer
    gw.attach(None)
    peer.stop()
    assert not peer.handler_errors


# ---- hello, identity ----


def test_hello_returns_identity(fake):
    client = memory_client(fake)
    body = client.hello()
    assert body["gateway_id"] == "face-1"
    assert body["version"] == messages.PROTOCOL_VERSION
    assert client.identity is body


def test_hello_adopts_the_gateway_id_when_none_was_named(fake):
    client = GatewayClient(MemoryLink(fake))
    client.hello()
    assert client.gateway_id == "face-1"


def test_hello_refuses_another_gateway_on_the_port(fake):
    client = memory_client(fake, gateway_id="face-2")
    with pytest.raises(WrongGateway, match="answers as gateway face-1, not face-2"):
        client.hello()


def test_request_ids_increase(fake):
    link = Recording(fake)
    client = GatewayClient(link, "face-1")
    client.status()
    client.status()
    client.hello()
    ids = [cbor.loads(p)[messages.KEY_ID] for p in link.sent]
    assert ids[0] < ids[1] < ids[2]


# ---- signing, replay, keys ----


def test_signed_command_accepted_and_counter_persisted_first(fake, tmp_path):
    counter = CounterFile(tmp_path / "face-1.counter")
    client = memory_client(fake, counter=counter)
    client.seal("roof fall")
    assert fake.sealed
    assert fake.accepted == ["seal"]
    assert counter.load() == fake.verifier.last_counter


def test_counter_that_cannot_be_persisted_sends_nothing(fake):
    class Broken(MemoryCounter):
        def save(self, counter):
            raise OSError("disk full")

    client = memory_client(fake, counter=Broken())
    with pytest.raises(OSError, match="disk full"):
        client.seal()
    assert fake.requests == []
    assert not fake.sealed


def test_counter_starts_above_persisted_even_with_the_clock_behind(fake, tmp_path):
    counter = CounterFile(tmp_path / "face-1.counter")
    memory_client(fake, counter=counter).seal()
    first = fake.verifier.last_counter
    # Next run, host clock set back to 1970: the file carries it (docs/keys.md).
    memory_client(fake, counter=counter, clock_ms=lambda: 5).unseal()
    assert fake.accepted == ["seal", "unseal"]
    assert fake.verifier.last_counter == first + 2


def test_lost_counter_file_and_clock_behind_is_refused_as_replay(fake):
    memory_client(fake).seal()
    client = memory_client(fake, counter=MemoryCounter(), clock_ms=lambda: 5)
    with pytest.raises(GatewayError) as e:
        client.unseal()
    assert e.value.code == E_AUTH_REPLAY
    assert e.value.code_name == "auth-replay"
    assert fake.accepted == ["seal"]


def test_replayed_command_refused(fake):
    link = Recording(fake)
    client = GatewayClient(link, "face-1", KEY, MemoryCounter())
    client.evacuate(reason=3, drill=False)
    captured = link.sent[-1]
    fake.evacuating = False
    link.send(captured)
    reply = cbor.loads(link.receive(1.0)[-1])
    code, _, body = messages.parse(reply, expect="reply", answers="evacuate")
    assert code == messages.ERROR
    assert body["code"] == E_AUTH_REPLAY
    assert not fake.evacuating
    assert fake.accepted == ["evacuate"]


def test_wrong_key_refused(fake):
    client = memory_client(fake, key=OTHER_KEY)
    with pytest.raises(GatewayError) as e:
        client.seal()
    assert (e.value.code, e.value.code_name, e.value.field) == (E_AUTH_BAD, "auth-bad", "tag")
    assert "gateway face-1 refused seal" in str(e.value)
    assert not fake.sealed


def test_unsigned_command_is_refused_by_the_gateway(fake):
    link = MemoryLink(fake)
    link.send(cbor.dumps(messages.request("seal", 9)))
    code, _, body = messages.parse(cbor.loads(link.receive(1.0)[0]), "reply", answers="seal")
    assert code == messages.ERROR and body["code"] == E_AUTH_MISSING
    assert not fake.sealed


def test_mutating_without_key_raises_and_sends_nothing(fake):
    client = GatewayClient(MemoryLink(fake), "face-1")
    assert client.status()["sealed"] is False  # reads need no key
    with pytest.raises(KeyRequired, match="seal changes gateway state"):
        client.seal()
    assert fake.requests == ["status"]


def test_bad_key_length_rejected_at_once(fake):
    with pytest.raises(ValueError, match="32 bytes"):
        GatewayClient(MemoryLink(fake), "face-1", b"short")


# ---- errors ----


def test_error_reply_raises_gateway_error_with_field(fake):
    client = memory_client(fake)
    with pytest.raises(GatewayError) as e:
        client.config_set({"warn_pct": "high"})
    assert e.value.code == E_BAD_FIELD
    assert e.value.field == "warn_pct"
    assert "bad-field, field warn_pct" in str(e.value)


def test_refusal_raises_gateway_error(fake):
    with pytest.raises(GatewayError) as e:
        memory_client(fake).all_clear()
    assert e.value.code == E_REFUSED
    assert e.value.request == "all-clear"


def test_bad_field_raises_before_anything_is_sent(fake):
    client = memory_client(fake)
    with pytest.raises(ProtocolError) as e:
        client.cap_override(10, 1_750_003_600, "x" * 65)
    assert e.value.field == "reason"
    assert fake.requests == []


def test_timeout_says_what_arrived_meanwhile(fake):
    client = memory_client(fake)
    fake.silent = True
    fake.emit(events.CAP_WARNING, 0, 20, 25)
    started = time.monotonic()
    with pytest.raises(GatewayTimeout) as e:
        client.status(timeout_s=0.2)
    assert 0.2 <= time.monotonic() - started < 2.0
    assert isinstance(e.value, LinkError)
    text = str(e.value)
    assert "no reply from gateway face-1 to status" in text
    assert "within 0.2 s" in text
    assert "1 event notification" in text
    # The event is kept for catch-up, not lost with the timeout.
    assert [ev["seq"] for ev in client.pushed()] == [1]


def test_timeout_of_a_command_says_it_may_have_been_carried_out(fake):
    client = memory_client(fake)
    fake.silent = True
    with pytest.raises(GatewayTimeout, match="seal may or may not have been carried out"):
        client.seal(timeout_s=0.05)


def test_timeout_with_nothing_arrived(fake):
    fake.silent = True
    with pytest.raises(GatewayTimeout, match="meanwhile: nothing arrived"):
        memory_client(fake).status(timeout_s=0.05)


# ---- reads with paging ----


def test_occupants_pages_and_names(fake):
    for i in range(7):
        fake.cross_in(1000 + i, 500 + i)
    names = {1003: {"name": "Li Na", "role": "welder", "crew": "maintenance"}}
    data = memory_client(fake).occupants(names)
    assert data["total"] == 7
    assert [o["tag_id"] for o in data["occupants"]] == list(range(1000, 1007))
    assert fake.requests.count("occupants") == 3  # the fake's pages hold 3
    li = data["occupants"][3]
    assert (li["name"], li["role"], li["person_id"]) == ("Li Na", "welder", 503)
    assert data["occupants"][0]["name"] is None


def test_permit_list_pages(fake):
    client = memory_client(fake)
    for pid in (11, 12, 13):
        client.permit_issue(
            permit_id=pid,
            job_id=7,
            measure_ref="STM-7",
            start_s=1_750_000_000,
            end_s=1_750_003_600,
            workers=[501],
            fire_watcher=502,
            flags=1,
        )
    data = client.permit_list()
    assert data["total"] == 3
    assert sorted(p["permit_id"] for p in data["permits"]) == [11, 12, 13]


# ---- roster load ----


def test_roster_load_in_chunks_under_one_load_id(fake):
    link = Recording(fake)
    client = GatewayClient(link, "face-1", KEY, MemoryCounter())
    entries = [[1000 + i, 500 + i, 1, 1_800_000_000, 1] for i in range(230)]
    parts = [entries[:100], entries[100:200], entries[200:]]
    result = client.roster_load(parts)
    assert result["parts"] == 3
    assert result["entries"] == 230
    assert fake.roster == entries
    sent = [cbor.loads(p)[messages.KEY_BODY] for p in link.sent]
    assert {b[0] for b in sent} == {result["load_id"]}  # key 0: load_id
    assert [b[1] for b in sent] == [0, 1, 2]


def test_roster_load_failure_names_the_part(fake):
    client = memory_client(fake)
    entries = [[1000 + i, 500 + i, 1, 0, 0] for i in range(260)]
    with pytest.raises(GatewayError, match=r"part 3 of 3: .*old roster stays in force"):
        client.roster_load([entries[:100], entries[100:200], entries[200:]])
    assert fake.roster == []


def test_roster_load_checks_every_part_before_sending(fake):
    client = memory_client(fake)
    good = [[1000, 500, 1, 0, 0]]
    bad = [[1001, 0, 1, 0, 0]]  # person id 0
    with pytest.raises(ProtocolError):
        client.roster_load([good, bad])
    assert fake.requests == []


# ---- events: nothing lost, nothing twice ----


def _emit_many(gw, n):
    for i in range(n):
        gw.now_s += 1
        gw.emit(events.ENTRY if i % 2 == 0 else events.EXIT, 1000 + i % 5, 500 + i % 5, i % 3)


def _seqs(store):
    return [e["seq"] for e in store.events]


def test_catch_up_in_pages_verifies_and_acks(fake):
    fake.push_events = False
    _emit_many(fake, 120)
    store = MemoryEventStore()
    client = memory_client(fake)
    result = client.catch_up(store)
    assert _seqs(store) == list(range(1, 121))
    assert fake.requests.count("events-since") == 3  # 50 + 50 + 20
    assert fake.log.acked == 120
    assert result.acked_to == 120 and result.unacked == 0
    assert result.gaps == [] and result.anchored_at is None
    assert store.events[0]["kind_name"] == "ENTRY"
    # Nothing new: one request, nothing stored twice.
    again = client.catch_up(store)
    assert again.events == [] and _seqs(store) == list(range(1, 121))


def test_catch_up_survives_a_dropped_link_without_loss_or_duplicates(fake, tmp_path):
    fake.push_events = False
    _emit_many(fake, 75)
    store = JsonlEventStore(tmp_path / "face-1.jsonl")

    class DiesAfter(MemoryLink):
        def __init__(self, gateway, requests):
            super().__init__(gateway)
            self.left = requests

        def send(self, payload):
            self.left -= 1
            if self.left < 0:
                self.gateway.silent = True  # the cable is pulled
            super().send(payload)

    # hello, events-since (50), ack, then the link dies on the second events-since.
    first = GatewayClient(DiesAfter(fake, 3), "face-1", KEY, MemoryCounter())
    first.hello()
    with pytest.raises(GatewayTimeout):
        first.catch_up(store, timeout_s=0.1)
    first.close()
    assert store.position()[0] == 50
    fake.silent = False
    _emit_many(fake, 10)

    # Reconnect: a new client and the store reopened from disk.
    store = JsonlEventStore(tmp_path / "face-1.jsonl")
    second = memory_client(fake)
    second.hello()
    result = second.catch_up(store)
    held = [e["seq"] for e in store.tail(1000)]
    assert held == list(range(1, 86))
    assert [e["seq"] for e in result.events] == list(range(51, 86))
    assert fake.log.acked == 85


def test_lost_ack_duplicates_are_dropped(fake):
    # The host stored 1..40 but its ack never arrived; this gateway answers from its
    # oldest unacked event whatever the host asks for.
    fake.push_events = False
    fake.ignore_from_seq = True
    _emit_many(fake, 40)
    store = MemoryEventStore()
    client = memory_client(fake)
    client.catch_up(store, ack=False)
    _emit_many(fake, 5)
    result = client.catch_up(store)
    assert result.duplicates_dropped == 40
    assert _seqs(store) == list(range(1, 46))
    assert fake.log.acked == 45


def test_lost_ack_is_repeated_when_nothing_is_new(fake):
    fake.push_events = False
    fake.ignore_from_seq = True
    _emit_many(fake, 10)
    store = MemoryEventStore()
    client = memory_client(fake)
    client.catch_up(store, ack=False)
    result = client.catch_up(store)
    assert result.events == [] and result.duplicates_dropped == 10
    assert result.acked_to == 10 and fake.log.acked == 10


def test_pushed_events_are_taken_once(fake):
    store = MemoryEventStore()
    client = memory_client(fake)
    client.hello()
    _emit_many(fake, 5)  # pushed: wait in the link until the client reads
    client.status()  # the pushes arrive around this reply and are queued
    assert [e["seq"] for e in client.pushed()] == [1, 2, 3, 4, 5]
    result = client.catch_up(store)
    assert _seqs(store) == [1, 2, 3, 4, 5]
    assert fake.requests.count("events-since") == 1  # only to confirm nothing more
    assert client.pushed() == []
    _emit_many(fake, 3)
    assert client.wait_for_events(1.0)
    client.catch_up(store)
    assert _seqs(store) == list(range(1, 9))
    assert result.duplicates_dropped == 0


def test_pushes_overlapping_events_since_are_not_stored_twice(fake):
    client = memory_client(fake)
    fake.push_events = False
    _emit_many(fake, 10)
    fake.push_events = True
    _emit_many(fake, 5)  # 11..15 pushed and also returned by events-since
    store = MemoryEventStore()
    result = client.catch_up(store)
    assert _seqs(store) == list(range(1, 16))
    assert result.duplicates_dropped == 5
    assert client.pushed() == []


def test_altered_event_breaks_the_chain_and_nothing_is_stored(fake):
    fake.push_events = False
    _emit_many(fake, 20)
    original = fake._on_events_since

    def tampered(body):
        reply = original(body)
        if reply["events"]:
            reply["events"][4]["a"] = 999  # someone edits an entry after the fact
        return reply

    fake._on_events_since = tampered
    store = MemoryEventStore()
    with pytest.raises(EventChainBroken, match="does not verify at seq 5"):
        memory_client(fake).catch_up(store)
    assert store.events == []
    assert fake.log.acked == 0


def test_gap_after_held_events_stops_until_accepted(fake):
    fake.push_events = False
    _emit_many(fake, 40)
    store = MemoryEventStore()
    client = memory_client(fake)
    client.catch_up(store, ack=False, page_size=10)  # holds 1..40, nothing acked
    assert _seqs(store)[-1] == 40
    _emit_many(fake, 30)
    fake.log.ack(60)  # another host took 41..60
    with pytest.raises(EventGap, match=r"events 41\.\.60 are missing"):
        client.catch_up(store)
    assert _seqs(store)[-1] == 40
    result = client.catch_up(store, accept_gap=True)
    assert result.gaps == [(41, 60)]
    assert store.gaps == [(41, 60)]
    assert _seqs(store)[-10:] == list(range(61, 71))


def test_fresh_store_starts_at_the_gateways_oldest_event(fake):
    fake.push_events = False
    _emit_many(fake, 40)
    fake.log.ack(35)
    store = MemoryEventStore()
    result = memory_client(fake).catch_up(store)
    assert _seqs(store) == [36, 37, 38, 39, 40]
    assert result.gaps == [(1, 35)]
    assert result.anchored_at == 36


def test_wiped_gateway_log_is_reported(fake, tmp_path):
    fake.push_events = False
    _emit_many(fake, 10)
    store = MemoryEventStore()
    memory_client(fake).catch_up(store)
    wiped = FakeGateway("face-1", flash_root=str(tmp_path / "wiped"))
    _emit_many(wiped, 3)
    with pytest.raises(
        EventLogReset, match="last event as seq 3 but this host already holds up to 10"
    ):
        memory_client(wiped).catch_up(store)


def test_log_of_another_gateway_does_not_verify(tmp_path):
    other = FakeGateway("face-9", flash_root=str(tmp_path / "f9"))
    other.push_events = False
    _emit_many(other, 3)
    client = GatewayClient(MemoryLink(other), "face-1", KEY, MemoryCounter())
    with pytest.raises(EventChainBroken, match="seq 1"):
        client.catch_up(MemoryEventStore())


def test_catch_up_without_key_reads_without_ack(fake):
    fake.push_events = False
    _emit_many(fake, 3)
    client = GatewayClient(MemoryLink(fake), "face-1")
    with pytest.raises(KeyRequired):
        client.catch_up(MemoryEventStore())
    store = MemoryEventStore()
    result = client.catch_up(store, ack=False)
    assert _seqs(store) == [1, 2, 3] and result.acked_to is None
    assert fake.log.acked == 0


def test_jsonl_store_recovers_from_a_torn_last_line(fake, tmp_path):
    fake.push_events = False
    _emit_many(fake, 4)
    path = tmp_path / "face-1.jsonl"
    memory_client(fake).catch_up(JsonlEventStore(path), ack=False)
    with open(path, "ab") as f:
        f.write(b'{"seq": 5, "kind": 1, "dig')  # power cut mid-append
    store = JsonlEventStore(path)
    seq, digest = store.position()
    assert seq == 4
    assert digest == fake.log.since(3, 1)[0][6]
    assert path.read_bytes().endswith(b"\n")
    assert [e["seq"] for e in store.tail(2)] == [3, 4]


# ---- over a real pty pair ----


def test_pty_hello_status_and_signed_command(pty_fake):
    gw, peer = pty_fake
    with GatewayClient(SerialTransport(peer.path), "face-1", KEY, MemoryCounter()) as client:
        assert client.hello()["gateway_id"] == "face-1"
        assert client.status()["cap"] == 25
        client.evacuate(reason=2, drill=True)
    assert gw.evacuating and gw.drill


def test_pty_replay_and_wrong_key_refused(pty_fake):
    gw, peer = pty_fake
    transport = SerialTransport(peer.path)
    try:
        GatewayClient(transport, "face-1", KEY, MemoryCounter()).seal()
        envelope = messages.request("unseal", 77)
        auth.sign(envelope, KEY, gw.verifier.last_counter)  # a counter already used
        transport.send(cbor.dumps(envelope))
        reply = cbor.loads(transport.receive(2.0)[0])
        assert messages.parse(reply, "reply", answers="unseal")[2]["code"] == E_AUTH_REPLAY
        with pytest.raises(GatewayError) as e:
            GatewayClient(transport, "face-1", OTHER_KEY, MemoryCounter()).unseal()
        assert e.value.code == E_AUTH_BAD
    finally:
        transport.close()
    assert gw.sealed


def test_pty_garbage_on_the_line_is_skipped(pty_fake):
    _, peer = pty_fake
    with GatewayClient(SerialTransport(peer.path), "face-1") as client:
        peer.write_raw(
            b"\x00\xde\xad\xbe\xef\x00" + os.urandom(64).replace(b"\x00", b"\x01") + b"\x00"
        )
        assert client.status()["cap"] == 25
        d = client.transport.decoder
        assert d.frames_bad_crc + d.frames_bad_cobs + d.frames_too_short >= 1


def test_pty_event_catch_up_with_reconnect(pty_fake, tmp_path):
    gw, peer = pty_fake
    gw.push_events = False
    _emit_many(gw, 60)
    gw.push_events = True
    path = tmp_path / "face-1.jsonl"
    with GatewayClient(SerialTransport(peer.path), "face-1", KEY, MemoryCounter()) as client:
        client.catch_up(JsonlEventStore(path), page_size=25)
    _emit_many(gw, 7)
    with GatewayClient(SerialTransport(peer.path), "face-1", KEY, MemoryCounter()) as client:
        client.catch_up(JsonlEventStore(path))
    assert [e["seq"] for e in JsonlEventStore(path).tail(100)] == list(range(1, 68))
    assert gw.log.acked == 67


def test_pty_timeout(pty_fake):
    gw, peer = pty_fake
    gw.silent = True
    with (
        GatewayClient(SerialTransport(peer.path), "face-1") as client,
        pytest.raises(GatewayTimeout, match="no reply from gateway face-1 to status"),
    ):
        client.status(timeout_s=0.2)


def test_genesis_of_the_fake_is_the_gateways_own(fake):
    # The client's default genesis candidates include eventlog.genesis_digest(id).
    fake.push_events = False
    fake.emit(events.ENTRY, 1, 2, 3)
    record = fake.log.since(0, 1)[0]
    assert record[6] == eventlog.chain_digest(eventlog.genesis_digest("face-1"), *record[:6])
