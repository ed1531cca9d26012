# ruff: noqa: RUF001  (the Chinese text uses full-width colons on purpose)
"""`shaftgate orders`: the audit a dispatcher reads says which gateways did not carry an
order out and why, in the operator's language and the mine's time."""

import pytest

from shaftgate import i18n
from shaftgate.cli.station import orders_text

TZ = "Asia/Shanghai"


def _order(results, **kw):
    o = {
        "id": 7,
        "received_s": 1_796_000_000,
        "operator": "wang",
        "command": "evacuate",
        "args": {},
        "targets": ["gw-shaft", "gw-face2"],
        "reason": "gas at face 2",
        "results": results,
        "finished_s": 1_796_000_003,
    }
    o.update(kw)
    return o


OK = {"gateway_id": "gw-shaft", "zone": "shaft", "result": {"ok": True}}
LOST = {
    "gateway_id": "gw-face2",
    "zone": "face-2",
    "error": {"type": "NoAnswer", "message": "link lost"},
}


@pytest.fixture(autouse=True)
def _lang():
    yield
    i18n.set_lang(None)


def test_a_gateway_that_did_not_carry_out_the_order_is_named_with_its_error():
    i18n.set_lang("en")
    text = orders_text([_order([OK, LOST])], TZ)
    lines = text.splitlines()
    assert "answered 1/2" in lines[0] and "why: gas at face 2" in lines[0]
    assert " CST " in lines[0]
    assert len(lines) == 2
    assert "NOT carried out at gw-face2 (face-2): no answer: link lost" in lines[1]


def test_an_order_carried_out_everywhere_has_no_failure_line():
    i18n.set_lang("en")
    text = orders_text([_order([OK], targets=["gw-shaft"])], TZ)
    assert "answered 1/1" in text and "NOT carried out" not in text
    assert len(text.splitlines()) == 1


def test_an_unfinished_order_says_so_instead_of_zero_answers():
    i18n.set_lang("en")
    text = orders_text([_order(None, finished_s=None)], TZ)
    assert "in progress" in text and "answered" not in text


def test_chinese():
    i18n.set_lang("zh")
    text = orders_text([_order([OK, LOST])], TZ)
    assert "已执行 1/2" in text and "理由：gas at face 2" in text
    assert "未在 gw-face2 (face-2) 执行：无应答：link lost" in text
    assert orders_text([], TZ) == "无命令记录"


# A refusal and a silence as serve stores them now (station/control.py: the parts beside
# the English message), and a refusal as rows stored before hold it (the message only).
REFUSED = {
    "gateway_id": "gw-face2",
    "zone": "face-2",
    "error": {
        "type": "GatewayError",
        "message": "gateway gw-face2 refused seal: the zone is already sealed: nothing changed "
        "(refused)",
        "who": "gateway gw-face2",
        "request": "seal",
        "code": 7,
        "text": "seal refused: the zone is already sealed: nothing changed",
        "field": None,
    },
}
SILENT = {
    "gateway_id": "gw-face3",
    "zone": "face-3",
    "error": {
        "type": "NoAnswer",
        "message": "no answer within the order's time: it may or may not have been carried "
        "out; check status",
        "key": "err_order_time",
        "fields": {},
    },
}
OLD_REFUSED = {
    "gateway_id": "gw-face2",
    "zone": "face-2",
    "error": {"type": "GatewayError", "message": REFUSED["error"]["message"]},
}


def _seal(results):
    return _order(results, command="seal", targets=["gw-shaft", "gw-face2", "gw-face3"])


def test_a_refused_and_an_unanswered_gateway_in_english():
    i18n.set_lang("en")
    lines = orders_text([_seal([OK, REFUSED, SILENT])], TZ).splitlines()
    assert "answered 1/3" in lines[0] and len(lines) == 3
    assert lines[1].strip() == (
        "NOT carried out at gw-face2 (face-2): refused: gateway gw-face2 refused seal: "
        "the zone is already sealed: nothing changed (refused)"
    )
    assert lines[2].strip() == (
        "NOT carried out at gw-face3 (face-3): no answer: no answer within the order's time: "
        "it may or may not have been carried out; check status"
    )
    # a row stored before the parts were reads the same
    assert orders_text([_seal([OK, OLD_REFUSED, SILENT])], TZ).splitlines() == lines


def test_a_refused_and_an_unanswered_gateway_in_chinese():
    i18n.set_lang("zh")
    lines = orders_text([_seal([OK, REFUSED, SILENT])], TZ).splitlines()
    assert "已执行 1/3" in lines[0] and len(lines) == 3
    assert lines[1].strip() == (
        "未在 gw-face2 (face-2) 执行：拒绝：网关 gw-face2 拒绝封闭：区域已封闭，"
        "未作任何更改（拒绝）〔网关原文：seal refused: the zone is already sealed: nothing changed〕"
    )
    assert lines[2].strip() == (
        "未在 gw-face3 (face-3) 执行：无应答：在指令时限内无应答：可能已执行，也可能未执行；"
        "请先查询状态"
    )
    old = orders_text([_seal([OK, OLD_REFUSED, SILENT])], TZ).splitlines()
    # an old row has the firmware's words without its "seal refused: " echo, as stored
    assert (
        old[1]
        .strip()
        .startswith(
            "未在 gw-face2 (face-2) 执行：拒绝：网关 gw-face2 拒绝封闭：区域已封闭，"
            "未作任何更改（拒绝）〔网关原文：the zone is already sealed: nothing changed〕"
        )
    )
