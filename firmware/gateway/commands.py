# The gateway's rarely used commands (configuration, roster loads, permits, the temporary
# cap, the clock): imported when one arrives and let go when it has answered
# (Gateway._dispatch, store.unload), so that their code is out of a board's heap the rest
# of the time (issue 9 item 2, docs/hardware.md "Board fit"). What must answer whatever
# the heap holds (hello, status, ack, evacuate, all-clear, seal, unseal) stays in
# gateway/app.py: a command here that cannot be imported is refused, which leaves
# everything as it was (no permit, no new cap, the old clock and settings).
from gateway import events as ev
from gateway import reasons, store
from gateway.app import (
    _LATER,
    CLOCK_BACK_TOLERANCE_S,
    SYS_ROSTER_BAD,
    SYS_STATE_LOST,
)
from gateway.caps import EPOCH_S, UNIX_MAX_S, clock_known, clock_of, unix_of
from gatewire import messages
from gatewire.errors import E_BAD_FIELD, E_FULL, E_REFUSED, ProtocolError

try:
    from micropython import const
except ImportError:

    def const(__x):
        return __x


_I32_MAX = const(0x7FFFFFFF)


def config_get(gw, body):
    keys = body.get("keys")
    out = {}
    for k in gw.cfg:
        if keys is None or k in keys:
            out[k] = gw.cfg[k]
    return {"settings": out}


def config_set(gw, body):
    changes = body["changes"]
    if "gateway_id" in changes and changes["gateway_id"] != gw.cfg["gateway_id"]:
        # The event chain starts from the gateway id: it is fixed at provisioning.
        raise ProtocolError(E_REFUSED, "gateway_id is set at provisioning only", "gateway_id")
    if gw._job is not None:
        raise ProtocolError(
            E_REFUSED, "another command is in progress: send again once it has answered", None
        )
    # Two steps, each a call of its own (a board's heap then holds one of them at a time):
    # the check, then the change. The reply follows the change, as _run_job sends it.
    gw._job = [_change_config(gw, changes), 0, 0, {}]
    return _LATER


def _change_config(gw, changes):
    # gateway/reconfigure.py: the settings checked, then the zone in force changed in
    # place, or its ledger rebuilt; never a second zone. Its code, the settings' schema
    # and the builders it uses leave the heap with the job.
    try:
        from gateway import reconfigure

        yield from reconfigure.change(gw, changes)
    finally:
        store.unload("config")
        store.unload("build")
        store.unload("restore")
        store.unload("reconfigure")


def roster_load(gw, body):
    roster = gw.zone.roster
    part = body["part"]
    if gw._job is not None:
        raise ProtocolError(
            E_REFUSED,
            "a roster commit or another command is in progress: send again once it has answered",
            "part",
        )
    if part == 0:
        gw._roster_load = [body["load_id"], body["parts"], 0, body["total"]]
    load = gw._roster_load
    if load is None or load[0] != body["load_id"] or load[2] != part or load[1] != body["parts"]:
        raise ProtocolError(
            E_REFUSED, "roster part %d out of sequence: start again with part 0" % part, "part"
        )
    # The part is staged in the next step, a call of its own: the garbage of decoding
    # and checking it (about 14 KB for 100 people on a board) is then collectable before
    # the roster's code and the staging write need the heap. The reply follows the
    # staging (and, after the last part, the commit), as _run_job sends it.
    fields = {}
    gw._job = [_stage_part(gw, roster, body, load, fields), 0, 0, fields]
    return _LATER


