// One virtual gateway board: the deployed firmware files under the real MicroPython
// interpreter (WebAssembly port), with hal/virtual.py's I/O bridged to this process.
//   node vboard.mjs '<json settings>'     (started by board.py's VirtualBoard, not by hand)
// stdin:  newline-delimited JSON from the supervisor: link bytes and peripheral stimuli.
// stdout: newline-delimited JSON to the supervisor: link bytes, outputs, status. Nothing
//         else may be printed there; the firmware's print() and our own log go to stderr,
//         which the supervisor sends to the board's log file.
// The step loop runs from a timer, so Node's event loop serves stdin between steps, as
// the board's own loop does `step(); sleep_ms(2)`.
//
// Board profiles (shaftgate/vboard/profiles.py, docs/hardware.md "Board profiles"): every
// call into the firmware from here (import, Board(), each boot phase, each step) is one
// call, inside which (just before it returns) and after which the GC heap is checked
// against the profile (the board's MemoryError; the heap of the board's own HAL beyond
// hal.virtual and this harness is charged at boot, see halcost.mjs),
// the call's board time is estimated (VM CPU time x the calibration factor measured at
// power-on, plus the datasheet time of each flash erase/program it made), bytes a reader
// UART could not hold during those flash stalls are lost, and the watchdog (armed by
// Board()) is judged in board time. A call that never returns is judged by a worker
// thread from the process's CPU time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const MASK = 0x3fffffff; // MicroPython's ticks period on 32-bit ports is 2**30 ms
const HOUR_MS = 3600000;
const EXIT_SETUP = 2;
const EXIT_CRASH = 3;
const EXIT_WATCHDOG = 4;
// Word offsets in the int32 array hal/virtual.py lends us (see _IO_* there).
const IO_TAG = 0;
const IO_GAS = 4;
const IO_BEATS = 8;
const IO_WORDS = 16;
const MAX_CAMERAS = IO_WORDS - IO_BEATS;
const ALIVE_MS = 200;
const TEMP_SUFFIX = ".tmp";
const EINVAL = 22;
const EIO = 5;

const cfg = Object.assign(
  {
    entry: "gateway.boot",
    extra_dir: null,
    cameras: 8,
    camera_beat_ms: 500,
    gas_sample_ms: 1000,
    step_interval_ms: 2,
    watchdog_ms: 5000,
    ticks_origin_ms: 0,
    image_dir: null,
    profile: null,
    watchdog_bites: true,
    tag_fifo: 256,
    rx_limit: 65536,
    env: {},
  },
  JSON.parse(process.argv[2] || "{}"),
);
const bootReal = performance.now();
let advancedMs = 0;
const P = cfg.profile;
const BOARD_TIME = !!(P && P.board_time);
const READER_BYTE_MS = 10000 / 57600; // 57 600 baud 8N1: 10 bits a byte
const RING_GUARD = 16; // hal/dmaring.py GUARD: bytes of a ring a poll treats as overrun

function trim(text) {
  // The port's own errors can carry a line of minified JavaScript hundreds of KB long.
  const lines = String(text)
    .split("\n")
    .map((l) => (l.length > 300 ? l.slice(0, 300) + " …[cut]" : l));
  return lines.slice(0, 60).join("\n");
}

// The board's clock (ticks_ms, the RTC, camera beats, gas samples). "real": the host's
// clock since power-on plus what the supervisor advanced, so time the host spends between
// two stimuli is time in the mine. "scripted" (the HIL bench's virtual boards): the mine's
// time moves only by the supervisor's advances, so a host slowed by load cannot stretch
// what a scenario scripted; the board's own work still takes its estimated board time.
// Boot: the boot calls' board time. After it: the world's time, plus the board time of
// the call in progress; a call that runs past the world's time holds the clock there
// (it never runs back) until the world catches up. The steps between two advances add
// nothing: how many there are depends on the host's speed, not on the board's.
const SCRIPTED = cfg.clock === "scripted";
let clockBooted = false;
let bootClockMs = 0; // board time of the boot, once booted
let clockFloor = 0; // the latest scripted time the firmware may have read
let boardClockDeclared = false; // board time's state below exists (a setup error comes first)

function nowMs() {
  // Virtual ms since boot (plus the configured origin), unwrapped; a double is exact here.
  if (!SCRIPTED) return cfg.ticks_origin_ms + Math.floor(performance.now() - bootReal) + advancedMs;
  if (!boardClockDeclared) return cfg.ticks_origin_ms;
  const t = clockBooted ? bootClockMs + advancedMs + (inCall && BOARD_TIME ? inCallMs() : 0) : boardNow();
  if (t > clockFloor) clockFloor = t;
  return cfg.ticks_origin_ms + Math.floor(clockFloor);
}

function log(line) {
  process.stderr.write("[vb " + (nowMs() / 1000).toFixed(3) + "] " + line + "\n");
}

