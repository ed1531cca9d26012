"""The big-screen page: a read-only live web page for the control room's wall screen and
other dispatchers' browsers: every zone against its cap, the open alarms, the latest
events with names, a headcount chart. Served by serve on [serve] page (loopback by
default: site.DEFAULT_PAGE), GET only: nothing on it changes anything.

    GET /             the page (zh unless ?lang=en or the browser asks for English first)
    GET /state.json   what the page shows, already in words: the page's script polls it

The words come from the desk's catalogue (i18n, eventtext, alarmtext), rendered under a
lock because the language is process-wide state and each request may ask for another.
"""

import html
import http.server
import json
import logging
import threading
import time
import urllib.parse
from typing import Any

from shaftgate import alarmtext, eventtext, i18n, minetime, render
from shaftgate.link.client import is_own_ack
from shaftgate.station import report

log = logging.getLogger("shaftgate.page")
SERIES_S = 8 * 3600  # the chart's span
SERIES_CACHE_S = 10.0
EVENTS_SHOWN = 30
_WORDS = threading.Lock()


class PageServer:
    def __init__(self, station, host, port):
        self.station = station
        self._series = (0.0, None)
        self._people = (0.0, eventtext.People())
        handler = type("Handler", (_Handler,), {"page": self})
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.address = self.httpd.server_address[:2]
        self._thread = None

    @property
    def url(self):
        host, port = str(self.address[0]), int(self.address[1])
        return "http://%s:%d/" % (host if ":" not in host else "[%s]" % host, port)

    def start(self):
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="serve-page", daemon=True
        )
        self._thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- what the page shows ----

    def _people_now(self):
        at, people = self._people
        if time.monotonic() - at > SERIES_CACHE_S:
            people = eventtext.People(self.station.store.roster_names())
            self._people = (time.monotonic(), people)
        return people

    def series(self):
        at, series = self._series
        if series is None or time.monotonic() - at > SERIES_CACHE_S:
            now = time.time()
            st = self.station
            series = {}
            for g in st.site.gateways:
                z = report.zone_report(st.store, g, now - SERIES_S, now)
                series[g.id] = {"cap": z["cap"], "points": z["series"]}
            self._series = (time.monotonic(), series)
        return series

    def state(self, lang):
        st = self.station
        people = self._people_now()
        rows = st.rows()
        alarms = sorted(
            st.alarms_active(), key=lambda a: (a.get("acked_s") is not None, -a["raised_s"])
        )
        fresh, _last = st.feed_after(0, limit=EVENTS_SHOWN * 4)
        events = [dict(e, gateway_id=gid) for _n, gid, e in fresh if not is_own_ack(e)]
        series = self.series()
        with _WORDS:
            i18n.set_lang(lang)
            minetime.set_zone(st.site.time_zone)
            t = i18n.t
            zones = []
            for r in rows:
                s = r.get("status") or {}
                if not r["answering"] or not s:
                    level, what = "nolink", t("w_no_answer", dur=eventtext.duration(r["silent_s"]))
                elif s["evacuating"] or s["occupants"] > s["cap"] or not s["gas_ok"]:
                    level = "alarm"
                    what = ", ".join(_alerts(s))
                elif s["occupants"] == s["cap"] or not s["video_ok"] or s["sealed"]:
                    level, what = "warn", ", ".join(_alerts(s)) or t("w_full")
                else:
                    level, what = "ok", t("st_ok")
                zones.append(
                    {
                        "gateway_id": r["gateway_id"],
                        "zone": r["zone"],
                        "kind": i18n.zone_kind_name(r["kind"]),
                        "people": s.get("occupants"),
                        "cap": s.get("cap"),
                        "level": level,
                        "what": what,
                    }
                )
            doc = {
                "mine": st.site.mine_name,
                "now": render.local_time(time.time(), with_zone=True),
                "lang": lang,
                "labels": {
                    k: t(k)
                    for k in (
                        "col_zone",
                        "w_people",
                        "col_state",
                        "w_alarms_title",
                        "w_events",
                        "w_chart",
                        "no_alarms",
                        "w_stale",
                    )
                },
                "zones": zones,
                "alarms": [
                    {
                        "when": render.local_time(a["raised_s"])[11:],
                        "class": i18n.alarm_class_name(a["kind"]),
                        "zone": a.get("zone") or a.get("gateway_id") or "",
                        "what": alarmtext.what(a, people),
                        "acked": a.get("acked_s") is not None,
                        "state": alarmtext.state(a),
                    }
                    for a in alarms
                ],
                "events": [
                    {
                        "when": render.local_time(e["time_s"])[11:],
                        "zone": st.site.gateway(e["gateway_id"]).zone
                        if st.site.gateway(e["gateway_id"])
                        else e["gateway_id"],
                        "kind": i18n.kind_name(e["kind"]),
                        "what": eventtext.describe(e, people),
                    }
                    for e in reversed(events[-EVENTS_SHOWN:])
                ],
                "series": {
                    gid: {"cap": v["cap"], "points": v["points"]} for gid, v in series.items()
                },
            }
        return doc


