# A long test in parts, for the MicroPython runner's board profiles (docs/hardware.md,
# "Board profiles"): the WebAssembly port collects garbage only when a call from the host
# returns, so one long test call is charged every byte it ever allocated, garbage
# included, while a board's collector would have reclaimed it. A test written as a
# generator and decorated with @in_parts runs one part per call under the runner
# (tests/mpy_runner.mjs): each `yield` is where the host's call returns, the heap is
# checked there and the garbage of the part is collected, as a board could at any moment.
# What the test checks is unchanged: its locals live on in the generator between parts.
# Under CPython, and called plainly, the decorated test runs all its parts in one go.

# test function (as the module holds it) -> the generator function of its parts
PARTS = {}


def in_parts(gen_fn):
    def test():
        for _ in gen_fn():
            pass

    PARTS[test] = gen_fn
    return test
