"""The roster as dispatch keeps it (R-ID-1, R-ID-4): a CSV with one person a line.

    tag_id,person_id,name,role,cert_expiry,crew
    1001,501,Zhang Wei,miner,2026-03-31,production

role: a name from gateway/roles.py (miner, team_leader, welder, ... or role-N), or its
name in English or Chinese (班组长, 电焊工: shaftgate/i18n.py);
cert_expiry: the last day the certificate is valid (ISO date), or "none" when there is
no certificate on record (the gateway then refuses the person, R-ID-4);
crew: production, maintenance, or support (no crew: inspectors, leaders, rescue; R-CAP-7),
or 生产班, 检修班, 辅助.
The file may be UTF-8 (with or without a byte-order mark) or GBK/GB18030, what Excel
saves in a Chinese locale (decode_csv).

Every problem in the file is collected and reported by line and column before anything
is sent, so a typo changes nothing on any gateway.
"""

import csv
import datetime
import io
import json
import os
from pathlib import Path
from typing import NamedTuple

from gateway import roles
from gatewire.messages import ID_MAX, ROSTER_CHUNK_MAX, ROSTER_PARTS_MAX
from shaftgate.i18n import CREW_WORDS, ROLE_WORDS, pick

COLUMNS = ("tag_id", "person_id", "name", "role", "cert_expiry", "crew")
NO_CERTIFICATE = "none"
# Crew words a dispatcher writes -> roles.CREW_* codes. "support" is the mine's word for
# the staff roles.py files under CREW_NONE.
CREWS = {
    "production": roles.CREW_PRODUCTION,
    "maintenance": roles.CREW_MAINTENANCE,
    "support": roles.CREW_NONE,
}
_CREW_WORDS = {code: word for word, code in CREWS.items()}
NAME_MAX_CHARS = 64
PROBLEMS_SHOWN = 12


class RosterProblem(NamedTuple):
    line: int  # 1 = the header; 0 = the file as a whole
    column: str | None
    text: str
    zh: str | None = None  # the same in Chinese, for a roster clerk reading zh

    def said(self):
        return pick(self.text, self.zh or self.text)


def _problem(line, column, words):
    # words: (English, Chinese), as the parsers below say a fault
    return RosterProblem(line, column, words[0], words[1])


class RosterError(ValueError):
    """The roster file cannot be loaded; problems lists every fault found, by line."""

    def __init__(self, source, problems):
        self.source = source
        self.problems = list(problems)
        shown = ["%s: %s" % (_where(source, p), p.said()) for p in self.problems[:PROBLEMS_SHOWN]]
        more = len(self.problems) - PROBLEMS_SHOWN
        if more > 0:
            shown.append(
                pick(
                    "... and %d more problem%s" % (more, "" if more == 1 else "s"),
                    "……另有 %d 处问题" % more,
                )
            )
        n = len(self.problems)
        head = pick(
            "roster %s not loaded, nothing was sent: %d problem%s"
            % (source, n, "" if n == 1 else "s"),
            "名册 %s 未加载，未发送任何内容：%d 处问题" % (source, n),
        )
        super().__init__(head + "\n  " + "\n  ".join(shown))


def _where(source, problem):
    if problem.line == 0:
        return source
    if problem.column is None:
        return pick("%s line %d", "%s 第 %d 行") % (source, problem.line)
    return pick("%s line %d, column %s", "%s 第 %d 行，%s 列") % (
        source,
        problem.line,
        problem.column,
    )


class RosterEntry(NamedTuple):
    tag_id: int
    person_id: int
    name: str
    role: str
    role_code: int
    cert_expiry: datetime.date | None
    crew: str
    crew_code: int
    line: int

    def to_json(self):
        return {
            "tag_id": self.tag_id,
            "person_id": self.person_id,
            "name": self.name,
            "role": self.role,
            "cert_expiry": self.cert_expiry.isoformat() if self.cert_expiry else None,
            "crew": self.crew,
        }


def role_words():
    words = []
    code = 1
    while True:
        word = roles.name(code)
        if not word or word.startswith("role-"):
            return words
        words.append(word)
        code += 1


_ID_WORDS = {"tag": "标签", "person": "人员"}


def _parse_id(text, what):
    # isascii: str.isdigit() also passes "²" and full-width digits.
    if not (text.isascii() and text.isdigit()):
        return None, (
            "%r is not a whole number; expected a %s id in 1..%d" % (text, what, ID_MAX),
            "%r 不是整数；%s编号应为 1..%d" % (text, _ID_WORDS[what], ID_MAX),
        )
    value = int(text)
    if not 1 <= value <= ID_MAX:
        return None, (
            "%s id %d is out of range; expected 1..%d" % (what, value, ID_MAX),
            "%s编号 %d 超出范围；应为 1..%d" % (_ID_WORDS[what], value, ID_MAX),
        )
    return value, None


