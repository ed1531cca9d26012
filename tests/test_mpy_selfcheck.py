# micropython-test
# The runner itself: these must pass under both interpreters, and the last one proves a
# failure inside MicroPython would be reported rather than lost (see test_runner.py).
import sys


def test_interpreter_identity_is_reported():
    assert sys.implementation.name in ("cpython", "micropython")


def test_protocol_and_firmware_are_importable():
    import gateway  # noqa: F401
    import gatewire  # noqa: F401
