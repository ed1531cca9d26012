"""Boards and simulations: selfcheck, demo, sim, deploy."""

from shaftgate import sim
from shaftgate.cli import EXIT_FAILED, EXIT_OK, deploy, register
from shaftgate.sim import demo


def _selfcheck(args):
    # Imported here: the self-check pulls in threads and ptys no other command needs.
    from shaftgate.cli import selfcheck

    return EXIT_OK if selfcheck.run(print) else EXIT_FAILED


register("selfcheck", "check the host's protocol stack over a pty pair, no board needed", "local")(
    _selfcheck
)
register(
    "demo",
    "the simulated mine: virtual gateways, a scripted shift and the live dispatch view",
    "local",
    add_arguments=demo.add_arguments,
)(demo.run)
register(
    "sim",
    "run N virtual gateway boards until Ctrl-C; prints their serial ports",
    "local",
    add_arguments=sim.add_arguments,
)(sim.run)


register(
    "deploy",
    "compile the firmware, copy it to a Pico or ESP32 with mpremote, provision key and config",
    "local",
    add_arguments=deploy.add_arguments,
)(deploy.run)
