"""The side channel of virtual boards that another process runs (``shaftgate sim``).

One Unix socket per board; a request is one JSON line ``{"op": ..., "args": [...],
"kwargs": {...}}``, the reply one JSON line ``{"ok": result}`` or ``{"error": {"type":
..., "text": ...}}``. Bytes travel as ``{"hex": "..."}``. Only the peripheral, power and
line operations of VirtualBoard are offered, never the gatewire link: the host reaches
that through the board's serial port like any other.
"""

import json
import os
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import cast

from shaftgate.vboard.board import BoardError

OPS = frozenset(
    (
        "read_tag",
        "cross_in",
        "cross_out",
        "beam",
        "video",
        "gas",
        "gas_off",
        "advance",
        "now_s",
        "sync",
        "outputs",
        "status",
        "power_cut",
        "power_on",
        "reset",
        "unplug",
        "replug",
        "inject_garbage",
    )
)
_MAX_LINE = 1 << 20
# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
_MAX_SOCKET_PATH = 107


class RemoteBoardError(BoardError):
    """The board's supervisor refused or failed a request; ``type`` names its error."""

    def __init__(self, type_name, text):
        super().__init__("%s: %s" % (type_name, text))
        self.type = type_name


def _decode(value):
    if isinstance(value, dict) and set(value) == {"hex"}:
        return bytes.fromhex(value["hex"])
    return value


def _encode(value):
    if isinstance(value, (bytes, bytearray)):
        return {"hex": bytes(value).hex()}
    return value


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        board = cast(_Server, self.server).board
        while True:
            line = self.rfile.readline(_MAX_LINE)
            if not line:
                return
            try:
                request = json.loads(line)
                op = request["op"]
                if op not in OPS:
                    raise ValueError("unknown side-channel operation %r" % (op,))
                args = [_decode(a) for a in request.get("args", [])]
                kwargs = {k: _decode(v) for k, v in request.get("kwargs", {}).items()}
                result = getattr(board, op)(*args, **kwargs)
                if result is board:
                    result = None  # power_on() and reset() return the board, for chaining
                out = json.dumps({"ok": _encode(result)})
            except (ValueError, KeyError, TypeError, BoardError) as e:
                out = json.dumps({"error": {"type": type(e).__name__, "text": str(e)}})
            self.wfile.write((out + "\n").encode())


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path, board):
        super().__init__(path, _Handler)
        self.board = board


class SideChannelServer:
    """Serves one VirtualBoard's side channel on a Unix socket at `path`."""

    def __init__(self, board, path):
        self.path = str(path)
        if len(os.fsencode(self.path)) > _MAX_SOCKET_PATH:
            raise BoardError(
                "side-channel socket path is longer than %d bytes: %s" % (_MAX_SOCKET_PATH, path)
            )
        Path(self.path).unlink(missing_ok=True)  # a socket left by a killed run
        self._server = _Server(self.path, board)
        os.chmod(self.path, 0o600)  # whoever can drive the interlock inputs is trusted
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="vboard-side-%s" % Path(self.path).parent.name,
            daemon=True,
        )
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        Path(self.path).unlink(missing_ok=True)


class RemoteBoard:
    """A board served by SideChannelServer, driven from another process with the same
    method names as VirtualBoard (the operations in OPS)."""

    def __init__(self, path, timeout_s=30.0):
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(self.path)
        except OSError as e:
            self._sock.close()
            raise BoardError("cannot reach the side channel at %s: %s" % (path, e)) from e
        self._file = self._sock.makefile("rb")
        self._lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._file.close()
        self._sock.close()

    def call(self, op, *args, **kwargs):
        request = {
            "op": op,
            "args": [_encode(a) for a in args],
            "kwargs": {k: _encode(v) for k, v in kwargs.items()},
        }
        with self._lock:
            try:
                self._sock.sendall((json.dumps(request) + "\n").encode())
                line = self._file.readline(_MAX_LINE)
            except OSError as e:
                raise BoardError("side channel %s failed: %s" % (self.path, e)) from e
        if not line:
            raise BoardError("side channel %s closed" % self.path)
        reply = json.loads(line)
        if "error" in reply:
            err = reply["error"]
            if err["type"] in ("ValueError", "TypeError", "KeyError"):
                raise ValueError(err["text"])
            raise RemoteBoardError(err["type"], err["text"])
        return _decode(reply["ok"])

    def __getattr__(self, op):
        if op not in OPS:
            raise AttributeError(op)
        return lambda *args, **kwargs: self.call(op, *args, **kwargs)

    def wait_outputs(self, predicate, timeout_s=5.0, poll_s=0.02):
        # Polls, so unlike VirtualBoard.wait_outputs it can miss a state shorter than poll_s.
        deadline = time.monotonic() + timeout_s
        while True:
            outputs = self.call("outputs")
            if predicate(outputs):
                return outputs
            if time.monotonic() >= deadline:
                raise RemoteBoardError(
                    "BoardTimeout", "outputs did not match within %.1f s: %s" % (timeout_s, outputs)
                )
            time.sleep(poll_s)
