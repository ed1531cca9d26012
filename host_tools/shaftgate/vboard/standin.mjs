// A MicroPython (WebAssembly) interpreter set up to import a board's firmware and HAL
// without the board: the .mpy tree copied in, and stand-ins for what only a board has
// (`machine`, `rp2`, two board-only names of `micropython`). Nothing builds a Board, so
// the HAL modules' cost is their code and tables. Used by halcost.mjs (the virtual board's
// HAL charge) and benches/module_cost.mjs.

import fs from "node:fs";
import path from "node:path";

// Copies every .mpy file under hostDir into the interpreter's file system at vmDir.
export function copyMpyTree(mp, hostDir, vmDir) {
  mp.FS.mkdirTree(vmDir);
  for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const h = path.join(hostDir, ent.name);
    if (ent.isDirectory()) copyMpyTree(mp, h, vmDir + "/" + ent.name);
    else if (ent.name.endsWith(".mpy")) mp.FS.writeFile(vmDir + "/" + ent.name, fs.readFileSync(h));
  }
}

// /board (the firmware tree) and the stand-ins first on sys.path; `import micropython`
// answered by the stand-in, through builtins.__import__ replaced by `_upy` (whose
// original is `_orig`: module_cost.mjs chains onto `_upy` by name).
export function installStandins(mp) {
  mp.FS.mkdirTree("/standin");
  mp.FS.writeFile("/standin/machine.py", "");
  mp.FS.writeFile("/standin/rp2.py", ""); // hal.pico uses rp2.DMA only inside Board()
  mp.FS.writeFile(
    "/standin/upy_standin.py",
    "from micropython import *\n" +
      "def alloc_emergency_exception_buf(n):\n    pass\n" +
      "def kbd_intr(c):\n    pass\n",
  );
  mp.runPython(
    [
      "import gc, sys, builtins",
      "sys.path[:0] = ['/board', '/standin']",
      "import machine, rp2, upy_standin",
      "_orig = builtins.__import__",
      "def _upy(name, *a):",
      "    return upy_standin if name == 'micropython' else _orig(name, *a)",
      "builtins.__import__ = _upy",
    ].join("\n"),
  );
}
