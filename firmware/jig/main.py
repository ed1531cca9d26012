# The HIL stimulus jig: a second Raspberry Pi Pico wired to a gateway board's inputs and
# outputs on the bench (docs/hil.md). It plays the gateway's world: the two tag readers
# (the line protocol of hal/readerline.py on two UARTs), the beam counter, two cameras'
# heartbeats, the CH4 and CO 4-20 mA loops (as the shunt voltage, from filtered PWM), and
# the board's reset line; and it reads back the board's relays, lamp, sounder and entry
# line, reporting every change. The host (hil_tests/hil_boards.py, JigLink) drives it over
# the jig's own USB serial console with one ASCII line per request:
#
#   host -> jig   <id> <VERB> [args]            id 1..999999
#   jig -> host   <id> OK [values]  |  <id> ERR <why>
#                 * OUT <ticks_ms> <bits>       whenever the board's outputs change
#                 * READY JIG <protocol> <bits> at start
#
#   HELLO                 -> OK JIG <protocol> <bits>
#   TAG <point> <tag> <rssi> <batt>   one reader line on point 0 (outer) or 1 (inner)
#   RAW <point> <hex>     raw bytes on a reader line (noise, broken lines)
#   BEAM <n>              n beam pulses; answered once the last one is out
#   CAM <camera> <0|1>    camera heartbeat pulses on or off
#   LOOP <0|1> <uA>       loop current of CH4 (0) or CO (1): 0, 2000 (dead), 4000..22000
#   SHUNT <ohm>           the gateway's shunt: 150 on a Pico, 100 on an ESP32-DevKitC
#   RUN <0|1>             hold the gateway in reset (0: as if unpowered) or let it run
#   OUT                   -> OK <bits>
#
# Output bits: 1 work relay, 2 hot-work relay, 4 entry permitted, 8 green, 16 amber,
# 32 red, 64 sounder. Everything but PicoHardware and ConsoleLink is plain logic, run in
# CI on fake pins under CPython and MicroPython (hil_tests/test_jig_protocol.py).
import binascii
import sys

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


PROTOCOL = const(1)
LINE_MAX = const(128)
_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)

# Jig pins (docs/hil.md, "Wiring").
OUTER_READER_UART = const(0)
OUTER_READER_TX = const(0)
INNER_READER_UART = const(1)
INNER_READER_TX = const(4)
BEAM_PIN = const(2)
CAMERA_PINS = (3, 6)
RUN_PIN = const(7)
LOOP_PINS = (8, 9)  # PWM slice 4 A and B: CH4, CO
READBACK_PINS = (10, 11, 12, 13, 14, 15, 16)  # bit 0 .. bit 6 of the output bits

READER_BAUD = const(57600)
BEAT_PERIOD_MS = const(500)
BEAT_LOW_MS = const(20)
# The gateway counts a beam edge after 50 ms of quiet: 60 ms low, 60 ms high per body.
BEAM_LOW_MS = const(60)
BEAM_HIGH_MS = const(60)
BEAM_MAX = const(1000)
PWM_HZ = const(20000)  # with the 10 k / 1 uF filter: ripple about 4 mV, settled in 50 ms
VREF_MV = const(3300)
LOOP_MAX_UA = const(22000)
SHUNT_MIN_OHM = const(50)
SHUNT_MAX_OHM = const(150)  # 22 mA x 150 ohm = 3.3 V: the most PWM can make
STABLE_MS = const(3)  # a lamp change passes through "all dark" (break before make)
TAG_MAX = const(999999999)


def ticks_diff(end, start):
    d = (end - start) & _MASK
    if d >= _HALF:
        d = d - _MASK - 1
    return d


def tag_line(tag, rssi_dbm, battery_low):
    # One reader sentence: $TAG,<id>,<rssi>,<0|1>*<XOR of the bytes between $ and *>.
    body = "TAG,%d,%d,%d" % (tag, rssi_dbm, 1 if battery_low else 0)
    x = 0
    for b in body.encode():
        x ^= b
    return ("$%s*%02X\r\n" % (body, x)).encode()


def loop_duty(ua, shunt_ohm):
    # The shunt voltage that loop current makes, as a PWM duty of the 3.3 V rail.
    mv = ua * shunt_ohm // 1000
    duty = mv * 65535 // VREF_MV
    return duty if duty < 65535 else 65535


class JigError(Exception):
    pass


def _int(word, lo, hi, what):
    neg = word.startswith("-")
    digits = word[1:] if neg else word
    if not digits or not digits.isdigit():
        raise JigError("%s: %r is not a number" % (what, word))
    v = -int(digits) if neg else int(digits)
    if v < lo or v > hi:
        raise JigError("%s: %d is outside %d..%d" % (what, v, lo, hi))
    return v


