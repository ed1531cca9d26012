# The virtual board's HAL: the Board and Flash of docs/firmware-design.md over the JS
# module `vboard_io` that host_tools/shaftgate/vboard/vboard.mjs registers. Runs only under
# the MicroPython WebAssembly port (it needs vboard_io and uctypes); compiles everywhere.
# Per step nothing here allocates: JS writes tag reads, gas samples and camera beats into
# an int32 array we lend it once, and link bytes cross by buffer address, never as JS
# objects. Flash calls return -errno on failure because a JS exception cannot be caught
# on this side (it unwinds through the interpreter).
import array

import uctypes
import vboard_io
from micropython import const

# Word offsets in the shared int32 array; vboard.mjs uses the same numbers.
_IO_TAG = const(0)  # point, tag id, rssi dBm, low battery
_IO_GAS = const(4)  # ch4_ppm, co_ppm, fault flags
_IO_BEATS = const(8)  # one word per camera, up to 8
_IO_WORDS = const(16)
_IO_MAGIC = const(0x5EED)
_ENOENT = const(2)
_TEMP_SUFFIX = ".tmp"
_RTC_MAX_S = const(0x7FFFFFFF)  # a JS bridge int is 32-bit signed: good until 2038
# set_output indexes, in vboard.mjs's OUTPUT_NAMES order.
_OUT_LAMP = const(0)
_OUT_SOUNDER = const(1)
_OUT_WORK = const(2)
_OUT_HOT = const(3)
_OUT_REFUSED = const(4)


def _buffer(data, what):
    # str has the buffer protocol in MicroPython: refuse it rather than send its UTF-8.
    if isinstance(data, str):
        raise TypeError("%s must be bytes, not str" % what)
    return uctypes.addressof(data)


def _check(result, what):
    if result < 0:
        raise OSError(-result, what)
    return result


class Flash:
    # Real files in the board's flash folder on the host (vboard.mjs does the fsyncs), so a
    # power cut, which kills the process, loses nothing that write() or append() returned.
    def __init__(self):
        _check(vboard_io.fl_open(), "flash: cannot open the flash folder")
        self._size = vboard_io.fl_size
        self._read = vboard_io.fl_read
        self._write = vboard_io.fl_write
        self._append = vboard_io.fl_append

    def read(self, name):
        size = self.size(name)
        if size is None:
            return None
        return self._read_span(name, 0, size)

    def write(self, name, data):
        _name(name)
        _check(self._write(name, _buffer(data, "flash data"), len(data)), "flash write " + name)

    def append(self, name, data):
        _name(name)
        _check(self._append(name, _buffer(data, "flash data"), len(data)), "flash append " + name)

    def append_unsynced(self, name, data):
        # As hal.flashfs's: the board's flash time has no block copy for it.
        _name(name)
        _check(
            self._append(name, _buffer(data, "flash data"), len(data), 0), "flash append " + name
        )

    def rewrite_unsynced(self, name, data):
        # As hal.flashfs's, so that a virtual board takes the Pico's path (the snapshot's,
        # the log meta's and the counter's slots rewritten in place): the file emptied,
        # then data appended unsynced; the caller's last append syncs. NOT atomic: a cut
        # leaves the file empty or short, which those callers detect (a crc trailer) and
        # pass over for their other, whole slot.
        _name(name)
        size = self._size(name)
        if size != -_ENOENT:
            _check(size, "flash size " + name)
            _check(vboard_io.fl_truncate(name, 0), "flash rewrite " + name)
        _check(
            self._append(name, _buffer(data, "flash data"), len(data), 0), "flash rewrite " + name
        )

    def remove_numbered(self, fmt, n):
        # As hal.flashfs's: remove(fmt % n) (the event log's acked segments).
        self.remove(fmt % n)

    def size(self, name):
        _name(name)
        n = self._size(name)
        if n == -_ENOENT:
            return None
        return _check(n, "flash size " + name)

    def read_at(self, name, offset, n):
        if offset < 0 or n < 0:
            raise ValueError("read_at offset and n must be >= 0")
        size = self.size(name)
        if size is None:
            return None
        if offset >= size:
            return b""
        return self._read_span(name, offset, min(n, size - offset))

    def reader(self, name):
        if self.size(name) is None:
            raise OSError(_ENOENT, "flash: no file " + name)
        return _Reader(self._read, name)

    def truncate(self, name, size):
        have = self.size(name)
        if have is None:
            raise ValueError("cannot truncate %s: no such file" % name)
        if size < 0 or size > have:
            raise ValueError("cannot truncate %s of %d bytes to %d" % (name, have, size))
        if size < have:
            _check(vboard_io.fl_truncate(name, size), "flash truncate " + name)

    def remove(self, name):
        _name(name)
        _check(vboard_io.fl_remove(name), "flash remove " + name)

    def names(self):
        joined = vboard_io.fl_names()
        if joined is None:
            raise OSError(5, "flash: cannot list the flash folder")
        if not joined:
            return []
        return joined.split("/")

    def _read_span(self, name, offset, n):
        buf = bytearray(n)
        if n:
            got = _check(self._read(name, offset, uctypes.addressof(buf), n), "flash read " + name)
            if got != n:
                raise OSError(5, "flash read %s: %d of %d bytes" % (name, got, n))
        return bytes(buf)


