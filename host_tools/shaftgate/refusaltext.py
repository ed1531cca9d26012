# ruff: noqa: RUF001  (the Chinese text uses full-width punctuation on purpose)
"""Why a gateway refused or failed an order, in the dispatcher's language.

The firmware answers a refusal with an error code (gatewire.errors) and English words
made on the board (gateway/app.py, commands.py, reasons.py, caps.py, eventlog.py): the
board carries no Chinese (heap). Here, on the host, the code and the known refusal
texts are rendered in the operator's language, and the firmware's own words are kept
beside them: the exact text is evidence (the log and docs/protocol.md quote it).

serve stores a failed gateway's error with its parts (code, request, text, field for a
refusal; a key and fields for serve's own errors), so the audit renders it in whoever
reads it's language later. Rows stored before carry only an English `message`: they
are still read, a refusal's message parsed back into its parts.

A firmware refusal text with no Chinese here is a test failure
(tests/test_refusaltext.py walks every E_REFUSED/E_FULL text of firmware/gateway).
"""

import re

from gatewire import errors
from shaftgate import i18n

# ---- the error codes ----

CODES = {
    errors.E_UNKNOWN_TYPE: ("unknown-type", "未知报文类型"),
    errors.E_BAD_FIELD: ("bad-field", "字段错误"),
    errors.E_AUTH_MISSING: ("auth-missing", "指令未签名"),
    errors.E_AUTH_BAD: ("auth-bad", "签名校验失败"),
    errors.E_AUTH_REPLAY: ("auth-replay", "计数器重放"),
    errors.E_VERSION: ("version", "协议版本不兼容"),
    errors.E_REFUSED: ("refused", "拒绝"),
    errors.E_FULL: ("full", "存储已满"),
    errors.E_BAD_ENVELOPE: ("bad-envelope", "报文格式错误"),
    errors.E_INTERNAL: ("internal", "网关内部错误，状态未变"),
}
_CODE_BY_NAME = {en: code for code, (en, _) in CODES.items()}


def code_name(code):
    pair = CODES.get(code)
    if pair is None:
        return i18n.pick("code-%s" % code, "错误码 %s" % code)
    return i18n.pick(*pair)


# ---- the firmware's refusal texts ----

# What the firmware calls the refused request ("<what> refused: <why>").
_WHATS = (
    (r"evacuate", "撤人指令"),
    (r"all-clear", "解除撤人"),
    (r"seal", "封闭"),
    (r"unseal", "解封"),
    (r"permit", "签发作业票"),
    (r"revoke of permit (?P<n>\d+)", "撤销作业票 {n}"),
    (r"cap-override", "临时定员"),
    (r"cap-override-clear", "取消临时定员"),
    (r"time-set", "校时"),
    (r"recount", "清点人数"),
)

