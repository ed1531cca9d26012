# For the type checker only (pyrightconfig.virtual.json), never run: fails to check
# unless the virtual board's Board has every method of the interface.
from hal import virtual
from hal.interface import Board


def virtual_board_is_a_board(board: virtual.Board) -> Board:
    return board