function send(obj) {
  // Pipes are synchronous in Node on Linux: a line is in the pipe when this returns.
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(code, text) {
  log(trim(text));
  process.exit(code);
}

process.on("uncaughtException", (e) => {
  const text = "virtual board failure: " + trim((e && e.stack) || e);
  send({ crash: text });
  fail(EXIT_CRASH, text);
});

for (const key of ["repo", "flash_dir", "entry", "image_dir"]) {
  if (typeof cfg[key] !== "string" || !cfg[key]) fail(EXIT_SETUP, "setting " + key + " missing");
}
if (!(cfg.cameras >= 0 && cfg.cameras <= MAX_CAMERAS)) {
  fail(EXIT_SETUP, "cameras must be 0.." + MAX_CAMERAS);
}
if (!P || typeof P.name !== "string" || !(P.heap_kb > 0)) fail(EXIT_SETUP, "setting profile missing");
if (cfg.clock !== undefined && cfg.clock !== "real" && !SCRIPTED) {
  fail(EXIT_SETUP, "setting clock must be real or scripted, got " + JSON.stringify(cfg.clock));
}

// ---- board time: estimated time on the profile's chip ----
let factor = 1; // board ms per VM CPU ms, from the calibration at power-on
let boardNowMs = 0; // board ms since power-on at the start of the current call / between calls
let inCall = false;
let callName = "";
let callCpuUs = 0; // process CPU at the call's start
let bridgeUs = 0; // CPU spent on host work (flash files, pipes) in this call: not the chip's
let stallMs = 0; // flash stalls in this call
let stalls = []; // [start, end] board ms of each flash stall in this call
const flashStats = { erases: 0, pages: 0, bytes: 0, ops: 0, stall_ms: 0 };

// CPU time of the process, which board.py starts with V8's --single-threaded: no
// background compiler or collector threads whose time would read as the firmware's.
// (WebAssembly tier-up then runs inside the call that made the code hot: a cold code path
// costs more board time the first time, which is stricter, never looser.) Per-thread
// counters (/proc/thread-self/schedstat) only advance on scheduler ticks: useless here.
function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function inCallMs() {
  return Math.max(0, (cpuUs() - callCpuUs - bridgeUs) / 1000) * factor + stallMs;
}

function boardNow() {
  return inCall && BOARD_TIME ? boardNowMs + inCallMs() : boardNowMs;
}
boardClockDeclared = true;

function hostWork(fn) {
  // Host-side work done for the board (files, pipes) is not the chip's time.
  const t0 = cpuUs();
  try {
    return fn();
  } finally {
    bridgeUs += cpuUs() - t0;
  }
}

function flashOp(erases, pages, bytes) {
  // Time the chip spends with flash busy (RP2040: XIP off, interrupts off) for one file
  // operation, per the profile's datasheet figures (docs/hardware.md, "Board time").
  const f = P.flash;
  const worst = P.flash_timing === "max";
  const ms =
    erases * (worst ? f.erase_max_ms : f.erase_ms) + pages * (worst ? f.program_max_ms : f.program_ms);
  flashStats.erases += erases;
  flashStats.pages += pages;
  flashStats.bytes += bytes;
  flashStats.ops += 1;
  flashStats.stall_ms += ms;
  if (!BOARD_TIME || !inCall) return;
  const start = boardNow();
  stalls.push([start, start + ms]);
  stallMs += ms;
}

function pagesOf(n) {
  return Math.ceil(n / P.flash.page_bytes);
}

// littlefs keeps a file of up to min(cache, block / 8) = 512 bytes inline in its
// directory's metadata log (docs/hardware.md, "Flash wear"): writing it is one commit into
// space erased beforehand, and the metadata block is erased (compacted) about every 16
// commits. Counted here as one erase on every 16th inline commit.
const INLINE_MAX = 512;
const COMMITS_PER_ERASE = 16;
let inlineCommits = 0;

function inlineCommit(bytes) {
  inlineCommits++;
  flashOp(inlineCommits % COMMITS_PER_ERASE === 0 ? 1 : 0, pagesOf(Math.max(1, bytes)), bytes);
}

// ---- the watchdog: armed by Board(), judged in board time ----
let wdtArmed = false;
let wdtMs = 0;
let lastFeedBoard = 0;
let wdtFired = null; // text, once the watchdog has bitten
let wdtFedReal = 0; // loose profile: wall clock, as before the profiles
// Shared with the watchdog worker, which judges a call that never returns.
const shared = new Float64Array(new SharedArrayBuffer(8 * 6));
const SH_IN_CALL = 0;
const SH_CALL_CPU = 1;
const SH_UNFED = 2;
const SH_WDT_MS = 3;
const SH_FACTOR = 4;
const SH_STEP = 5; // the step running, -1 during boot
shared[SH_STEP] = -1;

let unfedMax = 0; // the longest the watchdog went unfed (board ms)

function wdtBite(unfed) {
  unfedMax = Math.max(unfedMax, unfed);
  if (!cfg.watchdog_bites) return; // a bench measuring past the watchdog: count, never bite
  if (wdtFired === null) {
    wdtFired =
      "watchdog: not fed for " + Math.round(unfed) + " board ms (timeout " + wdtMs + " ms, " +
      P.name + " profile), during " + callName;
  }
}

// ---- peripherals (the world around the board) ----
const tagFifo = [];
// Profiles with board time: each read is a reader line on the wire, 57 600 baud, one line
// after another per reader; it can be read once its last byte has arrived (board time).
const wires = [[], []];
const wireEnd = [0, 0];
let tagsLost = 0; // lines garbled by a UART FIFO overflow during a flash stall
// The same per reader, as the board itself would count them (hal.virtual reader_lost):
// a line cut by a stall fails its checksum, a ring overrun is counted by the DMA ring.
const readerLost = [0, 0];
let tagsQueued = 0; // totals, for sync: a sync is answered once its stimuli are consumed
let tagsTaken = 0;
let tagsDropped = 0;
let beamCount = 0;
const camOnSince = new Array(MAX_CAMERAS).fill(null);
const camLast = new Array(MAX_CAMERAS).fill(null);
let gasSample = null; // [ch4_ppm, co_ppm, fault] while the sensor reports, null: silent
let gasDueMs = 0;
const rxChunks = [];
let rxHead = 0; // read offset into rxChunks[0]
let rxPending = 0;
let rxQueued = 0;
let rxTaken = 0;
let rxDropped = 0;
const outputs = { lamp: 0, sounder: 0, work_relay: 0, hot_relay: 0, entry_refused: 1 }; // de-energised
const OUTPUT_NAMES = ["lamp", "sounder", "work_relay", "hot_relay", "entry_refused"];
let outputsDirty = true;
let rtcBaseS = 0; // an RTC without a battery: 0 (never set) after every power-on
let rtcSetAtMs = 0;
let steps = 0;

function cameraBeat(i, now) {
  // A camera that is on beats every camera_beat_ms from the moment it came on.
  if (camOnSince[i] !== null) {
    const k = Math.floor((now - camOnSince[i]) / cfg.camera_beat_ms);
    camLast[i] = camOnSince[i] + k * cfg.camera_beat_ms;
  }
  return camLast[i];
}

function setCamera(i, on, now) {
  if (on && camOnSince[i] === null) camOnSince[i] = now;
  if (!on && camOnSince[i] !== null) {
    cameraBeat(i, now);
    camOnSince[i] = null;
  }
}

function setGas(sample, now) {
  gasSample = sample;
  gasDueMs = now; // a change is reported at the next poll, as a sensor's new reading
}

const env = cfg.env;
(env.video || []).forEach((on, i) => {
  if (i < cfg.cameras) setCamera(i, !!on, nowMs());
});
if (env.gas) setGas(env.gas, nowMs());

// ---- the interpreter ----
const runtime = path.join(
  cfg.repo,
  "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs",
);
if (!fs.existsSync(runtime)) {
  fail(EXIT_SETUP, "MicroPython runtime not found at " + runtime + " (run ./dev setup)");
}
const { loadMicroPython } = await import(pathToFileURL(runtime).href);
let capture = null; // lines of mem_info() output while the heap is being read
const mp = await loadMicroPython({
  // Frozen code lives in flash: the heap is the board's plus the bytecode the image holds,
  // and whatever of it is never imported is taken off the limit again (endCall).
  heapsize: P.heap_kb * 1024 + (P.frozen_code ? cfg.frozen_code_bytes : 0),
  linebuffer: true,
  stdout: (line) => {
    if (capture !== null) capture.push(line);
    else process.stderr.write("[fw] " + line + "\n");
  },
  stderr: (line) => process.stderr.write("[fw] " + line + "\n"),
});
// The port's own heap before anything of ours: the harness is measured from here.
const bareUsed = Number(mp.pyimport("gc").mem_alloc());
// The live heap now, for the figures of what the harness holds (a few ms at power-on).
// gc.collect() only asks this port for a collection, which runs when that call returns.
const gcModule = mp.pyimport("gc");
function liveNow() {
  gcModule.collect();
  return Number(gcModule.mem_alloc());
}
const harnessParts = { port: liveNow() - bareUsed };
let harnessMark = bareUsed + harnessParts.port;
// Bytes cross by address: Python lends a buffer's address (uctypes.addressof) and we
// read or write the interpreter's linear memory. No allocation on the Python heap, unlike
// bytes(JsProxy), which costs one call per byte. Pinned to the port's 1.27.0 layout.
const M = mp._module;
if (!M || typeof M.getValue !== "function" || typeof M.setValue !== "function") {
  fail(EXIT_SETUP, "this MicroPython port exposes no getValue/setValue: cannot bridge memory");
}

function memToBuffer(addr, n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = M.getValue(addr + i, "i8") & 0xff;
  return b;
}

function bufferToMem(src, srcOff, addr, n) {
  for (let i = 0; i < n; i++) M.setValue(addr + i, src[srcOff + i], "i8");
}

function copyTree(hostDir, vmDir, keep) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (ent.name.startsWith(".") || ent.name === "__pycache__") continue;
    const h = path.join(hostDir, ent.name);
    const v = (vmDir === "/" ? "" : vmDir) + "/" + ent.name;
    if (ent.isDirectory()) copyTree(h, v, keep);
    else if (keep(ent.name)) mp.FS.writeFile(v, fs.readFileSync(h));
  }
}

