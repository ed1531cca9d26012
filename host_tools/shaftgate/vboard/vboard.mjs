// One virtual gateway board: the deployed firmware files under the real MicroPython
// interpreter (WebAssembly port), with hal/virtual.py's I/O bridged to this process.
//   node vboard.mjs '<json settings>'     (started by board.py's VirtualBoard, not by hand)
// stdin:  newline-delimited JSON from the supervisor: link bytes and peripheral stimuli.
// stdout: newline-delimited JSON to the supervisor: link bytes, outputs, status. Nothing
//         else may be printed there; the firmware's print() and our own log go to stderr,
//         which the supervisor sends to the board's log file.
// The step loop runs from a timer, so Node's event loop serves stdin between steps, as
// the board's own loop does `step(); sleep_ms(2)`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

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
    watchdog_ms: 8000,
    ticks_origin_ms: 0,
    heap_kb: 256,
    tag_fifo: 256,
    rx_limit: 65536,
    env: {},
  },
  JSON.parse(process.argv[2] || "{}"),
);
const bootReal = performance.now();
let advancedMs = 0;

function trim(text) {
  // The port's own errors can carry a line of minified JavaScript hundreds of KB long.
  const lines = String(text)
    .split("\n")
    .map((l) => (l.length > 300 ? l.slice(0, 300) + " …[cut]" : l));
  return lines.slice(0, 60).join("\n");
}

function nowMs() {
  // Virtual ms since boot (plus the configured origin), unwrapped; a double is exact here.
  return cfg.ticks_origin_ms + Math.floor(performance.now() - bootReal) + advancedMs;
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

for (const key of ["repo", "flash_dir", "entry"]) {
  if (typeof cfg[key] !== "string" || !cfg[key]) fail(EXIT_SETUP, "setting " + key + " missing");
}
if (!(cfg.cameras >= 0 && cfg.cameras <= MAX_CAMERAS)) {
  fail(EXIT_SETUP, "cameras must be 0.." + MAX_CAMERAS);
}

// ---- peripherals (the world around the board) ----
const tagFifo = [];
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
let wdtArmed = false;
let wdtFedReal = 0;
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
const mp = await loadMicroPython({
  heapsize: cfg.heap_kb * 1024,
  linebuffer: true,
  stdout: (line) => process.stderr.write("[fw] " + line + "\n"),
  stderr: (line) => process.stderr.write("[fw] " + line + "\n"),
});
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

// What deploy puts on a board: firmware/ at the root (main.py, gateway/, hal/) and
// gatewire beside them. Sources, not .mpy: same bytecode semantics, clearer tracebacks.
const isSource = (name) => name.endsWith(".py");
copyTree(path.join(cfg.repo, "firmware"), "/", isSource);
copyTree(path.join(cfg.repo, "protocol", "gatewire"), "/gatewire", isSource);
if (cfg.extra_dir) copyTree(cfg.extra_dir, "/extra", isSource);

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
    return fn();
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
    if (tagFifo.length === 0 || ioAddr === 0) return 0;
    const r = tagFifo.shift();
    tagsTaken++;
    for (let i = 0; i < 4; i++) M.setValue(ioAddr + 4 * (IO_TAG + i), r[i], "i32");
    return 1;
  },
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
    if (n > 0) send({ link: memToBuffer(addr, n).toString("hex") });
    return 0;
  },
  feed_watchdog() {
    wdtArmed = true; // like machine.WDT: running from its first use, never stopped
    wdtFedReal = performance.now();
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
  fl_append: (name, addr, n) =>
    flashCall(() => {
      const p = flashPath(name);
      if (p === null) return -EINVAL;
      const created = !fs.existsSync(p);
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

mp.runPython(`
import sys
sys.path[:] = ["", "/", "/lib", "/extra"]

def _vb_traceback(e):
    import io
    s = io.StringIO()
    sys.print_exception(e, s)
    return s.getvalue()

_vb_board = None
_vb_gw = None

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

def _vb_boot(entry):
    global _vb_board, _vb_gw
    try:
        import hal
        _vb_board = hal.load("virtual").Board()
        __import__(entry)
        _vb_gw = sys.modules[entry].start(_vb_board)
    except BaseException as e:
        return _vb_stopped(e)

def _vb_step():
    try:
        _vb_gw.step()
    except BaseException as e:
        return _vb_stopped(e)
`);
const vbBoot = mp.globals.get("_vb_boot");
const vbStep = mp.globals.get("_vb_step");
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
    // in _vb_step and come back as traceback text).
    crash("virtual board runtime error: " + trim((e && e.stack) || e));
    return null;
  }
}

function sendOutputs() {
  if (outputsDirty) {
    outputsDirty = false;
    send({ out: outputs });
  }
}

// ---- supervisor messages ----
let syncWaiting = []; // [id, tags needed, rx bytes needed]

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
    if (tagFifo.length >= cfg.tag_fifo) {
      tagsDropped++;
      log("tag reader FIFO full: dropped a read of tag " + msg.tag[1]);
      return;
    }
    tagFifo.push(msg.tag);
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
    syncWaiting.push([msg.sync, tagsQueued, rxQueued]);
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

// ---- boot ----
const bootError = callPython(vbBoot, cfg.entry);
if (bootError) crash(bootError);
log("booted " + cfg.entry + " on flash " + flashDir);
send({ ready: { cameras: cfg.cameras, mem_alloc: gc.mem_alloc() } });
sendOutputs();

function status() {
  return {
    steps,
    ticks_ms: io.ticks_ms(),
    rtc_s: io.rtc_s(),
    mem_alloc: gc.mem_alloc(),
    watchdog_armed: wdtArmed,
    tags_dropped: tagsDropped,
    rx_dropped: rxDropped,
  };
}

const parentPid = process.ppid;
setInterval(() => {
  // Orphaned (the supervisor was killed without closing our stdin): stop.
  if (process.ppid !== parentPid) process.exit(0);
  send({ alive: status() });
}, ALIVE_MS);

function tick() {
  // Syncs whose stimuli the firmware has consumed are answered after one more full step.
  const answer = [];
  const keep = [];
  for (const s of syncWaiting) {
    if (tagsTaken >= s[1] && rxTaken >= s[2]) answer.push(s[0]);
    else keep.push(s);
  }
  syncWaiting = keep;
  const error = callPython(vbStep);
  if (error) crash(error);
  steps++;
  sendOutputs();
  for (const id of answer) send({ sync: id });
  if (wdtArmed && performance.now() - wdtFedReal > cfg.watchdog_ms) {
    const text = "watchdog: not fed for " + cfg.watchdog_ms + " ms, resetting";
    send({ watchdog: text });
    fail(EXIT_WATCHDOG, text);
  }
  if (cfg.step_interval_ms > 0) setTimeout(tick, cfg.step_interval_ms);
  else setImmediate(tick);
}
tick();
