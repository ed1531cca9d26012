"""`shaftgate selfcheck`: the host's protocol stack against a minimal gateway-side
responder, over a real pty pair opened with pyserial, as a Pico's USB-CDC port would be.
It proves the host end (framing, CBOR, catalogue, signing, replay and key refusal,
garbage on the line, timeouts) without any board. The responder implements only what
the checks need; the gateway's rules live in firmware/, not here.

PtyPeer, the gateway end of a pty pair served by a thread, is also what unit tests use to
put their fake gateway behind a real serial line.
"""

import os
import secrets
import select
import threading
import tty

from gateway import eventlog, events
from gatewire import auth, cbor, frame, messages
from gatewire.errors import (
    E_AUTH_BAD,
    E_AUTH_MISSING,
    E_AUTH_REPLAY,
    E_BAD_ENVELOPE,
    E_BAD_FIELD,
    ProtocolError,
)
from shaftgate.link.client import GatewayClient, GatewayError, GatewayTimeout
from shaftgate.link.keystore import MemoryCounter
from shaftgate.link.transport import LinkError, SerialTransport


class PtyPeer:
    """The gateway end of a pty pair. Frames arriving from the host go to
    handle(payload, peer); the handler answers with peer.send(payload)."""

    def __init__(self, handle):
        self._handle = handle
        self.master, self.slave = os.openpty()
        # Raw before the host opens it: no echo of our frames back to us, no CR/LF
        # translation, no 0x03 turned into a signal.
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.bytes_dropped = 0
        self.decoder = frame.Decoder()
        self.handler_errors = []
        self._write_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="pty-peer", daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def send(self, payload):
        self.write_raw(frame.encode(payload))

    def write_raw(self, data):
        # Like a UART whose host stopped reading: after a second without room the rest
        # is dropped and counted, so a test never hangs on a full pty.
        with self._write_lock:
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self.master, view) :]
                except BlockingIOError:
                    _, writable, _ = select.select([], [self.master], [], 1.0)
                    if not writable:
                        self.bytes_dropped += len(view)
                        return

    def _serve(self):
        while not self._stopping:
            ready, _, _ = select.select([self.master, self._wake_r], [], [])
            if self._wake_r in ready or self._stopping:
                return
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return  # the pty is closing
            for payload in self.decoder.feed(data):
                try:
                    self._handle(payload, self)
                except Exception as e:  # a test fake's bug must show, not hang the host
                    self.handler_errors.append(e)

    def stop(self):
        if self._stopping:
            return
        self._stopping = True
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self.master, self.slave, self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


class MiniGateway:
    """Just enough of a gateway for the self-check: hello, status, a signed time-set,
    and error replies built by gatewire exactly as the firmware builds them."""

    def __init__(self, gateway_id, key):
        self.gateway_id = gateway_id
        self.verifier = auth.Verifier(key)
        self.now_s = 0
        self.silent = False
        self.noise_before_reply = b""
        self.last_signed = None  # the last signed payload accepted: a replay's material
        self.genesis = eventlog.genesis_digest(gateway_id)

    def handle(self, payload, peer):
        if self.silent:
            return
        reply = self._answer(payload)
        if self.noise_before_reply:
            peer.write_raw(self.noise_before_reply)
            self.noise_before_reply = b""
        peer.send(cbor.dumps(reply))

    def _answer(self, payload):
        req_id = 0
        try:
            obj = cbor.loads(payload)
            code, req_id = messages.parse_envelope(obj)
            code, req_id, body = messages.parse(obj, expect="request")
            if messages.is_mutating(code):
                self.verifier.verify(obj)
                self.last_signed = payload
            name = messages.name_of(code)
            if name == "hello":
                version = messages.agree_version(body["min_version"], body["max_version"])
                return messages.reply(
                    "hello",
                    req_id,
                    version=version,
                    gateway_id=self.gateway_id,
                    role="face",
                    zone_id="selfcheck",
                    zone_kind="coal_face",
                    firmware="selfcheck",
                    boot_count=1,
                    last_seq=0,
                    now_s=self.now_s,
                    board="pty",
                )
            if name == "status":
                return messages.reply("status", req_id, **self.status_fields())
            if name == "time-set":
                self.now_s = body["time_s"]
                return messages.reply("time-set", req_id)
            return messages.error_reply(
                req_id, E_BAD_FIELD, "the self-check responder does not handle %s" % name, "type"
            )
        except ProtocolError as e:
            return messages.error_reply(req_id, e.code, e.text, e.field)

    def status_fields(self):
        return dict(
            now_s=self.now_s,
            uptime_s=1,
            occupants=0,
            cap=25,
            shift=0,
            lamp=1,
            work_allowed=False,
            hot_work_allowed=False,
            sealed=False,
            evacuating=False,
            drill=False,
            video_ok=False,
            gas_ok=False,
            override_active=False,
            last_seq=0,
            unacked=0,
            permits_active=0,
        )

    def event_payload(self, seq, kind):
        digest = eventlog.chain_digest(self.genesis, seq, self.now_s, kind, 0, 0, 0)
        return cbor.dumps(messages.event(seq, self.now_s, kind, 0, 0, 0, digest))


