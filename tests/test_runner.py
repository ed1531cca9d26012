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


def _with_hostcalls(tmp_path, name, text):
    # A test file beside a copy of tests/hostcalls.py, as the runner's test helpers are.
    (tmp_path / "hostcalls.py").write_text(
        (mpy_plugin.RUNNER.parent / "hostcalls.py").read_text(encoding="utf-8")
    )
    f = tmp_path / name
    f.write_text(text)
    return f


def test_a_call_that_grows_the_heap_past_the_board_and_lets_go_is_a_memory_error(tmp_path):
    # The port gives back the areas a call grew once they are empty, when the call
    # returns: the heap is read before that, so a passing peak is not missed (pico).
    f = tmp_path / "test_peak.py"
    f.write_text(
        "# micropython-test\n"
        "def test_peak():\n    b = bytearray(300 * 1024)\n    del b\n"
        "def test_small():\n    b = bytearray(100 * 1024)\n    del b\n"
    )
    results = mpy_plugin.run_file(f)
    assert results["test_peak"]["ok"] is False
    assert "MemoryError (pico profile, 192 KB heap)" in results["test_peak"]["tb"]
    assert "during test_peak" in results["test_peak"]["tb"]
    assert results["test_small"]["ok"] is True


def test_a_test_in_parts_is_checked_and_collected_part_by_part(tmp_path):
    churn = (
        "    for i in range(1024):\n"
        "        b = bytearray(1024)\n"
        "        seen.append(i)\n"
        "        if i %% 64 == 63:\n"
        "            %s\n"
    )
    f = _with_hostcalls(
        tmp_path,
        "test_parts.py",
        "# micropython-test\nfrom hostcalls import in_parts\nseen = []\n"
        "def test_one_call():\n" + churn % "pass" + "@in_parts\n"
        "def test_in_parts():\n" + churn % "yield" + "    assert seen == list(range(1024))\n"
        "@in_parts\ndef test_fails_in_part_3():\n    yield\n    yield\n"
        "    assert 1 == 2, 'in part 3'\n    yield\n"
        "@in_parts\ndef test_a_part_past_the_board():\n    yield\n"
        "    b = bytearray(300 * 1024)\n    yield\n",
    )
    results = mpy_plugin.run_file(f)
    # 1 MB of garbage in one call: charged in full (no collection inside a call here)
    assert results["test_one_call"]["ok"] is False
    assert "MemoryError" in results["test_one_call"]["tb"]
    # the same in parts of 64 KB: collected between them, every part checked
    assert results["test_in_parts"]["ok"] is True, results["test_in_parts"]
    assert results["test_fails_in_part_3"]["ok"] is False
    assert "in part 3" in results["test_fails_in_part_3"]["tb"]
    assert (
        "during test_a_part_past_the_board, part 2" in (results["test_a_part_past_the_board"]["tb"])
    )


def test_a_test_in_parts_runs_all_its_parts_in_one_call_under_cpython():
    from hostcalls import in_parts

    seen = []

    @in_parts
    def test_x():
        for i in range(3):
            seen.append(i)
            yield

    test_x()
    assert seen == [0, 1, 2]
