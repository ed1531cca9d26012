# docs/rules.md kept honest against REQUIREMENTS.md, the code and the tests, with plain
# file reads: every rule has a section and a row; a rule the doc says the gateway
# enforces, wholly or partly, is cited in firmware/ and in a test; every module:function
# and file::test the doc names exists. A function renamed or a test deleted fails here.
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules.md"
STATUSES = ("enforced", "partly", "host-side", "not built")
ON_GATEWAY = ("enforced", "partly")
CODE_ROOTS = ("firmware", "protocol", "host_tools")
TEST_ROOTS = ("tests", "hil_tests")

# Rules the doc says the gateway handles although no firmware comment names them yet. Each
# entry is checked to be still true, so it must go once the comment is added.
UNCITED_IN_FIRMWARE = {}

_ID = r"R-[A-Z]+-\d+"
# A citation: R-CAP-7, a range R-CAP-1..5, or a list R-VIDEO-1/2.
_CITE = re.compile(r"R-([A-Z]+)-(\d+)(?:\.\.(\d+)|((?:/\d+)+))?")
_SECTION = re.compile(r"^### (%s)\b" % _ID, re.M)
_HEADING = re.compile(r"^#{1,3} ", re.M)
_STATUS = re.compile(r"^\*\*Status:\*\* (.+?)\s*$", re.M)
_NAMED_TEST = re.compile(r"\b((?:%s)/[\w/]+\.py)::(\w+)" % "|".join(TEST_ROOTS))
_WHERE = re.compile(r"\b((?:%s)/[\w/]+\.py):([A-Za-z_][\w.]*)" % "|".join(CODE_ROOTS))


def _requirements_path():
    # REQUIREMENTS.md lives beside the repository in the project's shared folder; a copy
    # in the repository, or SHAFTGATE_REQUIREMENTS, takes precedence.
    named = os.environ.get("SHAFTGATE_REQUIREMENTS")
    candidates = [Path(named)] if named else []
    candidates += [
        ROOT / "REQUIREMENTS.md",
        ROOT / "docs" / "REQUIREMENTS.md",
        ROOT.parent / "shared" / "REQUIREMENTS.md",
    ]
    for path in candidates:
        if path.is_file():
            return path
    return None


def _requirement_ids(text):
    # Defined where a table row or a bullet starts with the ID; mentions elsewhere
    # ("cite it as # R-CAP-1") define nothing.
    ids = []
    for m in re.finditer(r"^(?:\| |- )(%s)\b" % _ID, text, re.M):
        if m.group(1) not in ids:
            ids.append(m.group(1))
    return ids


def _cited(text):
    out = set()
    for m in _CITE.finditer(text):
        family, first = m.group(1), int(m.group(2))
        if m.group(3):
            numbers = range(first, int(m.group(3)) + 1)
        elif m.group(4):
            numbers = [first] + [int(n) for n in m.group(4).split("/")[1:]]
        else:
            numbers = [first]
        for n in numbers:
            out.add("R-%s-%d" % (family, n))
    return out


def _citations(roots, pattern):
    # {rule id: [files citing it]} over the .py files matching pattern under roots.
    found = {}
    here = Path(__file__).resolve()
    for root in roots:
        for path in sorted((ROOT / root).rglob(pattern)):
            if path.resolve() == here or ".venv" in path.parts:
                continue
            for rule in _cited(path.read_text(encoding="utf-8", errors="replace")):
                found.setdefault(rule, []).append(path.relative_to(ROOT).as_posix())
    return found


def _doc():
    # (sections {id: (status, body)} in order, table rows [(id, status, modules, tests)])
    text = DOC.read_text(encoding="utf-8")
    sections = {}
    starts = [m.start() for m in _HEADING.finditer(text)] + [len(text)]
    for m in _SECTION.finditer(text):
        rule = m.group(1)
        assert rule not in sections, "docs/rules.md: two sections for %s" % rule
        end = min(s for s in starts if s > m.start())
        body = text[m.start() : end]
        status = _STATUS.search(body)
        assert status, "docs/rules.md: section %s has no **Status:** line" % rule
        sections[rule] = (status.group(1), body)
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and re.fullmatch(_ID, cells[0]):
            assert len(cells) == 4, "docs/rules.md: table row %r needs 4 cells" % line
            rows.append(tuple(cells))
    return sections, rows


