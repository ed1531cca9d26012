"""The operator's language: Chinese or English for every text a dispatcher reads.

The firmware's catalogues (gateway/events.py, roles.py, zone.py, reasons.py, gatewire)
stay the source of the codes; this module only names them, in both languages. Messages
are looked up by key: `t("no_alarms")`, `t("in_zone", person=..., n=3)`. A message
missing from one language is a test failure (tests/test_i18n.py), not a blank.

The language: `--lang zh|en`, else the locale (LC_ALL, LC_MESSAGES, LANG: zh_* -> zh),
else English.
"""

from gateway import events as ev
from gateway import roles, zone
from gatewire import messages
from shaftgate.langenv import lang_from_env

LANGS = ("zh", "en")
_state: dict[str, str | None] = {"lang": None}


def set_lang(lang):
    if lang is not None and lang not in LANGS:
        raise ValueError("language %r: expected zh or en" % (lang,))
    _state["lang"] = lang


def lang():
    if _state["lang"] is None:
        _state["lang"] = lang_from_env()
    return _state["lang"]


def pick(en, zh):
    return zh if lang() == "zh" else en


def t(key, /, **fields):
    en, zh = MESSAGES[key]
    return pick(en, zh).format(**fields)


def name(table, code, unknown_key="code"):
    # A code's name from one of the tables below, in the operator's language.
    pair = table.get(code)
    if pair is None:
        return t(unknown_key, code=code)
    return pick(*pair)


# ---- names of the firmware's codes ----

KINDS = {
    ev.ENTRY: ("entry", "进入"),
    ev.EXIT: ("exit", "离开"),
    ev.ENTRY_REFUSED: ("entry refused", "拒绝进入"),
    ev.OVER_CAP_ENTRY: ("entry over the cap", "超员进入"),
    ev.SEALED_ENTRY: ("entry into a sealed zone", "进入封闭区域"),
    ev.RESTRICTED_ENTRY: ("entry into a restricted zone", "进入限制区域"),
    ev.UNAUTHORISED_ENTRY: ("entry without access", "无准入进入"),
    ev.UNKNOWN_TAG_ENTRY: ("unknown tag entered", "未登记标签进入"),
    ev.UNCERTIFIED_ENTRY: ("entry without certificate", "无有效证书进入"),
    ev.EVACUATION_ENTRY: ("entry during evacuation", "撤人期间进入"),
    ev.CAP_OK: ("headcount normal", "人数正常"),
    ev.CAP_WARNING: ("headcount early warning", "人数预警"),
    ev.CAP_FULL: ("headcount at the cap", "人数满员"),
    ev.CAP_OVER: ("OVER THE CAP", "超员"),
    ev.CAP_CHANGED: ("cap changed", "定员变更"),
    ev.SHIFT_CHANGED: ("shift changed", "班次变更"),
    ev.CAP_OVERRIDE_SET: ("temporary cap set", "临时定员"),
    ev.CAP_OVERRIDE_ENDED: ("temporary cap ended", "临时定员结束"),
    ev.PARALLEL_CREWS: ("two crews inside", "平行作业"),
    ev.PARALLEL_CREWS_CLEARED: ("one crew again", "平行作业解除"),
    ev.MISSED_ENTRY: ("exit without entry", "漏记进入"),
    ev.MISSED_EXIT: ("entry without exit", "漏记离开"),
    ev.LEDGER_FULL: ("ledger full", "名册已满"),
    ev.UNTAGGED_ENTRY: ("untagged entry", "未带卡进入"),
    ev.TAG_STATIONARY: ("tag left lying", "标签静止"),
    ev.TAG_BATTERY_LOW: ("tag battery low", "标签电量低"),
    ev.TURNED_BACK: ("turned back", "折返"),
    ev.OVERSTAY: ("overstay", "超时"),
    ev.READ_POINT_UNKNOWN: ("tag where no zone is", "未知读卡点"),
    ev.TAG_INVALID: ("invalid tag", "无效标签"),
    ev.DOORWAY_FULL: ("doorway crowded", "通道拥挤"),
    ev.ROSTER_LOADED: ("roster loaded", "名册已加载"),
    ev.DOUBTFUL_CROSSING: ("doubtful crossing", "通行存疑"),
    ev.DOORWAY_OVERFLOW: ("DOORWAY OVERFLOW", "通道跟踪溢出"),
    ev.DOORWAY_OVERFLOW_END: ("doorway tracking again", "通道跟踪恢复"),
    ev.VIDEO_LOST: ("video lost", "视频中断"),
    ev.VIDEO_OK: ("video back", "视频恢复"),
    ev.WORK_ON: ("work allowed", "允许作业"),
    ev.WORK_OFF: ("work stopped", "停止作业"),
    ev.HOT_ON: ("hot work on", "动火开始"),
    ev.HOT_OFF: ("hot work off", "动火停止"),
    ev.GAS_OVER: ("GAS OVER LIMIT", "气体超限"),
    ev.GAS_PEAK: ("gas peak", "气体峰值"),
    ev.GAS_OVER_END: ("gas back under limit", "气体超限结束"),
    ev.GAS_FAULT: ("gas sensor fault", "气体传感器故障"),
    ev.GAS_FAULT_END: ("gas sensor healthy", "气体传感器恢复"),
    ev.EVAC_START: ("EVACUATION", "撤人"),
    ev.DRILL_START: ("evacuation drill", "撤人演练"),
    ev.EVAC_JOIN: ("further evacuation order", "追加撤人指令"),
    ev.ZONE_CLEAR: ("zone clear", "区域已撤空"),
    ev.EVAC_END: ("all clear", "解除撤人"),
    ev.PERMIT_ISSUED: ("permit issued", "作业票签发"),
    ev.PERMIT_REVOKED: ("permit revoked", "作业票撤销"),
    ev.PERMIT_ENDED: ("permit ended", "作业票到期"),
    ev.FIRE_WATCH_START: ("fire watch started", "监火开始"),
    ev.FIRE_WATCH_LEFT: ("FIRE WATCHER LEFT", "监火人离开"),
    ev.FIRE_WATCH_BACK: ("fire watcher back", "监火人返回"),
    ev.FIRE_WATCH_END: ("fire watch over", "监火结束"),
    ev.KEY_WORK_HALTED: ("key work halted", "关键作业暂停"),
    ev.KEY_WORK_RESUMED: ("key work resumed", "关键作业恢复"),
    ev.BOOT: ("gateway started", "网关启动"),
    ev.SYSTEM_ALARM: ("system alarm", "系统报警"),
    ev.LOG_TORN_DISCARDED: ("torn log tail dropped", "丢弃残缺记录"),
    ev.LOG_TAMPERED: ("LOG TAMPERED", "记录被篡改"),
    ev.LOG_FULL: ("log full", "记录已满"),
    ev.COMMAND: ("command", "指令"),
    ev.COMMAND_REFUSED: ("command refused", "指令被拒"),
    ev.AUTH_REJECTED: ("unauthenticated command", "未认证指令"),
    ev.CONFIG_CHANGED: ("settings changed", "参数变更"),
    ev.GAS_LIMIT_LOOSENED: ("gas limit loosened", "气体限值放宽"),
    ev.SEALED: ("zone sealed", "区域封闭"),
    ev.UNSEALED: ("seal lifted", "解除封闭"),
    ev.TIME_SET: ("clock set", "校时"),
    ev.INTERNAL_ERROR: ("internal error", "内部错误"),
    ev.STATE_CONFIRMED: ("state confirmed", "状态确认"),
    ev.TIME_BACK_REFUSED: ("clock back refused", "拒绝回拨时钟"),
    ev.CAP_OVERRIDE_REFUSED: ("temporary cap refused", "临时定员被拒"),
    ev.READER_DATA_LOST: ("READER DATA LOST", "读卡器数据丢失"),
    ev.RECOUNT_ORDERED: ("recount ordered", "清点人数指令"),
    ev.RECOUNT: ("RECOUNT", "清点后更正人数"),
    ev.LOG_RECORD_DAMAGED: ("DAMAGED LOG RECORD", "记录损坏"),
    ev.FAULT: ("GATEWAY FAULT", "网关故障"),
}

