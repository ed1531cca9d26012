"""Run every benchmark and print its table: ./dev bench [name ...]

Each benches/bench_*.py defines run() -> list of sections; a section is
(title, header, rows). Figures under MicroPython come from scripts run by the real
interpreter (tests/mpy_runner.mjs run), which print one JSON line each.
"""

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "protocol"), str(HERE.parent / "firmware")]


def fmt(v):
    if isinstance(v, float):
        if v >= 100:
            return "{:,.0f}".format(v)
        return "{:.2f}".format(v)
    if isinstance(v, int):
        return "{:,}".format(v)
    return str(v)


def print_table(title, header, rows):
    cells = [header] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print("\n## " + title)
    for n, r in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv):
    names = argv or sorted(p.stem[len("bench_") :] for p in HERE.glob("bench_*.py"))
    for name in names:
        mod = importlib.import_module("bench_" + name)
        for title, header, rows in mod.run():
            print_table(title, header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