def _stage_part(gw, roster, body, load, fields):
    part = body["part"]
    if part == 0:
        roster.abort()
        try:
            roster.begin(body["total"])
        except ValueError as e:
            gw._roster_load = None
            raise ProtocolError(E_BAD_FIELD, str(e), "total")
    try:
        roster.add(body["entries"])
    except ValueError as e:
        roster.abort()
        gw._roster_load = None
        raise ProtocolError(E_BAD_FIELD, str(e), "entries")
    except Exception:
        # The staging write failed (flash): the load ends, the old roster stays, and
        # _run_job answers the fault; the host starts again from part 0.
        roster.abort()
        gw._roster_load = None
        raise
    load[2] = part + 1
    fields["received"] = load[2]
    if load[2] < load[1]:
        fields["complete"] = False
        return
    gw._roster_load = None
    fields["complete"] = True
    body = None  # the entries are on flash: not kept through the commit
    yield
    # The commit (sort, checks, the new slot written) runs one phase a step, each
    # short of the watchdog; the reply goes when the new roster is on flash and used.
    for _ in roster.commit_steps():
        yield
    gw.system &= ~SYS_ROSTER_BAD
    fields["entries"] = roster.n


def _check_permit_people(gw, body):
    # R-HOT-2, R-HOT-3: a permit names people this gateway knows, or the door could
    # never tell whether the named worker or fire-watcher is on site.
    rs = gw.zone.roster
    for p in body["workers"]:
        if rs.find_person(p) < 0:
            raise ProtocolError(
                E_REFUSED,
                "permit refused: worker %d is not in this gateway's roster (R-HOT-3)" % p,
                "workers",
            )
    w = body["fire_watcher"]
    if w and rs.find_person(w) < 0:
        raise ProtocolError(
            E_REFUSED,
            "permit refused: fire-watcher %d is not in this gateway's roster (R-HOT-2)" % w,
            "fire_watcher",
        )


def permit_issue(gw, body):
    _check_permit_people(gw, body)
    result = gw.il.issue_permit(
        body["permit_id"],
        gw.cfg["zone_id"],
        body["job_id"],
        body["measure_ref"],
        body["start_s"],
        body["end_s"],
        body["fire_watcher"],
        body["workers"],
        body["flags"],
        gw._now_s,
    )
    gw._refused(result, "permit")
    gw._dirty = True
    return None


def permit_revoke(gw, body):
    pid = body["permit_id"]
    gw._refused(gw.il.revoke_permit(pid, gw._now_ms), "revoke of permit %d" % pid)
    gw._dirty = True
    return None


def permit_list(gw, body):
    start = body.get("start", 0)
    permits = gw.il.permit_listing()
    page = permits[start : start + messages.PERMITS_MAX]
    return {"total": len(permits), "permits": page}


def cap_override(gw, body):
    job = gw._job
    if job is not None and job[1] == messages.CONFIG_SET:
        # The settings being changed set the legal cap a temporary one must stay within
        # (gateway/reconfigure.py checks it before they are stored).
        raise ProtocolError(
            E_REFUSED, "a config-set is in progress: send again once it has answered", "cap"
        )
    zone = gw.zone
    cap = body["cap"]
    try:
        zone.check_override(cap, body["expiry_s"], gw._now_s)
    except ValueError as e:
        raise ProtocolError(E_REFUSED, str(e), "cap")
    count = zone.count
    if cap < count and body.get("below_count") is not True:
        # R-CAP-9, R-CAP-11: a cap below those already inside puts the zone over its
        # cap at once; dispatch must say it means that. The refusal is evidence too.
        gw.emit(ev.CAP_OVERRIDE_REFUSED, 0, cap, count)
        raise ProtocolError(
            E_REFUSED,
            "cap-override refused: temporary cap %d is below the %d people in the zone; "
            "set below_count to order it anyway (R-CAP-11)" % (cap, count),
            "below_count",
        )
    zone.set_override(cap, body["expiry_s"], gw._now_s)
    gw._dirty = True
    return None


def cap_override_clear(gw, body):
    # R-CAP-9: rectification done early; the configured cap returns at once.
    if not gw.zone.clear_override():
        gw._refused(reasons.REFUSE_NO_OVERRIDE, "cap-override-clear")
    gw._dirty = True
    return None


