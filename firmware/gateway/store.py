# What the gateway keeps on flash besides the event log, the state snapshot
# (gateway/snapshot.py) and the roster (gateway/roster.py): its key, its configuration,
# the last accepted command counter and the boot count. Each is one file written
# atomically (Flash.write), so a power cut leaves the old or the new version, but the
# counter, written on every signed command: two slots, COUNTER_SLOTS, each 16 bytes,
#   "SGC1", counter u64, crc32 u32 of the 12 bytes before (little-endian);
# the highest counter among the whole slots is in force (it only grows). The first write
# of a boot is atomic; later ones go to the other slot in place (Flash.rewrite_unsynced,
# then the crc's synced append: no temp file and rename, 144 B of a command's heap). A
# cut leaves that slot torn and the other, older one in force: the command being
# persisted had not acted (docs/keys.md), so accepting it again is no replay. Firmware
# before this wrote COUNTER_FILE alone as one CBOR uint: read as a whole slot.
# The deploy tool and the virtual board provision KEY_FILE and CONFIG_FILE by name.
import struct
import sys
from binascii import crc32

from gatewire import cbor
from gatewire.auth import KEY_LEN  # noqa: F401 (gateway/bootseq.py's read_key)

KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
COUNTER_FILE = "auth.cbor"  # the counter's slot 0 (older firmware's one CBOR file)
COUNTER_SLOTS = (COUNTER_FILE, "auth2.cbor")
BOOTS_FILE = "boots.cbor"


class StoreError(ValueError):
    # A stored file exists but cannot be used; `name` says which.
    def __init__(self, name, text):
        super().__init__("%s: %s" % (name, text))
        self.name = name


def read_cbor(flash, name):
    # None if the file does not exist; StoreError if it exists and is damaged.
    data = flash.read(name)
    if data is None:
        return None
    try:
        return cbor.loads(data)
    except ValueError as e:
        raise StoreError(name, "not readable CBOR (%s)" % e)


def write_cbor(flash, name, obj):
    flash.write(name, cbor.dumps(obj))


def write_counter(slots, counter):
    # slots: Slots(flash, COUNTER_SLOTS, 16), kept. Durable on return.
    struct.pack_into("<4sQ", slots.rec, 0, b"SGC1", counter)
    slots.write()


class Slots:
    # Two slots of one small record with a crc32 trailer over the rest, written in turn:
    # the command counter, the event log's ack record. The reader takes the whole slot
    # with the newest contents. A write goes to the slot not written last, in place
    # (Flash.rewrite_unsynced, then the crc's synced append: no temp file and rename, 128
    # B of heap) beside the whole one; a cut leaves it torn and the other in force. The
    # first write (slot -1: which slot is whole was not looked up, or none is) is atomic.
    def __init__(self, flash, names, size):
        self._flash = flash
        self._rewrite = getattr(flash, "rewrite_unsynced", None)
        self.names = names
        self.slot = -1  # the slot written last, or found in force at boot
        self.rec = bytearray(size)  # packed by the caller, all but the crc
        mv = memoryview(self.rec)
        self.head = mv[: size - 4]
        self._tail = mv[size - 4 :]

    def write(self):
        struct.pack_into("<I", self.rec, len(self.rec) - 4, crc32(self.head))
        slot = self.slot
        target = 0 if slot < 0 else 1 - slot
        name = self.names[target]
        if slot < 0 or self._rewrite is None:
            self._flash.write(name, self.rec)
        else:
            self._rewrite(name, self.head)
            self._flash.append(name, self._tail)  # synced: the slot is whole
        self.slot = target


def unload(name):
    # Lets a rarely used gateway module's code leave the heap (imported again on its
    # next use): a board keeps imported bytecode in its 192 KB.
    sys.modules.pop("gateway." + name, None)
    pkg = sys.modules.get("gateway")
    if pkg is not None and name in pkg.__dict__:
        delattr(pkg, name)