// What deploy puts on a board: the .mpy files it builds (shaftgate/vboard/image.py), with
// hal/virtual.mpy for the board's own HAL. Bytecode loads into the GC heap, as on a board.
copyTree(cfg.image_dir, "/", (name) => name.endsWith(".mpy") || name === "main.py");
// A test's own firmware (test_vboard's echo) stays source: it is not what deploy ships.
if (cfg.extra_dir) copyTree(cfg.extra_dir, "/extra", (name) => name.endsWith(".py"));

// ---- flash: the board's file system, as real host files ----
const flashDir = path.resolve(cfg.flash_dir);

function errnoOf(e) {
  const n = e && e.code ? os.constants.errno[e.code] : undefined;
  return n ? -n : -EIO;
}

function flashPath(name) {
  if (
    typeof name !== "string" ||
    !name ||
    name.includes("/") ||
    name === "." ||
    name === ".." ||
    name.endsWith(TEMP_SUFFIX)
  ) {
    return null;
  }
  return path.join(flashDir, name);
}

function syncDir() {
  const fd = fs.openSync(flashDir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeAll(fd, buf, position) {
  let off = 0;
  while (off < buf.length) {
    off += fs.writeSync(fd, buf, off, buf.length - off, position === null ? null : position + off);
  }
}

function flashCall(fn) {
  try {
    return hostWork(fn);
  } catch (e) {
    if (!e || !e.code) log("flash: " + trim((e && e.stack) || e));
    return errnoOf(e);
  }
}

// Every function Python calls returns a number or a string and never throws: a JS
// exception would unwind through the interpreter and could not be caught in Python.
let ioAddr = 0; // the int32 array hal/virtual.py lent us; 0 until attach()

const io = {
  attach(addr, words) {
    if (words < IO_WORDS || !(addr > 0)) return -EINVAL;
    ioAddr = addr;
    M.setValue(addr, 0x5eed, "i32"); // Python checks it: proof the bridge writes its memory
    return cfg.cameras;
  },
  ticks_ms: () => nowMs() & MASK,
  rtc_s() {
    if (rtcBaseS === 0) return 0;
    return rtcBaseS + Math.floor((nowMs() - rtcSetAtMs) / 1000);
  },
  set_rtc_s(t) {
    rtcBaseS = t;
    rtcSetAtMs = nowMs();
    return 0;
  },
  read_tag() {
    if (ioAddr === 0) return 0;
    let r;
    if (BOARD_TIME) {
      loseReaderBytes(boardNow());
      // Reads in the order the world made them (the doorway judges direction by order):
      // the oldest line of the two readers, once its last byte has arrived.
      let pick = -1;
      for (let w = 0; w < 2; w++) {
        const line = wires[w][0];
        if (line && (pick < 0 || line.seq < wires[pick][0].seq)) pick = w;
      }
      if (pick < 0 || wires[pick][0].end > boardNow()) return 0;
      r = wires[pick].shift().read;
    } else {
      if (tagFifo.length === 0) return 0;
      r = tagFifo.shift();
    }
    tagsTaken++;
    for (let i = 0; i < 4; i++) M.setValue(ioAddr + 4 * (IO_TAG + i), r[i], "i32");
    return 1;
  },
  reader_lost: (w) => (w === 0 || w === 1 ? readerLost[w] : 0),
  beam_count: () => beamCount,
  video_beats(limit) {
    const now = nowMs();
    const n = ioAddr === 0 ? 0 : Math.min(limit, cfg.cameras);
    for (let i = 0; i < n; i++) {
      // A dead camera's value must not move: the firmware counts a changed value as a
      // beat. One never seen reports a fixed value an hour before power-on.
      let beat = cameraBeat(i, now);
      if (beat === null) beat = cfg.ticks_origin_ms - HOUR_MS;
      M.setValue(ioAddr + 4 * (IO_BEATS + i), beat & MASK, "i32");
    }
    return n;
  },
  read_gas() {
    const now = nowMs();
    if (gasSample === null || now < gasDueMs || ioAddr === 0) return 0;
    for (let i = 0; i < 3; i++) M.setValue(ioAddr + 4 * (IO_GAS + i), gasSample[i], "i32");
    gasDueMs = now + cfg.gas_sample_ms;
    return 1;
  },
  set_output(index, value) {
    const name = OUTPUT_NAMES[index];
    if (name === undefined) return -EINVAL;
    if (outputs[name] !== value) {
      outputs[name] = value;
      outputsDirty = true;
    }
    return 0;
  },
  link_read(addr, cap) {
    let n = 0;
    while (n < cap && rxChunks.length > 0) {
      const chunk = rxChunks[0];
      const take = Math.min(cap - n, chunk.length - rxHead);
      bufferToMem(chunk, rxHead, addr + n, take);
      n += take;
      rxHead += take;
      if (rxHead === chunk.length) {
        rxChunks.shift();
        rxHead = 0;
      }
    }
    rxPending -= n;
    rxTaken += n;
    return n;
  },
  link_write(addr, n) {
    if (n > 0) hostWork(() => send({ link: memToBuffer(addr, n).toString("hex") }));
    return 0;
  },
  arm_watchdog(ms) {
    // machine.WDT(timeout=ms) in Board(): running from here on, never stopped.
    const t = ms > 0 ? ms : cfg.watchdog_ms;
    if (!(t >= P.watchdog_min_ms && t <= P.watchdog_max_ms)) return -EINVAL;
    wdtMs = t;
    shared[SH_WDT_MS] = t;
    if (BOARD_TIME) {
      wdtArmed = true;
      lastFeedBoard = boardNow();
    }
    return t;
  },
  feed_watchdog() {
    if (!BOARD_TIME) {
      wdtArmed = true; // loose: running from its first feed, on the wall clock, as before
      if (!wdtMs) wdtMs = cfg.watchdog_ms;
      wdtFedReal = performance.now();
      return 0;
    }
    if (!wdtArmed) return 0;
    const now = boardNow();
    if (now - lastFeedBoard > wdtMs) wdtBite(now - lastFeedBoard); // it bit before this feed
    lastFeedBoard = now;
    shared[SH_CALL_CPU] = cpuUs();
    shared[SH_UNFED] = 0;
    return 0;
  },
  fl_open: () =>
    flashCall(() => {
      fs.mkdirSync(flashDir, { recursive: true });
      // A temp file left by a cut write never reached its rename: garbage.
      for (const entry of fs.readdirSync(flashDir)) {
        if (entry.endsWith(TEMP_SUFFIX)) fs.unlinkSync(path.join(flashDir, entry));
      }
      syncDir();
      return 0;
    }),
  fl_size: (name) =>
    flashCall(() => {
      const p = flashPath(name);
      return p === null ? -EINVAL : fs.statSync(p).size;
    }),
  fl_read: (name, offset, addr, n) =>
    flashCall(() => {
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      const buf = Buffer.allocUnsafe(n);
      const fd = fs.openSync(p, "r");
      let got = 0;
      try {
        while (got < n) {
          const k = fs.readSync(fd, buf, got, n - got, offset + got);
          if (k === 0) break;
          got += k;
        }
      } finally {
        fs.closeSync(fd);
      }
      bufferToMem(buf, 0, addr, got);
      return got;
    }),
  fl_write: (name, addr, n) =>
    flashCall(() => {
      // littlefs writes a new copy: erase its blocks, program its pages, commit metadata
      // (the new file's entry and the rename: two pages). A small file is inline.
      if (n <= INLINE_MAX) inlineCommit(n + P.flash.page_bytes);
      else flashOp(Math.ceil(n / P.flash.sector_bytes), pagesOf(n) + 2, n);
      // Atomic replace: temp file, fsync, rename, fsync the folder (the rename's record).
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      const temp = p + TEMP_SUFFIX;
      const fd = fs.openSync(temp, "w");
      try {
        writeAll(fd, memToBuffer(addr, n), null);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, p);
      syncDir();
      return 0;
    }),
  fl_append: (name, addr, n, sync = 1) =>
    flashCall(() => {
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      const created = !fs.existsSync(p);
      // littlefs copies a file's partly written last block on an append after a close:
      // one erase, the old tail and the new bytes programmed, one metadata page; a file
      // still inline (512 bytes or less) is one metadata commit. An unsynced append
      // (append_unsynced: a file written in parts, the last one synced) programs its
      // pages as the file's cache fills, and erases each fresh block the file grows into
      // (littlefs erases a block when it allocates it).
      const size = created ? 0 : fs.statSync(p).size;
      const S = P.flash.sector_bytes;
      if (!sync) flashOp(Math.ceil((size + n) / S) - Math.ceil(size / S), pagesOf(n), n);
      else if (size + n <= INLINE_MAX) inlineCommit(n);
      else {
        const tail = size % P.flash.sector_bytes;
        flashOp(1, pagesOf(tail + n) + 1, tail + n);
      }
      const fd = fs.openSync(p, "a");
      try {
        writeAll(fd, memToBuffer(addr, n), null);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      if (created) syncDir();
      return 0;
    }),
  fl_truncate: (name, size) =>
    flashCall(() => {
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      const tail = size % P.flash.sector_bytes;
      flashOp(tail ? 1 : 0, pagesOf(tail) + 1, tail);
      const fd = fs.openSync(p, "r+");
      try {
        fs.ftruncateSync(fd, size);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return 0;
    }),
  fl_remove: (name) =>
    flashCall(() => {
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      flashOp(0, 1, 0);
      try {
        fs.unlinkSync(p);
      } catch (e) {
        if (e.code === "ENOENT") return 0; // idempotent: recovery may repeat a removal
        throw e;
      }
      syncDir();
      return 0;
    }),
  fl_names: () => {
    // Flash names never hold "/", so it separates them in one string (no JS array proxy).
    try {
      return fs
        .readdirSync(flashDir)
        .filter((e) => !e.endsWith(TEMP_SUFFIX))
        .sort()
        .join("/");
    } catch (e) {
      log("flash names: " + trim(e));
      return null;
    }
  },
};
mp.registerJsModule("vboard_io", io);
harnessParts.vboard_io = liveNow() - harnessMark;
harnessMark += harnessParts.vboard_io;

mp.runPython(`
import gc
import sys
import micropython
sys.path[:] = ["", "/", "/lib", "/extra"]

# The heap a call needed, read inside it just before it returns (see readHeapIn in
# vboard.mjs): this port never collects inside a call from the host. Small ints into
# globals that already exist: the reading allocates nothing.
_vb_split = 0
_vb_total_in = 0
_vb_used_in = 0

def _vb_in():
    global _vb_total_in, _vb_used_in
    _vb_used_in = gc.mem_alloc()
    _vb_total_in = _vb_used_in + gc.mem_free() - _vb_split

def _vb_traceback(e):
    import io
    s = io.StringIO()
    sys.print_exception(e, s)
    return s.getvalue()

_vb_board = None
_vb_gw = None
_vb_mod = None
_vb_gen = None
_vb_has_phases = False
_vb_phase_name = ""

def _vb_stopped(e):
    # As firmware/main.py's finally: a dead loop leaves the outputs de-energised.
    text = _vb_traceback(e)
    if _vb_board is not None:
        _vb_board.set_work_relay(False)
        _vb_board.set_hot_relay(False)
        _vb_board.set_entry_refused(True)
        _vb_board.set_sounder(False)
        _vb_board.set_lamp(0)
    return text

# Boot, as main.py does it, one call from the host per part: the imports, Board() (which
# arms the watchdog), then the entry's boot. An entry module with phases(board), a
# generator yielding a name after each phase and returning the gateway, is driven one
# phase per call; one with only start(board) is one call.
def _vb_import(entry):
    global _vb_mod, _vb_has_phases
    try:
        import hal
        __import__(entry)
        _vb_mod = sys.modules[entry]
        _vb_has_phases = hasattr(_vb_mod, "phases")
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_hal():
    try:
        import hal
        hal.load("virtual")
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_make_board():
    global _vb_board
    try:
        import hal
        _vb_board = hal.load("virtual").Board()
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

_vb_ballast = None

def _vb_charge(n):
    # The heap the board's own HAL would take beyond ours: held for the board's life.
    global _vb_ballast
    try:
        _vb_ballast = bytearray(n)
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_phase():
    # 1: a phase ran (its name in _vb_phase_name); 0: boot is over; str: a traceback.
    global _vb_gw, _vb_gen, _vb_phase_name
    try:
        if _vb_gen is None:
            _vb_gen = _vb_mod.phases(_vb_board)
        _vb_phase_name = str(next(_vb_gen))
        return 1
    except StopIteration as e:
        _vb_gw = e.value
        if _vb_gw is None:
            return "phases() returned no gateway (return it from the generator)"
        return 0
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_start():
    global _vb_gw
    try:
        _vb_gw = _vb_mod.start(_vb_board)
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_step():
    try:
        _vb_gw.step()
    except BaseException as e:
        return _vb_stopped(e)
    finally:
        _vb_in()

def _vb_mem_info():
    micropython.mem_info()

def _vb_n_modules():
    return len(sys.modules)

def _vb_code_bytes():
    # Bytes of the .mpy files imported so far: what a frozen image keeps in flash.
    import os
    n = 0
    for m in sys.modules.values():
        f = getattr(m, "__file__", None)
        if f and f.endswith(".mpy"):
            n += os.stat(f)[6]
    return n

# The calibration benchmark: every solution of the 8-queens problem on one list, with
# recursion, the kind of program whose time on each chip profiles.py names.
def _vb_safe(cols, row, col):
    for r in range(row):
        c = cols[r]
        if c == col or c - col == r - row or c - col == row - r:
            return False
    return True

def _vb_place(cols, row, n):
    if row == n:
        return 1
    found = 0
    for col in range(n):
        if _vb_safe(cols, row, col):
            cols[row] = col
            found += _vb_place(cols, row + 1, n)
    return found

def _vb_queens(n):
    return _vb_place([0] * n, 0, n)
`);
harnessParts.functions = liveNow() - harnessMark;
harnessMark += harnessParts.functions;
const G = (name) => mp.globals.get(name);
const vbImport = G("_vb_import");
const vbHal = G("_vb_hal");
const vbMakeBoard = G("_vb_make_board");
const vbCharge = G("_vb_charge");
const vbPhase = G("_vb_phase");
const vbStart = G("_vb_start");
const vbStep = G("_vb_step");
const vbMemInfo = G("_vb_mem_info");
const gc = mp.pyimport("gc");

function crash(text) {
  sendOutputs(); // what the firmware's exit path drove, before the board halts
  send({ crash: text });
  fail(EXIT_CRASH, "firmware crashed:\n" + text);
}

function callPython(fn, arg) {
  try {
    return fn(arg);
  } catch (e) {
    // A bridge failure or an interpreter abort, not a Python exception (those are caught
    // in the _vb_ functions and come back as traceback text).
    crash("virtual board runtime error: " + trim((e && e.stack) || e));
    return null;
  }
}

// ---- the heap, read inside each call just before it returns ----
// This port never collects inside a call from the host (docs/hardware.md, "Board
// profiles"): an allocation that does not fit adds a heap area, and the collection that
// then runs when the call returns frees every added area left empty. So the heap
// is read twice: inside the call, just before it returns (_vb_in: everything the call
// allocated, garbage included, stricter than a board and never looser), and after it
// (what stays live, and an area kept by a live object).
function readHeap() {
  capture = [];
  try {
    vbMemInfo();
  } finally {
    const lines = capture;
    capture = null;
    const gcLine = lines.find((l) => l.startsWith("GC: total:"));
    const m = gcLine && /GC: total: (\d+), used: (\d+), free: (\d+)(?:, max new split: (\d+))?/.exec(gcLine);
    if (!m) crash("virtual board: no GC line in micropython.mem_info(): " + trim(lines.join("\n")));
    return { total: Number(m[1]), used: Number(m[2]), split: Number(m[4] || 0) };
  }
}
const heapStart = readHeap();
const heapLimit = heapStart.total; // the profile's heap as this port counts it
// gc.mem_free() counts the room the heap may still grow by: _vb_in takes it off.
mp.runPython("_vb_split = " + heapStart.split);
const heapStats = {
  limit: heapLimit,
  used_last: heapStart.used, // live after the last call returned
  used_peak: 0,
  peak_in: "",
  needed_last: 0, // the heap the last call needed, read inside it (garbage included)
  needed_peak: 0,
  needed_in: "",
  code_bytes: 0,
  // The board's own heap: frozen, the heap less every .mpy byte the image holds.
  data_limit: heapLimit - (P.frozen_code ? cfg.frozen_code_bytes : 0),
};

// This port collects between calls only now and then (when a call's allocations pass its
// threshold, or one found no room): garbage of earlier steps can still lie in the heap
// when a call begins, and would count as the call's. So a call that follows one which
// allocated starts on a collected heap, as the runner's tests do (tests/mpy_runner.mjs):
// what a board's collector could have freed at that moment is freed. Host time, not
// board time: it runs between calls.
const gcCollect = mp.pyimport("gc").collect;
let cleanUsed = -1; // live heap after the last collection, while nothing was allocated since

function collectIfDirty() {
  if (heapStats.used_last === cleanUsed) return;
  gcCollect();
  cleanUsed = readHeap().used;
  heapStats.used_last = cleanUsed;
}

function liveHeap() {
  gcCollect();
  return readHeap().used;
}

function readHeapIn() {
  // The reading _vb_in made just before the call returned: [heap total, bytes allocated].
  return [Number(G("_vb_total_in")), Number(G("_vb_used_in"))];
}
const vbCodeBytes = G("_vb_code_bytes");
const vbModules = G("_vb_n_modules");
let modulesSeen = -1; // sys.modules' length when code_bytes was last read

// ---- calibration: the same benchmark the profile's published figure is for ----
let calibrationVmMs = 0;
if (BOARD_TIME) {
  const queens = G("_vb_queens");
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    // The first run also warms the WebAssembly code up (V8 tiers it up): keep the best.
    const t0 = cpuUs();
    const found = queens(8);
    const ms = (cpuUs() - t0) / 1000;
    if (found !== 92) fail(EXIT_SETUP, "calibration: 8 queens gave " + found + " solutions, not 92");
    best = Math.min(best, ms);
  }
  calibrationVmMs = best;
  factor = P.calibration_ms / best;
  shared[SH_FACTOR] = factor;
  mp.runPython("del _vb_queens, _vb_place, _vb_safe");
}
harnessParts.calibration = liveNow() - harnessMark;

// ---- one call from the host: board time, flash stalls, FIFO, heap, watchdog ----
function beginCall(name) {
  callName = name;
  stalls = [];
  stallMs = 0;
  bridgeUs = 0;
  callCpuUs = cpuUs();
  inCall = true;
  shared[SH_CALL_CPU] = callCpuUs;
  shared[SH_UNFED] = wdtArmed && BOARD_TIME ? boardNowMs - lastFeedBoard : 0;
  shared[SH_IN_CALL] = 1;
}

function loseReaderBytes(now) {
  if (P.reader_rx === "dma") {
    stalls = []; // the DMA moves bytes on through flash work
    loseToRingOverrun(now);
  } else if (stalls.length) loseToStalls();
}

function dropLines(w, why) {
  const keep = [];
  for (const line of wires[w]) {
    if (line.lost) {
      tagsLost++;
      readerLost[w]++;
      tagsTaken++; // settled, for sync: it will never be read
      log("reader " + w + ": line of tag " + line.read[1] + " lost " + why);
    } else keep.push(line);
  }
  wires[w] = keep;
}

function loseToRingOverrun(now) {
  // Receive by DMA into a ring (hal/pico.py, hal/dmaring.py): bytes keep arriving in RAM
  // while the flash is busy; they are lost only when more than the ring holds (less its
  // guard) wait unread at a poll, and then everything unread is dropped, as DmaRing does.
  const room = P.reader_ring - RING_GUARD;
  for (let w = 0; w < 2; w++) {
    let unread = 0;
    for (const line of wires[w]) {
      if (line.start >= now) break;
      unread += Math.min(line.bytes, Math.floor((now - line.start) / READER_BYTE_MS));
    }
    if (unread <= room) continue;
    for (const line of wires[w]) {
      if (line.start >= now) break;
      line.lost = true;
    }
    dropLines(w, "to a DMA ring overrun (" + unread + " bytes unread, ring " + P.reader_ring + ")");
  }
}

function loseToStalls() {
  // Bytes arriving while the flash is busy wait in the UART's hardware FIFO; beyond its
  // depth they are lost and their line fails its checksum: the read is gone.
  const fifo = P.uart_fifo;
  if (!fifo) return;
  const judged = stalls;
  stalls = []; // each stall judged once: at the first read after it, or when the call ends
  for (const [s, e] of judged) {
    for (let w = 0; w < 2; w++) {
      let held = 0;
      for (const line of wires[w]) {
        if (line.start >= e) break;
        for (let k = 0; k < line.bytes; k++) {
          const at = line.start + (k + 1) * READER_BYTE_MS;
          if (at <= s) continue;
          if (at > e) break;
          held++;
          if (held > fifo) line.lost = true;
        }
      }
    }
  }
  for (let w = 0; w < 2; w++) dropLines(w, "to a flash stall (FIFO " + fifo + " bytes)");
}

const callStats = { last_ms: 0, max_ms: 0, max_in: "" };
// Since the supervisor's last {"mark"}: the longest call and the most heap in use.
// heap_data_peak: heap_needed_peak less the frozen code imported by then (frozen: what
// the board's own heap must hold; others: the same as heap_needed_peak).
let window = { max_ms: 0, max_in: "", heap_used_peak: 0, heap_needed_peak: 0, heap_data_peak: 0, steps: 0 };

function endCall() {
  shared[SH_IN_CALL] = 0;
  const ms = BOARD_TIME ? inCallMs() : 0;
  // Scripted clock: the whole call's board time has passed, read by the firmware or not.
  if (SCRIPTED && clockBooted) clockFloor = Math.max(clockFloor, bootClockMs + advancedMs + ms);
  inCall = false;
  if (BOARD_TIME) {
    loseReaderBytes(boardNowMs + ms);
    boardNowMs += ms;
    callStats.last_ms = ms;
    if (ms > callStats.max_ms) {
      callStats.max_ms = ms;
      callStats.max_in = callName;
    }
    if (ms > window.max_ms) {
      window.max_ms = ms;
      window.max_in = callName;
    }
    window.steps++;
    if (wdtArmed && boardNowMs - lastFeedBoard > wdtMs) wdtBite(boardNowMs - lastFeedBoard);
    if (wdtArmed) unfedMax = Math.max(unfedMax, boardNowMs - lastFeedBoard);
  }
  if (P.check_heap) {
    const [totalIn, usedIn] = readHeapIn();
    const h = readHeap();
    const liveBefore = heapStats.used_last; // live when the call began (after the last one)
    heapStats.used_last = h.used;
    if (h.used > window.heap_used_peak) window.heap_used_peak = h.used;
    if (h.used > heapStats.used_peak) {
      heapStats.used_peak = h.used;
      heapStats.peak_in = callName;
    }
    // Read again after a step only when it imported or let go a module (a command's
    // on-use code, gateway.commands and the rest): frozen, their bytecode is in flash
    // too, and a step that imports nothing need not pay for the reading.
    if (P.frozen_code) {
      const mods = Number(vbModules());
      if (!callName.startsWith("step") || mods !== modulesSeen) {
        heapStats.code_bytes = vbCodeBytes();
        modulesSeen = mods;
      }
    }
    // Frozen: the heap was made larger by the image's code; code never imported is slack.
    const slack = P.frozen_code ? Math.max(0, cfg.frozen_code_bytes - heapStats.code_bytes) : 0;
    const limit = heapLimit - slack;
    // Grown: an allocation found no room in the board's heap. Frozen: the bytes allocated
    // (garbage included) passed what the board's heap holds beside the code imported.
    const total = Math.max(h.total, totalIn);
    const used = Math.max(h.used, usedIn);
    const needed = Math.max(total > heapLimit ? total : 0, used);
    heapStats.needed_last = needed;
    if (needed > window.heap_needed_peak) window.heap_needed_peak = needed;
    const data = needed - (P.frozen_code ? heapStats.code_bytes : 0);
    if (data > window.heap_data_peak) window.heap_data_peak = data;
    if (needed > heapStats.needed_peak) {
      heapStats.needed_peak = needed;
      heapStats.needed_in = callName;
    }
    if (total > heapLimit || used > limit) {
      crash(
        "MemoryError (" + P.name + " profile, " + P.heap_kb + " KB heap" +
          (P.frozen_code ? ", " + heapStats.code_bytes + " bytes of frozen code not counted" : "") +
          "): the GC heap needed " + needed + " bytes, over the board's " + limit + ", during " +
          callName + " (" + usedIn + " bytes allocated by its end, garbage included: " +
          (usedIn - liveBefore) + " by the call on " + liveBefore + " live when it began; " +
          h.used + " bytes in use when it returned)",
      );
    }
  }
  if (wdtFired !== null) watchdogReset(wdtFired);
  return ms;
}

function watchdogReset(text) {
  sendOutputs();
  send({ watchdog: text });
  fail(EXIT_WATCHDOG, text);
}

function runCall(name, fn, arg) {
  if (P.check_heap) collectIfDirty();
  beginCall(name);
  const result = callPython(fn, arg);
  const ms = endCall();
  return [result, ms];
}

function sendOutputs() {
  if (outputsDirty) {
    outputsDirty = false;
    send({ out: outputs });
  }
}

// ---- supervisor messages ----
// [id, tags needed, rx bytes needed, full steps wanted, step count once consumed (or null)]
let syncWaiting = [];

function readerLineBytes(read) {
  // "$TAG,<id>,<rssi>,<battery>*<checksum>\r\n" (docs/hardware.md)
  return ("$TAG," + read[1] + "," + read[2] + "," + read[3] + "*00\r\n").length;
}

function applyMessage(msg) {
  const now = nowMs();
  if ("link" in msg) {
    const chunk = Buffer.from(msg.link, "hex");
    if (rxPending + chunk.length > cfg.rx_limit) {
      rxDropped += chunk.length; // a UART receive buffer overflowing: the bytes are lost
      log("link receive buffer full: dropped " + chunk.length + " bytes");
      return;
    }
    rxChunks.push(chunk);
    rxPending += chunk.length;
    rxQueued += chunk.length;
  } else if ("tag" in msg) {
    const pending = BOARD_TIME ? wires[0].length + wires[1].length : tagFifo.length;
    if (pending >= cfg.tag_fifo) {
      tagsDropped++;
      log("tag reader FIFO full: dropped a read of tag " + msg.tag[1]);
      return;
    }
    if (BOARD_TIME) {
      const w = msg.tag[0] ? 1 : 0;
      const bytes = readerLineBytes(msg.tag);
      const start = Math.max(boardNowMs, wireEnd[w]);
      const end = start + bytes * READER_BYTE_MS;
      wires[w].push({ read: msg.tag, start, end, bytes, lost: false, seq: tagsQueued });
      wireEnd[w] = end;
    } else {
      tagFifo.push(msg.tag);
    }
    tagsQueued++;
  } else if ("beam" in msg) {
    beamCount += msg.beam;
  } else if ("video" in msg) {
    if (msg.video[0] < cfg.cameras) setCamera(msg.video[0], msg.video[1], now);
  } else if ("gas" in msg) {
    setGas(msg.gas, now);
  } else if ("advance" in msg) {
    advancedMs += msg.advance;
    // Only jumps a person would notice: the demo advances in small steps many times a second.
    if (msg.advance >= 60000) log("clock advanced " + msg.advance + " ms");
  } else if ("sync" in msg) {
    // "steps": how many full steps must follow (1 when not given, as before).
    const n = Number.isInteger(msg.steps) && msg.steps > 0 ? msg.steps : 1;
    syncWaiting.push([msg.sync, tagsQueued, rxQueued, n, null]);
  } else if ("mark" in msg) {
    window = { max_ms: 0, max_in: "", heap_used_peak: 0, heap_needed_peak: 0, heap_data_peak: 0, steps: 0, mark: msg.mark };
  } else {
    log("unknown supervisor message: " + trim(JSON.stringify(msg)));
  }
}

let stdinText = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  stdinText += text;
  let nl;
  while ((nl = stdinText.indexOf("\n")) >= 0) {
    const line = stdinText.slice(0, nl);
    stdinText = stdinText.slice(nl + 1);
    if (!line) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      log("bad supervisor line: " + trim(line));
      continue;
    }
    applyMessage(msg);
  }
});
// The supervisor is gone (or cut us loose): a board without its host process is useless.
process.stdin.on("end", () => process.exit(0));

