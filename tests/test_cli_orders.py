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
    assert "NOT carried out at gw-face2 (face-2): NoAnswer: link lost" in lines[1]


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
    assert "未在 gw-face2 (face-2) 执行：NoAnswer：link lost" in text
    assert orders_text([], TZ) == "无命令记录"
