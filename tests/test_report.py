# The shift report (R-CAP-10, R-CAP-11) from a recorded shift: the record is written
# through the store's own API before serve starts on it; the report is made through the
# CLI's entry point and checked for its numbers, in the HTML and in the PDF.
import datetime
import os
import shutil
import subprocess
import zoneinfo

import pytest
from serve_rig import SHAFTGATE

from gateway import events as ev
from gateway import zone
from shaftgate.station import report
from shaftgate.station import site as site_file
from shaftgate.station.control import wait_for
from shaftgate.station.store import EventRecord, Store

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
SITE = """\
[mine]
id = "report-mine"
name = "测试矿 Report mine"
time_zone = "Asia/Shanghai"

[serve]
database = "station.db"
socket = "serve.sock"

[[gateways]]
id = "gw-shaft"
port = "/nonexistent/shaft"
zone = "shaft"
kind = "shaft"

[[gateways]]
id = "gw-face1"
port = "/nonexistent/face1"
zone = "face1"
kind = "coal_face"
"""


def at(day, hhmm, extra_s=0):
    h, m = map(int, hhmm.split(":"))
    return int(datetime.datetime(2026, 12, day, h, m, tzinfo=TZ).timestamp()) + extra_s


def write_record(store):
    face = [
        (at(3, "08:10"), ev.ENTRY, 1, 0, 1),
        (at(3, "08:20"), ev.ENTRY, 2, 0, 2),
        (at(3, "08:30"), ev.CAP_WARNING, 0, 2, 3),
        (at(3, "08:40"), ev.ENTRY, 3, 0, 3),
        (at(3, "08:40"), ev.CAP_FULL, 0, 3, 3),
        (at(3, "08:50"), ev.ENTRY_REFUSED, 4, 504, zone.REFUSE_CAP),
        (at(3, "09:00"), ev.OVER_CAP_ENTRY, 4, 504, 4),
        (at(3, "09:00"), ev.CAP_OVER, 0, 4, 3),
        (at(3, "09:30"), ev.EXIT, 4, 504, 3),
        (at(3, "09:30"), ev.CAP_FULL, 0, 3, 3),
        (at(3, "10:00"), ev.EXIT, 3, 0, 2),
        (at(3, "10:00"), ev.EXIT, 2, 0, 1),
        (at(3, "10:00"), ev.CAP_OK, 0, 1, 3),
        (at(3, "11:00"), ev.GAS_OVER, 1, 12000, 10000),
        (at(3, "11:05"), ev.GAS_PEAK, 1, 13000, 300),
        (at(3, "11:10"), ev.GAS_OVER_END, 1, 13000, 600),
        (at(3, "12:00"), ev.DRILL_START, 0, 1, 6),
        (at(3, "12:01", 35), ev.ZONE_CLEAR, 1, 95, 500),
        (at(3, "12:30"), ev.EVAC_END, 0, 1800, 1),
        (at(3, "17:00"), ev.ENTRY, 9, 0, 2),  # after the shift: not in it
    ]
    shaft = [(at(2, "08:05", n), ev.ENTRY, n, 0, n) for n in range(1, 6)]  # 5 people
    shaft += [(at(3, "08:05", n), ev.ENTRY, n, 0, 5 + n) for n in range(1, 5)]  # then 4
    for gid, rows in (("gw-face1", face), ("gw-shaft", shaft)):
        EventRecord(store, gid).append(
            [
                {"seq": n, "time_s": t, "kind": k, "tag": tag, "a": a, "b": b, "digest": b"d" * 16}
                for n, (t, k, tag, a, b) in enumerate(rows, 1)
            ]
        )


@pytest.fixture
def recorded(tmp_path):
    (tmp_path / "site.toml").write_text(SITE)
    store = Store(tmp_path / "station.db")
    write_record(store)
    yield store, site_file.load(tmp_path / "site.toml"), tmp_path
    store.close()