// ---- the watchdog of a call that never returns ----
if (BOARD_TIME && cfg.watchdog_bites) {
  // A thread of its own, as the chip's watchdog is hardware of its own: it reads the
  // process's CPU time while the interpreter is in a call, and bites when that call's
  // board time passes the timeout. It writes straight to fd 1 (the main thread is stuck)
  // and kills the process, which the supervisor reads as a watchdog reset.
  const worker = new Worker(
    `
    const { workerData } = require("node:worker_threads");
    const fs = require("node:fs");
    const sh = workerData.shared;
    setInterval(() => {
      if (sh[${SH_IN_CALL}] !== 1 || !(sh[${SH_WDT_MS}] > 0)) return;
      const u = process.cpuUsage();
      const ms = ((u.user + u.system - sh[${SH_CALL_CPU}]) / 1000) * sh[${SH_FACTOR}] + sh[${SH_UNFED}];
      if (ms > sh[${SH_WDT_MS}]) {
        const text = "watchdog: a call ran " + Math.round(ms) + " board ms without returning or feeding it (timeout " + sh[${SH_WDT_MS}] + " ms, " + workerData.profile + " profile), during " + (sh[${SH_STEP}] < 0 ? "boot" : "step " + sh[${SH_STEP}]);
        fs.writeSync(1, JSON.stringify({ watchdog: text, hung: true }) + "\\n");
        process.kill(process.pid, "SIGKILL");
      }
    }, 20);
    `,
    { eval: true, workerData: { shared, profile: P.name } },
  );
  worker.unref();
}

