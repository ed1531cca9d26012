"""The build's constant folding across the firmware's modules (shaftgate/cli/constfold.py)
and its stripping of the const fallback (deploy.strip_const_fallback): the folded texts
mean what the sources mean, and only names nothing looks up by name go."""

import sys
import types

import pytest

from shaftgate.cli import constfold, deploy

FALLBACK = (
    "try:\n"
    "    from micropython import const\n"
    "except ImportError:\n"
    "\n"
    "    def const(__x):\n"
    "        return __x\n"
)

CAPS = FALLBACK + (
    "LEVEL_OK = const(0)\n"
    "LEVEL_FULL = const(2)\n"
    "SHIFT_UNKNOWN = const(-1)\n"
    "_HIDDEN = const(7)\n"
    "BIG = const(0x7FFFFFFF)\n"
    "MASK = const(_HIDDEN << 2)\n"
    "NAMED = const(5)\n"
    "def level(n):\n"
    "    return LEVEL_FULL if n > MASK else LEVEL_OK\n"
)
ZONE = FALLBACK + (
    "from gateway.caps import LEVEL_FULL, SHIFT_UNKNOWN as UNKNOWN, level\n"
    "from gateway import caps\n"
    "def check(n):\n"
    "    if level(n) == LEVEL_FULL:\n"
    "        return UNKNOWN, caps.SHIFT_UNKNOWN.bit_length(), caps.BIG\n"
    "    return caps.LEVEL_OK, caps.MASK, getattr(caps, 'NAMED')\n"
)


def _fold(sources, referrers=()):
    return constfold.fold_all(
        {p: deploy.strip_const_fallback(t) for p, t in sources.items()}, referrers
    )[0]


def _run(texts):
    # The folded modules, run by CPython as packages gateway.*.
    saved = {k: sys.modules.get(k) for k in ("gateway", "gateway.caps", "gateway.zone")}
    try:
        pkg = types.ModuleType("gateway")
        pkg.__path__ = []
        sys.modules["gateway"] = pkg
        mods = {}
        for path in ("gateway/caps.py", "gateway/zone.py"):
            name = constfold.module_name(path)
            mod = types.ModuleType(name)
            mod.const = lambda x: x  # a board's micropython.const
            sys.modules[name] = mod
            setattr(pkg, name.split(".")[1], mod)
            exec(compile(texts[path], path, "exec"), mod.__dict__)
            mods[name] = mod
        return mods
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def test_the_fallback_goes_and_every_line_stays_where_it_was():
    text = FALLBACK + "X = const(3)\n"
    out = deploy.strip_const_fallback(text)
    assert "micropython" not in out and "def const" not in out
    assert out.count("\n") == text.count("\n") and out.endswith("X = const(3)\n")


def test_the_fallback_stays_when_const_is_needed_at_run_time():
    for rest in ("f = const\n", "x = [const(3)]\n", "X, Y = const(1), 2\n"):
        assert deploy.strip_const_fallback(FALLBACK + rest) == FALLBACK + rest
    assert deploy.strip_const_fallback("X = 3\n") == "X = 3\n"


def test_a_constant_read_elsewhere_becomes_its_number_and_leaves_its_module():
    out = _fold({"gateway/caps.py": CAPS, "gateway/zone.py": ZONE})
    caps, zone = out["gateway/caps.py"], out["gateway/zone.py"]
    # Folded where read: an import by name, an alias, a module's attribute.
    assert "LEVEL_FULL" not in zone and "UNKNOWN" not in zone
    assert "(-1).bit_length()" in zone and "return 0, 28," in zone
    assert "from gateway.caps import level\n" in zone
    # No longer named by any other module: gone from its own (its uses folded).
    for gone in ("LEVEL_OK", "LEVEL_FULL", "SHIFT_UNKNOWN", "MASK"):
        assert gone not in caps, gone
    assert "return 2 if n > 28 else 0" in caps
    # Kept: a big int (an object on a 32-bit board), a name looked up by a string.
    assert "BIG = const(0x7FFFFFFF)" in caps and "caps.BIG" in zone
    assert "NAMED = const(5)" in caps
    # The folded modules behave as the sources do.
    mods = _run(out)
    assert mods["gateway.zone"].check(100) == (-1, 1, 0x7FFFFFFF)
    assert mods["gateway.zone"].check(1) == (0, 28, 5)


def test_a_name_bound_twice_or_named_by_a_referrer_is_not_folded_away():
    twice = ZONE + "def shadow(LEVEL_FULL):\n    return LEVEL_FULL\n"
    out = _fold({"gateway/caps.py": CAPS, "gateway/zone.py": twice})
    zone = out["gateway/zone.py"]
    assert "from gateway.caps import LEVEL_FULL, level" in zone
    assert "if level(n) == LEVEL_FULL" in zone
    assert "LEVEL_FULL = const(2)" in out["gateway/caps.py"]
    out = _fold({"gateway/caps.py": CAPS, "gateway/zone.py": ZONE}, ["caps.LEVEL_OK"])
    assert "LEVEL_OK = const(0)" in out["gateway/caps.py"]
    # A comment does not keep a name; a string does.
    out = _fold({"gateway/caps.py": CAPS, "gateway/zone.py": ZONE + "# MASK\n"})
    assert "MASK" not in out["gateway/caps.py"]
    out = _fold({"gateway/caps.py": CAPS, "gateway/zone.py": ZONE + "x = 'MASK'\n"})
    assert "MASK = const(_HIDDEN << 2)" in out["gateway/caps.py"]


def test_a_constant_passed_on_by_an_importer_is_folded_through_it():
    mid = "from gateway.caps import LEVEL_FULL\n"
    user = "from gateway.mid import LEVEL_FULL\nX = [LEVEL_FULL]\n"
    out = _fold({"gateway/caps.py": CAPS, "gateway/mid.py": mid, "gateway/user.py": user})
    assert out["gateway/user.py"] == "pass\nX = [2]\n"
    assert out["gateway/mid.py"] == "pass\n"


def test_an_import_inside_a_function_goes_once_its_uses_are_folded():
    user = "def f():\n    from gateway.caps import LEVEL_FULL\n    return LEVEL_FULL\n"
    out = _fold({"gateway/caps.py": CAPS, "gateway/user.py": user})
    assert out["gateway/user.py"] == "def f():\n    pass\n    return 2\n"


def test_text_after_other_scripts_keeps_its_columns():
    # ast columns count UTF-8 bytes: a line with Chinese before the name still folds.
    user = "from gateway.caps import LEVEL_FULL\nX = ('满员', LEVEL_FULL)\n"
    out = _fold({"gateway/caps.py": CAPS, "gateway/user.py": user})
    assert out["gateway/user.py"] == "pass\nX = ('满员', 2)\n"


def test_the_firmware_build_folds_and_still_compiles(tmp_path):
    texts, consts, _ = deploy.board_texts("pico")
    assert consts["gatewire.messages"]["HELLO"] == 1
    # A request type is read by number on the board now: not an attribute any more.
    assert "HELLO = const(" not in texts["gatewire/messages.py"]
    files = dict(deploy.build("pico", tmp_path))
    assert "gatewire/messages.mpy" in files


@pytest.mark.parametrize("bad", ["X = const(1 +)\n"])
def test_a_module_that_does_not_parse_is_named(bad, tmp_path):
    with pytest.raises(SyntaxError):
        constfold.fold_all({"gateway/x.py": bad})
