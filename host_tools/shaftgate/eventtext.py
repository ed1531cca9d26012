"""What an event says, in the operator's language, with people named: the one renderer
of events for the CLI (`events`, history), the live views (`watch`, the demo's) and the
page. The fields of each kind are the firmware's catalogue (gateway/events.py)."""

from gateway import doorway, gas, reasons
from gateway import events as ev
from gatewire.errors import CODE_NAMES
from shaftgate import minetime
from shaftgate.i18n import COMMANDS, GASES, REFUSALS, SHIFTS, name, pick, role_name, t

WHY = {
    reasons.WHY_VIDEO: ("video", "视频"),
    reasons.WHY_GAS_UNKNOWN: ("gas unknown", "气体未知"),
    reasons.WHY_GAS_HIGH: ("gas high", "气体超限"),
    reasons.WHY_EVACUATION: ("evacuation", "撤人"),
    reasons.WHY_GAS_HOT: ("CH4 over the hot-work limit", "甲烷超动火限值"),
    reasons.WHY_NO_PERMIT: ("no permit", "无作业票"),
    reasons.WHY_CLOCK_UNSET: ("clock unset", "时钟未校"),
    reasons.WHY_WATCHER_ABSENT: ("fire watcher absent", "监火人不在"),
    reasons.WHY_WORKER_ABSENT: ("no named worker inside", "指定作业人员不在"),
    reasons.WHY_PERMIT_CHANGED: ("another permit", "作业票变更"),
}
CAUSES = {
    reasons.CAUSE_DISPATCHER: ("dispatch", "调度"),
    reasons.CAUSE_TEAM_LEADER: ("a team leader", "班组长"),
    reasons.CAUSE_GAS: ("gas", "气体超限"),
    reasons.CAUSE_MINE_LEADER: ("the mine leader on duty", "带班矿领导"),
}
# What was ambiguous in a DOUBTFUL_CROSSING (b, doorway.DOUBT_* bits).
DOUBTS = {
    doorway.DOUBT_NO_OUTER: ("no outer read", "外侧未读到"),
    doorway.DOUBT_NO_BEAM: ("no beam body", "光栅未计"),
    doorway.DOUBT_OUTER_AFTER: ("read outside after inside", "进入后外侧又读到"),
    doorway.DOUBT_BEAM_PAIRED: ("paired with a beam body", "与光栅计数配对"),
    doorway.DOUBT_ONE_OUTER: ("one outer read only", "外侧仅读到一次"),
    doorway.DOUBT_OUTER_ONLY: ("read outside only", "仅外侧读到"),
    doorway.DOUBT_OVERFLOW: ("doorway full", "通道跟踪已满"),
    doorway.DOUBT_BODY_NEAR: (
        "one inner read beside another's body",
        "单次内侧读卡邻近他人光栅计数",
    ),
    doorway.DOUBT_UNNAMED: (
        "ledger full: some counted in without their tag kept",
        "名册已满：有计入人员未记卡号",
    ),
}
EVAC_REASONS = {
    reasons.EVAC_REASON_UNSPECIFIED: ("unspecified", "未说明"),
    reasons.EVAC_REASON_GAS: ("gas", "气体"),
    reasons.EVAC_REASON_FLOOD_WARNING: ("flood warning", "暴雨洪水预警"),
    reasons.EVAC_REASON_ACCIDENT_SIGNS: ("signs of an accident", "事故征兆"),
    reasons.EVAC_REASON_FIRE: ("fire", "火灾"),
    reasons.EVAC_REASON_POWER_OR_VENTILATION: ("power or ventilation lost", "停电或停风"),
    reasons.EVAC_REASON_DRILL: ("drill", "演练"),
    reasons.EVAC_REASON_OTHER: ("other", "其他"),
}


