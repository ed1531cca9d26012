"""The build's short private names (shaftgate/cli/shortnames.py): a private name is
renamed alike in every module, and a name anything could reach by its text is not."""

from shaftgate.cli import deploy, shortnames

ZONE = (
    "class Zone:\n"
    "    def __init__(self):\n"
    "        self._admitted_roles = 0\n"
    "        self._digest = b''\n"
    "    def _count_entry(self, n):\n"
    "        self._admitted_roles += n  # _admitted_roles: a comment keeps its text\n"
    "        return self._admitted_roles\n"
    "    def _cmd_hello(self):\n"
    "        return 'hello'\n"
    "    def handle(self, word):\n"
    "        return getattr(self, '_cmd_' + word)()\n"
)
APP = (
    "from gateway.zone import Zone\n"
    "def run(z):\n"
    "    z._count_entry(2)\n"
    "    return z._admitted_roles, getattr(z, '_digest'), z.handle('hello')\n"
)


def _built():
    sources = {"gateway/zone.py": ZONE, "gateway/app.py": APP}
    names = shortnames.plan(sources)
    return names, {p: shortnames.rename(t, names) for p, t in sources.items()}


def test_a_private_name_is_short_and_the_same_in_every_module():
    names, out = _built()
    short = names["_admitted_roles"]
    assert len(short) <= 3 and short.startswith("_")
    assert "self.%s = 0" % short in out["gateway/zone.py"]
    assert "z.%s" % short in out["gateway/app.py"]
    assert "# _admitted_roles: a comment" in out["gateway/zone.py"]
    # The renamed modules run as the sources do.
    ns = {}
    exec(compile(out["gateway/zone.py"], "zone", "exec"), ns)
    app = out["gateway/app.py"].replace("from gateway.zone import Zone\n", "")
    exec(compile(app, "app", "exec"), ns)
    assert ns["run"](ns["Zone"]()) == (2, b"", "hello")


def test_a_name_reachable_by_its_text_keeps_it():
    names, _ = _built()
    assert "_digest" not in names  # a string names it (getattr)
    assert "_cmd_hello" not in names  # a string starts it ('_cmd_' + word)
    assert "__init__" not in names and "handle" not in names and "run" not in names
    names = shortnames.plan({"gateway/zone.py": ZONE}, ["z._count_entry()"])
    assert "_count_entry" not in names and "_admitted_roles" in names
    names = shortnames.plan({"m.py": "import _thread\n_thread.x = 1\n_long_name = 2\n"})
    assert "_thread" not in names and "_long_name" in names


def test_the_short_names_never_collide_with_a_name_in_use():
    src = "_0 = 1\n_1 = 2\n_private_one = 3\n_private_two = 4\n"
    names = shortnames.plan({"m.py": src})
    assert set(names.values()).isdisjoint({"_0", "_1"})
    assert len(set(names.values())) == len(names) == 2


def test_every_board_gets_the_same_names():
    names = deploy.short_names()
    assert names and all(v.startswith("_") and len(v) < len(k) for k, v in names.items())
    for board in deploy.BOARDS:
        used = deploy.board_texts(board)[2]
        assert used == names