def _alerts(s):
    t = i18n.t
    out = []
    if s["evacuating"]:
        out.append(t("st_drill") if s["drill"] else t("st_evacuation"))
    if s["occupants"] > s["cap"]:
        out.append(t("st_over_cap"))
    if not s["gas_ok"]:
        out.append(t("st_gas_not_ok"))
    if not s["video_ok"]:
        out.append(t("st_no_video"))
    if s["sealed"]:
        out.append(t("st_sealed"))
    return out


def _lang(query, headers):
    asked = (urllib.parse.parse_qs(query).get("lang") or [""])[0]
    if asked in i18n.LANGS:
        return asked
    accept = (headers.get("Accept-Language") or "").lower()
    return "en" if accept.startswith("en") else "zh"


class _Handler(http.server.BaseHTTPRequestHandler):
    page: Any = None  # the PageServer, set on the subclass
    server_version = "shaftgate-page"

    def log_message(self, format, *args):
        log.debug("page %s: " + format, self.client_address[0], *args)

    def _send(self, code, body, ctype):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        lang = _lang(url.query, self.headers)
        try:
            if url.path == "/":
                self._send(200, _page_html(lang), "text/html; charset=utf-8")
            elif url.path == "/state.json":
                doc = self.page.state(lang)
                self._send(200, json.dumps(doc, ensure_ascii=False), "application/json")
            else:
                self._send(404, "not found", "text/plain; charset=utf-8")
        except Exception as e:  # a page that fails must not take serve with it
            log.exception("page request failed")
            self._send(500, "error: %s" % html.escape(str(e)), "text/plain; charset=utf-8")

    def _read_only(self):
        self._send(405, "read-only page", "text/plain; charset=utf-8")

    do_POST = do_PUT = do_DELETE = do_PATCH = _read_only


def _page_html(lang):
    return PAGE.replace("__LANG__", "zh-CN" if lang == "zh" else "en").replace(
        "__Q__", "?lang=%s" % lang
    )


