# The gateway application: reads the board's inputs, runs the zone (people, caps) and
# the interlocks (video, gas, hot work, evacuation), drives the outputs, logs every
# event on flash and serves the host over gatewire. One step() is one pass; it never
# blocks. The rules live in zone.py and interlocks.py; this file wires them and owns
# what crosses the link and what survives a power cut.
import gc
import sys

from gateway import events as ev
from gateway import interlocks as il_mod
from gateway import reasons, roles, store
from gateway import zone as zone_mod
from gateway.caps import (
    CLOCK_MAX_S,
    SHIFT_UNKNOWN,
    clock_of,
    unix_hi,
    unix_lo,
    unix_of,
)
from gateway.eventlog import (
    EventLog,
    LogFull,
)
from gateway.ledger import ticks_age
from gateway.rejects import RejectTally
from gateway.roster import Roster
from gateway.snapshot import Snapshots
from gatewire import cbor
from gatewire.errors import (
    E_AUTH_BAD,
    E_BAD_FIELD,
    E_FULL,
    E_INTERNAL,
    E_REFUSED,
    E_UNKNOWN_TYPE,
    AuthError,
    ProtocolError,
)

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# The link's code is imported by the boot's last phase (Gateway._link_in), not here.
TYPE_CHECKING = const(0)
if TYPE_CHECKING:
    from gateway.pushframe import EventFramer
    from gatewire import auth, frame, messages

FIRMWARE_VERSION = "0.1.0"
ENOSPC = const(28)  # MicroPython's MP_ENOSPC (littlefs: no space) and Linux's (the vboard)
_MAX_READS_PER_STEP = const(16)
READER_LOST_EVERY_MS = const(60000)  # READER_DATA_LOST at most this often per point
_PUSH_PER_STEP = const(4)
_PUSH_WINDOW = const(64)  # events pushed beyond the last ack before waiting for one
RING_MASK = const(7)  # events stashed for pushing: 8, twice what one step pushes
RX_BUF = const(256)
TX_BUF = const(256)  # a reply that frames within it needs no buffer of its own
_TX_KEEP = const(48)  # the longest reply CBOR whose buffer _send keeps (an ack's is 12 B)
# A reply is held whole in the heap while it is built (the records read, the reply's
# maps, its CBOR, its frame): about 800 B an event on a board. Replies to a host's full
# page took 41 KB (50 events) and 29 KB (occupants mid-shift) in one step, more than a
# Pico's heap has free, so the gateway sends at most these and the host pages on
# (docs/protocol.md 8.5): the protocol's "at most max_count". Public: tests read them.
EVENTS_PAGE = const(8)
OCCUPANTS_PAGE = const(16)
_PPM_MAX = const(1000000)  # 100 %: the largest reading gatewire's status carries
# time-set may move the clock back this far without the command's `backwards` flag: the
# host sends whole seconds and the RTC counts whole seconds, so re-syncing a correct clock
# can step it back by a rounding second on each side. More would make the record's times
# run backwards (R-DATA-2), so it must be ordered on purpose.
CLOCK_BACK_TOLERANCE_S = const(2)

# Events after which the state snapshot must be rewritten, because replaying the log's
# crossings alone would not bring that state back after a power cut.
_STATEFUL = (
    ev.EVAC_START,
    ev.DRILL_START,
    ev.EVAC_JOIN,
    ev.EVAC_END,
    ev.ZONE_CLEAR,
    ev.PERMIT_ISSUED,
    ev.PERMIT_REVOKED,
    ev.PERMIT_ENDED,
    ev.FIRE_WATCH_START,
    ev.FIRE_WATCH_LEFT,
    ev.FIRE_WATCH_BACK,
    ev.FIRE_WATCH_END,
    ev.CAP_OVERRIDE_SET,
    ev.CAP_OVERRIDE_ENDED,
    ev.HOT_ON,  # R-HOT-2: the permit's window has begun, so its fire watch is owed
    ev.GAS_OVER,
    ev.GAS_PEAK,  # R-GAS-2: the peak so far, for the exceedance's end record
    ev.GAS_OVER_END,
    ev.SEALED,
    ev.UNSEALED,
)
# Events that may use the log's reserve: the alarms that say the log itself is in trouble.
_RESERVED = (ev.LOG_FULL, ev.SYSTEM_ALARM, ev.BOOT, ev.LOG_TORN_DISCARDED, ev.LOG_TAMPERED)
# The log's reserve (issue 13): a sixteenth of it, which ordinary events (crossings,
# rejected frames) never touch. An authentic command runs only if half the reserve is
# still free; an evacuation while an eighth is; interlock events (50-99: relays, gas,
# video, evacuation progress) may use all but that eighth, and the log's own alarms all
# of it. So commands alone cannot hold back an evacuation, and forged frames never reach
# the reserve at all (gateway/rejects.py). Its size is set at boot (gateway/bootseq.py).

