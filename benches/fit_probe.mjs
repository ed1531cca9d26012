// The firmware's fit on a board (issue 9 items 2, 4, 7), measured under the real
// MicroPython (WebAssembly) with the firmware loaded as the .mpy files deploy ships.
//   node benches/fit_probe.mjs BUILD_DIR [permit]
// BUILD_DIR/board is shaftgate.cli.deploy.build()'s tree for the pico. Each phase (import,
// boot step, crossing, request) is its own top-level call, because this port reclaims
// garbage only between calls: a call's peak is bounded by the heap in use when it returns
// (everything it allocated counts, as if the board never collected inside it). Prints
// one "@@bench {json}" line: per phase the highest such bound, the live heap after it
// and its VM time. "permit": a hot-work permit is issued before the reboot, so that the
// reboot restores it (the permit book's code is in the heap only while one is held).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const build = process.argv[2];
const withPermit = process.argv[3] === "permit";
const out = [];
async function interpreter() {
  return loadMicroPython({
    heapsize: 192 * 1024,
    linebuffer: true,
    stdout: (l) => out.push(l),
    stderr: (l) => process.stderr.write(l.slice(0, 2000) + "\n"),
  });
}
let mp = await interpreter();

function copyTree(hostDir, vmDir) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const h = path.join(hostDir, ent.name);
    if (ent.isDirectory()) copyTree(h, vmDir + "/" + ent.name);
    else if (ent.name.endsWith(".mpy")) mp.FS.writeFile(vmDir + "/" + ent.name, fs.readFileSync(h));
  }
}
function install() {
  copyTree(path.join(build, "board"), "/board");
  mp.FS.mkdirTree("/bench");
  for (const f of ["gateway_work.py", "fit_work.py"]) {
    mp.FS.writeFile("/bench/" + f, fs.readFileSync(path.join(repo, "benches", f)));
  }
}
install();

function run(code) {
  try {
    mp.runPython(code);
    return undefined;
  } catch (e) {
    process.stderr.write(String(e).slice(0, 3000) + "\n");
    process.exit(1);
  }
}
run("import gc, sys, time\nsys.path[:0] = ['/board', '/bench']");
const phases = {};
function value(expr) {
  run("_r = " + expr);
  return mp.globals.get("_r");
}
function live() {
  run("gc.collect()");
  return value("gc.mem_alloc()");
}
// The bench's side of the link (fit_work.host_side: gatewire.specs, signing and what
// they import) once it is in the heap, taken off every figure after (hostSide below).
let benchHost = 0;
// One measured call: returns its result; records peak bound, live heap and VM ms.
function measured(phase, code) {
  const start = live() - benchHost;
  run("_t0 = time.ticks_us()");
  run("_r = " + code + "\n_peak = gc.mem_alloc()\n_us = time.ticks_diff(time.ticks_us(), _t0)");
  const r = mp.globals.get("_r");
  const peak = mp.globals.get("_peak") - benchHost;
  const us = mp.globals.get("_us");
  const after = live() - benchHost;
  const p = (phases[phase] ||= {
    peak: 0,
    live: 0,
    calls: 0,
    us_max: 0,
    us_total: 0,
    alloc_max: 0,
    alloc_total: 0,
  });
  p.peak = Math.max(p.peak, peak);
  p.alloc_max = Math.max(p.alloc_max, peak - start);
  p.alloc_total += peak - start;
  p.live = after;
  p.calls += 1;
  p.us_max = Math.max(p.us_max, us);
  p.us_min = Math.min(p.us_min ?? Infinity, us);
  p.us_total += us;
  (p.each ||= []).push([start, peak, after, us]);
  return r;
}

const bare = live();
// Importing is timed three times (the modules dropped between; the last two at the end),
// the fastest kept: one import is a single sample on a shared machine.
// gateway.bootseq is imported as a board's boot does (the modules it imports stay) and let
// go, with gateway.build, as they are once the zone is built.
const IMPORT =
  "0\nfrom gateway import app, boot, store\nfrom hal import flashfs\n" +
  "try:\n    from gateway import bootseq\nexcept ImportError:\n    pass\n" + // before it existed
  "else:\n    bootseq = None\n    store.unload('bootseq')\n    store.unload('build')";
const DROP =
  "for _k in [k for k in sys.modules if k.split('.')[0] in ('gateway', 'gatewire', 'hal')]:\n" +
  "    del sys.modules[_k]";