class Jig:
    # hw: the pins (PicoHardware, or a fake in tests); write(text): to the host.
    def __init__(self, hw, write, now_ms):
        self.hw = hw
        self._write = write
        self._line = bytearray()
        self._overlong = False
        self.shunt_ohm = 150
        self._cam_on = [False] * len(CAMERA_PINS)
        self._cam_next = [0] * len(CAMERA_PINS)
        self._cam_low = [False] * len(CAMERA_PINS)
        self._beam_left = 0
        self._beam_low = False
        self._beam_next = 0
        self._beam_reply = 0
        self._bits = hw.read_outputs()
        self._seen = self._bits
        self._seen_ms = now_ms
        self._now_ms = now_ms
        self.hw.run(True)

    def announce(self):
        self._write("* READY JIG %d %d\n" % (PROTOCOL, self._bits))

    def feed(self, data):
        for b in data:
            if b == 10:
                # ASCII only: MicroPython's decode has no error handler to lean on.
                line = "".join(chr(c) if 32 <= c < 127 else "?" for c in self._line).strip()
                overlong = self._overlong
                self._line = bytearray()
                self._overlong = False
                if overlong:
                    self._write("* ERR line longer than %d bytes\n" % LINE_MAX)
                elif line:
                    self._request(line)
            elif b != 13:
                if len(self._line) < LINE_MAX:
                    self._line.append(b)
                else:
                    self._overlong = True

    def _request(self, line):
        words = line.split()
        if not words[0].isdigit() or len(words) < 2:
            self._write("* ERR not <id> <VERB> ...: %s\n" % line[:40])
            return
        rid = int(words[0])
        try:
            reply = self._do(rid, words[1], words[2:])
        except JigError as e:
            self._write("%d ERR %s\n" % (rid, e))
            return
        if reply is not None:
            self._write(("%d OK %s" % (rid, reply)).strip() + "\n")

    def _args(self, args, n, verb):
        if len(args) != n:
            raise JigError("%s takes %d arguments, got %d" % (verb, n, len(args)))
        return args

    def _do(self, rid, verb, args):
        # Returns the reply's values, or None when the reply comes later (BEAM).
        hw = self.hw
        if verb == "HELLO":
            self._args(args, 0, verb)
            return "JIG %d %d" % (PROTOCOL, self._bits)
        if verb == "OUT":
            self._args(args, 0, verb)
            return "%d" % self._bits
        if verb == "TAG":
            a = self._args(args, 4, verb)
            point = _int(a[0], 0, 1, "point")
            tag = _int(a[1], 1, TAG_MAX, "tag")
            rssi = _int(a[2], -127, 0, "rssi")
            batt = _int(a[3], 0, 1, "battery")
            hw.reader_write(point, tag_line(tag, rssi, batt))
            return ""
        if verb == "RAW":
            a = self._args(args, 2, verb)
            point = _int(a[0], 0, 1, "point")
            try:
                data = binascii.unhexlify(a[1])
            except ValueError:
                raise JigError("RAW: %r is not hex" % a[1])
            hw.reader_write(point, data)
            return ""
        if verb == "BEAM":
            a = self._args(args, 1, verb)
            n = _int(a[0], 1, BEAM_MAX, "pulses")
            if self._beam_left:
                raise JigError("BEAM: %d pulses still to send" % self._beam_left)
            self._beam_left = n
            self._beam_low = False
            self._beam_next = self._now_ms
            self._beam_reply = rid
            return None
        if verb == "CAM":
            a = self._args(args, 2, verb)
            cam = _int(a[0], 0, len(CAMERA_PINS) - 1, "camera")
            on = _int(a[1], 0, 1, "on") == 1
            if on and not self._cam_on[cam]:
                self._cam_next[cam] = self._now_ms
            self._cam_on[cam] = on
            if not on:
                self._cam_low[cam] = False
                hw.pulse_pin(CAMERA_PINS[cam], False)
            return ""
        if verb == "LOOP":
            a = self._args(args, 2, verb)
            ch = _int(a[0], 0, 1, "loop")
            ua = _int(a[1], 0, LOOP_MAX_UA, "uA")
            hw.loop_duty(ch, loop_duty(ua, self.shunt_ohm))
            return ""
        if verb == "SHUNT":
            a = self._args(args, 1, verb)
            self.shunt_ohm = _int(a[0], SHUNT_MIN_OHM, SHUNT_MAX_OHM, "ohm")
            return ""
        if verb == "RUN":
            a = self._args(args, 1, verb)
            hw.run(_int(a[0], 0, 1, "run") == 1)
            return ""
        raise JigError("unknown verb %s" % verb)

    def poll(self, now_ms):
        # Pulses on time, and every settled change of the board's outputs reported.
        self._now_ms = now_ms
        hw = self.hw
        for i in range(len(CAMERA_PINS)):
            if self._cam_on[i] and ticks_diff(now_ms, self._cam_next[i]) >= 0:
                if self._cam_low[i]:
                    hw.pulse_pin(CAMERA_PINS[i], False)
                    self._cam_low[i] = False
                    self._cam_next[i] = self._cam_next[i] + BEAT_PERIOD_MS - BEAT_LOW_MS
                else:
                    hw.pulse_pin(CAMERA_PINS[i], True)
                    self._cam_low[i] = True
                    self._cam_next[i] = now_ms + BEAT_LOW_MS
        if self._beam_left and ticks_diff(now_ms, self._beam_next) >= 0:
            if self._beam_low:
                hw.pulse_pin(BEAM_PIN, False)
                self._beam_low = False
                self._beam_left -= 1
                self._beam_next = now_ms + BEAM_HIGH_MS
                if not self._beam_left:
                    self._write("%d OK\n" % self._beam_reply)
            else:
                hw.pulse_pin(BEAM_PIN, True)
                self._beam_low = True
                self._beam_next = now_ms + BEAM_LOW_MS
        bits = hw.read_outputs()
        if bits != self._seen:
            self._seen = bits
            self._seen_ms = now_ms
        elif bits != self._bits and ticks_diff(now_ms, self._seen_ms) >= STABLE_MS:
            self._bits = bits
            self._write("* OUT %d %d\n" % (now_ms & _MASK, bits))