class _Reader:
    # Flash.reader(): seek() and readinto() straight into the caller's buffer.
    def __init__(self, read, name):
        self._read = read
        self._name = name
        self._pos = 0

    def seek(self, pos):
        self._pos = pos
        return pos

    def readinto(self, buf):
        n = len(buf)
        got = _check(self._read(self._name, self._pos, uctypes.addressof(buf), n), "flash read")
        self._pos += got
        return got

    def close(self):
        pass


def _name(name):
    if (
        not isinstance(name, str)
        or not name
        or "/" in name
        or name in (".", "..")
        or name.endswith(_TEMP_SUFFIX)
    ):
        raise ValueError("bad flash file name %r" % (name,))


class Board:
    # watchdog_ms as hal.mcu's Board: the watchdog runs from here on (the virtual board's
    # profile checks the range the chip allows). None: the timeout the virtual board was
    # configured with (VirtualBoard(watchdog_ms=...), 5000 ms by default as hal.mcu).
    def __init__(self, watchdog_ms=None):
        self._io = array.array("i", [0] * _IO_WORDS)
        self.cameras = vboard_io.attach(uctypes.addressof(self._io), _IO_WORDS)
        if self.cameras < 0 or self._io[0] != _IO_MAGIC:
            raise OSError(5, "virtual board: the I/O bridge does not reach our memory")
        self._io[0] = 0
        if watchdog_ms is not None and (type(watchdog_ms) is not int or watchdog_ms <= 0):
            raise ValueError("watchdog_ms must be a positive int, got %r" % (watchdog_ms,))
        armed = vboard_io.arm_watchdog(watchdog_ms or 0)
        if armed < 0:
            raise ValueError(
                "watchdog_ms %r is outside what this board's watchdog allows" % (watchdog_ms,)
            )
        self.flash = Flash()
        # Bound once: looking a JS function up on the module every call costs twice as much.
        self._ticks = vboard_io.ticks_ms
        self._rtc = vboard_io.rtc_s
        self._tag = vboard_io.read_tag
        self.reader_lost = vboard_io.reader_lost  # lines the model lost on a reader's wire
        self._beam = vboard_io.beam_count
        self._beats = vboard_io.video_beats
        self._gas = vboard_io.read_gas
        self._out = vboard_io.set_output
        self._rx = vboard_io.link_read
        self._tx = vboard_io.link_write
        self._feed = vboard_io.feed_watchdog
        # What the outputs are driven to; vboard.mjs starts with all de-energised too.
        self._lamp = 0
        self._sounder = 0
        self._work = 0
        self._hot = 0
        self._refused = 0

    def ticks_ms(self):
        return self._ticks()

    def rtc_s(self):
        return self._rtc()

    def set_rtc_s(self, t):
        if type(t) is not int or t < 0 or t > _RTC_MAX_S:
            raise ValueError("rtc seconds must be an int in 0..%d, got %r" % (_RTC_MAX_S, t))
        vboard_io.set_rtc_s(t)

    def read_tag(self, out):
        if not self._tag():
            return False
        io = self._io
        out[0] = io[_IO_TAG]
        out[1] = io[_IO_TAG + 1]
        out[2] = io[_IO_TAG + 2]
        out[3] = io[_IO_TAG + 3]
        return True

    def beam_count(self):
        return self._beam()

    def video_beats(self, out):
        n = self._beats(len(out))
        io = self._io
        for i in range(n):
            out[i] = io[_IO_BEATS + i]
        return n

    def read_gas(self, out):
        if not self._gas():
            return False
        io = self._io
        out[0] = io[_IO_GAS]
        out[1] = io[_IO_GAS + 1]
        out[2] = io[_IO_GAS + 2]
        return True

    def set_lamp(self, colour):
        if type(colour) is not int or colour < 0 or colour > 3:
            raise ValueError(
                "lamp colour must be 0 off, 1 green, 2 amber or 3 red, got %r" % (colour,)
            )
        if colour != self._lamp:
            self._lamp = colour
            self._out(_OUT_LAMP, colour)

    def set_sounder(self, on):
        v = 1 if on else 0
        if v != self._sounder:
            self._sounder = v
            self._out(_OUT_SOUNDER, v)

    def set_work_relay(self, on):
        v = 1 if on else 0
        if v != self._work:
            self._work = v
            self._out(_OUT_WORK, v)

    def set_hot_relay(self, on):
        v = 1 if on else 0
        if v != self._hot:
            self._hot = v
            self._out(_OUT_HOT, v)

    def set_entry_refused(self, on):
        v = 1 if on else 0
        if v != self._refused:
            self._refused = v
            self._out(_OUT_REFUSED, v)

    def link_read(self, buf):
        # The address is taken per call: a bytearray that grew has moved.
        return self._rx(uctypes.addressof(buf), len(buf))

    def link_write(self, data):
        n = len(data)
        if n:
            self._tx(_buffer(data, "link data"), n)

    def feed_watchdog(self):
        self._feed()
