"""Board profiles: what the virtual board and the MicroPython test runner hold the firmware
to (docs/hardware.md, "Board profiles"). One profile is in force per board or test run:
VirtualBoard(profile=...), else the SHAFTGATE_BOARD_PROFILE environment variable (pytest's
--board-profile sets it), else DEFAULT.

- heap_kb: the GC heap of the board. The WebAssembly port grows its heap instead of
  failing, and collects only when a call from the host returns; the heap is read inside
  each call just before it returns (a boot phase, a step, a test function: everything
  the call allocated, garbage included) and growth past this size is the board's
  MemoryError.
- watchdog_min_ms / watchdog_max_ms: the range machine.WDT accepts on the chip.
- calibration: the benchmark run in the VM at power-on and the published time of the same
  benchmark on the chip; board time = VM CPU time x (published / measured).
- flash: datasheet erase / program times (typical and maximum) of the board's SPI NOR
  flash; which of the two board time uses is `flash_timing`.
- uart_fifo: bytes a reader UART's hardware FIFO holds while interrupts are off during a
  flash erase/program; the rest of a reader line arriving then is lost.
- reader_rx: how the board's HAL receives the readers. "uart": the port's interrupt-fed
  UART buffer, so flash work loses what passes uart_fifo. "dma": a DMA channel into a
  ring of reader_ring bytes (hal/pico.py, hal/dmaring.py), which runs on through flash
  work; bytes are lost only when more than the ring holds wait unread at a poll.

- board_hal: the board's own HAL modules, which a real board holds in its heap beside the
  firmware (the Pico: hal.pico with hal.mcu, the reader, pulse, gas-loop, clock and DMA
  parts, and hal.flashfs). The virtual board runs hal/virtual.py instead; when that and
  its harness take less heap than these modules (measured per image, image.py), it
  charges the difference as one block at boot, so that it is never kinder than the board.

`loose` is the virtual board as it was before the profiles: heap unlimited, watchdog on
the wall clock from its first feed, no board time, no FIFO loss. It is kept for the tests
that do not yet fit a board (each one names it explicitly, see tests/conftest.py).
"""

import os

ENV = "SHAFTGATE_BOARD_PROFILE"
DEFAULT = "pico"

# The published figure the VM calibrates against (docs/hardware.md names it): the 8-queens
# problem, every solution, on one Python list with recursion, measured with MicroPython
# v1.13 on each board by A. Krantas ("speed_comparison.md" in github.com/alankrantas/
# circuitpython_experiments): Raspberry Pi Pico (125 MHz) 2284.749 ms, ESP32-Pico-Kit
# (240 MHz) 2100.727 ms. vboard.mjs runs the same kind of solver. MicroPython's ESP32
# builds run at 160 MHz unless the firmware sets machine.freq() (the source says so, and
# ours does not): the ESP32 figure is scaled to 160 MHz, 2100.727 x 240 / 160.
ESP32_QUEENS_MS = 2100.727 * 240 / 160
QUEENS_N = 8
QUEENS_SOLUTIONS = 92

# Winbond W25Q16JV (the Pico's flash), datasheet section 9.6 "AC electrical
# characteristics": sector erase (4 KB) tSE 45 ms typical / 400 ms max; page program
# (256 B) tPP 0.7 ms typical / 3 ms max (the W25Q16 figures in the issue; the JV revision
# lists 0.4 ms typical). The ESP32-WROOM-32's 4 MB flash is the same class of part
# (W25Q32 / GD25Q32: 45 / 400 ms, 0.7 / 3 ms).
_W25Q = {
    "sector_bytes": 4096,
    "page_bytes": 256,
    "erase_ms": 45.0,
    "erase_max_ms": 400.0,
    "program_ms": 0.7,
    "program_max_ms": 3.0,
}

# The board modules both MCU boards import beside the firmware, in import order (each
# one's own figure in boot_report["hal_cost"]); each board adds its own last.
_MCU_HAL = (
    "hal.clock",
    "hal.flashfs",
    "hal.gasloop",
    "hal.pulses",
    "hal.readerline",
    "hal.mcu",
)

