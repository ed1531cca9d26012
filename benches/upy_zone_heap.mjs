// Heap kept by a zone with a roster of 2,000 people and 300 in the zone, under the real
// MicroPython interpreter (goal <= 64 KB). The WebAssembly port's gc.collect() only frees
// memory between top-level calls, so each phase is its own runPython call and the heap
// is read after a collection between them. Prints one "@@bench {json}" line.
//   node benches/upy_zone_heap.mjs
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
    "import gc, json, zone_work\nfig = {}",
  "gc.collect()\nbase = gc.mem_alloc()",
  "z = zone_work.make_zone('shaft')",
  "gc.collect()\nfig['upy_heap_zone_empty_bytes'] = gc.mem_alloc() - base",
  "zone_work.load_roster(z)",
  "gc.collect()\nfig['upy_heap_roster_2000_bytes'] = gc.mem_alloc() - base - fig['upy_heap_zone_empty_bytes']",
  "zone_work.fill(z, 1000)\nassert z.count == zone_work.IN_ZONE",
  "gc.collect()\nfig['upy_heap_zone_2000_roster_300_in_bytes'] = gc.mem_alloc() - base",
  "print('@@bench ' + json.dumps(fig))",
];
try {
  for (const code of phases) mp.runPython(code);
} catch (e) {
  process.stderr.write("micropython error: " + String(e).slice(0, 2000) + "\n");
  process.exit(1);
}
process.stdout.write(out);
