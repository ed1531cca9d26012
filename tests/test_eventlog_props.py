"""The event log against a model (R-DATA-2, R-GAS-2), CPython only: random appends,
acks, flash faults, power cuts at a random byte of a random write (during appends, acks
and boot itself) and reboots. After every step: nothing tampered, seqs contiguous, the
chain verifies from the anchor, every event that was appended and not acknowledged is
on flash unchanged, and flash use stays within its documented bound."""

import shutil
import tempfile

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from tornflash import PowerCut, TornFlash

from gateway.eventlog import (
    RECORD_SIZE,
    EventLog,
    LogFull,
    flash_bytes_max,
    verify_chain,
)
from gatewire.errors import E_BAD_FIELD, ProtocolError
from hal.flashfs import FileFlash

CAPACITY = 12
RESERVE = 2
SEGMENT = 3
ALL = 10**6

fields = st.tuples(
    st.integers(0, 2**32 - 1),
    st.integers(1, 0xFFFF),
    st.integers(0, 2**32 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
)
fills = st.sampled_from([None, 0x00, 0xFF])
# A cut at byte n of an n-byte write lands the write but still loses the return.
cut_at = st.integers(0, RECORD_SIZE)


class EventLogMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.root = tempfile.mkdtemp(prefix="shaftgate-evprops-")
        root = self.root
        self.flash = TornFlash(lambda: FileFlash(root))
        self.log = self._open()
        self.committed = {}  # seq -> record, for every append that returned
        self.acked = 0  # the acked level the log must report
        self.ack_in_flight = None  # an ack cut short: it may or may not have landed
        self.candidates = []  # fields a record at last_seq + 1 may hold after a reboot
        self.dirty_tail = False  # a failed append may have left bytes past the records

    def teardown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def _open(self):
        return EventLog(self.flash, capacity=CAPACITY, reserve=RESERVE, segment_records=SEGMENT)

    def _room(self, reserved):
        limit = CAPACITY if reserved else CAPACITY - RESERVE
        return self.log.unacked() < limit

    def _commit(self, seq, f, before):
        assert seq == before + 1 == self.log.last_seq
        rec = self.log.since(seq - 1, 1)[0]
        assert rec[:6] == (seq, *f)
        self.committed[seq] = rec
        self.candidates = []
        self.dirty_tail = False

    # ---- rules ----

    @rule(f=fields, reserved=st.booleans())
    def append(self, f, reserved):
        if not self._room(reserved):
            before = self.log.last_seq
            with pytest.raises(LogFull):
                self.log.append(*f, reserved=reserved)
            assert self.log.last_seq == before
            return
        before = self.log.last_seq
        self._commit(self.log.append(*f, reserved=reserved), f, before)

    @rule(data=st.data())
    def ack(self, data):
        last = self.log.last_seq
        seq = data.draw(st.integers(0, last + 2), label="ack seq")
        if seq > last:
            with pytest.raises(ProtocolError) as e:
                self.log.ack(seq)
            assert e.value.code == E_BAD_FIELD and e.value.field == "seq"
            assert self.log.acked == self.acked
            return
        self.log.ack(seq)
        self.acked = max(self.acked, seq)

    @rule(f=fields, after=cut_at, fill=fills)
    def flash_fault_during_append(self, f, after, fill):
        if not self._room(False):
            return
        before = self.log.last_seq
        self.flash.arm(0, after, fill, fail=True)
        try:
            seq = self.log.append(*f)
        except OSError:
            assert self.log.last_seq == before
            self.flash.disarm()
            # Whatever landed can only be this record (or an earlier failed one).
            self.candidates.append(f)
            self.dirty_tail = True
            return
        self.flash.disarm()
        self._commit(seq, f, before)

    @rule(f=fields, reserved=st.booleans(), op=st.integers(0, 1), after=cut_at, fill=fills)
    def power_cut_during_append(self, f, reserved, op, after, fill):
        if not self._room(reserved):
            return
        before = self.log.last_seq
        self.flash.arm(op, after, fill)
        try:
            seq = self.log.append(*f, reserved=reserved)
        except PowerCut:
            self.candidates.append(f)
            self._reboot()
            return
        # op 1 only exists when a failed append left a tail to clean first.
        self.flash.disarm()
        self._commit(seq, f, before)

    @rule(data=st.data(), op=st.integers(0, 4), after=st.integers(0, 32))
    def power_cut_during_ack(self, data, op, after):
        if self.log.last_seq == 0:
            return
        seq = data.draw(st.integers(1, self.log.last_seq), label="ack seq")
        self.flash.arm(op, after)
        try:
            self.log.ack(seq)
        except PowerCut:
            if seq > self.acked:
                self.ack_in_flight = seq
            self._reboot()
            return
        self.flash.disarm()
        self.acked = max(self.acked, seq)

    @rule(boot_cut=st.none() | st.tuples(st.integers(0, 2), st.integers(0, 3 * RECORD_SIZE)))
    def reboot(self, boot_cut):
        self._reboot(boot_cut)

    def _reboot(self, boot_cut=None):
        self.flash.reboot()
        if boot_cut is not None:
            # Power lost again while boot itself repairs (cutting a torn tail, finishing
            # an interrupted ack); the boot after that must still come up whole.
            self.flash.arm(*boot_cut)
            try:
                self.log = self._open()
                self.flash.disarm()
            except PowerCut:
                self.flash.reboot()
                self.log = self._open()
        else:
            self.log = self._open()
        log = self.log
        assert not log.tampered, log.tamper_reason
        if self.ack_in_flight is not None:
            assert log.acked in (self.acked, self.ack_in_flight)
            self.acked = log.acked
            self.ack_in_flight = None
        last = max(self.committed, default=0)
        if log.last_seq > last:
            # Only the write cut at the instant of the power loss may have landed.
            assert log.last_seq == last + 1 and log.last_seq > self.acked
            rec = log.since(last, 1)[0]
            assert rec[1:6] in self.candidates, rec
            self.committed[rec[0]] = rec
        self.candidates = []
        self.dirty_tail = False

    # ---- what must hold after every step ----

    @invariant()
    def nothing_tampered_and_acked_level_kept(self):
        assert not self.log.tampered, self.log.tamper_reason
        assert self.log.acked == self.acked

    @invariant()
    def chain_verifies_and_seqs_are_contiguous(self):
        log = self.log
        recs = log.since(0, ALL)
        verify_chain(recs, log.anchor_digest(), log.anchor_seq)
        if recs:
            assert recs[-1][0] == log.last_seq
            assert recs[0][0] <= log.acked + 1
        else:
            assert log.last_seq == log.acked == log.anchor_seq
        if recs:
            assert recs[-1][6] == log.last_digest()

    @invariant()
    def no_unacknowledged_event_lost(self):
        log = self.log
        assert log.last_seq == max(self.committed, default=log.last_seq)
        have = {r[0]: r for r in log.since(0, ALL)}
        for seq, rec in self.committed.items():
            if seq > log.acked:
                assert have.get(seq) == rec, seq

    @invariant()
    def bounded(self):
        log = self.log
        assert 0 <= log.unacked() <= CAPACITY
        used = sum(self.flash.size(n) for n in self.flash.names())
        slack = RECORD_SIZE if self.dirty_tail else 0
        assert used <= flash_bytes_max(CAPACITY, SEGMENT) + slack, used


TestEventLogMachine = EventLogMachine.TestCase


def test_model_catches_a_log_that_loses_an_event():
    # The machine's checks must be able to fail: drop a committed record behind the
    # log's back and the no-loss invariant has to notice.
    m = EventLogMachine()
    try:
        for i in range(4):
            m.append((i, 1, 0, 0, 0), False)
        m.flash.inner.truncate("ev00000004", 0)
        with pytest.raises(AssertionError):
            m.no_unacknowledged_event_lost()
    finally:
        m.teardown()
