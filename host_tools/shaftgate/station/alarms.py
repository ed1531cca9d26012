"""Mine-wide alarms: what no single gateway can see, plus every alarm a gateway logs.

Raised and cleared inside the transaction that stores the events or the check that
caused them, so the alarm, the events and what is owed to MQTT commit together.

    link_lost:GW        silent longer than link_lost_s (R-DATA-1); cleared when it answers
    chain:GW            its event log does not verify or has a gap (R-DATA-2); latched
    headcount           the faces hold more people than the shaft let in, beyond the
                        transit allowance; cleared when back within it
    outside_mine:TAG    a tag entered a face while the shaft has it out of the mine
                        (R-DATA-4); latched
    two_places:TAG      a tag entered a face while still inside another (a cloned or
                        swapped tag); latched
    clock_drift:GW      its clock is off by more than clock_drift_s; cleared when back
    event:GW:KIND...    the gateway's own alarms (over cap, gas, video, fire watch, log
                        tampered, ...): paired ones clear on their end event, one-shot
                        ones are latched

Latched alarms stay until an operator with the "orders" authority acknowledges them
through serve (`shaftgate alarm ack`), which is recorded as an order.
"""

import statistics
import time

from gateway import events as ev
from gateway.doorway import DECIDED_KEPT_IN, DOUBT_UNNAMED
from shaftgate.link.client import event_kind_name

# kind -> (alarm family, how to key it from the event, kinds that clear it)
_PAIRED = {
    ev.CAP_OVER: ("over_cap", lambda e: "", (ev.CAP_OK, ev.CAP_WARNING, ev.CAP_FULL)),
    ev.VIDEO_LOST: ("video_lost", lambda e: "", (ev.VIDEO_OK,)),
    ev.GAS_OVER: ("gas", lambda e: ":%d" % (e["tag"] & 127), (ev.GAS_OVER_END,)),
    ev.GAS_FAULT: ("gas_fault", lambda e: "", (ev.GAS_FAULT_END,)),
    ev.FIRE_WATCH_LEFT: (
        "fire_watch_left",
        lambda e: ":%d" % e["a"],
        (ev.FIRE_WATCH_BACK, ev.FIRE_WATCH_END),
    ),
    ev.EVAC_START: ("evacuation", lambda e: "", (ev.EVAC_END,)),
    ev.PARALLEL_CREWS: ("parallel_crews", lambda e: "", (ev.PARALLEL_CREWS_CLEARED,)),
    ev.SYSTEM_ALARM: ("system", lambda e: "", (ev.STATE_CONFIRMED,)),
    # Issue 10: a doorway past its tracks counts people in only, and says so until it ends.
    ev.DOORWAY_OVERFLOW: ("doorway_overflow", lambda e: "", (ev.DOORWAY_OVERFLOW_END,)),
}
_CLEARS = {}
for _kind, (_family, _sub, _enders) in _PAIRED.items():
    for _end in _enders:
        _CLEARS.setdefault(_end, []).append((_family, _kind))
# The clearing event names the same thing as the raising one by these fields.
_CLEAR_SUB = {
    ev.GAS_OVER_END: lambda e: ":%d" % (e["tag"] & 127),
    ev.FIRE_WATCH_BACK: lambda e: ":%d" % e["a"],
    ev.FIRE_WATCH_END: lambda e: ":%d" % e["a"],
}
# People where the rules say they must not be: each one is evidence (report.py too).
PEOPLE_VIOLATIONS = (
    ev.OVER_CAP_ENTRY,
    ev.SEALED_ENTRY,
    ev.RESTRICTED_ENTRY,
    ev.UNAUTHORISED_ENTRY,
    ev.UNKNOWN_TAG_ENTRY,
    ev.UNCERTIFIED_ENTRY,
    ev.EVACUATION_ENTRY,
    ev.UNTAGGED_ENTRY,
    ev.OVERSTAY,
)
LATCHED_KINDS = frozenset(
    (
        *PEOPLE_VIOLATIONS,
        ev.READ_POINT_UNKNOWN,
        ev.READER_DATA_LOST,  # R-DATA-1: someone may have crossed uncounted
        ev.LOG_TAMPERED,
        ev.LOG_RECORD_DAMAGED,
        ev.LOG_FULL,
        ev.AUTH_REJECTED,
        ev.INTERNAL_ERROR,
        ev.FAULT,
        ev.RECOUNT,  # R-CAP-11, R-DATA-2: a count changed by order, not by a crossing
    )
)
# Kinds by which a tag crosses into a zone (counted or not, it is there).
ENTRY_KINDS = frozenset(
    (
        ev.ENTRY,
        ev.OVER_CAP_ENTRY,
        ev.SEALED_ENTRY,
        ev.RESTRICTED_ENTRY,
        ev.UNAUTHORISED_ENTRY,
        ev.UNCERTIFIED_ENTRY,
        ev.EVACUATION_ENTRY,
        ev.MISSED_EXIT,
        ev.LEDGER_FULL,
    )
)
EXIT_KINDS = frozenset((ev.EXIT, ev.MISSED_ENTRY))


