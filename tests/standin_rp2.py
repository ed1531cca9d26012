# A stand-in for MicroPython's `rp2` module (tests and benches only, never a board): DMA channels that move a
# reader UART's bytes into a ring as the RP2040's DMA does for hal/pico.py's DmaChannel:
# each byte written where the channel is, the write address wrapping in the ring, the
# transfer count (registers word 2) going down; writing registers word 7
# (AL1_TRANS_COUNT_TRIG) loads a count and starts the channel again where it stopped.
import standin_machine as machine

_UART_BASE = (0x40034000, 0x40038000)
CHANNELS = []


class _Registers:
    def __init__(self, dma):
        self._dma = dma

    def __getitem__(self, i):
        if i == 2:
            return self._dma.left
        return 0

    def __setitem__(self, i, value):
        if i == 7:
            self._dma.left = value
            self._dma.running = True


class DMA:
    def __init__(self):
        self.channel = len(CHANNELS)
        self.registers = _Registers(self)
        self.ring = None
        self.at = 0
        self.left = 0
        self.running = False
        self.uart = -1
        CHANNELS.append(self)

    def pack_ctrl(self, **fields):
        self.ctrl_fields = fields
        return 1

    def config(self, read=None, write=None, count=-1, ctrl=-1, trigger=False):
        if read in _UART_BASE:
            self.uart = _UART_BASE.index(read)
        self.ring = write
        self.at = 0
        self.left = count
        self.running = bool(trigger)

    def active(self, value=None):
        if value is None:
            return self.running
        self.running = bool(value)
        return None

    def receive(self, data):
        # Bytes off the wire while the channel runs (a stopped one would leave them in
        # the UART's FIFO: the bench never sends then).
        ring = self.ring
        size = len(ring)
        at = self.at
        for b in data:
            ring[at] = b
            at = (at + 1) % size
        self.at = at
        self.left -= len(data)


def wire(uart_id, data):
    # A reader sends `data` on UART uart_id: into its DMA ring if hal/pico.py set one up,
    # else into the UART's own buffer (the interrupt-fed receive).
    for i in range(len(CHANNELS) - 1, -1, -1):  # the newest board's channel (a test makes many)
        ch = CHANNELS[i]
        if ch.uart == uart_id and ch.running:
            ch.receive(data)
            return
    machine.UARTS[uart_id].put(data)
