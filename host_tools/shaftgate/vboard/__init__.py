"""Virtual gateway boards: the deployed firmware under the real MicroPython interpreter,
a pty for its serial line, and a Python side channel for its peripherals."""

from shaftgate.vboard.board import (
    INNER,
    OUTER,
    SAFE_OUTPUTS,
    BoardCrashed,
    BoardError,
    BoardTimeout,
    VirtualBoard,
)

__all__ = [
    "INNER",
    "OUTER",
    "SAFE_OUTPUTS",
    "BoardCrashed",
    "BoardError",
    "BoardTimeout",
    "VirtualBoard",
]
