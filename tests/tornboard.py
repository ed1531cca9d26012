# A FakeBoard whose flash can lose power part-way through a write (tests/tornflash.py):
# the board of every power-cut sweep, on CPython and MicroPython alike.
from fakeboard import FakeBoard
from tornflash import TornFlash

from hal.flashfs import FileFlash


class TornBoard(FakeBoard):
    def __init__(self, root, cameras=1):
        FakeBoard.__init__(self, root, cameras)
        self.flash.close()
        self.flash = TornFlash(lambda: FileFlash(root))