ROLES = {
    roles.MINER: ("miner", "采掘工"),
    roles.TEAM_LEADER: ("team leader", "班组长"),
    roles.MINE_LEADER: ("mine leader on duty", "带班矿领导"),
    roles.ELECTRICIAN: ("electrician", "电工"),
    roles.WELDER: ("welder", "电焊工"),
    roles.GAS_INSPECTOR: ("gas inspector", "瓦斯检查工"),
    roles.SAFETY_INSPECTOR: ("safety inspector", "安全检查工"),
    roles.BLASTER: ("blaster", "爆破工"),
    roles.FITTER: ("fitter", "机修工"),
    roles.DRIVER: ("driver", "司机"),
    roles.TECHNICIAN: ("technician", "技术员"),
    roles.RESCUE: ("mine rescue", "救护队员"),
    roles.VISITOR: ("visitor", "参观人员"),
    roles.CONTRACTOR: ("contractor", "外包人员"),
}
# The roster's crew words (roster_csv.CREWS) and the firmware's crew codes.
CREWS = {
    "production": ("production", "生产班"),
    "maintenance": ("maintenance", "检修班"),
    "support": ("support", "辅助"),
}
CREW_CODES = {
    roles.CREW_PRODUCTION: CREWS["production"],
    roles.CREW_MAINTENANCE: CREWS["maintenance"],
    roles.CREW_NONE: CREWS["support"],
}
ZONE_KINDS = {
    "shaft": ("shaft", "井口"),
    "coal_face": ("coal face", "采煤工作面"),
    "fm_heading": ("fully mechanised heading", "综掘工作面"),
    "db_heading": ("drill-and-blast heading", "炮掘工作面"),
    "repair": ("repair site", "维修点"),
    "roadway": ("roadway", "巷道"),
}
REFUSALS = {
    zone.REFUSE_EVACUATION: ("evacuation in force", "正在撤人"),
    zone.REFUSE_SEALED: ("zone sealed", "区域已封闭"),
    zone.REFUSE_RESTRICTED: ("restricted zone", "限制区域"),
    zone.REFUSE_UNKNOWN_TAG: ("not in the roster", "未登记"),
    zone.REFUSE_CLOCK: ("clock unset", "时钟未校"),
    zone.REFUSE_CERTIFICATE: ("certificate expired or none", "证书过期或无证"),
    zone.REFUSE_NOT_ADMITTED: ("not admitted", "无准入"),
    zone.REFUSE_PARALLEL_CREWS: ("the other crew is inside", "另一班组在内"),
    zone.REFUSE_LEDGER_FULL: ("ledger full", "名册已满"),
    zone.REFUSE_CAP: ("at the cap", "已满员"),
}
COMMANDS = {
    messages.STATUS: ("status", "状态查询"),
    messages.ACK: ("acknowledgement", "确认"),
    messages.CONFIG_SET: ("settings change", "参数设置"),
    messages.ROSTER_LOAD: ("roster load", "名册加载"),
    messages.PERMIT_ISSUE: ("permit issue", "签发作业票"),
    messages.PERMIT_REVOKE: ("permit revoke", "撤销作业票"),
    messages.EVACUATE: ("evacuation order", "撤人指令"),
    messages.ALL_CLEAR: ("all-clear", "解除撤人"),
    messages.CAP_OVERRIDE: ("cap override", "临时定员"),
    messages.SEAL: ("seal", "封闭"),
    messages.UNSEAL: ("unseal", "解封"),
    messages.TIME_SET: ("time-set", "校时"),
    messages.CAP_OVERRIDE_CLEAR: ("cap-override clear", "取消临时定员"),
    messages.RECOUNT: ("recount", "清点人数"),
}
# serve's alarm classes (station/alarms.py kinds), as the dispatcher calls them.
ALARM_CLASSES = {
    "over_cap": ("over the cap", "超员"),
    "overstay": ("overstay", "超时滞留"),
    "fire_watch_left": ("fire watcher left", "监火人离岗"),
    "gas": ("gas over limit", "气体超限"),
    "gas_fault": ("gas sensor fault", "气体传感器故障"),
    "video_lost": ("video lost", "视频中断"),
    "link_lost": ("link lost", "通信中断"),
    "chain": ("event chain broken", "记录链断裂"),
    "headcount": ("shaft/face headcount mismatch", "井口与工作面人数不符"),
    "outside_mine": ("tag at a face but out of the mine", "标签未经井口下井"),
    "two_places": ("cloned tag (two places at once)", "标签克隆(同时两处)"),
    "read_point_unknown": ("tag where no zone is", "标签出现在无区域处"),
    "reader_data_lost": (
        "reader data lost: someone may be uncounted",
        "读卡器数据丢失：可能有人未被计数",
    ),
    "clock_drift": ("clock drift", "时钟偏差"),
    "feed_late": ("MQTT feed late", "数据上传延迟"),
    "evacuation": ("evacuation", "撤人"),
    "parallel_crews": ("two crews inside", "平行作业"),
    "system": ("system alarm", "系统报警"),
    "over_cap_entry": ("entry over the cap", "超员进入"),
    "sealed_entry": ("entry into a sealed zone", "进入封闭区域"),
    "restricted_entry": ("entry into a restricted zone", "进入限制区域"),
    "unauthorised_entry": ("entry without access", "无准入进入"),
    "unknown_tag_entry": ("unknown tag entered", "未登记标签进入"),
    "uncertified_entry": ("entry without certificate", "无有效证书进入"),
    "evacuation_entry": ("entry during evacuation", "撤人期间进入"),
    "untagged_entry": ("untagged entry", "未带卡进入"),
    "log_tampered": ("log tampered", "记录被篡改"),
    "log_full": ("log full", "记录已满"),
    "auth_rejected": ("unauthenticated command", "未认证指令"),
    "internal_error": ("gateway internal error", "网关内部错误"),
    "ledger_full": ("ledger full: entered unnamed", "名册已满：未记名进入"),
    "fault": ("gateway fault and reset", "网关故障复位"),
    "doorway_overflow": ("doorway overflow: counting in only", "通道跟踪溢出：只计进入"),
    "log_record_damaged": ("damaged log record", "记录损坏"),
    "recount": ("count corrected by a recount", "清点更正人数"),
}
GASES = {1: ("CH4", "甲烷"), 2: ("CO", "一氧化碳")}
SHIFTS = {
    0: ("unknown shift (strictest cap)", "班次未知(按最严定员)"),
    1: ("production shift", "生产班"),
    2: ("maintenance shift", "检修班"),
}


