# What the interlocks report besides events: why a relay is off (bit flags, in the `a`
# field of WORK_OFF / HOT_OFF and in Interlocks.work_reasons / hot_reasons), which alarms
# are up (Interlocks.alarms), why a command was refused (the int a command returns, for
# the reply), and the codes an evacuation order carries. The host imports this to render
# them; names and values are a contract with its logs.
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


# Why a relay is off. The work relay uses the first four; the hot-work relay all of them.
WHY_VIDEO = const(0x001)  # R-VIDEO-1: a camera heartbeat is stale, or the hold-off is running
WHY_GAS_UNKNOWN = const(0x002)  # R-GAS-1: gas not known (fault, silent, boot), then the hold-off
WHY_GAS_HIGH = const(0x004)  # R-GAS-1: CH4 at the stop level or CO at its limit, then the hold-off
WHY_EVACUATION = const(0x008)  # R-EVAC-1..3: an evacuation or a drill is in force
WHY_GAS_HOT = const(0x010)  # R-HOT-2: CH4 above the hot-work limit (0.5 %), then the hold-off
WHY_NO_PERMIT = const(0x020)  # R-HOT-1: no hot-work permit for this zone inside its window
WHY_CLOCK_UNSET = const(0x040)  # wall clock not set: no permit window can be trusted
WHY_WATCHER_ABSENT = const(0x080)  # R-HOT-2: the permit's fire-watcher is not in the zone
WHY_WORKER_ABSENT = const(0x100)  # R-HOT-1: none of the permit's named workers is in the zone
WHY_PERMIT_CHANGED = const(0x200)  # R-HOT-1: the relay was on under another ticket

WORK_WHY = const(0x00F)  # the bits that concern the work relay

# Alarms up (sounder; the lamp is red for the first two, amber for the rest).
ALARM_EVACUATION = const(0x01)  # R-EVAC: evacuation or drill
ALARM_GAS_HIGH = const(0x02)  # R-GAS-1: CH4 at or above the stop level, or CO at its limit
ALARM_VIDEO = const(0x04)  # R-VIDEO-1: a camera lost, or no camera configured
ALARM_GAS_FAULT = const(0x08)  # gas sensor faulty or silent: gas unknown
ALARM_FIRE_WATCH = const(0x10)  # R-HOT-2: a fire-watcher left before the watch ended

# Command results: 0 accepted, else why a well-formed, authentic command was refused.
OK = const(0)
REFUSE_WRONG_ZONE = const(1)  # the permit names another zone
REFUSE_CLOCK_UNSET = const(2)  # a permit cannot be checked against an unset wall clock
REFUSE_ENDED = const(3)  # the permit's window is already over
REFUSE_DUPLICATE = const(4)  # a permit with this id is already in the book
REFUSE_OVERLAP = const(5)  # R-HOT-1: another hot-work permit's window overlaps this one
REFUSE_BOOK_FULL = const(6)  # the permit book is full (reply E_FULL)
REFUSE_WATCH_FULL = const(7)  # no room left for this permit's fire watch (R-HOT-2)
REFUSE_UNKNOWN_PERMIT = const(8)  # no permit with this id in the book
REFUSE_NOT_EVACUATING = const(9)  # all-clear with no evacuation in force
REFUSE_GAS_NOT_SAFE = const(10)  # R-GAS-1: all-clear while gas is not known safe
REFUSE_DRILL_IN_EVACUATION = const(11)  # R-EVAC-3: no drill during a real evacuation
# Commands that would change nothing are refused, so the reply never claims a change
# that did not happen ("seal lifted" of a zone that was not sealed).
REFUSE_ALREADY_SEALED = const(12)
REFUSE_NOT_SEALED = const(13)
REFUSE_NO_OVERRIDE = const(14)  # R-CAP-9: no temporary cap to clear

# Who ordered an evacuation (EVAC_START and friends, field a).
CAUSE_DISPATCHER = const(1)  # R-EVAC-1
CAUSE_TEAM_LEADER = const(2)  # R-EVAC-1 (the app checks the role in the roster)
CAUSE_GAS = const(3)  # R-GAS-1
CAUSE_MINE_LEADER = const(4)  # R-EVAC-1: the mine leader on duty underground (带班矿领导)

# Why (field b): what the order says; the interlocks only check the range.
EVAC_REASON_UNSPECIFIED = const(0)
EVAC_REASON_GAS = const(1)  # R-GAS-1
EVAC_REASON_FLOOD_WARNING = const(2)  # R-EVAC-2: orange or red rainstorm or flood warning
EVAC_REASON_ACCIDENT_SIGNS = const(3)  # R-EVAC-2: signs of an accident
EVAC_REASON_FIRE = const(4)
EVAC_REASON_POWER_OR_VENTILATION = const(5)  # main fan or power lost
EVAC_REASON_DRILL = const(6)  # R-EVAC-3
EVAC_REASON_OTHER = const(7)
EVAC_REASON_MAX = const(7)


# Words for the refusal codes above, for error replies (index = code).
REFUSAL_NAMES = (
    "ok",
    "the permit names another zone",
    "the wall clock is not set",
    "the permit's window is already over",
    "a permit with this id exists",
    "another hot-work permit's window overlaps (R-HOT-1)",
    "the permit book is full",
    "no room left for this permit's fire watch (R-HOT-2)",
    "no permit with this id in the book (never issued, revoked or ended): nothing changed",
    "no evacuation is in force: nothing changed",
    "gas is not known safe (R-GAS-1)",
    "no drill during a real evacuation (R-EVAC-3)",
    "the zone is already sealed: nothing changed",
    "the zone is not sealed: nothing changed",
    "no temporary cap is in force: nothing changed",
)


def refusal_name(code):
    if 0 <= code < len(REFUSAL_NAMES):
        return REFUSAL_NAMES[code]
    return "refusal %d" % code
