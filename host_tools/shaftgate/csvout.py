"""CSV files a dispatcher opens in Excel: UTF-8 with a byte-order mark (without it Excel
in a Chinese locale reads the names as GBK and shows mojibake), CRLF line ends, the
same columns and words as the table on screen."""

import csv
import os
from pathlib import Path


def write(path, headers, rows):
    # Written next to the target and renamed: a half-written file never replaces one.
    path = Path(path)
    temp = path.with_name(path.name + ".part")
    with open(temp, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(headers)
        n = 0
        for r in rows:
            w.writerow(["" if c is None else c for c in r])
            n += 1
    os.replace(temp, path)
    return n
