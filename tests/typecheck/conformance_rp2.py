# For the type checker only (pyrightconfig.rp2.json), never deployed or run: each function
# fails to check unless the board module's class has every method of the interface with
# compatible types, so a method missing from hal/pico.py (or from the McuBoard it
# inherits in hal/mcu.py) turns the test command red.
from hal import pico
from hal.flashfs import FileFlash
from hal.interface import Board, Flash


def pico_board_is_a_board(board: pico.Board) -> Board:
    return board


def file_flash_is_a_flash(flash: FileFlash) -> Flash:
    return flash