PAGE = """<!doctype html>
<html lang="__LANG__"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shaftgate</title>
<style>
 body { margin: 0; background: #0b1220; color: #e5e7eb;
        font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", sans-serif; }
 header { display: flex; justify-content: space-between; padding: 10px 18px;
          background: #111827; font-size: 26px; }
 main { display: grid; grid-template-columns: 3fr 2fr; gap: 14px; padding: 14px; }
 h2 { font-size: 20px; margin: 4px 0 8px 0; color: #93c5fd; }
 table { width: 100%; border-collapse: collapse; font-size: 22px; }
 td, th { padding: 8px 10px; text-align: left; }
 th { color: #9ca3af; font-weight: normal; border-bottom: 1px solid #374151; }
 tr.zone-row.ok { background: #166534; } tr.zone-row.warn { background: #a16207; }
 tr.zone-row.alarm { background: #b91c1c; } tr.zone-row.nolink { background: #4b5563; }
 td.people { font-size: 30px; font-weight: bold; }
 .alarm { background: #7f1d1d; margin: 4px 0; padding: 6px 10px; font-size: 18px; }
 .alarm.acked { background: #78350f; }
 .events div { font-size: 15px; padding: 3px 0; border-bottom: 1px solid #1f2937; }
 #stale { color: #fca5a5; }
 svg { background: #111827; width: 100%; height: 240px; }
</style></head><body>
<header><span id="mine"></span><span id="stale"></span><span id="now"></span></header>
<main>
 <section>
  <table id="zones"><thead><tr><th id="h-zone"></th><th id="h-people"></th><th id="h-state"></th></tr></thead>
  <tbody></tbody></table>
  <h2 id="h-chart"></h2><svg id="chart" viewBox="0 0 800 240" preserveAspectRatio="none"></svg>
 </section>
 <section>
  <h2 id="h-alarms"></h2><div id="alarms"></div>
  <h2 id="h-events"></h2><div id="events" class="events"></div>
 </section>
</main>
<script>
const COLOURS = ["#60a5fa", "#f472b6", "#34d399", "#fbbf24", "#a78bfa", "#f87171", "#22d3ee"];
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function chart(svg, series) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const ids = Object.keys(series);
  let t0 = Infinity, t1 = -Infinity, top = 1;
  for (const id of ids) for (const [t, n] of series[id].points) {
    t0 = Math.min(t0, t); t1 = Math.max(t1, t); top = Math.max(top, n);
  }
  if (!(t1 > t0)) return;
  const x = t => 10 + (t - t0) / (t1 - t0) * 780, y = n => 230 - n / (top * 1.1) * 220;
  ids.forEach((id, i) => {
    let d = "", prev = null;
    for (const [t, n] of series[id].points) {
      d += (d ? " L" : "M") + x(t).toFixed(1) + " " + (prev === null ? y(n) : y(prev)).toFixed(1);
      d += " L" + x(t).toFixed(1) + " " + y(n).toFixed(1);
      prev = n;
    }
    const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", d); p.setAttribute("fill", "none");
    p.setAttribute("stroke", COLOURS[i % COLOURS.length]); p.setAttribute("stroke-width", "3");
    p.setAttribute("data-gateway", id);
    svg.appendChild(p);
  });
}
function show(s) {
  document.getElementById("mine").textContent = s.mine;
  document.getElementById("now").textContent = s.now;
  document.getElementById("stale").textContent = "";
  for (const [k, id] of [["col_zone", "h-zone"], ["w_people", "h-people"], ["col_state", "h-state"],
                         ["w_alarms_title", "h-alarms"], ["w_events", "h-events"], ["w_chart", "h-chart"]])
    document.getElementById(id).textContent = s.labels[k];
  const body = document.querySelector("#zones tbody");
  body.textContent = "";
  for (const z of s.zones) {
    const tr = el("tr", "zone-row " + z.level);
    tr.setAttribute("data-gateway", z.gateway_id);
    tr.appendChild(el("td", "", z.zone + " · " + z.kind));
    tr.appendChild(el("td", "people", z.people === null ? "?" : z.people + " / " + z.cap));
    tr.appendChild(el("td", "", z.what));
    body.appendChild(tr);
  }
  const alarms = document.getElementById("alarms");
  alarms.textContent = "";
  if (!s.alarms.length) alarms.appendChild(el("div", "", s.labels.no_alarms));
  for (const a of s.alarms)
    alarms.appendChild(el("div", "alarm" + (a.acked ? " acked" : ""),
      a.when + "  " + a.zone + "  " + a["class"] + " — " + a.what + " (" + a.state + ")"));
  const events = document.getElementById("events");
  events.textContent = "";
  for (const e of s.events)
    events.appendChild(el("div", "", e.when + "  " + e.zone + "  " + e.kind + "  " + e.what));
  chart(document.getElementById("chart"), s.series);
  window.lastState = s;
}
async function poll() {
  try {
    const r = await fetch("state.json__Q__", {cache: "no-store"});
    show(await r.json());
  } catch (err) {
    const s = window.lastState;
    document.getElementById("stale").textContent = s ? s.labels.w_stale : "serve?";
  }
}
poll();
setInterval(poll, 2000);
</script></body></html>
"""
