"""Constants folded across the firmware's modules at build time (issue 9 item 2,
docs/hardware.md "Board fit").

mpy-cross folds `NAME = const(value)` inside the module that defines it, but a public NAME
(no leading underscore) is still stored as a module attribute, because another module
may read it, and every module that imports it holds it as a global of its own and looks
it up at run time. On a board each such name costs about 36 B of heap in the module that
defines it (its qstr, the globals dict's slot) and again in each importer: measured, 100
public consts cost 3,856 B, 100 private ones 208 B.

The build rewrites the source it hands mpy-cross, never the repository:
- a use of a constant of another firmware module, `from gateway.caps import LEVEL_OK`
  then `LEVEL_OK`, or `from gateway import caps` then `caps.LEVEL_OK`, becomes the number,
  and a name imported only for its value is no longer imported;
- a constant no other module still names (by word, anywhere in its text) is no longer
  stored as an attribute of its own module.
Only ints a 32-bit board holds as small ints are folded, and only a name bound exactly
once where it is used (the import or the const), so no scope can see another value.
The texts keep their meaning; only the names a module never looked up by name go.
"""

import ast
import io
import re
import tokenize
from collections import Counter

SMALL_MIN = -(1 << 30)
SMALL_MAX = (1 << 30) - 1

_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitXor: lambda a, b: a ^ b,
}


class _NotConst(Exception):
    pass


