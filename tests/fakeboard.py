# A Board for running the whole gateway application in a test, under CPython or
# MicroPython: inputs are set by the test, outputs recorded, the host link is two byte
# queues, and flash is a real folder (hal.flashfs.FileFlash), so a "power cut" is simply
# building a new Gateway on the same folder.
from hal.flashfs import FileFlash


class FakeBoard:
    name = "fake"

    def __init__(self, root, cameras=1):
        self.flash = FileFlash(root)
        self.ms = 1000
        self.rtc = 0
        self.reads = []
        self.beams = 0
        self.cameras = cameras
        self.beats = [0] * 8
        self.gas_samples = []
        self.lamp = None
        self.sounder = None
        self.work = None
        self.hot = None
        self.refused = None
        self.rx = bytearray()
        self.tx = bytearray()
        self.watchdog_feeds = 0
        self.history = []  # (output name, value) every time an output changes

    # clock
    def ticks_ms(self):
        return self.ms

    def rtc_s(self):
        return self.rtc

    def set_rtc_s(self, t):
        self.rtc = t

    # inputs
    def read_tag(self, out):
        if not self.reads:
            return False
        r = self.reads.pop(0)
        out[0] = r[0]
        out[1] = r[1]
        out[2] = r[2]
        out[3] = r[3]
        return True

    def beam_count(self):
        return self.beams

    def video_beats(self, out):
        for i in range(self.cameras):
            out[i] = self.beats[i]
        return self.cameras

    def read_gas(self, out):
        if not self.gas_samples:
            return False
        s = self.gas_samples.pop(0)
        out[0] = s[0]
        out[1] = s[1]
        out[2] = s[2]
        return True

    # outputs
    def _set(self, name, value):
        if getattr(self, name) != value:
            self.history.append((name, value))
        setattr(self, name, value)

    def set_lamp(self, colour):
        self._set("lamp", colour)

    def set_sounder(self, on):
        self._set("sounder", bool(on))

    def set_work_relay(self, on):
        self._set("work", bool(on))

    def set_hot_relay(self, on):
        self._set("hot", bool(on))

    def set_entry_refused(self, on):
        self._set("refused", bool(on))

    # link
    def link_read(self, buf):
        n = min(len(buf), len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def link_write(self, data):
        self.tx.extend(data)

    def feed_watchdog(self):
        self.watchdog_feeds += 1
