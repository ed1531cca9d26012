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

Gone from this list (h8-clock), measured with `pytest FILE --board-profile pico
--board-fit-listed` on main 3836457, before and after:
- tests/test_durable_orders.py: its first test allocated 6.2 MB in one call (a staffed
  rig, a power cut and a reboot at every instant of the sweep). Now in parts (each boot
  phase, each step of the command, the reboot's phases and its hello each a call), on a
  16-row ledger (20 KB less live than 512 rows; the 5-person roster needs no more): the
  most one part needs is 186,064 bytes (the permit sweep), of the 192,064; 186,176 with
  main merged at 404a648 (h8-recount's and h8-esp32's work in).
- hil_tests/test_hil_shift_change.py: 1 run of 5 at load 7 had ended cage 2 up one over:
  the virtual board's clock was real time plus the host's advances, so a host slowed by
  load stretched the world. The HIL bench's virtual boards now run the scripted clock
  (shaftgate.vboard: the mine's time is the scenario's advances plus the board's own
  board time); passed on pico 3 runs of 3 at load 9.5-11.7. Its second test shows a
  stalled host changing nothing on the scripted clock and the exits lost on the real one.
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
# test_app_*.py imports within the heap now, and its tests run in parts (apprig's and appkit's
# *_in_parts helpers); 42 of the 68 pass on pico. The rest are listed by name with the part
# that ran out (`pytest FILE --board-profile pico --board-fit-listed`, 2026-12-05, on main
# e8e4d5d, with h7-heap's, h7-config's and h7-recount's merges): a rig booted in parts
# leaves 160-193 KB live here, so a part of 16-30 KB (a roster-load part, a boot on a watched or journalled flash in one call,
# events-since pages fetched in one call, a loop of requests) finds no room.
_APP_PART = (
    "in parts, part %d allocated %s bytes by its end with %s in use: the firmware's live "
    "heap (issue 9 item 2), then a finer split of that part"
)
_HIL_HEAP = "the gateway firmware runs out of the pico heap: MemoryError %s (h-fit, issue 9 item 2)"

NOT_YET = {
    "tests/test_cbor.py::test_an_array_of_65536_items_has_a_four_byte_head": (
        "[0] * 65536 is a 256 KB list on a 32-bit board, more than a Pico's whole heap: "
        "the only way to an array head of four bytes, so this one stays loose (it passed "
        "pico before only because the runner read the heap after the call returned)"
    ),
    "tests/test_app_auth.py::test_a_provisioned_gateway_accepts_each_signed_mutating_command": _APP_PART
    % (13, "303,552", "179,568"),
    "tests/test_app_auth.py::test_a_command_is_answered_only_after_its_event_is_on_flash": _APP_PART
    % (17, "202,672", "168,928"),
    "tests/test_app_boot.py::test_after_a_power_cut_outputs_stay_safe_until_the_inputs_are_known_again": _APP_PART
    % (38, "177,344", "175,824"),
    "tests/test_app_caps.py::test_r_cap_9_a_temporary_cap_by_signed_command_warns_fills_and_expires": _APP_PART
    % (45, "198,960", "170,336"),
    "tests/test_app_config.py::test_tightening_a_gas_limit_is_silent_and_loosening_it_is_an_event": _APP_PART
    % (23, "194,752", "165,232"),
    "tests/test_app_config.py::test_a_bad_config_value_changes_nothing_and_names_the_key": _APP_PART
    % (24, "271,360", "166,592"),
    "tests/test_app_config.py::test_a_cap_limit_above_the_legal_cap_is_clamped_to_it": _APP_PART
    % (23, "194,736", "165,200"),
    "tests/test_app_config.py::test_a_missing_or_damaged_config_keeps_work_off": _APP_PART
    % (11, "199,456", "171,376"),
    "tests/test_app_config.py::test_a_stored_config_the_zone_or_the_interlocks_refuse_at_boot_keeps_work_off": _APP_PART
    % (27, "197,856", "192,752"),
    "tests/test_app_events.py::test_events_are_pushed_only_after_hello_in_order_within_a_window_until_acked": _APP_PART
    % (11, "205,712", "163,888"),
    "tests/test_app_events.py::test_events_since_pages_through_the_log": _APP_PART
    % (11, "194,368", "160,688"),
    "tests/test_app_events.py::test_events_the_host_acknowledged_are_not_pushed_to_it_again": _APP_PART
    % (11, "202,656", "160,832"),
    # This and test_r_hot_2_3 fitted with 400 and 192 bytes to spare at e8e4d5d; h7-ack's
    # cuts to a request's garbage keep ~780 B more live (measured 2026-12-05 on h7-ack).
    "tests/test_app_hotwork.py::test_a_permit_ended_by_its_window_cannot_be_revoked_and_says_so": _APP_PART
    % (22, "192,848", "178,544"),
    "tests/test_app_hotwork.py::test_permits_are_issued_listed_and_revoked_by_command": _APP_PART
    % (14, "190,560", "175,552"),
    "tests/test_app_hotwork.py::test_r_hot_2_3_a_permit_names_people_in_the_roster": _APP_PART
    % (27, "192,992", "179,376"),
    "tests/test_app_hotwork.py::test_r_hot_1_the_hot_work_relay_needs_every_condition": _APP_PART
    % (22, "192,576", "177,408"),
    "tests/test_app_hotwork.py::test_r_hot_2_a_fire_watch_follows_hot_work_that_a_power_cut_interrupted": _APP_PART
    % (22, "192,656", "177,552"),
    "tests/test_app_hotwork.py::test_r_hot_2_hot_work_is_on_flash_as_begun_before_the_relay_closes": _APP_PART
    % (22, "196,608", "179,808"),
    "tests/test_app_link.py::test_garbage_on_the_link_changes_nothing": _APP_PART
    % (24, "232,448", "165,376"),
    "tests/test_app_log_full.py::test_a_full_log_refuses_entries_before_dropping_events_and_an_ack_clears_it": _APP_PART
    % (13, "242,272", "168,656"),
    "tests/test_app_people.py::test_the_ledger_is_restored_after_an_ack_removed_old_segments": _APP_PART
    % (23, "257,776", "170,272"),
    "tests/test_app_people.py::test_a_stay_is_timed_from_the_wall_clock_across_a_power_cut": _APP_PART
    % (23, "292,624", "164,608"),
    "tests/test_app_roster.py::test_a_roster_loads_in_parts_and_survives_a_power_cut": _APP_PART
    % (11, "282,352", "178,400"),
    "tests/test_app_seal.py::test_commands_that_change_nothing_are_refused_saying_so": _APP_PART
    % (35, "209,504", "178,272"),
    "tests/test_app_auth.py::test_a_gateway_without_a_key_refuses_every_mutating_command_and_logs_each": _APP_PART
    % (9, "212,144", "168,624"),
    "tests/test_app_hotwork.py::test_a_permit_needs_the_wall_clock": _APP_PART
    % (11, "193,632", "174,656"),
    "tests/test_app_flash_damage.py::test_two_firmwares_on_one_flash_repeat_seqs_and_boot_finds_it": (
        "two gateways live at once on one flash (the twin firmware), in the runner's one "
        "heap: part 22, the twin's boot, needs 246 KB with 174 KB in use (two boards have "
        "two heaps: this one stays loose; the file's other tests run in parts on pico)"
    ),
    # test_firmware_fit in parts (h8-clock): each boot phase, roster part, reboot, and
    # the steps of long commands a call, staffed rigs on a 64-row ledger, gateway.restore
    # and hal.clock imported only by the tests that use them. 26 of 41 pass on pico
    # (`pytest tests/test_firmware_fit.py --board-profile pico --board-fit-listed`,
    # 2026-12-05 on 3836457 with h8-clock, again with main merged at 404a648: the same 15
    # and figures within 0.7 KB, these); the rest, by name, with the part that ran
    # out. Parts that end with as much in use as they allocated (a reboot's boot phase at
    # 171-181 KB live) find no free block: fragmentation, which moves when code moves.
    "tests/test_firmware_fit.py::test_a_pushed_crossing_allocates_at_most_64_bytes_beyond_its_log_append": _APP_PART
    % (14, "186,832", "173,168"),
    "tests/test_firmware_fit.py::test_a_roster_commit_runs_over_steps_and_answers_once_in_force": _APP_PART
    % (22, "184,800", "175,728"),
    "tests/test_firmware_fit.py::test_a_signed_command_allocates_no_encoding_per_command": _APP_PART
    % (22, "192,448", "175,024"),
    "tests/test_firmware_fit.py::test_a_snapshot_row_out_of_range_is_refused_and_the_zone_left_empty": _APP_PART
    % (24, "187,296", "181,376"),
    "tests/test_firmware_fit.py::test_a_snapshot_save_rewrites_the_other_slot_in_place_and_leaves_the_newest_alone": _APP_PART
    % (34, "174,880", "146,736"),
    "tests/test_firmware_fit.py::test_a_snapshot_save_with_300_in_allocates_under_2_kb": (
        "its 512-row ledger (300 in) boots beside the test code: part %d allocated %s bytes by its end with %s in use"
        % (5, "177,872", "172,768")
    ),
    "tests/test_firmware_fit.py::test_a_snapshot_tag_twice_is_refused_and_the_zone_left_empty": _APP_PART
    % (24, "187,200", "181,280"),
    "tests/test_firmware_fit.py::test_a_stored_log_capacity_too_big_for_the_file_system_fails_safe": (
        "the reboot onto the defaults' 512-row ledger: part %d allocated %s bytes by its end with %s in use, no free block"
        % (16, "185,072", "180,000")
    ),
    "tests/test_firmware_fit.py::test_a_whole_snapshot_with_good_rows_restores_them": _APP_PART
    % (23, "187,200", "181,280"),
    "tests/test_firmware_fit.py::test_an_unstaged_boot_is_done_on_return": (
        "an unstaged boot is one call by design (what it tests): part %d, the boot, allocated %s bytes by its end with %s in use when it returned"
        % (23, "208,160", "146,752")
    ),
    "tests/test_firmware_fit.py::test_letting_go_of_the_rare_commands_costs_nothing_when_they_are_not_loaded": _APP_PART
    % (25, "203,360", "146,864"),
    "tests/test_firmware_fit.py::test_no_fault_no_fault_event": _APP_PART
    % (34, "171,296", "170,768"),
    "tests/test_firmware_fit.py::test_rarely_used_modules_leave_the_heap_after_use": _APP_PART
    % (24, "191,680", "172,896"),
    "tests/test_firmware_fit.py::test_rows_past_a_smaller_ledger_are_counted_and_still_checked": _APP_PART
    % (23, "185,872", "179,936"),
    "tests/test_firmware_fit.py::test_the_log_must_fit_half_the_file_system": _APP_PART
    % (23, "190,736", "172,944"),
    # Passes alone; after the loose test before it (same interpreter, the heap it left):
    "tests/test_firmware_fit.py::test_a_roster_commit_that_finds_a_person_twice_is_refused_and_the_old_stays": _APP_PART
    % (22, "189,712", "147,024"),
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
