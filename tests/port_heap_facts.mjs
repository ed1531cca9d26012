// The WebAssembly port's heap, as docs/hardware.md ("What a call is charged") states it:
//   node tests/port_heap_facts.mjs
// One interpreter with a 192 KB heap; each line is one call from the host, the heap's
// total read inside the call just before it returns and again after it has returned.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

let capture = null;
const mp = await loadMicroPython({
  heapsize: 192 * 1024,
  linebuffer: true,
  stdout: (line) => (capture === null ? process.stdout.write(line + "\n") : capture.push(line)),
});
mp.runPython(`
import gc, micropython
kept = []
def churn():  # 2 MB of 1 KB garbage
    for i in range(2000):
        b = bytearray(1024)
def churn_collect():  # the same, and gc.collect() inside the call
    churn()
    gc.collect()
def peak():  # 300 KB, let go before returning
    b = bytearray(300 * 1024)
    b = None
def churn_keep():  # the churn, then 64 bytes kept
    churn()
    kept.append(bytearray(64))
def crc_bigint():  # 32-bit CRC steps: values past 2**30 are big ints
    c = 0xFFFFFFFF
    for i in range(20000):
        c = (c >> 1) ^ 0xEDB88320
def crc_small():  # the same on values below 2**30
    c = 0x3FFFFFFF
    for i in range(20000):
        c = (c >> 1) ^ 0x2DB88320
def inside(f):
    a = gc.mem_alloc()
    f()
    micropython.mem_info()
    print("allocated %d" % (gc.mem_alloc() - a))
def after():
    micropython.mem_info()
`);

function total(fn, arg) {
  capture = [];
  fn(arg);
  const lines = capture;
  capture = null;
  const gcLine = lines.find((l) => l.startsWith("GC:"));
  const alloc = lines.find((l) => l.startsWith("allocated"));
  return [Number(/GC: total: (\d+)/.exec(gcLine)[1]), alloc ? Number(alloc.split(" ")[1]) : null];
}

const G = (n) => mp.globals.get(n);
const [start] = total(G("after"));
console.log("heap at start: %d", start);
for (const name of ["churn", "churn_collect", "peak", "crc_bigint", "crc_small", "churn_keep"]) {
  const [during, allocated] = total(G("inside"), G(name));
  const [afterIt] = total(G("after"));
  console.log(
    "%s: allocated %d, heap %d inside the call, %d after it returned",
    name.padEnd(13),
    allocated,
    during,
    afterIt,
  );
}
