"""Flash wear of the event log (issue 9.6), on the real littlefs (benches/lfs_flash.py:
the C library configured as MicroPython mounts a Pico W's 848 KB file system, on a block
device that counts erases per block). The whole gateway application runs a shaft (2,000
in the roster, 300 underground) with its host pushed every event and acking every 32
crossings, as gateway_work.Shaft does; only the segment size of the log differs between
"before" (128 records a file: every synced append copies the file's last block to a
fresh one) and "after" (8 records, 352 B: littlefs keeps the file inline in its
directory's metadata log, so an append is a commit into already erased space).

Figures: erases per 1,000 crossings, and the most-worn block's life at 2,000 crossings a
day against the flash's 100,000 erase cycles. Littlefs levels wear dynamically: blocks
for copied data come from an allocator that walks the whole device round robin, and a
metadata pair is moved to fresh blocks after block_cycles (100) erases. So every block
that is ever erased wears at the mean rate (erases per day / blocks erased), and the
most-worn one runs ahead of the mean by the stints it served as a metadata block: about
one stint of block_cycles per block per pass of the allocator, two seen in a 24,000-
crossing run. Life of the most-worn block = (erase cycles - its lead) / mean rate, with
the lead taken as the larger of the one measured here and two stints (LEAD_MIN). Blocks
holding files that never change (roster, config) are never erased and not counted."""

import gateway_work
import lfs_flash

from gateway import bootseq
from gateway import eventlog as eventlog_mod

CROSSINGS = 4000
LEAD_MIN = 2 * lfs_flash.BLOCK_CYCLES + 4  # two metadata stints (see above)
ACK_EVERY = 32
PER_DAY = 2000


def _shaft(segment_records):
    fs, dev = lfs_flash.mount()

    class LfsBoard(gateway_work.BenchBoard):
        def __init__(self):
            super().__init__(gateway_work.fresh_root())
            self.flash = lfs_flash.LfsFlash(fs)

    real = eventlog_mod.EventLog
    bootseq.EventLog = lambda *a, **k: real(*a, segment_records=segment_records, **k)
    try:
        shaft = gateway_work.Shaft(host=True, board=LfsBoard())
    finally:
        bootseq.EventLog = real
    return shaft, dev


def measure(segment_records, crossings=CROSSINGS):
    shaft, dev = _shaft(segment_records)
    start = list(dev.erases)
    events0 = shaft.gw.log.last_seq
    done = 0
    while done < crossings:
        shaft.run(ACK_EVERY)
        shaft.ack()
        done += ACK_EVERY
    assert shaft.gw.lost_events == 0 and shaft.gw.zone.count == gateway_work.IN_ZONE
    worn = [a - b for a, b in zip(dev.erases, start, strict=True)]
    days = done / PER_DAY
    most = max(worn)
    erased = [w for w in worn if w]
    mean = sum(erased) / len(erased)
    lead = max(most - mean, LEAD_MIN)
    life_years = (lfs_flash.ERASE_CYCLES - lead) / (mean / days) / 365
    return {
        "erases_per_1000": sum(worn) * 1000 / done,
        "events_per_crossing": (shaft.gw.log.last_seq - events0) / done,
        "most_worn": most,
        "blocks_erased": len(erased),
        "mean_per_day": mean / days,
        "lead": lead,
        "life_years": life_years,
        "crossings": done,
    }


def run():
    rows = []
    for label, k in (("before: 128-record segments", 128), ("after: 8-record segments", 8)):
        r = measure(k)
        rows.append(
            [
                label,
                r["erases_per_1000"],
                r["events_per_crossing"],
                r["most_worn"],
                r["blocks_erased"],
                r["mean_per_day"],
                r["life_years"],
            ]
        )
    return [
        (
            "Flash wear, real littlefs on a Pico W's 848 KB (212 blocks of 4 KB), %d crossings "
            "through the whole app, acked every %d (goal: most-worn block >= 20 years at "
            "%d crossings a day)" % (CROSSINGS, ACK_EVERY, PER_DAY),
            [
                "event log",
                "erases / 1,000 crossings",
                "events / crossing",
                "most-worn block, erases",
                "blocks erased",
                "mean erases / block / day",
                "most-worn block life, years",
            ],
            rows,
        )
    ]
