# The event catalogue: every kind the gateway logs, with what tag, a and b mean.
# Events are fixed-size ints so the log on flash has fixed-size records (eventlog.py).
# Ranges: 1-49 people and caps, 50-99 interlocks, 100-149 commands, link and system.
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# People and caps
ENTRY = const(1)  # tag=tag, a=person id, b=count in zone after
EXIT = const(2)  # tag=tag, a=person id, b=count in zone after

# (zone logic: people, roster, caps, access; append kinds 3-49 here)
# zone.py says when each fires; refusal reasons are zone.REFUSE_*, shifts caps.SHIFT_*.
# An entry is always counted (R-CAP-11): the *_ENTRY kinds are violations logged beside
# the ENTRY event, never instead of it.
ENTRY_REFUSED = const(3)  # tag, a=person id (0 unknown tag), b=reason (zone.REFUSE_*)
OVER_CAP_ENTRY = const(4)  # R-CAP-6, R-CAP-11: tag, a=person id, b=count after
SEALED_ENTRY = const(5)  # R-SEAL-1: tag, a=person id, b=count after
RESTRICTED_ENTRY = const(6)  # restricted zone: tag, a=person id, b=count after
UNAUTHORISED_ENTRY = const(7)  # access-controlled zone: tag, a=person id, b=role code
UNKNOWN_TAG_ENTRY = const(8)  # R-ID-4: tag not in the roster, a=0, b=count after
UNCERTIFIED_ENTRY = const(9)  # R-ID-4: tag, a=person id, b=1 expired or none, 2 clock unset
EVACUATION_ENTRY = const(10)  # R-EVAC: non-rescue entry while evacuating: tag, a=person, b=count
CAP_OK = const(11)  # level back below the warning: tag=0, a=count, b=cap
CAP_WARNING = const(12)  # R-CAP-6 early warning reached: tag=0, a=count, b=cap
CAP_FULL = const(13)  # at the cap: tag=0, a=count, b=cap
CAP_OVER = const(14)  # R-CAP-11 over the cap (entries or a lower cap): tag=0, a=count, b=cap
CAP_CHANGED = const(15)  # effective cap changed: tag=0, a=new cap, b=old cap
SHIFT_CHANGED = const(16)  # tag=0, a=new shift (caps.SHIFT_*), b=count then (R-CAP-10)
CAP_OVERRIDE_SET = const(17)  # R-CAP-9: tag=0, a=temporary cap, b=seconds until it expires
CAP_OVERRIDE_ENDED = const(18)  # R-CAP-9: tag=0, a=temporary cap, b=1 expired, 2 cleared
PARALLEL_CREWS = const(19)  # R-CAP-7: tag=0, a=production crew in zone, b=maintenance crew
PARALLEL_CREWS_CLEARED = const(20)  # R-CAP-7: tag=0, a=production crew, b=maintenance crew
MISSED_ENTRY = const(21)  # exit of a tag not recorded inside: tag, a=person, b=count (kept)
MISSED_EXIT = const(22)  # entry of a tag recorded inside: tag, a=person, b=s since recorded in
LEDGER_FULL = const(23)  # entered with no ledger room, counted unnamed: tag, a=person, b=count
UNTAGGED_ENTRY = const(24)  # R-ID-2: tag=0, a=bodies without a tag entry, b=beam total
TAG_STATIONARY = const(25)  # R-ID-2 tag-person separation: tag, a=read point, b=s read there
TAG_BATTERY_LOW = const(26)  # tag, a=read point, b=0
TURNED_BACK = const(27)  # reached the other read point and went back: tag, a=point, b=0
OVERSTAY = const(28)  # tag, a=person id, b=minutes in zone (underground for a shaft)
READ_POINT_UNKNOWN = const(29)  # R-DATA-4: tag (0 if invalid), a=read point id, b=rssi dBm
TAG_INVALID = const(30)  # tag id outside 1..2**30-1: tag=0, a=read point, b=rssi dBm
DOORWAY_FULL = const(31)  # no longer logged (the doorway counts in when full: 34); tag, a=limit
ROSTER_LOADED = const(32)  # tag=0, a=people in the new roster, b=0
# The doorway's own (doorway.py says when each fires; DECIDED_* and DOUBT_* live there).
DOUBTFUL_CROSSING = const(33)  # decided on thin evidence: tag, a=doorway.DECIDED_*, b=DOUBT_* bits
DOORWAY_OVERFLOW = const(34)  # more tags than tracks, counting in only: tag, a=tracks, b=in use
DOORWAY_OVERFLOW_END = const(35)  # tracks free again: tag=0, a=untracked reads, b=counted in


