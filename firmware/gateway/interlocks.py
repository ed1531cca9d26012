# The zone's interlocks in one place: video (R-VIDEO-1/2), gas (R-GAS-1/2), hot work
# (R-HOT-1/2) and evacuation (R-EVAC-1..3) combined into the two relay decisions, the
# lamp and sounder demands, the entry-refused flag and the reasons, for app.py to copy to
# the board's outputs after tick().
#
# Fail safe: a relay is on only while every condition is positively known to hold. Inputs
# and commands (on_video, on_gas, revoke_permit, evacuate) may drop a relay at once but
# never raise one; only tick(), which sees the clock, the count and presence together,
# raises them. After boot both relays stay off until a fresh heartbeat from every camera
# has been live for the video hold-off and gas has been known and safe for the gas
# hold-off (gas.py).
#
# The permit book and its fire watches (gateway/permits.py, gateway/hotwork.py) are
# imported when a permit is issued or a snapshot holds one, and let go once the book is
# empty and no fire watch runs (_let_permits_go): most of the time a zone holds no permit,
# and a board keeps imported code in its 192 KB heap. With none loaded the hot-work relay
# has no permit to be on under (WHY_NO_PERMIT), as with an empty book.
from gateway import events, store
from gateway.caps import EPOCH_S, now_clock
from gateway.checks import bad_field, check_int
from gateway.evacuation import Evacuation
from gateway.gas import Gas
from gateway.reasons import (
    ALARM_EVACUATION,
    ALARM_FIRE_WATCH,
    ALARM_GAS_FAULT,
    ALARM_GAS_HIGH,
    ALARM_VIDEO,
    REFUSE_UNKNOWN_PERMIT,
    WHY_CLOCK_UNSET,
    WHY_EVACUATION,
    WHY_NO_PERMIT,
    WHY_PERMIT_CHANGED,
)
from gateway.video import Video
from gatewire import cbor

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# lamp_demand, in the HAL's colours: what the interlocks ask for; the app shows its own
# (green, or the caps' amber and red) when this is LAMP_NONE, and the worse of the two.
LAMP_NONE = const(0)
LAMP_AMBER = const(2)
LAMP_RED = const(3)

SNAPSHOT_VERSION = const(1)

# gateway/permits.py's MAX_CAPACITY and ID_MAX, for the checks made without it
# (tests/test_interlocks.py holds them equal).
_idle_cbor = None  # snapshot_cbor's encoding with nothing held, made once
PERMIT_CAPACITY_MAX = const(32)
_ID_MAX = const(0x3FFFFFFF)

# Config keys (gateway/config.py) that become constructor arguments of the same name.
CONFIG_KEYS = (
    "cameras",
    "video_timeout_ms",
    "video_holdoff_ms",
    "ch4_stop_ppm",
    "ch4_evac_ppm",
    "co_evac_ppm",
    "ch4_hot_max_ppm",
    "gas_silent_ms",
    "gas_stuck_s",
    "gas_holdoff_ms",
    "fire_watch_s",
)


def from_config(cfg, is_present, emit, epoch_s=0):
    kwargs = {"epoch_s": epoch_s}
    for key in CONFIG_KEYS:
        if key in cfg:
            kwargs[key] = cfg[key]
    return Interlocks(cfg["zone_id"], is_present, emit, **kwargs)


