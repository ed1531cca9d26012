"""`shaftgate watch`: every gateway live from serve, updating in place.

Open alarms on top (unacknowledged ones first, numbered), then one row per zone (people
against the cap, lamp, relays, gas, video, evacuation, link), then the latest events
with names. Keys: `a` acknowledges an alarm (its number, the operator, a note: stored by
serve with who and when), `z` focuses one zone (empty: all), `q` quits, Esc cancels a
prompt. While an open alarm is unacknowledged the terminal bell rings every
BELL_EVERY_S seconds.

Drawn with rich (pyproject: a maintained renderer that measures CJK widths and redraws in
place without curses); keys are read raw from the terminal (termios cbreak), so the
prompts live in the screen's last line rather than in a line-mode input() that would
stop the updates.
"""

import collections
import os
import select
import sys
import termios
import time
import tty

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from shaftgate import alarmtext, eventtext, i18n, minetime, render
from shaftgate.cli.station import _client, adopt_mine, operator_of, say_error
from shaftgate.link.client import is_own_ack
from shaftgate.station.control import ControlError

POLL_S = 0.5
BELL_EVERY_S = 2.0
EVENTS_KEPT = 200
LAMPS = (
    ("off", "灭", "dim"),
    ("green", "绿", "green"),
    ("amber", "黄", "yellow"),
    ("red", "红", "red"),
)


def watch_args(p):
    p.add_argument("--zone", metavar="ZONE", help="start focused on this zone or gateway")
    p.add_argument("--events", type=int, default=12, metavar="N", help="latest events shown")
    p.add_argument("--no-bell", action="store_true", help="do not ring for open alarms")


