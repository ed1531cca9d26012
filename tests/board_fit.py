"""Tests that do not fit a board yet (issue 9): they run on the `loose` board profile
(heap unlimited, no board time) whatever the session's, each with the figure that stops
it on the pico profile, measured with `pytest FILE --board-profile pico --board-fit-listed`
(the option runs listed tests under the session's profile too). Remove an entry once its
test passes under pico; tests/test_board_fit.py keeps this list honest.

Keys: a test file (relative to the repository), or "file::test name" for one test.

The heap of a test is read inside each call from the host, just before it returns: the
WebAssembly port collects only when a call returns, so a call is charged everything it
allocated, garbage included (docs/hardware.md, "Board profiles"). A test whose own loop
makes the garbage (a sweep, a long run of ticks) is split into calls with
tests/hostcalls.py's @in_parts rather than listed here.

Gone from this list (h2-testfit), with what one call of each was charged before and the
most one call (part) needs now (`mpy_plugin.run_file(path)[test]["heap_in"]`: heap total,
bytes allocated by the call's end, live ones included):
- test_frame: up to 14.2 MB (the bit flips: a 4 KB Decoder per flip; the CRC-32 oracle
  and xorshift32 on 32-bit big ints) -> 123 KB; the oracle and the generator now work on
  16-bit halves (same values: checked against the old code and zlib).
- test_eventlog's power cuts: 1.2-3.4 MB (a fresh flash and log per cut point) -> 92 KB,
  a part per cut.
- test_ledger's table against a dict: 719 KB (the LCG's product is a big int each step)
  -> 68 KB, a part per check.
- test_zone's overstays: 327-469 KB (each idle tick 96 B in the zone and 32 B in the
  test's clock while the wall clock is a Unix time, a big int; 0 B with a small int) ->
  150 KB, a part per 300 s of ticks (zonekit.idle_in_parts).
- test_messages' junk sweep: 2.6 MB (over 2,000 parses and their errors) -> 161 KB, a
  part per spot.
- test_evacuation_roles: 769 KB (255 walks) -> 142 KB (the roster of 255 roles' load).
- test_roster's 2,000 people: 473 KB with the in-RAM flash stand-in (both files in the
  heap) -> 126 KB on files, a part per chunk and per commit step.
They were listed with "384 KB to 11.7 MB needed, 16-64 KB in use after": the old reading
after the call returned flagged that garbage only when some live allocation happened to
land in a heap area the call had grown (hence "seen once").

Gone from this list (h4-vboard): the serve and reliability tests behind virtual boards
(test_serve, test_serve_gap, test_serve_mqtt, test_queue_bounds, test_load_serve,
test_reliability_broker, test_reliability_crash, test_desk) and
hil_tests/test_hil_power_cuts.py pass under pico with the virtual board as strict as the
runner (the heap read inside each call, a collected heap when a call begins, the Pico's
own HAL charged: docs/hardware.md, "Board profiles"). test_serve_gap runs no virtual
board (a CPython FakeGateway): its entry was never about a board's heap. test_load_serve
had chosen loose itself (tests/reliability_load.py's default), which also left the whole
rest of a session on loose: it now keeps the session's profile and puts the variable
back. tests/test_demo.py passes on pico since h4-heap's cuts (its roster loads fit).

Gone from this list (h6-suite), each measured with `pytest FILE --board-profile pico
--board-fit-listed` on main a607e01, before and after:
- tests/test_reliability_link.py: a step allocated 43.7 KB (h4-vboard), 40.8 KB
  (a607e01): serve's catch-up `events-since` of 50 events, about 800 B an event held at
  once. The gateway now sends at most app.EVENTS_PAGE (8) events a reply; the heaviest
  step now allocates 8.2 KB. The watchdog reset and the log's 100 KB recovery after it
  followed that MemoryError; the run has neither now, and the recovery runs a part
  (two segments) per boot step anyway (EventLog.recovering, tests/test_eventlog_parts.py:
  a 400-record log's scan allocated 245 KB in one call).
- hil_tests/test_hil_morning_shift.py: it fitted the heap, but the shaft lost a batch's
  24 inner reads to a DMA ring overrun. The scenario's pacing, not a Pico's fault: it
  sent a batch's 24 outer and 24 inner reads at one instant, which puts both readers'
  lines on their wires together, while the board takes reads in the world's order, so
  the inner lines waited whole in their ring for the outer ones still arriving. People
  reach the inner point after the outer one, a few at a time: the bench now passes
  people at a reader 8 at a time and the batch at the second point only once the board
  has taken the first point's reads (hil_bench `_pass`, READER_PACE). A real limit
  stays: 24 lines back to back on one wire (504 bytes) are more than the 512-byte ring
  holds unread (496), so a Pico must poll in the middle of such a burst (every ~85 ms).
  Tried and dropped: the virtual board taking whichever line arrived first (as
  hal/mcu.py's alternate polling would), or starting each line no earlier than the read
  before it; neither is needed with the bench paced, and the shift change's failure on
  pico (its entry below) showed with and without them.
- tests/test_app_flash_damage.py: its first test allocated 404 KB in one call (h4);
  now in parts (the rig's boot, a 3-person roster, each crossing, each boot onto the
  damaged flash and each page a call of its own), the most one part needs is under
  192 KB with 170-177 KB live. One test stays listed by name: it runs two gateways on
  one flash at once, which two boards never put in one heap.
(Step figures read with gc.mem_alloc() around Gateway.step, a print not committed.)

Gone from this list (h7-config), measured with `pytest FILE --board-profile pico
--board-fit-listed` on main e78c0ef, before and after:
- hil_tests/test_hil_bench_emulated.py: step 95 allocated 31,296 bytes on 164,848 live
  (h6-suite: step 88, 31,424 on 166,304), config-set's trial (gateway/commands.py
  _change_config) building a whole second Zone (22.9 KB: the ledger's arrays for
  ledger_capacity 512, the doorway's tracks) and its interlocks beside the zone in force.
  config-set now builds no second zone (gateway/reconfigure.py): the settings are checked
  without one, then the zone in force is changed in place, or for a new ledger_capacity
  its ledger is let go and rebuilt a phase per step with the gateway parked as at boot.
  Passes on pico (three times); the heaviest call of its board after the reset needed
  169,232 bytes of the 192,064 on e78c0ef with this change, 161,216-161,280 merged with
  main e8e4d5d (a VirtualBoard's status()["heap"]["needed_peak"], printed at stop, not
  committed). `./dev bench fit`: config-set's largest step 31.1 -> 11.1 KB, its peak
  194.5 -> 171.1 KB (docs/hardware.md "config-set without a second zone").
The runner now collects the heap before each part of a test in parts, as the virtual
board does between its calls: this port collects between calls only now and then, so a
part was charged the garbage of the parts before it (tests/test_app_pages.py crept from
174 KB to 190 KB live over a few parts, then fell back).

Gone from this list (h8-runner, 2026-12-05, on 3836457), 21 test_app_* tests. First the
runner's heap account (docs/hardware.md, "Board profiles"): the heap of a test run is the
board's 192,064 bytes plus the live heap of the test code no board holds (the runner's own
functions and the test module with its helpers, measured per test module on a collected
heap after every firmware module), less the Pico's own HAL beyond fakeboard, the test's
stand-in for it (12,928 B of hal.clock, gasloop, pulses, readerline, mcu, dmaring and pico,
less fakeboard's 1,584: 11,344 B). For an app rig the two nearly cancel: test_app_log_full
is allowed 11,584 B of test code (apprig 7,408, appkit 1,280, the runner 1,216, the module
1,424, hostcalls 256) for a limit of 192,256; test_app_auth 18,048 (flashtap 2,336, the
module 5,488): 198,720; test_app_pages 10,640: 191,360, below the board's. So the runner
had been 11 KB kinder than a Pico in its HAL and as much stricter in its test code; what
stopped these tests was the garbage of one call. Then each such call split, what each test
checks unchanged (apprig: step_in_parts, run_s_in_parts, fetch_in_parts a part per gateway
step, power_cut_in_parts lets the dead board's gateway go before the new board is built;
appkit: bad_reads_in_parts; one request a part; a test's own loop of decoding or big-int
arithmetic a part per 100 turns; a rig of a loop let go before the next is built):
- test_app_auth (3): a provisioned gateway accepts each signed command (part 13: 300,944 B,
  the 13 commands in one call), without a key (part 12: 210,528, the 13 refused in one
  call), answered after flash (part 17: 201,792 B, the journal searched for every pushed
  event in one call).
- test_app_hotwork (7): they fitted within 400 B on the old account; with the account
  (limit 197,504) the heaviest needs 194,256.
- test_app_config (4): tightening and cap limit (a config-set in one call, 194,736-194,768
  B), a bad value (294,016 B: six config-sets), a missing or damaged config (two rigs live
  at once, the old one kept until the new one was built: 194,560 B in use).
- test_app_events::test_events_since_pages_through_the_log (343,120 B: 120 bad reads and
  every page in one call), test_app_log_full (237,328: 80 reads in one call),
  test_app_link (232,880: 600 LCG steps on big ints, test code), test_app_people's stay
  (292,896: 400 s of steps), test_app_seal (206,688), test_app_caps (364,336: 600 s of
  steps), test_app_boot's power cut (part 38:
  177,856 B on 176,336 live; power_cut_in_parts now drops the old gateway first).
test_app_boot's first-boot test, which passed, now boots staged (as gateway/boot.py does):
run after the power-cut test, which passes now, its one-call boot met the modules that test
had loaded (10 KB more live: a test runs on the heap the tests before it left).

Gone from this list (h8-clock), measured with `pytest FILE --board-profile pico
--board-fit-listed` on main 3836457, before and after:
- tests/test_durable_orders.py: its first test allocated 6.2 MB in one call (a staffed
  rig, a power cut and a reboot at every instant of the sweep). Now in parts (each boot
  phase, each step of the command, the reboot's phases and its hello each a call), on a
  16-row ledger (20 KB less live than 512 rows; the 5-person roster needs no more): the
  most one part needs is 186,064 bytes (the permit sweep), of the 192,064; 186,176 with
  main merged at 404a648 (h8-recount's and h8-esp32's work in); 185,168 of a 200,448
  limit with main merged at 89a0207 (h8-runner's heap account).
- hil_tests/test_hil_shift_change.py: 1 run of 5 at load 7 had ended cage 2 up one over:
  the virtual board's clock was real time plus the host's advances, so a host slowed by
  load stretched the world. The HIL bench's virtual boards now run the scripted clock
  (shaftgate.vboard: the mine's time is the scenario's advances plus the board's own
  board time); passed on pico 3 runs of 3 at load 9.5-11.7. Its second test shows a
  stalled host changing nothing on the scripted clock and the exits lost on the real one.

Gone from this list (h8-rest, 2026-12-05), measured with `pytest FILE --board-profile pico
--board-fit-listed` on main f098a11:
- tests/test_firmware_fit.py's roster commit with a status request answered mid-commit
  (part 132: 213,184 bytes by its end with 197,936 in use, limit 210,816, before h8-heap's
  commit rework): passes since that rework (rosterload.py's commit in 12 KB, not 32 KB);
  its heaviest part now needs 197,344 bytes of the 210,816.
- test_app_events' push window (part 244: 186,944 bytes with 186,736 in use, limit
  194,496, no free block): the test kept every event pushed to it (rig.pushed and
  rig.seen, 190 events, about 130 B each). It now takes the pushed seqs after each round
  and checks them in full (each round's seqs exactly the next ones: the same as the whole
  list from 1), and lets the rig's copies of acked events go, asserting that none of them
  is pushed again after the reboot (the copies were only there to see such an event
  changed). Heaviest part 184,352 bytes of 194,816.
- test_app_people's ledger after an ack removed old segments (part 51 on f098a11: 194,064
  bytes with 185,376 in use, limit 193,600) and test_app_events' acked events not pushed
  again (part 40: 195,632 bytes with 182,432 in use, limit 194,688; the gateway's step
  answering a page makes about 14 KB of garbage, which fits once the test's heap is
  free): rig.fetch_in_parts kept all 150 events it fetched only for the test to read the
  last seq. Both now fetch with apprig's fetch_last_in_parts, which keeps none (each event
  still checked against the rig's pushed copy, and in order from the first seq); the
  people test, after its ack, lets the rig's copies go and asserts at the end that no
  acked event was pushed again. Heaviest parts 189,280 bytes of 193,984 (people) and
  189,696 of 195,008 (events).
With main a93d4e9 merged (rosterload.py changed again) the three still pass: heaviest
parts 198,624 of 211,008 (test_firmware_fit), 184,512 and 189,712 of 195,008
(test_app_events), 189,264 of 193,984 (test_app_people).
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOOSE = "loose"

_APP = (
    "each test is one call from the host, charged every byte the rig (its boot, its "
    "roster, its steps) and the test allocate, garbage included. Measured with "
    "--board-profile pico (h6-suite, 2026-12-04): %s. In parts (tests/hostcalls.py, "
    "apprig's *_in_parts helpers, as tests/test_app_flash_damage.py) is needed but not "
    "yet enough: in the runner a rig booted in parts leaves 170-176 KB live (the firmware "
    "113 KB, fakeboard and apprig 13 KB, the gateway's state about 30 KB, the test "
    "module), and a roster load keeps gateway.commands (10 KB) live between its parts: "
    "184 KB live, then no free block for the next allocation (tried on test_firmware_fit "
    "split into three files, in parts: every test died at its roster load or its zone's "
    "build). To pass: the firmware's live heap down (issue 9 item 2), then these in parts"
)
# test_app.py split by subject (h7-suite): its import alone allocated 199,904 bytes. Each
# test_app_*.py imports within the heap now, and its tests run in parts (apprig's and
# appkit's *_in_parts helpers). h7-suite listed 26 by name; h8-runner took 21 off (the
# docstring says how).
# The test_app_* tests still listed (h8-runner, 2026-12-05): each part is a gateway step, a
# boot phase or one request, so what is left is the firmware's own allocation in one step
# or phase, on a heap the test's kept objects fill too.
_APP_PART_BOOT = (
    "in parts, part %d (the boot phase after the interlocks refused the stored config: "
    "gateway/bootseq.py lets the stored config's zone go and build.install builds the "
    "defaults' zone and interlocks, both in that one phase) allocated %s bytes by its end "
    "with %s in use, over the %s-byte limit. Tried (h8-rest, not committed): the defaults' "
    "zone and interlocks in two more phases, as the stored config's are; the peak phase "
    "then needed 187,456 bytes with 182,352 in use (no free block large enough): the "
    "refused zone (about 17 KB) was still reachable, likely from a stale slot of the boot "
    "generator's frame (it was an argument of the refused build.locks call), so the "
    "defaults' zone was built beside it (issue 9 item 2)"
)
_APP_PART_ROSTER = (
    "in parts, part %d (the gateway's step reading the second roster-load part, the "
    "host's 100-entry chunk: decoding it and staging the entries) allocated %s bytes by "
    "its end with %s in use, limit %s: under the limit in bytes, but the step needed a "
    "block no free area of the heap held (the layout decides: it passed at 188,656 of "
    "194,432 on h8-rest before main a93d4e9 was merged). The test holds no entries during "
    "that step (h8-rest: each part's send is a part of its own); the firmware's heap is "
    "11 KB fuller between roster parts than before the first (gateway.commands, "
    "gateway.rosterload and the load's state) and the step makes about 14 KB of garbage "
    "(issue 9 item 2)"
)
_HIL_HEAP = "the gateway firmware runs out of the pico heap: MemoryError %s (h-fit, issue 9 item 2)"

NOT_YET = {
    "tests/test_cbor.py::test_an_array_of_65536_items_has_a_four_byte_head": (
        "[0] * 65536 is a 256 KB list on a 32-bit board, more than a Pico's whole heap: "
        "the only way to an array head of four bytes, so this one stays loose (it passed "
        "pico before only because the runner read the heap after the call returned)"
    ),
    # Measured 2026-12-05 (h8-runner) on main db6a292 merged, re-measured by h8-rest on
    # main a93d4e9 merged (the figures below), with the runner's heap account
    # (docs/hardware.md "Board profiles": the test code's allowance, the Pico's HAL
    # charged): `pytest FILE --board-profile pico --board-fit-listed`.
    "tests/test_app_config.py::test_a_stored_config_the_zone_or_the_interlocks_refuse_at_boot_keeps_work_off": _APP_PART_BOOT
    % (65, "194,672", "165,936", "194,368"),
    "tests/test_app_roster.py::test_a_roster_loads_in_parts_and_survives_a_power_cut": _APP_PART_ROSTER
    % (20, "188,704", "175,040", "194,432"),
    "tests/test_app_flash_damage.py::test_two_firmwares_on_one_flash_repeat_seqs_and_boot_finds_it": (
        "two gateways live at once on one flash (the twin firmware), in the runner's one "
        "heap: part 22, the twin's boot, needs 246 KB with 174 KB in use (two boards have "
        "two heaps: this one stays loose; the file's other tests run in parts on pico)"
    ),
}


def loose_tests(path):
    """Names of the tests of file `path` listed one by one (for the MicroPython runner)."""
    try:
        rel = Path(path).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return []
    return sorted(k.split("::", 1)[1] for k in NOT_YET if k.startswith(rel + "::"))


def profile_for(path, name=None):
    """The profile a test must run under (LOOSE while listed), or None: the session's."""
    try:
        rel = Path(path).resolve().relative_to(REPO).as_posix()
    except ValueError:
        return None
    if rel in NOT_YET:
        return LOOSE
    if name is not None:
        base = name.split("[")[0]
        if "%s::%s" % (rel, base) in NOT_YET or "%s::%s" % (rel, name) in NOT_YET:
            return LOOSE
    return None