# Every text the firmware answers E_REFUSED or E_FULL with (the part after "<what>
# refused: " when it has one), as a whole-text pattern and its Chinese. Groups named
# `role` and `zone_kind` hold a firmware word, rendered through i18n's tables.
REASONS = (
    # reasons.REFUSAL_NAMES
    (r"the permit names another zone", "作业票所列区域不是本区域"),
    (r"the wall clock is not set", "网关时钟未校准"),
    (r"the permit's window is already over", "作业票有效时段已过"),
    (r"a permit with this id exists", "已有相同编号的作业票"),
    (
        r"another hot-work permit's window overlaps \(R-HOT-1\)",
        "另一张动火作业票的时段与之重叠（R-HOT-1）",
    ),
    (r"the permit book is full", "作业票簿已满"),
    (
        r"no room left for this permit's fire watch \(R-HOT-2\)",
        "已无空间记录本作业票的监火（R-HOT-2）",
    ),
    (
        r"no permit with this id in the book \(never issued, revoked or ended\): nothing changed",
        "票簿中无此编号的作业票（未签发、已撤销或已到期），未作任何更改",
    ),
    (r"no evacuation is in force: nothing changed", "当前未在撤人，未作任何更改"),
    (r"gas is not known safe \(R-GAS-1\)", "气体未确认安全（R-GAS-1）"),
    (r"no drill during a real evacuation \(R-EVAC-3\)", "实际撤人期间不得演练（R-EVAC-3）"),
    (r"the zone is already sealed: nothing changed", "区域已封闭，未作任何更改"),
    (r"the zone is not sealed: nothing changed", "区域未封闭，未作任何更改"),
    (r"no temporary cap is in force: nothing changed", "当前无临时定员，未作任何更改"),
    (r"refusal (?P<n>\d+)", "拒绝原因 {n}"),
    # gateway/app.py: who may order people out (R-EVAC-1)
    (
        r"person (?P<p>\d+) is not in this gateway's roster \(R-EVAC-1\)",
        "人员 {p} 不在本网关名册中（R-EVAC-1）",
    ),
    (
        r"person (?P<p>\d+) is a (?P<role>.+); only a team leader, the mine leader on duty "
        r"or the dispatcher may give it \(R-EVAC-1\)",
        "人员 {p} 是{role}；只有班组长、带班矿领导或调度员可下达（R-EVAC-1）",
    ),
    # gateway/certified.py check: a leader's all-clear or recount, who counted (R-ID-4)
    (
        r"person (?P<p>\d+) \((?P<field>[a-z_]+)\) is not in this gateway's roster "
        r"\(R-ID-4\)",
        "{field}（人员 {p}）不在本网关名册中（R-ID-4）",
    ),
    (
        r"the wall clock is not set: the certificate of person (?P<p>\d+) "
        r"\((?P<field>[a-z_]+)\) cannot be checked \(R-ID-4\)",
        "网关时钟未校准，无法核验{field}（人员 {p}）的资格证（R-ID-4）",
    ),
    (
        r"person (?P<p>\d+) \((?P<field>[a-z_]+)\) has no valid certificate: expired or "
        r"none on record \(R-ID-4\)",
        "{field}（人员 {p}）无有效资格证：已过期或无记录（R-ID-4）",
    ),
    # gateway/commands.py recount (R-CAP-11)
    (
        r"the zone counts (?P<n>\d+), not the (?P<was>\d+) the count was taken against: "
        r"people crossed since; count again",
        "区内计数为 {n}，而非清点时的 {was}：清点后有人通过，请重新清点",
    ),
    (r"the zone counts (?P<n>\d+) already; nothing changed", "区内计数已是 {n}，未作任何更改"),
    (
        r"(?P<found>\d+) found, but (?P<n>\d+) are in by name or remembered tag; the count "
        r"never goes below them \(R-CAP-11\)",
        "清点为 {found} 人，但区内有 {n} 人按名册或记忆标签在册；计数不得低于此数（R-CAP-11）",
    ),
    (
        r"the zone's state is unconfirmed since a lost snapshot; a recount may only raise "
        r"the count until the all-clear",
        "快照丢失后区域状态尚未确认：解除前清点只能增加计数",
    ),
    (
        r"recount not logged \(event log full\); nothing changed",
        "清点未能记录（事件记录已满），未作任何更改",
    ),
    # gateway/commands.py
    (r"gateway_id is set at provisioning only", "gateway_id 只能在初始配置时设定"),
    (
        r"another command is in progress: send again once it has answered",
        "另一条指令正在执行：待其应答后再发送",
    ),
    (
        r"a roster commit or another command is in progress: send again once it has answered",
        "名册提交或另一条指令正在执行：待其应答后再发送",
    ),
    (
        r"a config-set is in progress: send again once it has answered",
        "配置更改正在执行：待其应答后再发送",
    ),
    (
        r"roster part (?P<n>\d+) out of sequence: start again with part 0",
        "名册分段 {n} 顺序错误：请从第 0 段重新开始",
    ),
    (
        r"worker (?P<p>\d+) is not in this gateway's roster \(R-HOT-3\)",
        "作业人员 {p} 不在本网关名册中（R-HOT-3）",
    ),
    (
        r"fire-watcher (?P<p>\d+) is not in this gateway's roster \(R-HOT-2\)",
        "监火人 {p} 不在本网关名册中（R-HOT-2）",
    ),
    (
        r"temporary cap (?P<cap>\d+) is below the (?P<n>\d+) people in the zone; set "
        r"below_count to order it anyway \(R-CAP-11\)",
        "临时定员 {cap} 低于区内现有的 {n} 人；确需下达时请设置 below_count（R-CAP-11）",
    ),
    (
        r"it would move the clock back (?P<s>\d+) s; more than (?P<max>\d+) s back needs "
        r"the backwards flag",
        "将使时钟回拨 {s} 秒；回拨超过 {max} 秒须加 backwards 标志",
    ),
    # gateway/caps.py check_override (commands.py answers its ValueError E_REFUSED)
    (
        r"temporary cap (?P<cap>\d+) for a (?P<zone_kind>.+) is above the legal (?P<top>\d+)",
        "临时定员 {cap} 超过{zone_kind}的法定定员 {top}",
    ),
    (
        r"temporary cap needs the wall clock set, to know when it ends",
        "临时定员须在网关时钟校准后设定，才能确定何时结束",
    ),
    (r"temporary cap expiry: expected unix seconds", "临时定员结束时间应为 Unix 秒"),
    (
        r"temporary cap would end at the gateway's clock; it must end after it",
        "临时定员的结束时间等于网关当前时钟；必须晚于当前时钟",
    ),
    (
        r"temporary cap would end (?P<s>\d+) s before the gateway's clock; it must end after it",
        "临时定员的结束时间早于网关时钟 {s} 秒；必须晚于当前时钟",
    ),
    (
        r"temporary cap would last (?P<s>\d+) s; at most (?P<max>\d+) s \(7 days\) from the "
        r"gateway's clock",
        "临时定员将持续 {s} 秒；自网关时钟起最多 {max} 秒（7 天）",
    ),
    # gateway/app.py and eventlog.py: the event log has no room (E_FULL)
    (
        r"event log full: (?P<n>\d+) events await acknowledgement; ack, then resend",
        "事件记录已满：{n} 条事件待确认；请先确认，再重发",
    ),
    (
        r"event log full: (?P<n>\d+) events await acknowledgement",
        "事件记录已满：{n} 条事件待确认",
    ),
    (r"event log sequence numbers exhausted", "事件记录序号已用尽"),
    (r"file system full", "网关文件系统已满"),
)

