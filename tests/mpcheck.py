# Helpers for tests that run unchanged under CPython (pytest) and MicroPython (the
# WebAssembly runner): no pytest import is possible on the MicroPython side.


def raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("expected %s from %r" % (exc_type.__name__, fn))
