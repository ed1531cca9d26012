"""The live dispatch view: a row per gateway (zone, kind, people against the cap, lamp,
work and hot-work relays, gas, video, evacuation) and the latest events, newest first,
with people's names from the roster this host loaded.

It is fed only through gatewire, by one GatewayClient per gateway: status polled, events
pushed by the gateway and caught up into this host's record (events/<id>.jsonl, then
acknowledged), so the screen shows what a dispatcher at the surface would see and
nothing a simulator knows. A gateway that stops answering is shown as such at once
(R-DATA-1), and a log that does not verify is shown, not skipped (R-DATA-2).

Two ways to show it: LiveScreen redraws a terminal in place with ANSI sequences;
plain_frame() gives text frames for logs, CI and pipes.
"""

import contextlib
import datetime
import itertools
import shutil
import sys
import textwrap
import threading
import time

from gateway import events as ev
from gatewire.errors import ProtocolError
from shaftgate import eventtext, render, roster_csv
from shaftgate.link.client import (
    DEFAULT_TIMEOUT_S,
    EventLogError,
    GatewayClient,
    JsonlEventStore,
    WrongGateway,
    event_kind_name,
    is_own_ack,
)
from shaftgate.link.transport import LinkError, SerialTransport
from shaftgate.station.alarms import ALARM_EVENT_KINDS, MINE_KINDS

LAMP_WORDS = ("OFF", "GREEN", "AMBER", "RED")
KIND_WORDS = {
    "shaft": "shaft",
    "coal_face": "coal face",
    "fm_heading": "FM heading",
    "db_heading": "D&B heading",
    "repair": "repair point",
}
POLL_S = 0.25  # status at least this often; pushed events wake the poller sooner
MIN_POLL_S = 0.1  # and no more often than this, however busy the gateway
RETRY_S = 1.0  # after a failed poll
KEEP_EVENTS = 2000
BAR_CELLS = 12

# Severity of an event for the eye: styles below. Kinds not named are plain. Red is every
# kind serve raises an alarm on (station/alarms.py, one list), and two that report on an
# alarm already raised (a higher gas peak, a further evacuation order).
_ALARM_KINDS = ALARM_EVENT_KINDS | frozenset((ev.GAS_PEAK, ev.EVAC_JOIN))
_WARN_KINDS = frozenset(
    (
        ev.ENTRY_REFUSED,
        ev.TIME_BACK_REFUSED,
        ev.CAP_OVERRIDE_REFUSED,
        ev.RECOUNT_ORDERED,  # R-CAP-11: a muster's order (its RECOUNT is an alarm)
        ev.CAP_WARNING,
        ev.CAP_FULL,
        ev.MISSED_ENTRY,
        ev.MISSED_EXIT,
        ev.DOUBTFUL_CROSSING,
        ev.TAG_STATIONARY,
        ev.WORK_OFF,
        ev.HOT_OFF,
        ev.DRILL_START,
        ev.ZONE_CLEAR,
        ev.KEY_WORK_HALTED,
        ev.COMMAND_REFUSED,
    )
)
_GOOD_KINDS = frozenset(
    (
        ev.CAP_OK,
        ev.VIDEO_OK,
        ev.WORK_ON,
        ev.HOT_ON,
        ev.GAS_OVER_END,
        ev.GAS_FAULT_END,
        ev.EVAC_END,
        ev.FIRE_WATCH_BACK,
        ev.FIRE_WATCH_END,
        ev.KEY_WORK_RESUMED,
    )
)

# SGR sequences; each cell is padded first and then wrapped, so widths never see them.
_SGR = {
    "red": "\x1b[1;97;41m",
    "amber": "\x1b[1;30;43m",
    "green": "\x1b[1;30;42m",
    "alarm": "\x1b[1;91m",
    "warn": "\x1b[1;93m",
    "good": "\x1b[92m",
    "dim": "\x1b[2m",
    "head": "\x1b[1m",
}
_RESET = "\x1b[0m"
_LAMP_STYLES = (None, "green", "amber", "red")


