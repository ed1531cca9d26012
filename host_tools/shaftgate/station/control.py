"""serve's local socket: how the CLI and the view reach the gateways while serve runs.

A Unix stream socket (mode 0660, next to the site file unless the site says otherwise),
one JSON document a line each way. Each connection has its own thread, so any number of
dispatchers work at once; an order to several gateways goes to all of their link threads
at the same time and the reply lists, gateway by gateway, what each answered and which
did not answer.

Requests ({"op": ...}):
    status                     every gateway's last status, link state and the alarms
    view {after}               status plus the events recorded since arrival `after`
    events {gateway, last}     the last events held in the record
    alarms {history, kinds, zone, since_s, until_s, state, limit}
                               open alarms; with history, open and past ones, filtered
    orders {last}              the order audit
    roster                     every gateway's roster rows, by tag (names for the desk)
    history-events {since_s, until_s, zone, kinds, person, limit}
    occupants-at {time_s}      who was in each zone and underground then (replayed)
    trace {person, since_s, until_s}
                               one person's route (R-ID-3): station/history.py
    shift-report {start_s, end_s, trend}
                               the shift report's numbers (station/report.py)
    run {command, args, targets, operator, reason}
                               a CLI command on the named gateways (all when targets is
                               null); a signed one is an order: checked against the
                               operator's authority and stored with the reason and result
    alarm-ack {key, operator, reason}
                               acknowledged with who and the note; a latched alarm is
                               then cleared, a condition's stays open until it ends
    accept-gap {gateway, operator, reason}
                               record the events a gateway no longer holds as a gap and
                               go on recording (after checking why: R-DATA-2)
"""

import argparse
import io
import json
import os
import pwd
import socket
import struct
import threading
from concurrent.futures import wait

from shaftgate import refusaltext, roster_csv
from shaftgate.link.client import jsonable
from shaftgate.station import history, report
from shaftgate.station.control_client import ControlError, ServeClient, wait_for  # noqa: F401

MAX_REQUEST = 4 * 1024 * 1024  # a roster CSV of a big mine fits
# Orders about one zone's own figures (a muster's count, R-CAP-11): the same figures sent
# to several gateways would be a wrong order wherever they happened to fit.
ONE_GATEWAY = ("recount",)
ORDER_WAIT_S = 20.0  # per order, beyond its own per-request timeouts


class _Session:
    # What CLI commands expect of a session, on serve's side of the socket.
    def __init__(self, station):
        self.station = station
        self.out = None

    def roster_copy(self, gateway_id):
        return self.station.site.database.parent / "rosters" / ("%s.json" % gateway_id)

    def load_key(self, client):
        pass  # the link's client holds the gateway's key already


