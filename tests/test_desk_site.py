# The desk's keys in the site file: zone kinds by their Chinese or English names, and
# the big-screen page's address (loopback by default, "off", or refused when wrong).
import pytest

from shaftgate.station import site as site_file

SITE = """\
[mine]
id = "m"
time_zone = "Asia/Shanghai"
%s
[[gateways]]
id = "gw-face1"
port = "/dev/null1"
zone = "face1"
kind = "%s"
"""


def load(tmp_path, kind="coal_face", serve=""):
    path = tmp_path / "site.toml"
    path.write_text(SITE % (serve, kind))
    return site_file.load(path)


def test_zone_kinds_by_name_in_either_language(tmp_path):
    assert load(tmp_path, "采煤工作面").gateways[0].kind == "coal_face"
    assert load(tmp_path, "Fully mechanised heading").gateways[0].kind == "fm_heading"
    with pytest.raises(site_file.SiteError, match=r"line 9, gateways\[0\]\.kind: '矿井'"):
        load(tmp_path, "矿井")


def test_the_page_is_on_loopback_unless_the_site_says(tmp_path):
    s = load(tmp_path)
    assert (s.page, s.page_required) == (("127.0.0.1", 8470), False)
    s = load(tmp_path, serve='[serve]\npage = "0.0.0.0:9000"\n')
    assert (s.page, s.page_required) == (("0.0.0.0", 9000), True)
    assert load(tmp_path, serve='[serve]\npage = "off"\n').page is None
    with pytest.raises(site_file.SiteError, match=r"serve\.page: 'everywhere': expected HOST:PORT"):
        load(tmp_path, serve='[serve]\npage = "everywhere"\n')
