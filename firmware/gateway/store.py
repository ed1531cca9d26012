# What the gateway keeps on flash besides the event log, the state snapshot
# (gateway/snapshot.py) and the roster (gateway/roster.py): its key, its configuration,
# the last accepted command counter and the boot count. Each is one file written
# atomically (Flash.write), so a power cut leaves the old or the new version.
# The deploy tool and the virtual board provision KEY_FILE and CONFIG_FILE by name.
import sys

from gatewire import cbor
from gatewire.auth import KEY_LEN

KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
COUNTER_FILE = "auth.cbor"
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
    obj = read_cbor(flash, COUNTER_FILE)
    if obj is None:
        return 0
    if type(obj) is not int or obj < 0:
        raise StoreError(COUNTER_FILE, "expected a non-negative counter")
    return obj


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
