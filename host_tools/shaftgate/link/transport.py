"""Moving frames to and from one gateway. A transport has two primitives, send one
payload and receive the payloads that arrived; everything above (requests, signing,
event catch-up) is built on those two, so a serial port, a virtual board's pty and a
unit test's fake are interchangeable."""

import time

import serial

from gatewire import frame


class LinkError(Exception):
    """The link to a gateway failed: port gone, unplugged, or not answering."""


class Transport:
    def send(self, payload: bytes) -> None:
        raise NotImplementedError

    def receive(self, timeout_s: float) -> list[bytes]:
        """Payloads of complete valid frames that arrived within timeout_s (maybe none)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialTransport(Transport):
    """A gateway on a serial device: /dev/ttyACM0 for a Pico's USB-CDC, a pty for a
    virtual board. Damaged frames are counted by the decoder and never delivered."""

    def __init__(self, port: str, baudrate: int = 115200):
        self.port_name = port
        try:
            # exclusive: two dispatch tools writing one gateway link interleave frames.
            self._port = serial.Serial(port, baudrate=baudrate, timeout=0, exclusive=True)
        except (serial.SerialException, OSError) as e:
            raise LinkError("cannot open %s: %s" % (port, e)) from e
        self.decoder = frame.Decoder()

    def send(self, payload: bytes) -> None:
        try:
            self._port.write(frame.encode(payload))
            self._port.flush()
        except (serial.SerialException, OSError) as e:
            raise LinkError("write to %s failed: %s" % (self.port_name, e)) from e

    def receive(self, timeout_s: float) -> list[bytes]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._port.timeout = max(0.0, deadline - time.monotonic())
                # Block for the first byte, then take whatever else is already there.
                chunk = self._port.read(1)
                if chunk:
                    chunk += self._port.read(self._port.in_waiting or 0)
            except (serial.SerialException, OSError, TypeError) as e:
                # pyserial raises TypeError from a pty whose other end has gone.
                raise LinkError("read from %s failed: %s" % (self.port_name, e)) from e
            if chunk:
                payloads = self.decoder.feed(chunk)
                if payloads:
                    return payloads
            if time.monotonic() >= deadline:
                return []

    def close(self) -> None:
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass
