"""The MicroPython runner must report failures and tracebacks, not swallow them."""

import mpy_plugin


def test_failing_micropython_test_is_reported_with_traceback(tmp_path):
    f = tmp_path / "test_bad.py"
    f.write_text(
        "# micropython-test\ndef test_boom():\n    assert 1 == 2, 'boom'\n"
        "def test_fine():\n    pass\n"
    )
    results = mpy_plugin.run_file(f)
    assert results["test_fine"]["ok"] is True
    assert results["test_boom"]["ok"] is False
    assert "AssertionError" in results["test_boom"]["tb"]
    assert "boom" in results["test_boom"]["tb"]


def test_runs_under_micropython_not_cpython(tmp_path):
    f = tmp_path / "test_impl.py"
    f.write_text(
        "# micropython-test\nimport sys\n"
        "def test_impl():\n    assert sys.implementation.name == 'micropython'\n"
        "def test_no_dataclasses():\n    import dataclasses\n"
    )
    results = mpy_plugin.run_file(f)
    assert results["test_impl"]["ok"] is True
    assert results["test_no_dataclasses"]["ok"] is False
    assert "ImportError" in results["test_no_dataclasses"]["tb"]


def test_import_error_fails_the_file(tmp_path):
    f = tmp_path / "test_broken.py"
    f.write_text("# micropython-test\nimport no_such_module\ndef test_x():\n    pass\n")
    results = mpy_plugin.run_file(f)
    assert results["<run>"]["ok"] is False
    assert "no_such_module" in results["<run>"]["tb"]


def test_a_failing_script_in_run_mode_exits_non_zero(tmp_path):
    import subprocess

    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('broken bench')\n")
    good = tmp_path / "good.py"
    good.write_text("print('fine')\n")
    run = ["node", str(mpy_plugin.RUNNER), "run"]
    assert subprocess.run([*run, str(bad)], capture_output=True).returncode == 1
    assert subprocess.run([*run, str(good)], capture_output=True).returncode == 0
