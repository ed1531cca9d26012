"""tests/board_fit.py lists only tests that exist, each with the figure that keeps it off
the pico profile, and its lookup picks them (and nothing else) out."""

import ast
import os
import subprocess
import sys

import board_fit

ROOT = board_fit.REPO


def _tests_in(rel):
    tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_entry_names_an_existing_test_and_says_why():
    for key, why in board_fit.NOT_YET.items():
        rel, _, name = key.partition("::")
        assert (ROOT / rel).is_file(), key
        if name:
            assert name in _tests_in(rel), key
        assert isinstance(why, str) and len(why) > 20, "say what stops %s on pico" % key


def test_a_listed_test_runs_loose_and_others_keep_the_session_profile():
    listed = dict(board_fit.NOT_YET)
    board_fit.NOT_YET.clear()
    try:
        board_fit.NOT_YET["tests/test_cbor.py::test_x"] = "an example entry for this test"
        board_fit.NOT_YET["hil_tests/test_hil_caps.py"] = "an example entry for this test"
        assert board_fit.profile_for(ROOT / "tests/test_cbor.py", "test_x") == "loose"
        assert board_fit.profile_for(ROOT / "tests/test_cbor.py", "test_x[micropython]") == (
            "loose"
        )
        assert board_fit.profile_for(ROOT / "tests/test_cbor.py", "test_y") is None
        assert board_fit.profile_for(ROOT / "tests/test_cbor.py") is None
        assert board_fit.profile_for(ROOT / "hil_tests/test_hil_caps.py", "any") == "loose"
        assert board_fit.profile_for("/elsewhere/test_cbor.py", "test_x") is None
    finally:
        board_fit.NOT_YET.clear()
        board_fit.NOT_YET.update(listed)


def test_a_test_that_leaves_the_board_profile_changed_fails_and_it_is_put_back(tmp_path):
    # The root conftest guards the session's profile: a test that changes it and does not
    # put it back fails, and the next test runs under the profile the session chose.
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text(encoding="utf-8"))
    (tmp_path / "test_leak.py").write_text(
        "import os\n"
        "def test_leaves_it_loose():\n"
        "    os.environ['SHAFTGATE_BOARD_PROFILE'] = 'loose'\n"
        "def test_puts_it_back(monkeypatch):\n"
        "    monkeypatch.setenv('SHAFTGATE_BOARD_PROFILE', 'esp32')\n"
        "def test_sees_the_sessions_profile():\n"
        "    assert os.environ.get('SHAFTGATE_BOARD_PROFILE') == 'pico'\n"
    )
    env = dict(os.environ, SHAFTGATE_BOARD_PROFILE="pico")
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / d) for d in ("tests", "host_tools", "protocol"))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "3 passed, 1 error" in out, out
    assert "test_leaves_it_loose left $SHAFTGATE_BOARD_PROFILE='loose' (was 'pico')" in out, out
