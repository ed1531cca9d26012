# The host side of docs/protocol.md 2.1 and 7: an error the gateway could not address
# (id 0) is never taken for a reply, only named if the wait times out; after a timeout
# the client keeps reading for LINK_SETTLE_MS before it sends again, so that a busy
# gateway never finds two frames in its receive buffer.
import time

import pytest
from fake_gateway import KEY, FakeGateway, MemoryLink

from gatewire import cbor, frame, messages
from gatewire.errors import E_BAD_ENVELOPE
from shaftgate.link.client import GatewayClient, GatewayTimeout
from shaftgate.link.keystore import MemoryCounter


class Unreadable(FakeGateway):
    # Answers as if every request's id had reached it damaged (a host-side encoder bug).
    def _answer(self, payload):
        return messages.error_reply(0, E_BAD_ENVELOPE, "request id must be an int", "id")


class Timed(MemoryLink):
    def __init__(self, gateway):
        super().__init__(gateway)
        self.log = []  # ("send" | "receive", monotonic time)

    def send(self, payload):
        self.log.append(("send", time.monotonic()))
        super().send(payload)

    def receive(self, timeout_s):
        self.log.append(("receive", time.monotonic()))
        return super().receive(timeout_s)


def test_an_error_with_id_0_is_not_taken_for_the_reply_and_a_timeout_names_it(tmp_path):
    gw = Unreadable("face-1", flash_root=str(tmp_path / "flash"))
    client = GatewayClient(MemoryLink(gw), "face-1", KEY, MemoryCounter())
    with pytest.raises(GatewayTimeout) as e:
        client.status(timeout_s=0.2)
    assert "1 error(s) with id 0" in str(e.value)


def test_an_error_with_id_0_amid_noise_does_not_hide_the_real_reply(tmp_path):
    gw = FakeGateway("face-1", flash_root=str(tmp_path / "flash"))
    link = MemoryLink(gw)
    client = GatewayClient(link, "face-1", KEY, MemoryCounter())
    # An id-0 error for noise on the line, waiting before the status reply: not firing,
    # the status answer is what the client returns.
    link._inbox.put(cbor.dumps(messages.error_reply(0, E_BAD_ENVELOPE, "noise", "envelope")))
    assert client.status()["occupants"] == 0


def test_after_a_timeout_the_client_reads_before_it_sends_again(tmp_path):
    gw = FakeGateway("face-1", flash_root=str(tmp_path / "flash"))
    link = Timed(gw)
    client = GatewayClient(link, "face-1", KEY, MemoryCounter())
    gw.silent = True
    with pytest.raises(GatewayTimeout):
        client.status(timeout_s=0.05)
    gw.silent = False
    first_send = len(link.log)
    assert client.status()["occupants"] == 0
    after = link.log[first_send:]
    sends = [t for what, t in after if what == "send"]
    assert after[0][0] == "receive"  # it read first
    assert sends[0] - after[0][1] >= frame.LINK_SETTLE_MS / 1000 - 0.01
    # Not firing: without a timeout before it, a request goes out at once.
    n = len(link.log)
    client.status()
    assert link.log[n][0] == "send"
