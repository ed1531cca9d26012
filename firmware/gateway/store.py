# What the gateway keeps on flash besides the event log: its key, its configuration,
# the last accepted command counter, the state snapshot and the roster. Each is one file
# written atomically (Flash.write), so a power cut leaves the old or the new version.
# The deploy tool and the virtual board provision KEY_FILE and CONFIG_FILE by name.
from gatewire import cbor
from gatewire.auth import KEY_LEN

KEY_FILE = "gateway.key"
CONFIG_FILE = "config.cbor"
COUNTER_FILE = "auth.cbor"
STATE_FILE = "state.cbor"
ROSTER_FILE = "roster.cbor"
ROSTER_PART_FILE = "roster.part"
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


# The roster is stored as the chunks it arrived in, each a CBOR list of entries behind
# a 2-byte length, so that loading it at boot never holds more than one chunk decoded.


def roster_part_append(flash, entries, first):
    data = cbor.dumps(entries)
    head = bytes((len(data) >> 8, len(data) & 0xFF))
    if first:
        flash.write(ROSTER_PART_FILE, head + data)
    else:
        flash.append(ROSTER_PART_FILE, head + data)


def roster_part_commit(flash):
    data = flash.read(ROSTER_PART_FILE)
    if data is None:
        raise StoreError(ROSTER_PART_FILE, "missing at commit")
    flash.write(ROSTER_FILE, data)
    flash.remove(ROSTER_PART_FILE)


def roster_chunks(flash):
    # Yields each stored chunk (a list of entries); StoreError on damage.
    size = flash.size(ROSTER_FILE)
    if size is None or size < 0:
        return
    off = 0
    while off < size:
        head = flash.read_at(ROSTER_FILE, off, 2)
        if head is None or len(head) != 2:
            raise StoreError(ROSTER_FILE, "truncated at byte %d" % off)
        n = (head[0] << 8) | head[1]
        data = flash.read_at(ROSTER_FILE, off + 2, n)
        if data is None or len(data) != n:
            raise StoreError(ROSTER_FILE, "truncated at byte %d" % off)
        try:
            chunk = cbor.loads(data)
        except ValueError as e:
            raise StoreError(ROSTER_FILE, "chunk at byte %d unreadable (%s)" % (off, e))
        if not isinstance(chunk, list):
            raise StoreError(ROSTER_FILE, "chunk at byte %d is not a list" % off)
        yield chunk
        off += 2 + n
