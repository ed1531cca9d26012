"""What the virtual board itself holds in the heap, against the real board's own HAL
(docs/hardware.md, "Board profiles"): the Pico's HAL modules, each imported after the
firmware (host_tools/shaftgate/vboard/halcost.mjs); the virtual board's harness,
hal.virtual and its Board(), each read on a collected heap at power-on; and the
difference the virtual board charges at boot so that it is never kinder than the Pico.

    ./dev bench vboard
"""

import tempfile

import gateway_work

from shaftgate.vboard import VirtualBoard

BOOT_TIMEOUT_S = 120


def measure(profile="pico"):
    """boot_report["hal_cost"] of a shaft gateway's board on `profile`, freshly booted."""
    with tempfile.TemporaryDirectory(prefix="bench-vboard-") as tmp:
        board = VirtualBoard("hal-cost", tmp, profile=profile, cameras=1)
        board.provision(key=gateway_work.KEY, config=gateway_work.CONFIG)
        try:
            board.start(BOOT_TIMEOUT_S)
            return board.boot_report["hal_cost"]
        finally:
            board.stop()


def run():
    cost = measure()
    pico = [(name, n) for name, n in cost["board_modules"].items()]
    pico.append(("the Pico's HAL in all", cost["board"]))
    parts = cost["harness_parts"]
    own = [
        ("harness: the _vb_ functions (source, with gc, sys, micropython)", parts["functions"]),
        ("harness: the vboard_io JS module", parts["vboard_io"]),
        ("harness: the calibration's leftovers", parts["calibration"]),
        ("harness: the port's first calls", parts["port"]),
        ("harness in all, live before the firmware", cost["harness"]),
        ("hal.virtual imported", cost["hal_virtual"]),
        ("hal.virtual.Board()", cost["board_object"]),
        ("the virtual board's own in all", cost["own"]),
        ("charged at boot: the Pico's HAL beyond it", cost["charged"]),
    ]
    return [
        (
            "Heap of the Pico's own HAL beside the firmware (pico profile)",
            ["module", "bytes"],
            pico,
        ),
        ("Heap of the virtual board's own part (pico profile)", ["part", "bytes"], own),
    ]
