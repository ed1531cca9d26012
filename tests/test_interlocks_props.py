"""Property test of the interlocks (R-VIDEO-1, R-GAS-1/2, R-HOT-1/2, R-EVAC-1..3).

A hypothesis state machine drives random heartbeats, gas samples (with faults, silence and
stuck readings), permits issued, revoked and running out, people coming and going,
evacuation orders and all-clears, clock jumps of both clocks and reboots through
snapshot/restore, against a reference model kept here in plain Python. After every step
(and right after each command, before the next tick) it checks:

- the hot-work relay is never on unless every condition holds: a hot permit for this zone
  inside its window on a set clock, its fire-watcher and one of its workers present, video
  live and held off, gas known with CH4 <= 0.5 % and CO below its limit (both for the
  gas hold-off), no evacuation;
- the work relay is never on without live video and gas known below the stop level for
  the gas hold-off, and never during an evacuation;
- a failing condition drops the relay in the same step (the relay equals the model's
  decision, so it is also never off without a reason: a relay that never came on would
  fail here);
- evacuation, entry refusal, fire-watch alarm and the R-GAS-2 exceedance record agree
  with the model.

The board's ticks_ms wraps at 2**30: the interlocks are fed wrapped milliseconds while
the model keeps plain ones.
"""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from interlock_rig import T0_S, ZONE, Log

from gateway import events
from gateway.interlocks import Interlocks
from gateway.permits import HOT, KEY_MAINTENANCE
from gateway.reasons import (
    ALARM_FIRE_WATCH,
    CAUSE_DISPATCHER,
    CAUSE_TEAM_LEADER,
    OK,
    REFUSE_BOOK_FULL,
    REFUSE_CLOCK_UNSET,
    REFUSE_DRILL_IN_EVACUATION,
    REFUSE_DUPLICATE,
    REFUSE_ENDED,
    REFUSE_GAS_NOT_SAFE,
    REFUSE_NOT_EVACUATING,
    REFUSE_OVERLAP,
    REFUSE_UNKNOWN_PERMIT,
    REFUSE_WATCH_FULL,
    REFUSE_WRONG_ZONE,
)
from gatewire import cbor

CAMS = 2
TIMEOUT_MS = 10000
HOLDOFF_MS = 5000
GAS_HOLDOFF_MS = 4000
SILENT_MS = 5000
STUCK_MS = 3000
FIRE_WATCH_S = 60
CAPACITY = 4
CH4_STOP, CH4_EVAC, CO_LIMIT, CH4_HOT = 10000, 15000, 24, 5000
CH4_MAX, CO_MAX = 1000000, 10000
TICKS_MASK = 0x3FFFFFFF
PEOPLE = (1, 2, 3, 4, 5, 6)

ch4_values = st.sampled_from([0, 2000, 4999, 5000, 5001, 9999, 10000, 14999, 15000, 40000])
co_values = st.sampled_from([0, 0, 5, 5, 23, 23, 24, 60])
safe_samples = st.tuples(st.integers(0, 4000), st.integers(0, 10), st.just(0))
samples = st.one_of(
    st.none(),
    safe_samples,
    safe_samples,
    st.tuples(ch4_values, co_values, st.just(0)),
    st.tuples(ch4_values, co_values, st.sampled_from([0, 0, 0, 1, 4])),
    st.tuples(
        st.sampled_from([-1, 3000, CH4_MAX, CH4_MAX + 1]),
        st.sampled_from([-1, 0, CO_MAX, CO_MAX + 1]),
        st.just(0),
    ),
)
small_dt = st.integers(0, 3000)
any_dt = st.one_of(small_dt, small_dt, st.integers(3000, 70000))