def test_the_shift_numbers(recorded):
    store, site, _ = recorded
    r = report.shift_report(store, site, at(3, "08:00"), at(3, "16:00"))
    face = next(z for z in r["zones"] if z["gateway_id"] == "gw-face1")
    assert (face["peak"], face["peak_s"], face["cap"]) == (4, at(3, "09:00"), 3)
    assert face["over_cap"] and face["above_warning_s"] == 90 * 60
    assert (face["over_cap_entries"], face["refusals"], face["cap_refusals"]) == (1, 1, 1)
    assert face["violations"] == {ev.OVER_CAP_ENTRY: 1}
    assert [(e["drill"], e["clear_s"]) for e in face["evacuations"]] == [(True, 95.5)]
    assert [(g["gas"], g["peak"], g["duration_s"]) for g in face["gas"]] == [(1, 13000, 600)]
    assert face["series"][-1] == (at(3, "16:00"), 1)  # the 17:00 entry is not in it
    # a quiet shift: nothing above the warning, no peak above what was inside
    quiet = report.shift_report(store, site, at(3, "13:00"), at(3, "16:00"))
    q = next(z for z in quiet["zones"] if z["gateway_id"] == "gw-face1")
    assert (q["peak"], q["above_warning_s"], q["over_cap_entries"], q["gas"]) == (1, 0, 0, [])
    trend = report.trend(
        store,
        site,
        [
            ("2026-12-02", at(2, "08:00"), at(2, "16:00")),
            ("2026-12-03", at(3, "08:00"), at(3, "16:00")),
        ],
    )
    assert trend["baseline"] == 5 and trend["goal"] == 4.5
    assert [(r["people"], r["goal_met"]) for r in trend["rows"]] == [(5, False), (4, True)]
    assert trend["rows"][1]["change"] == pytest.approx(-0.2)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils (./dev setup)")
def test_report_through_serve_in_html_and_pdf(recorded, tmp_path):
    _store, _site, home = recorded
    env = dict(os.environ, SHAFTGATE_HOME=str(home))
    serve = subprocess.Popen(
        [str(SHAFTGATE), "serve", "--site", str(home / "site.toml"), "--no-publish"],
        env=env,
        stdout=open(home / "serve.log", "wb"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(home / "serve.sock", 30)
        out = tmp_path / "out"
        argv = [str(SHAFTGATE), "report", "shift", "--date", "2026-12-03", "--shift", "2"]
        argv += ["--out", str(out), "--trend-days", "1", "--lang", "zh"]
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        html = (out / "shift-2026-12-03-2.html").read_text(encoding="utf-8")
        assert "2026-12-03 8点班 班报" in html and "测试矿" in html
        assert "4 (09:00)" in html and "1 小时 30 分" in html  # peak; above the warning
        assert "甲烷 11:00:00, 峰值 13000 ppm, 10 分" in html
        assert "演练 12:00:00, 撤空用时 95.5 秒" in html
        assert "超员进入 &times; 1" in html
        assert "-20.0 %" in html and "不超过 4 人" in html  # R-CAP-10 trend: 5 -> 4
        assert html.count("data:image/png;base64,") == 3  # two zones and the trend
        pdf = out / "shift-2026-12-03-2.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(out / "page")],
            check=True,
            timeout=60,
        )
        from PIL import Image

        page = Image.open(next(out.glob("page*.png"))).convert("L")
        dark = sum(page.histogram()[:128])
        assert page.size[0] > 400 and dark > 2000, (page.size, dark)  # text and plots drawn
        en = subprocess.run(
            [*argv[:-1], "en", "--no-pdf"], env=env, capture_output=True, text=True, timeout=180
        )
        assert en.returncode == 0, en.stderr
        html = (out / "shift-2026-12-03-2.html").read_text(encoding="utf-8")
        assert "shift report 2026-12-03, day shift" in html and "cleared in 95.5 s" in html
        bad = subprocess.run(
            [*argv[:3], "--date", "2026-13-03", "--shift", "2"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert bad.returncode == 2 and "is not a date" in bad.stderr
    finally:
        serve.terminate()
        serve.wait(15)
