# Under MicroPython (node tests/mpy_runner.mjs run benches/upy_realhal.py): heap on the
# REAL board HAL path (benches/realhal_work.py: hal/pico.py and hal/mcu.py over stand-in
# machine and rp2), beside the same figures on the bench's allocation-free board
# (gateway_work.BenchBoard), by benches/realhal_figures.py. Prints one "@@bench {json}"
# line. The ESP32's HAL: benches/upy_realhal_esp32.py (an interpreter of its own).
import json

from gateway_work import Shaft
from realhal_figures import figures
from realhal_work import RealHalShaft


def main():
    out = {}
    figures(RealHalShaft(host=True), "realhal_", out)
    figures(Shaft(host=True), "benchboard_", out)
    print("@@bench " + json.dumps(out))


main()