def kept_in_unnamed(e):
    """An exit the gateway did not accept: a tag it neither names nor remembers went out
    while some it counts have no tag kept (DOUBTFUL_CROSSING a=2, b=256; R-CAP-11)."""
    return (
        e["kind"] == ev.DOUBTFUL_CROSSING and e["a"] == DECIDED_KEPT_IN and e["b"] & DOUBT_UNNAMED
    )


def recounted_out(doubted, e):
    """The tags a RECOUNT (a=count before, b=after) takes out of the zone, oldest kept-in
    exit first, removed from doubted ({tag: time_s of its kept-in exit}): a recount that
    lowers the count clears what the gateway said it could not un-count, and those are the
    tags read leaving. None when it raised the count, or none was read leaving."""
    n = e["a"] - e["b"]
    if n <= 0 or not doubted:
        return []
    out = sorted(doubted, key=lambda tag: (doubted[tag], tag))[:n]
    for tag in out:
        del doubted[tag]
    return out


# Alarm kinds about a condition that ends by itself (cleared when it does); every other
# kind is latched: it stays until an operator acknowledges it.
CONDITION_KINDS = frozenset(
    [family for family, _sub, _enders in _PAIRED.values()]
    + ["link_lost", "headcount", "clock_drift", "feed_late"]
)


# Every event kind on which serve raises an alarm: the one list the live view colours
# its event lines by (sim/view.py), so the screen and the alarms cannot disagree.
ALARM_EVENT_KINDS = frozenset(_PAIRED) | LATCHED_KINDS
# The alarms only serve raises, across gateways (none comes from one gateway's event).
MINE_KINDS = frozenset(
    ("headcount", "outside_mine", "two_places", "clock_drift", "chain", "feed_late")
)


def is_latched(alarm):
    return alarm["kind"] not in CONDITION_KINDS


