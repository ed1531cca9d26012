// Runs Python under the real MicroPython interpreter (official WebAssembly port).
//   node tests/mpy_runner.mjs test <file.py>   run its test_* functions, one JSON line each
//   node tests/mpy_runner.mjs run <file.py>    run a script, its output passed through
// protocol/, firmware/ and tests/ are copied into the interpreter's in-memory file
// system and put on sys.path, so the very files deployed to a board are what runs.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [mode, target] = process.argv.slice(2);
if (!["test", "run"].includes(mode) || !target) {
  process.stderr.write("usage: mpy_runner.mjs test|run FILE.py\n");
  process.exit(2);
}
const MARK = "@@mpy-result ";

function copyTree(mp, hostDir, vmDir) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
    const h = path.join(hostDir, ent.name);
    const v = vmDir + "/" + ent.name;
    if (ent.isDirectory()) copyTree(mp, h, v);
    else if (ent.name.endsWith(".py")) mp.FS.writeFile(v, fs.readFileSync(h));
  }
}

let failed = false;
const mp = await loadMicroPython({
  heapsize: 4 * 1024 * 1024,
  linebuffer: true,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const d of ["protocol", "firmware", "tests", "benches"]) {
  if (fs.existsSync(path.join(repo, d))) copyTree(mp, path.join(repo, d), "/repo/" + d);
}
const abs = path.resolve(target);
const modName = path.basename(abs, ".py");
const modDir = "/repo/" + path.relative(repo, path.dirname(abs)).split(path.sep).join("/");
mp.FS.mkdirTree(modDir);
mp.FS.writeFile(modDir + "/" + modName + ".py", fs.readFileSync(abs));

const harness = `
import sys, io, json, time, gc
for p in ("/repo/protocol", "/repo/firmware", "/repo/tests", "/repo/benches", ${JSON.stringify(modDir)}):
    if p not in sys.path:
        sys.path.append(p)
def _tb(e):
    s = io.StringIO()
    sys.print_exception(e, s)
    return s.getvalue()
def _report(d):
    print(${JSON.stringify(MARK)} + json.dumps(d))
_failed = False
try:
    _mod = __import__(${JSON.stringify(modName)})
except BaseException as e:
    _report({"name": "<import>", "ok": False, "tb": _tb(e)})
    _mod = None
    _failed = True
if _mod is not None and ${mode === "test" ? "True" : "False"}:
    for _name in sorted(dir(_mod)):
        if not _name.startswith("test_"):
            continue
        _fn = getattr(_mod, _name)
        if not callable(_fn):
            continue
        _t0 = time.ticks_ms()
        try:
            _fn()
            _report({"name": _name, "ok": True, "ms": time.ticks_diff(time.ticks_ms(), _t0)})
        except BaseException as e:
            _report({"name": _name, "ok": False, "tb": _tb(e)})
        gc.collect()
`;
try {
  mp.runPython(harness);
  // A script (run mode) or test module that fails to import is a failed run.
  if (mp.globals.get("_failed")) failed = true;
} catch (e) {
  // The port prints a huge minified line for its own errors: keep only the message.
  process.stderr.write("micropython runner error: " + String(e).slice(0, 2000) + "\n");
  failed = true;
}
process.exit(failed ? 1 : 0);
