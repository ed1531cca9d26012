"""The real-bench path of the suite, without hardware: a virtual board stands in for the
Pico under test and the jig firmware's own logic, on a pty, drives it as the jig Pico
would (jig_emulator.py). Everything the suite does on a bench runs: the key from the
keystore, bringing a board that keeps its state to the scenario's baseline, reader lines,
camera pulses and loop voltages from the jig, readback of the outputs, a power cut by the
reset line, garbage through the host's own port. Time passes for real here, as on a bench,
so the scenario is short."""

import pytest

from gateway import events as ev
from shaftgate.link.keystore import Keystore
from shaftgate.vboard import VirtualBoard

from .hil_bench import Bench, face_config, morning_crew, outputs_text
from .hil_boards import is_safe
from .jig_emulator import JigServer, VirtualPins

DUT_ID = "gw-bench"


@pytest.fixture
def bench_rig(tmp_path, request):
    if request.config.getoption("--board") != "sim":
        pytest.skip("the emulated bench runs with --board sim only")
    keys = Keystore(tmp_path / "keys")
    keys.create(DUT_ID)
    # As deployed: a key and a first configuration on flash, nothing else.
    vb = VirtualBoard(
        "dut",
        tmp_path,
        config={"gateway_id": DUT_ID, "zone_id": "bench", "zone_kind": "coal_face"},
        key=keys.load(DUT_ID),
    )
    vb.start()
    server = JigServer(VirtualPins(vb))
    try:
        yield vb, server, keys
    finally:
        server.close()
        vb.stop()


def test_a_bench_run_through_the_jig(bench_rig, report, tmp_path):
    vb, server, keys = bench_rig
    report.note("bench: a virtual board as the Pico under test, behind the jig emulator")
    crew = morning_crew(10)
    tags = [p.tag for p in crew]
    # A short doorway window: on a bench the suite waits it out for real.
    config = face_config("gw-face1", "repair", doorway_window_ms=2500)

    first = Bench("pico", vb.port, server.port, tmp_path, report, keystore_dir=keys.directory)
    try:
        face = first.gate(config, crew)
        report.expect(face.name, "the board under test answers as %s" % DUT_ID, face.name == DUT_ID)
        waited = first.advance_until(face, lambda o: o["work_relay"], 1.0, 12)
        report.expect(
            face.name, "work relay on: jig camera pulses and loop voltage seen", waited is not None
        )
        face.walk_in(tags[:6], why="reader lines from the jig")
        face.expect_status(lamp=2, entry_refused=False, why="readback through the jig")

        face.power_cut()
        off = face.io.outputs()
        report.expect(face.name, "reset held: %s" % outputs_text(off), is_safe(off))
        face.power_on()
        face.reconnect()
        face.expect_status(why="count restored after the reset")

        face.inject_garbage(bytes(range(1, 200)) * 3, what="noise through the host's port")
        face.expect_status(why="still answers")

        face.io.gas(12000, 0)
        report.drive(face.name, "methane 1.2 % on the CH4 loop")
        face.wait_outputs(lambda o: not o["work_relay"] and o["sounder"], "work stopped by gas")
        face.io.gas(1500, 0)
        face.expect_event_log_whole()
        over = face.events(ev.GAS_OVER)
        report.expect(
            face.name,
            "GAS_OVER from the loop voltage: %s ppm" % (over[0]["a"] if over else None),
            len(over) == 1 and abs(over[0]["a"] - 12000) <= 100,
        )
    finally:
        first.stop()

    # The next scenario finds the board as this one left it, and baselines it.
    second = Bench("pico", vb.port, server.port, tmp_path, report, keystore_dir=keys.directory)
    try:
        face = second.gate(face_config("gw-face1", "coal_face", doorway_window_ms=2500), crew)
        face.expect_status(0, why="six left over from the last scenario walked out")
        status = face.status()
        report.expect(face.name, "now a coal face: cap %d" % status["cap"], status["cap"] == 25)
    finally:
        second.stop()