class Alarms:
    """The alarm state of one serve. raise_/clear take the open transaction's connection;
    every change goes to `changed(conn, change)` too (the MQTT outbox)."""

    def __init__(self, store, site, changed=None):
        self.store = store
        self.site = site
        self.changed = changed
        self.active = {a["key"]: a for a in store.active_alarms()}
        self.shaft = next((g for g in site.gateways if g.is_shaft), None)
        self.in_mine = {}  # tag -> time_s of its last entry at the shaft
        self.out_at = {}  # tag -> time_s of its last exit at the shaft
        self.at_face = {}  # tag -> (gateway id, time_s) of the face it is inside
        self.pending = []  # (time_s, gateway id, event): face entries awaiting the shaft
        # gateway id -> {tag: time_s}: tags read leaving but kept in (kept_in_unnamed)
        # since their last entry there, for a recount to take out (R-CAP-11).
        self.doubted = {}
        self.shaft_synced_s = None  # the shaft's record is complete up to this gateway time

    # ---- raising and clearing ----

    def raise_(self, conn, key, kind, gateway_id, text, detail=None, now_s=None):
        if key in self.active:
            return None
        now_s = now_s if now_s is not None else time.time()
        zone = self._zone(gateway_id)
        alarm_id = self.store.insert_alarm(
            conn, key, kind, gateway_id, zone, text, detail or {}, now_s
        )
        alarm = {
            "id": alarm_id,
            "key": key,
            "kind": kind,
            "gateway_id": gateway_id,
            "zone": zone,
            "raised_s": now_s,
            "text": text,
            "detail": detail or {},
            "cleared_s": None,
            "cleared_by": None,
            "acked_s": None,
            "acked_by": None,
            "ack_note": None,
        }
        self.active[key] = alarm
        if self.changed is not None:
            self.changed(conn, dict(alarm, state="raised"))
        return alarm

    def clear(self, conn, key, by="serve", now_s=None):
        alarm = self.active.pop(key, None)
        if alarm is None:
            return None
        now_s = now_s if now_s is not None else time.time()
        self.store.clear_alarm(conn, key, now_s, by)
        if self.changed is not None:
            self.changed(conn, dict(alarm, state="cleared", cleared_s=now_s, cleared_by=by))
        return alarm

    def acknowledge(self, conn, key, by, note, now_s=None):
        """An operator has seen the alarm and says what they did (stored with who and
        when; the bell stops). A latched alarm is then cleared: nothing else would. An
        alarm about a condition (gas over, link lost, over the cap) stays open until the
        condition ends: acknowledging a gas alarm does not make the gas safe."""
        alarm = self.active.get(key)
        if alarm is None:
            return None
        now_s = now_s if now_s is not None else time.time()
        self.store.ack_alarm(conn, key, now_s, by, note)
        alarm.update(acked_s=now_s, acked_by=by, ack_note=note)
        if is_latched(alarm):
            self.clear(conn, key, "%s: %s" % (by, note), now_s)
        return alarm

    def _zone(self, gateway_id):
        g = self.site.gateway(gateway_id) if gateway_id else None
        return g.zone if g else None

    # ---- from the gateways' events ----

    def on_events(self, conn, gateway_id, events):
        gw = self.site.gateway(gateway_id)
        for e in events:
            kind = e["kind"]
            name = event_kind_name(kind)
            if kind in _PAIRED:
                family, sub, _ = _PAIRED[kind]
                key = "event:%s:%s%s" % (gateway_id, family, sub(e))
                self.raise_(
                    conn, key, family, gateway_id, _event_text(gateway_id, e), _event_detail(e)
                )
            if kind in _CLEARS:
                for family, _raiser in _CLEARS[kind]:
                    sub = _CLEAR_SUB.get(kind, lambda e: "")(e)
                    self.clear(conn, "event:%s:%s%s" % (gateway_id, family, sub), name)
            if kind in LATCHED_KINDS:
                key = "event:%s:%s:%d" % (gateway_id, name.lower(), e["seq"])
                self.raise_(
                    conn,
                    key,
                    name.lower(),
                    gateway_id,
                    _event_text(gateway_id, e),
                    _event_detail(e),
                )
            if gw is None:
                continue
            if kind == ev.RECOUNT:
                self._recounted(gw, e)
                continue
            if not e["tag"]:
                continue
            if kept_in_unnamed(e):
                self.doubted.setdefault(gw.id, {})[e["tag"]] = e["time_s"]
            elif kind in ENTRY_KINDS:
                self.doubted.get(gw.id, {}).pop(e["tag"], None)
            if gw.is_shaft:
                if kind in ENTRY_KINDS:
                    self.in_mine[e["tag"]] = e["time_s"]
                elif kind in EXIT_KINDS:
                    self.out_at[e["tag"]] = e["time_s"]
                    self.in_mine.pop(e["tag"], None)
            else:
                self._face_event(conn, gw, e)

    def _face_event(self, conn, gw, e):
        tag = e["tag"]
        if e["kind"] in ENTRY_KINDS:
            other = self.at_face.get(tag)
            if other is not None and other[0] != gw.id:
                self.raise_(
                    conn,
                    "two_places:%d" % tag,
                    "two_places",
                    gw.id,
                    "tag %d entered %s (%s) while still inside %s: a cloned or swapped tag? "
                    "标签 %d 同时出现在两个区域" % (tag, gw.zone, gw.id, other[0], tag),
                    {"tag": tag, "gateways": [other[0], gw.id], "seq": e["seq"]},
                )
            self.at_face[tag] = (gw.id, e["time_s"])
            if self.shaft is not None:
                self.pending.append((e["time_s"], gw.id, e))
        elif e["kind"] in EXIT_KINDS and self.at_face.get(tag, (None,))[0] == gw.id:
            del self.at_face[tag]

    def _recounted(self, gw, e):
        # The mine-wide view follows the gateway's recount: the tags it had kept in after
        # they were read leaving are out now (a face's R-DATA-4 checks judge by this).
        for tag in recounted_out(self.doubted.get(gw.id, {}), e):
            if gw.is_shaft:
                if self.in_mine.pop(tag, None) is not None:
                    self.out_at[tag] = e["time_s"]
            elif self.at_face.get(tag, (None,))[0] == gw.id:
                del self.at_face[tag]

    def shaft_synced(self, conn, gateway_time_s):
        # The shaft's events are stored up to this (its clock): face entries before it
        # can now be judged against where the shaft has each tag (R-DATA-4).
        self.shaft_synced_s = gateway_time_s
        slack = self.site.clock_drift_s
        keep = []
        for t, gid, e in self.pending:
            if t > gateway_time_s:
                keep.append((t, gid, e))
                continue
            tag = e["tag"]
            entered = self.in_mine.get(tag)
            if entered is not None and entered <= t + slack:
                continue
            out = self.out_at.get(tag)
            if entered is None and out is not None and out + slack >= t:
                continue  # left the shaft after this face entry: it was in the mine then
            g = self.site.gateway(gid)
            self.raise_(
                conn,
                "outside_mine:%d" % tag,
                "outside_mine",
                gid,
                "tag %d entered %s (%s) but the shaft has it out of the mine (R-DATA-4) "
                "标签 %d 未经井口进入工作面" % (tag, g.zone if g else gid, gid, tag),
                {"tag": tag, "seq": e["seq"], "time_s": t},
            )
        self.pending = keep

    def restore(self, tracked):
        # At serve's start, before any link runs: what a serve that never stopped would
        # track, replayed from the record (station/history.py tracked). Without it a restart
        # forgot the tags a gateway had kept in after they were read leaving, so a later
        # recount took nobody out (R-CAP-11), and every tag counted without a ledger row,
        # which the gateways' occupants (seed_occupants) cannot name.
        latest = {}
        for gid, (inside, doubted, left) in tracked.items():
            gw = self.site.gateway(gid)
            if gw is None:
                continue
            if doubted:
                self.doubted[gid] = dict(doubted)
            if gw.is_shaft:
                self.in_mine.update(inside)
                self.out_at.update(left)
                continue
            for tag, t in inside.items():
                if tag not in latest or latest[tag][1] <= t:
                    latest[tag] = (gid, t)  # inside two faces: the later entry, as live
        self.at_face.update(latest)

    def seed_occupants(self, gateway_id, occupants):
        # Who a gateway holds inside when serve connects: the starting point of tracking.
        gw = self.site.gateway(gateway_id)
        if gw is None:
            return
        for o in occupants:
            if gw.is_shaft:
                self.in_mine.setdefault(o["tag_id"], o["since_s"])
            else:
                self.at_face.setdefault(o["tag_id"], (gateway_id, o["since_s"]))

    # ---- periodic: links, headcount, clocks ----

    def check(self, conn, links, now_mono):
        # links: {gateway id: LinkState}; now_mono: time.monotonic()
        for gid, link in links.items():
            key = "link_lost:%s" % gid
            silent = now_mono - link.last_answer
            if silent > self.site.link_lost_s:
                self.raise_(
                    conn,
                    key,
                    "link_lost",
                    gid,
                    "no answer from %s (%s) for %.0f s (R-DATA-1): %s  网关 %s 通信中断"
                    % (gid, self._zone(gid), silent, link.error or "silent", gid),
                    {"silent_s": round(silent, 1), "error": link.error},
                )
            elif key in self.active:
                self.clear(conn, key, "answered")
        self._headcount(conn, links)
        self._clocks(conn, links)

    def _headcount(self, conn, links):
        shaft_gw = self.shaft
        shaft = links.get(shaft_gw.id) if shaft_gw is not None else None
        if shaft_gw is None or shaft is None or shaft.status is None or not shaft.answering:
            return  # no count to judge by: link_lost says so
        faces = {
            gid: link.status["occupants"]
            for gid, link in links.items()
            if gid != shaft_gw.id and link.status is not None and link.answering
        }
        underground = shaft.status["occupants"]
        total = sum(faces.values())
        excess = total - underground
        if excess > self.site.transit_allowance:
            self.raise_(
                conn,
                "headcount",
                "headcount",
                shaft_gw.id,
                "the faces hold %d people but the shaft counts %d underground: %d more than the "
                "transit allowance of %d  工作面人数 %d 超过井口下井人数 %d"
                % (
                    total,
                    underground,
                    excess - self.site.transit_allowance,
                    self.site.transit_allowance,
                    total,
                    underground,
                ),
                {"faces": faces, "underground": underground},
            )
        elif "headcount" in self.active:
            self.clear(conn, "headcount", "counts agree")

    def _clocks(self, conn, links):
        offsets = {
            gid: link.clock_offset_s
            for gid, link in links.items()
            if link.clock_offset_s is not None and link.answering
        }
        if not offsets:
            return
        reference = 0.0
        if self.site.clock_reference == "gateways":
            reference = statistics.median(offsets.values())
        for gid, offset in offsets.items():
            drift = offset - reference
            key = "clock_drift:%s" % gid
            if abs(drift) > self.site.clock_drift_s:
                self.raise_(
                    conn,
                    key,
                    "clock_drift",
                    gid,
                    "%s's clock is %+.0f s off the %s clock (limit %g s): event times from it "
                    "are wrong  网关 %s 时钟偏差 %+.0f 秒"
                    % (gid, drift, self.site.clock_reference, self.site.clock_drift_s, gid, drift),
                    {"drift_s": round(drift, 1), "reference": self.site.clock_reference},
                )
            elif key in self.active:
                self.clear(conn, key, "clock back")


def _event_text(gateway_id, e):
    return "%s: %s (seq %d, tag %d, a %d, b %d)" % (
        gateway_id,
        event_kind_name(e["kind"]),
        e["seq"],
        e["tag"],
        e["a"],
        e["b"],
    )


def _event_detail(e):
    return {k: e[k] for k in ("seq", "time_s", "kind", "tag", "a", "b")}
