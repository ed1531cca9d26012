# How soon serve tries a gateway's link again (station/links.py): a gateway that answered
# and then lost a reply to a bad line is tried again at once, not after a backoff grown by
# earlier failures. Found by the link-fault run (issue 13, tests/reliability_link.py):
# under 3 % frame faults the backoff climbed to 8 s and the link was up 43 % of the time.
from shaftgate.link.transport import LinkError
from shaftgate.station import links
from shaftgate.station import site as site_file

SITE = """\
[mine]
id = "m1"
name = "测试矿 Test mine"
time_zone = "Asia/Shanghai"

[serve]
database = "station.db"

[[gateways]]
id = "gw-shaft"
port = "/dev/ttyACM0"
zone = "shaft"
kind = "shaft"
"""


def _waits(tmp_path, sessions):
    # Runs the link thread's loop over scripted sessions; -> the backoff before each retry.
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    link = links.GatewayLink(site_file.load(path).gateway("gw-shaft"), station=None)
    script = iter(sessions)
    waits = []

    def session():
        answers = next(script)
        if answers:
            link._answered()
        raise LinkError("no reply from gateway gw-shaft to status")

    def wait(seconds):
        waits.append(seconds)
        if len(waits) == len(sessions):
            link._halt.set()
        return link._halt.is_set()

    link._session = session
    link._halt.wait = wait
    link.run()
    return waits


def test_a_gateway_that_answered_is_tried_again_at_the_shortest_wait(tmp_path):
    # Three silent attempts, then sessions that answered before their line failed.
    waits = _waits(tmp_path, [False, False, False, True, True, True])
    assert waits[:3] == [0.25, 0.5, 1.0]
    assert waits[3:] == [links.BACKOFF_MIN_S] * 3


def test_a_gateway_that_never_answers_is_tried_less_and_less_often(tmp_path):
    waits = _waits(tmp_path, [False] * 8)
    assert waits == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