def kind_name(kind):
    return name(KINDS, kind, "kind_code")


def role_name(code):
    if code is None:
        return ""
    if isinstance(code, str):
        try:
            code = roles.code_of(code)
        except ValueError:
            return code
    return name(ROLES, code, "role_code")


def crew_name(word):
    if word is None:
        return ""
    if isinstance(word, int):
        return name(CREW_CODES, word, "code")
    return pick(*CREWS[word]) if word in CREWS else word


def zone_kind_name(kind):
    return pick(*ZONE_KINDS[kind]) if kind in ZONE_KINDS else str(kind)


def alarm_class_name(kind):
    return pick(*ALARM_CLASSES[kind]) if kind in ALARM_CLASSES else str(kind)


def _reverse(table):
    # Every spelling (English, Chinese, the code word) -> the key of the table.
    out = {}
    for key, (en, zh) in table.items():
        out[en.lower()] = key
        out[zh] = key
    return out


# What a roster CSV may write: the firmware's word (miner), or either language's name.
ROLE_WORDS = _reverse(ROLES)
CREW_WORDS = _reverse(CREWS)
ZONE_KIND_WORDS = _reverse(ZONE_KINDS)


# ---- messages ----

MESSAGES = {
    "code": ("code {code}", "代码 {code}"),
    "kind_code": ("kind {code}", "类型 {code}"),
    "role_code": ("role {code}", "岗位 {code}"),
    "never": ("never", "从未"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "none": ("none", "无"),
    "person": ("person {id}", "人员 {id}"),
    "unknown_person": ("unknown person", "未知人员"),
    "tag": ("tag {id}", "标签 {id}"),
    # durations
    "dur_s": ("{s} s", "{s} 秒"),
    "dur_min": ("{m} min", "{m} 分"),
    "dur_h": ("{h} h {m:02d} min", "{h} 小时 {m:02d} 分"),
    "dur_d": ("{d} d {h} h", "{d} 天 {h} 小时"),
    # events (the `what` column; fields named by the event catalogue)
    "ev_in_zone": ("{person}, {n} in zone", "{person}，区内 {n} 人"),
    "ev_refused": ("{person} refused: {why}", "{person} 被拒：{why}"),
    "ev_unauthorised": ("{person}, role {role}", "{person}，岗位 {role}"),
    "ev_unknown_tag": (
        "tag {tag} not in the roster, {n} in zone",
        "标签 {tag} 未登记，区内 {n} 人",
    ),
    "ev_uncert_expired": ("{person}: certificate expired or none", "{person}：证书过期或无证"),
    "ev_uncert_clock": ("{person}: clock unset", "{person}：时钟未校"),
    "ev_count_cap": ("{n} in zone, cap {cap}", "区内 {n} 人，定员 {cap}"),
    "ev_cap_changed": ("cap {old} -> {new}", "定员 {old} -> {new}"),
    "ev_shift": ("{shift}, {n} in zone", "{shift}，区内 {n} 人"),
    "ev_override_set": ("temporary cap {cap} for {dur}", "临时定员 {cap}，持续 {dur}"),
    "ev_override_expired": ("temporary cap {cap} expired", "临时定员 {cap} 已到期"),
    "ev_override_cleared": ("temporary cap {cap} cleared", "临时定员 {cap} 已取消"),
    "ev_parallel": (
        "production crew {p} and maintenance crew {m} inside",
        "生产班 {p} 人与检修班 {m} 人同时在内",
    ),
    "ev_parallel_cleared": ("only one crew inside again", "恢复单一班组作业"),
    "ev_missed_exit": ("{person}, recorded inside for {dur}", "{person}，已记录在内 {dur}"),
    "ev_untagged": ("{n} without a tag (beam count {total})", "{n} 人未带卡（光栅计数 {total}）"),
    "ev_tag_point": (
        "tag {tag} at read point {point}, {s} s",
        "标签 {tag} 在读卡点 {point}，{s} 秒",
    ),
    "ev_tag_battery": ("tag {tag} at read point {point}", "标签 {tag}，读卡点 {point}"),
    "ev_read_point": (
        "tag {tag} at read point {point} that belongs to no zone ({rssi} dBm)",
        "标签 {tag} 出现在不属于任何区域的读卡点 {point}（{rssi} dBm）",
    ),
    "ev_doubtful_in": (
        "counted IN on thin evidence ({why})",
        "证据不足，按已进入计（{why}）",
    ),
    "ev_doubtful_kept": (
        "exit NOT accepted, still counted in ({why})",
        "离开证据不足，仍计在内（{why}）",
    ),
    "ev_doorway_overflow": (
        "more than {n} tags in the doorway: counting people in only",
        "通道内超过 {n} 个标签：只计进入",
    ),
    "ev_doorway_overflow_end": (
        "doorway tracking again: {reads} untracked reads, {n} counted in unconfirmed",
        "通道恢复跟踪：{reads} 次未跟踪读卡，{n} 人未确认计入",
    ),
    "ev_doorway_full": (
        "tag {tag} untracked: more than {n} in the doorway",
        "标签 {tag} 未跟踪：通道内超过 {n} 个",
    ),
    "ev_overstay": ("{person}, {dur} in zone", "{person}，在内 {dur}"),
    "ev_roster": ("{n} people", "{n} 人"),
    "ev_work_on": ("work relay on: every condition holds", "作业继电器吸合：条件全部满足"),
    "ev_work_off": ("why: {why}", "原因：{why}"),
    "ev_hot_on": (
        "permit {permit}, job {job}, fire watcher {watcher}",
        "作业票 {permit}，作业 {job}，监火人 {watcher}",
    ),
    "ev_hot_off": (
        "permit {permit}, job {job}, why: {why}",
        "作业票 {permit}，作业 {job}，原因：{why}",
    ),
    "ev_gas_over": ("{gas} {ppm} ppm, limit {limit} ppm", "{gas} {ppm} ppm，限值 {limit} ppm"),
    "ev_gas_peak": ("{gas} peak {ppm} ppm after {dur}", "{gas} 峰值 {ppm} ppm（{dur} 后）"),
    "ev_gas_end": ("{gas} peak {ppm} ppm, lasted {dur}", "{gas} 峰值 {ppm} ppm，持续 {dur}"),
    "ev_gas_reboot": ("{gas} (across a reboot)", "{gas}（跨越重启）"),
    "ev_gas_fault": ("sensor faulty or silent (faults {n})", "传感器故障或无数据（故障码 {n}）"),
    "ev_gas_fault_end": ("sensor healthy again after {dur}", "传感器 {dur} 后恢复"),
    "ev_evac": ("ordered by {cause}{who}, reason {reason}", "由{cause}{who}下令，原因：{reason}"),
    "ev_evac_who": (" ({person})", "（{person}）"),
    "ev_drill": ("drill: {text}", "演练：{text}"),
    "ev_evac_join": ("further order: {text}", "追加指令：{text}"),
    "ev_zone_clear": ("zone cleared in {s}.{ms:03d} s", "区域撤空用时 {s}.{ms:03d} 秒"),
    "ev_drill_clear": (
        "drill: zone cleared in {s}.{ms:03d} s",
        "演练：区域撤空用时 {s}.{ms:03d} 秒",
    ),
    "ev_all_clear": ("all clear by {who} after {dur}", "{who}解除撤人，历时 {dur}"),
    "ev_all_clear_drill": ("drill over, by {who} after {dur}", "{who}结束演练，历时 {dur}"),
    "ev_permit": ("permit {permit}, job {job}", "作业票 {permit}，作业 {job}"),
    "ev_watch_start": (
        "watcher {watcher}, permit {permit}, {dur} to watch",
        "监火人 {watcher}，作业票 {permit}，监火 {dur}",
    ),
    "ev_watch_left": (
        "watcher {watcher} LEFT, permit {permit}, {dur} left",
        "监火人 {watcher} 离开，作业票 {permit}，剩余 {dur}",
    ),
    "ev_watch_back": (
        "watcher {watcher} back, permit {permit}, {dur} left",
        "监火人 {watcher} 返回，作业票 {permit}，剩余 {dur}",
    ),
    "ev_watch_end": (
        "watcher {watcher} done, permit {permit} (left {n} times)",
        "监火人 {watcher} 完成，作业票 {permit}（离开 {n} 次）",
    ),
    "ev_key_halted": (
        "permit {permit}, job {job}, why: {why}",
        "作业票 {permit}，作业 {job}，原因：{why}",
    ),
    "ev_video_none": ("no camera configured", "未配置摄像机"),
    "ev_video_lost": ("camera {cam}: heartbeat lost", "摄像机 {cam}：心跳中断"),
    "ev_video_late": ("camera {cam}: no heartbeat for {dur}", "摄像机 {cam}：{dur} 无心跳"),
    "ev_video_ok": ("all {n} camera(s) live again after {dur}", "{n} 路摄像机 {dur} 后全部恢复"),
    "ev_boot": (
        "started (boot {n}), last event seq {seq}",
        "启动（第 {n} 次），最后记录序号 {seq}",
    ),
    "ev_system": ("degraded: {bits}", "降级运行：{bits}"),
    "ev_torn": ("{n} torn record(s) dropped at boot", "启动时丢弃 {n} 条残缺记录"),
    "ev_tampered": ("log does not verify at seq {seq}", "记录在序号 {seq} 处校验失败"),
    "ev_log_full": ("no room: {n} unacknowledged", "无空间：{n} 条未确认"),
    "ev_command": ("{command} accepted", "{command}已执行"),
    "ev_command_refused": ("{command} refused: {why}", "{command}被拒：{why}"),
    "ev_auth_rejected": (
        "unauthenticated {command}: {why}{frames}",
        "未认证的{command}：{why}{frames}",
    ),
    "ev_frames": (" ({n} frames)", "（{n} 帧）"),
    "ev_record_damaged": (
        "damaged record on the gateway's flash (stored kind {kind}, seq {seq})",
        "网关闪存记录损坏（原类型 {kind}，序号 {seq}）",
    ),
    "ev_fault": (
        "gateway fault in {where} ({error}): outputs made safe, board reset (reset cause {cause})",
        "网关故障，发生于{where}（{error}）：输出已置安全，板卡已复位（复位原因 {cause}）",
    ),
    "fault_at_boot": ("boot", "启动"),
    "fault_at_inputs": ("reading the inputs", "读取输入"),
    "fault_at_rules": ("the rules", "规则判断"),
    "fault_at_save": ("saving the state", "保存状态"),
    "fault_at_outputs": ("driving the outputs", "驱动输出"),
    "fault_at_link": ("the host link", "主机通信"),
    "fault_at_push": ("pushing events", "推送事件"),
    "fault_other": ("another error", "其他错误"),
    "ev_config": ("{n} setting(s) changed", "{n} 项参数已变更"),
    "ev_gas_loosened": ("gas limit {n}: {old} -> {new} ppm", "气体限值 {n}：{old} -> {new} ppm"),
    "ev_sealed": ("zone sealed with {n} inside", "区域封闭，区内 {n} 人"),
    "ev_unsealed": ("seal lifted, {n} inside", "解除封闭，区内 {n} 人"),
    "ev_clock_unset": ("clock set to {when} (it was unset)", "时钟设为 {when}（此前未设置）"),
    "ev_clock_moved": ("clock set to {when} (moved {s:+d} s)", "时钟设为 {when}（调整 {s:+d} 秒）"),
    "ev_clock_back": (
        "clock MOVED BACK {dur} on explicit order, from {old} to {when}",
        "按明确指令将时钟回拨 {dur}：{old} 改为 {when}",
    ),
    "ev_time_back_refused": (
        "refused to move the clock back {dur} to {when}",
        "拒绝将时钟回拨 {dur} 至 {when}",
    ),
    "ev_override_refused": (
        "temporary cap {cap} refused: {n} people inside (R-CAP-11)",
        "临时定员 {cap} 被拒：区内已有 {n} 人（R-CAP-11）",
    ),
    "done_recount_down": (
        "count corrected from {before} to {after} by person {counter}'s count",
        "根据人员 {counter} 的清点，人数由 {before} 更正为 {after}",
    ),
    "done_recount_up": (
        "count RAISED from {before} to {after} by person {counter}'s count: "
        "people were in uncounted",
        "根据人员 {counter} 的清点，人数由 {before} 增至 {after}：有人未被计数",
    ),
    "ev_recount_ordered": (
        "recount ordered by {who}: {counter} counted {n} in the zone",
        "{who}下达清点指令：{counter}清点区内 {n} 人",
    ),
    "ev_recount_down": (
        "count corrected from {before} to {after} by a physical count ({counter}): "
        "{n} counted without a tag kept cleared (R-CAP-11)",
        "经实地清点（{counter}）人数由 {before} 更正为 {after}：清除 {n} 个无标签记录的计数（R-CAP-11）",
    ),
    "ev_recount_up": (
        "count RAISED from {before} to {after} by a physical count ({counter}): "
        "{n} found uncounted (R-CAP-11)",
        "经实地清点（{counter}）人数由 {before} 增至 {after}：发现 {n} 人未被计数（R-CAP-11）",
    ),
    "ev_reader_lost": (
        "{point} reader lost {n} line(s): someone may not have been counted",
        "{point}读卡器数据丢失 {n} 行：可能有人未被计数",
    ),
    "ev_point_outer": ("outer", "外侧"),
    "ev_point_inner": ("inner", "内侧"),
    "ev_internal": ("{command} failed inside the gateway", "{command}在网关内部失败"),
    "ev_confirmed": ("state confirmed by {who}", "状态由{who}确认"),
    "ev_dispatch": ("dispatch", "调度"),
    "ev_raw": ("tag {tag}, a {a}, b {b}", "标签 {tag}，a {a}，b {b}"),
    "cause_host": ("dispatch", "调度"),
    # tables and headings
    "col_time": ("time ({zone})", "时间（{zone}）"),
    "col_gateway": ("gateway", "网关"),
    "col_time_short": ("time", "时间"),
    "col_zone": ("zone", "区域"),
    "col_seq": ("seq", "序号"),
    "col_event": ("event", "事件"),
    "col_what": ("what", "内容"),
    "col_person": ("person", "人员"),
    "col_tag": ("tag", "标签"),
    "col_name": ("name", "姓名"),
    "col_role": ("role", "岗位"),
    "col_crew": ("crew", "班组"),
    "col_since": ("in since", "进入时间"),
    "col_for": ("for", "时长"),
    "col_alarm": ("alarm", "报警"),
    "col_class": ("class", "类别"),
    "col_raised": ("raised ({zone})", "发生时间（{zone}）"),
    "col_state": ("state", "状态"),
    "col_ack": ("acknowledged", "确认"),
    "col_key": ("key", "编号"),
    "col_from": ("from", "起"),
    "col_to": ("to", "止"),
    "col_dwell": ("dwell", "停留"),
    "col_kind": ("kind", "类型"),
    # alarms
    "no_alarms": ("no open alarms", "无未处理报警"),
    "no_alarms_match": ("no alarms match", "无符合条件的报警"),
    "alarm_open": ("OPEN", "未处理"),
    "alarm_acked": ("acknowledged", "已确认"),
    "alarm_cleared": ("cleared", "已解除"),
    "alarm_acked_by": ("{who} at {when}: {note}", "{who} 于 {when}：{note}"),
    "alarm_cleared_by": ("cleared at {when} ({by})", "{when} 解除（{by}）"),
    "alarm_ack_done": (
        "alarm {key} acknowledged by {who} (order {order})",
        "报警 {key} 已由 {who} 确认（指令 {order}）",
    ),
    "alarm_count": ("{n} alarm(s), {open} open", "共 {n} 条报警，{open} 条未处理"),
    # errors
    "err_prefix": ("shaftgate: error: {text}", "shaftgate: 错误：{text}"),
    "err_no_serve": (
        "serve is not running (no socket; give --serve PATH)",
        "serve 未运行（找不到套接字；请用 --serve 指定）",
    ),
    "err_bad_time": (
        "{option}: {text!r} is not a time; expected 2025-06-15T18:00, 2025-06-15 18:00, 2h (ago), +30m, now",
        "{option}：{text!r} 不是时间；应为 2025-06-15T18:00、2025-06-15 18:00、2h（之前）、+30m 或 now",
    ),
    "err_bad_kind": (
        "--kind: {text!r} is not an event kind; e.g. ENTRY, EXIT, GAS_OVER, 进入, 超员",
        "--kind：{text!r} 不是事件类型；例如 ENTRY、EXIT、GAS_OVER、进入、超员",
    ),
    "err_bad_class": (
        "--class: {text!r} is not an alarm class; expected one of {classes}",
        "--class：{text!r} 不是报警类别；应为 {classes} 之一",
    ),
    "err_no_person": (
        "no one in the roster is {text!r} (a name, person id or tag id)",
        "名册中没有 {text!r}（姓名、人员编号或标签号）",
    ),
    "err_many_people": ("{text!r} matches several people: {names}", "{text!r} 对应多人：{names}"),
    "err_range": ("--from {start} is not before --to {end}", "--from {start} 不早于 --to {end}"),
    "err_csv_write": ("cannot write {path}: {error}", "无法写入 {path}：{error}"),
    # history
    "events_none": ("no events match", "无符合条件的事件"),
    "events_count": ("{n} event(s)", "共 {n} 条事件"),
    "csv_written": ("{n} row(s) written to {path}", "已写入 {n} 行到 {path}"),
    "occ_head": ("who was where at {when}", "{when} 各区域人员"),
    "occ_underground": ("underground (shaft {shaft}): {n}", "井下（井口 {shaft}）：{n} 人"),
    "occ_zone": ("{zone} ({gateway}): {n}", "{zone}（{gateway}）：{n} 人"),
    "occ_no_shaft": (
        "no shaft gateway in the site: underground not known",
        "站点无井口网关：井下人数未知",
    ),
    "trace_head": ("route of {who}, {start} to {end}", "{who} 的轨迹，{start} 至 {end}"),
    "trace_none": ("no movements recorded in that time", "该时段无活动记录"),
    "trace_working": ("working time (underground): {dur}", "下井工作时间：{dur}"),
    "trace_dwell": ("dwell in {zone}: {dur}", "在 {zone} 停留：{dur}"),
    "trace_still_inside": ("still inside", "仍在区内"),
    "trace_before": ("(before the range)", "（时段前已在内）"),
    # events, status, occupants, permits, config
    "events_new": ("{gateway}: {n} new event(s)", "{gateway}：{n} 条新事件"),
    "events_acked": (
        ", acknowledged up to seq {seq} ({n} still unacknowledged on the gateway)",
        "，已确认至序号 {seq}（网关上仍有 {n} 条未确认）",
    ),
    "events_gap": (
        "GAP: events {first}..{last} are not held on this host",
        "缺失：本机未保存事件 {first}..{last}",
    ),
    "events_anchored": (
        "hash chain verified from seq {seq} on (earlier events were never held here)",
        "哈希链自序号 {seq} 起校验通过（更早的事件本机从未保存）",
    ),
    "events_none_held": ("no events held for this gateway yet", "本机尚未保存该网关的事件"),
    "st_head": (
        "{gateway}  zone {zone} ({kind}, {role} gateway)  firmware {firmware} on {board}, boot {boot}",
        "{gateway}  区域 {zone}（{kind}，{role} 网关）  固件 {firmware}，{board}，第 {boot} 次启动",
    ),
    "st_drill": ("EVACUATION DRILL", "撤人演练"),
    "st_evacuation": ("EVACUATION", "撤人"),
    "st_sealed": ("SEALED", "已封闭"),
    "st_gas_not_ok": ("GAS NOT OK", "气体异常"),
    "st_no_video": ("NO VIDEO", "无视频"),
    "st_over_cap": ("OVER CAP", "超员"),
    "st_work_allowed": ("WORK ALLOWED", "允许作业"),
    "st_work_stopped": ("WORK STOPPED", "停止作业"),
    "st_no_reading": ("no reading", "无读数"),
    "st_ok": ("ok", "正常"),
    "st_not_ok": ("NOT OK", "异常"),
    "st_lamp": ("lamp", "信号灯"),
    "st_people": (
        "  people     {n} / cap {cap}, {shift}{temp}",
        "  人数       {n} / 定员 {cap}，{shift}{temp}",
    ),
    "st_temp_cap": (" (temporary cap in force)", "（临时定员生效）"),
    "st_hot": (
        "  hot work   {allowed}, {n} permit(s) active",
        "  动火       {allowed}，{n} 张作业票有效",
    ),
    "st_allowed": ("allowed", "允许"),
    "st_not_allowed": ("not allowed", "不允许"),
    "st_video_gas": (
        "  video      {video}    gas {gas}: {readings}",
        "  视频       {video}    气体 {gas}：{readings}",
    ),
    "st_events": (
        "  events     last seq {seq}, {n} unacknowledged",
        "  事件       最后序号 {seq}，{n} 条未确认",
    ),
    "st_clock": (
        "  clock      {when} (gateway), up {up}",
        "  时钟       {when}（网关），已运行 {up}",
    ),
    "occ_now": ("{gateway}: {n} in zone", "{gateway}：区内 {n} 人"),
    "col_since_zone": ("in since ({zone})", "进入时间（{zone}）"),
    "permit_hot": ("hot-work", "动火"),
    "permit_key_maint": ("key-maintenance", "关键部位检修"),
    "permit_key_measure": ("key-measurement", "关键数据测量"),
    "permits_head": ("{gateway}: {n} permit(s)", "{gateway}：{n} 张作业票"),
    "col_permit": ("permit", "作业票"),
    "col_job": ("job", "作业"),
    "col_measure": ("measure", "安全措施"),
    "col_until": ("until", "至"),
    "col_workers": ("workers", "作业人员"),
    "col_fire_watch": ("fire-watch", "监火人"),
    "col_setting": ("setting", "参数"),
    "col_value": ("value", "值"),
    "times_in": ("times in {zone}", "时间为 {zone}"),
    # alarms serve raises itself (station/alarms.py, serve.py)
    "al_link_lost": (
        "no answer from {where} for {dur} (R-DATA-1): {error}",
        "{where} 通信中断 {dur}（R-DATA-1）：{error}",
    ),
    "al_chain": (
        "{where}: event log incomplete or tampered (R-DATA-2): {error}",
        "{where}：事件记录不完整或被篡改（R-DATA-2）：{error}",
    ),
    "al_headcount": (
        "the faces hold {faces} people but the shaft counts {shaft} underground",
        "工作面共 {faces} 人，井口记录井下 {shaft} 人",
    ),
    "al_outside_mine": (
        "tag {tag} entered {where} but the shaft has it out of the mine (R-DATA-4)",
        "标签 {tag} 进入 {where}，但井口记录其未下井（R-DATA-4）",
    ),
    "al_two_places": (
        "tag {tag} inside two zones at once: {where} (cloned or swapped tag?)",
        "标签 {tag} 同时在两个区域：{where}（标签被克隆或调换？）",
    ),
    "al_clock_drift": ("{where}: clock {s:+d} s off", "{where}：时钟偏差 {s:+d} 秒"),
    "al_feed_late": (
        "the MQTT feed is {dur} behind, {n} message(s) owed (R-DATA-2)",
        "数据上传延迟 {dur}，积压 {n} 条（R-DATA-2）",
    ),
    "alarm_still_open": (
        "it stays open until the condition ends",
        "报警将在情况消除后自动解除",
    ),
    "err_state_flags": (
        "give at most one of --open, --unacked, --acked, --cleared",
        "--open、--unacked、--acked、--cleared 只能选一个",
    ),
    "occ_incomplete": (
        "  {zone} ({gateway}): the record is incomplete before that time (a gap, or nothing recorded yet): people may be missing from this list",
        "  {zone}（{gateway}）：该时刻前记录不完整（有缺失或尚无记录），名单可能不全",
    ),
    # shaftgate watch
    "w_keys": (
        "a: acknowledge alarm   z: focus zone   q: quit",
        "a：确认报警   z：聚焦区域   q：退出",
    ),
    "w_alarms": ("open alarms: {n}", "未解除报警：{n} 条"),
    "w_events": ("latest events", "最新事件"),
    "w_focus": ("zone {zone} only", "仅显示 {zone}"),
    "w_prompt_alarm": ("acknowledge alarm number:", "确认报警序号："),
    "w_prompt_operator": ("operator [{default}]:", "操作员 [{default}]："),
    "w_prompt_note": ("note (what was checked or done):", "处理说明："),
    "w_prompt_zone": (
        "focus on zone (number or name; empty: all):",
        "聚焦区域（序号或名称；空为全部）：",
    ),
    "w_no_alarm_to_ack": ("no alarm to acknowledge", "没有可确认的报警"),
    "w_cancelled": ("cancelled", "已取消"),
    "w_all_zones": ("all zones", "全部区域"),
    "w_focused": ("showing zone {zone}", "显示区域 {zone}"),
    "w_no_zone": ("no zone {zone!r}", "没有区域 {zone!r}"),
    "w_no_alarm": ("no alarm number {n!r}", "没有序号为 {n!r} 的报警"),
    "w_note_needed": ("a note is needed: say what was checked or done", "需填写处理说明"),
    "w_people": ("people/cap", "人数/定员"),
    "w_lamp": ("lamp", "信号灯"),
    "w_work": ("work", "作业"),
    "w_hot": ("hot work", "动火"),
    "w_gas": ("gas", "气体"),
    "w_video": ("video", "视频"),
    "w_evac": ("evacuation", "撤人"),
    "w_link": ("link", "通信"),
    "w_on": ("on", "开"),
    "w_off": ("off", "关"),
    "w_no_answer": ("NO ANSWER {dur}", "无应答 {dur}"),
    "w_serve_lost": ("serve does not answer: {error}", "serve 无应答：{error}"),
    # the shift report
    "err_bad_date": (
        "--date: {text!r} is not a date; expected YYYY-MM-DD",
        "--date：{text!r} 不是日期；应为 YYYY-MM-DD",
    ),
    "err_bad_shift": (
        "--shift: {text!r}: expected 1, 2, 3 or a window like 22:00-06:00",
        "--shift：{text!r}：应为 1、2、3 或 22:00-06:00 这样的时段",
    ),
    "rp_title": ("shift report {date}, {shift}", "{date} {shift} 班报"),
    "rp_window": ("shift", "班次时段"),
    "rp_made": ("made", "生成时间"),
    "rp_summary": ("zones against their caps", "各区域定员情况"),
    "rp_peak": ("peak", "峰值"),
    "rp_cap": ("cap", "定员"),
    "rp_above": ("at or above the early warning", "达到预警及以上时长"),
    "rp_over_cap_entries": ("over-cap entries", "超员进入"),
    "rp_refusals": ("refusals", "拒绝进入"),
    "rp_at_cap": ("at the cap:", "因满员："),
    "rp_violations": ("violations", "违规"),
    "rp_evacuations": ("evacuations and drills", "撤人与演练"),
    "rp_evacuation": ("evacuation", "撤人"),
    "rp_drill": ("drill", "演练"),
    "rp_time_to_clear": ("cleared in", "撤空用时"),
    "rp_not_cleared": ("not cleared in the shift", "本班未撤空"),
    "rp_seconds": ("s", "秒"),
    "rp_gas": ("gas over limit", "气体超限"),
    "rp_still_over": ("still over at the end of the shift", "班末仍超限"),
    "rp_headcount": ("people in the zone", "区内人数"),
    "rp_cap_line": ("cap {cap}", "定员 {cap}"),
    "rp_trend": ("underground headcount across shifts (R-CAP-10)", "各班下井人数趋势（R-CAP-10）"),
    "rp_people_down": ("people underground", "下井人数"),
    "rp_peak_underground": ("peak underground", "井下峰值"),
    "rp_goal_line": ("goal: baseline -10 %", "目标：基准减少 10%"),
    "rp_goal_text": (
        "baseline (first shift with people): {base}; goal (10 % fewer): {goal} or fewer",
        "基准（首个有人员的班次）：{base} 人；目标（减少 10%）：不超过 {goal} 人",
    ),
    "rp_date": ("date", "日期"),
    "rp_change": ("change from baseline", "较基准变化"),
    "rp_goal": ("goal met", "达标"),
    "rp_no_shaft": (
        "no shaft gateway in the site: no underground count",
        "站点无井口网关：无下井人数",
    ),
    "rp_written": ("written: {path}", "已生成：{path}"),
    # the big-screen page
    "w_alarms_title": ("alarms", "报警"),
    "w_chart": ("people in each zone, last 8 hours", "各区域人数（近 8 小时）"),
    "w_stale": ("NOT UPDATING: serve does not answer", "未更新：serve 无应答"),
    "w_full": ("at the cap", "已满员"),
    "events_own_acks": (" (and {n} acknowledgement record(s))", "（另有 {n} 条确认记录）"),
    "events_unacked": (
        ", {n} unacknowledged on the gateway (not acknowledged by this call)",
        "，网关上 {n} 条未确认（本次未确认）",
    ),
    "events_none_shown": ("--last 0: none shown", "--last 0：不显示事件"),
    "roster_empty": ("no roster loaded through serve yet", "尚未通过 serve 加载名册"),
    "orders_none": ("no orders recorded", "无命令记录"),
    "orders_in_progress": ("in progress, no answers stored yet", "执行中，尚无应答"),
    "orders_answered": ("answered {ok}/{n}", "已执行 {ok}/{n}"),
    "orders_why": ("why: {why}", "理由：{why}"),
    "orders_failed": (
        "NOT carried out at {where}: {kind}: {message}",
        "未在 {where} 执行：{kind}：{message}",
    ),
    # what became of it there (refusaltext.kind)
    "err_kind_refused": ("refused", "拒绝"),
    "err_kind_no_answer": ("no answer", "无应答"),
    "err_kind_failed": ("failed ({kind})", "失败（{kind}）"),
    # why a gateway did not carry an order out (refusaltext.py; serve stores the key)
    "err_no_answer_yet": ("no answer yet", "尚无应答"),
    "err_order_time": (
        "no answer within the order's time: it may or may not have been carried out; check status",
        "在指令时限内无应答：可能已执行，也可能未执行；请先查询状态",
    ),
    "err_order_time_short": ("no answer within the order's time", "在指令时限内无应答"),
    "err_nothing_arrived": ("nothing arrived", "未收到任何报文"),
    "err_timeout": (
        "no reply from {who} to {request} (request {req_id}) within {secs} s; "
        "meanwhile: {meanwhile}",
        "{who} 在 {secs} 秒内未应答{request}（请求 {req_id}）；期间：{meanwhile}",
    ),
    "err_maybe_carried_out": (
        "; {request} may or may not have been carried out: check status first",
        "；{request}可能已执行，也可能未执行：请先查询状态",
    ),
    "err_not_connected": (
        "gateway {gateway} is not connected: {why}",
        "网关 {gateway} 未连接：{why}",
    ),
    "err_link_lost": (
        "link to {gateway} lost before the order ran",
        "指令执行前与网关 {gateway} 的连接已中断",
    ),
    "err_orders_full": (
        "gateway {gateway} already has {n} orders waiting (the most serve queues for one "
        "link): not queued, not carried out; try again once they have run",
        "网关 {gateway} 待执行指令已满（{n} 条，serve 每条链路最多排队这么多）：本指令未排队、"
        "未执行；待其执行完后再试",
    ),
    # the table an order through serve ends with (cli/through.py order_table)
    "ot_heading": ("order {order} ({command}):", "指令 {order}（{command}）："),
    "ot_done": ("done at {ok} of {n}", "已执行 {ok}/{n} 台"),
    "ot_refused": ("; REFUSED or failed at: {ids}", "；拒绝或失败：{ids}"),
    "ot_silent": (
        "; NO ANSWER, not carried out at: {ids}",
        "；无应答，未执行：{ids}",
    ),
    # the demo's last words (sim/demo.py, why it ended: DEMO_ENDED)
    "demo_stopped": (
        "stopped after {s} s ({why}); every board is off.\nRecord: {home}/station.db "
        "(serve, site.toml, serve.log), roster {home}/roster.csv, board logs "
        "{home}/vboards/*/board.log",
        "运行 {s} 秒后停止（{why}）；所有板卡已断电。\n记录：{home}/station.db"
        "（serve、site.toml、serve.log），名册 {home}/roster.csv，板卡日志 "
        "{home}/vboards/*/board.log",
    ),
    "roster_count": ("{n} people on {gateways} gateway(s)", "共 {n} 人，{gateways} 个网关"),
    # permit history
    "ph_active": ("in the book", "有效"),
    "ph_revoked": ("REVOKED", "已撤销"),
    "ph_ended": ("ended", "已到期"),
    "ph_issued": ("issued", "签发时间"),
    "ph_by": ("by", "操作员"),
    "ph_closed": ("revoked/ended", "撤销/到期时间"),
    "ph_none": ("no permits issued in that time", "该时段无作业票签发"),
}

# why the demo ended (sim/demo.py sets the English; tests/test_i18n.py checks each is here)
DEMO_ENDED = {
    "the story has played once": "剧情已完整演示一遍",
    "Ctrl-C": "Ctrl-C 中止",
    "a board crashed": "有板卡崩溃",
    "the simulation failed": "仿真失败",
    "--duration": "已到 --duration 时长",
    "the output was closed": "输出已关闭",
    "it could not start": "未能启动",
}
