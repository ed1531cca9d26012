from mpy_plugin import pytest_collect_file  # noqa: F401  (hook: MicroPython items)
