"""serve's local socket (station/control.py): a client that goes before its reply."""

import socket
import threading
import time

from shaftgate.station.control import ControlServer


class _SlowServer(ControlServer):
    # The socket layer alone: a reply that takes a while, so that it meets a client
    # already gone; small or big (a small one sat in a buffered writer, which flushed it
    # again when the connection closed and raised there).
    def handle(self, request, uid=None):
        time.sleep(0.2)
        return {"rows": ["x" * request.get("size", 10)]}


def test_a_client_gone_before_its_reply_ends_only_its_own_connection(tmp_path):
    failures = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)
    server = _SlowServer(None, tmp_path / "serve.sock")
    server.start()
    try:
        for size in (10, 1000, 1_000_000):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(server.path)
            c.sendall(b'{"op": "status", "size": %d}\n' % size)
            c.close()
        time.sleep(1.0)
        # The server still answers the next client whole.
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(server.path)
        c.sendall(b'{"op": "status", "size": 1000000}\n')
        with c.makefile("rb") as f:
            line = f.readline()
        c.close()
    finally:
        server.stop()
        threading.excepthook = old_hook
    assert line.startswith(b'{"ok": true') and len(line) > 1_000_000
    assert failures == []


def test_a_cli_whose_serve_went_away_says_so_rather_than_broken_pipe(tmp_path):
    from shaftgate.station.control_client import ControlError, ServeClient

    path = str(tmp_path / "serve.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    client = ServeClient(path, timeout_s=5)
    conn, _ = listener.accept()
    conn.close()  # serve stopped between two of the client's requests
    listener.close()
    time.sleep(0.1)
    try:
        client.call({"op": "status"})
    except ControlError as e:
        assert "serve closed the connection" in str(e)
    else:
        raise AssertionError("a call to a serve that has gone returned")
    finally:
        client.close()
