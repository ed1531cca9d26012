// The heap a real board's own HAL takes beside the firmware (docs/hardware.md, "Board
// profiles"): the virtual board runs hal/virtual.py instead, and charges the difference
// when its own HAL and harness cost less, so that it is never kinder than the board.
//   node halcost.mjs REPO IMAGE_DIR ENTRY MODULE[,MODULE...]     (run by image.py)
// In a fresh interpreter: stand-ins for `machine`, `rp2` and the board-only names of
// `micropython` (their own cost is left out), the firmware's entry imported as the virtual
// board imports it, then the board's HAL modules (hal.pico, hal.flashfs, ...), each import
// its own call; the growth of the live heap over the HAL imports is the figure: their
// bytecode, tables, globals and the qstrs they add. Nothing builds a Board, so the HAL's
// buffers (the Pico's DMA rings, its reader lines) are not in it. Prints one JSON line.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { copyMpyTree, installStandins } from "./standin.mjs";

const [repo, imageDir, entry, modulesText] = process.argv.slice(2);
const runtime = path.join(
  repo,
  "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs",
);
const { loadMicroPython } = await import(pathToFileURL(runtime).href);
const mp = await loadMicroPython({
  heapsize: 4 * 1024 * 1024,
  linebuffer: true,
  stdout: (l) => process.stderr.write(l + "\n"),
  stderr: (l) => process.stderr.write(l.slice(0, 2000) + "\n"),
});

copyMpyTree(mp, imageDir, "/board");
installStandins(mp);

function live() {
  // gc.collect() only asks this port for a collection, which runs when the call returns.
  mp.runPython("gc.collect()");
  mp.runPython("_r = gc.mem_alloc()");
  return Number(mp.globals.get("_r"));
}

mp.runPython("import hal\nimport " + entry);
const before = live();
const modules = {};
let last = before;
for (const name of modulesText.split(",")) {
  mp.runPython("import " + name);
  const now = live();
  modules[name] = now - last;
  last = now;
}
process.stdout.write(JSON.stringify({ bytes: last - before, modules }) + "\n");
