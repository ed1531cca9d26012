# A board-side module using what only CPython has: the board type check must report both
# the import and the attribute (tests/test_typecheck.py). Never run.
import time
from dataclasses import dataclass


@dataclass
class GasSample:
    ch4_ppm: int


def elapsed_s():
    return time.perf_counter()