// ---- boot, as main.py: imports, Board(), the entry's boot (phase by phase if it has them) ----
const bootPhases = []; // [name, board ms, heap in use after it]

function bootCall(name, fn, arg) {
  const [result, ms] = runCall(name, fn, arg);
  if (typeof result === "string" && result) crash(result);
  bootPhases.push([name, Math.round(ms * 10) / 10, heapStats.used_last]);
  return result;
}

// What the virtual board's own HAL and harness hold, against the real board's HAL modules
// (cfg.board_hal_bytes, measured per image by halcost.mjs): the live heap the harness
// added before the firmware, and what importing hal.virtual and building Board() added.
const halCost = {
  board: cfg.board_hal_bytes || 0,
  board_modules: cfg.board_hal_modules || {},
  harness: 0,
  harness_parts: harnessParts,
  hal_virtual: 0,
  board_object: 0,
  own: 0,
  charged: 0,
};
halCost.harness = liveHeap() - bareUsed;
bootCall("boot: import " + cfg.entry, vbImport, cfg.entry);
let liveMark = liveHeap();
bootCall("boot: import hal.virtual", vbHal);
halCost.hal_virtual = liveHeap() - liveMark;
liveMark = liveHeap();
bootCall("boot: Board()", vbMakeBoard);
halCost.board_object = liveHeap() - liveMark;
halCost.own = halCost.harness + halCost.hal_virtual + halCost.board_object;
if (P.check_heap && halCost.board > halCost.own) {
  // Never kinder than the board: its own HAL would take this much more of the heap.
  halCost.charged = halCost.board - halCost.own;
  bootCall("boot: the board's HAL beyond hal.virtual (" + halCost.charged + " bytes)", vbCharge, halCost.charged);
}
if (mp.globals.get("_vb_has_phases")) {
  for (let i = 0; ; i++) {
    const r = bootCall("boot: phase " + (i + 1), vbPhase);
    if (r === 0) {
      bootPhases.pop(); // the call that only collected the gateway
      break;
    }
    const name = String(mp.globals.get("_vb_phase_name"));
    bootPhases[bootPhases.length - 1][0] = "boot: " + name;
  }
} else {
  bootCall("boot: start()", vbStart);
}
const bootBoardMs = boardNowMs;
bootClockMs = bootBoardMs;
clockBooted = true;
shared[SH_STEP] = 0;
log(
  "booted " + cfg.entry + " on flash " + flashDir + " (" + P.name + " profile" +
    (BOARD_TIME ? ", board time " + Math.round(bootBoardMs) + " ms, factor " + factor.toFixed(1) : "") +
    ")",
);
send({
  ready: {
    cameras: cfg.cameras,
    mem_alloc: gc.mem_alloc(),
    profile: P.name,
    factor,
    calibration_vm_ms: calibrationVmMs,
    boot_board_ms: bootBoardMs,
    boot_phases: bootPhases,
    heap: heapStats,
    hal_cost: halCost,
  },
});
sendOutputs();

