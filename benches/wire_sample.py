# A typical crossing event as it goes on the wire: shared by the CPython and the
# MicroPython halves of the wire benchmark, so both measure the same message.


def crossing_event(seq):
    from gatewire import messages

    return messages.event(seq, 1763865600 + seq, 1, 305419 + seq, 1042, 17, b"\xa5" * 16)


def events_batch(n):
    # n events as the gateway sends them in one events-since reply.
    from gatewire import messages

    names = ("seq", "time_s", "kind", "tag", "a", "b", "digest")
    bodies = []
    for i in range(n):
        body = crossing_event(i + 1)[2]
        bodies.append({names[k]: body[k] for k in range(7)})
    return messages.reply("events-since", 7, events=bodies, last_seq=n)
