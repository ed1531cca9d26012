"""Power cuts at random instants during a busy shift (ARCHITECTURE.md principle 3; fail
safe, principle 1). The shaft gateway is cut while readers are pouring in reads, while
crossings are being logged, while a signed command is on its way, while a roster load
of two parts is, and while the host is catching up and acknowledging. After each power-on:

- no acknowledged event is lost: the host's record continues without a gap and the
  gateway's log still chains to the last event the host acknowledged;
- the count is restored: what the gateway says is inside is exactly what its own log says
  (ENTRY / EXIT replayed), and a command it acknowledged is still in force;
- outputs are safe until the gateway is restored: de-energised while off, entry refused and
  relays off through boot until the host has set its clock, and no work before the video
  hold-off has run again.

HIL_SEED=<n> replays a run; the seed is in the report. The long form runs many seeds,
each its own test: HIL_SEEDS=1-300 (docs/reliability.md has the last figure).
"""

import os
import random
import threading
import time

import pytest

from gateway import events as ev
from gateway.permits import KEY_MAINTENANCE
from gatewire.errors import ProtocolError
from shaftgate.link.client import EventLogError
from shaftgate.link.transport import LinkError

from .hil_bench import (
    SETTLE_S,
    VIDEO_HOLDOFF_S,
    face_config,
    morning_crew,
    outputs_text,
    roster_parts,
)
from .hil_boards import is_safe

MODES = ("reads", "crossings", "command", "roster", "ack")
CUTS = 2 * len(MODES)
CREW = 60
EXTRA = 20  # people in every other roster load only (never walk)
DEFAULT_SEED = 20260615


def _seeds():
    # HIL_SEEDS=a-b (the long form) or HIL_SEED=n (replay one run); else the CI seed.
    span = os.environ.get("HIL_SEEDS")
    if span:
        lo, _, hi = span.partition("-")
        return list(range(int(lo), int(hi or lo) + 1))
    return [int(os.environ.get("HIL_SEED", DEFAULT_SEED))]


def _replay(events):
    inside = set()
    for e in events:
        if e["kind"] == ev.ENTRY:
            inside.add(e["tag"])
        elif e["kind"] == ev.EXIT:
            inside.discard(e["tag"])
    return inside


