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
from gatewire.auth import KEY_LEN

KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
COUNTER_FILE = "auth.cbor"  # the counter's slot 0 (older firmware's one CBOR file)
COUNTER_SLOTS = (COUNTER_FILE, "auth2.cbor")
_COUNTER_MAGIC = b"SGC1"
_COUNTER_FMT = "<4sQ"
_COUNTER_CRC_AT = 12
_COUNTER_SIZE = 16
BOOTS_FILE = "boots.cbor"


class StoreError(ValueError):
    # A stored file exists but cannot be used; `name` says which.
    def __init__(self, name, text):
        super().__init__("%s: %s" % (name, text))
        self.name = name


def read_key(flash):
    data = flash.read(KEY_FILE)
    if data is None:
        return None
    if len(data) != KEY_LEN:
        raise StoreError(KEY_FILE, "holds %d bytes, a gateway key is %d" % (len(data), KEY_LEN))
    return bytes(data)


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


def read_counter(flash):
    # The counter in force: the highest of the whole slots, 0 if there is none at all.
    # StoreError if no slot is whole but one is there (damaged: never 0, which would
    # reopen every old command to replay).
    best = -1
    damaged = None
    for name in COUNTER_SLOTS:
        n = _read_counter_slot(flash, name)
        if n is None:
            continue
        if n < 0:
            damaged = name
        elif n > best:
            best = n
    if best < 0 and damaged is not None:
        raise StoreError(damaged, "expected a non-negative counter")
    return best if best >= 0 else 0


def _read_counter_slot(flash, name):
    # The slot's counter; None if it is not there, -1 if it is damaged or torn.
    data = flash.read(name)
    if data is None:
        return None
    if data[:4] == _COUNTER_MAGIC:
        if (
            len(data) != _COUNTER_SIZE
            or crc32(memoryview(data)[:_COUNTER_CRC_AT])
            != struct.unpack_from("<I", data, _COUNTER_CRC_AT)[0]
        ):
            return -1
        return struct.unpack_from(_COUNTER_FMT, data, 0)[1]
    try:
        obj = cbor.loads(data)  # as older firmware wrote it
    except ValueError:
        return -1
    return obj if type(obj) is int and obj >= 0 else -1


class CounterSlots:
    # Writes the last accepted command counter (the format above); durable on return.
    def __init__(self, flash):
        self._flash = flash
        self._rewrite = getattr(flash, "rewrite_unsynced", None)
        self._slot = -1  # the slot written last, -1: none yet this boot
        self._rec = bytearray(_COUNTER_SIZE)
        mv = memoryview(self._rec)
        self._head = mv[:_COUNTER_CRC_AT]
        self._tail = mv[_COUNTER_CRC_AT:]

    def write(self, counter):
        rec = self._rec
        struct.pack_into(_COUNTER_FMT, rec, 0, _COUNTER_MAGIC, counter)
        struct.pack_into("<I", rec, _COUNTER_CRC_AT, crc32(self._head))
        slot = self._slot
        target = 0 if slot < 0 else 1 - slot
        name = COUNTER_SLOTS[target]
        # The first write of a boot is atomic: which slot is in force was not looked up,
        # and an atomic write leaves either slot whole. Then in place, beside the whole
        # slot just written.
        if slot < 0 or self._rewrite is None:
            self._flash.write(name, rec)
        else:
            self._rewrite(name, self._head)
            self._flash.append(name, self._tail)  # synced: the slot is whole
        self._slot = target


def next_boot_count(flash):
    try:
        n = read_cbor(flash, BOOTS_FILE)
    except StoreError:
        n = None
    n = n + 1 if type(n) is int and n >= 0 else 1
    write_cbor(flash, BOOTS_FILE, n)
    return n


def unload(name):
    # Lets a rarely used gateway module's code leave the heap (imported again on its
    # next use): a board keeps imported bytecode in its 192 KB.
    sys.modules.pop("gateway." + name, None)
    pkg = sys.modules.get("gateway")
    if pkg is not None and name in pkg.__dict__:
        delattr(pkg, name)