class ViewError(Exception):
    """The view cannot be shown as asked (no terminal for the live screen, ...)."""


# ---- one gateway as dispatch holds it ----


class GatewayLink:
    """A gateway's client (its serial port opened exclusively), the lock by which the
    poller and signed commands take turns on it, and what the last poll saw."""

    def __init__(self, gateway_id, port, keystore, event_path, timeout_s=DEFAULT_TIMEOUT_S):
        self.gateway_id = gateway_id
        self.port = port
        self.timeout_s = timeout_s
        self._keystore = keystore
        self.store = JsonlEventStore(event_path)
        self.lock = threading.Lock()
        self.client = None
        self.identity = None
        self.settings = {}
        self.status = None
        self.error = None
        self.error_since = None  # monotonic time of the first failed poll in a row
        self.polled_from = None  # monotonic time the last complete poll began asking

    def open(self, timeout_s=10.0):
        # A board that has just booted may miss the first hello: ask again until timeout_s.
        deadline = time.monotonic() + timeout_s
        transport = SerialTransport(self.port)
        client = GatewayClient(transport, self.gateway_id)
        try:
            while True:
                try:
                    client.hello(max(0.2, min(self.timeout_s, deadline - time.monotonic())))
                    break
                except LinkError:
                    if time.monotonic() >= deadline:
                        raise
            gid = self.gateway_id
            client.use_key(self._keystore.load(gid), self._keystore.counter_store(gid))
            self.settings = client.config_get(["utc_offset_min"], self.timeout_s)
        except BaseException:
            client.close()
            raise
        self.client = client
        self.identity = client.identity

    def _connected(self):
        # Under self.lock. Before open() or after close() (which may come between a poll's
        # two turns) there is no client: a lost link, which the poller shows (R-DATA-1).
        client = self.client
        if client is None:
            raise LinkError("gateway %s is not connected" % self.gateway_id)
        return client

    def command(self, fn):
        # fn(client) between two polls: a signed command as the dispatcher sends it.
        with self.lock:
            return fn(self._connected())

    def poll(self, wait_s):
        # -> the new events worth showing, after they are stored on this host.
        with self.lock:
            self._connected().wait_for_events(wait_s)
        with self.lock:
            client = self._connected()
            began = time.monotonic()
            status = client.status(self.timeout_s)
            result = client.catch_up(self.store, ack=False, timeout_s=self.timeout_s)
            news = [e for e in result.events if not is_own_ack(e)]
            if news:
                # Stored and fsynced by catch_up: now the gateway may let them go. Our
                # ack is itself an event; acking only real news keeps that from looping.
                client.ack(result.events[-1]["seq"], self.timeout_s)
        self.status = status
        self.polled_from = began
        return news

    def close(self):
        with self.lock:
            if self.client is not None:
                self.client.close()
                self.client = None


