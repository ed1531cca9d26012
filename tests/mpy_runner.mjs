// Runs Python under the real MicroPython interpreter (official WebAssembly port).
//   node tests/mpy_runner.mjs test <file.py> [settings]   its test_* functions, one JSON line each
//   node tests/mpy_runner.mjs run <file.py>              a script, its output passed through
// Without settings, protocol/, firmware/ and tests/ are copied into the interpreter's file
// system as source and the heap may grow (benches, the loose profile).
// With settings (JSON from tests/mpy_plugin.py) the run is held to a board profile
// (docs/hardware.md, "Board profiles"): the firmware is the .mpy image deploy ships
// (settings.image_dir), the test module and its helpers are .mpy too (settings.test_dir),
// the GC heap is the profile's, and it is read inside each call just before it returns
// (this port collects only when a call returns, and then frees the areas the call grew
// and emptied): the import, then each test function as its own call, or each part of a
// test in parts (tests/hostcalls.py) as its own. A heap grown past the profile is the
// board's MemoryError: that test fails saying so, and the tests after it start on a fresh
// interpreter (a board that ran out of memory is dead).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [mode, target, settingsText] = process.argv.slice(2);
if (!["test", "run"].includes(mode) || !target) {
  process.stderr.write("usage: mpy_runner.mjs test|run FILE.py [settings-json]\n");
  process.exit(2);
}
const settings = settingsText ? JSON.parse(settingsText) : null;
const MARK = "@@mpy-result ";

function copyTree(mp, hostDir, vmDir, keep) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
    const h = path.join(hostDir, ent.name);
    const v = vmDir + "/" + ent.name;
    if (ent.isDirectory()) copyTree(mp, h, v, keep);
    else if (keep(ent.name)) mp.FS.writeFile(v, fs.readFileSync(h));
  }
}

const abs = path.resolve(target);
const modName = path.basename(abs, ".py");
let capture = null;

// The runner's own Python, the same in a test run and in the measurement of what it holds.
function runnerCode(paths) {
  return `
import sys, io, json, time, gc, micropython
for p in ${JSON.stringify(paths)}:
    if p not in sys.path:
        sys.path.append(p)
def _tb(e):
    s = io.StringIO()
    sys.print_exception(e, s)
    return s.getvalue()
def _report(d):
    print(${JSON.stringify(MARK)} + json.dumps(d))
_mod = None
_import_heap = None
def _import():
    global _mod, _import_heap
    try:
        _mod = __import__(${JSON.stringify(modName)})
        r = ""
    except BaseException as e:
        r = _tb(e)
    _import_heap = json.dumps(_heap_in())
    return r
def _names():
    return "/".join(n for n in sorted(dir(_mod)) if n.startswith("test_") and callable(getattr(_mod, n)))
_split = 0
def _heap_in():
    # The heap this call needed, read before it returns: the port collects only when a
    # call from the host ends, and that sweep gives back the areas the call grew that hold
    # nothing live, so the heap read after the return no longer shows them.
    return [gc.mem_alloc() + gc.mem_free() - _split, gc.mem_alloc()]
_parts = None
_t0 = 0
def _test(name):
    # One call: the test, or the start of a test in parts (tests/hostcalls.py) whose
    # generator _part() then runs one part per call.
    global _parts, _t0
    _t0 = time.ticks_ms()
    try:
        f = getattr(_mod, name)
        hc = sys.modules.get("hostcalls")
        gen = hc.PARTS.get(f) if hc else None
        if gen is None:
            f()
            r = {"name": name, "ok": True, "ms": time.ticks_diff(time.ticks_ms(), _t0)}
        else:
            _parts = gen()
            r = {"name": name, "more": True}
    except BaseException as e:
        r = {"name": name, "ok": False, "tb": _tb(e)}
    r["heap_in"] = _heap_in()
    return json.dumps(r)
def _part():
    global _parts
    try:
        next(_parts)
        r = {"more": True}
    except StopIteration:
        _parts = None
        r = {"ok": True, "ms": time.ticks_diff(time.ticks_ms(), _t0)}
    except BaseException as e:
        _parts = None
        r = {"ok": False, "tb": _tb(e)}
    r["heap_in"] = _heap_in()
    return json.dumps(r)
def _mem_info():
    micropython.mem_info()
`;
}