// The heap is read on the first import, in a fresh interpreter: the timing's repeats come
// last (below). Imported, dropped and imported again here, a word on this port's
// conservatively scanned stack could keep a dropped copy of a module (its globals, its
// functions) alive through the whole run: main's merge at 22:40 UTC (2026-12-04) read
// 3.4 KB more code after the import for 0.6 KB more in the module table, and the same
// two builds imported once each differ by 624 B (docs/hardware.md "Board fit").
// Each code figure below is read without the qstr pools its import allocated (reported
// apart, as the pools the heap holds after the reboot): this port's pools double and are
// allocated whole, so one import that crosses a boundary would be charged a whole pool.
const poolsBare = qstrPools().pools;
measured("import (firmware .mpy)", IMPORT);
const poolsCode = qstrPools().pools;
const codeLive = live() - bare - (poolsCode - poolsBare);
// The link's code (gatewire.messages, frame, auth and gateway.pushframe): imported by
// the firmware's boot in its last phases since h7-heap, with the firmware before (then
// nothing more here). Read here, in the first interpreter, for the code figures only.
const liveCode = live();
run(
  "try:\n    from gatewire import messages, frame, auth\n    from gateway import pushframe\n" +
    "except ImportError:\n    pass",
);
const poolsLink = qstrPools().pools;
const linkCode = live() - liveCode - (poolsLink - poolsCode);
// The Pico's own board modules (hal.pico, hal.mcu and the reader, pulse, gas-loop and
// clock parts) are in its heap beside the firmware: imported here over a stand-in
// `machine` (nothing builds a Board; their cost is their code and tables), so that every
// figure below counts them. This port lacks two `micropython` names hal.pico imports.
function importBoard() {
  mp.FS.mkdirTree("/standin");
  mp.FS.writeFile("/standin/machine.py", "");
  mp.FS.writeFile("/standin/rp2.py", ""); // hal.pico uses rp2.DMA only inside Board()
  mp.FS.writeFile(
    "/standin/upy_standin.py",
    "from micropython import *\ndef alloc_emergency_exception_buf(n):\n    pass\n",
  );
  run(
    [
      "import builtins",
      "sys.path.append('/standin')",
      "import machine, rp2, upy_standin",
      "_real_import = builtins.__import__",
      "def _board_import(name, *a):",
      "    return upy_standin if name == 'micropython' else _real_import(name, *a)",
      "builtins.__import__ = _board_import",
      "import hal.pico",
      "builtins.__import__ = _real_import",
      "del _board_import, _real_import",
    ].join("\n"),
  );
}
importBoard();
const boardCode = live() - bare - codeLive - linkCode - (qstrPools().pools - poolsBare);
// The bench's own code is taken off every figure below, but not a qstr pool its import
// happens to allocate: this port's pools double (20 to 1,280 entries, 7 bytes each) and
// each is allocated whole when the one before is full, so an import that crosses a
// boundary is charged the whole pool. The firmware's own names past 1,260 need the same
// pool on a board (1,322 names after the reboot without the bench's 110, measured), so a
// pool the bench's import allocates stays in the board's figures (conservative), and the
// bench is charged only the rest: its names' text, its code.
function qstrPools() {
  const mark = out.length;
  run("import micropython\nmicropython.qstr_info()");
  const line = out.slice(mark).find((l) => l.startsWith("qstr pool:")) || "";
  out.length = mark;
  const num = (k) => Number((new RegExp(k + "=(\\d+)").exec(line) || [0, 0])[1]);
  return { n: num("n_qstr"), pools: num("n_total_bytes") - num("n_str_data_bytes") };
}
function importBench() {
  const poolsBefore = qstrPools();
  const liveBefore = live();
  run("import fit_work");
  const poolsAfter = qstrPools();
  const pool = poolsAfter.pools - poolsBefore.pools;
  return [live() - liveBefore - pool, pool];
}
let [benchCode, benchPool] = importBench();
const before = live();
// The bench's requests need the host's side of gatewire (messages.request, auth.Signer,
// frame.encode), imported apart from the bench's own code: a gateway imports the link's
// code (gatewire.messages, frame, auth) itself in its boot's last phase, so the bench
// must not hold them before the gateway has booted, or they would leave the board's
// figures. Charged as the bench's from then on (a qstr pool it allocates stays the
// board's, as in importBench), and only what the gateway has not imported already.
function hostSide() {
  const poolsBefore = qstrPools();
  const liveBefore = live();
  run("fit_work.host_side()");
  const pool = qstrPools().pools - poolsBefore.pools;
  benchHost += live() - liveBefore - pool;
}

