# A board's HAL imported over stand-ins (tests/standin_pico.py, tests/standin_esp32.py): the
# stand-ins are in sys.modules only while the HAL's modules are imported, then the modules
# they replaced (or none) are put back, so nothing else sees them. MicroPython and CPython.
import sys


def over(swap, board):
    """Import hal.mcu and hal.<board> with sys.modules holding `swap` meanwhile; ->
    (hal.mcu, hal.<board>). A second call returns the modules already imported."""
    name = "hal." + board
    if name not in sys.modules:
        saved = {}
        for key in swap:
            saved[key] = sys.modules.get(key)
            sys.modules[key] = swap[key]
        try:
            __import__(name)
        finally:
            for key in saved:
                if saved[key] is None:
                    sys.modules.pop(key, None)
                else:
                    sys.modules[key] = saved[key]
    return sys.modules["hal.mcu"], sys.modules[name]