async function load(heapsize) {
  return loadMicroPython({
    heapsize,
    linebuffer: true,
    stdout: (line) => {
      if (capture !== null) capture.push(line);
      else process.stdout.write(line + "\n");
    },
    stderr: (line) => process.stderr.write(line + "\n"),
  });
}

function boardFiles(mp) {
  // The firmware as deploy ships it (/board) and the test module with its helpers (/tests).
  copyTree(mp, settings.image_dir, "/board", (n) => n.endsWith(".mpy"));
  copyTree(mp, settings.test_dir, "/tests", (n) => n.endsWith(".mpy"));
  return ["/board", "/tests"];
}

// GC heap total (`GC: total` of mem_info) of an instance given `heapsize` bytes: the
// port's gc_init() takes one allocation-table byte per 4 blocks of 16 bytes and a
// finaliser bit per block out of it, and keeps whole 64-byte runs: 64 * floor(h * 2 / 131)
// (checked when the heap is made: heapTotal() must read it back).
const boardTotal = (heapsize) => 64 * Math.floor((heapsize * 2) / 131);
// The inverse, with room for the port's alignment of the heap it is given.
const heapsizeFor = (total) => 16 * Math.ceil(((total / 64) * 65.5 + 16) / 16);

async function interpreter(heapTotalWanted) {
  let mp;
  let paths;
  if (settings) {
    mp = await load(heapsizeFor(heapTotalWanted));
    paths = boardFiles(mp);
  } else {
    mp = await load(4 * 1024 * 1024);
    for (const d of ["protocol", "firmware", "tests", "benches"]) {
      const keep = (n) => n.endsWith(".py");
      if (fs.existsSync(path.join(repo, d))) copyTree(mp, path.join(repo, d), "/repo/" + d, keep);
    }
    const modDir = "/repo/" + path.relative(repo, path.dirname(abs)).split(path.sep).join("/");
    mp.FS.mkdirTree(modDir);
    mp.FS.writeFile(modDir + "/" + modName + ".py", fs.readFileSync(abs));
    paths = ["/repo/protocol", "/repo/firmware", "/repo/tests", "/repo/benches", modDir];
  }
  mp.runPython(runnerCode(paths));
  return mp;
}

// ---- what the board's heap is charged (docs/hardware.md, "Board profiles") ----
// The test runs in the same heap as the firmware, beside code no board ever holds: the
// runner's own functions, the test module and its helper modules (tests/*.py, compiled
// as .mpy). Their live heap, measured per test module, is added to the board's heap (the
// allowance); the Pico's own HAL, which a board holds and the runner does not, is taken
// off it as far as the test's stand-in for it (tests/fakeboard.py) costs less. Garbage
// made by test code and objects the test keeps are never in the allowance: they count.

function liveHeap(mp) {
  // gc.collect() only asks this port for a collection, which runs when that call returns.
  mp.runPython("gc.collect()");
  mp.runPython("gc.collect()");
  mp.runPython("_live = gc.mem_alloc()");
  return Number(mp.globals.get("_live"));
}

function qstrPools(mp) {
  // Bytes of the interpreter's qstr pools' tables (not the strings): they grow by doubling.
  capture = [];
  try {
    mp.runPython("micropython.qstr_info()");
  } finally {
    const m = /n_str_data_bytes=(\d+), n_total_bytes=(\d+)/.exec(capture.join("\n"));
    capture = null;
    if (!m) throw new Error("no qstr pool line in micropython.qstr_info()");
    return Number(m[2]) - Number(m[1]);
  }
}

function imageModules(dir, prefix = "") {
  // Every module of the firmware image, as import names.
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    if (ent.isDirectory()) out.push(...imageModules(path.join(dir, ent.name), prefix + ent.name + "."));
    else if (ent.name.endsWith(".mpy")) {
      const stem = ent.name.slice(0, -4);
      out.push(stem === "__init__" ? prefix.slice(0, -1) : prefix + stem);
    }
  }
  return out.sort((x, y) => x.split(".").length - y.split(".").length || (x < y ? -1 : 1));
}