def module_name(path):
    """'gateway/events.py' -> 'gateway.events'; 'hal/__init__.py' -> 'hal'."""
    name = path[:-3].replace("/", ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _value(node, env):
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _value(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        if isinstance(node.op, ast.Invert):
            return ~v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        b = _value(node.right, env)
        if isinstance(node.op, (ast.LShift, ast.RShift)) and not 0 <= b <= 64:
            raise _NotConst
        if isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0:
            raise _NotConst
        return _OPS[type(node.op)](_value(node.left, env), b)
    raise _NotConst


def _const_call(stmt):
    # `NAME = const(expr)` at the top level: (NAME, expr) or None.
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target, call = stmt.targets[0], stmt.value
    if not (isinstance(target, ast.Name) and isinstance(call, ast.Call)):
        return None
    if not (isinstance(call.func, ast.Name) and call.func.id == "const"):
        return None
    if len(call.args) != 1 or call.keywords:
        return None
    return target.id, call.args[0]


def _bindings(tree):
    """{name: number of places that bind it anywhere in the module} (imports, assignments,
    parameters, definitions, globals...), the const's own assignment included."""
    seen = {}

    def bind(name):
        seen[name] = seen.get(name, 0) + 1

    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bind(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bind(node.name)
        elif isinstance(node, ast.arg):
            bind(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                bind((a.asname or a.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for n in node.names:
                bind(n)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bind(node.name)
    return seen


def constants_of(tree):
    """{NAME: value} of the module's public `NAME = const(int)` at the top level that can be
    folded elsewhere: a small int, the name bound nowhere else in the module."""
    env = {}
    out = {}
    for stmt in tree.body:
        found = _const_call(stmt)
        if found is None:
            continue
        name, expr = found
        try:
            v = _value(expr, env)
        except _NotConst:
            continue
        env[name] = v
        if not name.startswith("_") and SMALL_MIN <= v <= SMALL_MAX:
            out[name] = v
    once = _bindings(tree)
    return {k: v for k, v in out.items() if once.get(k) == 1}


def table(sources, given=None):
    """{module: {NAME: value}} for {path on the board: source text}: each module's own
    constants, and the constants it imports at its top level (another module may import
    them from it in turn). given: a table of modules built before (the firmware's, for
    tests compiled beside it), which these may import from."""
    trees = {module_name(p): ast.parse(t) for p, t in sources.items() if p.endswith(".py")}
    out = {m: dict(c) for m, c in (given or {}).items()}
    for m, tree in trees.items():
        out[m] = constants_of(tree)
    onces = {m: _bindings(tree) for m, tree in trees.items()}
    changed = True
    while changed:
        changed = False
        for m, tree in trees.items():
            once = onces[m]
            for stmt in tree.body:
                if not (isinstance(stmt, ast.ImportFrom) and stmt.level == 0):
                    continue
                src = out.get(stmt.module, {})
                for a in stmt.names:
                    local = a.asname or a.name
                    if a.name in src and once.get(local) == 1 and local not in out[m]:
                        out[m][local] = src[a.name]
                        changed = True
    return {m: c for m, c in out.items() if c}


class _Edits:
    def __init__(self, text):
        self.lines = text.split("\n")
        starts = [0]
        for line in self.lines:
            starts.append(starts[-1] + len(line.encode("utf-8")) + 1)
        self.starts = starts
        self.raw = text.encode("utf-8")
        self.edits = []

    def at(self, line, col):
        # ast columns are UTF-8 byte offsets.
        return self.starts[line - 1] + col

    def replace(self, node, new):
        a = self.at(node.lineno, node.col_offset)
        b = self.at(node.end_lineno, node.end_col_offset)
        self.edits.append((a, b, new.encode("utf-8")))

    def text(self):
        out = self.raw
        last = None
        for a, b, new in sorted(self.edits, reverse=True):
            if last is not None and b > last:
                raise ValueError("overlapping edits")
            out = out[:a] + new + out[b:]
            last = a
        return out.decode("utf-8")


def _literal(v):
    return "(%d)" % v if v < 0 else "%d" % v


def fold(text, consts, own=None, drop=(), leaf=False):
    """text with the constants of other modules (consts: table()) folded into it. own:
    this module's name; its top-level names in drop (its constants, and the constants it
    imports) are no longer bound: their uses folded, the const or the import removed.
    An import of constants inside a function goes once every use is folded, and so does
    every one of a leaf (a module no other imports a name from: a test)."""
    tree = ast.parse(text)
    once = _bindings(tree)
    ed = _Edits(text)
    names = {}  # local name -> value (from an import of a constant)
    modules = {}  # local name -> module's constants (an import of a module)
    nested = set()  # what a function or class holds: its imports bind no module attribute
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    todo = [(tree, False)]
    while todo:
        node, inside = todo.pop()
        inside = inside or isinstance(node, scopes)
        for child in ast.iter_child_nodes(node):
            if inside:
                nested.add(id(child))
            todo.append((child, inside))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            kept = []
            for a in node.names:
                local = a.asname or a.name
                table_ = consts.get(node.module, {})
                sub = consts.get(node.module + "." + a.name)
                if a.name in table_ and once.get(local) == 1:
                    names[local] = table_[a.name]
                    if leaf or id(node) in nested or local in drop:
                        continue
                elif sub is not None and once.get(local) == 1:
                    modules[local] = sub
                kept.append(a)
            if len(kept) != len(node.names):
                new = ", ".join(a.name + (" as " + a.asname if a.asname else "") for a in kept)
                ed.replace(node, "from %s import %s" % (node.module, new) if kept else "pass")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname and a.name in consts and once.get(a.asname) == 1:
                    modules[a.asname] = consts[a.name]
    mine = {}
    if own is not None:
        mine = {k: v for k, v in consts.get(own, {}).items() if k in drop}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            base = node.value
            if isinstance(base, ast.Name) and base.id in modules:
                table_ = modules[base.id]
                if node.attr in table_:
                    ed.replace(node, _literal(table_[node.attr]))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in names:
                ed.replace(node, _literal(names[node.id]))
            elif node.id in mine:
                ed.replace(node, _literal(mine[node.id]))
    for stmt in tree.body:
        found = _const_call(stmt)
        if found is not None and found[0] in mine:
            ed.replace(stmt, "pass")
    return ed.text()


def _words(text):
    """(Counter of the names in a text's code, Counter of the words in its strings, which
    getattr could look up); comments are neither."""
    names = Counter()
    strings = Counter()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME:
                names[tok.string] += 1
            elif tok.type == tokenize.STRING:
                strings.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tok.string))
    except (tokenize.TokenError, SyntaxError):
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return names, strings


def _lookups(path, text, consts):
    """(Counter of the names the module could look up in another module, {module: Counter
    of the names its `from module import` statements spell}). Its own constants' names
    (bound once, mpy-cross folds them) look nothing up elsewhere."""
    names, strings = _words(text)
    mine = consts.get(module_name(path), {})
    names = Counter({k: n for k, n in names.items() if k not in mine})
    imports = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module:
            c = imports.setdefault(node.module, Counter())
            for a in node.names:
                c[a.name] += 1
                if a.asname:
                    c[a.asname] += 1
    return names + strings, imports


def fold_all(sources, referrers=(), given=None, leaves=False):
    """({path: text}, table) for the board's modules {path: text} (.py), constants folded
    (see the module's comment). referrers: texts that run on the board beside them but
    are not built here (main.py, compiled on the board), whose words keep a name bound.
    given: the table of modules built before, which these import from but which never
    import from these (the firmware, for a test and its helpers). leaves: no module
    outside sources imports a name from them (tests), so an import of a constant goes
    wherever its uses are folded, as the module it came from may no longer have it."""
    consts = table(sources, given)
    out = {p: fold(t, consts, leaf=leaves) for p, t in sources.items()}
    outside = Counter()
    for text in referrers:
        for c in _words(text):
            outside.update(c)
    dropped = {module_name(p): set() for p in sources}
    words = {}
    stale = set(out)
    while stale:
        # Until nothing more goes: a name dropped from an importer may free the name in
        # the module it came from.
        for p in stale:
            words[p] = _lookups(p, out[p], consts)
        stale = set()
        for path, text in out.items():
            own = module_name(path)
            if own not in consts:
                continue
            used = Counter(outside)
            for other, (w, imports) in words.items():
                if other == path:
                    continue
                # A name another module imports from elsewhere looks nothing up here.
                spelled = Counter()
                for module, names in imports.items():
                    if module != own:
                        spelled.update(names)
                used.update(w - spelled)
            drop = {k for k in consts[own] if used[k] == 0} - dropped[own]
            if drop:
                dropped[own] |= drop
                out[path] = fold(text, consts, own, dropped[own])
                stale.add(path)
    return out, consts
