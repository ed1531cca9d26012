"""`shaftgate report shift --date D --shift S`: the shift report (R-CAP-10, R-CAP-11) as
HTML (Jinja2) and PDF (WeasyPrint), with a headcount-over-time plot per zone and the
trend of the underground headcount across the same shift on earlier days against the
10 % reduction goal. Numbers from serve's record (station/report.py), words from the
catalogue, times in the mine's zone.

Shifts: 1, 2, 3 are the three-eight system's 0点班 00:00-08:00, 8点班 08:00-16:00 and
4点班 16:00-24:00; or a window HH:MM-HH:MM (past midnight when it ends before it starts).
"""

import base64
import datetime
import io
import math
import re
import sys
from pathlib import Path
from typing import Any

from shaftgate import eventtext, i18n, minetime, render
from shaftgate.cli.station import (
    EXIT_OK,
    DeskError,
    _client,
    _serve_failed,
    adopt_mine,
    say_error,
)
from shaftgate.station.control import ControlError

SHIFTS = {"1": (0, 480), "2": (480, 960), "3": (960, 1440)}
SHIFT_NAMES = {
    "1": ("night shift", "0点班"),
    "2": ("day shift", "8点班"),
    "3": ("evening shift", "4点班"),
}
# Fonts with Chinese glyphs, in order of preference (./dev installs fonts-wqy-zenhei).
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def report_args(p):
    p.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="the day the shift starts")
    p.add_argument(
        "--shift", required=True, metavar="S", help="1, 2, 3 (0点班, 8点班, 4点班) or 22:00-06:00"
    )
    p.add_argument("--out", metavar="DIR", default=".", help="where to write (default .)")
    p.add_argument(
        "--trend-days", type=int, default=14, metavar="N", help="the same shift on N days before"
    )
    p.add_argument("--no-pdf", action="store_true", help="HTML only")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON too")


def shift_window(date_text, shift_text):
    try:
        day = datetime.date.fromisoformat(date_text.strip())
    except ValueError:
        raise DeskError(i18n.t("err_bad_date", text=date_text)) from None
    s = shift_text.strip()
    if s in SHIFTS:
        start_min, end_min = SHIFTS[s]
        name = i18n.pick(*SHIFT_NAMES[s])
    else:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", s)
        if not m or int(m.group(1)) > 23 or int(m.group(3)) > 24:
            raise DeskError(i18n.t("err_bad_shift", text=shift_text))
        start_min = int(m.group(1)) * 60 + int(m.group(2))
        end_min = int(m.group(3)) * 60 + int(m.group(4))
        if end_min <= start_min:
            end_min += 1440
        name = s
    midnight = minetime.day_start(day)
    return day, name, midnight + start_min * 60, midnight + end_min * 60


def _use_cjk_font(matplotlib):
    from matplotlib import font_manager

    for path in CJK_FONTS:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            matplotlib.rcParams["font.family"] = [name, "DejaVu Sans"]
            return name
    return None


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def plots(report, trend):
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    font = _use_cjk_font(matplotlib)
    from matplotlib import pyplot as plt

    t = i18n.t
    out = {}
    for z in report["zones"]:
        fig, ax = plt.subplots(figsize=(7.5, 2.2))
        xs: Any = [minetime.to_datetime(s).replace(tzinfo=None) for s, _ in z["series"]]
        ys = [n for _, n in z["series"]]
        ax.step(xs, ys, where="post", color="#1f5fa8", label=t("rp_headcount"))
        if z["cap"] is not None:
            ax.axhline(
                z["cap"], color="#c0392b", linestyle="--", label=t("rp_cap_line", cap=z["cap"])
            )
        ax.set_title("%s (%s)" % (z["zone"], z["gateway_id"]), fontsize=10)
        ax.set_ylim(bottom=0, top=max([*ys, z["cap"] or 0, 1]) * 1.15)
        ax.legend(loc="upper left", fontsize=8)
        ax.tick_params(labelsize=8)
        fig.autofmt_xdate()
        out[z["gateway_id"]] = _png(fig)
        plt.close(fig)
    if trend and trend["rows"]:
        fig, ax = plt.subplots(figsize=(7.5, 2.6))
        labels = [r["label"][5:] for r in trend["rows"]]
        ax.bar(
            labels, [r["people"] for r in trend["rows"]], color="#1f5fa8", label=t("rp_people_down")
        )
        if trend["goal"]:
            ax.axhline(trend["goal"], color="#27ae60", linestyle="--", label=t("rp_goal_line"))
        ax.legend(loc="upper left", fontsize=8)
        ax.tick_params(labelsize=7)
        fig.autofmt_xdate()
        out["trend"] = _png(fig)
        plt.close(fig)
    return out, font