# Crossings the ledger is rebuilt from at boot (snapshot + these, in log order), and
# RECOUNT (R-CAP-11) in its place among them (Gateway._replay).
_REPLAYED = (ev.ENTRY, ev.EXIT)

# System state bits (status, SYSTEM_ALARM events): each one keeps work off or entry refused.
SYS_NOT_PROVISIONED = const(0x01)  # no gateway key: no command can be authenticated
SYS_CONFIG_BAD = const(0x02)  # stored configuration unusable: defaults, work off
SYS_LOG_TAMPERED = const(0x04)  # the event log does not verify (R-DATA-2)
SYS_LOG_FULL = const(0x08)  # no room to log: entries refused rather than events dropped
SYS_STATE_LOST = const(0x10)  # the snapshot was unreadable: the ledger may be incomplete
SYS_ROSTER_BAD = const(0x20)  # the stored roster was unreadable: every tag is unknown
SYS_RESTORING = const(0x40)  # boot not finished: everything safe
SYS_COUNTER_BAD = const(0x80)  # the command counter file was damaged: commands refused

_LATER = object()  # a command handler's answer: the reply comes from _run_job

# Where step() was when a fault struck: the FAULT event's tag.
AT_BOOT = const(1)
AT_INPUTS = const(2)  # tag reads, beam, video, gas
AT_RULES = const(3)  # interlock and zone ticks
AT_SAVE = const(4)  # the state snapshot
AT_OUTPUTS = const(5)
AT_LINK = const(6)  # reading and answering the host
AT_PUSH = const(7)  # events pushed to the host
# The exception's kind: the FAULT event's a (its name is in the fault file as well).
_FAULT_KINDS = (
    MemoryError,
    OSError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    AttributeError,
    ZeroDivisionError,
    RuntimeError,
)
FAULT_FILE = "fault.cbor"

# What keeps the relays off regardless of the interlocks (fail safe).
# A lost snapshot may have held an evacuation, a seal or permits: until a signed all-clear
# says dispatch has confirmed the zone's state, work stays off and entry refused.
_WORK_BLOCKERS = SYS_CONFIG_BAD | SYS_RESTORING | SYS_STATE_LOST
_ENTRY_BLOCKERS = SYS_LOG_FULL | SYS_RESTORING | SYS_STATE_LOST


def _config():
    # The settings' schema and checks: needed at boot and by config-set only, so
    # imported then and let go after (store.unload), out of a board's heap meanwhile.
    from gateway import config

    return config


def _role_word(code):
    try:
        return roles.name(code)
    except ValueError:
        return "role %d" % code


def _i31(v):
    # A request id as an event field (int32): ids are uint32, the low 31 bits identify it.
    return (v or 0) & 0x7FFFFFFF


