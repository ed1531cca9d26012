# The one entry every board uses: main.py on a Pico or an ESP32, and the virtual board's
# host (host_tools/shaftgate/vboard) alike. Building the Gateway drives every output safe
# first and restores ledger and state from flash before the first step.
from gateway.app import Gateway


def start(board):
    return Gateway(board)
