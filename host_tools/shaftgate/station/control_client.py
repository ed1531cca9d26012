"""The client side of serve's socket (station/control.py): one JSON document a line each
way. Apart from control.py so that a CLI process loads only this to talk to serve."""

import json
import os
import socket
import time


class ControlError(Exception):
    pass


class ServeClient:
    """One connection to serve's socket; call() sends a request and returns its data."""

    def __init__(self, path, timeout_s=60.0):
        self.path = os.fspath(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        try:
            self.sock.connect(self.path)
        except OSError:
            self.sock.close()
            raise
        # Requests go out unbuffered: a buffered writer would flush again on close and
        # raise there once serve had gone.
        self._f = self.sock.makefile("rb")

    def call(self, request):
        gone = "serve closed the connection (%s)" % self.path
        try:
            self.sock.sendall(json.dumps(request, ensure_ascii=False).encode() + b"\n")
            line = self._f.readline()
        except TimeoutError:
            raise ControlError(
                "serve did not answer within %g s (%s)" % (self.sock.gettimeout(), self.path)
            ) from None
        except (BrokenPipeError, ConnectionResetError):
            raise ControlError(gone) from None
        if not line:
            raise ControlError(gone)
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(reply.get("error") or "serve refused the request")
        return reply["data"]

    def close(self):
        self._f.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for(path, timeout_s=30.0):
    # Until serve answers on its socket (it binds before its links connect).
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with ServeClient(path, 5.0) as c:
                return c.call({"op": "status"})
        except (OSError, ControlError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