class Gateway:
    # Built by the boot sequence (gateway/bootseq.py) before any step runs; declared here
    # for the type checker only (an annotation without a value makes no attribute).
    # bootseq.start, called by __init__ (boot-only code, let go with the boot):
    board_name: str
    system: int
    _tag: list
    _gas: list
    _beats: list
    _rx: bytearray
    _poll_link: bool
    _tx: bytearray
    _tx_mv: memoryview
    _tx_payload: bytearray
    _il_cbor: bytearray
    _counter_slots: "store.Slots | None"
    _ring: list
    _ring_time: list
    _ring_kind: list
    _ring_tag: list
    _ring_a: list
    _ring_b: list
    _ring_digest: list
    _log_digest: "bytearray | None"
    _handle_payload: "object"
    _rtc_clock: bool
    _now_s: int
    _now_ms: int
    _boot_ms: int
    _lost: "list | None"
    _dirty: bool
    _host: bool
    _pushed: int
    lost_events: int
    _roster_load: "list | None"
    _job: "list | None"
    _in_command: bool
    ch4_ppm: int
    co_ppm: int
    # bootseq.run, the boot's phases:
    boot_count: int
    key: "bytes | None"
    _boot_counter: int  # the command counter read at boot, for the verifier (_link_in)
    verifier: "auth.Verifier | None"
    log: EventLog
    rejects: RejectTally
    roster: Roster
    snapshots: Snapshots
    # and by gateway/build.py's install (boot and config-set)
    zone: "zone_mod.Zone"
    il: "il_mod.Interlocks"
    cfg: dict
    sealed: bool
    _fs_bytes: int
    # and by the boot's last phase (_link_in)
    _framer: "EventFramer"
    _decoder: "frame.Decoder"

    def __init__(self, board, staged=False):
        # staged: boot one phase per call of boot_step() (or step()), each short enough
        # for the watchdog, fed between phases (docs/hardware.md); else all at once.
        self.board = board
        self.flash = board.flash
        self._safe_outputs()
        self._where = AT_BOOT
        from gateway import bootseq

        bootseq.start(self, board)
        self._boot_part = 0  # 0: gateway/bootseq.py's phases, 1: gateway/restore.py's
        self._booting = bootseq.run(self)
        if not staged:
            while self.boot_step():
                pass

    def read_clock(self):
        # The board's wall clock in clock seconds, 0 while unknown.
        t = self.board.rtc_s()
        if not self._rtc_clock:
            return clock_of(t)  # a unix board (tests, the virtual board): allocates
        if type(t) is not int or t < 0 or t > CLOCK_MAX_S:
            return 0
        return t

    # ---- boot: restore everything, outputs safe until done ----

    def boot_step(self):
        # Runs the next boot phase; True while more remain. The watchdog is fed after
        # each: no phase takes long (the roster is opened, not decoded; the log is
        # replayed 32 events a phase).
        phases = self._booting
        if phases is None:
            return False
        if isinstance(phases, int):
            # The link's code (_link_in). Raises if an import fails (step(): a
            # MemoryError collected and this phase tried again, else the fault recorded,
            # outputs safe, the board reset).
            self._link_in(phases)
            self._booting = phases + 1 if phases < 3 else None
        else:
            try:
                next(phases)
            except StopIteration:
                if self._boot_part == 0:
                    # The zone and the interlocks are built: the boot sequence's code
                    # leaves the heap before the restore's comes in (gateway/restore.py),
                    # the boot's peak, and that one's once booted.
                    self._booting = phases = None
                    store.unload("bootseq")
                    store.unload("build")
                    from gateway import restore

                    self._boot_part = 1
                    self._booting = restore.boot(self)
                else:
                    # Three phases more, with the restore's code gone (its generator too).
                    self._booting = 1
                    store.unload("restore")
        self.board.feed_watchdog()
        return self._booting is not None

    def _link_in(self, part):
        # The boot's last three phases: the link's code (gatewire.messages, then frame,
        # auth and the event framer: 19 KB of a board's heap as .mpy), then its objects,
        # once the restore's code has gone, so that the boot's peak holds neither theirs
        # nor the other's. An import leaves garbage (a fifth of the module), collected
        # before the next phase: the largest is alone, and the last phase, whose
        # garbage tops the booted heap, makes little. Nothing is read from the link or
        # sent to it before the boot is done.
        global auth, frame, messages, EventFramer
        if part == 1:
            from gatewire import messages
        elif part == 2:
            from gateway.pushframe import EventFramer
            from gatewire import auth, frame
        else:
            self._framer = EventFramer()
            self._decoder = frame.Decoder()
            key = self.key
            self.verifier = auth.Verifier(key, self._boot_counter) if key else None

    @property
    def booting(self):
        return self._booting is not None

    def _replay(self, covered):
        # gateway/restore.py's last part (a method, which the power-cut checks replace).
        # Crossings logged after the snapshot bring the ledger up to the last event. It
        # walks by position, never by the seq a record holds: a damaged log may repeat
        # or reorder seqs, and boot must still end (the log reports the damage).
        seq = covered
        last = self.log.last_seq
        while seq < last:
            recs = self.log.since(seq, 32)
            if not recs:
                return
            for r in recs:
                if r[2] in _REPLAYED:
                    self.zone.replay(r[2], r[3], r[1], self._now_ms)
                elif r[2] == ev.RECOUNT:
                    from gateway import recount  # rare: loaded for it, let go at once

                    recount.replay(self.zone, r[4], r[5])
                    store.unload("recount")
            # Served in place, so the last one's seq is its position; it jumps a gap
            # (a segment named far ahead) that one record at a time would walk for ever.
            end = recs[-1][0]
            seq = end if end > seq + len(recs) else seq + len(recs)
            recs = None
            yield

    # ---- events ----

    def emit(self, kind, tag, a, b):
        # Every rule reports here; an event is on flash before anything is told of it.
        # While an authentic command runs, what it causes may use the reserve: its room
        # was checked before it ran (_room_for).
        log = self.log
        if self._in_command or kind in _RESERVED:
            keep = 0
        elif 50 <= kind <= 99:
            keep = log.reserve // 8
        else:
            keep = log.reserve
        try:
            try:
                log.append_clock(self._now_s, kind, tag, a, b, False, keep)
            except OSError as e:
                if e.args[0] != ENOSPC:
                    raise
                # A full file system is a full log: entries refused, never a crash.
                raise LogFull("file system full")
        except LogFull:
            self.lost_events += 1
            # What the event did (a crossing, say) cannot be replayed from the log after
            # a power cut, so the snapshot must hold it: the count is never lost.
            self._dirty = True
            self._log_full()
            return
        if self._host:
            self._stash(kind, tag, a, b)
        if kind in _STATEFUL:
            self._dirty = True
        if not self.system & SYS_LOG_FULL and self.log.nearly_full():
            # Entries are refused while the log still has room for what they cause, not
            # once an event has already been dropped.
            self._log_full()

    def _stash(self, kind, tag, a, b):
        # The event just logged, kept for _push_events (allocation-free: slot stores and
        # a 16-byte copy into a preallocated digest).
        log = self.log
        seq = log.last_seq
        k = seq & RING_MASK
        self._ring[k] = seq
        self._ring_time[k] = self._now_s
        self._ring_kind[k] = kind
        self._ring_tag[k] = tag
        self._ring_a[k] = a
        self._ring_b[k] = b
        src = self._log_digest
        if src is None:
            src = log.last_digest()
        dst = self._ring_digest[k]
        for i in range(16):
            dst[i] = src[i]

    def _log_full(self):
        if self.system & SYS_LOG_FULL:
            return
        self.system |= SYS_LOG_FULL
        try:
            self.log.append_clock(self._now_s, ev.LOG_FULL, 0, self.log.unacked(), 0, True)
        except (LogFull, OSError):
            self.lost_events += 1

    def _save_state(self):
        # The interlocks' CBOR: a kept constant while they hold nothing, else encoded into
        # the kept buffer (no bytes copy of it per save).
        blob = self.il.snapshot_cbor(self._il_cbor)
        self.snapshots.save(self.log.last_seq, self.zone, blob, self.sealed)
        self._dirty = False

    # ---- the loop ----

    def _save_or_full(self):
        # A snapshot that finds the file system full keeps entries refused (LOG_FULL) and
        # is tried again next step; any other flash failure is a fault.
        try:
            self._save_state()
        except OSError as e:
            if e.args[0] != ENOSPC:
                raise
            self._log_full()

    # ---- faults ----

    def _fault(self, e):
        # An exception escaped step(): outputs safe at once, the fault on flash for the
        # next boot to log, then a reset (a board without reset() re-raises: its owner,
        # the virtual board or a test, sees the crash).
        b = self.board
        try:
            self._safe_outputs()
        except Exception:
            pass
        kind = 0
        for i in range(len(_FAULT_KINDS)):
            if isinstance(e, _FAULT_KINDS[i]):
                kind = i + 1
                break
        cause = 0
        try:
            cause = b.reset_cause() if hasattr(b, "reset_cause") else 0
            store.write_cbor(self.flash, FAULT_FILE, [kind, self._where, cause, type(e).__name__])
        except Exception:
            pass  # the flash may be what failed: the reset still comes
        if hasattr(b, "reset"):
            b.reset()
        raise e

    # ---- the loop ----

    def step(self):
        # One pass. A fault inside leaves the outputs safe and resets the board; a
        # MemoryError is first given one collection and a second try.
        try:
            self._step()
        except MemoryError:
            gc.collect()
            try:
                self._step()
            except Exception as e:
                self._fault(e)
        except Exception as e:
            self._fault(e)

    def _step(self):
        b = self.board
        if self._booting is not None:
            # Outputs stay safe (set in __init__) until the last boot phase has run.
            self._now_ms = b.ticks_ms()
            self.boot_step()
            return
        self._where = AT_INPUTS
        now_ms = b.ticks_ms()
        now_s = self.read_clock()
        self._now_ms = now_ms
        self._now_s = now_s
        zone = self.zone
        il = self.il
        t = self._tag
        n = 0
        while n < _MAX_READS_PER_STEP and b.read_tag(t):
            zone.on_read(t[0], t[1], t[2], t[3], now_ms, now_s)
            n += 1
        self._readers_lost(now_ms)
        zone.on_beam(b.beam_count(), now_ms)
        cams = b.video_beats(self._beats)
        il.on_video(self._beats, cams, now_ms)
        g = self._gas
        if b.read_gas(g):
            self.ch4_ppm = g[0]
            self.co_ppm = g[1]
            il.on_gas(g[0], g[1], g[2], now_ms)
        self._where = AT_RULES
        il.tick(now_ms, now_s, zone.count)
        if zone.evacuating != il.entry_refused:
            # Only on a change: set_evacuating re-judges the zone's whole state.
            zone.set_evacuating(il.entry_refused)
        zone.tick(now_ms, now_s)
        if self._dirty:
            # On flash before the outputs act on it: a relay raised for a permit whose
            # window has begun must leave the fire watch owed even if the power goes now.
            self._where = AT_SAVE
            self._save_or_full()
        self._where = AT_OUTPUTS
        self._drive()
        self._where = AT_LINK
        if self._job is not None:
            self._run_job()
        self._serve_link()
        self.rejects.tick(now_ms)
        if self._dirty:
            self._where = AT_SAVE
            self._save_or_full()
        if self.log.tampered and not self.system & SYS_LOG_TAMPERED:
            # Damage found while reading the log after boot is alarmed at once (R-DATA-2).
            self.system |= SYS_LOG_TAMPERED
            self.emit(ev.LOG_TAMPERED, self.log.tamper_code, self.log.tamper_seq & 0x7FFFFFFF, 0)
        self._where = AT_PUSH
        self._push_events()
        b.feed_watchdog()

    def _readers_lost(self, now_ms):
        # R-DATA-1: a reader line lost before it was parsed may be a person crossing
        # uncounted, so it is alarmed (READER_DATA_LOST); a noisy cable is pooled to one
        # event a minute per point, b counting every line since the last. Small ints only.
        # self._lost: [board.reader_lost, then per point: count when last logged, when].
        st = self._lost
        if st is None:
            return
        for p in range(2):
            i = 1 + 2 * p
            n = st[0](p) - st[i]
            # Held back only within a minute of the last.
            if n > 0 and ticks_age(now_ms, st[i + 1]) >= READER_LOST_EVERY_MS:
                self.emit(ev.READER_DATA_LOST, 0, p, n)
                st[i] += n
                st[i + 1] = now_ms

    def _drive(self):
        b = self.board
        sys_ = self.system
        blocked = sys_ & _WORK_BLOCKERS or self.sealed
        work = self.il.work_relay and not blocked
        hot = self.il.hot_relay and not blocked
        b.set_work_relay(work)
        b.set_hot_relay(hot)
        lamp = self.zone.lamp
        if self.il.lamp_demand > lamp:
            lamp = self.il.lamp_demand
        if sys_ & (SYS_LOG_FULL | SYS_CONFIG_BAD):
            lamp = 3
        elif sys_ and lamp < 2:
            lamp = 2
        b.set_lamp(lamp)
        b.set_sounder(self.il.sounder or bool(sys_ & SYS_LOG_FULL))
        b.set_entry_refused(self.zone.entry_refused or bool(sys_ & _ENTRY_BLOCKERS))

    def _safe_outputs(self):
        b = self.board
        b.set_work_relay(False)
        b.set_hot_relay(False)
        b.set_entry_refused(True)
        b.set_sounder(False)
        b.set_lamp(3)

    # ---- the link ----

    def _serve_link(self):
        b = self.board
        n = b.link_read(self._rx)
        if n <= 0:
            return
        # No copy of the bytes read, no list of payloads and no copy of one: each is
        # handled as a view of the decoder's buffer (a bound method kept, not one a call).
        self._decoder.feed_each(self._rx, n, self._handle_payload)

    def _send(self, envelope):
        # Encoded into a kept buffer and framed into another: no bytes of a short reply
        # (an ack's, ~80 B a request). The buffer grown by a longer one is let go, so
        # what is kept stays under _TX_KEEP (the board's heap is tight at its peaks).
        payload = self._tx_payload
        payload[0:] = b""
        cbor.encode_into(payload, envelope)
        if frame.max_wire_len(len(payload)) + 2 <= TX_BUF:
            n = frame.encode_into(payload, self._tx)
            self.board.link_write(self._tx_mv[:n])
        else:
            self.board.link_write(frame.encode(payload))
        if len(payload) > _TX_KEEP:
            self._tx_payload = bytearray()

    def _push_events(self):
        log = self.log
        if not self._host or self._pushed >= log.last_seq:
            return
        if self._pushed - log.acked >= _PUSH_WINDOW:
            return
        if self._poll_link and not self.board.link_writable():
            return  # the host is not reading: events wait on flash, the loop runs on
        ring = self._ring
        n = 0
        # The window is checked per event: a step's batch never runs past it.
        while (
            n < _PUSH_PER_STEP
            and self._pushed < log.last_seq
            and self._pushed - log.acked < _PUSH_WINDOW
        ):
            seq = self._pushed + 1
            k = seq & RING_MASK
            if ring[k] == seq:
                # Stashed by emit() as it was logged: framed in place, nothing allocated.
                t = self._ring_time[k]
                f = self._framer.frame(
                    seq,
                    unix_hi(t),
                    unix_lo(t),
                    self._ring_kind[k],
                    self._ring_tag[k],
                    self._ring_a[k],
                    self._ring_b[k],
                    self._ring_digest[k],
                )
            else:
                # Logged before this boot or overwritten in the ring: read back from flash.
                r = log.since(self._pushed, 1)[0]
                f = self._framer.frame(
                    r[0], r[1] >> 16, r[1] & 0xFFFF, r[2], r[3], r[4], r[5], r[6]
                )
            self.board.link_write(f)
            self._pushed = seq
            n += 1

    def _handle(self, payload):
        rid = 0
        code = 0
        try:
            obj = cbor.loads(payload)
            rid = messages.envelope_id(obj)
            code, rid = messages.parse_envelope(obj)
            if messages.message_class(code) != "request" or messages.name_of(code) is None:
                raise ProtocolError(
                    E_UNKNOWN_TYPE, "message type %d is not a request" % code, "type"
                )
            if messages.is_mutating(code):
                self._authenticate(obj, code)  # sets _in_command once the tag verifies
            body = messages.request_body(obj, code)  # the envelope read above, as it is
            if self._in_command and not self._room_for(code, body):
                # Never run unlogged (R-DATA-2): the host acks, then sends it again.
                raise ProtocolError(
                    E_FULL,
                    "event log full: %d events await acknowledgement; ack, then resend"
                    % self.log.unacked(),
                    None,
                )
            reply = self._dispatch(code, rid, body)
            if reply is None:
                return  # answered by _run_job when done
            if self._in_command:
                self.emit(ev.COMMAND, code, 0, _i31(rid))
                if self._dirty:
                    # Durable before OK: the host is told only what a power cut cannot
                    # take back. The log replays crossings alone, so the snapshot must
                    # hold the order (a seal, an evacuation, a permit) first.
                    self._save_state()
            self._send(reply)
        except ProtocolError as e:
            # Unauthenticated frames are counted by the tally (_authenticate), never one
            # event each: anyone on the wire could otherwise fill the log (issue 13).
            if self._in_command:
                self.emit(ev.COMMAND_REFUSED, code, e.code, _i31(rid))
            self._send(messages.error_reply(rid, e.code, e.text, e.field))
        except Exception as e:
            # A fault in one command must not take the gateway down with it: the command
            # is answered as failed and the fault is evidence (its type in the event).
            gc.collect()
            self.emit(ev.INTERNAL_ERROR, code, _i31(rid), 0)
            self._send(
                messages.error_reply(rid, E_INTERNAL, "internal error: %s" % type(e).__name__, None)
            )
        finally:
            self._in_command = False
            self._let_commands_go()

    def _let_commands_go(self):
        # gateway/commands.py leaves the heap when no command of its is under way: a
        # roster load between its parts and a commit (its generator in _job) hold it.
        # Only when it is loaded: unload() builds its module's name (48 B per command).
        if self._job is None and self._roster_load is None and "gateway.commands" in sys.modules:
            store.unload("commands")

    def _room_for(self, code, body):
        log = self.log
        room = log.capacity - log.unacked()
        if code == messages.ACK:
            # An ack makes room: refused only if it frees nothing and none is left.
            upto = body["up_to_seq"]
            if log.acked < upto <= log.last_seq:
                room += upto - log.acked
            return room >= 1
        if code == messages.EVACUATE:
            return room >= log.reserve // 8
        return room >= log.reserve // 2

    def _authenticate(self, obj, code):
        if self.verifier is None:
            self.rejects.rejected(code, E_AUTH_BAD, self._now_ms)
            raise AuthError(E_AUTH_BAD, "gateway has no key: provision it first", "tag")
        try:
            counter = self.verifier.verify(obj)
        except AuthError as e:
            self.rejects.rejected(code, e.code, self._now_ms)
            if e.code == 5:  # E_AUTH_REPLAY: tell the host where to resume
                e.text = "%s (last accepted counter %d)" % (e.text, self.verifier.last_counter)
            raise
        self._in_command = True  # authentic: what follows is a command, logged as one
        try:
            slots = self._counter_slots
            if slots is None or slots._flash is not self.flash:
                slots = self._counter_slots = store.Slots(self.flash, store.COUNTER_SLOTS, 16)
            store.write_counter(slots, counter)
        except OSError:
            # Not persisted: acting now would let a replay through after a power cut.
            raise ProtocolError(E_INTERNAL, "could not persist the command counter", None)

    # ---- commands ----

    def _dispatch(self, code, rid, body):
        name = messages.name_of(code)
        if name is None:
            raise ProtocolError(E_UNKNOWN_TYPE, "message type %d is not a request" % code, "type")
        word = name.replace("-", "_")
        fn = getattr(self, "_cmd_" + word, None)
        if fn is not None:
            out = fn(body)
        else:
            # A rarely used command: its code is imported now and let go once it has
            # answered (_let_commands_go), out of the heap the rest of the time.
            from gateway import commands

            out = getattr(commands, word)(self, body)
        job = self._job
        if out is _LATER and job is not None:
            job[1] = code
            job[2] = rid
            return None
        if out is None:
            out = {}
        return messages.reply_of(name, rid, out)

    def _run_job(self):
        # One phase of a long command per step; when done, answered as _handle would:
        # the COMMAND event and the snapshot on flash first, then the reply.
        job = self._job
        if job is None:
            return
        code = job[1]
        rid = job[2]
        try:
            next(job[0])
            return
        except StopIteration:
            self._job = None
            self._in_command = True  # an authentic command's events, as in _handle
            try:
                self.emit(ev.COMMAND, code, 0, _i31(rid))
                if self._dirty:
                    self._save_state()
            finally:
                self._in_command = False
            self._send(messages.reply_of(messages.name_of(code), rid, job[3]))
        except ProtocolError as e:
            # A phase refused the command with a code of its own, answered as _handle
            # answers a refusal.
            self._job = None
            self._in_command = True
            try:
                self.emit(ev.COMMAND_REFUSED, code, e.code, _i31(rid))
            finally:
                self._in_command = False
            self._send(messages.error_reply(rid, e.code, e.text, e.field))
        except ValueError as e:
            self._job = None
            self._in_command = True
            try:
                self.emit(ev.COMMAND_REFUSED, code, E_REFUSED, _i31(rid))
            finally:
                self._in_command = False
            self._send(messages.error_reply(rid, E_REFUSED, str(e), "entries"))
        except Exception as e:
            # As in _handle: a fault in one command is answered as failed and logged,
            # and the gateway goes on (a flash write that fails while a part is staged).
            self._job = None
            gc.collect()
            self.emit(ev.INTERNAL_ERROR, code, _i31(rid), 0)
            self._send(
                messages.error_reply(rid, E_INTERNAL, "internal error: %s" % type(e).__name__, None)
            )
        finally:
            if self._job is None:
                self._let_commands_go()

    def _refused(self, result, what):
        if result == reasons.OK:
            return
        if result == reasons.REFUSE_BOOK_FULL:
            raise ProtocolError(
                E_FULL, "%s refused: %s" % (what, reasons.refusal_name(result)), None
            )
        raise ProtocolError(
            E_REFUSED, "%s refused: %s" % (what, reasons.refusal_name(result)), None
        )

    def _cmd_hello(self, body):
        version = messages.agree_version(body["min_version"], body["max_version"])
        self._host = True
        cfg = self.cfg
        return {
            "version": version,
            "gateway_id": cfg["gateway_id"],
            "role": cfg["role"],
            "zone_id": cfg["zone_id"],
            "zone_kind": cfg["zone_kind"],
            "firmware": FIRMWARE_VERSION,
            "boot_count": self.boot_count,
            "last_seq": self.log.last_seq,
            "now_s": unix_of(self._now_s),
            "board": self.board_name,
        }

    def _cmd_status(self, body):
        zone = self.zone
        il = self.il
        shift = zone.shift
        out = {
            "now_s": unix_of(self._now_s),
            "uptime_s": ticks_age(self._now_ms, self._boot_ms) // 1000,
            "occupants": zone.count,
            "cap": zone.cap,
            "shift": 0 if shift == SHIFT_UNKNOWN else shift + 1,
            "lamp": self.board_lamp(),
            "work_allowed": il.work_relay and not (self.system & _WORK_BLOCKERS or self.sealed),
            "hot_work_allowed": il.hot_relay and not (self.system & _WORK_BLOCKERS or self.sealed),
            "sealed": self.sealed,
            "evacuating": il.evacuation.active,
            "drill": il.evacuation.drill,
            "video_ok": il.video.ok,
            "gas_ok": il.gas.work_reasons() == 0,
            "override_active": zone.policy.override_cap >= 0,
            "last_seq": self.log.last_seq,
            "unacked": self.log.unacked(),
            "permits_active": il.permits_active(self._now_s),
        }
        # The last raw readings, each only if a sensor could give it: a faulty one may
        # report anything, and status must still answer.
        if type(self.ch4_ppm) is int and 0 <= self.ch4_ppm <= _PPM_MAX:
            out["ch4_ppm"] = self.ch4_ppm
        if type(self.co_ppm) is int and 0 <= self.co_ppm <= _PPM_MAX:
            out["co_ppm"] = self.co_ppm
        return out

    def board_lamp(self):
        lamp = self.zone.lamp
        return self.il.lamp_demand if self.il.lamp_demand > lamp else lamp

    def _cmd_occupants(self, body):
        start = body.get("start", 0)
        most = body.get("max_count", OCCUPANTS_PAGE)
        if most > OCCUPANTS_PAGE:
            most = OCCUPANTS_PAGE
        rows = []
        # The page's rows only, by index (Zone.occupants() order): nothing made for the
        # rows before start or after the page.
        ld = self.zone.ledger
        end = start + most if start + most < ld.n else ld.n
        for r in range(start, end):
            rows.append([ld.tag(r), ld.person(r), ld.since_s(r)])
        return {"total": self.zone.count, "start": start, "occupants": rows}

    def _cmd_events_since(self, body):
        frm = body["from_seq"]
        last = self.log.last_seq
        if frm > last + 1:
            raise ProtocolError(
                E_BAD_FIELD, "from_seq %d is past the last event %d" % (frm, last), "from_seq"
            )
        out = []
        most = body["max_count"]
        if most > EVENTS_PAGE:
            most = EVENTS_PAGE
        for r in self.log.since(frm - 1 if frm > 0 else 0, most):
            # By field name: reply() maps names to the wire's integer keys itself.
            out.append(
                {
                    "seq": r[0],
                    "time_s": r[1],
                    "kind": r[2],
                    "tag": r[3],
                    "a": r[4],
                    "b": r[5],
                    "digest": r[6],
                }
            )
        return {"events": out, "last_seq": last}

    def _cmd_ack(self, body):
        seq = body["up_to_seq"]
        if seq > self.log.last_seq:
            raise ProtocolError(
                E_BAD_FIELD,
                "up_to_seq %d is past the last event %d" % (seq, self.log.last_seq),
                "up_to_seq",
            )
        # The snapshot must cover every event whose segment the ack may remove.
        self._save_state()
        self.log.ack(seq)
        if self._pushed < seq:
            self._pushed = seq  # the host has these already: push on from here
        if self.system & SYS_LOG_FULL and not self.log.nearly_full():
            self.system &= ~SYS_LOG_FULL
        return {"unacked": self.log.unacked()}

    def _order_giver(self, by, what):
        # R-EVAC-1, one check for the order and for its all-clear: by 0 is the dispatcher
        # at the host; anyone else must be in this roster with the authority to withdraw
        # people. Returns the CAUSE_* the order is logged with.
        if not by:
            return reasons.CAUSE_DISPATCHER
        rs = self.zone.roster
        i = rs.find_person(by)
        if i < 0:
            raise ProtocolError(
                E_REFUSED,
                "%s refused: person %d is not in this gateway's roster (R-EVAC-1)" % (what, by),
                "by",
            )
        role = rs.role(i)
        if not roles.may_order_withdrawal(role):
            raise ProtocolError(
                E_REFUSED,
                "%s refused: person %d is a %s; only a team leader, the mine leader on "
                "duty or the dispatcher may give it (R-EVAC-1)" % (what, by, _role_word(role)),
                "by",
            )
        if role == roles.MINE_LEADER:
            return reasons.CAUSE_MINE_LEADER
        return reasons.CAUSE_TEAM_LEADER

    def _cmd_evacuate(self, body):
        by = body.get("by", 0)
        cause = self._order_giver(by, "evacuate")
        reason = body["reason"]
        if reason > reasons.EVAC_REASON_MAX:
            reason = reasons.EVAC_REASON_OTHER  # an unknown reason still evacuates
        self._refused(self.il.evacuate(cause, by, reason, body["drill"], self._now_ms), "evacuate")
        self._dirty = True
        return None

    def _cmd_all_clear(self, body):
        by = body.get("by", 0)
        if by:
            # Whoever may not order people out may not let them back in, nor confirm a
            # zone's state after a lost snapshot (R-EVAC-1), and a leader needs a
            # certificate valid now (R-ID-4): checked on use (gateway/certified.py, which
            # lets itself go), so the dispatcher's all-clear imports nothing. Refused if
            # it cannot be loaded: the evacuation stays in force.
            from gateway import certified

            certified.leader(self, by, "all-clear")
        if self.system & SYS_STATE_LOST and not self.il.evacuation.active:
            # Dispatch confirms the zone's state after a lost snapshot (see _WORK_BLOCKERS).
            self.emit(ev.STATE_CONFIRMED, 0, by, 0)
        else:
            self._refused(self.il.all_clear(by, self._now_ms), "all-clear")
        self.system &= ~SYS_STATE_LOST
        self._dirty = True
        return None

    def _cmd_seal(self, body):
        if self.sealed:
            self._refused(reasons.REFUSE_ALREADY_SEALED, "seal")
        self.sealed = True
        self.zone.set_sealed(True)
        self.emit(ev.SEALED, 0, self.zone.count, 0)
        return None

    def _cmd_unseal(self, body):
        if not self.sealed:
            self._refused(reasons.REFUSE_NOT_SEALED, "unseal")
        self.sealed = False
        self.zone.set_sealed(False)
        self.emit(ev.UNSEALED, 0, self.zone.count, 0)
        return None