class Interlocks:
    # is_present(person_id) -> bool: the zone's ledger, asked about permit people only.
    # emit(kind, tag, a, b): the event log.
    def __init__(
        self,
        zone_id,
        is_present,
        emit,
        cameras=1,
        video_timeout_ms=10000,
        video_holdoff_ms=5000,
        ch4_stop_ppm=10000,
        ch4_evac_ppm=15000,
        co_evac_ppm=24,
        ch4_hot_max_ppm=5000,
        gas_silent_ms=5000,
        gas_stuck_s=1800,
        gas_holdoff_ms=5000,
        fire_watch_s=3600,
        permit_capacity=8,
        max_permit_s=43200,
        ch4_max_ppm=1000000,
        co_max_ppm=10000,
        epoch_s=0,
    ):
        # epoch_s: what tick()'s now_s counts from (caps.now_clock): 0 unix seconds,
        # caps.EPOCH_S the firmware's clock seconds.
        self.video = Video(cameras, video_timeout_ms, video_holdoff_ms, emit)
        self.gas = Gas(
            emit,
            ch4_stop_ppm,
            ch4_evac_ppm,
            co_evac_ppm,
            ch4_hot_max_ppm,
            gas_silent_ms,
            gas_stuck_s,
            ch4_max_ppm,
            co_max_ppm,
            gas_holdoff_ms,
        )
        # The permit book's and the fire watch's settings, checked now as building them
        # would (a bad one is refused at boot and by config-set, not at the first permit).
        if not isinstance(zone_id, str) or not zone_id:
            raise bad_field("zone_id", "expected a non-empty text")
        check_int("permit_capacity", permit_capacity, 1, PERMIT_CAPACITY_MAX)
        check_int("max_permit_s", max_permit_s, 60, 86400)
        check_int("fire_watch_s", fire_watch_s, 0, 86400)
        self._permit_args = (zone_id, permit_capacity, max_permit_s, fire_watch_s)
        if epoch_s != 0 and epoch_s != EPOCH_S:
            raise bad_field("epoch_s", "expected 0 (unix seconds) or %d (clock seconds)" % EPOCH_S)
        self._epoch_s = epoch_s
        self._is_present = is_present
        self.permits = None  # PermitBook and HotWork while a permit or a watch is held
        self.hotwork = None
        self.evacuation = Evacuation(emit)
        self._emit = emit
        self._now_s = 0  # wall clock at the last tick (0: not set)
        self._hot_permit = 0  # the permit the hot-work relay is on under
        self._hot_job = 0
        # Outputs, valid after each call; de-energised (False) is the safe state.
        self.work_relay = False
        self.hot_relay = False
        self.sounder = False
        self.lamp_demand = LAMP_NONE
        self.entry_refused = False  # evacuation: refuse all but rescue roles (zone side)
        self.work_reasons = 0  # WHY_* bits: why the work relay is off (0: it is on)
        self.hot_reasons = 0  # WHY_* bits: why the hot-work relay is off (0: it is on)
        self.alarms = 0  # ALARM_* bits
        self._decide(0, False)

    # ---- inputs ----

    def on_video(self, beats, n, now_ms):
        # beats: the HAL's list, beats[i] = ticks_ms of camera i's last heartbeat.
        self.video.on_beats(beats, n, now_ms)
        self._decide(now_ms, False)

    def on_gas(self, ch4_ppm, co_ppm, sensor_flags, now_ms):
        # A new sample from board.read_gas(); fault flags 0 = healthy.
        self.gas.on_sample(ch4_ppm, co_ppm, sensor_flags, now_ms)
        if self.gas.evac_demand:
            self.evacuation.gas(now_ms)
        self._decide(now_ms, False)

    def tick(self, now_ms, now_s, count):
        # Once per app step, after the inputs: now_s the wall clock counted from the
        # epoch_s given (0: not set); count = people in the zone now.
        if type(now_s) is not int or now_s < 0:
            now_s = 0
        self._now_s = now_s
        self.video.tick(now_ms)
        self.gas.tick(now_ms)
        if self.gas.evac_demand:
            self.evacuation.gas(now_ms)
        hw = self.hotwork
        if hw is not None:
            hw.tick(now_ms, now_s)
        self.evacuation.tick(now_ms, count)
        self._decide(now_ms, True)
        if hw is not None:
            hw.key_work(now_s, self.video.ok)
            self._let_permits_go()

    # ---- the permit book, loaded while it holds anything ----

    def _hot_work(self):
        # The book and its watches, imported and built if not held: a failed import
        # (MemoryError) raises before anything has changed, so the command that needed
        # it is answered as failed (app.py: INTERNAL_ERROR) and no permit is issued.
        hw = self.hotwork
        if hw is None:
            from gateway.hotwork import HotWork
            from gateway.permits import PermitBook

            zone_id, capacity, max_s, watch_s = self._permit_args
            book = PermitBook(zone_id, self._emit, capacity, max_s, self._epoch_s)
            hw = HotWork(book, self._is_present, self._emit, watch_s)
            self.permits = book
            self.hotwork = hw
        return hw

    def _let_permits_go(self):
        # After a tick: no permit, no fire watch and the hot-work relay off, so nothing of
        # the book is state any more (an empty book's reasons are WHY_NO_PERMIT as well).
        hw = self.hotwork
        if hw is None or hw.watching or hw.book.count or self.hot_relay or hw.alarm:
            return
        self.hotwork = None
        self.permits = None
        store.unload("hotwork")
        store.unload("permits")

    def permits_active(self, now_s):
        book = self.permits
        return 0 if book is None else book.active_count(now_s)

    def permit_listing(self):
        book = self.permits
        if book is None:
            return []
        from gateway import permitissue

        out = permitissue.listing(book)
        store.unload("permitissue")  # (the listing raises nothing)
        return out

    # ---- commands (authenticated by the app; return reasons.OK or a REFUSE_* code,
    # raise ProtocolError(E_BAD_FIELD) naming a malformed field) ----

    def issue_permit(self, *permit):
        # permit: permitissue.issue's fields, permit_id to now_s, in its order. The book
        # also counts the fire watches running now, to keep a watch slot free (R-HOT-2).
        hw = self._hot_work()
        from gateway import permitissue

        try:
            return permitissue.issue(hw.book, *permit, watches_busy=hw.watching)
        finally:
            store.unload("permitissue")

    def revoke_permit(self, permit_id, now_ms):
        hw = self.hotwork
        if hw is None:
            check_int("permit_id", permit_id, 1, _ID_MAX)
            return REFUSE_UNKNOWN_PERMIT  # the book is empty
        result = hw.revoke(permit_id, now_ms)
        self._decide(now_ms, False)
        return result

    def evacuate(self, cause, by, reason, drill, now_ms):
        # R-EVAC-1: cause reasons.CAUSE_DISPATCHER, CAUSE_TEAM_LEADER or CAUSE_MINE_LEADER
        # (the app has checked that `by` holds that role in the roster for the latter two).
        result = self.evacuation.order(cause, by, reason, drill, now_ms)
        self._decide(now_ms, False)
        return result

    def all_clear(self, by, now_ms):
        result = self.evacuation.all_clear(by, self.gas.work_reasons() == 0, now_ms)
        self._decide(now_ms, False)
        return result

    # ---- queries ----

    def permit_valid(self, permit_id):
        # R-VIDEO-2: a key-work or hot-work ticket counts only while video is up.
        hw = self.hotwork
        if hw is None:
            return False  # the book is empty
        return hw.permit_valid(permit_id, self._now_s, self.video.ok)

    # ---- the decision ----

    def _decide(self, now_ms, may_raise):
        evac = self.evacuation.active
        work = self.video.reasons() | self.gas.work_reasons()
        if evac:
            work |= WHY_EVACUATION
        hw = self.hotwork
        if hw is not None:
            hot = work | self.gas.hot_reasons() | hw.reasons(self._now_s)
            slot = hw.slot
        else:
            # As HotWork.reasons for an empty book.
            hot = work | self.gas.hot_reasons() | WHY_NO_PERMIT
            if now_clock(self._now_s, self._epoch_s) <= 0:
                hot |= WHY_CLOCK_UNSET
            slot = -1
        book = self.permits
        if self.hot_relay and slot >= 0 and book is not None and book.ids[slot] != self._hot_permit:
            hot |= WHY_PERMIT_CHANGED  # R-HOT-1: off between two tickets, however short
        self.work_reasons = work
        self.hot_reasons = hot
        # Drops first, hot-work before work; raises after, work before hot-work.
        if hot and self.hot_relay:
            self.hot_relay = False
            self._emit(events.HOT_OFF, self._hot_permit, hot, self._hot_job)
        if work and self.work_relay:
            self.work_relay = False
            self._emit(events.WORK_OFF, 0, work, 0)
        if may_raise and not work and not self.work_relay:
            self.work_relay = True
            self._emit(events.WORK_ON, 0, 0, 0)
        if may_raise and not hot and not self.hot_relay and hw is not None:
            # (hot == 0 only with a permit in its window: hw is held then.)
            book = hw.book
            self.hot_relay = True
            self._hot_permit = book.ids[slot]
            self._hot_job = book.jobs[slot]
            self._emit(events.HOT_ON, self._hot_permit, self._hot_job, book.watchers[slot])
        alarms = 0
        if evac:
            alarms |= ALARM_EVACUATION
        if self.gas.high:  # the gas now, not the hold-off: the sounder tells the truth
            alarms |= ALARM_GAS_HIGH
        if self.video.alarm:
            alarms |= ALARM_VIDEO
        if self.gas.fault:
            alarms |= ALARM_GAS_FAULT
        if hw is not None and hw.alarm:
            alarms |= ALARM_FIRE_WATCH
        self.alarms = alarms
        self.sounder = alarms != 0
        if alarms & (ALARM_EVACUATION | ALARM_GAS_HIGH):
            self.lamp_demand = LAMP_RED
        elif alarms:
            self.lamp_demand = LAMP_AMBER
        else:
            self.lamp_demand = LAMP_NONE
        self.entry_refused = evac

    # ---- persistence: plain lists and ints, for the app to store (CBOR) on change ----

    def snapshot_cbor(self, buf):
        # The snapshot's CBOR for the state snapshot. While nothing is held (no permit book
        # loaded, no evacuation, no gas exceedance), which is most saves, its encoding is
        # one constant, kept after the first (a save then builds no lists: 256 B of an
        # ack's heap). Anything held: encoded afresh into buf, which is cleared first.
        if (
            self.hotwork is None
            and not self.evacuation.active
            and not self.gas.ch4.over
            and not self.gas.co.over
        ):
            global _idle_cbor
            if _idle_cbor is None:
                _idle_cbor = cbor.dumps(self.snapshot())
            return _idle_cbor
        buf[0:] = b""
        cbor.encode_into(buf, self.snapshot())
        return buf

    def snapshot(self):
        hw = self.hotwork
        return [
            SNAPSHOT_VERSION,
            [] if hw is None else hw.book.entries(),
            [] if hw is None else hw.watches(),
            self.evacuation.snapshot(),
            self.gas.snapshot(),
        ]

    def restore(self, data, now_ms):
        # At boot, before the first tick. Checks everything first: a bad snapshot raises
        # ProtocolError(E_BAD_FIELD) and changes nothing.
        if not isinstance(data, list) or len(data) != 5 or data[0] != SNAPSHOT_VERSION:
            raise bad_field(
                "snapshot", "expected [%d, permits, watches, evacuation, gas]" % SNAPSHOT_VERSION
            )
        hw = self.hotwork
        if hw is None and (data[1] != [] or data[2] != []):
            hw = self._hot_work()  # permits or watches to restore (or lists to refuse)
        self.evacuation.check(data[3])
        gas = data[4]
        if not isinstance(gas, list) or len(gas) != 2:
            raise bad_field("gas", "expected [CH4, CO] exceedances")
        for item in gas:
            if not isinstance(item, list) or len(item) != 4:
                raise bad_field("gas", "each exceedance is [over, peak ppm, s, ms]")
            for i in range(4):
                v = item[i]
                if type(v) is not int or v < 0 or v > 0x3FFFFFFF or (i == 3 and v > 999):
                    raise bad_field("gas", "exceedance fields are small non-negative integers")
        if hw is not None:
            # The book's restore code, imported for it (gateway/permitissue.py): its
            # checks come last of all, and change nothing unless they all pass.
            from gateway import permitissue

            try:
                permitissue.restore_all(hw, data[1], data[2], now_ms)
            finally:
                store.unload("permitissue")
        self.evacuation.restore(data[3], now_ms)
        self.gas.restore(gas, now_ms)
        self._decide(now_ms, False)
