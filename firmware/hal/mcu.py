# Parts shared by the real boards (hal.pico, hal.esp32): the fail-safe outputs and the
# host link over the USB / UART console. Needs machine: never imported under CPython.
import select
import sys

import machine
from micropython import const, kbd_intr

LAMP_OFF = const(0)
LAMP_GREEN = const(1)
LAMP_AMBER = const(2)
LAMP_RED = const(3)


class Outputs:
    # Every output is a plain push-pull pin driving a relay or lamp driver whose input
    # has a pull-down (docs/hardware.md): low, floating, reset or dead board = de-energised.
    # Permissive outputs are built first, so they are low before anything else can fail.
    # "Entry permitted" is wired instead of "entry refused", so that it fails to refused.
    def __init__(self, work, hot, entry_permitted, green, amber, red, sounder):
        out = machine.Pin.OUT
        self._work = machine.Pin(work, out, value=0)
        self._hot = machine.Pin(hot, out, value=0)
        self._entry_permitted = machine.Pin(entry_permitted, out, value=0)
        self._green = machine.Pin(green, out, value=0)
        self._amber = machine.Pin(amber, out, value=0)
        self._red = machine.Pin(red, out, value=0)
        self._sounder = machine.Pin(sounder, out, value=0)

    def set_lamp(self, colour):
        if isinstance(colour, bool) or not isinstance(colour, int) or not 0 <= colour <= 3:
            raise ValueError(
                "lamp colour must be 0 off, 1 green, 2 amber or 3 red, got %r" % (colour,)
            )
        # Break before make: two lamps are never lit at once.
        self._green.value(0)
        self._amber.value(0)
        self._red.value(0)
        if colour == LAMP_GREEN:
            self._green.value(1)
        elif colour == LAMP_AMBER:
            self._amber.value(1)
        elif colour == LAMP_RED:
            self._red.value(1)

    def set_sounder(self, on):
        self._sounder.value(1 if on else 0)

    def set_work_relay(self, on):
        self._work.value(1 if on else 0)

    def set_hot_relay(self, on):
        self._hot.value(1 if on else 0)

    def set_entry_refused(self, on):
        self._entry_permitted.value(0 if on else 1)


class StdioLink:
    # The host link on the board's console: USB-CDC on the Pico, UART0 through the USB
    # bridge on the ESP32-DevKitC. Non-blocking: a byte is read only after poll says one
    # is waiting; ipoll() and the one-byte buffer keep the read free of allocation.
    def __init__(self):
        # Frames are binary: a 0x03 in one must not raise KeyboardInterrupt.
        kbd_intr(-1)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)

    def read_into(self, buf):
        n = 0
        cap = len(buf)
        one = self._one
        while n < cap:
            waiting = False
            for _ in self._poll.ipoll(0):
                waiting = True
            if not waiting:
                break
            self._in.readinto(one)  # pyright: ignore[reportAttributeAccessIssue]
            buf[n] = one[0]
            n += 1
        return n

    def write(self, data):
        self._out.write(data)
