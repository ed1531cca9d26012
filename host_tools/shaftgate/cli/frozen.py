"""The frozen image's contents, read from firmware/boards/<board>/manifest.py as
MicroPython's build reads it (tools/manifestfile.py: a Python file executed with include /
package / module / options, relative paths from the including manifest's folder), by a
small reader of that documented API: MicroPython's own tool is not on any package
registry. `shaftgate deploy --frozen` copies only what the image does not hold, and
tests/test_manifest.py checks that the image holds exactly what deploy ships."""

import os
from pathlib import Path

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
        if not source.is_file():
            raise ValueError("manifest names %s, which does not exist" % source)
        if target in self.files:
            raise ValueError("manifest lists %s twice" % target)
        self.files[target] = source.resolve()


def frozen_files(board, repo):
    """{path in the image: source file} of the board's frozen image (the port's own
    modules left out: they are not ours)."""
    m = Manifest()
    m.include(str(Path(repo) / (BOARD_MANIFEST % board)))
    return m.files
