# Power cuts for tests, on CPython and MicroPython alike. TornFlash wraps a Flash and
# can cut the power part-way through a mutating call (write, append, append_unsynced,
# rewrite_unsynced, truncate, remove),
# leaving on the real files exactly what a power loss at that byte leaves behind; after
# that every call raises PowerCut until reboot() reopens the same files with a fresh Flash.
import os

from hal.flashfs import TEMP_SUFFIX, FileFlash


class PowerCut(Exception):
    # Not an OSError: code under test must not mistake the power going off for a
    # flash error it can handle and carry on from.
    pass


_roots = [0]
try:
    import atexit
    import shutil
    import tempfile

    _BASE = tempfile.mkdtemp(prefix="shaftgate-flash-")
    atexit.register(shutil.rmtree, _BASE, True)
except ImportError:
    _BASE = "/tmp/shaftgate-flash"
    os.mkdir(_BASE)


def fresh_root():
    # An empty folder for one FileFlash; under MicroPython it lives in memory.
    _roots[0] += 1
    return "%s/f%d" % (_BASE, _roots[0])


class TornFlash:
    def __init__(self, open_flash):
        self._open = open_flash
        self.inner = open_flash()
        self.history = []  # (call, name, bytes it would write) for every mutating call
        self.dead = False
        self._cut_in = None
        self._after = 0
        self._fill = None
        self._fail = False

    @staticmethod
    def on_files(root=None):
        root = fresh_root() if root is None else root
        return TornFlash(lambda: FileFlash(root))

    def arm(self, op, after, fill=None, fail=False):
        # Cut the op-th mutating call from now (0 = the next) after `after` bytes. fill:
        # None leaves a short file; a byte value extends an append to its full length
        # with that byte (zeros from a file system that grew the file first, 0xFF from
        # erased flash). fail=True raises OSError and stays powered (a flash fault).
        self._cut_in = op
        self._after = after
        self._fill = fill
        self._fail = fail

    def disarm(self):
        self._cut_in = None

    def close(self):
        # The board is gone (apprig's power_cut): let go of the open append file.
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def reboot(self):
        self.disarm()
        self.dead = False
        # Let go of the dead Flash's open file: what it wrote is already on the files.
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        self.inner = self._open()

    # ---- reads pass straight through while powered ----

    def read(self, name):
        self._alive()
        return self.inner.read(name)

    def size(self, name):
        self._alive()
        return self.inner.size(name)

    def read_at(self, name, offset, n):
        self._alive()
        return self.inner.read_at(name, offset, n)

    def names(self):
        self._alive()
        return self.inner.names()

    def reader(self, name):
        self._alive()
        return self.inner.reader(name)

    # ---- mutating calls ----

    def write(self, name, data):
        data = bytes(data)
        if not self._cut_now("write", name, len(data)):
            self.inner.write(name, data)
            return
        if self._after >= len(data):
            self.inner.write(name, data)  # done, but the caller never hears so
        else:
            self._leave_temp(name, data[: self._after])
        self._die()

    def append(self, name, data):
        data = bytes(data)
        if not self._cut_now("append", name, len(data)):
            self.inner.append(name, data)
            return
        if self._after >= len(data):
            self.inner.append(name, data)
        else:
            part = data[: self._after]
            if self._fill is not None:
                part += bytes([self._fill]) * (len(data) - self._after)
            # Even with no bytes, opening for append has created the file.
            self.inner.append(name, part)
        self._die()

    def append_unsynced(self, name, data):
        # As append(): what reached the file before the cut stays (unsynced bytes may
        # reach it or not on a board; the writer syncs its last part and checks it).
        data = bytes(data)
        if not self._cut_now("append", name, len(data)):
            self.inner.append_unsynced(name, data)
            return
        self.inner.append_unsynced(name, self._cut_part(data))
        self._die()

    def rewrite_unsynced(self, name, data):
        # In place, not atomic (hal/flashfs.py): a cut leaves the file truncated to what
        # was written of data so far, even nothing.
        data = bytes(data)
        if not self._cut_now("rewrite", name, len(data)):
            self.inner.rewrite_unsynced(name, data)
            return
        self.inner.rewrite_unsynced(name, self._cut_part(data))
        self._die()

    def _cut_part(self, data):
        if self._after >= len(data):
            return data
        part = data[: self._after]
        if self._fill is not None:
            part += bytes([self._fill]) * (len(data) - self._after)
        return part

    def truncate(self, name, size):
        if not self._cut_now("truncate", name, size):
            self.inner.truncate(name, size)
            return
        if self._after >= size:
            self.inner.truncate(name, size)
        else:
            # FileFlash truncates by writing the kept prefix to a temp file.
            self._leave_temp(name, self.inner.read(name)[: self._after])
        self._die()

    def remove(self, name):
        if not self._cut_now("remove", name, 1):
            self.inner.remove(name)
            return
        if self._after >= 1:
            self.inner.remove(name)
        self._die()

    def remove_numbered(self, fmt, n):
        # As remove(fmt % n), FileFlash's one-step path for numbered files.
        if not self._cut_now("remove", fmt % n, 1):
            self.inner.remove_numbered(fmt, n)
            return
        if self._after >= 1:
            self.inner.remove_numbered(fmt, n)
        self._die()

    def _alive(self):
        if self.dead:
            raise PowerCut("the power is off")

    def _cut_now(self, call, name, n):
        self._alive()
        self.history.append((call, name, n))
        if self._cut_in is None:
            return False
        if self._cut_in > 0:
            self._cut_in -= 1
            return False
        self._cut_in = None
        return True

    def _leave_temp(self, name, part):
        root = getattr(self.inner, "root", None)
        if root is not None:
            with open(root + "/" + name + TEMP_SUFFIX, "wb") as f:
                f.write(part)

    def _die(self):
        if self._fail:
            raise OSError("flash write failed (injected)")
        self.dead = True
        raise PowerCut("power cut during a flash write")
