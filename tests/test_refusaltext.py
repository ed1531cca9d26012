# ruff: noqa: RUF001  (the Chinese text uses full-width punctuation on purpose)
"""Every refusal the firmware can send (E_REFUSED, E_FULL) has Chinese on the host
(host_tools/shaftgate/refusaltext.py), and an error is rendered in the reader's language
with the firmware's words kept beside it. The board itself carries English only."""

import ast
import itertools
import re
from pathlib import Path

import pytest

from gateway import reasons
from gatewire.errors import E_BAD_FIELD, E_FULL, E_REFUSED
from shaftgate import i18n, refusaltext
from shaftgate.link.client import GatewayError, GatewayTimeout

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware" / "gateway"
CODES = ("E_REFUSED", "E_FULL")
# What fills a %s in a firmware text: a request word, a role, a zone kind, caps.py's
# "at" / "N s before". Every combination is tried; one must be known.
S_SAMPLES = ("evacuate", "miner", "coal_face", "at", "7 s before")
# Sites that answer E_REFUSED with the text of an exception raised elsewhere: each
# names where its texts come from (a function whose `raise ValueError(...)` texts are
# checked too), or None where the texts cannot be listed (rendered with the code's name
# and the firmware's words only). A new such site fails the test until it is listed.
DYNAMIC = {
    ("commands.py", "cap_override"): ("caps.py", "check_override"),
    ("app.py", "_run_job"): None,  # a roster/config phase's ValueError (field entries)
}


@pytest.fixture(autouse=True)
def _lang():
    yield
    i18n.set_lang(None)


def _fmt(node):
    # A text argument as a format string: a literal, or a literal % something.
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _fmt(node.left)
    return None


def _samples(fmt):
    slots = re.findall(r"%[dsr]", fmt)
    parts = re.split(r"%[dsr]", fmt)
    choices = [("7",) if s == "%d" else S_SAMPLES for s in slots]
    for combo in itertools.product(*choices):
        yield "".join(p + v for p, v in zip(parts, (*combo, ""), strict=True))


def _call_name(node):
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)


def _is_code(node):
    return isinstance(node, ast.Name) and node.id in CODES


def _calls(node, fn_name):
    # Every call with the name of the function it is written in (the innermost).
    for child in ast.iter_child_nodes(node):
        inner = child.name if isinstance(child, ast.FunctionDef) else fn_name
        if isinstance(child, ast.Call):
            yield fn_name, child
        yield from _calls(child, inner)


def firmware_refusals(sources):
    """{file: source} -> (texts, whats, dynamic): the format strings answered with
    E_REFUSED/E_FULL, the request words passed to _refused/_order_giver, and the
    (file, function) sites whose text is not a literal."""
    texts, whats, dynamic = set(), set(), set()
    for fname, source in sources.items():
        for fn_name, node in _calls(ast.parse(source), "<module>"):
            name = _call_name(node)
            text = None
            if name in ("ProtocolError", "error_reply"):
                for i, a in enumerate(node.args[:-1]):
                    if _is_code(a):
                        text = node.args[i + 1]
                        break
            elif name == "LogFull" and node.args:
                text = node.args[0]
            elif name in ("_refused", "_order_giver") and len(node.args) == 2:
                w = _fmt(node.args[1])
                if w is not None:
                    whats.add(w)
                continue
            if text is None or fn_name == "_refused":
                continue  # _refused's own "%s refused: %s": reasons.REFUSAL_NAMES, below
            fmt = _fmt(text)
            if fmt is None:
                dynamic.add((fname, fn_name))
            else:
                texts.add(fmt)
    return texts, whats, dynamic


def _value_errors(source, function):
    out = set()
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef) and fn.name == function:
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Raise)
                    and isinstance(node.exc, ast.Call)
                    and _call_name(node.exc) == "ValueError"
                    and node.exc.args
                ):
                    fmt = _fmt(node.exc.args[0])
                    assert fmt is not None, "a ValueError text in %s is no literal" % function
                    out.add(fmt)
    assert out, "no ValueError texts found in %s" % function
    return out


def untranslated(sources):
    """Every firmware refusal text (as a format string) that has no Chinese here, and
    every dynamic site not listed in DYNAMIC."""
    texts, whats, dynamic = firmware_refusals(sources)
    missing = [("dynamic site", site) for site in sorted(dynamic - set(DYNAMIC))]
    for site in sorted(dynamic & set(DYNAMIC)):
        origin = DYNAMIC[site]
        if origin is not None:
            texts |= _value_errors(sources[origin[0]], origin[1])
    # _refused(result, what): "<what> refused: <reasons.refusal_name(result)>"
    texts |= {"%s refused: " + r for r in reasons.REFUSAL_NAMES[1:]}
    texts.add("%s refused: refusal %d")
    for fmt in sorted(texts):
        if not any(refusaltext.reason_zh(s) for s in _samples(fmt)):
            missing.append(("text", fmt))
    for w in sorted(whats):
        if not any(
            refusaltext.reason_zh(s + " refused: the permit book is full") for s in _samples(w)
        ):
            missing.append(("request word", w))
    return missing


