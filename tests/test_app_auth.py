# micropython-test
# The gateway application (gateway/app.py) end to end on a FakeBoard, authentication: keys,
# signed commands, the command counter and its file. Each behaviour is shown firing and not
# firing; rules are named by their IDs. Shared rig: tests/apprig.py, tests/appkit.py (a
# staffed face gateway), tests/flashtap.py.

from appkit import roster
from apprig import GATEWAY_ID, KEY, NOW_S, OTHER_KEY, of_kind, rig_in_parts
from flashtap import JournalBoard, appended_record, journal_index, sent_envelope
from hostcalls import in_parts

from gateway import app, rejects, store
from gateway import events as ev
from gatewire import messages
from gatewire.errors import E_AUTH_BAD, E_AUTH_MISSING, E_AUTH_REPLAY, E_INTERNAL


def _mutating_requests():
    # One well-formed body for every mutating command in the catalogue.
    return [
        ("ack", {"up_to_seq": 0}),
        ("config-set", {"changes": {"warn_pct": 70}}),
        (
            "roster-load",
            {"load_id": 1, "part": 0, "parts": 1, "entries": roster(), "total": 10},
        ),
        (
            "permit-issue",
            {
                "permit_id": 5,
                "job_id": 6,
                "measure_ref": "STM-5",
                "start_s": NOW_S,
                "end_s": NOW_S + 3600,
                "fire_watcher": 1003,
                "workers": [1004],
                "flags": 1,
            },
        ),
        ("permit-revoke", {"permit_id": 5}),
        ("evacuate", {"reason": 1, "drill": False}),
        ("all-clear", {}),
        ("cap-override", {"cap": 5, "expiry_s": NOW_S + 3600, "reason": "rectification"}),
        ("cap-override-clear", {"reason": "rectification done"}),
        ("seal", {}),
        ("unseal", {}),
        ("time-set", {"time_s": NOW_S + 10}),
        # R-CAP-11: a muster found one person the empty zone had not counted.
        ("recount", {"found": 1, "was": 0, "counted_by": 1003}),
    ]


@in_parts
def test_a_gateway_without_a_key_refuses_every_mutating_command_and_logs_each():
    rig = yield from rig_in_parts(key=None)
    assert rig.gw.system & app.SYS_NOT_PROVISIONED
    reqs = _mutating_requests()
    codes = [messages.code_of(name) for name, _ in reqs]
    assert sorted(codes) == sorted(messages.MUTATING)  # a new command must be added here
    before = rig.last_seq()
    yield
    for name, fields in reqs:
        r = yield from rig.request_in_parts(name, **fields)
        assert not r.ok and r.code == E_AUTH_BAD, r
        assert "no key" in r.text
        yield
    # The first few are logged one each; the rest as one pooled event a minute later
    # (gateway/rejects.py), counting every frame (b).
    yield from rig.run_s_in_parts(61)
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    rejected = of_kind(evs, ev.AUTH_REJECTED)
    n = rejects.BURST_EVENTS
    assert [e[3] for e in rejected[:n]] == codes[:n]
    assert [e[5] for e in rejected] == [1] * n + [len(codes) - n]
    assert rejected[-1][3] == codes[-1]
    assert [e[4] for e in rejected] == [E_AUTH_BAD] * (n + 1)
    assert not of_kind(evs, ev.COMMAND) and not of_kind(evs, ev.COMMAND_REFUSED)
    # Nothing changed.
    st = rig.call("status")
    yield
    assert not st["sealed"] and not st["evacuating"] and st["now_s"] >= NOW_S
    assert st["now_s"] < NOW_S + 70  # the clock ran 61 s, time-set did not move it
    assert rig.call("config-get", keys=["warn_pct"])["settings"] == {"warn_pct": 80}
    yield
    # Read-only commands still work.
    assert rig.call("hello", min_version=1, max_version=1)["gateway_id"] == GATEWAY_ID
    yield
    assert rig.call("occupants")["total"] == 0
    yield
    assert rig.call("permit-list")["total"] == 0
    yield
    assert rig.call("events-since", from_seq=1, max_count=5)["events"]


@in_parts
def test_a_provisioned_gateway_accepts_each_signed_mutating_command():
    rig = yield from rig_in_parts()
    yield from rig.load_roster_in_parts(roster())
    before = rig.last_seq()
    yield
    reqs = _mutating_requests()
    for name, fields in reqs:
        r = yield from rig.request_in_parts(name, **fields)
        assert r.ok, r
        yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    assert not of_kind(evs, ev.AUTH_REJECTED)
    assert [e[3] for e in of_kind(evs, ev.COMMAND)] == [messages.code_of(n) for n, _ in reqs]


