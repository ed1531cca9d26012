// Heap figures that need the collector between steps, under the real MicroPython
// interpreter: the WebAssembly port's gc.collect() frees memory only between top-level
// calls, so each phase of a measurement is its own runPython call.
//   node benches/upy_phases.mjs <module>
// <module> (benches/<module>.py) holds PHASES, a list of Python source strings run in
// order in one namespace; a phase stores figures in `fig`, and the last phase's job is to
// print one "@@bench {json}" line (benches/mpy.py run_phases reads it).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const name = process.argv[2];
if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
  process.stderr.write("usage: upy_phases.mjs MODULE (a module in benches/ holding PHASES)\n");
  process.exit(2);
}
let out = "";
const mp = await loadMicroPython({
  heapsize: 4 * 1024 * 1024,
  linebuffer: true,
  stdout: (line) => (out += line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
function copyTree(hostDir, vmDir) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
    const h = path.join(hostDir, ent.name);
    if (ent.isDirectory()) copyTree(h, vmDir + "/" + ent.name);
    else if (ent.name.endsWith(".py")) mp.FS.writeFile(vmDir + "/" + ent.name, fs.readFileSync(h));
  }
}
for (const d of ["protocol", "firmware", "benches"]) copyTree(path.join(repo, d), "/repo/" + d);

try {
  mp.runPython(
    "import sys\nfor p in ('/repo/protocol', '/repo/firmware', '/repo/benches'):\n" +
      "    sys.path.append(p)\nimport " + name + " as _phases\n_n = len(_phases.PHASES)",
  );
  const n = mp.globals.get("_n");
  for (let i = 0; i < n; i++) mp.runPython("exec(_phases.PHASES[" + i + "], globals())");
} catch (e) {
  process.stderr.write("micropython error: " + String(e).slice(0, 2000) + "\n");
  process.exit(1);
}
process.stdout.write(out);