function moduleOrigin(mp, name) {
  // "board" for a firmware module (deploy's image), "tests" for a test module or helper,
  // null for a module built into the port (no heap of ours).
  const rel = name.split(".").join("/");
  for (const [root, origin] of [["/board/", "board"], ["/tests/", "tests"]]) {
    for (const f of [rel + ".mpy", rel + "/__init__.mpy"]) {
      if (mp.FS.analyzePath(root + f).exists) return origin;
    }
  }
  return null;
}

async function importOrder() {
  // The modules the test module's import loads, each once its own import has finished
  // (a module after those it imports), in a throwaway interpreter.
  const mp = await load(4 * 1024 * 1024);
  boardFiles(mp);
  mp.runPython(
    [
      "import sys, builtins",
      "sys.path[:0] = ['/board', '/tests']",
      "_order = []",
      "_orig = builtins.__import__",
      "def _done(n):",
      "    if n in sys.modules and n not in _order:",
      "        _order.append(n)",
      "def _hook(*a):",
      "    m = _orig(*a)",
      "    # This import's module and its packages, once it has run (its own imports, made",
      "    # through this hook while it ran, are in already): sys.modules holds a module from",
      "    # the start of its run, so it is not read for what has finished.",
      "    parts = a[0].split('.') if a[0] else []",
      "    for i in range(len(parts)):",
      "        _done('.'.join(parts[: i + 1]))",
      "    for sub in (a[3] if len(a) > 3 and isinstance(a[3], (tuple, list)) else ()):",
      "        _done(a[0] + '.' + sub)",
      "    return m",
      "_known = list(sys.modules)",
      "builtins.__import__ = _hook",
      "_err = ''",
      "try:",
      "    __import__(" + JSON.stringify(modName) + ")",
      "except BaseException as e:",
      "    _err = repr(e)",
      "builtins.__import__ = _orig",
      "_order.extend(sorted((n for n in sys.modules if n not in _order), key=lambda n: n.count('.')))",
      "_order = '/'.join(n for n in _order if n not in _known)",
    ].join("\n"),
  );
  const err = String(mp.globals.get("_err"));
  const order = String(mp.globals.get("_order")).split("/").filter(Boolean);
  return { err, order: order.map((n) => [n, moduleOrigin(mp, n)]).filter((x) => x[1]) };
}

async function measureAccount() {
  // On a collected heap, as halcost.mjs measures the board's HAL, each import its own
  // call. What a board would hold too is loaded first, so that a test module's import
  // finds it loaded and adds only what is the test's alone:
  // 1. every module of the firmware image (one that needs `machine` fails, its names
  //    interned all the same): the strings the firmware interns are the firmware's,
  //    whichever loads them first in a test run;
  // 2. sys.modules grown by as many entries as the test adds, then emptied of them (a
  //    table that doubles for the test's modules is not counted as theirs);
  // 3. the test's stand-in for the board's HAL (fakeboard), measured;
  // 4. the runner's own code, measured (in a test run it is compiled before the rest);
  // 5. the test's modules (the helpers, then the test module) in the order its import
  //    loads them, each measured.
  // Figures 3-5 leave out the growth of the qstr pools' tables, which double: the names
  // of the test code are charged to the board (stricter, never looser).
  const { err, order } = await importOrder();
  const mp = await load(4 * 1024 * 1024);
  boardFiles(mp);
  mp.runPython("import gc, sys, micropython\n_live = 0\nsys.path[:0] = ['/board', '/tests']");
  for (const name of imageModules(settings.image_dir)) {
    mp.runPython("try:\n    __import__(" + JSON.stringify(name) + ")\nexcept Exception:\n    pass");
  }
  // The port's modules the runner imports (no heap: they are the port's). An import that
  // failed above leaves about 1.4 KB held until the next import: this one lets it go
  // (measured: else the runner's figure came out 128-224 bytes below nothing).
  mp.runPython("import sys, io, json, time, gc, micropython");
  const measure = (code) => {
    const live0 = liveHeap(mp);
    const pool0 = qstrPools(mp);
    mp.runPython(code);
    const live1 = liveHeap(mp);
    return live1 - live0 - (qstrPools(mp) - pool0);
  };
  const imp = (name) => "__import__(" + JSON.stringify(name) + ")";
  const standins = settings.hal_standins || [];
  const testSide = order.filter((x) => x[1] === "tests").map((x) => x[0]);
  mp.runPython(
    "for _i in range(" + testSide.length + "):\n    sys.modules['_slot%d' % _i] = None\n" +
      "for _i in range(" + testSide.length + "):\n    del sys.modules['_slot%d' % _i]",
  );
  const tests = {};
  for (const name of testSide.filter((n) => standins.includes(n))) tests[name] = measure(imp(name));
  const runner = measure(runnerCode(["/board", "/tests"]));
  for (const name of testSide.filter((n) => !standins.includes(n))) tests[name] = measure(imp(name));
  const loaded = order.filter((x) => x[1] === "board").map((x) => x[0]);
  return { runner, tests, loaded, import_error: err };
}