@in_parts
def test_unsigned_wrong_key_and_replayed_commands_are_refused_and_logged():
    rig = yield from rig_in_parts()
    before = rig.last_seq()
    yield
    r = rig.request("seal", signed=False)
    yield
    assert r.code == E_AUTH_MISSING
    r = rig.request("seal", key=OTHER_KEY)
    yield
    assert r.code == E_AUTH_BAD
    assert not rig.call("status")["sealed"]
    yield
    # A captured "seal" replayed after an "unseal" must not seal the zone again.
    seal = rig.envelope("seal")
    yield
    rig.send(seal)
    yield
    assert rig.reply_to("seal", seal[messages.KEY_ID]).ok
    yield
    rig.call("unseal")
    yield
    rig.send(seal)
    yield
    r = rig.reply_to("seal", seal[messages.KEY_ID])
    yield
    assert r.code == E_AUTH_REPLAY and "last accepted counter" in r.text, r
    # A counter below the last accepted one is a replay too, even freshly signed.
    r = rig.request("seal", counter=5)
    yield
    assert r.code == E_AUTH_REPLAY
    assert not rig.call("status")["sealed"]
    yield
    evs = yield from rig.fetch_in_parts(before + 1)
    yield
    rejected = of_kind(evs, ev.AUTH_REJECTED)
    assert [(e[3], e[4]) for e in rejected] == [
        (messages.SEAL, E_AUTH_MISSING),
        (messages.SEAL, E_AUTH_BAD),
        (messages.SEAL, E_AUTH_REPLAY),
        (messages.SEAL, E_AUTH_REPLAY),
    ]
    assert [e[5] for e in rejected] == [1, 1, 1, 1]  # each its own event, b: one frame
    # Unauthenticated frames are not commands: no COMMAND_REFUSED for them (issue 13).
    assert not of_kind(evs, ev.COMMAND_REFUSED)
    # Not firing: the properly signed seal and unseal were accepted and logged.
    assert [e[3] for e in of_kind(evs, ev.COMMAND)] == [messages.SEAL, messages.UNSEAL]


@in_parts
def test_the_command_counter_survives_a_power_cut():
    rig = yield from rig_in_parts()
    seal = rig.envelope("seal")
    yield
    rig.send(seal)
    yield
    assert rig.reply_to("seal", seal[messages.KEY_ID]).ok
    yield
    rig.call("unseal")
    yield
    yield from rig.power_cut_in_parts()
    rig.send(seal)
    yield
    r = rig.reply_to("seal", seal[messages.KEY_ID])
    yield
    assert r.code == E_AUTH_REPLAY, r
    assert not rig.call("status")["sealed"]
    yield
    # Not firing: the host's next counter is accepted after the reboot.
    rig.call("seal")
    yield
    assert rig.call("status")["sealed"]


@in_parts
def test_a_damaged_counter_file_refuses_commands_as_replays():
    # docs/keys.md: a counter that cannot be read must not reopen old commands to replay.
    rig = yield from rig_in_parts()
    rig.call("seal")
    yield
    rig.board.flash.write(store.COUNTER_FILE, b"\xff\xff")
    yield
    yield from rig.power_cut_in_parts()
    r = rig.request("unseal")
    yield
    assert r.code == E_AUTH_REPLAY
    assert rig.call("status")["sealed"]
    yield
    assert rig.gw.system & app.SYS_COUNTER_BAD  # and it is an alarm, not a silent lock-out


@in_parts
def test_an_intact_counter_file_raises_no_counter_alarm():
    rig = yield from rig_in_parts()
    rig.call("seal")
    yield
    yield from rig.power_cut_in_parts()
    assert not rig.gw.system & app.SYS_COUNTER_BAD
    rig.call("unseal")


@in_parts
def test_a_command_is_answered_only_after_its_event_is_on_flash():
    rig = yield from rig_in_parts(board_class=JournalBoard)
    rig.call("hello", min_version=1, max_version=1)
    yield
    rig.step(100, 5)
    yield
    j = rig.board.journal
    del j[:]
    env = rig.envelope("seal")
    yield
    rid = env[messages.KEY_ID]
    rig.send(env)
    yield
    assert rig.reply_to("seal", rid).ok
    yield
    logged = journal_index(
        j,
        lambda it: (
            appended_record(it) is not None
            and appended_record(it)[2] == ev.COMMAND
            and appended_record(it)[5] == rid
        ),
    )
    replied = journal_index(
        j, lambda it: sent_envelope(it) is not None and sent_envelope(it)[messages.KEY_ID] == rid
    )
    assert 0 <= logged < replied, (logged, replied)
    # Each pushed event left only after its record was on flash.
    rig.step(100, 10)
    yield
    pushed = 0
    for i in range(len(j)):
        env = sent_envelope(j[i])
        if env is None or env[messages.KEY_TYPE] != messages.EVENT:
            continue
        seq = env[messages.KEY_BODY][0]
        at = journal_index(
            j,
            lambda it, seq=seq: appended_record(it) is not None and appended_record(it)[0] == seq,
        )
        assert 0 <= at < i, (seq, at, i)
        pushed += 1
        yield  # each event's search of the journal a call of its own
    assert pushed >= 2
    # Not firing: a read-only request logs nothing and is answered at once.
    del j[:]
    rig.call("status")
    yield
    assert journal_index(j, lambda it: it[0] == "append") == -1


@in_parts
def test_a_command_whose_counter_cannot_be_stored_is_not_acted_on():
    # docs/keys.md: the counter is on flash before the command acts, or it does not act.
    rig = yield from rig_in_parts()
    flash = rig.board.flash

    class Failing:
        def __getattr__(self, name):
            return getattr(flash, name)

        def write(self, name, data):
            if name == store.COUNTER_FILE:
                raise OSError(5, "flash worn out")
            flash.write(name, data)

    rig.board.flash = rig.gw.flash = Failing()
    r = rig.request("seal")
    yield
    assert r.code == E_INTERNAL, r
    rig.board.flash = rig.gw.flash = flash
    assert not rig.call("status")["sealed"]
    yield
    refused = of_kind((yield from rig.fetch_in_parts(1)), ev.COMMAND_REFUSED)
    yield
    assert refused[-1][3] == messages.SEAL and refused[-1][4] == E_INTERNAL


@in_parts
def test_keys_are_provisioned_by_file_name():
    # The deploy tool writes these names (gateway/store.py); a short key is refused.
    rig = yield from rig_in_parts(key=KEY[:16])
    assert rig.gw.system & app.SYS_NOT_PROVISIONED
    assert rig.request("seal").code == E_AUTH_BAD