class ControlServer:
    def __init__(self, station, path):
        self.station = station
        self.path = os.fspath(path)
        if os.path.exists(self.path):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.path)
            except OSError:
                os.unlink(self.path)  # left by a serve that died: nobody listens
            else:
                probe.close()
                raise OSError("another serve already listens on %s" % self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o660)
        self.sock.listen(64)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._accept, name="serve-socket", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        uid = _peer_uid(conn)
        # Replies go out unbuffered (sendall): a buffered writer would flush again when the
        # connection closes and raise BrokenPipeError there after its client had gone.
        with conn, conn.makefile("rb") as f:
            while True:
                line = f.readline(MAX_REQUEST + 1)
                if not line:
                    return
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ControlError("a request is a JSON object")
                    reply = {"ok": True, "data": self.handle(request, uid)}
                except ControlError as e:
                    reply = {"ok": False, "error": str(e)}
                except ValueError as e:
                    reply = {"ok": False, "error": "not a JSON request: %s" % e}
                data = json.dumps(jsonable(reply), ensure_ascii=False).encode() + b"\n"
                try:
                    conn.sendall(data)
                except OSError:
                    return

    # ---- requests ----

    def handle(self, request, uid=None):
        op = request.get("op")
        st = self.station
        if op == "status":
            return {
                "mine": _mine(st.site),
                "rows": st.rows(),
                "alarms": st.alarms_active(),
                "mqtt": st.mqtt_status(),
            }
        if op == "view":
            fresh, last = st.feed_after(int(request.get("after", 0)))
            return {
                "mine": _mine(st.site),
                "rows": st.rows(),
                "alarms": st.alarms_active(),
                "events": fresh,
                "last": last,
            }
        if op == "events":
            gid = self._gateway(request.get("gateway"))
            last = int(request.get("last", 20))
            after = st.store.position(gid)[0] - last
            return {"gateway_id": gid, "events": st.store.events(gid, max(0, after), last)}
        if op == "alarms":
            if not request.get("history"):
                return {"mine": _mine(st.site), "alarms": st.alarms_active()}
            return {"mine": _mine(st.site), "alarms": self._alarm_history(request)}
        if op in ("history-events", "occupants-at", "trace"):
            return dict(self._history(op, request), mine=_mine(st.site))
        if op == "shift-report":
            return dict(self._shift_report(request), mine=_mine(st.site))
        if op == "roster":
            # Names for the desk's tables: {tag_id: {person_id, name, role, crew}}.
            out = {"mine": _mine(st.site), "roster": st.store.roster_names()}
            if request.get("gateway") is not None or request.get("rows"):
                # every row, gateway by gateway: `shaftgate roster show`
                where = "" if request.get("gateway") is None else " WHERE gateway_id=?"
                args = () if not where else (self._gateway(request["gateway"]),)
                keys = ("gateway_id", "tag_id", "person_id", "name", "role", "crew")
                out["rows"] = [
                    dict(zip(keys, r, strict=True))
                    for r in st.store.read(
                        "SELECT %s FROM roster%s ORDER BY gateway_id, person_id"
                        % (", ".join(keys), where),
                        args,
                    )
                ]
            return out
        if op == "orders":
            return {"orders": st.store.orders(int(request.get("last", 50))), "mine": _mine(st.site)}
        if op == "run":
            return self._run(request, uid)
        if op == "alarm-ack":
            return self._alarm_ack(request, uid)
        if op == "accept-gap":
            return self._accept_gap(request, uid)
        raise ControlError("unknown request %r" % (op,))

    def _history(self, op, request):
        st = self.station

        def when(name, required=False):
            v = request.get(name)
            if v is None and not required:
                return None
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ControlError("%s: a time in Unix seconds, got %r" % (name, v))
            return int(v)

        if op == "occupants-at":
            return history.occupants_at(st.store, st.site, when("time_s", True))
        person = request.get("person")
        people = None
        if person is not None:
            if not isinstance(person, str) or not person.strip():
                raise ControlError("person: a name, person id or tag id")
            people = history.find_person(st.store, person)
            if not people:
                raise ControlError(
                    "no one in the roster is %r (a name, person id or tag id)" % person
                )
            if len({p["person_id"] for p in people}) > 1:
                raise ControlError(
                    "%r matches several people: %s"
                    % (person, ", ".join("%s (%d)" % (p["name"], p["person_id"]) for p in people))
                )
        if op == "trace":
            if people is None:
                raise ControlError("trace: which person?")
            since_s, until_s = when("since_s", True), when("until_s", True)
            if since_s is None or until_s is None or since_s >= until_s:
                raise ControlError("the range must end after it starts")
            out = history.trace(st.store, st.site, [p["tag_id"] for p in people], since_s, until_s)
            out["person"] = people[0]
            return out
        gateways = None
        zone = request.get("zone")
        if zone is not None:
            gateways = [g.id for g in st.site.gateways if zone in (g.id, g.zone)]
            if not gateways:
                raise ControlError("zone %r: no gateway of the site has that id or zone" % (zone,))
        kinds = request.get("kinds")
        if kinds is not None and not (
            isinstance(kinds, list) and all(type(k) is int for k in kinds)
        ):
            raise ControlError("kinds: a list of event kind codes")
        limit = request.get("limit", 1000)
        if type(limit) is not int or not 1 <= limit <= history.MAX_ROWS:
            raise ControlError("limit: 1..%d" % history.MAX_ROWS)
        rows = history.events(
            st.store,
            since_s=when("since_s"),
            until_s=when("until_s"),
            gateways=gateways,
            kinds=kinds,
            tags=[p["tag_id"] for p in people] if people else None,
            persons=[p["person_id"] for p in people] if people else (),
            limit=limit,
        )
        return {"events": rows, "person": people[0] if people else None}

    def _shift_report(self, request):
        st = self.station

        def when(v, name):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ControlError("%s: a time in Unix seconds, got %r" % (name, v))
            return int(v)

        start_s = when(request.get("start_s"), "start_s")
        end_s = when(request.get("end_s"), "end_s")
        if end_s <= start_s or end_s - start_s > 86400:
            raise ControlError("a shift ends after it starts, within a day")
        shifts = []
        for item in request.get("trend") or []:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)):
                raise ControlError("trend: [[label, start_s, end_s], ...]")
            shifts.append((item[0], when(item[1], "trend"), when(item[2], "trend")))
        if len(shifts) > 93:
            raise ControlError("trend: at most 93 shifts")
        return {
            "report": report.shift_report(st.store, st.site, start_s, end_s),
            "trend": report.trend(st.store, st.site, shifts) if shifts else None,
        }

    def _alarm_history(self, request):
        def number(name):
            v = request.get(name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise ControlError("%s: a time in Unix seconds, got %r" % (name, v))
            return v

        state = request.get("state")
        if state not in (None, "open", "unacked", "acked", "cleared"):
            raise ControlError("state: open, unacked, acked or cleared, got %r" % (state,))
        kinds = request.get("kinds")
        if kinds is not None and not (
            isinstance(kinds, list) and all(isinstance(k, str) for k in kinds)
        ):
            raise ControlError("kinds: a list of alarm kinds")
        limit = request.get("limit", 500)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100000:
            raise ControlError("limit: 1..100000")
        return self.station.store.alarm_history(
            kinds=kinds,
            zone=request.get("zone"),
            since_s=number("since_s"),
            until_s=number("until_s"),
            state=state,
            limit=limit,
        )

    def _gateway(self, gid):
        if gid not in self.station.links:
            raise ControlError(
                "gateway %r is not in the site file %s" % (gid, self.station.site.path)
            )
        return gid

    def _operator(self, request, uid, order):
        site = self.station.site
        oid = request.get("operator")
        op = site.operators.get(oid)
        if op is None:
            raise ControlError(
                "%s: operator %r is not in the site file %s (give --operator ID) "
                "操作员未登记" % (order, oid, site.path)
            )
        if op.user is not None and uid is not None:
            try:
                user = pwd.getpwuid(uid).pw_name
            except KeyError:
                user = str(uid)
            if user != op.user:
                raise ControlError(
                    "%s: operator %s is account %s, but this request comes from %s"
                    % (order, oid, op.user, user)
                )
        if order not in op.authority:
            raise ControlError(
                "%s: operator %s (%s) has no authority for it; the site file gives them: %s "
                "操作员无此权限" % (order, oid, op.name, ", ".join(sorted(op.authority)) or "none")
            )
        reason = (request.get("reason") or "").strip()
        if not reason:
            raise ControlError("%s: an order through serve needs a reason (--why TEXT)" % order)
        return op, reason

    def _targets(self, request):
        targets = request.get("targets")
        if targets is None:
            return list(self.station.links)
        if not isinstance(targets, list) or not targets:
            raise ControlError("targets: a list of gateway ids, or null for every gateway")
        return [self._gateway(t) for t in targets]

    def _run(self, request, uid):
        from shaftgate import cli

        name = request.get("command")
        command = cli.COMMANDS.get(name)
        if command is None or command.kind == "local":
            raise ControlError("%r is not a gateway command" % (name,))
        if name == "events":
            # serve alone reads and acknowledges the logs: its record answers instead.
            raise ControlError("events through serve: use the events request (serve's record)")
        targets = self._targets(request)
        if name in ONE_GATEWAY and len(targets) != 1:
            raise ControlError(
                "%s: a muster counts one zone; name exactly one gateway; nothing was sent" % name
            )
        # The command's own defaults first: a client need not send an option it leaves out.
        args = argparse.Namespace(**cli.command_defaults(name))
        for k, v in (request.get("args") or {}).items():
            setattr(args, k, v)
        args.timeout = float(getattr(args, "timeout", 2.0))
        if name == "roster load":
            try:
                args.roster_entries = roster_csv.parse_roster(
                    io.StringIO(args.roster_csv, newline=""), getattr(args, "file", "<roster>")
                )
            except roster_csv.RosterError as e:
                raise ControlError(str(e)) from e
        elif command.prepare is not None:
            # The checks the CLI makes before sending, made again here for every client
            # (the demo, a script): bad input changes nothing.
            try:
                command.prepare(args, _Session(self.station))
            except (cli.UsageError, ValueError, TypeError) as e:
                raise ControlError("%s: %s" % (name, e)) from e
        order_id = None
        operator = None
        if command.kind == "signed":
            operator, reason = self._operator(request, uid, name)
            shown = {
                k: v for k, v in vars(args).items() if k not in ("roster_csv", "roster_entries")
            }
            order_id = self.station.store.begin_order(
                operator.id, reason, name, jsonable(shown), targets
            )
        results = self._fan_out(command, name, args, targets)
        if order_id is not None:
            self.station.store.finish_order(order_id, results)
        return {"order_id": order_id, "command": name, "results": results}

    def _fan_out(self, command, name, args, targets):
        st = self.station
        session = _Session(st)
        futures = {}
        results = {}
        for gid in targets:
            link = st.links[gid]
            if name == "status":
                s = link.state
                if s.status is not None and s.answering:
                    data = {"gateway_id": gid, "gateway": s.identity, "status": s.status}
                    results[gid] = {"gateway_id": gid, "zone": link.gateway.zone, "result": data}
                else:
                    results[gid] = _failed(
                        gid,
                        link,
                        {"type": "NoAnswer", "message": s.error}
                        if s.error
                        else refusaltext.serve_error("NoAnswer", "err_no_answer_yet"),
                    )
                continue
            if name == "roster load":
                entries = args.roster_entries

                def load(client, link=link, entries=entries):
                    data = command.run(client, args, session)
                    st.store.save_roster(link.gateway.id, [e.to_json() for e in entries])
                    return data

                futures[gid] = link.submit(load)
            else:
                futures[gid] = link.submit(lambda client: command.run(client, args, session))
        if futures:
            wait(futures.values(), timeout=ORDER_WAIT_S + 8 * args.timeout)
        for gid, future in futures.items():
            link = st.links[gid]
            if not future.done():
                results[gid] = _failed(
                    gid, link, refusaltext.serve_error("NoAnswer", "err_order_time")
                )
                continue
            e = future.exception()
            if e is None:
                results[gid] = {
                    "gateway_id": gid,
                    "zone": link.gateway.zone,
                    "result": future.result(),
                }
            else:
                results[gid] = _failed(gid, link, refusaltext.error_record(e))
        return [results[g] for g in targets]

    def _alarm_ack(self, request, uid):
        operator, reason = self._operator(request, uid, "alarm ack")
        key = request.get("key")
        st = self.station
        with st.store.lock:
            alarm = st.alarms.active.get(key)
        if alarm is None:
            raise ControlError("no open alarm %r (shaftgate alarms lists them)" % (key,))
        order_id = st.store.begin_order(
            operator.id, reason, "alarm ack", {"key": key}, [alarm["gateway_id"]]
        )
        with st.store.transaction() as conn:
            acked = st.alarms.acknowledge(conn, key, operator.id, reason)
        cleared = acked is not None and key not in st.alarms.active
        st.store.finish_order(
            order_id, [{"alarm": key, "result": "cleared" if cleared else "acknowledged"}]
        )
        return {
            "order_id": order_id,
            "key": key,
            "acked_by": operator.id,
            "operator_name": operator.name,
            "cleared": key if cleared else None,
        }

    def _accept_gap(self, request, uid):
        operator, reason = self._operator(request, uid, "accept gap")
        gid = self._gateway(request.get("gateway"))
        st = self.station
        link = st.links[gid]
        order_id = st.store.begin_order(operator.id, reason, "accept gap", {}, [gid])
        future = link.submit(link.accept_gap)
        wait([future], timeout=ORDER_WAIT_S)
        if not future.done():
            result = _failed(gid, link, refusaltext.serve_error("NoAnswer", "err_order_time_short"))
        elif future.exception() is not None:
            e = future.exception()
            result = _failed(gid, link, refusaltext.error_record(e))
        else:
            result = {"gateway_id": gid, "zone": link.gateway.zone, "result": future.result()}
            with st.store.transaction() as conn:
                st.alarms.clear(conn, "chain:%s" % gid, "operator %s: %s" % (operator.id, reason))
        st.store.finish_order(order_id, [result])
        return {"order_id": order_id, "command": "accept gap", "results": [result]}


def _failed(gid, link, error):
    # error: {"type", "message"} and, when known, the parts that render it in another
    # language (refusaltext.error_record, serve_error): the audit is read in either.
    return {"gateway_id": gid, "zone": link.gateway.zone, "error": error}


def _mine(site):
    return {"id": site.mine_id, "name": site.mine_name, "time_zone": site.time_zone}


def _peer_uid(conn):
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    except OSError:
        return None
