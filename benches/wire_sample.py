# A typical crossing event as it goes on the wire: shared by the CPython and the
# MicroPython halves of the wire benchmark, so both measure the same message.


def crossing_event(seq):
    from gatewire import messages

    return messages.event(seq, 1763865600 + seq, 1, 305419 + seq, 1042, 17, b"\xa5" * 16)