def time_set(gw, body):
    old = unix_of(gw.read_clock())
    new = body["time_s"]
    if not clock_known(new):
        # The firmware keeps time in clock seconds (gateway/caps.py): a time it cannot
        # hold is refused, and the clock stays as it is.
        raise ProtocolError(
            E_BAD_FIELD,
            "time-set: time_s %r is outside %d..%d (2020-01-01..2054-01-09 UTC)"
            % (new, EPOCH_S + 1, UNIX_MAX_S),
            "time_s",
        )
    moved = _clamp_i32(new - old)
    back = moved < -CLOCK_BACK_TOLERANCE_S
    if back and body.get("backwards") is not True:
        # R-DATA-2: the record's times must not run backwards unnoticed. Logged at the
        # clock as it stands, with the time asked for: both times are on record.
        gw.emit(ev.TIME_BACK_REFUSED, new, moved, 0)
        raise ProtocolError(
            E_REFUSED,
            "time-set refused: it would move the clock back %d s; more than %d s back "
            "needs the backwards flag" % (-moved, CLOCK_BACK_TOLERANCE_S),
            "backwards",
        )
    gw.board.set_rtc_s(new)
    gw._now_s = clock_of(new)
    # Logged at the new time, with the old one in tag: every clock change has both.
    gw.emit(ev.TIME_SET, old if 0 <= old <= 0xFFFFFFFF else 0, moved, 1 if back else 0)
    return None


def _clamp_i32(v):
    if v > _I32_MAX:
        return _I32_MAX
    if v < -_I32_MAX:
        return -_I32_MAX
    return v


def recount(gw, body):
    # R-CAP-11: a physical count (muster) of the zone, ordered by whoever may order people
    # out (R-EVAC-1, as the all-clear), with a certificate valid now, and counted by
    # someone in the roster with one (R-ID-4). It clears an excess the zone has said (people
    # counted without a ledger row and no tag kept: an exit by a tag it does not know is
    # kept in, DOUBTFUL_CROSSING b=256), or adds people found uncounted. Never below the
    # people the zone knows by row or remembered tag, never onto a count that has moved
    # since the muster, never while the ledger is in doubt: refused, nothing changed.
    by = body.get("by", 0)
    gw._order_giver(by, "recount")
    zone = gw.zone
    found = body["found"]
    counter = body["counted_by"]
    gw.emit(ev.RECOUNT_ORDERED, counter, by, found)  # evidence, accepted or refused
    from gateway import certified  # R-ID-4

    if by:
        certified.check(gw, by, "recount", "by")
    certified.check(gw, counter, "recount", "counted_by")
    before = zone.count
    if body["was"] != before:
        raise ProtocolError(
            E_REFUSED,
            "recount refused: the zone counts %d, not the %d the count was taken against: "
            "people crossed since; count again" % (before, body["was"]),
            "was",
        )
    if found == before:
        raise ProtocolError(
            E_REFUSED,
            "recount refused: the zone counts %d already; nothing changed" % found,
            "found",
        )
    if found < before:
        if gw.system & SYS_STATE_LOST:
            # The ledger may be short of people since the lost snapshot: only up.
            raise ProtocolError(
                E_REFUSED,
                "recount refused: the zone's state is unconfirmed since a lost snapshot; "
                "a recount may only raise the count until the all-clear",
                "found",
            )
        least = zone.ledger.n + zone.unnamed_n
        if found < least:
            raise ProtocolError(
                E_REFUSED,
                "recount refused: %d found, but %d are in by name or remembered tag; "
                "the count never goes below them (R-CAP-11)" % (found, least),
                "found",
            )
    lost = gw.lost_events
    gw.emit(ev.RECOUNT, counter, before, found)
    if gw.lost_events != lost:
        # Not on flash (the log full: emit logged LOG_FULL instead, so its seq moved all
        # the same): changed now, a power cut would take it back. Nothing changes.
        raise ProtocolError(E_FULL, "recount not logged (event log full); nothing changed", None)
    from gateway import recount as recounting

    recounting.apply(zone, before, found)
    store.unload("recount")
    gw._dirty = True
    return {"before": before, "after": zone.count}