def _defines(source, name):
    return re.search(r"^\s*(?:def|class)\s+%s\b|^\s*%s\s*[:=]" % (name, name), source, re.M)


def _cell_items(cell):
    return [] if cell in ("—", "-", "") else [s.strip() for s in cell.split(",")]


def test_every_requirement_has_a_section_and_a_row_and_nothing_else_does():
    path = _requirements_path()
    if path is None:
        pytest.skip("REQUIREMENTS.md not found (set SHAFTGATE_REQUIREMENTS to its path)")
    required = _requirement_ids(path.read_text(encoding="utf-8"))
    assert len(required) >= 30, "only %d rule IDs parsed from %s" % (len(required), path)
    sections, rows = _doc()
    assert list(sections) == required, "sections differ from %s: missing %s, extra %s" % (
        path,
        [r for r in required if r not in sections],
        [r for r in sections if r not in required],
    )
    assert [r[0] for r in rows] == required


def test_the_table_agrees_with_the_sections():
    sections, rows = _doc()
    assert [r[0] for r in rows] == list(sections), "table rows and sections differ in order"
    for rule, status, modules, tests in rows:
        assert status in STATUSES, "%s: status %r is not one of %s" % (rule, status, STATUSES)
        assert sections[rule][0] == status, "%s: table says %r, section says %r" % (
            rule,
            status,
            sections[rule][0],
        )
        for module in _cell_items(modules):
            assert any((ROOT / r / module).is_file() for r in CODE_ROOTS), (
                "%s: module %s is in none of %s" % (rule, module, CODE_ROOTS)
            )
        for name in _cell_items(tests):
            assert any((ROOT / r / name).is_file() for r in TEST_ROOTS), (
                "%s: test file %s is in none of %s" % (rule, name, TEST_ROOTS)
            )
        if status in ON_GATEWAY:
            assert _cell_items(modules) and _cell_items(tests), (
                "%s is %s but its row names no module or no test file" % (rule, status)
            )


def test_rules_on_the_gateway_are_cited_in_firmware_and_in_a_test():
    sections, _rows = _doc()
    firmware = _citations(("firmware",), "*.py")
    tests = _citations(TEST_ROOTS, "test_*.py")
    for rule, (status, _body) in sections.items():
        if status not in ON_GATEWAY:
            continue
        assert rule in tests, "%s is %s but no test file cites it" % (rule, status)
        if rule in UNCITED_IN_FIRMWARE:
            assert rule not in firmware, (
                "%s is now cited in %s: remove it from UNCITED_IN_FIRMWARE" % (rule, firmware[rule])
            )
        else:
            assert rule in firmware, "%s is %s but no firmware file cites it" % (rule, status)
    for rule in UNCITED_IN_FIRMWARE:
        assert sections[rule][0] in ON_GATEWAY, "%s in UNCITED_IN_FIRMWARE needlessly" % rule


def test_every_named_test_is_defined_in_its_file():
    sections, _rows = _doc()
    text = DOC.read_text(encoding="utf-8")
    named = _NAMED_TEST.findall(text)
    assert len(named) > 50, "the tests named in docs/rules.md were not found"
    sources = {}
    for path, name in named:
        if path not in sources:
            assert (ROOT / path).is_file(), "docs/rules.md names %s, which does not exist" % path
            sources[path] = (ROOT / path).read_text(encoding="utf-8")
        assert _defines(sources[path], name), "%s::%s is not defined" % (path, name)
    for rule, (status, body) in sections.items():
        if status in ON_GATEWAY:
            assert _NAMED_TEST.search(body), "%s is %s but names no test" % (rule, status)


def test_every_named_module_function_exists():
    sections, _rows = _doc()
    text = DOC.read_text(encoding="utf-8")
    where = _WHERE.findall(text)
    assert len(where) > 30, "the module:function references in docs/rules.md were not found"
    for path, dotted in where:
        assert (ROOT / path).is_file(), "docs/rules.md names %s, which does not exist" % path
        source = (ROOT / path).read_text(encoding="utf-8")
        for name in dotted.split("."):
            assert _defines(source, name), "%s:%s: %s is not defined there" % (path, dotted, name)
    for rule, (status, body) in sections.items():
        if status in ON_GATEWAY:
            assert re.search(r"\bfirmware/[\w/]+\.py:\w", body), (
                "%s is %s but names no firmware function" % (rule, status)
            )
