# micropython-test
# The last accepted command counter on flash (gateway/store.py writes it, gateway/bootseq.py
# reads it at boot; docs/keys.md): two slots written in turn, in place beside a whole one,
# the highest whole counter in force; what older firmware wrote (auth.cbor, one CBOR uint)
# still read; a power cut at every byte of every write leaves the counter at the one
# before or the new one, never lower, never unreadable; a damaged counter with no whole
# slot refuses (StoreError), never 0.
from hostcalls import in_parts
from mpcheck import raises
from tornflash import PowerCut, TornFlash

from gateway import bootseq, store
from gatewire import cbor

BIG = 1733300000000  # a host's counter is about its unix ms: past 32 bits


class _Counter:
    # The app's counter writer: store.Slots over COUNTER_SLOTS, and store.write_counter.
    def __init__(self, flash):
        self.slots = store.Slots(flash, store.COUNTER_SLOTS, 16)

    def write(self, counter):
        store.write_counter(self.slots, counter)


def _writes(flash):
    return [h[:2] for h in flash.history]


def test_the_first_write_of_a_boot_is_atomic_then_the_slots_alternate_in_place():
    flash = TornFlash.on_files()
    assert bootseq.read_counter(flash) == 0
    slots = _Counter(flash)
    slots.write(5)
    slots.write(BIG)
    slots.write(BIG + 1)
    assert _writes(flash) == [
        ("write", "auth.cbor"),
        ("rewrite", "auth2.cbor"),
        ("append", "auth2.cbor"),
        ("rewrite", "auth.cbor"),
        ("append", "auth.cbor"),
    ]
    assert bootseq.read_counter(flash) == BIG + 1
    flash.reboot()
    assert bootseq.read_counter(flash) == BIG + 1
    # After a boot: atomic first again, whichever slot is in force.
    again = _Counter(flash)
    again.write(BIG + 2)
    assert flash.history[-1][:2] == ("write", "auth.cbor")
    assert bootseq.read_counter(flash) == BIG + 2


def test_a_counter_older_firmware_wrote_is_read_and_the_highest_slot_wins():
    flash = TornFlash.on_files()
    flash.write("auth.cbor", cbor.dumps(41))
    assert bootseq.read_counter(flash) == 41
    slots = _Counter(flash)
    slots.write(42)
    slots.write(43)
    assert bootseq.read_counter(flash) == 43
    a, b = flash.read("auth.cbor"), flash.read("auth2.cbor")
    flash.write("auth.cbor", b)
    flash.write("auth2.cbor", a)
    assert bootseq.read_counter(flash) == 43


def test_a_torn_slot_beside_a_whole_one_leaves_the_older_counter_in_force():
    flash = TornFlash.on_files()
    slots = _Counter(flash)
    slots.write(7)
    slots.write(8)
    whole = flash.read("auth.cbor")
    torn = flash.read("auth2.cbor")
    for cut in (0, 3, 11, 15):
        flash.write("auth2.cbor", torn[:cut])
        assert bootseq.read_counter(flash) == 7, cut
    flash.write("auth2.cbor", torn[:12] + b"\x00\x00\x00\x00")  # crc never landed
    assert bootseq.read_counter(flash) == 7
    assert flash.read("auth.cbor") == whole


def test_with_no_whole_slot_a_damaged_counter_refuses_and_says_which_file():
    for damage in (b"\xff\xff", b"SGC1" + bytes(12), cbor.dumps(-3), cbor.dumps("x")):
        flash = TornFlash.on_files()
        flash.write("auth.cbor", damage)
        e = raises(store.StoreError, bootseq.read_counter, flash)
        assert e.name == "auth.cbor", damage
    # Not firing: nothing there at all is 0, the counter of a gateway never commanded.
    assert bootseq.read_counter(TornFlash.on_files()) == 0


def _sweep(before):
    # A cut at every byte of every flash call of one write; after each, the counter in
    # force is the one before or (once its last byte landed) the new one, and the next
    # write and read work.
    def setup():
        flash = TornFlash.on_files()
        slots = _Counter(flash)
        for c in before:
            slots.write(c)
        return flash, slots

    new = BIG + 100
    flash, slots = setup()
    mark = len(flash.history)
    slots.write(new)
    ops = flash.history[mark:]
    runs = 0
    for op in range(len(ops)):
        n = ops[op][2]
        for after in range(n + 1):
            fills = (None, 0x00, 0xFF) if ops[op][0] == "append" and after < n else (None,)
            for fill in fills:
                flash, slots = setup()
                flash.arm(op, after, fill)
                raises(PowerCut, slots.write, new)
                flash.reboot()
                got = bootseq.read_counter(flash)
                landed = op == len(ops) - 1 and after == n
                # Until the last byte lands, the counter before is in force, whole.
                assert got == (new if landed else (before[-1] if before else 0)), (op, after)
                _Counter(flash).write(new + 1)
                assert bootseq.read_counter(flash) == new + 1
                runs += 1
                yield
    return runs


@in_parts
def test_power_cut_while_writing_the_first_counter():
    assert (yield from _sweep(())) == 16 + 1


@in_parts
def test_power_cut_while_a_counter_is_written_in_place_beside_a_whole_one():
    # In place: the 12-byte head unsynced (13 cuts), then the crc's synced append
    # (5 cuts, the 4 short of whole with zeros or erased flash too).
    assert (yield from _sweep((BIG, BIG + 1))) == 13 + 4 * 3 + 1