def _parse_role(text):
    # The firmware's word (team_leader), or its name in English or Chinese (班组长).
    code = ROLE_WORDS.get(text.strip().lower())
    if code is not None:
        return code, None
    try:
        return roles.code_of(text), None
    except ValueError:
        words = ", ".join(role_words())
        return None, (
            "%r is not a role; expected one of %s, or role-N for a mine's own post" % (text, words),
            "%r 不是岗位；应为 %s 之一（或其英文 %s），或本矿自设岗位 role-N"
            % (text, "、".join(w for w in ROLE_WORDS if not w.isascii()), words),
        )


def _parse_cert(text):
    if text.lower() == NO_CERTIFICATE:
        return None, None
    try:
        # date.fromisoformat alone also takes 20260331 and week dates; one spelling only.
        if len(text) != 10 or text[4] != "-" or text[7] != "-":
            raise ValueError(text)
        return datetime.date.fromisoformat(text), None
    except ValueError:
        return None, (
            "%r is not a date; expected the last valid day as YYYY-MM-DD, or %r for no "
            "certificate on record" % (text, NO_CERTIFICATE),
            "%r 不是日期；应为证书有效期最后一天 YYYY-MM-DD，无证书记录则写 %r"
            % (text, NO_CERTIFICATE),
        )


def _parse_crew(text):
    code = CREWS.get(text.lower())
    if code is None and text.strip() in CREW_WORDS:
        code = CREWS[CREW_WORDS[text.strip()]]  # 生产班, 检修班, 辅助
    if code is None:
        return None, (
            "%r is not a crew; expected one of %s" % (text, ", ".join(CREWS)),
            "%r 不是班组类别；应为 %s 之一"
            % (text, "、".join(w for w in CREW_WORDS if not w.isascii())),
        )
    return code, None


_EMPTY = ("empty", "为空")


def _unreadable(e):
    return ("not readable as CSV: %s" % e, "无法按 CSV 读取：%s" % e)


def parse_roster(lines, source="<roster>"):
    # lines: an iterable of text lines (a file opened with newline=""). -> [RosterEntry]
    problems = []
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise RosterError(source, [_problem(1, None, _unreadable(e))]) from e
    if header is None:
        raise RosterError(source, [_problem(1, None, ("the file is empty", "文件为空"))])
    header = [h.strip().lower() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]  # a byte-order mark from a spreadsheet export
    for i, h in enumerate(header):
        if h not in COLUMNS:
            expected = ", ".join(COLUMNS)
            problems.append(
                _problem(
                    1,
                    h or "#%d" % (i + 1),
                    ("unknown column; expected %s" % expected, "未知列；应为 %s" % expected),
                )
            )
        elif header.index(h) != i:
            problems.append(_problem(1, h, ("column appears twice", "列重复")))
    for c in COLUMNS:
        if c not in header:
            problems.append(_problem(1, c, ("column missing", "缺少此列")))
    if problems:
        raise RosterError(source, problems)
    at = {c: header.index(c) for c in COLUMNS}

    entries = []
    tag_line = {}
    person_line = {}
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                problems.append(
                    _problem(
                        line,
                        None,
                        (
                            "%d fields where the header has %d" % (len(row), len(header)),
                            "本行 %d 个字段，表头为 %d 个" % (len(row), len(header)),
                        ),
                    )
                )
                continue
            cells = {c: row[at[c]].strip() for c in COLUMNS}
            values = {}
            for column, parse in (
                ("tag_id", lambda t: _parse_id(t, "tag")),
                ("person_id", lambda t: _parse_id(t, "person")),
                ("role", _parse_role),
                ("cert_expiry", _parse_cert),
                ("crew", _parse_crew),
            ):
                text = cells[column]
                if not text:
                    problems.append(_problem(line, column, _EMPTY))
                    continue
                value, problem = parse(text)
                if problem is not None:
                    problems.append(_problem(line, column, problem))
                    continue
                values[column] = value
            name = cells["name"]
            if not name:
                problems.append(_problem(line, "name", _EMPTY))
            elif not name.isprintable():
                # ANSI escapes, NUL, line breaks: they would rewrite the dispatcher's screen
                problems.append(
                    _problem(
                        line,
                        "name",
                        (
                            "%r has control characters (escape codes, NUL)" % name,
                            "%r 含控制字符（转义码、NUL）" % name,
                        ),
                    )
                )
            elif len(name) > NAME_MAX_CHARS:
                problems.append(
                    _problem(
                        line,
                        "name",
                        (
                            "longer than %d characters" % NAME_MAX_CHARS,
                            "超过 %d 个字符" % NAME_MAX_CHARS,
                        ),
                    )
                )
            # R-ID-1: one tag, one person; one person, one tag.
            tag = values.get("tag_id")
            if tag is not None:
                if tag in tag_line:
                    problems.append(
                        _problem(
                            line,
                            "tag_id",
                            (
                                "tag %d is already on line %d" % (tag, tag_line[tag]),
                                "标签 %d 已在第 %d 行" % (tag, tag_line[tag]),
                            ),
                        )
                    )
                else:
                    tag_line[tag] = line
            person = values.get("person_id")
            if person is not None:
                if person in person_line:
                    problems.append(
                        _problem(
                            line,
                            "person_id",
                            (
                                "person %d already holds a tag on line %d (R-ID-1: one tag a "
                                "person)" % (person, person_line[person]),
                                "人员 %d 已在第 %d 行持有标签（R-ID-1：一人一卡）"
                                % (person, person_line[person]),
                            ),
                        )
                    )
                else:
                    person_line[person] = line
            if len(values) == 5 and name:
                entries.append(
                    RosterEntry(
                        tag_id=values["tag_id"],
                        person_id=values["person_id"],
                        name=name,
                        role=roles.name(values["role"]),
                        role_code=values["role"],
                        cert_expiry=values["cert_expiry"],
                        crew=_CREW_WORDS[values["crew"]],
                        crew_code=values["crew"],
                        line=line,
                    )
                )
    except csv.Error as e:
        problems.append(_problem(reader.line_num, None, _unreadable(e)))
    if not problems and not entries:
        problems.append(
            _problem(
                1, None, ("no people in the roster (only a header)", "名册中没有人员（只有表头）")
            )
        )
    most = ROSTER_CHUNK_MAX * ROSTER_PARTS_MAX
    if len(entries) > most:
        problems.append(
            _problem(
                1,
                None,
                (
                    "%d people: more than one load can carry (%d)" % (len(entries), most),
                    "%d 人：超过一次加载的上限（%d）" % (len(entries), most),
                ),
            )
        )
    if problems:
        problems.sort(key=lambda p: p.line)
        raise RosterError(source, problems)
    return entries


