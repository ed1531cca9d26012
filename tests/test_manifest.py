"""firmware/manifest.py, the frozen image (docs/hardware.md "Frozen image"), lists exactly
the modules `shaftgate deploy` ships for each board.

The manifest is run as MicroPython's build runs it, by shaftgate.cli.frozen's reader
(which `shaftgate deploy --frozen` uses too)."""

import shutil
from pathlib import Path

import pytest

from shaftgate.cli import deploy
from shaftgate.cli.frozen import BOARD_MANIFEST, PORT_MANIFEST, Manifest

REPO = Path(__file__).resolve().parents[1]


def differences(board, repo=REPO):
    """What the frozen image and deploy's files disagree on (empty when they agree)."""
    m = Manifest()
    m.include(str(repo / (BOARD_MANIFEST % board)))
    assert m.ports == [PORT_MANIFEST], "the port's own frozen modules come first"
    shipped = {
        dest: src.resolve()
        for src, dest in deploy.firmware_sources(board, repo)
        if dest != "main.py"
    }
    out = {}
    if set(m.files) - set(shipped):
        out["frozen, not shipped"] = sorted(set(m.files) - set(shipped))
    if set(shipped) - set(m.files):
        out["shipped, not frozen"] = sorted(set(shipped) - set(m.files))
    moved = [t for t in set(m.files) & set(shipped) if m.files[t] != shipped[t]]
    if moved:
        out["frozen from another file"] = sorted(moved)
    return out


@pytest.mark.parametrize("board", deploy.BOARDS)
def test_the_manifest_lists_exactly_what_deploy_ships(board):
    assert differences(board) == {}


def test_the_manifest_refuses_to_guess_the_board():
    m = Manifest()
    with pytest.raises(ValueError, match="board='pico' or board='esp32'"):
        m.include(str(REPO / "firmware" / "manifest.py"))


def test_a_module_deploy_ships_but_the_manifest_lacks_is_caught(tmp_path):
    for d in ("firmware", "protocol"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "firmware" / "hal" / "watchdog.py").write_text("# a new shared HAL module\n")
    assert differences("pico", tmp_path) == {"shipped, not frozen": ["hal/watchdog.py"]}
    assert differences("esp32", tmp_path) == {"shipped, not frozen": ["hal/watchdog.py"]}