async function account() {
  // Measured once per test module, firmware image and runner (settings.account_file, in
  // the build cache beside the compiled test), then only read.
  const file = settings.account_file;
  let m = null;
  if (file && fs.existsSync(file)) m = JSON.parse(fs.readFileSync(file, "utf8"));
  if (m === null) {
    m = await measureAccount();
    if (file && !m.import_error) {
      const temp = file + "." + process.pid;
      fs.writeFileSync(temp, JSON.stringify(m));
      fs.renameSync(temp, file); // parallel measurers write the same figures
    }
  }
  const standins = settings.hal_standins || [];
  let testCode = m.runner;
  let standin = 0;
  let standinLoaded = false;
  for (const [name, bytes] of Object.entries(m.tests)) {
    if (standins.includes(name)) {
      standin += bytes;
      standinLoaded = true;
    } else testCode += bytes;
  }
  // A test that runs the firmware on a stand-in board holds the stand-in where a board
  // holds its own HAL modules: those the test does not load (the Pico's, all but
  // hal.flashfs, which fakeboard uses) are charged at their figures (halcost.mjs, measured
  // after the firmware as they load on the board), less what the stand-in holds, if less.
  const halModules = settings.board_hal_modules || {};
  let halUnloaded = 0;
  for (const [name, bytes] of Object.entries(halModules)) {
    if (!m.loaded.includes(name)) halUnloaded += bytes;
  }
  const halCharge = standinLoaded ? Math.max(0, halUnloaded - standin) : 0;
  const board = boardTotal(settings.profile.heap_kb * 1024);
  // The GC heap keeps whole 64-byte runs: the limit is rounded down to one.
  const limit = board + Math.floor((testCode - halCharge) / 64) * 64;
  return {
    name: "<heap>",
    board,
    allowance: testCode,
    runner: m.runner,
    test_modules: m.tests,
    board_hal_unloaded: halUnloaded,
    import_error: m.import_error || undefined,
    hal_standin: standin,
    hal_charge: halCharge,
    limit,
  };
}

function heapTotal(mp) {
  capture = [];
  try {
    mp.globals.get("_mem_info")();
  } finally {
    const lines = capture;
    capture = null;
    const m = /GC: total: (\d+), used: (\d+), free: \d+, max new split: (\d+)/.exec(
      lines.find((l) => l.startsWith("GC:")) || "",
    );
    if (!m) throw new Error("no GC line in micropython.mem_info()");
    // The largest run of free 16-byte blocks: the biggest allocation that fits now.
    const f = /max free sz: (\d+)/.exec(lines.join("\n"));
    return [Number(m[1]), Number(m[2]), Number(m[3]), f ? Number(f[1]) * 16 : null];
  }
}

function report(d) {
  process.stdout.write(MARK + JSON.stringify(d) + "\n");
}

function overHeap(mp, limit, where, heapIn) {
  // The heap grew past the board's during the call that just returned. It is read inside
  // the call, just before it returned (heapIn: [total, used]): nothing is collected during
  // a call, so that total is the most the call needed, garbage included (stricter than a
  // board, never looser). Read after the return it would miss a call that grew the heap
  // and let go of it all (the sweep at the end of a call frees the emptied areas).
  if (!settings || !settings.profile.check_heap) return null;
  const [after, used] = heapTotal(mp);
  const total = Math.max(after, heapIn ? heapIn[0] : 0);
  if (total <= limit) return null;
  const p = settings.profile;
  const a = heapAccount;
  return (
    "MemoryError (" + p.name + " profile, " + p.heap_kb + " KB heap): the GC heap needed " +
    total + " bytes, over the board's " + limit + ", during " + where + " (" +
    (heapIn ? heapIn[1] + " bytes allocated by its end, garbage included; " : "") + used +
    " bytes in use when it returned; the board's " + a.board + " + " + a.allowance +
    " of test code no board holds - " + a.hal_charge + " of the board's HAL beyond " +
    "the test's stand-in for it, in 64-byte runs)"
  );
}

