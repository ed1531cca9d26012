# ruff: noqa: RUF001
# The roster CSV (R-ID-1, R-ID-4): every typo is found and named by file, line and column
# before anything is sent; a good file becomes roster-load parts of at most 100 people.
import datetime

import pytest

from gateway import roles
from gatewire import messages
from shaftgate import roster_csv
from shaftgate.roster_csv import RosterError, chunks, parse_roster, read_roster, wire_entries

HEADER = "tag_id,person_id,name,role,cert_expiry,crew\n"


def parse(text, source="people.csv"):
    return parse_roster(text.splitlines(keepends=True), source)


def problems(text):
    with pytest.raises(RosterError) as e:
        parse(text)
    return e.value, [(p.line, p.column) for p in e.value.problems]


def test_good_roster():
    entries = parse(
        HEADER
        + "1001,501,Zhang Wei,miner,2026-03-31,production\n"
        + "1002,502,李娜,welder,2025-12-01,maintenance\n"
        + "\n"
        + "1003,503,Wang Fang,gas_inspector,none,support\n"
        + "1004,504,Contract Crew,role-20,2026-01-01,Production\n"
    )
    assert [e.tag_id for e in entries] == [1001, 1002, 1003, 1004]
    assert entries[1].name == "李娜"
    assert (entries[1].role_code, entries[1].crew_code) == (roles.WELDER, roles.CREW_MAINTENANCE)
    assert entries[2].cert_expiry is None and entries[2].crew_code == roles.CREW_NONE
    assert entries[3].role_code == 20 and entries[3].crew == "production"
    assert entries[0].cert_expiry == datetime.date(2026, 3, 31)


def test_columns_in_any_order_and_a_byte_order_mark():
    entries = parse(
        "\ufeffname,crew,tag_id,person_id,role,cert_expiry\nLi,support,7,8,rescue,none\n"
    )
    assert (entries[0].tag_id, entries[0].person_id, entries[0].role) == (7, 8, "rescue")


def test_several_typos_each_named_by_line_and_column():
    err, where = problems(
        HEADER
        + "1001,501,Zhang Wei,minr,2026-03-31,production\n"  # line 2: role
        + "10O2,502,Li Na,welder,2025-13-01,maintenance\n"  # line 3: tag, date
        + "1003,503,Wang Fang,miner,31/03/2026,prod\n"  # line 4: date, crew
        + "1004,0,,miner,2026-03-31,production\n"  # line 5: person range, empty name
    )
    assert where == [
        (2, "role"),
        (3, "tag_id"),
        (3, "cert_expiry"),
        (4, "cert_expiry"),
        (4, "crew"),
        (5, "person_id"),
        (5, "name"),
    ]
    text = str(err)
    assert "nothing was sent: 7 problems" in text
    assert "people.csv line 2, column role: 'minr' is not a role; expected one of miner," in text
    assert "people.csv line 3, column tag_id: '10O2' is not a whole number" in text
    assert "line 3, column cert_expiry: '2025-13-01' is not a date; expected" in text
    assert "line 4, column crew: 'prod' is not a crew; expected one of production," in text
    assert "line 5, column person_id: person id 0 is out of range" in text


def test_duplicate_tag_and_person_are_errors():
    _, where = problems(
        HEADER
        + "1001,501,A,miner,2026-03-31,production\n"
        + "1001,502,B,miner,2026-03-31,production\n"
        + "1003,501,C,miner,2026-03-31,production\n"
    )
    assert where == [(3, "tag_id"), (4, "person_id")]
    err, _ = problems(HEADER + "5,6,A,miner,none,support\n5,7,B,miner,none,support\n")
    assert "tag 5 is already on line 2" in str(err)


def test_header_typos():
    err, where = problems(
        "tagid,person_id,name,role,cert_expiry,crew,crew\n1,2,A,miner,none,support\n"
    )
    assert where == [(1, "tagid"), (1, "crew"), (1, "tag_id")]
    assert "unknown column" in str(err) and "column missing" in str(err)


def test_wrong_field_count_empty_cells_and_empty_files():
    _, where = problems(HEADER + "1,2,A,miner,none\n3,4,B,,none,support\n")
    assert where == [(2, None), (3, "role")]
    err, _ = problems("")
    assert "the file is empty" in str(err)
    err, _ = problems(HEADER)
    assert "no people in the roster" in str(err)