PROFILES = {
    "pico": {
        "name": "pico",
        "chip": "RP2040",
        "deploy_board": "pico",
        "heap_kb": 192,
        "check_heap": True,
        "board_time": True,
        "watchdog_min_ms": 1,
        "watchdog_max_ms": 8388,  # hal/pico.py WATCHDOG_MAX_MS
        "calibration_ms": 2284.749,
        "flash": _W25Q,
        "flash_timing": "typical",
        "uart_fifo": 32,  # RP2040 datasheet 4.2: UART RX FIFO 32 entries
        "reader_rx": "dma",  # hal/pico.py
        "reader_ring": 512,  # hal/pico.py READER_RING
        "board_hal": [*_MCU_HAL, "hal.dmaring", "hal.pico"],
    },
    "esp32": {
        "name": "esp32",
        "chip": "ESP32",
        "deploy_board": "esp32",
        "heap_kb": 110,
        "check_heap": True,
        "board_time": True,
        "watchdog_min_ms": 1000,  # hal/esp32.py WATCHDOG_MIN_MS / MAX_MS
        "watchdog_max_ms": 60000,
        "calibration_ms": ESP32_QUEENS_MS,
        "flash": _W25Q,
        "flash_timing": "typical",
        "uart_fifo": 128,  # ESP32 TRM 13.3: 128-byte RX FIFO per UART
        "reader_rx": "uart",  # hal/esp32.py: the port's UART driver
        "reader_ring": 0,
        "board_hal": [*_MCU_HAL, "hal.esp32"],
    },
    # The ESP32 with the firmware frozen into its image (firmware/manifest.py): bytecode
    # and constants stay in flash, only data takes the heap. Measured by counting the
    # heap past 110 KB by the size of every imported .mpy file: bytecode loaded into RAM
    # takes at least its file's size (the same bytes plus interned strings and per-function
    # records), so the discount never exceeds what freezing saves (stricter, never looser).
    "esp32-frozen": {
        "name": "esp32-frozen",
        "chip": "ESP32",
        "deploy_board": "esp32",
        "heap_kb": 110,
        "check_heap": True,
        "frozen_code": True,
        "board_time": True,
        "watchdog_min_ms": 1000,
        "watchdog_max_ms": 60000,
        "calibration_ms": ESP32_QUEENS_MS,
        "flash": _W25Q,
        "flash_timing": "typical",
        "uart_fifo": 128,
        "reader_rx": "uart",
        "reader_ring": 0,
        # Frozen: the HAL's code is in flash too; only code never imported is discounted.
        "board_hal": [],
    },
    "loose": {
        "name": "loose",
        "chip": "none",
        "deploy_board": "pico",
        "heap_kb": 256,
        "check_heap": False,
        "board_time": False,
        "watchdog_min_ms": 100,
        "watchdog_max_ms": 600000,
        "calibration_ms": 2284.749,
        "flash": _W25Q,
        "flash_timing": "typical",
        "uart_fifo": 0,  # 0: no FIFO model, nothing lost
        "reader_rx": "uart",
        "reader_ring": 0,
        "board_hal": [],
    },
}


def resolve(name=None):
    """The profile named, or the one the environment chooses, as a fresh dict (a dict
    made by variant() is taken as it is). Raises ValueError naming the choices for an
    unknown name."""
    if isinstance(name, dict):
        p = dict(name)
        p["flash"] = dict(p["flash"])
        return p
    source = "argument"
    if name is None:
        name = os.environ.get(ENV) or DEFAULT
        source = ENV if os.environ.get(ENV) else "default"
    if name not in PROFILES:
        raise ValueError(
            "unknown board profile %r (from %s): expected one of %s"
            % (name, source, ", ".join(sorted(PROFILES)))
        )
    p = dict(PROFILES[name])
    p["flash"] = dict(p["flash"])
    return p


def variant(name, **changes):
    """Profile `name` with some keys changed, for a test that compares a board with and
    without one feature (e.g. reader_rx="uart": the Pico receiving its readers as the
    port's UART driver does). Its name says what differs."""
    p = resolve(name)
    for key, value in changes.items():
        if key not in p or key == "name":
            raise ValueError("a profile variant cannot set %r" % (key,))
        p[key] = value
    p["name"] = "%s (%s)" % (
        p["name"],
        ", ".join("%s=%s" % (k, changes[k]) for k in sorted(changes)),
    )
    return p
