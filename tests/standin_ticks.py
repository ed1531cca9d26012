# The board's tick counter for the real HAL under the bench (benches only): hal/mcu.py
# reads time.ticks_ms(); the bench moves it as the doorway's timing needs, so that a
# crossing's settle time takes no wall-clock time. Put in sys.modules as `time` while
# hal.mcu is imported.
import time as _real

now = [1000]
ticks_diff = _real.ticks_diff
ticks_add = _real.ticks_add
ticks_us = _real.ticks_us
sleep_ms = _real.sleep_ms


def ticks_ms():
    return now[0]
