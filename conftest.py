import os

import pytest
from hypothesis import HealthCheck, settings

# "ci" is reproducible (same examples every run); "thorough" is for long runs by hand:
#   HYPOTHESIS_PROFILE=thorough make test
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    deadline=None,
    max_examples=5000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Board profiles (host_tools/shaftgate/vboard/profiles.py, docs/hardware.md): every virtual
# board and MicroPython test run is held to one. --board-profile chooses it for the session
# (else $SHAFTGATE_BOARD_PROFILE, else pico); a test that does not fit a board yet is listed
# in tests/board_fit.py, with the figure that stops it, and runs loose until it fits.
PROFILE_ENV = "SHAFTGATE_BOARD_PROFILE"


def pytest_addoption(parser):
    parser.addoption(
        "--board-profile",
        default=None,
        help="board profile of virtual boards and MicroPython runs: pico (default), esp32, "
        "esp32-frozen, loose (sets $%s)" % PROFILE_ENV,
    )
    parser.addoption(
        "--board-fit-listed",
        action="store_true",
        help="run the tests tests/board_fit.py lists under the session's board profile too "
        "(to re-measure them: remove an entry once its test passes)",
    )


def pytest_configure(config):
    from shaftgate.vboard import profiles

    chosen = config.getoption("--board-profile")
    if chosen is not None:
        try:
            profiles.resolve(chosen)
        except ValueError as e:
            raise pytest.UsageError(str(e)) from e
        # The environment, so that boards started by subprocesses (shaftgate sim) follow.
        os.environ[PROFILE_ENV] = chosen
    if config.getoption("--board-fit-listed"):
        import board_fit

        board_fit.NOT_YET.clear()


_saved_profile = pytest.StashKey()
_profile_before = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    # Before any fixture of the test, module-scoped ones included (a shared demo run).
    import board_fit

    item.stash[_profile_before] = os.environ.get(PROFILE_ENV)
    name = board_fit.profile_for(item.path, item.name)
    if name is not None:
        item.stash[_saved_profile] = os.environ.get(PROFILE_ENV)
        os.environ[PROFILE_ENV] = name
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    try:
        return (yield)
    finally:
        if _saved_profile in item.stash:
            old = item.stash[_saved_profile]
            if old is None:
                os.environ.pop(PROFILE_ENV, None)
            else:
                os.environ[PROFILE_ENV] = old
        _profile_kept(item)


def _profile_kept(item):
    # A test that changes the board profile and does not put it back would run every later
    # test of the session under it, silently (once, a helper left it "loose": the heap
    # checks of the rest of the suite were off). Put it back and fail the test that did it.
    before = item.stash.get(_profile_before, None)
    now = os.environ.get(PROFILE_ENV)
    if now == before:
        return
    if before is None:
        os.environ.pop(PROFILE_ENV, None)
    else:
        os.environ[PROFILE_ENV] = before
    pytest.fail(
        "%s left $%s=%r (was %r): put it back when done" % (item.nodeid, PROFILE_ENV, now, before),
        pytrace=False,
    )