function status() {
  return {
    steps,
    ticks_ms: io.ticks_ms(),
    rtc_s: io.rtc_s(),
    mem_alloc: gc.mem_alloc(),
    watchdog_armed: wdtArmed,
    watchdog_ms: wdtMs,
    tags_dropped: tagsDropped,
    tags_lost: tagsLost,
    rx_dropped: rxDropped,
    profile: P.name,
    board_ms: boardNowMs,
    boot_board_ms: bootBoardMs,
    step_board_ms: callStats.last_ms,
    max_call_board_ms: callStats.max_ms,
    max_call: callStats.max_in,
    unfed_board_ms: wdtArmed && BOARD_TIME ? boardNowMs - lastFeedBoard : null,
    unfed_max_board_ms: unfedMax,
    heap: heapStats,
    flash: flashStats,
    window,
  };
}

const parentPid = process.ppid;
setInterval(() => {
  // Orphaned (the supervisor was killed without closing our stdin): stop.
  if (process.ppid !== parentPid) process.exit(0);
  send({ alive: status() });
}, ALIVE_MS);

function tick() {
  // Syncs whose stimuli the firmware has consumed are answered after as many more full
  // steps as they asked for, every one of them at the clock the sync found (advances
  // sent before it are applied by then). One step reads an input; what follows from it
  // may take the firmware another (a zone count that reaches 0 in one step is judged
  // clear in the next), so a supervisor that moves the clock straight after a one-step
  // sync may have the second step see the jump, or not, by how fast the host answered.
  for (const s of syncWaiting) {
    if (s[4] === null && tagsTaken >= s[1] && rxTaken >= s[2]) s[4] = steps;
  }
  shared[SH_STEP] = steps + 1;
  const [error] = runCall("step " + (steps + 1), vbStep);
  if (error) crash(error);
  steps++;
  sendOutputs();
  const answer = [];
  const keep = [];
  for (const s of syncWaiting) {
    if (s[4] !== null && steps - s[4] >= s[3]) answer.push(s[0]);
    else keep.push(s);
  }
  syncWaiting = keep;
  for (const id of answer) send({ sync: id });
  if (BOARD_TIME) {
    // The loop's sleep_ms between steps: board time passes, the watchdog counts it.
    boardNowMs += cfg.step_interval_ms;
    if (wdtArmed && boardNowMs - lastFeedBoard > wdtMs) {
      callName = "the sleep after step " + steps;
      wdtBite(boardNowMs - lastFeedBoard);
      if (wdtFired !== null) watchdogReset(wdtFired);
    }
  } else if (wdtArmed && performance.now() - wdtFedReal > wdtMs) {
    watchdogReset("watchdog: not fed for " + wdtMs + " ms, resetting");
  }
  if (cfg.step_interval_ms > 0) setTimeout(tick, cfg.step_interval_ms);
  else setImmediate(tick);
}
tick();
