"""The HIL suite's options and fixtures (docs/hil.md).

    pytest hil_tests                                   virtual boards (the default, CI)
    pytest hil_tests --board pico --port /dev/serial/by-id/usb-...-if00 --jig /dev/ttyACM1
    pytest hil_tests --board esp32 --port /dev/ttyUSB0 --jig /dev/ttyACM1

Fixture `board`: the bench a scenario's gateways run on; `board.gate(config, people)`
starts one (hil_bench.Bench.gate). With --board sim every gateway is a virtual board; with
a real board the first gateway of a scenario is that board, driven through the jig, and
any further gateways are virtual boards beside it. Scenarios that drive the board's inputs
are skipped, saying why, when a real board has no --jig.

Fixture `report`: the scenario's run report, written to reports/hil/<test>.txt when the
test ends (pass or fail) and printed at the end of the session.
"""

import os
from pathlib import Path

import pytest

from .hil_bench import Bench
from .hil_report import RunReport

BOARDS = ("sim", "pico", "esp32")
_written = []  # the reports of this session (paths), printed at its end
_OUTCOME = pytest.StashKey()  # a test's call report (or its failed setup's), for its report


def pytest_addoption(parser):
    group = parser.getgroup("hil", "hardware-in-the-loop suite (hil_tests/, docs/hil.md)")
    group.addoption(
        "--board",
        choices=BOARDS,
        default="sim",
        help="sim: virtual boards (default); pico / esp32: a real board on --port",
    )
    group.addoption("--port", default=None, help="the real board's gatewire serial port")
    group.addoption("--jig", default=None, help="the stimulus jig's serial port (docs/hil.md)")
    group.addoption(
        "--keystore",
        default=None,
        help="folder holding the real board's key (default $SHAFTGATE_HOME/keys)",
    )


def pytest_configure(config):
    kind = config.getoption("--board", default="sim")
    if kind != "sim" and not config.getoption("--port", default=None):
        raise pytest.UsageError(
            "--board %s needs --port: the board's serial port (see docs/hil.md)" % kind
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
        item.stash[_OUTCOME] = rep
    return rep


@pytest.fixture
def report(request):
    kind = request.config.getoption("--board")
    run = RunReport(request.node.nodeid, kind)
    yield run
    rep = request.node.stash.get(_OUTCOME, None)
    if rep is None:
        outcome, failure = "error", None
    elif rep.skipped:
        outcome, failure = "skipped", str(rep.longrepr[-1]) if rep.longrepr else None
    else:
        outcome = rep.outcome
        failure = rep.longreprtext if rep.failed else None
    path = run.write(outcome, failure)
    # Carried by the test's reports to the session that prints them: with pytest-xdist
    # (./dev test) that is the controller, not this worker.
    request.node.user_properties.append(("hil_report", str(path)))


@pytest.fixture
def board(request, tmp_path, report):
    opt = request.config.getoption
    bench = Bench(
        opt("--board"),
        opt("--port"),
        opt("--jig"),
        tmp_path,
        report,
        keystore_dir=opt("--keystore"),
    )
    try:
        yield bench
    finally:
        for gate in bench.gates:
            steps = gate.io.steps_per_s() if hasattr(gate.io, "steps_per_s") else None
            if steps:
                report.note("%s ran about %s firmware steps per second" % (gate.name, steps))
        bench.stop()


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        for name, value in report.user_properties:
            if name == "hil_report":
                _written.append(Path(value))


def pytest_terminal_summary(terminalreporter):
    # CI prints every scenario's report; HIL_REPORTS=0 keeps a local run's output short.
    if not _written or os.environ.get("HIL_REPORTS") == "0":
        return
    for path in _written:
        terminalreporter.section("HIL run report %s" % path.name, sep="-")
        terminalreporter.write(path.read_text(encoding="utf-8"))
    terminalreporter.write_line("(reports kept in %s)" % _written[0].parent)
