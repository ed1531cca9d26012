# The firmware's Flash interface over the real littlefs (the C library, through the
# littlefs-python wheel), configured as MicroPython mounts it on a Pico W, on a block
# device that counts every erase per block. So the erase figures are littlefs's own
# behaviour, not a model of it: a synced append to a file whose last block is partly
# written copies that block to a freshly erased one (lfs_ctz_extend), and every commit
# goes to a metadata pair that is compacted (erased) when full and moved after
# block_cycles erases.
from littlefs import LittleFS, UserContext, lfs
from littlefs.errors import LittleFSError

# MicroPython's extmod/vfs_lfsx.c: cache_size = 4 * max(read, prog), block_cycles 100;
# rp2's _boot.py formats with progsize=256; readsize and lookahead are the defaults (32).
PICO_W_FS_BYTES = 848 * 1024
BLOCK_SIZE = 4096
READ_SIZE = 32
PROG_SIZE = 256
LOOKAHEAD = 32
BLOCK_CYCLES = 100
# The W25Q16JV in the Pico W is rated for 100,000 erase cycles per sector (datasheet §1).
ERASE_CYCLES = 100_000


class CountingDevice(UserContext):
    def __init__(self, n_blocks):
        super().__init__(buffsize=n_blocks * BLOCK_SIZE)
        self.erases = [0] * n_blocks
        self.prog_bytes = 0

    def erase(self, cfg, block):
        self.erases[block] += 1
        return super().erase(cfg, block)

    def prog(self, cfg, block, off, data):
        self.prog_bytes += len(data)
        return super().prog(cfg, block, off, data)


def mount(fs_bytes=PICO_W_FS_BYTES):
    dev = CountingDevice(fs_bytes // BLOCK_SIZE)
    fs = LittleFS(
        context=dev,
        block_size=BLOCK_SIZE,
        block_count=fs_bytes // BLOCK_SIZE,
        read_size=READ_SIZE,
        prog_size=PROG_SIZE,
        cache_size=4 * PROG_SIZE,
        lookahead_size=LOOKAHEAD,
        block_cycles=BLOCK_CYCLES,
    )
    return fs, dev


class LfsFlash:
    # hal/flashfs.py's FileFlash contract on littlefs: write() through a temp file and a
    # rename, append() to a file kept open and synced after every write.
    def __init__(self, fs):
        self.fs = fs
        self._append = None
        self._append_name = None

    def _open(self, name, mode):
        return self.fs.open("/" + name, mode)

    def read(self, name):
        self.close()
        try:
            with self._open(name, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, name, data):
        self.close()
        with self._open(name + ".tmp", "wb") as f:
            f.write(bytes(data))
        self.fs.rename("/" + name + ".tmp", "/" + name)

    def append(self, name, data):
        self._append_to(name, data, True)

    def append_unsynced(self, name, data):
        self._append_to(name, data, False)

    def rewrite_unsynced(self, name, data):
        # FileFlash.rewrite_unsynced(): the file truncated and started afresh, unsynced,
        # kept open for the appends that follow (littlefs makes it visible at their sync).
        self.close()
        self._append = lfs.file_open(
            self.fs.fs,
            "/" + name,
            lfs.LFSFileFlag.wronly | lfs.LFSFileFlag.creat | lfs.LFSFileFlag.trunc,
        )
        self._append_name = name
        lfs.file_write(self.fs.fs, self._append, bytes(data))

    def _append_to(self, name, data, sync):
        if self._append_name != name:
            self.close()
            self._append = lfs.file_open(
                self.fs.fs,
                "/" + name,
                lfs.LFSFileFlag.wronly | lfs.LFSFileFlag.creat | lfs.LFSFileFlag.append,
            )
            self._append_name = name
        lfs.file_write(self.fs.fs, self._append, bytes(data))
        if sync:
            lfs.file_sync(self.fs.fs, self._append)

    def close(self):
        if self._append is not None:
            lfs.file_close(self.fs.fs, self._append)
            self._append = None
            self._append_name = None

    def size(self, name):
        self.close()
        try:
            return self.fs.stat("/" + name).size
        except FileNotFoundError:
            return None
        except LittleFSError as e:
            # stat() reports a missing file as littlefs's own error, not an OSError.
            if e.code == LittleFSError.Error.LFS_ERR_NOENT:
                return None
            raise

    def read_at(self, name, offset, n):
        self.close()
        try:
            with self._open(name, "rb") as f:
                f.seek(offset)
                return f.read(n)
        except FileNotFoundError:
            return None

    def reader(self, name):
        # FileFlash.reader(): an open file for seek() and readinto(); the caller closes it.
        self.close()
        return self._open(name, "rb")

    def truncate(self, name, size):
        data = self.read(name)
        if data is None:
            raise ValueError("cannot truncate %s: no such file" % name)
        self.write(name, data[:size])

    def remove(self, name):
        self.close()
        try:
            self.fs.remove("/" + name)
        except FileNotFoundError:
            pass

    def names(self):
        self.close()
        return sorted(n for n in self.fs.listdir("/") if not n.endswith(".tmp"))
