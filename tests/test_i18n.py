# ruff: noqa: RUF001 (full-width Chinese punctuation)
# Chinese first-class: the catalogue is complete in both languages, the language follows
# --lang and the locale, events read the same in the CLI and the views, CJK columns line
# up, the roster takes Chinese words and GBK files, times carry the mine's zone.
import re
import string
from pathlib import Path

import pytest

from gateway import events as ev
from shaftgate import eventtext, i18n, minetime, render, roster_csv
from shaftgate.link.client import EVENT_KIND_NAMES


@pytest.fixture
def lang():
    def use(code):
        i18n.set_lang(code)

    yield use
    i18n.set_lang(None)
    minetime.set_zone(None)


def _fields(fmt):
    return sorted(f for _, f, _, _ in string.Formatter().parse(fmt) if f)


def test_every_message_has_both_languages_with_the_same_fields():
    for key, (en, zh) in i18n.MESSAGES.items():
        assert en and zh, key
        assert _fields(en) == _fields(zh), key
        if key.startswith(("col_", "ev_", "alarm_", "trace_", "occ_")):
            assert re.search(r"[\u4e00-\u9fff]", zh) or "{" in zh, "%s: zh has no Chinese" % key


def test_every_code_table_names_each_code_in_both_languages():
    assert set(EVENT_KIND_NAMES) <= set(i18n.KINDS)
    for table in (i18n.KINDS, i18n.ROLES, i18n.CREWS, i18n.ZONE_KINDS, i18n.REFUSALS):
        for code, (en, zh) in table.items():
            assert en and re.search(r"[\u4e00-\u9fff]", zh), (code, en, zh)
    from shaftgate.station import site

    assert set(site.KINDS) == set(i18n.ZONE_KINDS)


def test_language_from_the_locale():
    assert i18n.lang_from_env({"LANG": "zh_CN.UTF-8"}) == "zh"
    assert i18n.lang_from_env({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"}) == "en"
    assert i18n.lang_from_env({"LC_ALL": "zh_TW.GB18030", "LANG": "C"}) == "zh"
    assert i18n.lang_from_env({"LANG": "C.UTF-8"}) == "en"
    assert i18n.lang_from_env({}) == "en"
    with pytest.raises(ValueError):
        i18n.set_lang("fr")


def test_one_event_text_names_people_and_commands_in_both_languages(lang):
    people = eventtext.People({1001: {"person_id": 501, "name": "王伟", "role": "miner"}})
    entry = {"kind": ev.ENTRY, "tag": 1001, "a": 501, "b": 3}
    command = {"kind": ev.COMMAND, "tag": 17, "a": 0, "b": 1546979811}
    lang("en")
    assert eventtext.describe(entry, people) == "王伟 (miner), 3 in zone"
    assert eventtext.describe(command) == "time-set accepted"
    assert eventtext.describe(dict(entry, a=508)) == "person 508, 3 in zone"
    lang("zh")
    assert eventtext.describe(entry, people) == "王伟 (采掘工)，区内 3 人"
    assert eventtext.describe(command) == "校时已执行"
    assert i18n.kind_name(ev.GAS_OVER) == "气体超限"
    # the demo's live view says the same as the CLI's table
    from shaftgate.sim import view

    assert view.event_text(command) == eventtext.describe(command)


def test_reader_data_lost_reads_as_an_alarm_that_someone_may_be_uncounted(lang):
    # R-DATA-1: events.READER_DATA_LOST (a point, b lines), raised as a latched alarm.
    from shaftgate.station import alarms

    inner = {"kind": ev.READER_DATA_LOST, "tag": 0, "a": 1, "b": 23}
    outer = dict(inner, a=0, b=1)
    lang("en")
    assert eventtext.describe(inner) == (
        "inner reader lost 23 line(s): someone may not have been counted"
    )
    lang("zh")
    assert eventtext.describe(inner) == "内侧读卡器数据丢失 23 行：可能有人未被计数"
    assert eventtext.describe(outer) == "外侧读卡器数据丢失 1 行：可能有人未被计数"
    assert i18n.kind_name(ev.READER_DATA_LOST) == "读卡器数据丢失"
    assert ev.READER_DATA_LOST in alarms.LATCHED_KINDS


def test_cjk_columns_line_up(lang):
    lang("zh")
    out = render.table(("姓名", "岗位", "n"), [("王伟", "班组长", 1), ("Li", "miner", 22)])
    lines = out.splitlines()
    # the column after each cell starts at the same terminal column on every line
    starts = {
        render.text_width(line[: line.index(c)]) for line, c in zip(lines[2:], "12", strict=True)
    }
    assert starts == {render.text_width(lines[0][: lines[0].index("n")])}
    second = {
        render.text_width(line[: line.index(w)])
        for line, w in zip(lines, ("岗位", "--", "班组长", "miner"), strict=True)
        if w != "--"
    }
    assert second == {render.text_width("王伟  ")}


def test_times_are_in_the_mine_zone_and_say_so(lang):
    minetime.set_zone("Asia/Shanghai")
    assert render.local_time(1_750_000_000, with_zone=True) == "2025-06-15 23:06:40 UTC+8"
    assert minetime.label() == "Asia/Shanghai UTC+8"
    assert minetime.parse("2025-06-15 23:06:40", 0) == 1_750_000_000
    assert minetime.parse("2025-06-15T15:06:40+00:00", 0) == 1_750_000_000
    assert minetime.parse("-2h", 10_000) == 10_000 - 7200
    assert minetime.parse("yesterday-ish", 0) is None


HEADER = "tag_id,person_id,name,role,cert_expiry,crew\n"
ROWS = "1001,501,王伟,班组长,2031-01-01,生产班\n1002,502,李娜,电焊工,none,检修班\n1003,503,张磊,miner,none,辅助\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_roster_in_chinese_words_and_excel_encodings(tmp_path, encoding):
    path = tmp_path / "roster.csv"
    path.write_bytes((HEADER + ROWS).encode(encoding))
    entries = roster_csv.read_roster(path)
    assert [e.name for e in entries] == ["王伟", "李娜", "张磊"]
    assert [e.role for e in entries] == ["team_leader", "welder", "miner"]
    assert [e.crew for e in entries] == ["production", "maintenance", "support"]


def test_roster_refuses_a_word_that_is_no_role(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes((HEADER + "1001,501,王伟,矿长助理,none,生产班\n").encode("gbk"))
    with pytest.raises(roster_csv.RosterError, match="矿长助理"):
        roster_csv.read_roster(path)


def test_every_way_the_demo_ends_is_said_in_chinese():
    from shaftgate.sim import demo

    source = Path(demo.__file__).read_text()
    said = set(
        re.findall(r'ended_by = (?:self\.ended_by or |demo\.ended_by or )?"([^"]+)"', source)
    )
    said.add("it could not start")
    assert len(said) >= 6, said
    assert said <= set(i18n.DEMO_ENDED), said - set(i18n.DEMO_ENDED)
    i18n.set_lang("zh")
    try:
        text = i18n.t("demo_stopped", s="12", why=i18n.DEMO_ENDED["Ctrl-C"], home="/h")
    finally:
        i18n.set_lang("en")
    assert text.startswith("运行 12 秒后停止（Ctrl-C 中止）；所有板卡已断电。")