def _gas_name(code):
    pair = i18n.GASES.get(code)
    return i18n.pick(*pair) if pair else "gas %d" % code


def view_model(report, trend, day, shift_name, mine):
    """The numbers as the template shows them: words and times already made."""
    t = i18n.t
    zones = []
    for z in report["zones"]:
        zones.append(
            {
                "name": "%s (%s)" % (z["zone"], z["gateway_id"]),
                "kind": i18n.zone_kind_name(z["kind"]),
                "peak": z["peak"],
                "peak_at": render.local_time(z["peak_s"])[11:16],
                "cap": "-" if z["cap"] is None else z["cap"],
                "over": z["over_cap"],
                "above": eventtext.duration(z["above_warning_s"]),
                "over_cap_entries": z["over_cap_entries"],
                "refusals": z["refusals"],
                "cap_refusals": z["cap_refusals"],
                # JSON made the kind codes text: back to ints, in the catalogue's order
                "violations": [
                    (i18n.kind_name(int(k)), n)
                    for k, n in sorted(z["violations"].items(), key=lambda kv: int(kv[0]))
                ],
                "evacuations": [
                    {
                        "what": t("rp_drill") if e["drill"] else t("rp_evacuation"),
                        "start": render.local_time(e["start_s"])[11:19],
                        "cleared": t("rp_not_cleared")
                        if e["clear_s"] is None
                        else "%.1f %s" % (e["clear_s"], t("rp_seconds")),
                    }
                    for e in z["evacuations"]
                ],
                "gas": [
                    {
                        "gas": _gas_name(g["gas"]),
                        "start": render.local_time(g["start_s"])[11:19],
                        "peak": g["peak"],
                        "duration": t("rp_still_over")
                        if g["duration_s"] is None
                        else eventtext.duration(g["duration_s"]),
                    }
                    for g in z["gas"]
                ],
                "gateway_id": z["gateway_id"],
            }
        )
    trend_rows = []
    if trend:
        for r in trend["rows"]:
            trend_rows.append(
                {
                    "label": r["label"],
                    "peak": r["peak"],
                    "people": r["people"],
                    "change": "-" if r["change"] is None else "%+.1f %%" % (r["change"] * 100),
                    "goal_met": r["goal_met"],
                }
            )
    return {
        "lang": i18n.lang(),
        "t": t,
        "mine": mine.get("name") or mine.get("id") or "",
        "title": t("rp_title", date=day.isoformat(), shift=shift_name),
        "window": "%s - %s"
        % (
            render.local_time(report["start_s"]),
            render.local_time(report["end_s"], with_zone=True),
        ),
        "zones": zones,
        "trend": trend_rows,
        "baseline": trend.get("baseline") if trend else None,
        # people are whole: "10 % fewer than 45" is 40 or fewer, not 41
        "goal": "%d" % math.floor(trend["goal"]) if trend and trend.get("goal") else "-",
        "made": render.local_time(datetime.datetime.now().timestamp(), with_zone=True),
    }


