"""The static check for code CI cannot run (issue 6, docs/typecheck.md).

basedpyright checks the board code against MicroPython's own stubs, board by board, and
the host code against CPython 3.11. The tree must be clean, each fixture under
tests/typecheck_fixtures/ must be reported, and so must a wrong `machine` call or a
missing interface method planted in a copy of the Pico HAL.
"""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TYPECHECK = REPO / "tests" / "typecheck"
STUBS = REPO / ".typecheck"
FIXTURES = Path(__file__).with_name("typecheck_fixtures")
TARGETS = ("rp2", "esp32", "virtual", "host")
STUB_SETS = {"rp2": "machine.pyi", "esp32": "esp32.pyi", "webassembly": "js.pyi"}
CHECKED_TREES = ("firmware", "protocol", "host_tools", "hil_tests")
RUN_TIMEOUT_S = 300


def basedpyright():
    exe = Path(sys.executable).with_name("basedpyright")
    return str(exe) if exe.exists() else shutil.which("basedpyright")


class Run:
    def __init__(self, name, proc):
        self.name = name
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            report = None
        self.report = report
        self.raw = proc.stdout

    @property
    def errors(self):
        if self.report is None:
            return None
        return [d for d in self.report["generalDiagnostics"] if d["severity"] == "error"]

    def describe(self):
        if self.report is None:
            return "basedpyright (%s) gave no report, exit %d:\n%s\n%s" % (
                self.name,
                self.returncode,
                self.raw[-4000:],
                self.stderr[-4000:],
            )
        lines = ["basedpyright (%s): %d error(s)" % (self.name, len(self.errors))]
        for d in self.errors:
            lines.append(
                "%s:%d:%d - %s (%s)"
                % (
                    rel(d["file"]),
                    d["range"]["start"]["line"] + 1,
                    d["range"]["start"]["character"] + 1,
                    d["message"],
                    d.get("rule", "-"),
                )
            )
        return "\n".join(lines)


def rel(path):
    p = Path(path)
    try:
        return str(p.relative_to(REPO))
    except ValueError:
        return str(p)


