# The boot sequence: the gateway from flash (key, configuration, counter, event log,
# roster), then its zone and interlocks built, one phase per boot_step(). Boot-only code,
# so it leaves the heap once that is done (store.unload, as config and commands do): a
# board keeps imported bytecode in its heap. The state snapshot and the crossings logged
# after it are restored next, by gateway/restore.py. The readers of the key, the boot
# count and the command counter are here, not in gateway/store.py, for the same reason.
import struct
import sys
from binascii import crc32

from gateway import build, store
from gateway import events as ev
from gateway.app import (
    READER_LOST_EVERY_MS,
    RING_MASK,
    RX_BUF,
    SYS_CONFIG_BAD,
    SYS_COUNTER_BAD,
    SYS_NOT_PROVISIONED,
    SYS_RESTORING,
    SYS_ROSTER_BAD,
    TX_BUF,
    _config,
)
from gateway.caps import EPOCH_S
from gateway.eventlog import EventLog, genesis_digest
from gateway.rejects import RejectTally
from gateway.roster import Roster
from gateway.snapshot import Snapshots
from gatewire import cbor
from gatewire.errors import ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# The log's reserve (gateway/app.py emit): a sixteenth of it, at least 8 events.
_RESERVE_DIV = const(16)
_RESERVE_MIN = const(8)


def start(gw, board):
    # The gateway's state before the boot's first phase, outputs already safe (called by
    # app.Gateway.__init__; boot-only code, as the rest of this module).
    gw.board_name = getattr(board, "name", None) or sys.platform
    gw.system = SYS_RESTORING
    gw._tag = [0, 0, 0, 0]
    gw._gas = [0, 0, 0]
    gw._beats = [0] * 8
    gw._rx = bytearray(RX_BUF)
    gw._poll_link = hasattr(board, "link_writable")
    gw._tx = bytearray(TX_BUF)  # small replies framed here (status, ack, hello)
    gw._tx_mv = memoryview(gw._tx)
    gw._tx_payload = bytearray()  # their CBOR, encoded here (app.Gateway._send)
    # Kept encodings, rewritten in place on every save and every command: the
    # interlocks' CBOR (the snapshot's).
    gw._il_cbor = bytearray()
    gw._counter_slots = None  # store.Slots of the counter, built at the first command
    # The last RING_MASK + 1 events logged, to push without reading them back (_stash).
    gw._ring = [0] * (RING_MASK + 1)  # seq in each slot, 0: none
    gw._ring_time = [0] * (RING_MASK + 1)
    gw._ring_kind = [0] * (RING_MASK + 1)
    gw._ring_tag = [0] * (RING_MASK + 1)
    gw._ring_a = [0] * (RING_MASK + 1)
    gw._ring_b = [0] * (RING_MASK + 1)
    gw._ring_digest = [bytearray(16) for _ in range(RING_MASK + 1)]
    gw._log_digest = None
    gw._handle_payload = gw._handle  # kept: the link's handler, no bound method a step
    # The wall clock in clock seconds (gateway/caps.py), as every rule takes it. The
    # real boards count their RTC from EPOCH_S (hal/clock.py: a small int, read with
    # no allocation); a board without RTC_EPOCH_S counts unix seconds.
    epoch = getattr(board, "RTC_EPOCH_S", 0)
    if epoch != 0 and epoch != EPOCH_S:
        raise ValueError("board RTC_EPOCH_S must be 0 or %d, got %r" % (EPOCH_S, epoch))
    gw._rtc_clock = epoch == EPOCH_S
    # The RTC as it stands: the restore rebuilds each stay's age from the wall clock.
    gw._now_s = gw.read_clock()
    gw._now_ms = board.ticks_ms()
    gw._boot_ms = gw._now_ms
    t = gw._now_ms - READER_LOST_EVERY_MS  # no loss logged yet: the first goes at once
    gw._lost = [board.reader_lost, 0, t, 0, t] if hasattr(board, "reader_lost") else None
    gw._dirty = False  # the snapshot needs rewriting
    gw._host = False  # a host said hello on this boot: push events to it
    gw._pushed = 0  # highest seq pushed as a notification
    gw.lost_events = 0  # events that found the log full, reserve included
    gw._roster_load = None  # [load_id, parts, received]
    # A command finishing over several steps (a roster commit): [phases, code, rid,
    # reply fields], its reply sent when the last phase is done and on flash.
    gw._job = None
    gw._in_command = False
    gw.ch4_ppm = -1
    gw.co_ppm = -1