@pytest.mark.parametrize("seed", _seeds())
def test_power_cuts_at_random_instants(board, report, seed):
    board.require("power")
    rng = random.Random(seed)
    report.note("random seed %d (HIL_SEED=%d replays this run)" % (seed, seed))
    crew = morning_crew(CREW)
    rosters = [morning_crew(CREW + EXTRA), crew]  # loaded in turn: never the same twice
    shaft = board.gate(face_config("gw-shaft", "shaft", mine_cap=200), crew)
    board.advance(VIDEO_HOLDOFF_S + 1, why="cameras live for the hold-off")
    tags = [p.tag for p in crew]
    shaft.walk_in(tags[:20], why="first of the shift")
    shaft.expect_status(why="before the first cut")
    acked_permits = []
    modes = list(MODES) * (CUTS // len(MODES))
    rng.shuffle(modes)
    next_permit = 1

    for cut in range(1, CUTS + 1):
        shaft.catch_up()
        acked_seq = shaft.store.position()[0]
        outside = [t for t in tags if t not in shaft.inside]
        going_in = rng.sample(outside, min(len(outside), rng.randint(4, 16)))
        going_out = rng.sample(sorted(shaft.inside), min(len(shaft.inside), rng.randint(0, 6)))
        mode = modes[cut - 1]
        # Within the few ms the firmware takes to log a batch or answer a command.
        # A roster load (two parts and the commit) and a catch-up take longer: the cut
        # falls anywhere in them.
        delay_s = rng.uniform(0.0, {"reads": 0.02, "roster": 0.8, "ack": 0.3}.get(mode, 0.012))
        in_flight = None
        for tag in going_in:
            shaft.io.read_tag(0, tag)
            shaft.io.read_tag(1, tag)
        for tag in going_out:
            shaft.io.read_tag(1, tag)
            shaft.io.read_tag(0, tag)
        if mode != "reads":
            shaft.io.sync()
            # The crossings complete (and are logged) in the steps right after this.
            board.advance(SETTLE_S, wait=False)
        if mode == "command":
            permit = dict(
                permit_id=next_permit,
                job_id=100 + next_permit,
                measure_ref="KM-%d" % next_permit,
                start_s=board.now_s(),
                end_s=board.now_s() + 7200,
                workers=[crew[0].person_id],
                fire_watcher=0,
                flags=KEY_MAINTENANCE,
            )
            next_permit += 1
            in_flight = _send_in_background(shaft, permit)
        elif mode == "roster":
            people = rosters[0]
            rosters.reverse()
            entries = [e for part in roster_parts(people, board.now_s()) for e in part]
            half = len(entries) // 2
            in_flight = _Background(
                lambda people=people, entries=entries, half=half: shaft.client.roster_load(
                    [entries[:half], entries[half:]], timeout_s=1.0
                ),
                "roster load of %d" % len(people),
            )
        elif mode == "ack":
            # The host catching up (events-since, then its ack) as the power goes.
            in_flight = _Background(lambda: shaft.catch_up(), "catch-up and ack")
        time.sleep(delay_s)
        t_cut = time.monotonic()
        shaft.power_cut()
        report.drive(
            shaft.name,
            "POWER CUT %d amid %s (%d in, %d out%s), %.0f ms after the stimulus"
            % (
                cut,
                mode,
                len(going_in),
                len(going_out),
                ", %s in flight" % in_flight.what if in_flight else "",
                delay_s * 1000,
            ),
        )
        off = shaft.io.outputs()
        report.expect(shaft.name, "off: %s" % outputs_text(off), is_safe(off))
        if in_flight is not None:
            in_flight.join(10)
            if in_flight.result is not None and in_flight.permit is not None:
                acked_permits.append(in_flight.permit["permit_id"])
            report.observe(
                shaft.name,
                "%s: %s"
                % (
                    in_flight.what,
                    "answered before the cut"
                    if in_flight.result is not None
                    else "no reply (%s)" % type(in_flight.error).__name__,
                ),
            )
        time.sleep(rng.uniform(0.05, 0.3))

        t_on = time.monotonic()
        shaft.power_on()
        t_ready = time.monotonic()
        hello = shaft.ensure_link()
        t_before_time = time.monotonic()
        shaft.client.time_set(board.now_s())
        report.drive(
            shaft.name,
            "power on: booted in %.0f ms, boot %d, last seq %d; clock set"
            % ((t_ready - t_on) * 1000, hello["boot_count"], hello["last_seq"]),
        )
        report.expect(
            shaft.name,
            "gateway still holds every acknowledged event (last seq %d >= acked %d)"
            % (hello["last_seq"], acked_seq),
            hello["last_seq"] >= acked_seq,
        )
        during = [(t, o) for t, o in shaft.io.output_history() if t_cut <= t < t_before_time]
        unsafe = [o for _, o in during if not is_safe(o)]
        report.expect(
            shaft.name,
            "outputs safe from the cut until the clock was set (%d states seen)" % len(during),
            not unsafe,
        )

        shaft.catch_up()  # raises EventGap / EventChainBroken if anything acked is gone
        truth = _replay(shaft.events())
        shaft.inside = truth
        lost_crossings = [t for t in going_in if t not in truth]
        report.observe(
            shaft.name,
            "crossings logged before the cut: %d of %d in, %d of %d out"
            % (
                len(going_in) - len(lost_crossings),
                len(going_in),
                len([t for t in going_out if t not in truth]),
                len(going_out),
            ),
        )
        shaft.expect_status(why="count restored from flash = the log's own count")
        shaft.expect_occupants()
        permits = {p["permit_id"] for p in shaft.client.permit_list()["permits"]}
        report.expect(
            shaft.name,
            "every acknowledged permit still in force (%s)" % sorted(acked_permits),
            set(acked_permits) <= permits,
        )
        out = shaft.io.outputs()
        report.expect(
            shaft.name,
            "restored: %s, no work before the video hold-off" % outputs_text(out),
            not out["work_relay"] and not out["hot_relay"] and not out["entry_refused"],
        )
        waited = board.advance_until(
            shaft, lambda o: o["work_relay"], 1.0, VIDEO_HOLDOFF_S + 4, since=t_ready
        )
        report.expect(
            shaft.name,
            "work relay back %s s after boot, not before the video hold-off (%d s)"
            % (waited, VIDEO_HOLDOFF_S),
            waited is not None and waited >= VIDEO_HOLDOFF_S - 0.05,
        )

    shaft.expect_event_log_whole()
    boots = shaft.events(ev.BOOT)
    report.expect(
        shaft.name, "one BOOT event per power-on (%d)" % len(boots), len(boots) == CUTS + 1
    )
    report.observe(shaft.name, "events: %s" % dict(shaft.kinds()))


class _Background(threading.Thread):
    # One request (or the host's catch-up) on the link while the power goes.
    def __init__(self, fn, what, permit=None):
        super().__init__(daemon=True)
        self.fn = fn
        self.what = what
        self.permit = permit
        self.result = None
        self.error = None
        self.start()

    def run(self):
        try:
            self.result = self.fn()
        except (LinkError, EventLogError, ProtocolError) as e:
            # No reply, or refused (a roster part out of sequence after a reboot): the
            # report says which; what matters is checked after the power-on.
            self.error = e


def _send_in_background(gate, permit):
    return _Background(
        lambda: gate.client.permit_issue(timeout_s=1.0, **permit),
        "permit %d" % permit["permit_id"],
        permit,
    )
