"""Run a benchmark script under the real MicroPython interpreter and collect its figures."""

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tests" / "mpy_runner.mjs"
PREFIX = "@@bench "


def run_script(path, timeout_s=600, runner=RUNNER):
    # runner: another tree's tests/mpy_runner.mjs runs that tree's firmware (before/after)
    proc = subprocess.run(
        ["node", str(runner), "run", str(path)], capture_output=True, text=True, timeout=timeout_s
    )
    figures = {}
    for line in proc.stdout.splitlines():
        if line.startswith(PREFIX):
            figures.update(json.loads(line[len(PREFIX) :]))
        elif line.startswith("@@mpy-result ") and '"ok": false' in line:
            raise RuntimeError("MicroPython benchmark failed: " + line)
    if proc.returncode != 0:
        raise RuntimeError("MicroPython benchmark %s failed:\n%s" % (path, proc.stderr[-3000:]))
    return figures


def run_phases(module, timeout_s=300):
    """Figures of a measurement in phases (benches/<module>.py PHASES, each its own
    top-level call under benches/upy_phases.mjs)."""
    proc = subprocess.run(
        ["node", str(REPO / "benches" / "upy_phases.mjs"), module],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise RuntimeError("upy_phases.mjs %s failed:\n%s" % (module, proc.stderr[-3000:]))
    for line in proc.stdout.splitlines():
        if line.startswith(PREFIX):
            return json.loads(line[len(PREFIX) :])
    raise RuntimeError("upy_phases.mjs %s printed no figures" % module)
