import argparse
import gettext

import pytest
from mpy_plugin import pytest_collect_file  # noqa: F401  (hook: MicroPython items)
from mqtt_broker import TestMosquitto

from shaftgate import i18n


@pytest.fixture
def mosquitto_factory(tmp_path):
    """Start real Mosquittos (tests/mqtt_broker.py) on free loopback ports; all stopped at
    the end. mosquitto_factory(tls=make_tls(tmp_path), users={"u": "pw"})."""
    started = []

    def make(**kw):
        broker = TestMosquitto(tmp_path, **kw).start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory):
    """A plain real Mosquitto on a free loopback port (anonymous, no TLS)."""
    return mosquitto_factory()


@pytest.fixture(autouse=True)
def _operator_language_put_back():
    # The operator's language is process-wide (shaftgate/i18n.py): a test that sets Chinese
    # and fails before it sets English back must not turn the next test's text Chinese
    # (seen with a test file per xdist worker: test_demo's view read "12 秒").
    before = i18n._state["lang"]
    yield
    i18n._state["lang"] = before
    argparse.__dict__["_"] = gettext.gettext  # argparse's own words too (shaftgate/cli/helpzh.py)