def test_ids_outside_the_wire_range_and_odd_digits():
    _, where = problems(
        HEADER
        + "%d,1,A,miner,none,support\n" % (messages.ID_MAX + 1)
        + "2,²,B,miner,none,support\n"
        + "\uff13,4,C,miner,none,support\n"  # a full-width 3
        + "5,6,D,miner,20260331,support\n"
    )
    assert where == [(2, "tag_id"), (3, "person_id"), (4, "tag_id"), (5, "cert_expiry")]


def test_read_roster_names_the_file(tmp_path):
    path = tmp_path / "night shift.csv"
    path.write_text(HEADER + "1,2,A,miner,none,supprt\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"night shift\.csv line 2, column crew"):
        read_roster(path)
    path.write_bytes(HEADER.encode() + b"1,2,\xff\xfe,miner,none,support\n")
    with pytest.raises(RosterError, match="neither UTF-8 nor GBK"):
        read_roster(path)
    with pytest.raises(RosterError, match="cannot read"):
        read_roster(tmp_path / "missing.csv")


def test_certificate_valid_through_its_last_local_day():
    day = datetime.date(2026, 3, 31)
    # 2026-04-01 00:00 at UTC+8 is 2026-03-31 16:00 UTC.
    expected = int(datetime.datetime(2026, 3, 31, 16, tzinfo=datetime.UTC).timestamp())
    assert roster_csv.cert_expiry_s(day, 480) == expected
    assert roster_csv.cert_expiry_s(day, 0) == expected + 8 * 3600
    assert roster_csv.cert_expiry_s(None, 480) == 0


def test_good_roster_chunks_for_the_wire():
    lines = [HEADER] + [
        "%d,%d,Person %d,miner,2026-03-31,production\n" % (1000 + i, 5000 + i, i)
        for i in range(250)
    ]
    entries = parse("".join(lines))
    parts = chunks(wire_entries(entries, 480))
    assert [len(p) for p in parts] == [100, 100, 50]
    assert parts[0][0] == [
        1000,
        5000,
        roles.MINER,
        roster_csv.cert_expiry_s(entries[0].cert_expiry, 480),
        1,
    ]
    assert [e[0] for p in parts for e in p] == list(range(1000, 1250))
    for i, p in enumerate(parts):  # every part fits the catalogue
        messages.request("roster-load", 1, load_id=9, part=i, parts=3, entries=p, total=250)
    assert chunks([]) == [[]]


def test_names_copy_round_trip(tmp_path):
    entries = parse(HEADER + "1001,501,李娜,welder,2026-03-31,maintenance\n")
    path = tmp_path / "rosters" / "face-1.json"
    roster_csv.save_names(path, "face-1", entries)
    names = roster_csv.load_names(path)
    assert names[1001]["name"] == "李娜" and names[1001]["role"] == "welder"
    assert roster_csv.load_names(tmp_path / "none.json") == {}


def test_a_roster_clerk_reading_chinese_gets_every_problem_in_chinese():
    from shaftgate import i18n

    bad = (
        HEADER
        + "x,2,A,miner,none,support\n"
        + "1,2,B,digger,2026-13-01,night\n"
        + "1,3,,miner,none,support\n"
        + "4,5,C,miner\n"
    )
    i18n.set_lang("zh")
    try:
        error, _ = problems(bad)
    finally:
        i18n.set_lang("en")
    text = str(error)
    assert text.startswith("名册 people.csv 未加载，未发送任何内容：8 处问题"), text
    for said in (
        "people.csv 第 2 行，tag_id 列: 'x' 不是整数；标签编号应为 1..",
        "第 3 行，person_id 列: 人员 2 已在第 2 行持有标签（R-ID-1：一人一卡）",
        "第 3 行，role 列: 'digger' 不是岗位；应为 采掘工、班组长、",
        "第 3 行，cert_expiry 列: '2026-13-01' 不是日期；",
        "第 3 行，crew 列: 'night' 不是班组类别；应为 生产班、检修班、辅助 之一",
        "第 4 行，tag_id 列: 标签 1 已在第 3 行",
        "第 4 行，name 列: 为空",
        "people.csv 第 5 行: 本行 4 个字段，表头为 6 个",
    ):
        assert said in text, (said, text)
    # the same problems, in English, where the reader reads English
    error, where = problems(bad)
    assert str(error).startswith("roster people.csv not loaded, nothing was sent: 8 problems")
    assert "line 3, column crew: 'night' is not a crew; expected one of production" in str(error)
    assert len(where) == 8
