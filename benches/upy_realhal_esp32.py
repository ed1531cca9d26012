# Under MicroPython (node tests/mpy_runner.mjs run benches/upy_realhal_esp32.py): the
# figures of benches/upy_realhal.py on the ESP32's REAL board HAL (hal/esp32.py and
# hal/mcu.py over stand-in machine: its readers on the port's UART receive, its gas loops
# in calibrated microvolts), in an interpreter of its own (a Pico board's DMA stand-in
# would take its UART 1). Prints one "@@bench {json}" line.
import json

from realhal_figures import figures
from realhal_work import RealHalShaft


def main():
    out = {}
    figures(RealHalShaft(host=True, esp32=True), "esp32hal_", out)
    print("@@bench " + json.dumps(out))


main()
