# Phases of the doorway's heap measurement (benches/upy_phases.mjs, bench_doorway.py):
# heap kept by the doorway (its preallocated tracks and beam queue) and heap allocated on
# its hot path with 80 and 128 tags in range at once. Each string is its own top-level
# call, so a collection between two of them really frees the garbage of the one before.
PHASES = [
    "import gc, json, time, doorway_work as w\nfig = {}",
    "gc.collect()\nbase = gc.mem_alloc()",
    "d = w.make_doorway()",
    "gc.collect()\nfig['upy_heap_doorway_128_bytes'] = gc.mem_alloc() - base",
    "d2 = w.make_doorway()",
    "gc.collect()\nfig['upy_heap_doorway_128_again_bytes'] = "
    "gc.mem_alloc() - base - fig['upy_heap_doorway_128_bytes']\ndel d2",
    "gc.collect()\nbase = gc.mem_alloc()",
    "d255 = w.make_doorway(255)",
    "gc.collect()\nfig['upy_heap_doorway_255_bytes'] = gc.mem_alloc() - base\ndel d255",
    # Warm up (first calls may allocate), then the measured crowds with the GC off.
    "t = w.crowd_in(d, 1, 80, 1000)\nt = w.crowd_out(d, 1, 80, t)\nw.reset()",
    "gc.collect()\ngc.disable()\nb0 = gc.mem_alloc()\nt0 = time.ticks_us()\n"
    "t = w.crowd_in(d, 1, 80, t)\nt = w.crowd_out(d, 1, 80, t)\n"
    "fig['upy_doorway_80_us'] = time.ticks_diff(time.ticks_us(), t0)\n"
    "fig['upy_heap_doorway_80_in_range_bytes'] = gc.mem_alloc() - b0\ngc.enable()\n"
    "fig['upy_doorway_80_entries'] = w.counts[0]\nfig['upy_doorway_80_exits'] = w.counts[1]\n"
    "w.reset()",
    "gc.collect()\ngc.disable()\nb0 = gc.mem_alloc()\n"
    "t = w.crowd_in(d, 1, 128, t)\nt = w.crowd_out(d, 1, 128, t)\n"
    "fig['upy_heap_doorway_128_in_range_bytes'] = gc.mem_alloc() - b0\ngc.enable()\n"
    "fig['upy_doorway_128_entries'] = w.counts[0]\nfig['upy_doorway_128_exits'] = w.counts[1]\n"
    "fig['upy_doorway_128_overflow'] = d.overflowing\nw.reset()",
    "print('@@bench ' + json.dumps(fig))",
]