TEMPLATE = """<!doctype html>
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
 @page { size: A4; margin: 14mm; }
 body { font-family: {{ font_css }}; font-size: 10.5pt; color: #222; }
 h1 { font-size: 16pt; margin: 0 0 2mm 0; } h2 { font-size: 12.5pt; margin: 6mm 0 2mm 0; }
 table { border-collapse: collapse; width: 100%; margin: 2mm 0; }
 th, td { border: 1px solid #999; padding: 1.2mm 2mm; text-align: left; }
 th { background: #eef2f7; } .bad { color: #b00; font-weight: bold; } .good { color: #1a7a3a; }
 img { width: 100%; } .muted { color: #666; font-size: 9pt; }
 section.zone { page-break-inside: avoid; }
</style></head><body>
<h1>{{ mine }} — {{ title }}</h1>
<p class="muted">{{ t('rp_window') }}: {{ window }} · {{ t('rp_made') }}: {{ made }}</p>
<h2>{{ t('rp_summary') }}</h2>
<table><tr><th>{{ t('col_zone') }}</th><th>{{ t('rp_peak') }}</th><th>{{ t('rp_cap') }}</th>
<th>{{ t('rp_above') }}</th><th>{{ t('rp_over_cap_entries') }}</th><th>{{ t('rp_refusals') }}</th></tr>
{% for z in zones %}<tr><td>{{ z.name }}<br><span class="muted">{{ z.kind }}</span></td>
<td class="{{ 'bad' if z.over else '' }}">{{ z.peak }} ({{ z.peak_at }})</td><td>{{ z.cap }}</td>
<td>{{ z.above }}</td><td class="{{ 'bad' if z.over_cap_entries else '' }}">{{ z.over_cap_entries }}</td>
<td>{{ z.refusals }} ({{ t('rp_at_cap') }} {{ z.cap_refusals }})</td></tr>{% endfor %}
</table>
{% for z in zones %}<section class="zone"><h2>{{ z.name }}</h2>
<img src="data:image/png;base64,{{ plots[z.gateway_id] }}" alt="{{ t('rp_headcount') }}">
<p><b>{{ t('rp_violations') }}:</b> {% if z.violations %}{% for k, n in z.violations %}{{ k }} &times; {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}{% else %}{{ t('none') }}{% endif %}</p>
<p><b>{{ t('rp_evacuations') }}:</b> {% if z.evacuations %}{% for e in z.evacuations %}{{ e.what }} {{ e.start }}, {{ t('rp_time_to_clear') }} {{ e.cleared }}{% if not loop.last %}; {% endif %}{% endfor %}{% else %}{{ t('none') }}{% endif %}</p>
<p><b>{{ t('rp_gas') }}:</b> {% if z.gas %}{% for g in z.gas %}{{ g.gas }} {{ g.start }}, {{ t('rp_peak') }} {{ g.peak }} ppm, {{ g.duration }}{% if not loop.last %}; {% endif %}{% endfor %}{% else %}{{ t('none') }}{% endif %}</p>
</section>{% endfor %}
<h2>{{ t('rp_trend') }}</h2>
{% if trend %}<p>{{ t('rp_goal_text', base=baseline, goal=goal) }}</p>
{% if plots.trend %}<img src="data:image/png;base64,{{ plots.trend }}" alt="{{ t('rp_trend') }}">{% endif %}
<table><tr><th>{{ t('rp_date') }}</th><th>{{ t('rp_people_down') }}</th><th>{{ t('rp_peak_underground') }}</th>
<th>{{ t('rp_change') }}</th><th>{{ t('rp_goal') }}</th></tr>
{% for r in trend %}<tr><td>{{ r.label }}</td><td>{{ r.people }}</td><td>{{ r.peak }}</td><td>{{ r.change }}</td>
<td class="{{ 'good' if r.goal_met else '' }}">{{ t('yes') if r.goal_met else t('no') }}</td></tr>{% endfor %}
</table>{% else %}<p>{{ t('rp_no_shaft') }}</p>{% endif %}
</body></html>
"""


def render_html(model, plot_pngs, font):
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    fonts = ['"%s"' % font] if font else []
    fonts += ['"WenQuanYi Zen Hei"', '"Noto Sans CJK SC"', "sans-serif"]
    return env.from_string(TEMPLATE).render(plots=plot_pngs, font_css=", ".join(fonts), **model)


def run_report(args):
    t = i18n.t
    try:
        with _client(args) as serve:
            adopt_mine(serve.call({"op": "roster"}))
            day, shift_name, start_s, end_s = shift_window(args.date, args.shift)
            if not 0 <= args.trend_days <= 92:
                raise DeskError("--trend-days: 0..92")
            days = [day - datetime.timedelta(days=n) for n in range(args.trend_days, -1, -1)]
            shifts = []
            for d in days:
                _, _, s0, s1 = shift_window(d.isoformat(), args.shift)
                shifts.append((d.isoformat(), s0, s1))
            reply = serve.call(
                {"op": "shift-report", "start_s": start_s, "end_s": end_s, "trend": shifts}
            )
    except DeskError as e:
        say_error(e)
        return 2
    except (ControlError, OSError) as e:
        return _serve_failed(args, e)
    report, trend = reply["report"], reply["trend"]
    if args.json:
        import json

        print(json.dumps(reply, ensure_ascii=False, indent=1))
    model = view_model(report, trend, day, shift_name, reply.get("mine") or {})
    pngs, font = plots(report, trend)
    html = render_html(model, pngs, font)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "shift-%s-%s" % (day.isoformat(), re.sub(r"[^0-9A-Za-z]+", "", args.shift) or "x")
    html_path = out / (stem + ".html")
    html_path.write_text(html, encoding="utf-8")
    print(t("rp_written", path=html_path), file=sys.stderr)
    if not args.no_pdf:
        import weasyprint

        pdf_path = out / (stem + ".pdf")
        weasyprint.HTML(string=html, base_url=str(out)).write_pdf(pdf_path)
        print(t("rp_written", path=pdf_path), file=sys.stderr)
    return EXIT_OK
