# For the type checker only (pyrightconfig.esp32.json), never deployed or run: fails to
# check unless hal.esp32.Board has every method of the interface with compatible types.
from hal import esp32
from hal.interface import Board


def esp32_board_is_a_board(board: esp32.Board) -> Board:
    return board
