# A stand-in for the parts of `micropython` hal/pico.py and hal/mcu.py import that the
# WebAssembly port lacks (benches only): put in sys.modules while they are imported.
import micropython as _real

const = _real.const
mem_info = _real.mem_info


def kbd_intr(c):
    pass


def alloc_emergency_exception_buf(n):
    pass
