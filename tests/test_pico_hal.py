# micropython-test
# The Pico's own HAL (hal/pico.py over hal/mcu.py) running under MicroPython, over
# stand-ins for machine and rp2 (tests/standin_pico.py): its readers received by DMA
# (the UART's receive interrupts masked, its DMA request on, one channel per reader into
# an aligned ring), tags read end to end, outputs low from the start and written only on
# a change, the wall clock from the tick counter. The WebAssembly port has no machine,
# so this is as close to a Pico as CI gets; CPython has no uctypes and skips it (the
# [micropython] run is the one that counts).
import gc

from hal.readerline import checksum

UART0 = 0x40034000
UART1 = 0x40038000
NOW_S = 1749960000


def _pico():
    try:
        import uctypes  # noqa: F401
    except ImportError:
        return None
    import standin_pico

    return standin_pico.load()


def _line(tag, rssi=-61, batt=0):
    body = b"TAG,%d,%d,%d" % (tag, rssi, batt)
    return b"$%s*%02X\r\n" % (body, checksum(body))


def _board():
    import standin_machine

    loaded = _pico()
    if loaded is None:
        return None, None
    mcu, pico = loaded
    mcu.FLASH_ROOT = "/tmp/pico-hal"
    try:
        import os

        os.mkdir("/tmp")
    except OSError:
        pass
    return pico.Board(), standin_machine


def test_the_readers_are_received_by_dma_into_aligned_rings():
    board, machine = _board()
    if board is None:
        return
    import standin_rp2
    import uctypes

    for base in (UART0, UART1):
        assert machine.mem32[base + 0x038] & 0x50 == 0  # RXIM and RTIM masked
        assert machine.mem32[base + 0x048] & 1 == 1  # RXDMAE on
    chans = [c for c in standin_rp2.CHANNELS if c.uart >= 0][-2:]
    assert sorted(c.uart for c in chans) == [0, 1]
    for c in chans:
        f = c.ctrl_fields
        assert f["size"] == 0 and not f["inc_read"] and f["inc_write"]
        assert f["ring_sel"] and f["ring_size"] == 9
        assert f["treq_sel"] == (21 if c.uart == 0 else 23)
        assert len(c.ring) == 512 and uctypes.addressof(c.ring) % 512 == 0
        assert c.running


def test_a_tag_on_each_reader_is_read_with_its_point():
    board, machine = _board()
    if board is None:
        return
    import standin_rp2

    out = [0, 0, 0, 0]
    assert not board.read_tag(out)
    standin_rp2.wire(0, _line(40213))
    standin_rp2.wire(1, _line(7, -90, 1))
    got = []
    for _ in range(4):
        if board.read_tag(out):
            got.append(tuple(out))
    assert sorted(got) == [(0, 40213, -61, 0), (1, 7, -90, 1)]
    assert board.reader_lost(0) == board.reader_lost(1) == 0
    assert machine.UARTS[0].any() == 0  # nothing went the interrupt's way


def test_a_burst_larger_than_the_ring_is_an_overrun_not_a_wrong_tag():
    board, _ = _board()
    if board is None:
        return
    import standin_rp2

    out = [0, 0, 0, 0]
    for t in range(1, 40):  # ~800 bytes before a poll: past the 512-byte ring
        standin_rp2.wire(0, _line(1000 + t))
    seen = []
    for _ in range(60):
        if board.read_tag(out):
            seen.append(out[1])
    assert board._readers[0]._stream.overruns == 1
    # R-DATA-1: the loss is reported (the gateway's READER_DATA_LOST): at least a line per
    # 26 bytes the ring dropped, on the outer reader only.
    lost = board.reader_lost(0)
    assert lost >= board._readers[0]._stream.lost_bytes // 26 >= 19
    assert board.reader_lost(1) == 0
    standin_rp2.wire(0, _line(555))
    for _ in range(4):
        if board.read_tag(out):
            seen.append(out[1])
    assert seen[-1] == 555
    assert board.reader_lost(0) == lost  # a clean line after it loses nothing more
    assert all(1000 < t < 1040 or t == 555 for t in seen), seen


def test_outputs_start_low_and_pins_are_written_only_on_a_change():
    board, machine = _board()
    if board is None:
        return
    pins = [board.WORK_RELAY_PIN, board.HOT_RELAY_PIN, board.ENTRY_PERMITTED_PIN]
    pins += [board.LAMP_GREEN_PIN, board.LAMP_AMBER_PIN, board.LAMP_RED_PIN, board.SOUNDER_PIN]
    assert [machine.PINS[g].value() for g in pins] == [0] * 7  # entry refused: permitted low
    green = machine.PINS[board.LAMP_GREEN_PIN]
    board.set_lamp(1)
    writes = green.writes
    assert green.value() == 1
    for _ in range(5):
        board.set_lamp(1)
        board.set_work_relay(False)
    assert green.writes == writes
    assert machine.PINS[board.WORK_RELAY_PIN].writes == 0


def test_the_wall_clock_counts_from_time_set_on_the_tick_counter():
    board, _ = _board()
    if board is None:
        return
    import standin_ticks

    assert board.rtc_s() == 0  # never set in this boot: everything on the clock fails safe
    board.set_rtc_s(NOW_S)  # unix seconds in, as the host's time-set carries them
    standin_ticks.now[0] += 2500
    # Clock seconds out (gateway/caps.py): a small int, since RTC_EPOCH_S.
    assert board.RTC_EPOCH_S == 1577836800
    assert board.rtc_s() == NOW_S - board.RTC_EPOCH_S + 2 < (1 << 30)


def test_reading_the_wall_clock_allocates_nothing():
    # Issue 9 item 7: rtc_s() on the real board makes no big int, even each new second.
    board, _ = _board()
    if board is None:
        return
    import standin_ticks

    board.set_rtc_s(NOW_S)
    board.rtc_s()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(300):
        standin_ticks.now[0] += 100  # a new second every 10th read
        board.rtc_s()
    after = gc.mem_alloc()
    gc.enable()
    assert board.rtc_s() == NOW_S - board.RTC_EPOCH_S + 30
    assert after - before == 0, after - before


def test_polling_idle_readers_allocates_nothing():
    board, _ = _board()
    if board is None:
        return
    out = [0, 0, 0, 0]
    board.read_tag(out)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(200):
        board.read_tag(out)
        board.set_lamp(1)
        board.feed_watchdog()
    after = gc.mem_alloc()
    gc.enable()
    assert after - before == 0, after - before