def _firmware_sources():
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(FIRMWARE.glob("*.py"))}


def test_every_firmware_refusal_has_chinese():
    sources = _firmware_sources()
    texts, whats, _ = firmware_refusals(sources)
    # the walk finds what it should: a sample of the texts known today
    assert "%s refused: person %d is not in this gateway's roster (R-EVAC-1)" in texts
    assert "event log sequence numbers exhausted" in texts
    assert {"seal", "unseal", "evacuate", "all-clear", "permit"} <= whats
    assert untranslated(sources) == []


def test_a_new_firmware_refusal_without_chinese_fails_the_check():
    sources = _firmware_sources()
    sources["new.py"] = (
        "def _cmd_x(gw):\n"
        "    raise ProtocolError(E_REFUSED, 'x refused: the moon is full (%d)' % 3, None)\n"
        "def _cmd_y(gw):\n"
        "    gw._refused(5, 'dig')\n"
        "def _cmd_z(gw, e):\n"
        "    raise ProtocolError(E_FULL, str(e), None)\n"
    )
    assert untranslated(sources) == [
        ("dynamic site", ("new.py", "_cmd_z")),
        ("text", "x refused: the moon is full (%d)"),
        ("request word", "dig"),
    ]


def test_an_unknown_text_has_no_chinese_rather_than_a_guess():
    assert refusaltext.reason_zh("seal refused: the moon is full") is None
    assert refusaltext.reason_zh("the zone is already sealed: nothing changed, really") is None
    assert refusaltext.reason_zh("seal refused: the zone is already sealed: nothing changed") == (
        "封闭被拒：区域已封闭，未作任何更改"
    )


def test_a_refusal_in_each_language_keeps_the_firmware_words_in_chinese():
    e = GatewayError(
        "G1", "seal", E_REFUSED, "seal refused: the zone is already sealed: nothing changed"
    )
    i18n.set_lang("en")
    assert refusaltext.exception_text(e) == str(e)  # English as it always was
    assert (
        str(e) == "gateway G1 refused seal: the zone is already sealed: nothing changed (refused)"
    )
    i18n.set_lang("zh")
    assert refusaltext.exception_text(e) == (
        "网关 G1 拒绝封闭：区域已封闭，未作任何更改（拒绝）"
        "〔网关原文：seal refused: the zone is already sealed: nothing changed〕"
    )
    # not a refusal with known words: the code's name in Chinese and the words as sent
    bad = GatewayError("G1", "config-set", E_BAD_FIELD, "warn_pct: must be 50..95", "warn_pct")
    assert refusaltext.exception_text(bad) == (
        "网关 G1 拒绝参数设置（字段错误，字段 warn_pct）〔网关原文：warn_pct: must be 50..95〕"
    )
    full = GatewayError(
        "G1", "seal", E_FULL, "event log full: 4000 events await acknowledgement; ack, then resend"
    )
    assert (
        "事件记录已满：4000 条事件待确认；请先确认，再重发（存储已满）"
        in refusaltext.exception_text(full)
    )


def test_an_uncertified_giver_or_counter_is_named_by_their_part_in_the_order():
    # R-ID-4 (gateway/certified.py check): the field that named the person is said
    # as who they are in the order.
    i18n.set_lang("zh")
    texts = (
        "recount refused: person 1015 (counted_by) has no valid certificate: expired or none "
        "on record (R-ID-4)",
        "all-clear refused: the wall clock is not set: the certificate of person 1012 (by) "
        "cannot be checked (R-ID-4)",
        "recount refused: person 4242 (counted_by) is not in this gateway's roster (R-ID-4)",
    )
    got = [refusaltext.reason_zh(t, request_zh="清点人数") for t in texts]
    assert got == [
        "清点人（人员 1015）无有效资格证：已过期或无记录（R-ID-4）",
        "解除撤人被拒：网关时钟未校准，无法核验下令人（人员 1012）的资格证（R-ID-4）",
        "清点人（人员 4242）不在本网关名册中（R-ID-4）",
    ]
    e = GatewayError("G1", "recount", E_REFUSED, texts[0], "counted_by")
    assert refusaltext.exception_text(e).startswith(
        "网关 G1 拒绝清点人数：清点人（人员 1015）无有效资格证"
    )
    i18n.set_lang("en")
    assert refusaltext.exception_text(e) == (
        "gateway G1 refused recount: person 1015 (counted_by) has no valid certificate: "
        "expired or none on record (R-ID-4) (refused, field counted_by)"
    )


