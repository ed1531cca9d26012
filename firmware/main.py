# The board's entry point (deploy copies it to the root of the board's file system).
# The virtual board does the same from vboard.mjs, stepping from a JS timer instead of
# this loop so that Node's event loop stays free between steps.
from time import sleep_ms

import hal
from gateway import boot

board = hal.load().Board()
try:
    gw = boot.start(board)
    while True:
        gw.step()
        sleep_ms(2)
finally:
    # Whatever ended the loop (a bug, an interrupt at the REPL), the pins would otherwise
    # stay latched as last driven: leave them as a dead board would, de-energised = stop
    # (the entry pin drives "entry permitted", so refused is its de-energised state).
    board.set_work_relay(False)
    board.set_hot_relay(False)
    board.set_entry_refused(True)
    board.set_sounder(False)
    board.set_lamp(0)
