// Runs Python under the real MicroPython interpreter (official WebAssembly port).
//   node tests/mpy_runner.mjs test <file.py> [settings]   its test_* functions, one JSON line each
//   node tests/mpy_runner.mjs run <file.py>              a script, its output passed through
// Without settings, protocol/, firmware/ and tests/ are copied into the interpreter's file
// system as source and the heap may grow (benches, the loose profile).
// With settings (JSON from tests/mpy_plugin.py) the run is held to a board profile
// (docs/hardware.md, "Board profiles"): the firmware is the .mpy image deploy ships
// (settings.image_dir), the test module and its helpers are .mpy too (settings.test_dir),
// the GC heap is the profile's, and it is read where each call returns: the import, then
// each test function as its own call. A heap grown past the profile is the board's
// MemoryError: that test fails saying so, and the tests after it start on a fresh
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
def _import():
    global _mod
    try:
        _mod = __import__(${JSON.stringify(modName)})
        return ""
    except BaseException as e:
        return _tb(e)
def _names():
    return "/".join(n for n in sorted(dir(_mod)) if n.startswith("test_") and callable(getattr(_mod, n)))
def _test(name):
    t0 = time.ticks_ms()
    try:
        getattr(_mod, name)()
        return json.dumps({"name": name, "ok": True, "ms": time.ticks_diff(time.ticks_ms(), t0)})
    except BaseException as e:
        return json.dumps({"name": name, "ok": False, "tb": _tb(e)})
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
    const m = /GC: total: (\d+), used: (\d+)/.exec(lines.find((l) => l.startsWith("GC:")) || "");
    if (!m) throw new Error("no GC line in micropython.mem_info()");
    return [Number(m[1]), Number(m[2])];
  }
}

function report(d) {
  process.stdout.write(MARK + JSON.stringify(d) + "\n");
}

function overHeap(mp, limit, where) {
  // The heap grew past the board's during the call that just returned.
  if (!settings || !settings.profile.check_heap) return null;
  const [total, used] = heapTotal(mp);
  if (total <= limit) return null;
  const p = settings.profile;
  return (
    "MemoryError (" + p.name + " profile, " + p.heap_kb + " KB heap): the GC heap needed " +
    total + " bytes, over the board's " + limit + ", during " + where + " (" + used +
    " bytes in use when it returned)"
  );
}

async function fresh() {
  // A new board: interpreter, then the test module imported (one call).
  const mp = await interpreter();
  const limit = heapTotal(mp)[0];
  const err = mp.globals.get("_import")();
  const over = overHeap(mp, limit, "the import of " + modName);
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
      const r = JSON.parse(String(b.mp.globals.get("_test")(name)));
      if (settings && (settings.loose_tests || []).includes(name)) {
        // Listed in tests/board_fit.py: not held to the heap; if it grew the heap, the
        // tests after it get a fresh interpreter, so that they are judged on their own.
        report(r);
        if (heapTotal(b.mp)[0] > b.limit) b = null;
        continue;
      }
      const over = overHeap(b.mp, b.limit, name);
      if (over) {
        report({ name, ok: false, tb: over + (r.ok ? "" : "\n" + r.tb) });
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
