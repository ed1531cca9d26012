# An order serve was killed in the middle of (begun in the record, no answers stored) is
# said to be so when serve starts again: it may or may not have been carried out. Before,
# it stayed "answered 0/0" for ever, as if it had had no gateway to go to. Found by the
# serve-crash run (issue 13, tests/reliability_crash.py: 30 of 50 kills left one).
from shaftgate.station import site as site_file
from shaftgate.station.serve import Station
from shaftgate.station.store import Store

SITE = """\
[mine]
id = "m1"
name = "测试矿 Test mine"
time_zone = "Asia/Shanghai"

[serve]
database = "station.db"

[[gateways]]
id = "gw-shaft"
port = "/dev/null-shaft"
zone = "shaft"
kind = "shaft"

[[gateways]]
id = "gw-face1"
port = "/dev/null-face1"
zone = "face1"
kind = "coal_face"
"""


def test_an_order_cut_by_a_crash_is_marked_at_the_next_start_and_a_finished_one_is_not(tmp_path):
    (tmp_path / "site.toml").write_text(SITE)
    site = site_file.load(tmp_path / "site.toml")
    store = Store(site.database)
    done = store.begin_order("wang", "roof fall", "seal", {}, ["gw-face1"])
    done_results = [{"gateway_id": "gw-face1", "zone": "face1", "result": None}]
    store.finish_order(done, done_results)
    cut = store.begin_order("wang", "gas", "evacuate", {"drill": False}, ["gw-shaft", "gw-face1"])
    store.close()  # serve killed here: the answers never stored

    station = Station(site, publish=False)
    try:
        orders = {o["id"]: o for o in station.store.orders()}
    finally:
        station.store.close()
    assert orders[done]["results"] == done_results
    marked = orders[cut]
    assert marked["finished_s"] is not None
    assert [r["gateway_id"] for r in marked["results"]] == ["gw-shaft", "gw-face1"]
    assert [r["zone"] for r in marked["results"]] == ["shaft", "face1"]
    for r in marked["results"]:
        assert r["error"]["type"] == "ServeStopped"
        assert "may or may not have been carried out" in r["error"]["message"]
        assert "是否执行" in r["error"]["message"]
