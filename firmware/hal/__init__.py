# Board support: one module per board, all with the same Board (hal/interface.pyi).
# main.py does `board = hal.load().Board()`; the module is imported only when chosen, so
# a Pico never loads the ESP32 code and CPython never touches `machine`.
import sys

BOARDS = ("pico", "esp32", "virtual")
# sys.platform of each port; anything else (CPython, the WebAssembly port) is virtual.
_PLATFORM_BOARDS = {"rp2": "pico", "esp32": "esp32"}


def board_name(platform=None):
    if platform is None:
        platform = sys.platform
    return _PLATFORM_BOARDS.get(platform, "virtual")


def load(name=None):
    if name is None:
        name = board_name()
    if name not in BOARDS:
        raise ValueError("unknown board %r: expected one of %s" % (name, ", ".join(BOARDS)))
    return _submodule(name)


def _submodule(name):
    # __import__ returns the package on both interpreters; the module is its attribute.
    return getattr(__import__("hal." + name), name)
