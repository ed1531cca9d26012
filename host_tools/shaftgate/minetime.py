"""The mine's time: one time zone, the site file's [mine] time_zone, for every time an
operator reads or types. Printed with the zone, so a time read off a screen in another
office is never taken for that office's own."""

import datetime
import re
import zoneinfo
from typing import Any

_state: dict[str, Any] = {"tz": None, "name": None, "lookup": None}


def set_zone(name):
    # name: an IANA zone ("Asia/Shanghai"); None: the host's own zone.
    _state["lookup"] = None
    if name is None:
        _state["tz"], _state["name"] = None, None
        return
    _state["tz"] = zoneinfo.ZoneInfo(name)  # ZoneInfoNotFoundError names the bad zone
    _state["name"] = name


def set_zone_lookup(lookup):
    """The zone is lookup()'s name (or None), asked the first time a time is shown or read:
    a command that shows none (a --json status) never reads the site file for it."""
    set_zone(None)
    _state["lookup"] = lookup


def _looked_up():
    lookup = _state["lookup"]
    if lookup is not None:
        set_zone(lookup())


def zone_name():
    _looked_up()
    return _state["name"]


def zone():
    _looked_up()
    if _state["tz"] is None:
        return datetime.datetime.now().astimezone().tzinfo
    return _state["tz"]


def _offset_label(dt):
    off = int(dt.utcoffset().total_seconds() // 60)
    sign = "+" if off >= 0 else "-"
    h, m = divmod(abs(off), 60)
    return "UTC%s%d" % (sign, h) + (":%02d" % m if m else "")


def label(time_s=None):
    # "Asia/Shanghai UTC+8": the zone a table's times are in.
    dt = datetime.datetime.fromtimestamp(time_s or 0, zone()) if time_s else now()
    off = _offset_label(dt)
    return "%s %s" % (zone_name(), off) if zone_name() else off


def now():
    return datetime.datetime.now(zone())


def to_datetime(time_s):
    return datetime.datetime.fromtimestamp(time_s, zone())


def fmt(time_s, with_zone=False):
    dt = to_datetime(time_s)
    text = dt.strftime("%Y-%m-%d %H:%M:%S")
    return text + " " + _offset_label(dt) if with_zone else text


_REL = re.compile(r"^([+-]?)(\d+)\s*(s|m|min|h|d)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse(text, now_s):
    """A time an operator typed -> Unix seconds, or None when it is not one. "now";
    "-2h" / "+30m" relative to now (no sign: ago, the history's direction); an ISO date
    or date and time, taken in the mine's zone unless it names its own offset."""
    t = text.strip().lower()
    if t == "now":
        return int(now_s)
    m = _REL.match(t)
    if m:
        delta = int(m.group(2)) * _UNITS[m.group(3)]
        return int(now_s + delta if m.group(1) == "+" else now_s - delta)
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone())
    return int(when.timestamp())


def day_start(date, tz=None):
    # Midnight of a date (datetime.date) in the mine's zone, as Unix seconds.
    dt = datetime.datetime.combine(date, datetime.time(0), tz or zone())
    return int(dt.timestamp())
