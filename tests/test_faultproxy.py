# The fault proxy does to the bytes what it says, and nothing when its rates are 0.
import os
import select
import time
import tty

import pytest
from faultproxy import BOARD_TO_HOST, HOST_TO_BOARD, FaultProxy, Faults

from gatewire import frame


@pytest.fixture
def line(tmp_path):
    # A stand-in board: a pty pair whose slave the proxy opens as it would the board's.
    master, slave = os.openpty()
    tty.setraw(slave)
    made = []

    def make(faults, seed=1):
        proxy = FaultProxy(os.ttyname(slave), tmp_path / "tty", faults, seed)
        host = os.open(proxy.port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(host)
        made.append((proxy, host))
        return proxy, host

    yield master, make
    for proxy, host in made:
        os.close(host)
        proxy.close()
    os.close(master)
    os.close(slave)


def _read(fd, quiet_s=0.3):
    out = b""
    while select.select([fd], [], [], quiet_s)[0]:
        out += os.read(fd, 65536)
    return out


FRAMES = [frame.encode(bytes([i]) * (20 + i)) for i in range(1, 41)]


def test_a_clean_line_carries_every_byte_both_ways(line):
    board, make = line
    proxy, host = make(Faults())
    os.write(host, b"".join(FRAMES))
    assert _read(board) == b"".join(FRAMES)
    os.write(board, b"".join(FRAMES[:5]) + b"garbage without a zero")
    assert _read(host) == b"".join(FRAMES[:5]) + b"garbage without a zero"
    counts = proxy.counts
    assert counts[HOST_TO_BOARD]["frames"] == 40
    assert counts[HOST_TO_BOARD]["drop"] == counts[BOARD_TO_HOST]["corrupt"] == 0


@pytest.mark.parametrize("fault", ["drop", "corrupt", "duplicate"])
def test_each_fault_at_rate_one_damages_every_frame(line, fault):
    board, make = line
    proxy, host = make(Faults(**{fault: 1.0}))
    os.write(board, b"".join(FRAMES))
    got = frame.Decoder().feed(_read(host))
    if fault == "duplicate":
        # A doubled frame arrives twice; a doubled byte fails its CRC.
        assert len(got) < 80 and all(p in [frame.Decoder().feed(f)[0] for f in FRAMES] for p in got)
        assert len(got) > 0
    else:
        assert got == []
    assert proxy.counts[BOARD_TO_HOST][fault] == 40


def test_a_delay_holds_the_line_without_reordering_it(line):
    board, make = line
    _proxy, host = make(Faults(delay=1.0, delay_s=(0.05, 0.05)))
    t0 = time.monotonic()
    os.write(host, b"".join(FRAMES[:10]))
    got = _read(board, 1.0)
    assert got == b"".join(FRAMES[:10])
    assert time.monotonic() - t0 >= 0.5  # ten frames, each held 50 ms behind the last


def test_the_same_seed_makes_the_same_faults(line):
    board, make = line
    outs = []
    for seed in (5, 5, 6):
        # Delays short against the read's quiet time: a frame held longer than that ended
        # the read early on a loaded machine, and the runs differed by where they stopped.
        proxy, host = make(Faults.each(0.3, delay_s=(0.01, 0.1)), seed)
        os.write(board, b"".join(FRAMES))
        outs.append(_read(host, quiet_s=1.0))
        proxy.close()
    assert outs[0] == outs[1] != outs[2]


def test_rates_outside_zero_to_one_are_refused():
    with pytest.raises(ValueError, match="drop rate"):
        Faults(drop=1.5)
    with pytest.raises(ValueError, match="delay_s"):
        Faults(delay_s=(2, 1))
