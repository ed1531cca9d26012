"""pytest plugin: a test file whose first line is `# micropython-test` also runs under
the real MicroPython interpreter (tests/mpy_runner.mjs), each test function as its own
item suffixed `[micropython]`, with MicroPython's own traceback on failure.

The run is held to the board profile in force (shaftgate/vboard/profiles.py: pytest's
--board-profile, $SHAFTGATE_BOARD_PROFILE, else pico): the firmware as the .mpy files
deploy ships, the test module and its helpers as .mpy, the profile's fixed GC heap read
at the end of each test function, or of each part of a test in parts (tests/hostcalls.py),
inside that call: everything it allocated counts, garbage included (past it, the test
fails with a MemoryError naming it). A file whose tests do not fit a board yet is listed
in tests/board_fit.py and runs loose."""

import ast
import hashlib
import json
import subprocess
from pathlib import Path

import board_fit
import pytest

from shaftgate.cli.deploy import DeployError
from shaftgate.vboard import profiles
from shaftgate.vboard.image import board_hal_cost, compiled_tests, firmware_image

MARKER = "# micropython-test"
RESULT_PREFIX = "@@mpy-result "
RUNNER = Path(__file__).with_name("mpy_runner.mjs")
FILE_TIMEOUT_S = 600


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".py" or not file_path.name.startswith("test_"):
        return None
    with file_path.open(encoding="utf-8") as f:
        if f.readline().rstrip("\n") != MARKER:
            return None
    return MicroPythonFile.from_parent(
        parent, path=file_path, name=file_path.name + "::micropython"
    )


class MicroPythonFailure(Exception):
    pass


class MicroPythonFile(pytest.File):
    def collect(self):
        tree = ast.parse(self.path.read_text(encoding="utf-8"))
        names = [
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        ]
        for name in names:
            yield MicroPythonItem.from_parent(self, name=name + "[micropython]", test_name=name)

    def results(self):
        # One interpreter run per file, shared by its items.
        if not hasattr(self, "_results"):
            self._results = run_file(self.path)
        return self._results


def file_profile(path):
    """The profile a MicroPython test file runs under: loose while tests/board_fit.py
    lists it, else the session's."""
    return profiles.resolve(board_fit.profile_for(Path(path)))


def runner_settings(path):
    """The runner's settings for path, or None for a run without a profile (loose)."""
    profile = file_profile(path)
    if not profile["check_heap"]:
        return None
    image = firmware_image(profile["deploy_board"])
    tests = compiled_tests(path)
    hal = profile.get("board_hal") or []
    hal_cost = board_hal_cost(image, hal)
    return {
        "profile": profile,
        "image_dir": str(image),
        "test_dir": str(tests),
        # Tests of this file that tests/board_fit.py lists: their heap is not checked.
        "loose_tests": board_fit.loose_tests(Path(path)),
        # The heap account (docs/hardware.md, "Board profiles"): the test code's live heap,
        # measured once per test module, image and runner, kept in the compiled tests'
        # folder; the board's own HAL and the test modules that stand in for it.
        "account_file": str(tests / ("heap-account-%s.json" % _account_key(image, hal))),
        "board_hal": hal,
        "board_hal_modules": hal_cost["modules"],
        "hal_standins": list(HAL_STANDINS),
    }


# Test helpers that stand in for the board's own HAL (the application's board in a test).
HAL_STANDINS = ("fakeboard",)


def _account_key(image, hal):
    h = hashlib.sha256()
    h.update(str(Path(image).parent.name).encode())
    h.update(",".join([*hal, *HAL_STANDINS]).encode())
    h.update(RUNNER.read_bytes())
    return h.hexdigest()[:16]


def run_file(path):
    try:
        settings = runner_settings(path)
    except (ValueError, DeployError, RuntimeError) as e:
        return {"<run>": {"ok": False, "tb": "board profile: %s" % e}}
    argv = ["node", str(RUNNER), "test", str(path)]
    if settings is not None:
        argv.append(json.dumps(settings))
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=FILE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        return {"<run>": {"ok": False, "tb": "MicroPython run timed out after %ss" % e.timeout}}
    results = {}
    other = []
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            r = json.loads(line[len(RESULT_PREFIX) :])
            results[r["name"]] = r
        else:
            other.append(line)
    if proc.returncode != 0 or "<import>" in results:
        tb = results.get("<import>", {}).get("tb", "")
        results["<run>"] = {
            "ok": False,
            "tb": "runner exit %d\n%s\n%s\n%s"
            % (proc.returncode, tb, proc.stderr[-4000:], "\n".join(other)[-4000:]),
        }
    results["<output>"] = "\n".join(other)
    return results


class MicroPythonItem(pytest.Item):
    def __init__(self, *, test_name, **kwargs):
        super().__init__(**kwargs)
        self.test_name = test_name

    def runtest(self):
        results = self.parent.results()
        r = results.get(self.test_name)
        if r is None:
            run = results.get("<run>", {"tb": "no result reported"})
            raise MicroPythonFailure(run["tb"])
        if not r["ok"]:
            raise MicroPythonFailure(r["tb"])

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "under MicroPython:\n" + str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "micropython: %s" % self.test_name
