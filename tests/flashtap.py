# Boards that watch their own flash for the test_app_* files: the outputs as they stand at
# every flash access (WatchedBoard), one journal of what reached flash and what left on the
# link (JournalBoard), and readers of that journal. Not a test file.
import struct

from appkit import outputs
from fakeboard import FakeBoard

from gateway import snapshot
from gateway.eventlog import unpack_record
from gatewire import cbor, frame


class FlashTap:
    # The board's flash with a callback after every call returns: on(op, name, data).
    def __init__(self, inner, on):
        self.inner = inner
        self.on = on

    def read(self, name):
        data = self.inner.read(name)
        self.on("read", name, None)
        return data

    def write(self, name, data):
        self.inner.write(name, data)
        self.on("write", name, bytes(data))

    def append(self, name, data):
        self.inner.append(name, data)
        self.on("append", name, bytes(data))

    def size(self, name):
        n = self.inner.size(name)
        self.on("size", name, None)
        return n

    def read_at(self, name, offset, n):
        data = self.inner.read_at(name, offset, n)
        self.on("read_at", name, None)
        return data

    def truncate(self, name, size):
        self.inner.truncate(name, size)
        self.on("truncate", name, None)

    def remove(self, name):
        self.inner.remove(name)
        self.on("remove", name, None)

    def names(self):
        out = self.inner.names()
        self.on("names", None, None)
        return out

    def reader(self, name):
        return self.inner.reader(name)

    def close(self):
        self.inner.close()


class WatchedBoard(FakeBoard):
    # Records the outputs as they stand at every flash access (boot reads everything).
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.at_flash = []
        self.flash = FlashTap(self.flash, self._flash_used)

    def _flash_used(self, op, name, data):
        self.at_flash.append(outputs(self))


class JournalBoard(FakeBoard):
    # One journal of what reached flash (appends, once durable) and what left on the link.
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.journal = []
        self.flash = FlashTap(self.flash, self._flash_used)

    def _flash_used(self, op, name, data):
        if op == "append" and name in snapshot.SLOTS:
            whole = self.flash.inner.read(name)
            if snapshot_interlocks(whole) is not None:  # the save's last append
                self.journal.append(("state", whole))
        elif op == "append":
            self.journal.append(("append", data))

    def set_hot_relay(self, on):
        if on and not self.hot:
            self.journal.append(("hot", True))
        FakeBoard.set_hot_relay(self, on)

    def link_write(self, data):
        self.journal.append(("tx", bytes(data)))
        FakeBoard.link_write(self, data)


def snapshot_interlocks(data):
    # The interlocks' part of a whole binary snapshot (gateway/snapshot.py), else None.
    if len(data) < 36 or data[:4] != b"SGS1":
        return None
    il_len, rows = struct.unpack_from("<II", data, 24)
    if len(data) != 32 + il_len + 15 * rows + 4:
        return None
    return cbor.loads(bytes(data[32 : 32 + il_len]))


def journal_index(journal, want):
    # Index of the first journal item want(item) accepts, else -1.
    for i in range(len(journal)):
        if want(journal[i]):
            return i
    return -1


def appended_record(item):
    if item[0] != "append":
        return None
    rec, crc_ok = unpack_record(item[1])
    assert crc_ok
    return rec


def sent_envelope(item):
    if item[0] != "tx":
        return None
    payloads = frame.Decoder().feed(item[1])
    assert len(payloads) == 1  # each link_write is one whole frame
    return cbor.loads(payloads[0])
