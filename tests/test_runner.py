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


# ---- the heap account: test code no board holds, the board's own HAL it does ----

_BULK = "".join(
    "def helper_%d(x, y=%d):\n    s = [x, y, %d]\n    for k in range(y):\n"
    "        s.append(k * x + %d)\n    return sum(s) + len('name_%d')\n" % (i, i, i, i, i)
    for i in range(120)
)


def _keeper(tmp_path, name, helper, room):
    # A test module that keeps a bytearray of room - 64 bytes, then one of room + 16:
    # the allocation of a firmware that needs that much beside what the module loads.
    # room has 6 digits whatever its value, so the module's code is the same size.
    # Returns the results, the heap account, and what the probe left: the largest free
    # block and all that was free.
    assert 100000 <= room < 1000000
    f = tmp_path / name
    f.write_text(
        "# micropython-test\n%sfrom gatewire import cbor\nROOM = %d\nKEEP = []\n"
        "def test_0_probe():\n    pass\n"
        "def test_1_under():\n    KEEP.append(bytearray(ROOM - 64))\n"
        "def test_2_over():\n    KEEP.append(bytearray(ROOM + 16))\n"
        % ("import bulk\n" if helper else "", room)
    )
    results = mpy_plugin.run_file(f)
    heap = results["<heap>"]
    # the probe grew nothing: the heap's total is the limit, and what it held is all live
    assert results["test_0_probe"]["heap_in"][0] == heap["limit"], results
    probe = results["test_0_probe"]
    return results, heap, probe["free_block"], heap["limit"] - probe["heap_in"][1]


def test_the_allowance_for_test_code_hides_no_firmware_over_the_heap(tmp_path):
    # A helper of 16 KB of code no board holds (120 functions) beside the same firmware
    # module: the room left for the firmware's allocations is what it is without the
    # helper, not 16 KB more; an allocation just over the largest free block dies as on
    # a board, one just under passes. (Rooms read from a first run of each module.)
    (tmp_path / "bulk.py").write_text(_BULK)
    rooms = {}
    for name, helper in (("test_base.py", False), ("test_bulk.py", True)):
        _, heap, block, free = _keeper(tmp_path, name, helper, 100000)
        rooms[name] = (block, free, heap["allowance"])
    for name, helper in (("test_base.py", False), ("test_bulk.py", True)):
        block, free, allowance = rooms[name]
        results, heap, block_again, free_again = _keeper(tmp_path, name, helper, block)
        assert (block_again, free_again, heap["allowance"]) == (block, free, allowance)
        assert results["test_1_under"]["ok"] is True, results["test_1_under"]
        over = results["test_2_over"]
        assert over["ok"] is False
        assert "MemoryError (pico profile, 192 KB heap)" in over["tb"], over
        assert "during test_2_over" in over["tb"]
        assert "of test code no board holds" in over["tb"]
    base, bulk = rooms["test_base.py"][1], rooms["test_bulk.py"][1]
    # The helper's code is allowed for (without it the room would be 16 KB smaller) and
    # no more than allowed for: its names' share of the qstr pools is the board's.
    assert base - 4096 < bulk <= base


def test_the_allowance_is_the_measured_test_code_and_grows_with_it(tmp_path):
    small = tmp_path / "test_small.py"
    small.write_text("# micropython-test\nfrom gatewire import cbor\ndef test_x():\n    pass\n")
    big = tmp_path / "test_big.py"
    big.write_text(small.read_text() + _BULK)
    a = mpy_plugin.run_file(small)["<heap>"]
    b = mpy_plugin.run_file(big)["<heap>"]
    for heap, name in ((a, "test_small"), (b, "test_big")):
        # the runner's own code and the test module, each measured, nothing else
        assert set(heap["test_modules"]) == {name}
        assert heap["allowance"] == heap["runner"] + heap["test_modules"][name]
        assert heap["hal_charge"] == 0  # no stand-in board: no board HAL charged
        assert heap["limit"] == heap["board"] + heap["allowance"] // 64 * 64
        assert heap["board"] == 192064  # the pico profile's 192 KB heap
    assert a["runner"] == b["runner"] > 0
    # A module of more code: a larger allowance, by exactly what its code measured.
    extra = b["test_modules"]["test_big"] - a["test_modules"]["test_small"]
    assert extra > 10000
    assert b["allowance"] - a["allowance"] == extra


def test_a_test_on_a_stand_in_board_is_charged_the_boards_own_hal(tmp_path):
    from shaftgate.vboard import profiles
    from shaftgate.vboard.image import board_hal_cost, firmware_image

    (tmp_path / "fakeboard.py").write_text(
        (mpy_plugin.RUNNER.parent / "fakeboard.py").read_text(encoding="utf-8")
    )
    f = tmp_path / "test_on_a_board.py"
    f.write_text(
        "# micropython-test\nfrom fakeboard import FakeBoard\n"
        "def test_x():\n    assert FakeBoard('/tmp').name == 'fake'\n"
    )
    results = mpy_plugin.run_file(f)
    heap = results["<heap>"]
    assert results["test_x"]["ok"] is True, results
    pico = profiles.resolve("pico")
    hal = board_hal_cost(firmware_image("pico"), pico["board_hal"])["modules"]
    # fakeboard uses the board's hal.flashfs (loaded, so held); every other module of
    # the Pico's HAL is charged at its measured figure, less what fakeboard holds.
    unloaded = sum(v for k, v in hal.items() if k != "hal.flashfs")
    assert heap["board_hal_unloaded"] == unloaded > 8000
    assert 0 < heap["hal_standin"] == heap["test_modules"]["fakeboard"] < unloaded
    assert heap["hal_charge"] == unloaded - heap["hal_standin"]
    # fakeboard stands in for the board's HAL: not in the test code's allowance
    assert heap["allowance"] == heap["runner"] + heap["test_modules"]["test_on_a_board"]
    assert heap["limit"] == heap["board"] + (heap["allowance"] - heap["hal_charge"]) // 64 * 64
    assert heap["limit"] < heap["board"]
    assert results["test_x"]["heap_in"][0] == heap["limit"]
