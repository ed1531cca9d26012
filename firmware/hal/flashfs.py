# FileFlash: the Flash interface of docs/firmware-design.md over an ordinary directory, for
# boards (littlefs) and CPython tests alike. Names are flat (no "/"); a missing file reads
# as None. What survives a power cut, by file system:
#   littlefs (rp2 and esp32 default): copy-on-write; a file's new contents and size become
#     visible together at flush/close (lfs_file_sync), and rename and remove are single
#     atomic metadata commits. An append is all or nothing, a rename never leaves neither.
#   POSIX (CPython, MicroPython unix): an append cut short may leave a partial tail or a
#     size extended over zeros; data is durable only after fsync (MicroPython's flush()
#     is fsync there; CPython needs os.fsync), and a rename only after fsync of the folder.
#   FAT: rename over an existing file is remove-then-rename, so a cut between the two can
#     lose the file. Not power-safe: do not keep the event log on FAT.
# write() goes through a temp file and a rename, so a reader sees the old or the new
# contents, never a mix; append() can tear on POSIX, which the event log detects on boot.
# Every call but append() first closes the file append() keeps open, so no file is ever
# open twice.
# Under MicroPython the opens and removes go straight to the file system mounted at "/"
# when the folder is in it (os.mount() with no arguments lists the mounts, MicroPython
# 1.27): open() and os.remove() first copy their path into a new string object (the VFS
# layer's lookup_path, 48 B a call) and then call that file system's own method with it.
# An ack opens three slots and a segment and removes a segment per 8 events acked: ~430 B
# of its heap (docs/hardware.md). The rarer calls (stat, rename) go through os.
import os

TEMP_SUFFIX = ".tmp"
_HAS_FSYNC = hasattr(os, "fsync")  # CPython; MicroPython's flush() already syncs
_O_RDONLY = getattr(os, "O_RDONLY", None) if _HAS_FSYNC else None  # to fsync a folder
_NO_NAME = object()  # no name is this object, so the path cache starts empty
_WRITE_PATHS_MAX = 16  # names whose paths write() keeps (they are few; a bound all the same)


def _root_fs(root):
    # The file system mounted at "/" if an absolute root lies in it and under no other
    # mount (a board's flash: rp2 and esp32 mount it there), else None: CPython's os has
    # no mount(), a MicroPython without the mount table wants arguments.
    try:
        # no arguments: the mount table (MicroPython's vfs.mount()), which the stubs do not know
        table = os.mount()  # pyright: ignore[reportCallIssue]
    except Exception:
        return None
    found = None
    for fs, point in table:
        if point == "/":
            found = fs
        elif root == point or root.startswith(point + "/"):
            return None
    return found if root[:1] == "/" else None


