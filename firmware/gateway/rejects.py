# R-DATA-2: rejected, unauthenticated commands (bad or missing tag, replayed counter, no key) are
# evidence, but anyone on the wire can send them: logged one by one they would fill the
# event log and wear the flash without the key (issue 13). So they are logged through a
# token bucket: a few at once, each as its own AUTH_REJECTED event, then at most one
# event a minute for a burst, counting every frame it stands for (b). While the log is
# a quarter full they are only counted (the count goes out once there is room again),
# so forged frames alone never bring the log near the room commands need.
from gateway import events as ev
from gateway.elapsed import ticks_diff

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


BURST_EVENTS = const(4)  # events logged at once before rejections are pooled
REFILL_MS = const(60000)  # one more event allowed per minute


class RejectTally:
    def __init__(self, emit, log, now_ms):
        self._emit = emit
        self._log = log
        self.tokens = BURST_EVENTS
        self._refill_ms = now_ms
        self.pending = 0  # rejections not yet in any event
        self._type = 0
        self._code = 0
        self.total = 0  # every rejection since boot, logged or not

    def rejected(self, msg_type, code, now_ms):
        self.total += 1
        self.pending += 1
        self._type = msg_type
        self._code = code
        self.tick(now_ms)

    def tick(self, now_ms):
        if ticks_diff(now_ms, self._refill_ms) >= REFILL_MS:
            self._refill_ms = now_ms
            if self.tokens < BURST_EVENTS:
                self.tokens += 1
        if not self.pending or not self.tokens:
            return
        log = self._log
        if log.unacked() * 4 >= log.capacity:
            return  # counted; logged once acks make room
        self.tokens -= 1
        n = self.pending
        self.pending = 0
        # tag: message type and a: error code of the latest frame; b: frames it stands for
        self._emit(ev.AUTH_REJECTED, self._type, self._code, n)
