# The real hal/esp32.py and hal/mcu.py loaded over stand-ins (standin_machine,
# standin_ticks for the tick counter, standin_micropython for what the WebAssembly port
# lacks), as tests/standin_pico.py loads the Pico's, so that the ESP32's own HAL code runs
# under MicroPython in benches (benches/realhal_work.py). The stand-ins are put in
# sys.modules while the HAL is imported and taken out again, so nothing else sees them.
import standin_import
import standin_machine
import standin_micropython
import standin_ticks


def load():
    """-> (hal.mcu, hal.esp32), imported over the stand-ins."""
    swap = {
        "machine": standin_machine,
        "micropython": standin_micropython,
        "time": standin_ticks,
    }
    return standin_import.over(swap, "esp32")
