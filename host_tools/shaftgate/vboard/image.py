"""The firmware image a virtual board runs: the .mpy files `shaftgate deploy` builds for
the profile's board (deploy.build, the same mpy-cross and flags), plus hal/virtual.mpy,
which hal.load() picks on the virtual board. The board's own HAL module (hal/pico.mpy,
which needs `machine`) stays in the image unused, for the tests that run it over
stand-ins (tests/test_pico_hal.py); a file never imported costs no heap.

Built once per content: the folder is named by a hash of every source file and of
mpy-cross's version, so a test session builds it on the first board and every later
board (and every later session, until a source changes) reuses it. Built into a
temporary folder and renamed, so parallel builders never see half an image.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_REPO = Path(__file__).resolve().parents[3]
CACHE = "build/vboard"


def _deploy():
    # Imported when used: shaftgate.cli imports the simulator, which imports this package.
    from shaftgate.cli import deploy

    return deploy


def _digest(paths, tool):
    h = hashlib.sha256()
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    h.update(version.encode())
    h.update(" ".join(_deploy().MPY_CROSS_FLAGS).encode())
    h.update(b"layout 3: the board's HAL kept, constants folded")
    # What the build does to a source before mpy-cross (the const fallback, the folding).
    for tool_src in ("constfold.py", "shortnames.py", "deploy.py"):
        h.update((_REPO / "host_tools" / "shaftgate" / "cli" / tool_src).read_bytes())
    for p in sorted(paths):
        h.update(str(p).encode() + b"\0")
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def firmware_image(board, repo=_REPO):
    """Folder of the board's file system as deploy ships it for `board`, with
    hal/virtual.mpy added. Raises deploy.DeployError if a file does not compile."""
    repo = Path(repo)
    tool = _deploy().mpy_cross_path()
    sources = [src for src, _ in _deploy().firmware_sources(board, repo)]
    virtual = repo / "firmware" / "hal" / "virtual.py"
    key = _digest([*sources, virtual], tool)
    root = repo / CACHE
    final = root / ("%s-%s" % (board, key))
    if (final / "board").is_dir():
        return final / "board"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".%s-" % board, dir=root))
    try:
        _deploy().build(board, work, repo=repo, mpy_cross=tool)
        tree = work / "board"
        compile_module(
            tool,
            virtual,
            tree / "hal" / "virtual.mpy",
            "hal/virtual.py",
            _deploy().MPY_CROSS_FLAGS,  # it stands in for the board's HAL: compiled alike
            folded_beside([virtual], repo)[virtual],
        )
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "board").is_dir():
                raise
            # Another process finished the same image first: theirs is identical.
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final / "board"


def board_hal_cost(image_dir, modules, repo=_REPO, node=None):
    """Heap the real board's own HAL modules (e.g. hal.mcu, hal.pico) take beside the
    firmware, measured once per image under the same MicroPython (halcost.mjs) and kept
    beside it: {"bytes": all of them, "modules": {name: bytes}}, {"bytes": 0, ...} for no
    modules. Raises RuntimeError if the measurement fails."""
    if not modules:
        return {"bytes": 0, "modules": {}}
    image_dir = Path(image_dir)
    cached = image_dir.parent / ("hal-cost-2-%s.json" % "+".join(modules))
    if cached.is_file():
        return json.loads(cached.read_text())
    node = node or shutil.which("node")
    if not node:
        raise RuntimeError("Node.js is not on PATH: the board's HAL cannot be measured")
    proc = subprocess.run(
        [
            node,
            str(Path(__file__).with_name("halcost.mjs")),
            str(Path(repo)),
            str(image_dir),
            "gateway.boot",
            ",".join(modules),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(
            "measuring the heap of %s failed:\n%s" % (", ".join(modules), proc.stderr[-2000:])
        )
    figure = json.loads(proc.stdout.strip().splitlines()[-1])
    temp = cached.with_name(".%s.%d" % (cached.name, os.getpid()))
    temp.write_text(json.dumps(figure))
    os.replace(temp, cached)  # parallel measurers write the same figure
    return figure


def compile_module(tool, src, out, name, flags=(), text=None):
    # Test modules keep their line numbers (flags empty): their tracebacks are read.
    # text: what to compile in place of src's own text (src still names it).
    used = src
    if text is not None and text != src.read_text(encoding="utf-8"):
        used = Path(str(out)[: -len(".mpy")] + ".folded.py")
        used.write_text(text, encoding="utf-8")
    try:
        proc = subprocess.run(
            [tool, *flags, "-o", str(out), "-s", name, str(used)], capture_output=True, text=True
        )
    finally:
        if used != src:
            used.unlink()
    if proc.returncode != 0:
        raise _deploy().DeployError("mpy-cross could not compile %s:\n%s" % (src, proc.stderr))


def folded_beside(paths, repo=_REPO):
    """{path: the text to compile} for modules compiled beside the firmware (a test and
    its helpers, the virtual board's HAL): the const fallback stripped and the firmware's
    constants folded into them as the build folds them into its own modules
    (shaftgate/cli/constfold.py); a module that does not parse is left as it is (mpy-cross
    says what is wrong with it)."""
    from shaftgate.cli import constfold, shortnames  # as _deploy(): see there

    texts = {}
    for p in paths:
        text = Path(p).read_text(encoding="utf-8")
        texts[Path(p).name] = _deploy().strip_const_fallback(text)
    consts, names = firmware_consts(repo)
    try:
        folded, _ = constfold.fold_all(texts, given=consts, leaves=True)
    except SyntaxError:
        return {p: None for p in paths}
    return {p: shortnames.rename(folded[Path(p).name], names) for p in paths}


_CONSTS = {}


def firmware_consts(repo=_REPO):
    """(the constants the build folds, of every board's modules (shaftgate/cli/constfold.py),
    the private names it shortens (shaftgate/cli/shortnames.py)): a test or the virtual
    board's HAL compiled beside an image is folded and renamed alike. Worked out once
    per process and content (a few seconds)."""
    sources = sorted(
        {src for b in _deploy().BOARDS for src, _ in _deploy().firmware_sources(b, repo)}
    )
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sources)
    if key in _CONSTS:
        return _CONSTS[key]
    out = {}
    for board in _deploy().BOARDS:
        for module, names in _deploy().board_texts(board, repo)[1].items():
            out.setdefault(module, {}).update(names)
    _CONSTS[key] = out, _deploy().short_names(repo)
    return _CONSTS[key]


def compiled_tests(test_file, repo=_REPO):
    """Folder holding test_file and the test helpers beside it (its folder's modules not
    named test_*) as .mpy, for a MicroPython run held to a profile: test code then costs
    the heap what the firmware's own .mpy would, not what compiling source on the board
    would. A helper that mpy-cross refuses (CPython-only) is left out."""
    repo = Path(repo)
    tool = _deploy().mpy_cross_path()
    test_file = Path(test_file).resolve()
    helpers = [p for p in sorted(test_file.parent.glob("*.py")) if not p.name.startswith("test_")]
    sources = [*helpers, test_file]
    # The firmware's constants are folded into the tests: its sources are part of the key.
    firmware = [src for b in _deploy().BOARDS for src, _ in _deploy().firmware_sources(b, repo)]
    key = _digest([*sources, *set(firmware)], tool)
    final = repo / CACHE / ("tests-%s-%s" % (test_file.stem, key))
    if final.is_dir():
        return final
    (repo / CACHE).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".tests-", dir=repo / CACHE))
    texts = folded_beside(sources, repo)
    try:
        for src in sources:
            try:
                compile_module(tool, src, work / (src.stem + ".mpy"), src.name, text=texts[src])
            except _deploy().DeployError:
                if src == test_file:
                    raise
        try:
            os.rename(work, final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final