_WHAT_RES = tuple((re.compile(p + r"\Z"), zh) for p, zh in _WHATS)
_REASON_RES = tuple((re.compile(p + r"\Z"), zh) for p, zh in REASONS)
_PREFIX = re.compile(r"(?P<what>.+?) refused: (?P<why>.+)\Z", re.S)


# The request fields a refusal names a person by (gateway/certified.py check).
_FIELDS_ZH = {"by": "下令人", "counted_by": "清点人"}


def _word(group, value):
    if group == "field":
        return _FIELDS_ZH.get(value, value)
    if group == "role":
        code = i18n.ROLE_WORDS.get(value.lower())
        if code is None and value.startswith("role "):
            return "角色 %s" % value[5:]
        return i18n.ROLES[code][1] if code is not None else value
    if group == "zone_kind":
        pair = i18n.ZONE_KINDS.get(value)
        return pair[1] if pair else value
    return value


def _fill(table, text):
    for pattern, zh in table:
        m = pattern.match(text)
        if m is not None:
            return zh.format(**{k: _word(k, v) for k, v in m.groupdict().items()})
    return None


def reason_zh(text, request_zh=None):
    """The firmware's refusal text in Chinese, or None when it is not a known one. The
    firmware's "<what> refused: " is left out when it names request_zh again."""
    zh = _fill(_REASON_RES, text)
    if zh is not None:
        return zh
    m = _PREFIX.match(text)
    if m is None:
        return None
    what = _fill(_WHAT_RES, m.group("what"))
    why = _fill(_REASON_RES, m.group("why"))
    if what is None or why is None:
        return None
    if what == request_zh:
        return why
    return "%s%s被拒：%s" % (what, " " if what[-1].isdigit() else "", why)


# ---- a refusal, as the dispatcher reads it ----


def _request_zh(request):
    from gatewire import messages

    try:
        code = messages.code_of(request)
    except (ValueError, KeyError, TypeError):
        code = None
    pair = i18n.COMMANDS.get(code)
    return pair[1] if pair else request


def _who_zh(who):
    m = re.match(r"gateway (\S+)\Z", who)
    if m:
        return "网关 %s " % m.group(1)
    m = re.match(r"the gateway on (.+)\Z", who)
    if m:
        return "%s 上的网关" % m.group(1)
    return who


def refusal(who, request, code, text, field=None):
    """A gateway's ERROR reply in the operator's language. English is the text the CLI
    has always printed; Chinese renders the code and the reason and keeps the
    firmware's words beside them."""
    pair = CODES.get(code)
    name = pair[0] if pair else "code-%s" % code
    field_en = ", field %s" % field if field else ""
    shown = text
    echo = "%s refused: " % request
    if shown.startswith(echo):
        shown = shown[len(echo) :]  # the firmware says what it refused; once is enough
    if i18n.lang() != "zh":
        return "%s refused %s: %s (%s%s)" % (who, request, shown, name, field_en)
    request_zh = _request_zh(request)
    why = None
    if code in (errors.E_REFUSED, errors.E_FULL):
        why = reason_zh(shown, request_zh) or reason_zh(text, request_zh)
    field_zh = "，字段 %s" % field if field else ""
    head = "%s拒绝%s" % (_who_zh(who), request_zh)
    if why is None:
        return "%s（%s%s）〔网关原文：%s〕" % (head, code_name(code), field_zh, text)
    return "%s：%s（%s%s）〔网关原文：%s〕" % (head, why, code_name(code), field_zh, text)