class Desk:
    """What the screen shows and the prompt being typed; no terminal in here."""

    def __init__(self, operator, focus=None, n_events=12):
        self.rows = []
        self.alarms = []
        self.events = collections.deque(maxlen=EVENTS_KEPT)
        self.people = eventtext.People()
        self.mine = {}
        self.after = 0
        self.focus = focus
        self.n_events = n_events
        self.operator = operator
        self.prompt = None  # (step, text typed so far)
        self.pending = {}  # what the ack prompt has gathered
        self.message = ""
        self.error: str | None = None

    # ---- data ----

    def update(self, view):
        self.mine = view.get("mine") or {}
        self.rows = view["rows"]
        self.alarms = sorted(
            view["alarms"], key=lambda a: (a.get("acked_s") is not None, -a["raised_s"])
        )
        for _n, gid, e in view["events"]:
            if not is_own_ack(e):  # serve's own acknowledgements: bookkeeping, not news
                self.events.append(dict(e, gateway_id=gid))
        self.after = view["last"]

    def ringing(self):
        return any(a.get("acked_s") is None for a in self.alarms)

    def _in_focus(self, gid, zone):
        return self.focus is None or self.focus in (gid, zone)

    # ---- keys ----

    def key(self, ch, serve):
        """One key typed. Returns False to quit."""
        if self.prompt is None:
            if ch in ("q", "Q"):
                return False
            if ch in ("a", "A"):
                if not self.alarms:
                    self.message = i18n.t("w_no_alarm_to_ack")
                else:
                    self.prompt, self.pending = ("alarm", ""), {}
            elif ch in ("z", "Z"):
                self.prompt = ("zone", "")
            return True
        step, typed = self.prompt
        if ch == "\x1b":  # Esc
            self.prompt, self.message = None, i18n.t("w_cancelled")
        elif ch in ("\x7f", "\b"):
            self.prompt = (step, typed[:-1])
        elif ch in ("\r", "\n"):
            self._enter(step, typed.strip(), serve)
        elif ch.isprintable():
            self.prompt = (step, typed + ch)
        return True

    def _enter(self, step, typed, serve):
        t = i18n.t
        if step == "zone":
            self.prompt = None
            if not typed:
                self.focus, self.message = None, t("w_all_zones")
                return
            for i, r in enumerate(self.rows, 1):
                if typed in (str(i), r["gateway_id"], r["zone"]):
                    self.focus = r["zone"]
                    self.message = t("w_focused", zone=r["zone"])
                    return
            self.message = t("w_no_zone", zone=typed)
        elif step == "alarm":
            if not (typed.isdigit() and 1 <= int(typed) <= len(self.alarms)):
                self.prompt, self.message = None, t("w_no_alarm", n=typed)
                return
            self.pending["key"] = self.alarms[int(typed) - 1]["key"]
            self.prompt = ("operator", "")
        elif step == "operator":
            self.pending["operator"] = typed or self.operator
            self.prompt = ("note", "")
        elif step == "note":
            if not typed:
                self.message = t("w_note_needed")
                return  # stay in the prompt: an acknowledgement says what was done
            self.prompt = None
            try:
                serve.call(
                    {
                        "op": "alarm-ack",
                        "key": self.pending["key"],
                        "operator": self.pending["operator"],
                        "reason": typed,
                    }
                )
            except (ControlError, OSError) as e:
                self.message = t("err_prefix", text=e)
                return
            self.message = t(
                "alarm_ack_done", key=self.pending["key"], who=self.pending["operator"], order="-"
            )

    # ---- drawing ----

    def frame(self):
        t = i18n.t
        now = time.time()
        head = Text()
        head.append(self.mine.get("name") or self.mine.get("id") or "shaftgate", style="bold")
        head.append("   %s" % render.local_time(now, with_zone=True))
        if self.focus:
            head.append("   " + t("w_focus", zone=self.focus), style="bold cyan")
        if self.error:
            head.append("   " + self.error, style="bold red")
        parts = [head, self._alarms(), self._zones(), self._events()]
        footer = Text()
        if self.prompt is not None:
            step, typed = self.prompt
            label = t("w_prompt_" + step, default=self.operator)
            footer.append(label + " " + typed + "\u2588", style="bold reverse")
        else:
            footer.append(t("w_keys"), style="dim")
            if self.message:
                footer.append("   " + self.message)
        parts.append(footer)
        return Group(*parts)

    def _alarms(self):
        t = i18n.t
        if not self.alarms:
            return Text(t("no_alarms"), style="green")
        table = Table(title=t("w_alarms", n=len(self.alarms)), title_justify="left", expand=True)
        for col in ("#", t("col_time_short"), t("col_class"), t("col_zone"), t("col_what")):
            table.add_column(col, overflow="fold")
        table.add_column(t("col_state"))
        for i, a in enumerate(self.alarms, 1):
            style = "bold red" if a.get("acked_s") is None else "yellow"
            table.add_row(
                str(i),
                render.local_time(a["raised_s"])[11:],
                i18n.alarm_class_name(a["kind"]),
                a.get("zone") or a.get("gateway_id") or "",
                alarmtext.what(a, self.people),
                alarmtext.state(a) + (" " + a["acked_by"] if a.get("acked_by") else ""),
                style=style,
            )
        return table

    def _zones(self):
        t = i18n.t
        table = Table(expand=True)
        cols = ("#", "col_zone", "w_people", "w_lamp", "w_work", "w_hot", "w_gas", "w_video")
        for c in cols:
            table.add_column(t(c) if c != "#" else "#")
        table.add_column(t("w_evac"))
        table.add_column(t("w_link"))
        for i, r in enumerate(self.rows, 1):
            if not self._in_focus(r["gateway_id"], r["zone"]):
                continue
            s = r.get("status")
            link = (
                Text(t("st_ok"), style="green")
                if r["answering"]
                else Text(t("w_no_answer", dur=eventtext.duration(r["silent_s"])), style="bold red")
            )
            zone = "%s (%s)" % (r["zone"], r["gateway_id"])
            if not s:
                table.add_row(str(i), zone, "?", "?", "?", "?", "?", "?", "?", link)
                continue
            over = s["occupants"] > s["cap"]
            people = Text(
                "%d / %d" % (s["occupants"], s["cap"]),
                style="bold red" if over else ("yellow" if s["occupants"] == s["cap"] else ""),
            )
            lamp = LAMPS[s["lamp"]] if 0 <= s["lamp"] < len(LAMPS) else ("?", "?", "")
            gas = "CH4 %.2f%%" % (s["ch4_ppm"] / 10000) if "ch4_ppm" in s else "CH4 -"
            gas += "  CO %d" % s["co_ppm"] if "co_ppm" in s else "  CO -"
            if s["evacuating"]:
                evac = Text(t("st_drill") if s["drill"] else t("st_evacuation"), style="bold red")
            elif s["sealed"]:
                evac = Text(t("st_sealed"), style="yellow")
            else:
                evac = Text("-")
            table.add_row(
                str(i),
                zone,
                people,
                Text(i18n.pick(lamp[0], lamp[1]), style=lamp[2]),
                Text(t("w_on"), style="green")
                if s["work_allowed"]
                else Text(t("st_work_stopped"), style="bold red"),
                Text(t("w_on"), style="yellow") if s["hot_work_allowed"] else Text(t("w_off")),
                Text(gas, style="" if s["gas_ok"] else "bold red"),
                Text(t("st_ok"), style="green")
                if s["video_ok"]
                else Text(t("st_no_video"), style="bold red"),
                evac,
                link,
            )
        return table

    def _events(self):
        t = i18n.t
        zones = {r["gateway_id"]: r["zone"] for r in self.rows}
        shown = [
            e for e in self.events if self._in_focus(e["gateway_id"], zones.get(e["gateway_id"]))
        ]
        shown = shown[-self.n_events :]
        table = Table(title=t("w_events"), title_justify="left", expand=True, show_edge=False)
        table.add_column(t("col_time", zone=minetime.label()))
        table.add_column(t("col_zone"))
        table.add_column(t("col_event"))
        table.add_column(t("col_what"), overflow="fold")
        for e in reversed(shown):
            table.add_row(
                render.local_time(e["time_s"])[11:],
                zones.get(e["gateway_id"], e["gateway_id"]),
                i18n.kind_name(e["kind"]),
                eventtext.describe(e, self.people),
            )
        return table


