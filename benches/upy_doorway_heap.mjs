// Heap kept by the doorway (its preallocated tracks and beam queue) and heap allocated on
// its hot path with 80 and 128 tags in range at once, under the real MicroPython
// interpreter (gc.mem_alloc deltas). The WebAssembly port's gc.collect() frees memory only
// between top-level calls, so each phase is its own runPython call. Prints one
// "@@bench {json}" line.   node benches/upy_doorway_heap.mjs
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
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

const phases = [
  "import sys\nfor p in ('/repo/protocol', '/repo/firmware', '/repo/benches'):\n    sys.path.append(p)\n" +
    "import gc, json, time, doorway_work as w\nfig = {}",
  "gc.collect()\nbase = gc.mem_alloc()",
  "d = w.make_doorway()",
  "gc.collect()\nfig['upy_heap_doorway_128_bytes'] = gc.mem_alloc() - base",
  "d2 = w.make_doorway()",
  "gc.collect()\nfig['upy_heap_doorway_128_again_bytes'] = gc.mem_alloc() - base - fig['upy_heap_doorway_128_bytes']\ndel d2",
  "gc.collect()\nbase = gc.mem_alloc()",
  "d255 = w.make_doorway(255)",
  "gc.collect()\nfig['upy_heap_doorway_255_bytes'] = gc.mem_alloc() - base\ndel d255",
  // Warm up (first calls may allocate), then the measured crowds with the GC off.
  "t = w.crowd_in(d, 1, 80, 1000)\nt = w.crowd_out(d, 1, 80, t)\nw.reset()",
  "gc.collect()\ngc.disable()\nb0 = gc.mem_alloc()\nt0 = time.ticks_us()\n" +
    "t = w.crowd_in(d, 1, 80, t)\nt = w.crowd_out(d, 1, 80, t)\n" +
    "fig['upy_doorway_80_us'] = time.ticks_diff(time.ticks_us(), t0)\n" +
    "fig['upy_heap_doorway_80_in_range_bytes'] = gc.mem_alloc() - b0\ngc.enable()\n" +
    "fig['upy_doorway_80_entries'] = w.counts[0]\nfig['upy_doorway_80_exits'] = w.counts[1]\nw.reset()",
  "gc.collect()\ngc.disable()\nb0 = gc.mem_alloc()\n" +
    "t = w.crowd_in(d, 1, 128, t)\nt = w.crowd_out(d, 1, 128, t)\n" +
    "fig['upy_heap_doorway_128_in_range_bytes'] = gc.mem_alloc() - b0\ngc.enable()\n" +
    "fig['upy_doorway_128_entries'] = w.counts[0]\nfig['upy_doorway_128_exits'] = w.counts[1]\n" +
    "fig['upy_doorway_128_overflow'] = d.overflowing\nw.reset()",
  "print('@@bench ' + json.dumps(fig))",
];
try {
  for (const code of phases) mp.runPython(code);
} catch (e) {
  process.stderr.write("micropython error: " + String(e).slice(0, 2000) + "\n");
  process.exit(1);
}
process.stdout.write(out);
