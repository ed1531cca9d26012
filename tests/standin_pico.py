# The real hal/pico.py and hal/mcu.py loaded over stand-ins (standin_machine, standin_rp2,
# standin_ticks for the tick counter, standin_micropython for the two functions the
# WebAssembly port lacks), so that the Pico's own HAL code runs under MicroPython in tests
# (tests/test_pico_hal.py) and benches (benches/realhal_work.py). MicroPython only: it
# needs uctypes. The stand-ins are put in sys.modules while the HAL is imported and taken
# out again, so nothing else sees them.
import standin_import
import standin_machine
import standin_micropython
import standin_rp2
import standin_ticks


def load():
    """-> (hal.mcu, hal.pico), imported over the stand-ins."""
    swap = {
        "machine": standin_machine,
        "rp2": standin_rp2,
        "micropython": standin_micropython,
        "time": standin_ticks,
    }
    return standin_import.over(swap, "pico")
