// Each firmware module's own heap cost once imported (issue 9 item 2: measure before
// cutting), under the real MicroPython (WebAssembly), loaded as the .mpy files deploy ships.
//   node benches/module_cost.mjs BUILD_DIR MODULE[,MODULE...]
// BUILD_DIR/board is shaftgate.cli.deploy.build()'s tree. First pass: the order in which
// the named modules' imports complete (a module completes after everything it imports).
// Second pass, in a fresh interpreter: the modules imported one at a time in that order,
// so each import's growth of the live heap (collected before and after) is that module's
// own bytecode, constants and globals. Prints one "@@bench {json}" line.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import path from "node:path";
import {
  copyMpyTree,
  installStandins,
} from "../host_tools/shaftgate/vboard/standin.mjs";

const build = process.argv[2];
const roots = process.argv[3].split(",");

let printed = [];
async function vm() {
  const mp = await loadMicroPython({
    heapsize: 4 * 1024 * 1024,
    linebuffer: true,
    stdout: (l) => printed.push(l),
    stderr: (l) => process.stderr.write(l.slice(0, 2000) + "\n"),
  });
  copyMpyTree(mp, path.join(build, "board"), "/board");
  installStandins(mp);
  return mp;
}

// Pass 1: completion order, by wrapping __import__.
let mp = await vm();
mp.runPython(
  [
    "import builtins",
    "_done = []",
    // Reading builtins.__import__ back gives the original, not an override: chain by name.
    "_orig2 = _upy",
    "def _imp(name, *a):",
    "    m = _orig2(name, *a)",
    "    if name not in _done and name in sys.modules: _done.append(name)",
    "    return m",
    "builtins.__import__ = _imp",
  ].join("\n"),
);
for (const r of roots) mp.runPython("import " + r);
mp.runPython("builtins.__import__ = _orig2\n_r = ','.join(_done)");
const PACKAGES = ["gateway", "gatewire", "hal"];
const order = mp.globals
  .get("_r")
  .split(",")
  .filter((n) => n.includes(".") && PACKAGES.includes(n.split(".")[0]));

// Pass 2: one module at a time.
mp = await vm();
const cost = {};
// The heap live now, collected and read in calls of their own, after an empty one (as
// benches/fit_probe.mjs reads it). Collected and read in one call straight after each
// import, the modules' figures summed to 18 KB more than the live heap grew over them all
// (110 KB against 92 KB for gateway.boot and hal.pico, measured): each was charged about
// 0.4 KB of garbage from the calls around it. Read this way, the two agree (92.2 KB
// against 92.5 KB).
function live() {
  mp.runPython("None");
  mp.runPython("gc.collect()");
  mp.runPython("_r = gc.mem_alloc()");
  return mp.globals.get("_r");
}
// The qstr pools grow by doubling: a new pool is one big block, charged by the heap to
// whichever module's import needed it. So each module is charged QSTR_ENTRY bytes of pool
// per qstr it added (a pointer, its hash and its length), its own heap growth less the
// pools' growth, and the pools' unused room is a figure of its own.
const QSTR_ENTRY = 7;
function qstrs() {
  printed = [];
  mp.runPython("import micropython\nmicropython.qstr_info()");
  const line = printed.find((l) => l.startsWith("qstr pool:"));
  const num = (k) => Number(new RegExp(k + "=(\\d+)").exec(line)[1]);
  return { n: num("n_qstr"), pools: num("n_total_bytes") - num("n_str_data_bytes") };
}
mp.runPython("import gateway, gatewire, hal");
// Each call from JS leaves a little behind in this port (its bookkeeping of what crossed
// to JS): the same cycle of calls with nothing imported, measured here, is taken off each
// module's figure.
let before = live();
let q0 = qstrs();
const IDLE = 8;
for (let k = 0; k < IDLE; k++) {
  mp.runPython("import sys");
  live();
  qstrs();
}
const callCost = Math.round((live() - before) / IDLE);
before = live();
q0 = qstrs();
let poolRoom = 0;
for (const name of order) {
  mp.runPython("import " + name);
  const now = live();
  const q = qstrs();
  const entries = (q.n - q0.n) * QSTR_ENTRY;
  cost[name] = now - before - (q.pools - q0.pools) + entries - callCost;
  poolRoom += q.pools - q0.pools - entries;
  before = live();
  q0 = q;
}
console.log("@@bench " + JSON.stringify({ order, cost, qstr_pool_room: poolRoom, call_cost: callCost }));
