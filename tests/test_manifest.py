"""firmware/manifest.py, the frozen image (docs/hardware.md "Frozen image"), lists exactly
the modules `shaftgate deploy` ships for each board.

The manifest is run as MicroPython's build runs it (tools/manifestfile.py: a Python file
executed with include / package / module / options, relative paths from the including
manifest's folder), by a small reader of that documented API: MicroPython's own tool is
not on any package registry."""

import os
import shutil
from pathlib import Path

import pytest

from shaftgate.cli import deploy

REPO = Path(__file__).resolve().parents[1]
BOARD_MANIFEST = "firmware/boards/%s/manifest.py"
PORT_MANIFEST = "$(PORT_DIR)/boards/manifest.py"


class Options:
    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._defaults = {}

    def defaults(self, **kwargs):
        self._defaults = kwargs

    def __getattr__(self, name):
        return self._kwargs.get(name, self._defaults.get(name))


class Manifest:
    """The files a manifest freezes: {path in the image: source file}."""

    def __init__(self):
        self.files = {}
        self.ports = []

    def include(self, path, **kwargs):
        if path.startswith("$(PORT_DIR)"):
            self.ports.append(path)  # the port's own modules: not ours to list
            return
        path = Path(os.path.abspath(path))
        if path.is_dir():
            path = path / "manifest.py"
        here = os.getcwd()
        os.chdir(path.parent)
        try:
            names = {
                "include": self.include,
                "package": self.package,
                "module": self.module,
                "options": Options(**kwargs),
            }
            exec(compile(path.read_text(), str(path), "exec"), names)
        finally:
            os.chdir(here)

    def package(self, package_path, files=None, base_path=".", opt=None):
        base = Path(os.path.abspath(base_path))
        if files is None:
            found = sorted((base / package_path).rglob("*.py"))
            files = [str(p.relative_to(base / package_path)) for p in found]
        for f in files:
            target = "%s/%s" % (package_path, f)
            self.add(target, base / package_path / f)

    def module(self, module_path, base_path=".", opt=None):
        self.add(module_path, Path(os.path.abspath(base_path)) / module_path)

    def add(self, target, source):
        assert source.is_file(), "manifest names %s, which does not exist" % source
        assert target not in self.files, "manifest lists %s twice" % target
        self.files[target] = source.resolve()


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
