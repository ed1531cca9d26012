# A board module whose Board lacks one interface method (feed_watchdog): the conformance
# check beside it must report it (tests/test_typecheck.py). Never run.
from hal.flashfs import FileFlash


class Board:
    def __init__(self):
        self.flash = FileFlash("/data")

    def ticks_ms(self) -> int:
        return 0

    def rtc_s(self) -> int:
        return 0

    def set_rtc_s(self, t: int) -> None:
        pass

    def read_tag(self, out: list[int]) -> bool:
        return False

    def beam_count(self) -> int:
        return 0

    def video_beats(self, out: list[int]) -> int:
        return 0

    def read_gas(self, out: list[int]) -> bool:
        return False

    def set_lamp(self, colour: int) -> None:
        pass

    def set_sounder(self, on: bool) -> None:
        pass

    def set_work_relay(self, on: bool) -> None:
        pass

    def set_hot_relay(self, on: bool) -> None:
        pass

    def set_entry_refused(self, on: bool) -> None:
        pass

    def link_read(self, buf: bytearray) -> int:
        return 0

    def link_write(self, data: bytes | bytearray | memoryview) -> None:
        pass
