# The one entry every board uses: main.py on a Pico or an ESP32, and the virtual board's
# host (host_tools/shaftgate/vboard) alike. Building the Gateway drives every output safe
# first; the restore of ledger and state from flash runs in the first steps, outputs safe
# until it is done.
from gateway.app import Gateway


def start(board):
    # Boots in phases from the caller's loop: each step() runs one phase and feeds the
    # watchdog, so no single call holds the board past it (docs/hardware.md).
    return Gateway(board, staged=True)


def phases(board):
    # The same boot for a host that calls each phase itself (the virtual board's strict
    # profiles check the heap after each call): yields after each phase, the watchdog
    # fed, and returns the booted gateway.
    gw = Gateway(board, staged=True)
    while gw.boot_step():
        yield "boot"
    return gw
