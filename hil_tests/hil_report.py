"""The run report of one HIL scenario: what was driven, what was observed, what was
checked, each with its time since the scenario began and the world clock the boards were
given (which advance() moves on a virtual board). Written to reports/hil/<test>.txt when
the test ends, pass or fail, so a failure on a bench leaves its story behind; the CI run
prints every report at the end of the session (conftest.py)."""

import time
from pathlib import Path

REPORT_DIR = Path(__file__).resolve().parents[1] / "reports" / "hil"
# A report is printed by CI: lines stay readable, a runaway one is cut.
_LINE_MAX = 400


class RunReport:
    def __init__(self, test_id, bench_kind):
        self.test_id = test_id
        self.name = test_id.split("::")[-1].replace("/", "_").replace("[", "-").rstrip("]")
        self.bench_kind = bench_kind
        self.started_wall = time.time()
        self._t0 = time.monotonic()
        self.lines = []
        self.checks = 0
        self.world_now = None  # callable -> the boards' wall clock (unix s), set by the bench
        self.outcome = None
        self.failure = None
        self.path = None

    def _stamp(self):
        rel = time.monotonic() - self._t0
        world = ""
        if self.world_now is not None:
            world = " " + time.strftime("%H:%M:%S", time.gmtime(self.world_now() + 8 * 3600))
        return "+%7.3fs%s" % (rel, world)

    def _add(self, what, who, text):
        line = "%s %-7s %-9s %s" % (self._stamp(), what, who or "-", text)
        self.lines.append(line if len(line) <= _LINE_MAX else line[: _LINE_MAX - 5] + "[cut]")

    def drive(self, who, text):
        """A stimulus: a read, a camera, gas, power, the link, a command."""
        self._add("DRIVE", who, text)

    def observe(self, who, text):
        """Something the boards did: outputs, status, events."""
        self._add("OBSERVE", who, text)

    def check(self, who, text, ok=True):
        """A check that held (a failing one raises in the test; the failure is recorded)."""
        self.checks += 1
        self._add("CHECK" if ok else "FAILED", who, text)

    def note(self, text):
        self._add("NOTE", None, text)

    def expect(self, who, text, ok):
        # Records the check, then fails the test with the same words if it did not hold.
        self.check(who, text, ok)
        assert ok, "%s: %s" % (who, text)

    def write(self, outcome, failure=None):
        self.outcome = outcome
        self.failure = failure
        REPORT_DIR.mkdir(parents=True, exist_ok=True)
        self.path = REPORT_DIR / (self.name + ".txt")
        head = [
            "HIL run report: %s" % self.test_id,
            "bench: %s   started %s UTC   took %.1f s   checks %d   result: %s"
            % (
                self.bench_kind,
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.started_wall)),
                time.monotonic() - self._t0,
                self.checks,
                outcome.upper(),
            ),
            "columns: time since start, mine clock (UTC+8, as given to the boards), "
            "what, board, detail",
            "",
        ]
        tail = []
        if failure:
            tail = ["", "failure:", *("  " + ln for ln in failure.splitlines()[-30:])]
        self.path.write_text("\n".join(head + self.lines + tail) + "\n", encoding="utf-8")
        return self.path
