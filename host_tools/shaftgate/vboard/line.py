"""The host-facing serial line of a virtual board: a pty pair in raw mode.

``port`` is a stable symlink to the pty's slave (like /dev/serial/by-id/...), which a host
opens with pyserial as it would /dev/ttyACM0. The line belongs to the supervisor, not to
the board process, so it survives power cuts like a USB-serial adapter left plugged in.
We keep a slave fd open ourselves: the master then never sees a hang-up while no host has
the port open, and bytes the board sends meanwhile wait in the pty (about 4 KB; beyond
that they are dropped and counted, as an adapter's buffer would).

Unplug: the cable is pulled, bytes stop both ways (counted as dropped). With
``reenumerate=True`` the device also disappears, as USB-CDC does: the pty is closed (the
host's open port fails), the symlink removed; replug() makes a new pty behind the same
symlink, so a host that reopens ``port`` finds the board again.
"""

import os
import select
import threading
import time
import tty


class LineError(Exception):
    """The serial line could not do what was asked."""


class SerialLine:
    def __init__(self, link_path, on_host_bytes, note):
        # on_host_bytes(data) -> delivered: bytes the host wrote while plugged; called on
        # our thread without our lock held.
        self.link_path = link_path
        self._on_host_bytes = on_host_bytes
        self._note = note
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._master = None
        self._slave = None
        self._request = None
        self._closing = False
        self.plugged = True
        self.host_bytes_dropped = 0
        self.board_bytes_dropped = 0
        self._wake_r, self._wake_w = os.pipe()
        with self._lock:
            self._open_pty()
        self._thread = threading.Thread(
            target=self._relay, name="vboard-line-%s" % link_path.parent.name, daemon=True
        )
        self._thread.start()

    @property
    def port(self):
        return str(self.link_path)

    @property
    def pty_path(self):
        with self._lock:
            return os.ttyname(self._slave) if self._slave is not None else None

    def write_to_host(self, data, force=False):
        """Bytes the board sends; dropped (and counted) while unplugged unless force."""
        with self._lock:
            if self._master is None or not (self.plugged or force):
                self.board_bytes_dropped += len(data)
                return False
            view = memoryview(data)
            while view:
                try:
                    n = os.write(self._master, view)
                except OSError as e:
                    # BlockingIOError: the host is not reading and the pty is full.
                    self.board_bytes_dropped += len(view)
                    self._note("serial line: dropped %d bytes to the host (%s)" % (len(view), e))
                    return False
                view = view[n:]
            return True

    def unplug(self, reenumerate=False):
        self.plugged = False
        if reenumerate:
            self._change("close")

    def replug(self):
        if self._master is None:
            self._change("open")
        self.plugged = True

    def close(self):
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(5)
        with self._lock:
            self._close_pty()
            for fd in (self._wake_r, self._wake_w):
                os.close(fd)

    def _change(self, request):
        # The relay thread may be in select() on the master: it makes the change itself.
        with self._lock:
            self._request = request
            self._wake()
            if not self._changed.wait_for(lambda: self._request is None, 5):
                raise LineError("serial line %s: %s not done" % (self.link_path, request))

    def _wake(self):
        os.write(self._wake_w, b"\x00")

    def _open_pty(self):
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes as on a USB-CDC pipe
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        temp = self.link_path.with_name(self.link_path.name + ".new")
        temp.unlink(missing_ok=True)
        os.symlink(os.ttyname(slave), temp)
        os.replace(temp, self.link_path)
        self._note("serial line %s -> %s" % (self.link_path, os.ttyname(slave)))

    def _close_pty(self):
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.link_path.unlink(missing_ok=True)

    def _relay(self):
        while True:
            with self._lock:
                if self._closing:
                    return
                if self._request == "close":
                    self._close_pty()
                elif self._request == "open":
                    self._open_pty()
                if self._request is not None:
                    self._request = None
                    self._changed.notify_all()
                master = self._master
            fds = [self._wake_r] if master is None else [self._wake_r, master]
            readable, _, _ = select.select(fds, [], [], 1.0)
            if self._wake_r in readable:
                os.read(self._wake_r, 512)
            if master is not None and master in readable:
                try:
                    data = os.read(master, 4096)
                except BlockingIOError:
                    continue
                except OSError as e:
                    # Not expected while we hold the slave open; do not spin on it.
                    self._note("serial line read failed: %s" % e)
                    time.sleep(0.1)
                    continue
                if data and not (self.plugged and self._on_host_bytes(data)):
                    self.host_bytes_dropped += len(data)
