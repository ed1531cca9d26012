"""Safety mutants: plant one realistic bug at a time in the safety rules and run the tests
that cover it. A mutant the tests do not catch is a missing assertion (add it) or an
equivalent mutant (explain it in the rule's code). `./dev mutants` runs this; it is not
part of CI. Its last figures go to docs/reliability.md.

    ./dev mutants                 every mutant
    ./dev mutants evac-role cap   only the mutants whose id starts with one of these (their
                                  rows replace theirs in docs/reliability.md's table)
    ./dev mutants --list          the catalogue

Each mutant is an exact piece of source and its replacement; one that no longer matches
the source exactly once is reported STALE (the code moved on: update the catalogue).
The mutants run in a copy of the tree, so the working tree is never touched.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- mutants:begin -->"
END = "<!-- mutants:end -->"
TIMEOUT_S = 600
SKIP = {".git", ".venv", "node_modules", ".hypothesis", "reports", "run", ".typecheck"}

GW = "firmware/gateway/"
ZONE_TESTS = ("tests/test_zone.py", "tests/test_caps.py", "tests/test_zone_props.py")
# The gateway application's end-to-end tests, one file a subject (test_app.py, split).
APP_SPLIT = tuple(
    "tests/test_app_%s.py" % subject
    for subject in (
        "auth",
        "boot",
        "caps",
        "config",
        "evacuation",
        "events",
        "hotwork",
        "link",
        "log_full",
        "people",
        "roster",
        "seal",
        "time",
        "video_gas",
    )
)
APP_TESTS = (*APP_SPLIT, "tests/test_durable_orders.py")
DOOR_TESTS = ("tests/test_doorway.py", "tests/test_doorway_noise.py", "tests/test_zone.py")
IL_TESTS = ("tests/test_interlocks.py", "tests/test_interlocks_props.py")
RECOUNT_TESTS = ("tests/test_recount.py", "tests/test_recount_app.py")
# R-ID-4 for the people an order names (gateway/certified.py).
CERT_TESTS = ("tests/test_order_certificates.py",)


class Mutant:
    def __init__(self, ident, what, path, old, new, tests):
        self.ident = ident
        self.what = what
        self.path = path
        self.old = old
        self.new = new
        self.tests = tests


M = Mutant
CATALOGUE = (
    # ---- caps (R-CAP-1..6, R-CAP-11) ----
    M(
        "cap-over-late",
        "over-cap level one person late",
        GW + "caps.py",
        "if count > cap:",
        "if count > cap + 1:",
        ZONE_TESTS,
    ),
    M(
        "cap-warn-late",
        "early warning one person late",
        GW + "caps.py",
        "if count >= self.warn_at(cap):",
        "if count > self.warn_at(cap):",
        ZONE_TESTS,
    ),
    M(
        "cap-refuse-late",
        "entry refused only past the cap",
        GW + "zone.py",
        "if ld.count >= self.cap:\n                return REFUSE_CAP",
        "if ld.count > self.cap:\n                return REFUSE_CAP",
        ZONE_TESTS,
    ),
    M(
        "cap-over-entry-silent",
        "the entry that goes over the cap is not evidence",
        GW + "zone.py",
        "if new and count > self.cap:",
        "if new and count > self.cap + 1:",
        ZONE_TESTS,
    ),
    M(
        "shift-unknown-loose",
        "unknown shift takes the looser cap",
        GW + "caps.py",
        "base = min(self.caps[0], self.caps[1])",
        "base = max(self.caps[0], self.caps[1])",
        ZONE_TESTS,
    ),
    M(
        "override-above-legal",
        "a temporary cap may exceed the regulation",
        GW + "caps.py",
        "return c if c < legal else legal",
        "return c",
        ZONE_TESTS,
    ),
    # ---- no video, no work (R-VIDEO-1) ----
    M(
        "video-timeout-late",
        "a stale heartbeat counts for a second more",
        GW + "video.py",
        "or age > timeout\n",
        "or age > timeout + 1000\n",
        ("tests/test_video.py", *IL_TESTS),
    ),
    M(
        "video-no-holdoff",
        "video counts as back without the hold-off",
        GW + "video.py",
        "if ticks_diff(now_ms, self._live_since_ms[i]) >= self.holdoff_ms:",
        "if True:",
        ("tests/test_video.py", *IL_TESTS),
    ),
    M(
        "video-frozen-beat",
        "the frozen-heartbeat (change age) check removed",
        GW + "video.py",
        "                    or ticks_diff(now_ms, self._changed_ms[i]) > timeout\n",
        "",
        ("tests/test_video.py", *IL_TESTS),
    ),
    # ---- hot work and fire watch (R-HOT-1, R-HOT-2) ----
    M(
        "hot-no-watcher",
        "hot work without its fire-watcher present",
        GW + "hotwork.py",
        "if not self._is_present(book.watchers[slot]):",
        "if False:",
        ("tests/test_hotwork.py", *IL_TESTS),
    ),
    M(
        "permit-end-inclusive",
        "a permit still valid at its end second",
        GW + "permits.py",
        "now_s < self.ends[slot]",
        "now_s <= self.ends[slot]",
        ("tests/test_permits.py", "tests/test_hotwork.py", *IL_TESTS),
    ),
    M(
        "hot-permit-swap",
        "hot-work relay stays on from one ticket to the next",
        GW + "interlocks.py",
        "if self.hot_relay and slot >= 0 and book is not None and book.ids[slot] != self._hot_permit:",
        "if False:",
        IL_TESTS,
    ),
    M(
        "fire-watch-left-silent",
        "a fire-watcher who left raises no alarm",
        GW + "hotwork.py",
        "if not present and not self._w_away[w]:",
        "if False:",
        ("tests/test_hotwork.py", *IL_TESTS),
    ),
    # ---- gas (R-GAS-1, R-GAS-2) ----
    M(
        "gas-stop-inclusive",
        "methane exactly at the stop level counts as safe",
        GW + "gas.py",
        "self.high = ch4_ppm >= self.ch4_stop_ppm",
        "self.high = ch4_ppm > self.ch4_stop_ppm",
        ("tests/test_gas.py", *IL_TESTS),
    ),
    M(
        "gas-co-no-evac",
        "CO over the limit orders no withdrawal",
        GW + "gas.py",
        "self.evac_demand = ch4_ppm >= self.ch4_evac_ppm or co_ppm >= self.co_evac_ppm",
        "self.evac_demand = ch4_ppm >= self.ch4_evac_ppm",
        ("tests/test_gas.py", *IL_TESTS),
    ),
    M(
        "gas-silence-late",
        "a silent sensor is trusted twice as long",
        GW + "gas.py",
        "ticks_diff(now_ms, since) > self.silent_ms",
        "ticks_diff(now_ms, since) > 2 * self.silent_ms",
        ("tests/test_gas.py", *IL_TESTS),
    ),
    M(
        "gas-no-holdoff",
        "relays return the moment gas reads safe",
        GW + "gas.py",
        "if ticks_diff(now_ms, self._clear_ms) >= self.holdoff_ms:",
        "if True:",
        ("tests/test_gas.py", *IL_TESTS),
    ),
    # ---- evacuation (R-EVAC-1..3) ----
    M(
        "evac-role",
        "evacuation admits every role at or above rescue",
        GW + "zone.py",
        "return 0 if role == roles.RESCUE else REFUSE_EVACUATION",
        "return 0 if role >= roles.RESCUE else REFUSE_EVACUATION",
        ("tests/test_evacuation_roles.py", *ZONE_TESTS),
    ),
    M(
        "evac-work-on",
        "work goes on during an evacuation",
        GW + "interlocks.py",
        "if evac:\n            work |= WHY_EVACUATION",
        "if False:\n            work |= WHY_EVACUATION",
        IL_TESTS,
    ),
    M(
        "evac-all-clear-in-gas",
        "all-clear given while gas is still high",
        GW + "interlocks.py",
        "self.evacuation.all_clear(by, self.gas.work_reasons() == 0, now_ms)",
        "self.evacuation.all_clear(by, True, now_ms)",
        (*APP_SPLIT, *IL_TESTS),
    ),
    # ---- who may give which order (issue 10 item 6) ----
    M(
        "order-all-clear-by-anyone",
        "an all-clear from someone who could not order the evacuation",
        GW + "certified.py",
        "    gw._order_giver(by, what)\n",
        "",
        (*APP_SPLIT, "tests/test_orders_props.py"),
    ),
    M(
        "order-all-clear-uncertified",
        "a leader's all-clear taken without a valid certificate",
        GW + "certified.py",
        '    check(gw, by, what, "by")\n',
        "",
        (*CERT_TESTS, *APP_SPLIT),
    ),
    M(
        "order-evacuate-needs-certificate",
        "an evacuation refused for the leader's certificate",
        GW + "app.py",
        '        cause = self._order_giver(by, "evacuate")\n',
        '        cause = self._order_giver(by, "evacuate")\n'
        "        if by:\n"
        "            from gateway import certified\n\n"
        '            certified.check(self, by, "evacuate", "by")\n',
        (*CERT_TESTS, *APP_SPLIT),
    ),
    M(
        "order-any-role-withdraws",
        "every role may order people out and back in",
        GW + "roles.py",
        "return code == TEAM_LEADER or code == MINE_LEADER",
        "return code >= TEAM_LEADER",
        (*APP_SPLIT, "tests/test_orders_props.py"),
    ),
    # ---- the recount after a muster (R-CAP-11) ----
    M(
        "recount-below-named",
        "a recount takes the count below the people known by name or remembered tag",
        GW + "commands.py",
        "        if found < least:\n",
        "        if found < least - 1:\n",
        RECOUNT_TESTS,
    ),
    M(
        "recount-onto-moved-count",
        "a recount carried out onto a count that moved since the muster",
        GW + "commands.py",
        '    if body["was"] != before:\n',
        '    if body["was"] != before and False:\n',
        RECOUNT_TESTS,
    ),
    M(
        "recount-by-anyone",
        "a recount ordered by someone who may not order people out",
        GW + "commands.py",
        '    gw._order_giver(by, "recount")\n',
        "",
        RECOUNT_TESTS,
    ),
    M(
        "recount-uncertified-giver",
        "a recount from a leader without a valid certificate",
        GW + "commands.py",
        '        certified.check(gw, by, "recount", "by")\n',
        "        pass\n",
        (*CERT_TESTS, *RECOUNT_TESTS),
    ),
    M(
        "recount-counter-unchecked",
        "a recount counted by someone not in the roster or uncertified",
        GW + "commands.py",
        '    certified.check(gw, counter, "recount", "counted_by")\n',
        "",
        (*CERT_TESTS, *RECOUNT_TESTS),
    ),
    M(
        "order-clock-unset-certifies",
        "with the wall clock unset an order's certificate is read against clock 0",
        GW + "certified.py",
        "    now = zone._rel_s\n    if now < 0:\n",
        "    now = zone._rel_s\n    if now < 0:\n        now = 0\n    if False:\n",
        (*CERT_TESTS, *RECOUNT_TESTS),
    ),
    M(
        "recount-not-replayed",
        "a recount logged but not replayed after a power cut",
        GW + "app.py",
        "                    recount.replay(self.zone, r[4], r[5])\n",
        "                    pass\n",
        RECOUNT_TESTS,
    ),
    M(
        "recount-unlogged-acts",
        "a recount the log could not take changes the count all the same",
        GW + "commands.py",
        "    if gw.lost_events != lost:\n",
        "    if False:\n",
        RECOUNT_TESTS,
    ),
    M(
        "recount-lowers-lost-state",
        "a recount lowers the count while the zone's state is unconfirmed",
        GW + "commands.py",
        "        if gw.system & SYS_STATE_LOST:\n",
        "        if False:\n",
        RECOUNT_TESTS,
    ),
    M(
        "order-clock-back-loose",
        "the clock goes back one second past the tolerance without the flag",
        GW + "commands.py",
        "back = moved < -CLOCK_BACK_TOLERANCE_S",
        "back = moved < -CLOCK_BACK_TOLERANCE_S - 1",
        (*APP_SPLIT, "tests/test_orders_props.py"),
    ),
    M(
        "order-cap-below-count",
        "a temporary cap below the people inside is taken without the flag",
        GW + "commands.py",
        'if cap < count and body.get("below_count") is not True:',
        'if cap < count - 1 and body.get("below_count") is not True:',
        (*APP_SPLIT, "tests/test_orders_props.py"),
    ),
    M(
        "order-permit-stranger",
        "a permit's fire-watcher need not be in the roster",
        GW + "commands.py",
        "if w and rs.find_person(w) < 0:",
        "if False:",
        APP_SPLIT,
    ),
    M(
        "order-unseal-open-zone",
        "unseal of an open zone answers as if it lifted a seal",
        GW + "app.py",
        "        if not self.sealed:\n            self._refused(reasons.REFUSE_NOT_SEALED",
        "        if False:\n            self._refused(reasons.REFUSE_NOT_SEALED",
        (*APP_SPLIT, "tests/test_app_props.py"),
    ),
    # ---- counted without a ledger row (R-CAP-11) ----
    M(
        "unnamed-any-exit",
        "any exit by a tag the zone does not know un-counts one counted without a row",
        GW + "zone.py",
        "self._emit(_DOUBTFUL_CROSSING, tag, _KEPT_IN, _DOUBT_UNNAMED)",
        "ld.overflow -= 1\n            self._emit(EXIT, tag, person, ld.count)",
        ("tests/test_zone.py", "tests/test_zone_props.py"),
    ),
    M(
        "unnamed-not-inside",
        "a remembered tag is not known inside (read again inside: counted twice)",
        GW + "zone.py",
        "return self.ledger.find(tag) >= 0 or self._unnamed_at(tag) >= 0",
        "return self.ledger.find(tag) >= 0",
        ("tests/test_zone.py", "tests/test_zone_props.py"),
    ),
    M(
        "unnamed-not-saved",
        "the remembered tags are left out of the state snapshot",
        GW + "snapshot.py",
        "        n = zone.unnamed_n\n",
        "        n = 0\n",
        ("tests/test_zone_snapshot.py",),
    ),
    # ---- seal (R-SEAL-1) ----
    M(
        "seal-cap",
        "a sealed zone keeps its cap",
        GW + "zone.py",
        "cap = 0 if self.sealed else self.policy.cap(",
        "cap = self.policy.cap(",
        ZONE_TESTS,
    ),
    M(
        "seal-work-on",
        "work goes on in a sealed zone",
        GW + "app.py",
        "blocked = sys_ & _WORK_BLOCKERS or self.sealed",
        "blocked = sys_ & _WORK_BLOCKERS",
        (*APP_SPLIT, "tests/test_app_props.py"),
    ),
    # ---- who may enter (R-ID-4) ----
    M(
        "cert-expiry-inclusive",
        "a certificate valid on its expiry second",
        GW + "roster.py",
        "return 0 <= now_rel_s < self._cert",
        "return 0 <= now_rel_s <= self._cert",
        ("tests/test_roster.py", *ZONE_TESTS),
    ),
    M(
        "unknown-tag-admitted",
        "a tag not in the roster is not refused",
        GW + "zone.py",
        "if ri < 0:\n            return REFUSE_UNKNOWN_TAG",
        "if False:\n            return 0",
        ZONE_TESTS,
    ),
    # ---- the doorway: in doubt, the person is in (ARCHITECTURE principle 7) ----
    M(
        "door-one-read-exit",
        "a single outer read makes an exit",
        GW + "doorway.py",
        "EXIT_READS = const(2)",
        "EXIT_READS = const(1)",
        DOOR_TESTS,
    ),
    M(
        "door-stray-cancels",
        "one stray outer read after the inner one cancels the entry",
        GW + "doorway.py",
        "if tail <= 1 and ticks_age(m, self._t_out[i]) >= settle:",
        "if tail < 1 and ticks_age(m, self._t_out[i]) >= settle:",
        DOOR_TESTS,
    ),
    M(
        "door-overflow-drops",
        "a full doorway drops people instead of counting them in",
        GW + "doorway.py",
        "        if point == INNER and not self._is_in(tag):\n            self.overflow_in += 1",
        "        if False:\n            self.overflow_in += 1",
        DOOR_TESTS,
    ),
    M(
        "door-inner-only-dropped",
        "someone read only inside, again and again, is not counted in",
        GW + "doorway.py",
        "            if n_in >= 2:\n                # Read inside again",
        "            if False:\n                # Read inside again",
        DOOR_TESTS,
    ),
    M(
        "door-thin-in-silent",
        "a crossing decided on thin evidence is not said",
        GW + "doorway.py",
        "            self._emit(DOUBTFUL_CROSSING, tag, DECIDED_IN, doubt)\n\n    def _body_near",
        "            doubt = doubt\n\n    def _body_near",
        DOOR_TESTS,
    ),
    # ---- the beam (R-ID-2) ----
    M(
        "beam-untagged-silent",
        "a body the beam saw with no tag raises no alarm",
        GW + "doorway.py",
        "        self._pulses.pop()\n        self._emit(UNTAGGED_ENTRY, 0, 1, self.beam_total)",
        "        self._pulses.pop()",
        (*DOOR_TESTS, "tests/test_zone_props.py"),
    ),
    # ---- authentication ----
    M(
        "auth-replay",
        "a replayed counter is accepted",
        "protocol/gatewire/auth.py",
        "if counter <= self.last_counter:",
        "if counter < self.last_counter:",
        ("tests/test_auth.py", *APP_SPLIT),
    ),
    M(
        "auth-no-tag-check",
        "the MAC is not checked",
        "protocol/gatewire/auth.py",
        "if not _tags_equal(expected, tag):",
        "if False:",
        ("tests/test_auth.py", *APP_SPLIT),
    ),
    M(
        "auth-counter-volatile",
        "the command counter is not persisted",
        GW + "app.py",
        "store.write_counter(slots, counter)",
        "counter = counter",
        APP_TESTS,
    ),
    # ---- framing ----
    M(
        "frame-no-crc",
        "a frame with a bad CRC is taken",
        "protocol/gatewire/frame.py",
        "if binascii.crc32(self._frame_mv[:fill]) == _CRC_RESIDUE:",
        "if True:",
        ("tests/test_frame.py", "tests/test_frame_props.py"),
    ),
    # ---- the chain and the log (R-DATA-2) ----
    M(
        "chain-skip-first",
        "boot check skips each segment's first record",
        GW + "logscan.py",
        "            if prev is not None:\n                h = hashlib.sha256(prev)",
        "            if prev is not None and j > 0:\n                h = hashlib.sha256(prev)",
        ("tests/test_eventlog.py",),
    ),
    M(
        "ack-removes-unacked",
        "an ack removes a segment holding unacked events",
        GW + "eventlog.py",
        "if last > seq:\n                break",
        "if last > seq + 1:\n                break",
        ("tests/test_eventlog.py", *APP_SPLIT),
    ),
    M(
        "log-full-admits",
        "a full log does not refuse entries",
        GW + "app.py",
        "_ENTRY_BLOCKERS = SYS_LOG_FULL | SYS_RESTORING | SYS_STATE_LOST",
        "_ENTRY_BLOCKERS = SYS_RESTORING | SYS_STATE_LOST",
        APP_TESTS,
    ),
    # ---- power cuts ----
    M(
        "ok-before-durable",
        "the OK leaves before the order is on flash",
        GW + "app.py",
        "                if self._dirty:\n                    # Durable before OK",
        "                if False:\n                    # Durable before OK",
        APP_TESTS,
    ),
    M(
        "seal-not-stateful",
        "a seal is not in the snapshot's triggers",
        GW + "app.py",
        "    ev.SEALED,\n",
        "",
        APP_TESTS,
    ),
    M(
        "ack-before-snapshot",
        "an ack drops segments the snapshot does not cover",
        GW + "app.py",
        "        self._save_state()\n        self.log.ack(seq)",
        "        self.log.ack(seq)",
        (*APP_SPLIT, "tests/test_app_props.py"),
    ),
    M(
        "restore-no-replay",
        "crossings after the snapshot are not replayed at boot",
        GW + "app.py",
        "                if r[2] in _REPLAYED:\n                    self.zone.replay(",
        "                if False:\n                    self.zone.replay(",
        APP_TESTS,
    ),
)


def _copy_tree(dst):
    def ignore(folder, names):
        return [n for n in names if n in SKIP or n == "__pycache__"]

    shutil.copytree(ROOT, dst, ignore=ignore, symlinks=True)
    nm = ROOT / "node_modules"
    if nm.exists():
        os.symlink(nm, dst / "node_modules")


def _pytest(copy, tests):
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
        "-k", "not micropython", "-o", "addopts=", *tests,
    ]  # fmt: skip
    env = dict(os.environ, HYPOTHESIS_PROFILE="ci")
    try:
        p = subprocess.run(
            cmd, cwd=copy, capture_output=True, text=True, timeout=TIMEOUT_S, env=env
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    failed = re.findall(r"^FAILED (\S+)", p.stdout, re.M)
    if p.returncode == 0:
        return "passed", ""
    if p.returncode == 1:
        return "failed", failed[0] if failed else "(see pytest output)"
    return "error", p.stdout[-2000:] + p.stderr[-2000:]


def run(selected):
    with tempfile.TemporaryDirectory(prefix="shaftgate-mutants-") as tmp:
        copy = Path(tmp) / "tree"
        _copy_tree(copy)
        results = []
        stale = [m for m in selected if (ROOT / m.path).read_text().count(m.old) != 1]
        live = [m for m in selected if m not in stale]
        union = sorted({t for m in live for t in m.tests})
        t0 = time.monotonic()
        status, detail = _pytest(copy, union)
        print("baseline (no mutant): %s in %.0f s" % (status, time.monotonic() - t0))
        if status != "passed":
            print(detail)
            sys.exit("the covering tests fail without any mutant: fix them first")
        for m in selected:
            if m in stale:
                results.append((m, "STALE", "source no longer matches exactly once"))
                print("%-24s STALE" % m.ident, flush=True)
                continue
            target = copy / m.path
            original = target.read_text()
            target.write_text(original.replace(m.old, m.new, 1))
            t = time.monotonic()
            try:
                status, detail = _pytest(copy, m.tests)
            finally:
                target.write_text(original)
            verdict = {"failed": "killed", "passed": "SURVIVED"}.get(status, status.upper())
            results.append((m, verdict, detail if status == "failed" else detail[:200]))
            print(
                "%-24s %-8s %4.0f s  %s"
                % (
                    m.ident,
                    verdict,
                    time.monotonic() - t,
                    detail.splitlines()[0] if detail else "",
                ),
                flush=True,
            )
        return results


def _row(m, verdict, detail):
    caught = "`%s`" % detail if verdict == "killed" else ""
    return "| `%s` | %s (`%s`) | %s | %s |" % (m.ident, m.what, m.path, verdict, caught)


def _merge_doc(results, prefixes):
    # A run of some mutants (`./dev mutants recount`): their rows replace or join the
    # table in catalogue order, the rest stay as the last full run left them, and a line
    # under the full run's says which rows this run wrote.
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    block, tail = rest.split(END, 1)
    lines = block.strip("\n").split("\n")
    first = [ln for ln in lines if ln.startswith("Last run:")]
    rows = {}
    for ln in lines:
        m = re.match(r"\| `([^`]+)` \|", ln)
        if m:
            rows[m.group(1)] = ln
    for m, verdict, detail in results:
        rows[m.ident] = _row(m, verdict, detail)
    killed = sum(1 for _, v, _ in results if v == "killed")
    out = [BEGIN, *first, ""]
    out.append(
        "Rows of %s rewritten %s UTC by `./dev mutants %s` (not a full run): %d of %d killed."
        % (
            ", ".join("`%s*`" % p for p in prefixes),
            time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            " ".join(prefixes),
            killed,
            len(results),
        )
    )
    out += [
        "",
        "| mutant | the bug planted | result | first test that caught it |",
        "|---|---|---|---|",
    ]
    out += [rows[m.ident] for m in CATALOGUE if m.ident in rows]
    out.append(END)
    DOC.write_text(head + "\n".join(out) + tail)
    return True


def _write_doc(results):
    killed = sum(1 for _, v, _ in results if v == "killed")
    lines = [
        BEGIN,
        "Last run: %s UTC, `./dev mutants`: **%d of %d killed**, %d survived, %d stale or errored."
        % (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            killed,
            len(results),
            sum(1 for _, v, _ in results if v == "SURVIVED"),
            sum(1 for _, v, _ in results if v not in ("killed", "SURVIVED")),
        ),
        "",
        "| mutant | the bug planted | result | first test that caught it |",
        "|---|---|---|---|",
    ]
    for m, verdict, detail in results:
        lines.append(_row(m, verdict, detail))
    lines.append(END)
    block = "\n".join(lines)
    text = DOC.read_text() if DOC.exists() else "# Reliability: figures from real runs\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Safety mutants\n\n" + block + "\n"
    DOC.write_text(text)


def main(argv):
    if "--list" in argv:
        for m in CATALOGUE:
            print("%-24s %s  [%s]" % (m.ident, m.what, m.path))
        return 0
    prefixes = [a for a in argv if not a.startswith("-")]
    selected = [m for m in CATALOGUE if not prefixes or m.ident.startswith(tuple(prefixes))]
    if not selected:
        print("no mutant matches %s (--list shows them)" % " ".join(prefixes), file=sys.stderr)
        return 2
    results = run(selected)
    survived = [m.ident for m, v, _ in results if v != "killed"]
    print(
        "\n%d of %d killed%s"
        % (
            len(results) - len(survived),
            len(results),
            "; not killed: " + ", ".join(survived) if survived else "",
        )
    )
    if not prefixes:
        _write_doc(results)
        print("written to %s" % DOC.relative_to(ROOT))
    elif _merge_doc(results, prefixes):
        print("their rows written to %s" % DOC.relative_to(ROOT))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