class Dispatch:
    """Polls every gateway on its own thread and gathers their events, in arrival order."""

    def __init__(self, links, poll_s=POLL_S):
        self.links = list(links)
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._threads = []
        self._lock = threading.Lock()
        self._feed = []  # (arrival number, gateway id, event)
        self._arrivals = itertools.count(1)
        self.people_by_id = {}

    def load_names(self, path):
        # The roster copy `roster load` keeps (roster_csv.save_names): names, not numbers.
        by_tag = roster_csv.load_names(path)
        self.people_by_id = {info["person_id"]: info for info in by_tag.values()}

    def load_names_from(self, entries):
        # The roster as read from its CSV (roster_csv entries).
        self.people_by_id = {e.person_id: e.to_json() for e in entries}

    def start(self):
        for link in self.links:
            t = threading.Thread(
                target=self._watch, args=(link,), name="dispatch-%s" % link.gateway_id, daemon=True
            )
            self._threads.append(t)
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._threads = []
        for link in self.links:
            link.close()

    def _watch(self, link):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                news = link.poll(self.poll_s)
            except (LinkError, ProtocolError, WrongGateway, EventLogError, OSError) as e:
                if self._stop.is_set():
                    return
                if link.error is None:
                    link.error_since = time.monotonic()
                link.error = str(e)
                self._stop.wait(RETRY_S)
                continue
            link.error = None
            link.error_since = None
            if news:
                with self._lock:
                    for e in news:
                        self._feed.append((next(self._arrivals), link.gateway_id, e))
                    del self._feed[:-KEEP_EVENTS]
            self._stop.wait(max(0.0, MIN_POLL_S - (time.monotonic() - started)))

    def events_after(self, arrival):
        # -> (events that arrived after `arrival` as (gateway id, event), oldest first by
        #     the gateways' clocks; the arrival number to ask from next time)
        with self._lock:
            fresh = [(gid, e) for n, gid, e in self._feed if n > arrival]
            last = self._feed[-1][0] if self._feed else arrival
        fresh.sort(key=lambda item: item[1]["time_s"])  # stable: arrival order within a second
        return fresh, max(last, arrival)

    def latest_events(self, n):
        with self._lock:
            latest = [(gid, e) for _, gid, e in self._feed[-n:]] if n > 0 else []
        latest.sort(key=lambda item: item[1]["time_s"])
        return latest

    def wait_first_poll(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if all(link.polled_from is not None or link.error for link in self.links):
                return True
            self._stop.wait(0.02)
        return False

    def all_polled_since(self, when):
        # Every gateway answered a full poll (status, then every event) begun after `when`:
        # the view then holds everything that happened up to `when`.
        return all(link.polled_from is not None and link.polled_from > when for link in self.links)

    def state(self, headline=None, note=None):
        rows = []
        now_s = 0
        utc_offset_min = None
        for link in self.links:
            s = link.status
            if s is not None:
                now_s = max(now_s, s["now_s"])
            if utc_offset_min is None and "utc_offset_min" in link.settings:
                utc_offset_min = link.settings["utc_offset_min"]
            rows.append(
                {
                    "gateway_id": link.gateway_id,
                    "identity": link.identity,
                    "status": s,
                    "error": link.error,
                    "error_for_s": (
                        time.monotonic() - link.error_since if link.error_since else None
                    ),
                }
            )
        return {
            "rows": rows,
            "now_s": now_s,
            "utc_offset_min": utc_offset_min or 0,
            "headline": headline,
            "note": note,
        }


# ---- words for what the gateways said ----


def clock(time_s, utc_offset_min):
    # The mine's local time of day, as its gateways keep it.
    if not time_s:
        return "--:--:--"
    tz = datetime.timezone(datetime.timedelta(minutes=utc_offset_min))
    return datetime.datetime.fromtimestamp(time_s, tz).strftime("%H:%M:%S")


def utc_label(utc_offset_min):
    sign = "+" if utc_offset_min >= 0 else "-"
    h, m = divmod(abs(utc_offset_min), 60)
    return "UTC%s%d" % (sign, h) + (":%02d" % m if m else "")


def event_text(e, people_by_id=None):
    # What happened, in words, with people named: the CLI's renderer (eventtext), so the
    # demo and `shaftgate events` say the same thing.
    return eventtext.describe(e, eventtext.People.by_person_id(people_by_id or {}))


def event_style(kind):
    if kind in _ALARM_KINDS:
        return "alarm"
    if kind in _WARN_KINDS:
        return "warn"
    if kind in _GOOD_KINDS:
        return "good"
    return None


# ---- frames: lines of (text, style) cells ----


def _cell(text, width=None, style=None, right=False):
    text = str(text)
    if width is not None:
        gap = width - render.text_width(text)
        if gap > 0:
            text = (" " * gap + text) if right else (text + " " * gap)
    return (text, style)


def _bar(count, cap, unicode):
    # Plain: how full the zone is. Colours are the gateway's word (its lamp), not the
    # host's, so the bar takes none (one rule, one place).
    full, empty = ("\u2588", "\u2591") if unicode else ("#", ".")
    if cap <= 0:
        filled = BAR_CELLS if count > 0 else 0
    else:
        filled = min(BAR_CELLS, (count * BAR_CELLS + cap - 1) // cap)
    return _cell(full * filled + empty * (BAR_CELLS - filled))


def _kind_words(identity, unknown):
    # identity is None until the gateway's first hello (link not yet open): kind unknown.
    zone_kind = (identity or {}).get("zone_kind")
    if zone_kind is None:
        return unknown
    return KIND_WORDS.get(zone_kind, zone_kind)


def _row_cells(row, unicode, short=False):
    ident = row["identity"] or {}
    gid = row["gateway_id"]
    zone = ident.get("zone_id", "?")
    kind = _kind_words(row["identity"], "?")
    s = row["status"]
    head = [gid, zone, kind]
    if row["error"] is not None or s is None:
        if row["error"] is None:
            return head, [_cell("waiting for its first status", style="dim")]
        lost = row["error_for_s"] or 0
        text = "NO ANSWER for %s: %s" % (render.duration(lost), row["error"])
        return head, [_cell(text, style="alarm")]
    people = "%d/%d" % (s["occupants"], s["cap"])
    lamp = LAMP_WORDS[s["lamp"]] if 0 <= s["lamp"] < 4 else "?"
    work = _cell("on", style="good") if s["work_allowed"] else _cell("STOPPED", style="alarm")
    hot = _cell("ON", style="warn") if s["hot_work_allowed"] else _cell("off", style="dim")
    if "ch4_ppm" in s:
        gas_style = None if s["gas_ok"] else "alarm"
        ch4 = _cell("%.2f" % (s["ch4_ppm"] / 10000), style=gas_style)
        co = _cell("%d" % s["co_ppm"], style=gas_style)
    else:
        ch4 = _cell("none", style="alarm")
        co = _cell("-", style="alarm")
    video = _cell("ok", style="good") if s["video_ok"] else _cell("LOST", style="alarm")
    if s["evacuating"]:
        what = "DRILL" if s["drill"] else ("EVAC" if short else "EVACUATING")
        if short:
            # Six columns are what is left on an 80-column terminal; the alert says more.
            inside = "%s %d" % (what, s["occupants"]) if s["occupants"] else "CLEAR"
            evac = _cell(inside, style="alarm" if s["occupants"] else "warn")
        elif s["occupants"] > 0:
            evac = _cell("%s, %d inside" % (what, s["occupants"]), style="alarm")
        else:
            evac = _cell("%s: zone clear, awaiting all-clear" % what, style="warn")
    elif s["sealed"]:
        evac = _cell("SEALED", style="warn")
    else:
        evac = _cell("-", style="dim")
    cells = [
        _cell(people),
        _bar(s["occupants"], s["cap"], unicode),
        _cell(" %s " % lamp, style=_LAMP_STYLES[s["lamp"]] if 0 <= s["lamp"] < 4 else None),
        work,
        hot,
        ch4,
        co,
        video,
        evac,
    ]
    return head, cells


_COLUMNS = (
    ("GATEWAY", False),
    ("ZONE", False),
    ("KIND", False),
    ("PEOPLE", True),
    ("CAP USE", False),
    ("LAMP", False),
    ("WORK", False),
    ("HOT", False),
    ("CH4 %", True),
    ("CO", True),
    ("VIDEO", False),
    ("EVACUATION", False),
)


def table_lines(rows, unicode=True, drop=frozenset()):
    # drop: column names left out on a narrow terminal (alert_lines() still says it all).
    keep = [i for i, (name, _) in enumerate(_COLUMNS) if name not in drop]
    columns = [_COLUMNS[i] for i in keep]
    if drop:
        columns[-1] = ("EVAC", False)
    grid = []
    for r in rows:
        head, cells = _row_cells(r, unicode, short=bool(drop))
        g = [_cell(h) for h in head] + cells
        if len(g) == len(_COLUMNS):
            g = [g[i] for i in keep]
        else:
            g = [g[i] for i in keep if i < 3] + g[3:]
        grid.append(g)
    widths = [render.text_width(h) for h, _ in columns]
    head_n = len([i for i in keep if i < 3])
    for g in grid:
        # A row cut short (no answer) has one long cell after the head: it sets no width.
        for i, (text, _) in enumerate(g if len(g) == len(columns) else g[:head_n]):
            widths[i] = max(widths[i], render.text_width(text))
    lines = [[_cell(h, widths[i], "head", right) for i, (h, right) in enumerate(columns)]]
    for g in grid:
        line = []
        for i, (text, style) in enumerate(g):
            last = i == len(g) - 1
            line.append(_cell(text, None if last else widths[i], style, columns[i][1]))
        lines.append(line)
    return lines


def alert_lines(state):
    # What needs a dispatcher now, one line a gateway, first on the screen: a narrow
    # terminal may cut the table, never this.
    out = []
    for r in state["rows"]:
        kind = _kind_words(r["identity"], "")
        s = r["status"]
        what = []
        if r["error"] is not None:
            what.append(
                "NO ANSWER for %s (R-DATA-1): %s"
                % (render.duration(r["error_for_s"] or 0), r["error"])
            )
        elif s is not None:
            if s["evacuating"]:
                word = "DRILL" if s["drill"] else "EVACUATING"
                if s["occupants"]:
                    what.append("%s, %d still inside" % (word, s["occupants"]))
                else:
                    what.append("%s, zone clear, awaiting all-clear" % word)
            if not s["gas_ok"]:
                if "ch4_ppm" in s:
                    what.append("GAS: CH4 %.2f %%, CO %d ppm" % (s["ch4_ppm"] / 10000, s["co_ppm"]))
                else:
                    what.append("GAS: no reading")
            if not s["video_ok"]:
                what.append("VIDEO LOST")
            if s["occupants"] > s["cap"]:
                what.append("OVER CAP %d/%d" % (s["occupants"], s["cap"]))
            if s["sealed"]:
                what.append("SEALED")
            if not s["work_allowed"]:
                what.append("work stopped")
        if what:
            out.append(
                [
                    _cell(" ALERT ", style="red"),
                    _cell("%s (%s): %s" % (r["gateway_id"], kind, "; ".join(what)), style="alarm"),
                ]
            )
    # What only serve sees across the mine (station/alarms.py): shown as it words them.
    for a in state.get("mine_alarms") or []:
        out.append([_cell(" ALARM ", style="red"), _cell(a["text"], style="alarm")])
    return out


def event_line(gateway_id, e, utc_offset_min, people_by_id, id_width=8):
    kind_name = e.get("kind_name") or event_kind_name(e["kind"])
    style = event_style(e["kind"])
    return [
        _cell(clock(e["time_s"], utc_offset_min)),
        _cell(gateway_id, id_width),
        _cell(kind_name, 17, style),
        _cell(event_text(e, people_by_id), style=style),
    ]


def header_lines(state, speed=None):
    rows = state["rows"]
    offset = state["utc_offset_min"]
    underground = None
    answering = 0
    for r in rows:
        s = r["status"]
        if s is not None and r["error"] is None:
            answering += 1
            if r["identity"] and r["identity"].get("role") == "shaft":
                underground = (underground or 0) + s["occupants"]
    top = [
        _cell("SHAFTGATE DISPATCH", style="head"),
        _cell("%s %s" % (clock(state["now_s"], offset), utc_label(offset))),
        _cell("underground %s" % ("?" if underground is None else underground), style="head"),
        _cell(
            "%d/%d gateways answering" % (answering, len(rows)),
            style=None if answering == len(rows) else "alarm",
        ),
    ]
    lines = [top]
    sim = []
    if speed is not None:
        sim.append("simulated mine, x%g" % speed)
    if state.get("headline"):
        sim.append(state["headline"])
    if state.get("note"):
        sim.append(state["note"])
    if sim:
        lines.append([_cell("  ".join(sim), style="dim")])
    return lines


def _id_width(state):
    return max([8] + [render.text_width(r["gateway_id"]) for r in state["rows"]])


def wrap_alert(line, width):
    # An alert is never cut: its text goes on over as many lines as it needs.
    (badge, badge_style), (text, style) = line
    indent = render.text_width(badge) + 2
    parts = textwrap.wrap(text, max(10, width - indent)) or [""]
    out = [[(badge, badge_style), (parts[0], style)]]
    out.extend([(" " * (indent - 2), None), (part, style)] for part in parts[1:])
    return out


def narrow_drop(cols):
    # Columns to leave out on a terminal `cols` wide.
    if cols >= 100:
        return frozenset()
    if cols >= 90:
        return frozenset(("CAP USE",))
    return frozenset(("CAP USE", "ZONE"))


def frame_lines(dispatch, state, width, height, speed=None, unicode=True):
    # The live screen: header and alerts, table, then as many of the latest events as fit.
    offset = state["utc_offset_min"]
    lines = header_lines(state, speed)
    for alert in alert_lines(state):
        lines.extend(wrap_alert(alert, width))
    lines.append([])
    lines.extend(table_lines(state["rows"], unicode, narrow_drop(width)))
    lines.append([])
    lines.append([_cell("LATEST EVENTS (newest first)", style="head")])
    room = max(0, height - len(lines))
    idw = _id_width(state)
    for gid, e in reversed(dispatch.latest_events(room)):
        lines.append(event_line(gid, e, offset, dispatch.people_by_id, idw))
    return lines


def plain_frame(
    dispatch, state, fresh, number, speed=None, last=False, caption="events since the last frame"
):
    # One text frame: the table and every event since the previous frame, newest first
    # (so a log or a test misses none of them).
    offset = state["utc_offset_min"]
    out = ["=== frame %d%s ===" % (number, " (last)" if last else "")]
    out.extend(join(line, None) for line in header_lines(state, speed) + alert_lines(state))
    out.extend(join(line, None) for line in table_lines(state["rows"], unicode=False))
    idw = _id_width(state)
    if fresh:
        out.append("%s (%d, newest first):" % (caption, len(fresh)))
        for gid, e in reversed(fresh):
            out.append(
                join(
                    event_line(gid, e, offset, dispatch.people_by_id, idw),
                    None,
                )
            )
    else:
        out.append("%s: none" % caption)
    return "\n".join(out)


def join(cells, width, color=False):
    # A line of cells, two spaces apart, cut to `width` terminal columns (None: no limit).
    out = []
    used = 0
    for i, (text, style) in enumerate(cells):
        if i:
            out.append("  ")
            used += 2
        if width is not None:
            room = width - used
            if room <= 0:
                break
            if render.text_width(text) > room:
                cut = []
                for ch in text:
                    room -= render.text_width(ch)
                    if room < 0:
                        break
                    cut.append(ch)
                text = "".join(cut)
        used += render.text_width(text)
        out.append(_SGR[style] + text + _RESET if color and style else text)
    return "".join(out).rstrip()


# ---- the terminal ----


class LiveScreen:
    """Redraws the whole frame in place on the terminal's alternate screen; the
    terminal is given back as it was, cursor and echo included, however the view ends."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        if not self.out.isatty():
            raise ViewError("the live view needs a terminal; use --plain for text frames")
        enc = (getattr(self.out, "encoding", None) or "").lower().replace("-", "")
        self.unicode = enc in ("utf8", "utf_8")
        self._saved = None

    def __enter__(self):
        try:
            import termios

            fd = sys.stdin.fileno()
            if sys.stdin.isatty():
                self._saved = (fd, termios.tcgetattr(fd))
                quiet = termios.tcgetattr(fd)
                quiet[3] &= ~(termios.ECHO | termios.ICANON)  # keys typed must not garble it
                termios.tcsetattr(fd, termios.TCSANOW, quiet)
        except (ImportError, OSError, ValueError):
            self._saved = None
        self.out.write("\x1b[?1049h\x1b[?25l")
        self.out.flush()
        return self

    def __exit__(self, *exc):
        self.out.write(_RESET + "\x1b[?25h\x1b[?1049l")
        self.out.flush()
        if self._saved is not None:
            import termios

            with contextlib.suppress(OSError):
                termios.tcsetattr(self._saved[0], termios.TCSANOW, self._saved[1])

    def size(self):
        cols, rows = shutil.get_terminal_size((100, 30))
        return max(20, cols), max(5, rows)

    def draw(self, lines):
        cols, rows = self.size()
        text = [join(line, cols, color=True) + "\x1b[K" for line in lines[:rows]]
        # Home, overwrite each line, clear what is left: no flicker, no scrolling.
        self.out.write("\x1b[H" + "\n".join(text) + _RESET + "\x1b[J")
        self.out.flush()


# ---- fed from serve ----


class ServeRow:
    """A gateway as serve reports it: the attributes Dispatch.state() reads of a link."""

    def __init__(self, gateway_id):
        self.gateway_id = gateway_id
        self.identity = None
        self.settings = {}
        self.status = None
        self.error = "serve has not reported this gateway yet"
        self.error_since = time.monotonic()
        self.polled_from = None

    def close(self):
        pass


class ServeDispatch(Dispatch):
    """The view fed from `shaftgate serve` over its socket (station/control.py): serve owns
    the links and the record; this only reads its status rows and the events it recorded."""

    def __init__(self, socket_path, gateway_ids, poll_s=POLL_S):
        super().__init__([ServeRow(g) for g in gateway_ids], poll_s)
        self.socket_path = socket_path
        self.alarms = []
        self._after = 0

    def start(self):
        t = threading.Thread(target=self._follow, name="dispatch-serve", daemon=True)
        self._threads.append(t)
        t.start()

    def state(self, headline=None, note=None):
        out = super().state(headline, note)
        out["mine_alarms"] = list(self.alarms)
        return out

    def _follow(self):
        from shaftgate.station.control import ControlError, ServeClient

        rows = {row.gateway_id: row for row in self.links}
        client = None
        while not self._stop.is_set():
            try:
                if client is None:
                    client = ServeClient(self.socket_path, 10.0)
                data = client.call({"op": "view", "after": self._after})
            except (OSError, ControlError, ValueError) as e:
                if client is not None:
                    client.close()
                    client = None
                for row in rows.values():
                    if row.error is None:
                        row.error_since = time.monotonic()
                    row.error = "serve does not answer: %s" % e
                self._stop.wait(RETRY_S)
                continue
            now = time.monotonic()
            for r in data["rows"]:
                row = rows.get(r["gateway_id"])
                if row is None:
                    continue
                row.identity = r["identity"] or row.identity
                row.settings = r["settings"] or row.settings
                row.status = r["status"]
                row.polled_from = r.get("polled_from")
                if r["answering"]:
                    row.error = row.error_since = None
                else:
                    row.error = r["error"] or "no answer"
                    row.error_since = now - r["silent_s"]
            self.alarms = [a for a in data["alarms"] if a["kind"] in MINE_KINDS]
            news = [(gid, e) for _, gid, e in data["events"] if not is_own_ack(e)]
            self._after = data["last"]
            if news:
                with self._lock:
                    for gid, e in news:
                        self._feed.append((next(self._arrivals), gid, e))
                    del self._feed[:-KEEP_EVENTS]
            self._stop.wait(self.poll_s)
        if client is not None:
            client.close()
