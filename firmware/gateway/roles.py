# Role and crew codes carried by roster entries. Codes are small ints so a roster of
# thousands of people fits in byte arrays. Codes 1..255 are valid (a mine may add its
# own posts); the ones named here are those the firmware's rules look at or report.
try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


MINER = const(1)  # face and heading worker
TEAM_LEADER = const(2)  # 班组长: may order people withdrawn (R-EVAC-1)
MINE_LEADER = const(3)  # 带班矿领导: mine leader on duty underground; may order people out
ELECTRICIAN = const(4)  # special operation (特种作业)
WELDER = const(5)  # special operation; hot work (R-HOT-3)
GAS_INSPECTOR = const(6)  # 瓦斯检查工, special operation
SAFETY_INSPECTOR = const(7)  # 安全检查工, special operation
BLASTER = const(8)  # 爆破工, special operation
FITTER = const(9)  # mechanical maintenance
DRIVER = const(10)  # shearer, loader or locomotive driver
TECHNICIAN = const(11)  # engineer or surveyor
RESCUE = const(12)  # mine rescue: admitted while the zone is evacuating (R-EVAC)
VISITOR = const(13)
CONTRACTOR = const(14)  # staff of an outside unit
MAX_ROLE = const(255)

_NAMES = (
    None,
    "miner",
    "team_leader",
    "mine_leader",
    "electrician",
    "welder",
    "gas_inspector",
    "safety_inspector",
    "blaster",
    "fitter",
    "driver",
    "technician",
    "rescue",
    "visitor",
    "contractor",
)

# Crew of a roster entry (R-CAP-7). Support staff (inspectors, leaders, rescue) belong to
# no crew and never make two crews parallel.
CREW_NONE = const(0)
CREW_PRODUCTION = const(1)
CREW_MAINTENANCE = const(2)
CREW_NAMES = ("none", "production", "maintenance")


def may_order_withdrawal(code):
    # R-EVAC-1: who besides the dispatcher (the host, by=0) may order people out of a
    # zone, and so may also give the all-clear that lets them back in: the same authority
    # both ways, so nobody can lift an order they could not have given. The mine leader on
    # duty underground leads every team of the shift and must withdraw people on danger
    # (煤矿领导带班下井规定: 发现险情立即组织撤人), so has it as a team leader has.
    return code == TEAM_LEADER or code == MINE_LEADER


def is_role(code):
    return isinstance(code, int) and not isinstance(code, bool) and 0 < code <= MAX_ROLE


def is_crew(code):
    return isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 2


def name(code):
    if not is_role(code):
        raise ValueError("role code %r is not 1..%d" % (code, MAX_ROLE))
    if code < len(_NAMES):
        return _NAMES[code]
    return "role-%d" % code


def code_of(role_name):
    for i in range(1, len(_NAMES)):
        if _NAMES[i] == role_name:
            return i
    if isinstance(role_name, str) and role_name.startswith("role-"):
        digits = role_name[5:]
        if digits.isdigit() and is_role(int(digits)):
            return int(digits)
    raise ValueError("unknown role name %r" % (role_name,))
