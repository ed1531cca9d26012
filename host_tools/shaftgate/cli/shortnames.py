"""Short names for the firmware's private names at build time (issue 9 item 2,
docs/hardware.md "Board fit").

A board interns every name an imported module uses (its text, once, for good), so a long
private name such as `_restore_override_expiry` costs its length in heap however rarely it
runs. The build renames each private name (one leading underscore, longer than four
characters) to a short one of its own, `_0`, `_1`, ... in every firmware module alike, in
the source it hands mpy-cross, never in the repository. Public names, the wire's and the
docs' names, stay as they are.

A name is left alone when anything could reach it by its text: a string in any module
(getattr, hasattr), a string that ends in `_` and starts the name (`"_cmd_" + word`), a
file that runs on the board beside the firmware but is not built with it (main.py, the
virtual board's HAL). Tests compiled beside the image get the same renaming
(shaftgate/vboard/image.py), so what they reach by name stays reachable.
"""

import ast
import io
import re
import tokenize

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _tokens(text):
    return list(tokenize.generate_tokens(io.StringIO(text).readline))


def _short(n):
    out = ""
    while True:
        out = _ALPHABET[n % len(_ALPHABET)] + out
        n //= len(_ALPHABET)
        if n == 0:
            return "_" + out


def plan(sources, referrers=()):
    """{long private name: short name} for {path: text} (the board's modules); referrers:
    texts beside them that are not renamed, whose every word stays."""
    names = {}
    strings = set()
    prefixes = set()
    keep = set()
    for text in referrers:
        keep |= set(_WORD.findall(text))
    taken = set(keep)
    for text in sources.values():
        # A module's name is looked up by its text (import): `import _thread` stays.
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                for a in node.names:
                    keep |= set(a.name.split("."))
            elif isinstance(node, ast.ImportFrom) and node.module:
                keep |= set(node.module.split("."))
        for tok in _tokens(text):
            if tok.type == tokenize.NAME:
                names[tok.string] = names.get(tok.string, 0) + 1
                taken.add(tok.string)
            elif tok.type == tokenize.STRING:
                for w in _WORD.findall(tok.string):
                    strings.add(w)
                    if w.startswith("_") and w.endswith("_") and len(w) > 2:
                        prefixes.add(w)
    candidates = []
    for name in names:
        if not name.startswith("_") or name.startswith("__") or len(name) <= 4:
            continue
        if name in strings or name in keep:
            continue
        if any(name.startswith(p) for p in prefixes):
            continue
        candidates.append(name)
    # The most used names get the shortest replacements (a module's qstr table holds each
    # once, but a shorter one is shorter everywhere).
    candidates.sort(key=lambda n: (-names[n], n))
    out = {}
    n = 0
    for name in candidates:
        while True:
            short = _short(n)
            n += 1
            if short not in taken:
                break
        out[name] = short
    return out


def rename(text, names):
    """text with each NAME token in names replaced (strings and comments untouched)."""
    lines = text.split("\n")
    edits = {}
    for tok in _tokens(text):
        if tok.type == tokenize.NAME and tok.string in names:
            row, col = tok.start
            edits.setdefault(row - 1, []).append((col, tok.end[1], names[tok.string]))
    for row, cuts in edits.items():
        line = lines[row]
        for a, b, new in sorted(cuts, reverse=True):
            line = line[:a] + new + line[b:]
        lines[row] = line
    return "\n".join(lines)