class InterlockMachine(RuleBasedStateMachine):
    # ---- the bench ----

    def _new(self):
        return Interlocks(
            ZONE,
            self._is_present,
            self.log,
            cameras=CAMS,
            video_timeout_ms=TIMEOUT_MS,
            video_holdoff_ms=HOLDOFF_MS,
            gas_silent_ms=SILENT_MS,
            gas_stuck_s=STUCK_MS // 1000,
            gas_holdoff_ms=GAS_HOLDOFF_MS,
            fire_watch_s=FIRE_WATCH_S,
            permit_capacity=CAPACITY,
        )

    def _is_present(self, person_id):
        return person_id in self.present

    def _ticks(self):
        return self.now_ms & TICKS_MASK

    @initialize(start_ms=st.integers(0, 1 << 31), clock_set=st.sampled_from([True, True, False]))
    def boot(self, start_ms, clock_set):
        self.log = Log()
        self.present = set()
        self.now_ms = start_ms
        self.now_s = T0_S if clock_set else 0
        self.ms_frac = 0
        self.beats = [0] * 8
        self.il = self._new()
        self.m_permits = {}  # id -> dict(start, end, watcher, workers, hot, began)
        self.m_watches = []  # [permit id, watcher, elapsed ms]
        self.m_evac = None  # None, or dict(drill=bool, gas=bool)
        self.m_open = {1: None, 2: None}  # R-GAS-2: the peak of an open exceedance
        self.m_closed = {1: [], 2: []}  # the peaks of closed ones, in order
        self._boot_model()
        self._step(0, 0, None)

    def _boot_model(self):
        self.m_seen = [None] * CAMS  # beat value seen since boot
        self.m_changes = [[] for _ in range(CAMS)]  # when each camera's value changed
        self.m_sample = None  # (ch4, co, flags, t)
        self.m_run = None  # ((ch4, co), since): identical in-range readings
        self.m_work_since = None  # gas known and below the stop levels since, no break
        self.m_hot_since = None  # gas known and CH4 at most the hot-work limit since
        self.m_hot_on = None  # the permit the hot relay is on under
        self.last_tick_ms = None

    # ---- the reference model ----

    def _video_ok(self):
        for ch in self.m_changes:
            if not ch or self.now_ms - ch[-1] > TIMEOUT_MS:
                return False
            j = len(ch) - 1
            while j > 0 and ch[j] - ch[j - 1] <= TIMEOUT_MS:
                j -= 1
            if self.now_ms - ch[j] < HOLDOFF_MS:
                return False
        return True

    def _healthy(self, sample):
        ch4, co, flags, t = sample
        if flags != 0 or not (0 <= ch4 <= CH4_MAX and 0 <= co <= CO_MAX):
            return False
        run_value, since = self.m_run
        return not (run_value == (ch4, co) and t - since > STUCK_MS)

    def _gas_known(self):
        s = self.m_sample
        return s is not None and self.now_ms - s[3] <= SILENT_MS and self._healthy(s)

    def _held(self, since):
        # R-GAS-1 recovery hold-off: the condition has held without a break long enough.
        return since is not None and self.now_ms - since >= GAS_HOLDOFF_MS

    def _gas_work_ok(self):
        s = self.m_sample
        if not (self._gas_known() and s[0] < CH4_STOP and s[1] < CO_LIMIT):
            return False
        return self._held(self.m_work_since)

    def _gas_hot_ok(self):
        s = self.m_sample
        return self._gas_work_ok() and s[0] <= CH4_HOT and self._held(self.m_hot_since)

    def _model_gas_streaks(self):
        # Broken by an unhealthy or high sample, or by silence a tick saw (as the firmware:
        # a sample at the end of a long step, with no tick between, keeps a streak going).
        if not self._gas_known():
            self.m_work_since = self.m_hot_since = None
            return
        ch4, co = self.m_sample[0], self.m_sample[1]
        if ch4 >= CH4_STOP or co >= CO_LIMIT:
            self.m_work_since = None
        elif self.m_work_since is None:
            self.m_work_since = self.now_ms
        if ch4 > CH4_HOT:
            self.m_hot_since = None
        elif self.m_hot_since is None:
            self.m_hot_since = self.now_ms

    def _gas_evac_demand(self):
        s = self.m_sample
        return self._gas_known() and (s[0] >= CH4_EVAC or s[1] >= CO_LIMIT)

    def _open_hot_permit(self):
        if self.now_s <= 0:
            return None
        for pid, p in self.m_permits.items():
            if p["hot"] and p["start"] <= self.now_s < p["end"]:
                return pid
        return None

    def _hot_conditions(self):
        pid = self._open_hot_permit()
        if pid is None:
            return None
        p = self.m_permits[pid]
        if p["watcher"] not in self.present or not self.present & set(p["workers"]):
            return None
        if not (self._video_ok() and self._gas_hot_ok() and self.m_evac is None):
            return None
        return pid

    def _work_conditions(self):
        return self._video_ok() and self._gas_work_ok() and self.m_evac is None

    def _model_gas_evac(self):
        if not self._gas_evac_demand():
            return
        if self.m_evac is None or self.m_evac["drill"]:
            self.m_evac = {"drill": False, "gas": True}
        else:
            self.m_evac["gas"] = True

    def _model_sample(self, sample):
        ch4, co, flags = sample
        in_range = 0 <= ch4 <= CH4_MAX and 0 <= co <= CO_MAX
        if in_range and (self.m_run is None or self.m_run[0] != (ch4, co)):
            self.m_run = ((ch4, co), self.now_ms)
        self.m_sample = (ch4, co, flags, self.now_ms)
        self._model_gas_streaks()
        if self._healthy(self.m_sample):
            for gas, value, limit in ((1, ch4, CH4_STOP), (2, co, CO_LIMIT)):
                peak = self.m_open[gas]
                if peak is None:
                    if value >= limit:
                        self.m_open[gas] = value
                elif value < limit:
                    self.m_closed[gas].append(peak)
                    self.m_open[gas] = None
                else:
                    self.m_open[gas] = max(peak, value)

    def _finish_permit(self, pid):
        p = self.m_permits.pop(pid)
        if p["hot"] and p["began"]:
            self.m_watches.append([pid, p["watcher"], 0])

    def _model_tick(self):
        dt = 0 if self.last_tick_ms is None else self.now_ms - self.last_tick_ms
        self.last_tick_ms = self.now_ms
        self._model_gas_streaks()
        self._model_gas_evac()
        for w in self.m_watches:
            w[2] += dt
        if self.now_s > 0:
            for pid in sorted(self.m_permits):
                p = self.m_permits[pid]
                if self.now_s >= p["end"]:
                    self._finish_permit(pid)
                elif p["start"] <= self.now_s:
                    p["began"] = True
        self.m_watches = [w for w in self.m_watches if w[2] < FIRE_WATCH_S * 1000]
        pid = self._hot_conditions()
        if pid is None:
            self.m_hot_on = None
        elif self.m_hot_on is None:
            self.m_hot_on = pid
        elif self.m_hot_on != pid:
            self.m_hot_on = None  # R-HOT-1: off for a step between two tickets

    def _model_drop(self):
        # After a command: relays may drop, never rise.
        if self.m_hot_on is not None and self._hot_conditions() != self.m_hot_on:
            self.m_hot_on = None

    # ---- one app step: inputs, then tick ----

    def _step(self, dt, beat_mask, sample):
        self.now_ms += dt
        if self.now_s > 0:
            self.ms_frac += dt
            self.now_s += self.ms_frac // 1000
            self.ms_frac %= 1000
        t = self._ticks()
        for i in range(CAMS):
            if beat_mask & (1 << i):
                self.beats[i] = t
        self.il.on_video(self.beats, CAMS, t)
        for i in range(CAMS):
            value = self.beats[i]
            if self.m_seen[i] is None:
                self.m_seen[i] = value
            elif value != self.m_seen[i]:
                self.m_seen[i] = value
                self.m_changes[i].append(self.now_ms)
        if sample is not None:
            self.il.on_gas(sample[0], sample[1], sample[2], t)
            self._model_sample(sample)
        self.il.tick(t, self.now_s, len(self.present))
        self._model_tick()

    # ---- rules ----

    @rule(dt=any_dt, beat_mask=st.integers(0, 3), sample=samples)
    def time_passes(self, dt, beat_mask, sample):
        self._step(dt, beat_mask, sample)

    @rule(dt=small_dt, sample=samples)
    def everything_beats(self, dt, sample):
        self._step(dt, 3, sample)

    @rule(
        n=st.integers(1, 12),
        dt=st.integers(200, 1500),
        ch4=st.sampled_from([0, 1500, 4999, 5000, 5000, 8000, 12000]),
        co=st.integers(0, 10),
        crew=st.booleans(),
    )
    def steady_work(self, n, dt, ch4, co, crew):
        # Ordinary running: cameras beating, a healthy sensor whose readings wobble, the
        # open hot-work permit's crew on site, and the dispatcher ending an evacuation once
        # things are calm.
        if crew and self._open_hot_permit() is not None:
            p = self.m_permits[self._open_hot_permit()]
            self.present.add(p["watcher"])
            self.present.add(p["workers"][-1])
        for i in range(n):
            self._step(dt, 3, (ch4 - i % 2 if ch4 else i % 2, co, 0))
        if self.m_evac is not None and n > 3:
            self.all_clear()

    @rule(
        pid=st.integers(1, 6),
        watcher=st.sampled_from(PEOPLE),
        n=st.integers(1, 12),
        ch4=st.sampled_from([0, 3000, 5000]),
        length=st.one_of(st.integers(2, 10), st.integers(60, 200)),
        follow_on=st.booleans(),
    )
    def hot_work_shift(self, pid, watcher, n, ch4, length, follow_on):
        # A hot-work job as planned: a permit open now (and maybe the next job's permit
        # starting as it ends, same crew), the crew in, calm running.
        if self.now_s <= 0:
            self.wall_clock_jumps("set", 10)
        if self._open_hot_permit() is None:
            worker = watcher % len(PEOPLE) + 1
            self.issue_permit(pid, 0, length, True, watcher, [worker], 5)
            if follow_on:
                self.issue_permit(pid % 6 + 1, length, 200, True, watcher, [worker], 5)
        self.steady_work(n, 1000, ch4, 0, True)

    @rule(watcher=st.booleans())
    def crew_leaves(self, watcher):
        # The open hot-work permit's fire-watcher, or all its workers, walk out.
        pid = self._open_hot_permit()
        if pid is not None:
            p = self.m_permits[pid]
            for person in [p["watcher"]] if watcher else p["workers"]:
                self.present.discard(person)
        self._step(0, 0, None)

    @rule(person=st.sampled_from(PEOPLE), inside=st.booleans())
    def presence_changes(self, person, inside):
        if inside:
            self.present.add(person)
        else:
            self.present.discard(person)
        self._step(0, 0, None)

    @rule(
        how=st.sampled_from(["unset", "forward", "back", "set"]),
        by_s=st.integers(1, 4000),
    )
    def wall_clock_jumps(self, how, by_s):
        if how == "unset":
            self.now_s = 0
        elif how == "set":
            self.now_s = T0_S + by_s
        elif self.now_s > 0:
            self.now_s = max(0, self.now_s + (by_s if how == "forward" else -by_s))
        self._step(0, 0, None)

    @rule(
        pid=st.integers(1, 6),
        start_off=st.one_of(st.integers(-60, 0), st.integers(-60, 200)),
        length=st.one_of(st.integers(60, 300), st.integers(1, 300)),
        hot=st.booleans(),
        watcher=st.sampled_from(PEOPLE),
        workers=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True),
        wrong_zone=st.integers(0, 19),
    )
    def issue_permit(self, pid, start_off, length, hot, watcher, workers, wrong_zone):
        workers = [w for w in workers if w != watcher] or [7]
        start = self.now_s + start_off if self.now_s > 0 else T0_S + start_off
        start = max(1, start)
        end = start + length
        expect = self._expect_issue(pid, start, end, hot, wrong_zone == 0)
        got = self.il.issue_permit(
            pid,
            "face-9" if wrong_zone == 0 else ZONE,
            100 + pid,
            "STM-%d" % pid,
            start,
            end,
            watcher,
            workers,
            HOT if hot else KEY_MAINTENANCE,
            self.now_s,
        )
        assert got == expect, (got, expect)
        if got == OK:
            self.m_permits[pid] = {
                "start": start,
                "end": end,
                "watcher": watcher,
                "workers": workers,
                "hot": hot,
                "began": False,
            }
        self._check_relays()
        self._step(0, 0, None)

    def _expect_issue(self, pid, start, end, hot, wrong_zone):
        if wrong_zone:
            return REFUSE_WRONG_ZONE
        if self.now_s <= 0:
            return REFUSE_CLOCK_UNSET
        if end <= self.now_s:
            return REFUSE_ENDED
        if pid in self.m_permits:
            return REFUSE_DUPLICATE
        if hot:
            for p in self.m_permits.values():
                if p["hot"] and start < p["end"] and p["start"] < end:
                    return REFUSE_OVERLAP
        if len(self.m_permits) >= CAPACITY:
            return REFUSE_BOOK_FULL
        hot_count = sum(1 for p in self.m_permits.values() if p["hot"])
        if hot and hot_count + len(self.m_watches) >= CAPACITY:
            return REFUSE_WATCH_FULL
        return OK

    @rule(pid=st.integers(1, 6))
    def revoke_permit(self, pid):
        got = self.il.revoke_permit(pid, self._ticks())
        if pid in self.m_permits:
            assert got == OK
            self._finish_permit(pid)
        else:
            assert got == REFUSE_UNKNOWN_PERMIT
        self._model_drop()
        self._check_relays()
        self._step(0, 0, None)

    @rule(leader=st.booleans(), drill=st.booleans(), reason=st.integers(0, 7))
    def evacuate(self, leader, drill, reason):
        cause = CAUSE_TEAM_LEADER if leader else CAUSE_DISPATCHER
        got = self.il.evacuate(cause, 9 if leader else 0, reason, drill, self._ticks())
        m = self.m_evac
        if m is not None and not m["drill"] and drill:
            assert got == REFUSE_DRILL_IN_EVACUATION
        else:
            assert got == OK
            if m is None or (m["drill"] and not drill):
                self.m_evac = {"drill": drill, "gas": False}
        self._model_drop()
        self._check_relays()
        assert not self.il.work_relay and not self.il.hot_relay
        self._step(0, 0, None)

    @rule()
    def all_clear(self):
        got = self.il.all_clear(0, self._ticks())
        m = self.m_evac
        if m is None:
            assert got == REFUSE_NOT_EVACUATING
        elif m["gas"] and not self._gas_work_ok():
            assert got == REFUSE_GAS_NOT_SAFE
        else:
            assert got == OK
            self.m_evac = None
        self._check_relays()
        self._step(0, 0, None)

    @rule(new_ms=st.integers(0, 1 << 31), clock_kept=st.booleans())
    def reboot(self, new_ms, clock_kept):
        saved = cbor.loads(cbor.dumps(self.il.snapshot()))  # as the app stores it
        self.now_ms = new_ms
        if not clock_kept:
            self.now_s = 0  # a board without a battery-backed clock
        self.beats = [0] * 8
        self.il = self._new()
        self.il.restore(saved, self._ticks())
        self._boot_model()
        assert not self.il.work_relay and not self.il.hot_relay
        self._step(0, 0, None)

    # ---- checks ----

    def _check_relays(self):
        il = self.il
        if il.hot_relay:
            # R-HOT-1, R-HOT-2: every condition holds, under the permit the model expects.
            assert self._hot_conditions() is not None, il.hot_reasons
            assert il.work_relay
        if il.work_relay:
            # R-VIDEO-1, R-GAS-1, R-EVAC: live video, safe gas, no evacuation.
            assert self._video_ok() and self._gas_work_ok() and self.m_evac is None
        assert il.hot_relay == (self.m_hot_on is not None)
        if il.hot_relay:
            assert il.permits.ids[il.hotwork.slot] == self.m_hot_on

    @invariant()
    def relays_follow_the_conditions(self):
        self._check_relays()
        # Exactly: on whenever the conditions hold at a tick, off as soon as one fails.
        assert self.il.work_relay == self._work_conditions(), self.il.work_reasons
        assert (self.il.work_reasons == 0) == self.il.work_relay

    @invariant()
    def evacuation_agrees(self):
        m = self.m_evac
        il = self.il
        assert il.evacuation.active == (m is not None)
        assert il.entry_refused == (m is not None)
        if m is not None:
            assert il.evacuation.drill == m["drill"] and il.sounder
            assert il.evacuation.gas_caused() == m["gas"]

    @invariant()
    def fire_watch_agrees(self):
        hw = self.il.hotwork  # None: the book let go, holding nothing
        assert (hw.watching if hw is not None else 0) == len(self.m_watches)
        away = any(w[1] not in self.present for w in self.m_watches)
        assert bool(self.il.alarms & ALARM_FIRE_WATCH) == away

    @invariant()
    def every_exceedance_is_on_record(self):
        # R-GAS-2: starts and ends alternate per gas; the record's peaks are the model's.
        for gas in (1, 2):
            last = None
            ends = []
            for kind, tag, a, _b in self.log.items:
                if kind == events.GAS_OVER and tag == gas:
                    assert last != events.GAS_OVER
                    last = kind
                elif kind == events.GAS_OVER_END and tag & 127 == gas:
                    assert last == events.GAS_OVER
                    last = kind
                    ends.append(a)
            assert (last == events.GAS_OVER) == (self.m_open[gas] is not None)
            assert ends == self.m_closed[gas]


InterlockMachine.TestCase.settings = settings(settings.default, stateful_step_count=60)
TestInterlocks = InterlockMachine.TestCase


def test_the_machine_reaches_both_relays_on():
    # Guard against a vacuous run: a fixed walk that must energise both relays.
    m = InterlockMachine()
    m.boot(start_ms=(1 << 30) - 3000, clock_set=True)  # across the ticks wrap
    for i in range(8):
        m.everything_beats(dt=1000, sample=(2000 + i % 2, 0, 0))  # a live sensor wobbles
    assert m.il.work_relay
    for person in (1, 2):
        m.presence_changes(person=person, inside=True)
    m.issue_permit(pid=1, start_off=0, length=100, hot=True, watcher=1, workers=[2],
                   wrong_zone=5)  # fmt: skip
    m.everything_beats(dt=1000, sample=(2000, 0, 0))
    assert m.il.hot_relay
    m.relays_follow_the_conditions()
    m.teardown()
