# Phases of the zone's heap measurement (benches/upy_phases.mjs, bench_zone.py): heap
# kept by a zone with a roster of 2,000 people and 300 in it (goal <= 64 KB), read after
# a collection between top-level calls (this port frees garbage only there).
PHASES = [
    "import gc, json, zone_work\nfig = {}",
    "gc.collect()\nbase = gc.mem_alloc()",
    "z = zone_work.make_zone('shaft')",
    "gc.collect()\nfig['upy_heap_zone_empty_bytes'] = gc.mem_alloc() - base",
    "zone_work.load_roster(z)",
    "gc.collect()\nfig['upy_heap_roster_2000_bytes'] = "
    "gc.mem_alloc() - base - fig['upy_heap_zone_empty_bytes']",
    "zone_work.fill(z, 1000)\nassert z.count == zone_work.IN_ZONE",
    "gc.collect()\nfig['upy_heap_zone_2000_roster_300_in_bytes'] = gc.mem_alloc() - base",
    "print('@@bench ' + json.dumps(fig))",
]
