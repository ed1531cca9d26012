# The gateway firmware as frozen modules (MicroPython manifest format: docs.micropython.org
# "MicroPython manifest files"). Frozen bytecode and its constants stay in flash, so only
# the firmware's data takes the GC heap: the production image for boards whose heap cannot
# also hold the bytecode (docs/hardware.md, "Frozen image"). Built through the board
# manifests beside it, which add the port's own modules and name the board:
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=$PWD/firmware/boards/pico/manifest.py
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/firmware/boards/esp32/manifest.py
# main.py stays on the board's file system (MicroPython runs main.py from there); every
# module below is exactly what `shaftgate deploy` ships as .mpy (tests/test_manifest.py).
options.defaults(board=None)  # noqa: F821  (manifest globals: options, package, module)
if options.board not in ("pico", "esp32"):  # noqa: F821
    raise ValueError("include this manifest with board='pico' or board='esp32'")

package("gateway")  # noqa: F821
# The HAL: the shared modules and this board's own, never the other board's or virtual.py.
package(  # noqa: F821
    "hal",
    files=[
        "__init__.py",
        "clock.py",
        "dmaring.py",
        "flashfs.py",
        "gasloop.py",
        "mcu.py",
        "pulses.py",
        "readerline.py",
        options.board + ".py",  # noqa: F821
    ],
)
package("gatewire", base_path="../protocol")  # noqa: F821