class _Keys:
    # The terminal in cbreak mode while watching; restored however we leave.
    def __init__(self, stream):
        self.stream = stream
        self.fd = stream.fileno() if stream.isatty() else None
        self.saved = None

    def __enter__(self):
        if self.fd is not None:
            self.saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc):
        if self.saved is not None and self.fd is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self, timeout_s):
        if self.fd is None:
            time.sleep(timeout_s)
            return []
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return []
        data = os.read(self.fd, 64)
        return list(data.decode("utf-8", "replace"))


def run_watch(args):
    desk = Desk(operator_of(args), getattr(args, "zone", None), max(1, args.events))
    console = Console()
    try:
        serve = _client(args)
    except (ControlError, OSError) as e:
        say_error(e)
        return 3
    last_bell = 0.0
    with (
        serve,
        _Keys(sys.stdin) as keys,
        Live(desk.frame(), console=console, auto_refresh=False, screen=True) as live,
    ):
        try:
            roster = serve.call({"op": "roster"})
            adopt_mine(roster)
            desk.people = eventtext.People(roster["roster"])
        except (ControlError, OSError) as e:
            desk.error = str(e)
        next_poll = 0.0
        while True:
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + POLL_S
                try:
                    desk.update(serve.call({"op": "view", "after": desk.after}))
                    desk.error = None
                except (ControlError, OSError) as e:
                    desk.error = i18n.t("w_serve_lost", error=e)
                if not args.no_bell and desk.ringing() and now - last_bell >= BELL_EVERY_S:
                    last_bell = now
                    console.bell()
                live.update(desk.frame(), refresh=True)
            quit_ = False
            for ch in keys.read(max(0.0, next_poll - time.monotonic())):
                if not desk.key(ch, serve):
                    quit_ = True
                    break
                live.update(desk.frame(), refresh=True)
            if quit_:
                return 0