def run(gw):
    fl = gw.flash
    gw.boot_count = next_boot_count(fl)
    try:
        gw.key = read_key(fl)
    except store.StoreError:
        gw.key = None
    if gw.key is None:
        gw.system |= SYS_NOT_PROVISIONED
    configuration = _config()
    cfg = configuration.defaults()
    try:
        stored = store.read_cbor(fl, store.CONFIG_FILE)
        if stored is not None:
            cfg = configuration.apply(cfg, stored)
        else:
            gw.system |= SYS_CONFIG_BAD
    except (store.StoreError, ProtocolError):
        gw.system |= SYS_CONFIG_BAD
    gw.cfg = cfg
    try:
        counter = read_counter(fl)
    except store.StoreError:
        # A damaged counter must not reopen old commands to replay: every command is
        # refused (and the alarm raised) until the gateway is provisioned again.
        counter = 1 << 62
        gw.system |= SYS_COUNTER_BAD
    gw._boot_counter = counter  # the verifier is built with the link's code (app._link_in)
    # The schema's code leaves the heap before the zone is built (the boot's peak);
    # a refused config below imports it again. The generator's frame would keep it.
    configuration = None
    store.unload("config")
    yield
    gw._fs_bytes = fl.fs_bytes() if hasattr(fl, "fs_bytes") else 0
    if gw._fs_bytes:
        try:
            build.check_log_fits(gw, cfg)
        except ProtocolError:
            # A stored log_capacity the file system cannot hold: defaults, work off.
            gw.system |= SYS_CONFIG_BAD
            cfg = gw.cfg = _config().defaults()
    cap = cfg["log_capacity"]
    gw.log = EventLog(
        fl,
        cap,
        reserve=max(_RESERVE_MIN, cap // _RESERVE_DIV),
        genesis=genesis_digest(cfg["gateway_id"]),
        damaged_kind=ev.LOG_RECORD_DAMAGED,
        staged=True,
    )
    # The log's recovery scan a part per step: its work and garbage grow with the log.
    for _ in gw.log.recovering():
        yield
    gw.rejects = RejectTally(gw.emit, gw.log, gw._now_ms)
    gw.snapshots = Snapshots(fl)
    _log_against_state(gw)
    gw._pushed = gw.log.last_seq
    # The log's digest of its newest record, updated in place (read by _stash).
    gw._log_digest = getattr(gw.log, "_digest", None)
    yield
    gw.roster = Roster(gw.emit, fl)
    try:
        if not gw.roster.open():
            gw.system |= SYS_ROSTER_BAD
    except (OSError, ValueError):
        gw.system |= SYS_ROSTER_BAD
    yield
    # The zone and the interlocks in two phases: the zone's short-lived allocation is
    # collected before the interlocks are built (the boot's peak). A refusal in either
    # is the stored config refused (build.install: defaults, work off).
    try:
        zone = build.zone(gw, cfg)
    except (ValueError, ProtocolError):
        zone = None
    yield
    built = False
    if zone is not None:
        try:
            built = (zone, build.locks(gw, cfg, zone))
        except (ValueError, ProtocolError):
            pass
    zone = None
    build.install(gw, cfg, built)
    # The restore's phases follow from gateway/restore.py (app.boot_step), once this
    # module's code has left the heap.


def _log_against_state(gw):
    # Before anything is logged on this boot: a snapshot that covers events the log
    # no longer holds means they were deleted (R-DATA-2). Their seqs are never given
    # out again; the log reports the tampering and boot logs LOG_TAMPERED.
    seq = gw.snapshots.covered()
    if seq is not None:
        gw.log.lost_through(seq)


def read_key(flash):
    data = flash.read(store.KEY_FILE)
    if data is None:
        return None
    if len(data) != store.KEY_LEN:
        raise store.StoreError(
            store.KEY_FILE, "holds %d bytes, a gateway key is %d" % (len(data), store.KEY_LEN)
        )
    return bytes(data)


def read_counter(flash):
    # The command counter in force (gateway/store.py has its slots' format): the highest of the whole slots, 0 if there is none at all.
    # StoreError if no slot is whole but one is there (damaged: never 0, which would
    # reopen every old command to replay).
    best = -1
    bad = None
    for name in store.COUNTER_SLOTS:
        data = flash.read(name)
        if data is None:
            continue
        n = -1
        if data[:4] == b"SGC1":
            if (
                len(data) == 16
                and crc32(memoryview(data)[:12]) == struct.unpack_from("<I", data, 12)[0]
            ):
                n = struct.unpack_from("<Q", data, 4)[0]
        else:
            try:
                n = cbor.loads(data)  # one CBOR uint, as older firmware wrote it
            except ValueError:
                pass
            if type(n) is not int:
                n = -1
        if n < 0:
            bad = name
        elif n > best:
            best = n
    if best < 0 and bad is not None:
        raise store.StoreError(bad, "expected a non-negative counter")
    return best if best >= 0 else 0


def next_boot_count(flash):
    try:
        n = store.read_cbor(flash, store.BOOTS_FILE)
    except store.StoreError:
        n = None
    n = n + 1 if type(n) is int and n >= 0 else 1
    store.write_cbor(flash, store.BOOTS_FILE, n)
    return n
