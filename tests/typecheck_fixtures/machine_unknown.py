# Calls that look right but are not MicroPython's machine API: the board type check must
# report both (tests/test_typecheck.py). Never run.
import machine


def all_lamps_off():
    machine.Pin.toggle_all()


def send_to_reader(uart: machine.UART):
    uart.write_bytes(b"$CFG*00\n")