def _exchange(transport, payload, timeout_s=2.0):
    # One raw payload out, the first reply back as (code, id, body): for checks that must
    # send what GatewayClient would never build.
    transport.send(payload)
    for payload_in in transport.receive(timeout_s):
        obj = cbor.loads(payload_in)
        code, req_id = messages.parse_envelope(obj)
        if code == messages.ERROR:
            _, req_id, body = messages.parse(obj, expect="reply", answers="status")
            return code, req_id, body
        return code, req_id, {}
    raise LinkError("no reply within %.1f s" % timeout_s)


def _expect_refusal(what, want_code, call):
    try:
        call()
    except GatewayError as e:
        if e.code == want_code:
            return "%s (%s, field %s)" % (e.text, e.code_name, e.field)
        raise AssertionError("refused with %s, expected code %d" % (e, want_code)) from e
    raise AssertionError("%s was accepted" % what)


def run(report=print):
    # -> True if every check passed. report(line) is called once per check.
    gateway_id = "selfcheck"
    key = secrets.token_bytes(auth.KEY_LEN)
    results = []

    def check(title, body):
        try:
            detail = body()
            results.append(True)
            report("\u2713 %s%s" % (title, ": " + detail if detail else ""))
        except Exception as e:
            results.append(False)
            report("\u2717 %s: %s: %s" % (title, type(e).__name__, e))

    gateway = MiniGateway(gateway_id, key)
    with PtyPeer(gateway.handle) as peer:
        try:
            transport = SerialTransport(peer.path)
        except LinkError as e:
            report("\u2717 open the pty %s with pyserial: %s" % (peer.path, e))
            return False
        results.append(True)
        report("\u2713 pty pair %s opened with pyserial" % peer.path)
        client = GatewayClient(transport, gateway_id, key, MemoryCounter())
        try:

            def hello():
                body = client.hello()
                return "protocol version %d with gateway %s" % (body["version"], body["gateway_id"])

            def status():
                body = client.status()
                return "%d fields, cap %d" % (len(body), body["cap"])

            def signed():
                client.time_set(1_750_000_000)
                if gateway.now_s != 1_750_000_000:
                    raise AssertionError("the gateway's clock was not set")
                return "time-set accepted, counter %d" % gateway.verifier.last_counter

            def replay():
                code, _, body = _exchange(transport, gateway.last_signed)
                if code != messages.ERROR or body["code"] != E_AUTH_REPLAY:
                    raise AssertionError("a replayed time-set got %r" % (body,))
                return body["text"]

            def wrong_key():
                other = GatewayClient(
                    transport, gateway_id, secrets.token_bytes(auth.KEY_LEN), MemoryCounter()
                )
                return _expect_refusal(
                    "a command signed with another key",
                    E_AUTH_BAD,
                    lambda: other.time_set(1_750_000_100),
                )

            def unsigned():
                envelope = messages.request("time-set", 7, time_s=1_750_000_200)
                code, _, body = _exchange(transport, cbor.dumps(envelope))
                if code != messages.ERROR or body["code"] != E_AUTH_MISSING:
                    raise AssertionError("an unsigned time-set got %r" % (body,))
                return body["text"]

            def bad_field():
                envelope = {0: messages.TIME_SET, 1: 8, 2: {0: "now"}}
                auth.sign(envelope, key, gateway.verifier.last_counter + 1)
                code, _, body = _exchange(transport, cbor.dumps(envelope))
                if code != messages.ERROR or body.get("field") != "time_s":
                    raise AssertionError("a bad time_s got %r" % (body,))
                return "%s (field %s)" % (body["text"], body["field"])

            def garbage_to_host():
                before = transport.decoder.frames_bad_crc + transport.decoder.frames_bad_cobs
                gateway.noise_before_reply = b"\x00\x13\x37\xfe\xff noise \x00\x05\x01\x02\x00"
                client.status()
                damaged = transport.decoder.frames_bad_crc + transport.decoder.frames_bad_cobs
                if damaged <= before:
                    raise AssertionError("the noise was not counted as damaged frames")
                return "%d damaged frame(s) dropped, the reply still read" % (damaged - before)

            def garbage_to_gateway():
                code, req_id, body = _exchange(transport, b"\xff\xfe not CBOR")
                if code != messages.ERROR or req_id != 0 or body["code"] != E_BAD_ENVELOPE:
                    raise AssertionError("non-CBOR payload got %r" % (body,))
                client.status()
                return "bad-envelope reply, then the link still answers"

            def timeout():
                gateway.silent = True
                peer.send(gateway.event_payload(1, events.CAP_OK))
                try:
                    client.status(timeout_s=0.3)
                except GatewayTimeout as e:
                    if "1 event notification" not in str(e):
                        raise AssertionError("the timeout does not say what arrived: %s" % e) from e
                    return str(e)
                finally:
                    gateway.silent = False
                raise AssertionError("a silent gateway did not time out")

            check("hello", hello)
            check("status reply fits the catalogue", status)
            check("signed command accepted", signed)
            check("replayed command refused", replay)
            check("command under a wrong key refused", wrong_key)
            check("unsigned command refused", unsigned)
            check("bad field named in the refusal", bad_field)
            check("garbage toward the host skipped", garbage_to_host)
            check("garbage toward the gateway answered", garbage_to_gateway)
            check("timeout says what arrived meanwhile", timeout)
        finally:
            client.close()
        if peer.handler_errors:
            results.append(False)
            report("\u2717 responder failed: %r" % peer.handler_errors[0])
    ok = all(results)
    report(
        "self-check %s: %d of %d checks passed"
        % ("passed" if ok else "FAILED", results.count(True), len(results))
    )
    return ok
