# A bench for the interlock tests (CPython and MicroPython alike): a clock, cameras that
# beat, a gas sensor that samples, a zone of people, and the event log, stepped the way
# gateway/app.py steps the interlocks (inputs first, then tick). Not a test file itself.
from gateway.interlocks import Interlocks

T0_S = 1700000000  # a wall-clock second (2023-11-14), beyond a 32-bit board's small ints
ZONE = "face-1"


class Log:
    def __init__(self):
        self.items = []

    def __call__(self, kind, tag, a, b):
        for v in (kind, tag, a, b):
            assert type(v) is int, (kind, tag, a, b)
        assert 0 <= tag <= 0xFFFFFFFF and -0x80000000 <= a <= 0x7FFFFFFF, (kind, tag, a, b)
        assert -0x80000000 <= b <= 0x7FFFFFFF, (kind, tag, a, b)
        self.items.append((kind, tag, a, b))

    def of(self, kind):
        return [e for e in self.items if e[0] == kind]

    def kinds(self):
        return [e[0] for e in self.items]

    def clear(self):
        self.items = []


class People:
    def __init__(self):
        self.inside = []

    def is_present(self, person_id):
        return person_id in self.inside

    def enter(self, *ids):
        for p in ids:
            if p not in self.inside:
                self.inside.append(p)

    def leave(self, *ids):
        for p in ids:
            if p in self.inside:
                self.inside.remove(p)


class Rig:
    def __init__(self, cameras=1, clock_set=True, **kw):
        self.log = Log()
        self.people = People()
        self.il = Interlocks(ZONE, self.people.is_present, self.log, cameras=cameras, **kw)
        self.epoch_s = kw.get("epoch_s", 0)  # caps.EPOCH_S: ticks given in clock seconds
        self.now_ms = 1000
        self.now_s = T0_S if clock_set else 0
        self.beats = [0] * 8
        self.n = cameras
        self.camera_alive = [True] * 8
        self.gas_alive = True
        self.ch4_ppm = 2000
        self.co_ppm = 0
        self.gas_flags = 0
        self.jitter = True  # real sensors wobble; off to test the stuck detector
        self._wobble = 0

    def step(self, ms=1000):
        self.now_ms += ms
        if self.now_s:
            self.now_s += ms // 1000
        for i in range(self.n):
            if self.camera_alive[i]:
                self.beats[i] = self.now_ms
        self.il.on_video(self.beats, self.n, self.now_ms)
        if self.gas_alive:
            self._wobble = 1 - self._wobble if self.jitter else 0
            ch4 = self.ch4_ppm + self._wobble if type(self.ch4_ppm) is int else self.ch4_ppm
            self.il.on_gas(ch4, self.co_ppm, self.gas_flags, self.now_ms)
        self.il.tick(self.now_ms, self.now(), len(self.people.inside))

    def now(self):
        # now_s (unix) as the interlocks take it: unix or clock seconds (gateway/caps.py).
        return self.now_s - self.epoch_s if self.now_s and self.epoch_s else self.now_s

    def run(self, seconds, ms=1000):
        for _ in range(seconds * 1000 // ms):
            self.step(ms)

    def ready(self):
        # Boot to both inputs known and the video hold-off over: work relay on.
        for _ in range(60):
            self.step()
            if self.il.work_relay:
                return self
        raise AssertionError("work relay never came on: %r" % self.il.work_reasons)

    def hot_permit(
        self, permit_id=7, start_off_s=0, length_s=3600, watcher=50, workers=(51, 52), flags=1
    ):
        return self.il.issue_permit(
            permit_id,
            ZONE,
            100 + permit_id,
            "STM-%d" % permit_id,
            self.now_s + start_off_s,
            self.now_s + start_off_s + length_s,
            watcher,
            list(workers),
            flags,
            self.now(),
        )