def run_basedpyright(name, config):
    proc = subprocess.run(
        [basedpyright(), "-p", str(config), "--outputjson"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=str(REPO),
    )
    return Run(name, proc)


def planted_pico_copy(root):
    # A copy of the board trees whose Pico HAL has a wrong machine call (in hal/pico.py's
    # own pulse-input setup) and lacks feed_watchdog (in hal/mcu.py's McuBoard, which the
    # Pico's Board inherits it from), checked with the real rp2 config: both must turn it red.
    for tree in ("firmware", "protocol"):
        shutil.copytree(REPO / tree, root / tree, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TYPECHECK, root / "tests" / "typecheck")
    (root / ".typecheck").symlink_to(STUBS)
    hal = root / "firmware" / "hal"
    pico_src = (hal / "pico.py").read_text()
    mcu_src = (hal / "mcu.py").read_text()
    base = "class Board(McuBoard):\n"
    pulse = "    def _pulse_input(self, gpio, handler):\n"
    feed = "    def feed_watchdog(self) -> None:\n        self._wdt.feed()\n"
    assert base in pico_src and pulse in pico_src, "hal/pico.py changed shape: update this test"
    assert feed in mcu_src, "hal/mcu.py changed shape: update this test"
    (hal / "pico.py").write_text(
        pico_src.replace(pulse, pulse + "        machine.Pin.toggle_all()\n")
    )
    (hal / "mcu.py").write_text(mcu_src.replace(feed, ""))
    return root / "tests" / "typecheck" / "pyrightconfig.rp2.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    assert basedpyright(), "basedpyright is not installed (./dev setup installs it)"
    for stub_set, marker in STUB_SETS.items():
        site = STUBS / stub_set / "lib" / "site-packages"
        assert (site / marker).exists(), (
            "MicroPython stubs for %s missing in %s (./dev setup installs them)" % (stub_set, site)
        )
    jobs = {t: TYPECHECK / ("pyrightconfig.%s.json" % t) for t in TARGETS}
    if not (REPO / "firmware" / "hal" / "virtual.py").exists():
        del jobs["virtual"]
    jobs["fixtures"] = FIXTURES / "pyrightconfig.json"
    jobs["planted"] = planted_pico_copy(tmp_path_factory.mktemp("planted"))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(run_basedpyright, name, cfg) for name, cfg in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


def find(run, file_suffix, rule, text):
    assert run.errors is not None, run.describe()
    return [
        d
        for d in run.errors
        if d["file"].endswith(file_suffix) and d.get("rule") == rule and text in d["message"]
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_tree_is_clean(runs, target):
    if target not in runs:
        pytest.skip("firmware/hal/virtual.py does not exist yet")
    run = runs[target]
    if run.errors is None or run.errors:
        pytest.fail(run.describe(), pytrace=False)


def test_cpython_only_import_is_reported(runs):
    run = runs["fixtures"]
    assert find(run, "cpython_only.py", "reportMissingImports", '"dataclasses"'), run.describe()


def test_cpython_only_attribute_is_reported(runs):
    run = runs["fixtures"]
    assert find(run, "cpython_only.py", "reportAttributeAccessIssue", '"perf_counter"'), (
        run.describe()
    )


def test_unknown_machine_attributes_are_reported(runs):
    run = runs["fixtures"]
    for name in ("toggle_all", "write_bytes"):
        assert find(run, "machine_unknown.py", "reportAttributeAccessIssue", '"%s"' % name), (
            run.describe()
        )


def test_hal_module_missing_a_method_is_reported(runs):
    run = runs["fixtures"]
    assert find(
        run, "conformance_missing_method.py", "reportReturnType", '"feed_watchdog" is not present'
    ), run.describe()


def test_fixtures_report_exactly_what_they_plant(runs):
    # Five planted faults and nothing else: the fixture run resolves hal and machine as
    # the real check does, so its errors are the plants, not a broken setup.
    run = runs["fixtures"]
    assert run.errors is not None and len(run.errors) == 5, run.describe()


def test_wrong_machine_call_in_the_pico_hal_is_reported(runs):
    run = runs["planted"]
    assert find(run, "firmware/hal/pico.py", "reportAttributeAccessIssue", '"toggle_all"'), (
        run.describe()
    )


def test_method_missing_from_the_pico_hal_is_reported(runs):
    run = runs["planted"]
    assert find(
        run,
        "tests/typecheck/conformance_rp2.py",
        "reportReturnType",
        '"feed_watchdog" is not present',
    ), run.describe()


def board_modules():
    found = []
    for path in sorted((REPO / "firmware" / "hal").glob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.ClassDef) and n.name == "Board" for n in tree.body):
            found.append(path.stem)
    return found


def test_every_board_module_has_a_conformance_proof():
    modules = board_modules()
    assert "pico" in modules and "esp32" in modules
    proofs = " ".join(p.read_text() for p in TYPECHECK.glob("conformance_*.py"))
    for name in modules:
        assert re.search(r"\b%s\.Board\b" % name, proofs), (
            "hal/%s.py defines Board but no tests/typecheck/conformance_*.py proves it" % name
        )


IGNORE = re.compile(r"#\s*pyright:\s*ignore\[([^\]]*)\]")
FILE_LEVEL = re.compile(
    r"^\s*#\s*(pyright:\s*(basic|standard|strict|report\w+\s*=)|type:\s*ignore)"
)


def listed_exceptions():
    rows = []
    for line in (TYPECHECK / "stub-exceptions.md").read_text().splitlines():
        m = re.match(r"^\|\s*`([^`]+)`\s*\|\s*`(\w+)`\s*\|\s*(.*?)\s*\|\s*$", line)
        if m:
            assert len(m.group(3)) > 20, "stub-exceptions.md: say why for %s" % m.group(1)
            rows.append((m.group(1), m.group(2)))
    return sorted(rows)


def ignores_in_tree():
    found = []
    for tree in CHECKED_TREES:
        for path in sorted((REPO / tree).rglob("*.py*")):
            if path.suffix not in (".py", ".pyi") or "__pycache__" in path.parts:
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                assert not FILE_LEVEL.match(line), (
                    "%s silences the checker for the whole file: %s" % (rel(path), line.strip())
                )
                for m in IGNORE.finditer(line):
                    for rule in m.group(1).split(","):
                        found.append((rel(path), rule.strip()))
    return sorted(found)


def test_every_ignore_is_a_listed_stub_exception():
    assert ignores_in_tree() == listed_exceptions()


BOARD_LACKS = ("typing", "abc", "enum")  # the stdlib stubs define them; boards do not


def test_board_code_imports_no_module_the_stubs_wrongly_resolve():
    for tree in ("firmware", "protocol"):
        for path in sorted((REPO / tree).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                for name in names:
                    assert name.split(".")[0] not in BOARD_LACKS, (
                        "%s:%d imports %s, which a board does not have"
                        % (rel(path), node.lineno, name)
                    )
