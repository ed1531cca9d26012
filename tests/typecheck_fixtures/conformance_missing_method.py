# The same proof as tests/typecheck/conformance_rp2.py, for the fixture board module.
import hal_missing_method

from hal.interface import Board


def fixture_board_is_a_board(board: hal_missing_method.Board) -> Board:
    return board
