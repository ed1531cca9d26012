"""tests/board_fit.py lists only tests that exist, each with the figure that keeps it off
the pico profile, and its lookup picks them (and nothing else) out."""

import ast

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