async function fresh() {
  // A new board: interpreter, then the test module imported (one call), then a collection
  // (the import's garbage is not the first test's).
  const mp = await interpreter(heapAccount ? heapAccount.limit : 0);
  const [limit, , split] = heapTotal(mp);
  if (heapAccount && limit !== heapAccount.limit) {
    throw new Error("heap total " + limit + ", not the " + heapAccount.limit + " asked for");
  }
  // gc.mem_free() counts the room the heap may still grow by: _heap_in() takes it off.
  mp.runPython("_split = " + split);
  const err = mp.globals.get("_import")();
  const heapIn = JSON.parse(String(mp.globals.get("_import_heap")));
  const over = overHeap(mp, limit, "the import of " + modName, heapIn);
  mp.pyimport("gc").collect();
  return { mp, limit, err: err || over };
}

let failed = false;
let heapAccount = null;
try {
  if (settings && settings.profile.check_heap) {
    heapAccount = await account();
    report(heapAccount);
  }
  let b = await fresh();
  if (b.err) {
    report({ name: "<import>", ok: false, tb: b.err });
    failed = true;
  } else if (mode === "test") {
    const names = String(b.mp.globals.get("_names")()).split("/").filter(Boolean);
    for (const name of names) {
      if (b === null) {
        b = await fresh();
        if (b.err) {
          report({ name, ok: false, tb: "(after a MemoryError, a fresh interpreter) " + b.err });
          b = null;
          continue;
        }
      }
      const loose = settings && (settings.loose_tests || []).includes(name);
      let r = JSON.parse(String(b.mp.globals.get("_test")(name)));
      let over = loose ? null : overHeap(b.mp, b.limit, name, r.heap_in);
      let most = r.heap_in;
      for (let part = 1; r.more && !over; part++) {
        // A test in parts: each part is its own call, checked where it returns, and
        // begun on a collected heap (a call from the host, in host time, as the virtual
        // board's calls are): this port collects between calls only now and then, so
        // the garbage of the parts before would otherwise be charged to this one.
        b.mp.pyimport("gc").collect();
        r = JSON.parse(String(b.mp.globals.get("_part")()));
        if (!loose) over = overHeap(b.mp, b.limit, name + ", part " + part, r.heap_in);
        if (process.env.MPY_RUNNER_PARTS) {
          // Each part's figures on stderr, to find the part to split (not for CI).
          process.stderr.write(name + " part " + part + ": " + r.heap_in[1] + " allocated, " +
            heapTotal(b.mp)[1] + " in use after\n");
        }
        most = [Math.max(most[0], r.heap_in[0]), Math.max(most[1], r.heap_in[1])];
      }
      r.name = name;
      r.heap_in = most; // the most any one call of the test needed
      if (loose) {
        // Listed in tests/board_fit.py: not held to the heap; if it grew the heap, the
        // tests after it get a fresh interpreter, so that they are judged on their own.
        report(r);
        if (heapTotal(b.mp)[0] > b.limit) b = null;
        else b.mp.pyimport("gc").collect();
      } else if (over) {
        report({ name, ok: false, tb: over + (r.ok !== false ? "" : "\n" + r.tb) });
        b = null; // dead: the next test runs on a fresh board
      } else {
        // The largest allocation that would have fitted when the test ended (its garbage
        // still in: it is collected after this).
        r.free_block = heapTotal(b.mp)[3];
        report(r);
        b.mp.pyimport("gc").collect();
      }
    }
  }
} catch (e) {
  // The port prints a huge minified line for its own errors: keep only the message.
  process.stderr.write("micropython runner error: " + String(e).slice(0, 2000) + "\n");
  failed = true;
}
process.exit(failed ? 1 : 0);