# ---- Interlocks: video, gas, hot work, evacuation, seals (50-99) ----
# Bit flags and codes named here (WHY_*, CAUSE_*, EVAC_REASON_*) live in gateway/reasons.py.
VIDEO_LOST = const(50)  # R-VIDEO-1 tag=camera (255: none), a=ms since beat (-1: none), b=cameras
VIDEO_OK = const(51)  # R-VIDEO-1 tag=0, a=seconds without video (since lost or boot), b=cameras
WORK_ON = const(52)  # work relay on: tag=0, a=0, b=0
WORK_OFF = const(53)  # work relay off: tag=0, a=WHY_* bits, b=0
HOT_ON = const(54)  # R-HOT-1 hot-work relay on: tag=permit id, a=job id, b=fire-watcher person id
HOT_OFF = const(55)  # R-HOT-1 hot-work relay off: tag=permit id, a=WHY_* bits, b=job id
GAS_OVER = const(56)  # R-GAS-2 start: tag=gas (1 CH4, 2 CO), a=reading ppm, b=limit ppm
GAS_PEAK = const(57)  # R-GAS-2 higher peak: tag=gas, a=peak ppm, b=seconds since GAS_OVER
GAS_OVER_END = const(58)  # R-GAS-2 end: tag=gas (+128: spans a reboot), a=peak ppm, b=seconds
GAS_FAULT = const(59)  # tag=gas.FAULT_* bits, a=sensor flags, b=ms since sample (-1: none)
GAS_FAULT_END = const(60)  # healthy again: tag=0, a=seconds faulty, b=0
EVAC_START = const(61)  # R-EVAC-1/2 tag=who ordered (0: host or gas), a=CAUSE_*, b=EVAC_REASON_*
DRILL_START = const(62)  # R-EVAC-3 as EVAC_START, marked as a drill
EVAC_JOIN = const(63)  # a further order while one is in force: fields as EVAC_START
ZONE_CLEAR = const(64)  # R-EVAC-3 last person out: tag=1 drill / 0 real, a=seconds, b=+ms
EVAC_END = const(65)  # all-clear: tag=person who gave it, a=seconds in force, b=1 drill / 0 real
PERMIT_ISSUED = const(66)  # R-HOT-1 tag=permit id, a=job id, b=permit flags (permits.HOT...)
PERMIT_REVOKED = const(67)  # tag=permit id, a=job id, b=1 if its window had begun
PERMIT_ENDED = const(68)  # window over: tag=permit id, a=job id, b=1 if its window had begun
FIRE_WATCH_START = const(69)  # R-HOT-2 tag=fire-watcher, a=permit id, b=seconds to watch
FIRE_WATCH_LEFT = const(70)  # R-HOT-2 alarm: tag=fire-watcher, a=permit id, b=seconds left
FIRE_WATCH_BACK = const(71)  # tag=fire-watcher, a=permit id, b=seconds left
FIRE_WATCH_END = const(72)  # tag=fire-watcher, a=permit id, b=times the watcher left
KEY_WORK_HALTED = const(73)  # R-VIDEO-2 tag=permit id, a=WHY_* bits, b=job id
KEY_WORK_RESUMED = const(74)  # R-VIDEO-2 tag=permit id, a=0, b=job id