def timeout(who, request, req_id, timeout_s, arrived, mutating):
    meanwhile = "; ".join(arrived) if arrived else i18n.t("err_nothing_arrived")
    text = i18n.t(
        "err_timeout",
        who=_who_zh(who).strip() if i18n.lang() == "zh" else who,
        request=_request_zh(request) if i18n.lang() == "zh" else request,
        req_id=req_id,
        secs="%.1f" % timeout_s,
        meanwhile=meanwhile,
    )
    if mutating:
        req = _request_zh(request) if i18n.lang() == "zh" else request
        text += i18n.t("err_maybe_carried_out", request=req)
    return text


# ---- errors as serve stores them, and as the CLI prints them ----


def error_record(e):
    """{"type", "message"} and the parts to render it again in any language, for the
    order audit. `message` stays the English text (what older readers show)."""
    from shaftgate.link.client import GatewayError, GatewayTimeout

    out: dict[str, object] = {"type": type(e).__name__, "message": str(e)}
    if isinstance(e, GatewayError):
        out.update(who=e.who, request=e.request, code=e.code, text=e.text, field=e.field)
    elif isinstance(e, GatewayTimeout):
        out.update(
            key="timeout",
            fields={
                "who": e.who,
                "request": e.request,
                "req_id": e.req_id,
                "timeout_s": e.timeout_s,
                "arrived": e.arrived,
                "mutating": e.mutating,
            },
        )
    elif getattr(e, "key", None) in i18n.MESSAGES:
        out.update(key=e.key, fields=dict(e.fields))
    return out


def serve_error(kind, key, **fields):
    """One of serve's own errors (no answer, queue full...): the key and its fields, and
    the English text as `message`."""
    # English from the table itself: serve's threads share one language setting.
    message = i18n.MESSAGES[key][0].format(**fields)
    return {"type": kind, "message": message, "key": key, "fields": fields}


def _rendered(fields):
    # A field that is itself a stored error (why a link is down) in this language.
    return {k: stored(v) if isinstance(v, dict) else v for k, v in fields.items()}


# "gateway G1 refused seal: ... (refused, field by)": rows stored before the parts were.
_OLD_REFUSAL = re.compile(
    r"(?P<who>.+?) refused (?P<request>\S+): (?P<text>.*) \((?P<code>[a-z-]+)"
    r"(?:, field (?P<field>\S+))?\)\Z",
    re.S,
)


_OLD_NO_ANSWER = {
    "no answer yet": "err_no_answer_yet",
    "no answer within the order's time: it may or may not have been carried out; check "
    "status": "err_order_time",
    "no answer within the order's time": "err_order_time_short",
}


def stored(err):
    """A stored error (serve's order audit) in the operator's language."""
    if not isinstance(err, dict):
        return str(err)
    message = err.get("message", "")
    if "code" in err and "text" in err:
        return refusal(
            err.get("who") or "gateway %s" % err.get("gateway_id", "?"),
            err.get("request", "?"),
            err["code"],
            err["text"],
            err.get("field"),
        )
    key = err.get("key")
    fields = err.get("fields") or {}
    try:
        if key == "timeout":
            return timeout(
                fields["who"],
                fields["request"],
                fields["req_id"],
                fields["timeout_s"],
                fields.get("arrived") or [],
                fields.get("mutating"),
            )
        if key in i18n.MESSAGES:
            return i18n.t(key, **_rendered(fields))
    except (KeyError, IndexError, ValueError, TypeError):
        return message  # a row from another version: its English words, as stored
    if err.get("type") == "GatewayError":
        m = _OLD_REFUSAL.match(message)
        if m is not None and m.group("code") in _CODE_BY_NAME:
            request = m.group("request")
            return refusal(
                m.group("who"),
                request,
                _CODE_BY_NAME[m.group("code")],
                m.group("text"),
                m.group("field"),
            )
    if err.get("type") == "NoAnswer" and message in _OLD_NO_ANSWER:
        return i18n.t(_OLD_NO_ANSWER[message])
    return message


_NO_ANSWER_KINDS = ("NoAnswer", "NotConnected", "GatewayTimeout", "LinkError")


def kind(err):
    """What became of an order at one gateway, in words (not the exception's class)."""
    name = err.get("type", "?") if isinstance(err, dict) else "?"
    if name == "GatewayError":
        return i18n.t("err_kind_refused")
    if name in _NO_ANSWER_KINDS:
        return i18n.t("err_kind_no_answer")
    return i18n.t("err_kind_failed", kind=name)


def exception_text(e):
    """What the CLI prints for an error, in the operator's language."""
    from shaftgate.link.client import GatewayError, GatewayTimeout

    if isinstance(e, GatewayError | GatewayTimeout) or getattr(e, "key", None):
        return stored(error_record(e))
    return str(e)