measured("setup", "W = fit_work.Work()");
run("W.first_boot_prepare()");
measured("first boot", "W.boot_first()");
hostSide();
measured("roster over the link", "W.load_roster()");
while (value("W.fill_more()")) {
  measured("fill (300 in)", "W.fill_step()");
}
if (withPermit) measured("permit issue", "W.permit()");
measured("ack 300 in", "W.ack()");
// The reset: a board reboots into an empty heap, so the reboot runs in a fresh interpreter
// with the flash's files copied over, the firmware, the board's modules and the bench
// imported again as at the start. In the same interpreter (as this bench did before
// h6-heap) garbage of the first boot kept by stale words moved the reboot's figures by up
// to 4 KB between builds (docs/hardware.md "Board fit").
const [root, counter, rid, ms, rtc] = JSON.parse(value("__import__('json').dumps(W.state())"));
const files = JSON.parse(value("__import__('json').dumps(__import__('os').listdir(W.board.flash.root))"));
const flash = files.map((f) => [f, mp.FS.readFile(root + "/" + f)]);
mp = await interpreter();
benchHost = 0;
install();
run("import gc, sys, time\nsys.path[:0] = ['/board', '/bench']");
run(IMPORT);
importBoard();
[benchCode, benchPool] = importBench();
mp.FS.mkdirTree(root);
for (const [f, data] of flash) mp.FS.writeFile(root + "/" + f, data);
measured(
  "reboot prepare",
  "W = fit_work.Work.resumed(" + JSON.stringify(root) + ", " + [counter, rid, ms, rtc].join(", ") + ")",
);
let n = 0;
while (measured("reboot", "W.boot_step()")) n += 1;
phases.reboot.steps = n + 1;
// The interned names once rebooted: this port's qstr pools double (20 to 1,280 entries),
// each allocated whole when the one before is full, so the count says which pools the
// heap holds (docs/hardware.md "Board fit").
const qstrsRebooted = qstrPools().n;
const poolsRebooted = qstrPools().pools;
hostSide();
// A request: queued, then the gateway stepped one call per step until it has answered.
function request(phase, send) {
  run(send);
  do measured(phase, "W.idle(10)");
  while (value("W.waiting()"));
}
request("hello (steps)", "W.send_hello()");
for (let i = 0; i < 60; i++) measured("crossing pushed", "W.crossing_pushed()");
request("ack (steps)", "W.send_ack()");
for (let i = 0; i < 50; i++) measured("idle step", "W.idle()");
request("status (steps)", "W.send_status()");
const parts = value("W.roster_parts()");
for (let i = 0; i < parts - 1; i++) request("roster-load part (steps)", "W.send_roster_part(" + i + ")");
request("roster-load last part, commit (steps)", "W.send_roster_part(" + (parts - 1) + ")");
// The same roster in tag order (a site's file sorted by tag), loaded over it.
for (let i = 0; i < parts - 1; i++) request("roster-load part (steps)", "W.send_roster_part(" + i + ", True)");
request("roster-load in tag order, commit (steps)", "W.send_roster_part(" + (parts - 1) + ", True)");
request("config-set (steps)", "W.send_config_set()");
// One that needs new arrays (ledger_capacity): the ledger rebuilt a phase per step.
request("config-set, ledger resized (steps)", "W.send_config_resize()");
// What one measured call costs by itself (compiling its line): taken off every figure.
for (let i = 0; i < 20; i++) measured("nothing", "None");
const overhead = phases.nothing.alloc_max;
for (const p of Object.values(phases)) {
  p.alloc_max = Math.max(0, p.alloc_max - overhead);
  p.alloc_total = Math.max(0, p.alloc_total - overhead * p.calls);
}
// The import timed twice more, the modules dropped before each (the fastest of the three
// is kept), now that every heap figure has been read.
const heapCheck = value("str(W.check())");
run("W = None");
for (let i = 0; i < 2; i++) {
  run(DROP);
  measured("import (firmware .mpy)", IMPORT);
}
// Calibration: the VM's time for the solver the Pico's published figure is for.
let best = Infinity;
for (let i = 0; i < 3; i++) {
  run("_t0 = time.ticks_us()\n_q = fit_work.queens()\n_us = time.ticks_diff(time.ticks_us(), _t0)");
  if (value("_q") !== 92) throw new Error("queens solver broken");
  best = Math.min(best, value("_us"));
}
const factor = value("fit_work.PICO_QUEENS_MS") / (best / 1000);
for (const p of Object.values(phases)) {
  p.pico_ms_max = (p.us_max / 1000) * factor;
  p.pico_ms_min = (p.us_min / 1000) * factor;
  p.pico_ms_total = (p.us_total / 1000) * factor;
}
const figures = { qstrs_rebooted: qstrsRebooted, qstr_pools: poolsRebooted, harness_alloc: overhead, code: codeLive, link_code: linkCode, board_code: boardCode, bench_code: benchCode, bench_pool: benchPool, base: before, queens_vm_ms: best / 1000, pico_factor: factor, phases };
figures.heap_check = heapCheck;
console.log("@@bench " + JSON.stringify(figures));
for (const l of out) if (!l.startsWith("@@")) process.stderr.write(l + "\n");