class PicoHardware:
    # The jig Pico's pins. Pulse outputs idle high, as the gateway's opto inputs see an
    # idle line; a pulse drives them low. Readback inputs have pull-downs, so a gateway
    # held in reset (its pins floating) reads as de-energised.
    def __init__(self):
        import machine

        self._readers = (
            machine.UART(OUTER_READER_UART, baudrate=READER_BAUD, tx=machine.Pin(OUTER_READER_TX)),
            machine.UART(INNER_READER_UART, baudrate=READER_BAUD, tx=machine.Pin(INNER_READER_TX)),
        )
        self._pulse = {BEAM_PIN: machine.Pin(BEAM_PIN, machine.Pin.OUT, value=1)}
        for n in CAMERA_PINS:
            self._pulse[n] = machine.Pin(n, machine.Pin.OUT, value=1)
        self._run = machine.Pin(RUN_PIN, machine.Pin.OPEN_DRAIN, value=1)
        self._loops = []
        for n in LOOP_PINS:
            pwm = machine.PWM(machine.Pin(n), freq=PWM_HZ, duty_u16=0)
            self._loops.append(pwm)
        pull_down = machine.Pin.PULL_DOWN
        self._readback = [machine.Pin(n, machine.Pin.IN, pull_down) for n in READBACK_PINS]

    def reader_write(self, point: int, data: bytes) -> None:
        uart = self._readers[point]
        uart.write(data)
        uart.flush()  # answered only once the line is on the wire

    def pulse_pin(self, pin: int, low: bool) -> None:
        self._pulse[pin].value(0 if low else 1)

    def loop_duty(self, channel: int, duty_u16: int) -> None:
        self._loops[channel].duty_u16(duty_u16)

    def run(self, on: bool) -> None:
        # Open drain on the gateway's RUN (Pico) or EN (ESP32) pin: low holds it in reset.
        self._run.value(1 if on else 0)

    def read_outputs(self) -> int:
        bits = 0
        for i in range(len(self._readback)):
            if self._readback[i].value():
                bits |= 1 << i
        return bits


class ConsoleLink:
    # The jig's USB serial console, read without blocking. The jig speaks text, so Ctrl-C
    # still reaches the REPL: mpremote can stop and redeploy it at any time.
    def __init__(self):
        import select

        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self) -> bytearray:
        data = bytearray()
        while len(data) < LINE_MAX and self._poll.poll(0):
            data.extend(sys.stdin.buffer.read(1))  # bytes: no text decoding of line noise
        return data

    def write(self, text: str) -> None:
        sys.stdout.write(text)


def main():
    import time

    hw = PicoHardware()
    link = ConsoleLink()
    jig = Jig(hw, link.write, time.ticks_ms())
    jig.announce()
    while True:
        data = link.read()
        if data:
            jig.feed(data)
        jig.poll(time.ticks_ms())
        time.sleep_ms(1)


if __name__ == "__main__":
    main()
