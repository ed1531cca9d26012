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

async function interpreter() {
  const mp = await loadMicroPython({
    heapsize: settings ? settings.profile.heap_kb * 1024 : 4 * 1024 * 1024,
    linebuffer: true,
    stdout: (line) => {
      if (capture !== null) capture.push(line);
      else process.stdout.write(line + "\n");
    },
    stderr: (line) => process.stderr.write(line + "\n"),
  });
  let paths;
  if (settings) {
    copyTree(mp, settings.image_dir, "/board", (n) => n.endsWith(".mpy"));
    copyTree(mp, settings.test_dir, "/tests", (n) => n.endsWith(".mpy"));
    paths = ["/board", "/tests"];
  } else {
    for (const d of ["protocol", "firmware", "tests", "benches"]) {
      const keep = (n) => n.endsWith(".py");
      if (fs.existsSync(path.join(repo, d))) copyTree(mp, path.join(repo, d), "/repo/" + d, keep);
    }
    const modDir = "/repo/" + path.relative(repo, path.dirname(abs)).split(path.sep).join("/");
    mp.FS.mkdirTree(modDir);
    mp.FS.writeFile(modDir + "/" + modName + ".py", fs.readFileSync(abs));
    paths = ["/repo/protocol", "/repo/firmware", "/repo/tests", "/repo/benches", modDir];
  }
  mp.runPython(`
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
`);
  return mp;
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
    return [Number(m[1]), Number(m[2]), Number(m[3])];
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
  return (
    "MemoryError (" + p.name + " profile, " + p.heap_kb + " KB heap): the GC heap needed " +
    total + " bytes, over the board's " + limit + ", during " + where + " (" +
    (heapIn ? heapIn[1] + " bytes allocated by its end, garbage included; " : "") + used +
    " bytes in use when it returned)"
  );
}

async function fresh() {
  // A new board: interpreter, then the test module imported (one call).
  const mp = await interpreter();
  const [limit, , split] = heapTotal(mp);
  // gc.mem_free() counts the room the heap may still grow by: _heap_in() takes it off.
  mp.runPython("_split = " + split);
  const err = mp.globals.get("_import")();
  const heapIn = JSON.parse(String(mp.globals.get("_import_heap")));
  const over = overHeap(mp, limit, "the import of " + modName, heapIn);
  return { mp, limit, err: err || over };
}

let failed = false;
try {
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