def decode_csv(data):
    """Bytes of a CSV file -> text. UTF-8 (with or without the byte-order mark a
    spreadsheet writes), else GB18030 (a superset of GBK: what Excel saves in a Chinese
    locale). UTF-8 first: GB18030 decodes almost any bytes, so the order matters."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as e:
        raise ValueError("neither UTF-8 nor GBK/GB18030 text: %s" % e) from e


def read_text(path):
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise RosterError(str(path), [_problem(0, None, _cannot_read(e))]) from e
    try:
        return decode_csv(data)
    except ValueError as e:
        raise RosterError(
            str(path),
            [_problem(1, None, (str(e), "既不是 UTF-8 也不是 GBK/GB18030 文本：%s" % e.__cause__))],
        ) from e


def _cannot_read(e):
    return ("cannot read: %s" % e, "无法读取：%s" % e)


def read_roster(path):
    return parse_roster(io.StringIO(read_text(path), newline=""), str(path))


def cert_expiry_s(day, utc_offset_min):
    # A certificate is valid through its last day in the mine's local time; the gateway
    # treats it as valid up to, not including, this second (roster.cert_ok).
    if day is None:
        return 0
    next_midnight = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), datetime.UTC
    )
    return int(next_midnight.timestamp()) - utc_offset_min * 60


def wire_entries(entries, utc_offset_min):
    # -> [tag_id, person_id, role_code, cert_expiry_s, crew_code] as the roster-load entry of docs/protocol.md (tests/messages_schema.py ROSTER_ENTRY)
    return [
        [
            e.tag_id,
            e.person_id,
            e.role_code,
            cert_expiry_s(e.cert_expiry, utc_offset_min),
            e.crew_code,
        ]
        for e in entries
    ]


def chunks(items, size=ROSTER_CHUNK_MAX):
    # At least one part: an empty list still makes one roster-load part.
    if not 1 <= size <= ROSTER_CHUNK_MAX:
        raise ValueError("roster chunk size must be 1..%d, got %r" % (ROSTER_CHUNK_MAX, size))
    return [items[i : i + size] for i in range(0, len(items), size)] or [[]]


# ---- the copy of names the host keeps, so occupants read as people, not tag numbers ----


def save_names(path, gateway_id, entries):
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    doc = {
        "gateway_id": gateway_id,
        "people": {str(e.tag_id): e.to_json() for e in entries},
    }
    temp = path.with_name(path.name + ".tmp")
    with open(temp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def load_names(path):
    # -> {tag_id: {"person_id", "name", "role", "crew", ...}}; {} when no copy is kept.
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise RosterError(str(path), [_problem(0, None, _cannot_read(e))]) from e
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, dict):
        raise RosterError(
            str(path),
            [_problem(0, None, ("no 'people' map in the file", "文件中没有 'people' 表"))],
        )
    return {int(tag): info for tag, info in people.items() if tag.isdigit()}