def duration(seconds):
    seconds = int(seconds)
    if seconds < 0:
        return "-" + duration(-seconds)
    if seconds < 60:
        return t("dur_s", s=seconds)
    if seconds < 3600:
        return t("dur_min", m=seconds // 60)
    if seconds < 86400:
        return t("dur_h", h=seconds // 3600, m=seconds // 60 % 60)
    return t("dur_d", d=seconds // 86400, h=seconds // 3600 % 24)


def why_bits(bits):
    names = [pick(*pair) for bit, pair in sorted(WHY.items()) if bits & bit]
    return ", ".join(names) if names else t("none")


class People:
    """Names for person ids and tags: the roster rows serve keeps ({tag_id: {...}})."""

    def __init__(self, roster=None):
        self.by_tag = {}
        self.by_person = {}
        for tag, info in (roster or {}).items():
            self.by_tag[int(tag)] = info
            if info.get("person_id"):
                self.by_person[int(info["person_id"])] = info

    @classmethod
    def by_person_id(cls, people):
        # {person_id: {"name", ...}}: what the demo's view keeps.
        p = cls()
        p.by_person = {int(k): v for k, v in people.items()}
        return p

    def person(self, person_id):
        if not person_id:
            return t("unknown_person")
        info = self.by_person.get(person_id)
        if info is None or not info.get("name"):
            return t("person", id=person_id)
        role = role_name(info.get("role")) if info.get("role") else ""
        return "%s (%s)" % (info["name"], role) if role else info["name"]

    def name_of_tag(self, tag):
        info = self.by_tag.get(tag)
        return info.get("name") if info else None


def _gas(e):
    pair = GASES.get(e["tag"] & 0x7F)
    text = pick(*pair) if pair else "gas %d" % e["tag"]
    return t("ev_gas_reboot", gas=text) if e["tag"] & gas.SPANS_REBOOT else text


def _command(code):
    pair = COMMANDS.get(code)
    if pair:
        return pick(*pair)
    return "type %d" % code


def _evac(e, p):
    who = t("ev_evac_who", person=p.person(e["tag"])) if e["tag"] else ""
    return t(
        "ev_evac",
        cause=name(CAUSES, e["a"]),
        who=who,
        reason=name(EVAC_REASONS, e["b"]),
    )


def _video_lost(e, p):
    if e["tag"] == 255:
        return t("ev_video_none")
    if e["a"] < 0:
        return t("ev_video_lost", cam=e["tag"])
    return t("ev_video_late", cam=e["tag"], dur=duration(e["a"] / 1000))


def doubt_bits(bits):
    names = [pick(*words) for bit, words in sorted(DOUBTS.items()) if bits & bit]
    return ", ".join(names) if names else "-"


def _doubtful(e, p):
    key = "ev_doubtful_kept" if e["a"] == doorway.DECIDED_KEPT_IN else "ev_doubtful_in"
    return t(key, why=doubt_bits(e["b"]))


def _in_zone(e, p):
    return t("ev_in_zone", person=p.person(e["a"]), n=e["b"])


def _cap(e, p):
    return t("ev_count_cap", n=e["a"], cap=e["b"])


_DESCRIBE = {
    ev.ENTRY: _in_zone,
    ev.EXIT: _in_zone,
    ev.ENTRY_REFUSED: lambda e, p: t(
        "ev_refused",
        person=p.person(e["a"]) if e["a"] else t("tag", id=e["tag"]),
        why=name(REFUSALS, e["b"]),
    ),
    ev.OVER_CAP_ENTRY: _in_zone,
    ev.SEALED_ENTRY: _in_zone,
    ev.RESTRICTED_ENTRY: _in_zone,
    ev.UNAUTHORISED_ENTRY: lambda e, p: t(
        "ev_unauthorised", person=p.person(e["a"]), role=role_name(e["b"])
    ),
    ev.UNKNOWN_TAG_ENTRY: lambda e, p: t("ev_unknown_tag", tag=e["tag"], n=e["b"]),
    ev.UNCERTIFIED_ENTRY: lambda e, p: t(
        "ev_uncert_expired" if e["b"] == 1 else "ev_uncert_clock", person=p.person(e["a"])
    ),
    ev.EVACUATION_ENTRY: _in_zone,
    ev.CAP_OK: _cap,
    ev.CAP_WARNING: _cap,
    ev.CAP_FULL: _cap,
    ev.CAP_OVER: _cap,
    ev.CAP_CHANGED: lambda e, p: t("ev_cap_changed", old=e["b"], new=e["a"]),
    ev.SHIFT_CHANGED: lambda e, p: t("ev_shift", shift=name(SHIFTS, e["a"] + 1), n=e["b"]),
    ev.CAP_OVERRIDE_SET: lambda e, p: t("ev_override_set", cap=e["a"], dur=duration(e["b"])),
    ev.CAP_OVERRIDE_ENDED: lambda e, p: t(
        "ev_override_expired" if e["b"] == 1 else "ev_override_cleared", cap=e["a"]
    ),
    ev.PARALLEL_CREWS: lambda e, p: t("ev_parallel", p=e["a"], m=e["b"]),
    ev.PARALLEL_CREWS_CLEARED: lambda e, p: t("ev_parallel_cleared"),
    ev.MISSED_ENTRY: _in_zone,
    ev.MISSED_EXIT: lambda e, p: t("ev_missed_exit", person=p.person(e["a"]), dur=duration(e["b"])),
    ev.LEDGER_FULL: _in_zone,
    ev.UNTAGGED_ENTRY: lambda e, p: t("ev_untagged", n=e["a"], total=e["b"]),
    ev.TAG_STATIONARY: lambda e, p: t("ev_tag_point", tag=e["tag"], point=e["a"], s=e["b"]),
    ev.TAG_BATTERY_LOW: lambda e, p: t("ev_tag_battery", tag=e["tag"], point=e["a"]),
    ev.TURNED_BACK: lambda e, p: t("ev_tag_battery", tag=e["tag"], point=e["a"]),
    ev.OVERSTAY: lambda e, p: t("ev_overstay", person=p.person(e["a"]), dur=duration(e["b"] * 60)),
    ev.READ_POINT_UNKNOWN: lambda e, p: t("ev_read_point", tag=e["tag"], point=e["a"], rssi=e["b"]),
    ev.TAG_INVALID: lambda e, p: t("ev_read_point", tag=e["tag"], point=e["a"], rssi=e["b"]),
    ev.DOORWAY_FULL: lambda e, p: t("ev_doorway_full", tag=e["tag"], n=e["a"]),
    ev.ROSTER_LOADED: lambda e, p: t("ev_roster", n=e["a"]),
    ev.DOUBTFUL_CROSSING: _doubtful,
    ev.DOORWAY_OVERFLOW: lambda e, p: t("ev_doorway_overflow", n=e["a"]),
    ev.DOORWAY_OVERFLOW_END: lambda e, p: t("ev_doorway_overflow_end", reads=e["a"], n=e["b"]),
    ev.VIDEO_LOST: _video_lost,
    ev.VIDEO_OK: lambda e, p: t("ev_video_ok", n=e["b"], dur=duration(e["a"])),
    ev.WORK_ON: lambda e, p: t("ev_work_on"),
    ev.WORK_OFF: lambda e, p: t("ev_work_off", why=why_bits(e["a"])),
    ev.HOT_ON: lambda e, p: t("ev_hot_on", permit=e["tag"], job=e["a"], watcher=p.person(e["b"])),
    ev.HOT_OFF: lambda e, p: t("ev_hot_off", permit=e["tag"], job=e["b"], why=why_bits(e["a"])),
    ev.GAS_OVER: lambda e, p: t("ev_gas_over", gas=_gas(e), ppm=e["a"], limit=e["b"]),
    ev.GAS_PEAK: lambda e, p: t("ev_gas_peak", gas=_gas(e), ppm=e["a"], dur=duration(e["b"])),
    ev.GAS_OVER_END: lambda e, p: t("ev_gas_end", gas=_gas(e), ppm=e["a"], dur=duration(e["b"])),
    ev.GAS_FAULT: lambda e, p: t("ev_gas_fault", n=e["tag"]),
    ev.GAS_FAULT_END: lambda e, p: t("ev_gas_fault_end", dur=duration(e["a"])),
    ev.EVAC_START: _evac,
    ev.DRILL_START: lambda e, p: t("ev_drill", text=_evac(e, p)),
    ev.EVAC_JOIN: lambda e, p: t("ev_evac_join", text=_evac(e, p)),
    ev.ZONE_CLEAR: lambda e, p: t(
        "ev_drill_clear" if e["tag"] else "ev_zone_clear", s=e["a"], ms=e["b"]
    ),
    ev.EVAC_END: lambda e, p: t(
        "ev_all_clear_drill" if e["b"] else "ev_all_clear",
        who=p.person(e["tag"]) if e["tag"] else t("ev_dispatch"),
        dur=duration(e["a"]),
    ),
    ev.PERMIT_ISSUED: lambda e, p: t("ev_permit", permit=e["tag"], job=e["a"]),
    ev.PERMIT_REVOKED: lambda e, p: t("ev_permit", permit=e["tag"], job=e["a"]),
    ev.PERMIT_ENDED: lambda e, p: t("ev_permit", permit=e["tag"], job=e["a"]),
    ev.FIRE_WATCH_START: lambda e, p: t(
        "ev_watch_start", watcher=p.person(e["tag"]), permit=e["a"], dur=duration(e["b"])
    ),
    ev.FIRE_WATCH_LEFT: lambda e, p: t(
        "ev_watch_left", watcher=p.person(e["tag"]), permit=e["a"], dur=duration(e["b"])
    ),
    ev.FIRE_WATCH_BACK: lambda e, p: t(
        "ev_watch_back", watcher=p.person(e["tag"]), permit=e["a"], dur=duration(e["b"])
    ),
    ev.FIRE_WATCH_END: lambda e, p: t(
        "ev_watch_end", watcher=p.person(e["tag"]), permit=e["a"], n=e["b"]
    ),
    ev.KEY_WORK_HALTED: lambda e, p: t(
        "ev_key_halted", permit=e["tag"], job=e["b"], why=why_bits(e["a"])
    ),
    ev.KEY_WORK_RESUMED: lambda e, p: t("ev_permit", permit=e["tag"], job=e["b"]),
    ev.BOOT: lambda e, p: t("ev_boot", n=e["tag"], seq=e["b"]),
    ev.SYSTEM_ALARM: lambda e, p: t("ev_system", bits="0x%02x" % e["a"]),
    ev.LOG_TORN_DISCARDED: lambda e, p: t("ev_torn", n=e["a"]),
    ev.LOG_TAMPERED: lambda e, p: t("ev_tampered", seq=e["a"]),
    ev.LOG_FULL: lambda e, p: t("ev_log_full", n=e["a"]),
    ev.COMMAND: lambda e, p: t("ev_command", command=_command(e["tag"])),
    ev.COMMAND_REFUSED: lambda e, p: t(
        "ev_command_refused", command=_command(e["tag"]), why=CODE_NAMES.get(e["a"], e["a"])
    ),
    ev.AUTH_REJECTED: lambda e, p: t(
        "ev_auth_rejected",
        command=_command(e["tag"]),
        why=CODE_NAMES.get(e["a"], e["a"]),
        frames=t("ev_frames", n=e["b"]) if e["b"] > 1 else "",
    ),
    ev.LOG_RECORD_DAMAGED: lambda e, p: t("ev_record_damaged", kind=e["tag"], seq=e["a"]),
    ev.FAULT: lambda e, p: _fault(e),
    ev.CONFIG_CHANGED: lambda e, p: t("ev_config", n=e["a"]),
    ev.GAS_LIMIT_LOOSENED: lambda e, p: t("ev_gas_loosened", n=e["tag"], new=e["a"], old=e["b"]),
    ev.SEALED: lambda e, p: t("ev_sealed", n=e["a"]),
    ev.UNSEALED: lambda e, p: t("ev_unsealed", n=e["a"]),
    ev.TIME_SET: lambda e, p: _time_set(e),
    ev.TIME_BACK_REFUSED: lambda e, p: t(
        "ev_time_back_refused", dur=duration(-e["a"]), when=_when(e["tag"])
    ),
    ev.CAP_OVERRIDE_REFUSED: lambda e, p: t("ev_override_refused", cap=e["a"], n=e["b"]),
    ev.READER_DATA_LOST: lambda e, p: t(
        "ev_reader_lost",
        point=t("ev_point_inner" if e["a"] else "ev_point_outer"),
        n=e["b"],
    ),
    ev.INTERNAL_ERROR: lambda e, p: t("ev_internal", command=_command(e["tag"])),
    ev.RECOUNT_ORDERED: lambda e, p: t(
        "ev_recount_ordered",
        who=p.person(e["a"]) if e["a"] else t("ev_dispatch"),
        counter=p.person(e["tag"]),
        n=e["b"],
    ),
    ev.RECOUNT: lambda e, p: t(
        "ev_recount_up" if e["b"] > e["a"] else "ev_recount_down",
        before=e["a"],
        after=e["b"],
        counter=p.person(e["tag"]),
        n=abs(e["b"] - e["a"]),
    ),
    ev.STATE_CONFIRMED: lambda e, p: t(
        "ev_confirmed", who=p.person(e["a"]) if e["a"] else t("ev_dispatch")
    ),
}


def _when(time_s):
    return minetime.fmt(time_s, with_zone=True) if time_s else t("never")


def _time_set(e):
    # Logged at the new time with the old one in tag (0: the clock was unset).
    if not e["tag"]:
        return t("ev_clock_unset", when=_when(e["time_s"]))
    if e["b"]:
        return t(
            "ev_clock_back", dur=duration(-e["a"]), old=_when(e["tag"]), when=_when(e["time_s"])
        )
    return t("ev_clock_moved", when=_when(e["time_s"]), s=e["a"])


_NOBODY = People()


def describe(e, people=None):
    """The `what` of one event: e has kind, tag, a, b (as stored)."""
    p = people or _NOBODY
    fn = _DESCRIBE.get(e["kind"])
    if fn is not None:
        try:
            return fn(e, p)
        except (TypeError, ValueError, KeyError, IndexError):
            pass  # fields outside what the catalogue says: show them raw below
    return t("ev_raw", tag=e["tag"], a=e["a"], b=e["b"])


_FAULT_WHERE = ("", "boot", "inputs", "rules", "save", "outputs", "link", "push")
_FAULT_KINDS = (
    "",
    "MemoryError",
    "OSError",
    "ValueError",
    "TypeError",
    "IndexError",
    "KeyError",
    "AttributeError",
    "ZeroDivisionError",
    "RuntimeError",
)


def _fault(e):
    # app.AT_* and app._FAULT_KINDS by position: tag where, a the exception, b the cause.
    where = e["tag"]
    kind = e["a"]
    return t(
        "ev_fault",
        where=t("fault_at_" + _FAULT_WHERE[where]) if 0 < where < len(_FAULT_WHERE) else where,
        error=_FAULT_KINDS[kind] if 0 < kind < len(_FAULT_KINDS) else t("fault_other"),
        cause=e["b"],
    )