class FileFlash:
    def __init__(self, root):
        if not isinstance(root, str) or not root:
            raise ValueError("flash root must be a non-empty folder path")
        self.root = root
        self._dir = root + "/"  # built once: a path is then one concatenation, one str
        # A path in the root file system is the same string to it as to the VFS layer.
        fs = _root_fs(root)
        self._open = open if fs is None else fs.open
        self._remove = os.remove if fs is None else fs.remove
        self._last_name = _NO_NAME
        self._last_path = ""
        self._append_file = None
        self._append_name = None
        self._write_paths = {}  # name -> (path, temp path), for write()
        self._path_fmts = {}  # name format -> path format, for remove_numbered()
        try:
            os.mkdir(root)
        except OSError:
            if not self._is_dir(root):
                raise
        # A temp file left by a cut write never reached its rename: the target still
        # holds its previous contents, so the temp file is garbage.
        for entry in os.listdir(root):
            if entry.endswith(TEMP_SUFFIX):
                os.remove(root + "/" + entry)
        self._sync_dir()

    def read(self, name):
        self.close()
        path = self._path(name)
        try:
            f = self._open(path, "rb")
        except OSError:
            if self._exists(name):
                raise
            return None
        with f:
            return f.read()

    def write(self, name, data):
        self.close()
        path, temp = self._paths_of(name)
        with self._open(temp, "wb") as f:
            self._write_all(f, data)
            self._sync(f)
        os.rename(temp, path)
        self._sync_dir()

    def append(self, name, data):
        # The file stays open between appends to the same name (any other call closes
        # it): on littlefs each open allocates a file object with its cache (1 KB on
        # rp2), too much per event. Every append is still synced before returning.
        self._append(name, data, True)

    def append_unsynced(self, name, data):
        # For a file written in parts whose last part is appended synced (the state
        # snapshot): littlefs can program the parts into fresh blocks as they fill, where
        # a sync after each would copy the file's partly written last block to a freshly
        # erased one every time (one erase per part). A cut before the synced part leaves
        # the parts unwritten or partly written; the writer must detect that (the
        # snapshot's crc trailer does).
        self._append(name, data, False)

    def rewrite_unsynced(self, name, data):
        # Starts the file afresh with data, in place (no temp file, no rename), unsynced,
        # and keeps it open for the append_unsynced()/append() calls that write the rest
        # (the last one synced). NOT atomic: a cut leaves the file empty, short or torn
        # until the synced append returns, so it is only for a file whose reader detects
        # that and has another copy whole (the state snapshot's slots: a crc trailer, and
        # a save never goes to the slot holding the newest whole snapshot). Saves a
        # write()'s temp file, rename and reopen on every snapshot (~270 B of heap).
        self.close()
        paths = self._paths_of(name)
        created = _HAS_FSYNC and not self._exists(name)
        f = self._open(paths[0], "wb")
        self._append_file = f
        self._append_name = name
        try:
            self._write_all(f, data)
        except Exception:
            self.close()
            raise
        if created:
            self._sync_dir()

    def _append(self, name, data, sync):
        created = False
        f = self._append_file
        if f is None or self._append_name != name:
            path = self._path(name)  # only to open: the open file's name was checked
            self.close()
            created = _HAS_FSYNC and not self._exists(name)
            f = self._open(path, "ab")
            self._append_file = f
            self._append_name = name
        try:
            self._write_all(f, data)
            if sync:
                self._sync(f)
        except Exception:
            self.close()  # the handle's state is unknown after a failed write
            raise
        if created:
            self._sync_dir()

    def close(self):
        f = self._append_file
        if f is not None:
            self._append_file = None
            self._append_name = None
            f.close()

    def __del__(self):
        # A FileFlash dropped by its owner (tests, a reboot) closes its append file.
        self.close()

    def size(self, name):
        self.close()
        path = self._path(name)
        try:
            return os.stat(path)[6]
        except OSError:
            if self._exists(name):
                raise
            return None

    def read_at(self, name, offset, n):
        self.close()
        path = self._path(name)
        if offset < 0 or n < 0:
            raise ValueError("read_at offset and n must be >= 0")
        try:
            f = self._open(path, "rb")
        except OSError:
            if self._exists(name):
                raise
            return None
        with f:
            f.seek(offset)
            return f.read(n)

    def fs_bytes(self):
        # Size of the file system the folder is on (the event log's config bound).
        st = os.statvfs(self.root)
        return st[1] * st[2]

    def reader(self, name):
        # An open file for seek() and readinto() (the roster is searched in place through
        # one): reading through it allocates nothing. The caller closes it.
        self.close()
        return self._open(self._path(name), "rb")

    def truncate(self, name, size):
        self.close()
        # MicroPython's files have no truncate(): rewrite the kept prefix atomically,
        # which also means a cut mid-truncate leaves the file as it was.
        data = self.read(name)
        if data is None:
            raise ValueError("cannot truncate %s: no such file" % name)
        if size < 0 or size > len(data):
            raise ValueError("cannot truncate %s of %d bytes to %d" % (name, len(data), size))
        if size < len(data):
            self.write(name, data[:size])

    def remove(self, name):
        self.close()
        # Idempotent, so that recovery after a cut can simply repeat a removal.
        path = self._path(name)
        try:
            self._remove(path)
        except OSError:
            if self._exists(name):
                raise
            return
        self._sync_dir()

    def remove_numbered(self, fmt, n):
        # remove(fmt % n), its path made in one step from a kept folder + fmt: the event
        # log removes a numbered segment per 8 acked events, and a name string beside
        # each path is 32 B more of an ack's heap. fmt is checked once (a valid name for
        # n = 0, one integer conversion).
        path_fmt = self._path_fmts.get(fmt)
        if path_fmt is None:
            self._path(fmt % 0)  # raises ValueError for a bad name
            if len(self._path_fmts) >= _WRITE_PATHS_MAX:
                self._path_fmts.clear()
            path_fmt = self._dir.replace("%", "%%") + fmt
            self._path_fmts[fmt] = path_fmt
        self.close()
        try:
            self._remove(path_fmt % n)
        except OSError:
            if self._exists(fmt % n):
                raise
            return
        self._sync_dir()

    def names(self):
        self.close()
        out = []
        for entry in os.listdir(self.root):
            if not entry.endswith(TEMP_SUFFIX):
                out.append(entry)
        out.sort()
        return out

    def _paths_of(self, name):
        # The few names written whole (snapshot slots, the log's meta, the counter) come
        # back every ack: their path and temp path are kept rather than built again.
        paths = self._write_paths.get(name)
        if paths is None:
            path = self._path(name)
            paths = (path, path + TEMP_SUFFIX)
            if len(self._write_paths) >= _WRITE_PATHS_MAX:
                self._write_paths.clear()
            self._write_paths[name] = paths
        return paths

    def _path(self, name):
        # One-entry cache: the event log appends to the same segment name again and
        # again, and a board should not build a path string per event.
        if name is self._last_name:
            return self._last_path
        if (
            not isinstance(name, str)
            or not name
            or "/" in name
            or name in (".", "..")
            or name.endswith(TEMP_SUFFIX)
        ):
            raise ValueError("bad flash file name %r" % (name,))
        self._last_path = self._dir + name
        self._last_name = name
        return self._last_path

    def _exists(self, name):
        # errno values differ between ports (Emscripten reports ENOENT as 44), so ask the
        # directory instead of decoding the error.
        return name in os.listdir(self.root)

    @staticmethod
    def _is_dir(path):
        try:
            return (os.stat(path)[0] & 0x4000) != 0
        except OSError:
            return False

    @staticmethod
    def _write_all(f, data):
        n = f.write(data)
        if n is not None and n != len(data):
            raise OSError("short write: %d of %d bytes" % (n, len(data)))

    @staticmethod
    def _sync(f):
        f.flush()
        if _HAS_FSYNC:
            os.fsync(f.fileno())

    def _sync_dir(self):
        # A rename or a new file is durable on POSIX only once its folder is synced.
        if _O_RDONLY is not None:
            fd = os.open(self.root, _O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