def test_a_timeout_on_an_order_says_it_may_have_been_carried_out_in_chinese():
    e = GatewayTimeout("G1", "seal", 5, 2.0, [], None, mutating=True)
    i18n.set_lang("en")
    assert refusaltext.exception_text(e) == str(e)
    assert "may or may not have been carried out: check status first" in str(e)
    i18n.set_lang("zh")
    text = refusaltext.exception_text(e)
    assert text == (
        "网关 G1 在 2.0 秒内未应答封闭（请求 5）；期间：未收到任何报文；"
        "封闭可能已执行，也可能未执行：请先查询状态"
    )
    quiet = GatewayTimeout("G1", "status", 6, 2.0, ["event 3"], None)
    assert "可能已执行" not in refusaltext.exception_text(quiet)


def test_stored_errors_round_trip_through_json_and_old_rows_still_read():
    import json

    e = GatewayError(
        "G1", "unseal", E_REFUSED, "unseal refused: the zone is not sealed: nothing changed"
    )
    rec = json.loads(json.dumps(refusaltext.error_record(e)))
    assert rec["message"] == str(e)  # the English text is kept for older readers
    i18n.set_lang("zh")
    assert refusaltext.stored(rec).startswith("网关 G1 拒绝解封：区域未封闭，未作任何更改（拒绝）")
    # a row stored before the parts were: its English message parsed back
    old = {"type": "GatewayError", "message": str(e)}
    assert refusaltext.stored(old).startswith("网关 G1 拒绝解封：区域未封闭，未作任何更改（拒绝）")
    assert refusaltext.stored({"type": "NoAnswer", "message": "no answer yet"}) == "尚无应答"
    # anything else old is shown as stored, never dropped
    assert refusaltext.stored({"type": "LinkError", "message": "read failed"}) == "read failed"
    i18n.set_lang("en")
    assert refusaltext.stored(rec) == str(e)


def test_the_request_is_named_once_and_a_permit_number_kept():
    i18n.set_lang("zh")
    e = GatewayError(
        "G1",
        "permit-issue",
        E_REFUSED,
        "permit refused: worker 5 is not in this gateway's roster (R-HOT-3)",
        "workers",
    )
    assert refusaltext.exception_text(e).startswith(
        "网关 G1 拒绝签发作业票：作业人员 5 不在本网关名册中（R-HOT-3）（拒绝，字段 workers）"
    )
    e = GatewayError(
        "G1",
        "permit-revoke",
        E_REFUSED,
        "revoke of permit 77 refused: no permit with this id in the book (never issued, "
        "revoked or ended): nothing changed",
    )
    assert refusaltext.exception_text(e).startswith(
        "网关 G1 拒绝撤销作业票：撤销作业票 77 被拒：票簿中无此编号的作业票"
    )


def test_the_order_table_through_serve_says_the_refusal_in_the_reader_language():
    from shaftgate.cli.through import order_table

    e = GatewayError(
        "G1", "seal", E_REFUSED, "seal refused: the zone is already sealed: nothing changed"
    )
    reply = {
        "order_id": 3,
        "command": "seal",
        "results": [
            {"gateway_id": "G1", "zone": "face", "error": refusaltext.error_record(e)},
            {
                "gateway_id": "G2",
                "zone": "face2",
                "error": refusaltext.serve_error("NoAnswer", "err_order_time"),
            },
        ],
    }
    i18n.set_lang("zh")
    text = order_table(reply)
    assert "REFUSED 拒绝: 网关 G1 拒绝封闭：区域已封闭，未作任何更改（拒绝）〔网关原文：" in text
    assert "NO ANSWER 无应答: 在指令时限内无应答：可能已执行，也可能未执行；请先查询状态" in text
    assert text.splitlines()[0] == "指令 3（seal）："
    assert text.splitlines()[-1] == "已执行 0/2 台；拒绝或失败：G1；无应答，未执行：G2"
    i18n.set_lang("en")
    text = order_table(reply)
    assert "REFUSED 拒绝: %s" % e in text
    assert "NO ANSWER 无应答: no answer within the order's time: it may or may not" in text
    assert text.splitlines()[0] == "order 3 (seal):"
    assert text.splitlines()[-1] == (
        "done at 0 of 2; REFUSED or failed at: G1; NO ANSWER, not carried out at: G2"
    )


def test_what_became_of_an_order_is_said_in_words_not_an_exception_class():
    e = GatewayError("G1", "seal", E_REFUSED, "seal refused: nothing changed")
    refused = refusaltext.error_record(e)
    silent = refusaltext.serve_error("NotConnected", "err_order_time")
    other = {"type": "ValueError", "message": "bad"}
    i18n.set_lang("zh")
    assert [refusaltext.kind(x) for x in (refused, silent, other)] == [
        "拒绝",
        "无应答",
        "失败（ValueError）",
    ]
    i18n.set_lang("en")
    assert [refusaltext.kind(x) for x in (refused, silent, other)] == [
        "refused",
        "no answer",
        "failed (ValueError)",
    ]