# ---- Commands, link and system (100-149) ----
# gateway/app.py emits these; SYS_* bits are app.SYS_* (status of the gateway itself).
BOOT = const(100)  # tag=boot count (low 16 bits), a=SYS_* bits after restore, b=last seq
SYSTEM_ALARM = const(101)  # something keeps the gateway degraded: tag=0, a=SYS_* bits, b=0
LOG_TORN_DISCARDED = const(102)  # R-DATA-2 torn tail dropped at boot: tag=0, a=records, b=0
LOG_TAMPERED = const(103)  # R-DATA-2 log does not verify: tag=eventlog.TAMPER_*, a=seq, b=0
LOG_FULL = const(104)  # no room: entries refused, not events dropped: tag=0, a=unacked, b=0
COMMAND = const(105)  # accepted command: tag=message type, a=0, b=request id
COMMAND_REFUSED = const(106)  # authentic command refused: tag=message type, a=error code, b=id
# Unauthenticated commands, pooled (gateway/rejects.py): tag=message type and a=error code
# of the latest, b=frames this event stands for (1 for each of the first few in a burst).
AUTH_REJECTED = const(107)
CONFIG_CHANGED = const(108)  # tag=0, a=settings changed, b=0
GAS_LIMIT_LOOSENED = const(109)  # tag=config.GAS_LIMITS index+1, a=new ppm, b=old ppm
SEALED = const(110)  # R-SEAL-1 tag=0, a=people in the zone when sealed, b=0
UNSEALED = const(111)  # tag=0, a=people in the zone, b=0
# TIME_SET is logged at the new time; b=1: moved back past app.CLOCK_BACK_TOLERANCE_S on
# the command's explicit `backwards` flag.
TIME_SET = const(112)  # clock set: tag=old time (0: unset), a=seconds moved (int32), b=1 back
INTERNAL_ERROR = const(113)  # a command failed inside the gateway: tag=message type, a=request id
STATE_CONFIRMED = const(114)  # all-clear after a lost snapshot: tag=0, a=person (0: dispatch), b=0
# Orders refused because dispatch did not say it meant them (orders 115-119), each beside
# its COMMAND_REFUSED: evidence of what was asked.
TIME_BACK_REFUSED = const(115)  # R-DATA-2 at the clock: tag=time asked, a=seconds back (<0)
CAP_OVERRIDE_REFUSED = const(116)  # R-CAP-11 cap below count: tag=0, a=cap, b=people in zone
# R-DATA-1: reader lines lost before they were parsed (board.reader_lost: bad checksum,
# cut short, DMA ring overrun): someone may have crossed uncounted. The first at once,
# then at most one a minute per point, b counting every line lost meanwhile.
READER_DATA_LOST = const(117)  # R-DATA-1 lines lost: tag=0, a=point (0 outer, 1 inner), b=lines
# R-CAP-11 recount (muster) orders (gateway/commands.py recount): the order as given,
# then, if accepted, the count it set. RECOUNT is replayed at boot (gateway/recount.py),
# so it is on flash before the count changes.
RECOUNT_ORDERED = const(123)  # tag=person who counted, a=who gave it (0: dispatcher), b=found
RECOUNT = const(124)  # tag=person who counted, a=count before, b=count after
# board fit (125-129). FAULT's a: 1 MemoryError, 2 OSError, 3 ValueError, 4 TypeError,
# 5 IndexError, 6 KeyError, 7 AttributeError, 8 ZeroDivisionError, 9 RuntimeError, 0 other.
FAULT = const(125)  # step() failed, board reset: tag=where (app.AT_*), a=error, b=reset cause

# ---- Event log integrity (eventlog, 120-124) ----
# A record on flash that fails its crc or holds another seq is served in its place as
# LOG_RECORD_DAMAGED, so that events-since stays well-formed; its digest is the stored
# one, so the host's chain check breaks exactly there.
LOG_RECORD_DAMAGED = const(
    120
)  # R-DATA-2 a record that does not verify: tag=stored kind, a=stored seq, b=0
