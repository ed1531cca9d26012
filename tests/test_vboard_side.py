# The side channel of a board another process runs (shaftgate/vboard/side.py), driven as
# `shaftgate sim`'s users drive it: power operations answer over JSON like every other
# (issue 13.5: power_on() returned the board itself, which JSON cannot carry).
import pytest
from test_vboard import ECHO_FIRMWARE, REPO, ask, open_port

from shaftgate.sim import Sim, SimError
from shaftgate.vboard import VirtualBoard
from shaftgate.vboard.side import RemoteBoard, SideChannelServer

pytestmark = pytest.mark.skipif(
    not (REPO / "node_modules/@micropython/micropython-webassembly-pyscript").exists(),
    reason="the MicroPython runtime is not installed (./dev setup)",
)


@pytest.fixture
def served(tmp_path):
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "echo_boot.py").write_text(ECHO_FIRMWARE)
    board = VirtualBoard("b1", tmp_path / "run", entry="echo_boot", extra_dir=fw).start()
    server = SideChannelServer(board, tmp_path / "side.sock")
    try:
        yield board, str(tmp_path / "side.sock")
    finally:
        server.close()
        board.stop()


def test_power_cut_power_on_and_reset_over_the_side_channel(served):
    board, path = served
    with RemoteBoard(path) as remote:
        assert remote.power_cut() is None
        assert not board.powered
        assert remote.power_on() is None  # the board booted; nothing else to say
        assert board.powered and board.running
        assert remote.reset() is None
        assert board.running
        with open_port(board) as port:
            assert ask(port, b"!time").startswith(b"time ")  # it serves after the reset


def test_a_second_sim_on_one_home_is_refused_and_the_first_keeps_running(tmp_path):
    # Two firmwares on one flash repeat event seqs (issue 13.2): sim refuses the second.
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "echo_boot.py").write_text(ECHO_FIRMWARE)
    home = tmp_path / "home"
    first = Sim(1, home, entry="echo_boot", extra_dir=fw)
    try:
        with pytest.raises(SimError, match="another shaftgate sim is running"):
            Sim(1, home, entry="echo_boot", extra_dir=fw)
        assert first.boards[0].running
    finally:
        first.stop()
    # Not firing: once the first has stopped, the home is free again.
    again = Sim(1, home, entry="echo_boot", extra_dir=fw)
    again.stop()
