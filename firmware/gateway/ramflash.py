# The slice of the Flash interface a roster uses, in RAM: for a Zone built without a
# board (rule tests). Never used on a board, so never imported there.


class RamFlash:
    def __init__(self):
        self.files = {}

    def write(self, name, data):
        self.files[name] = bytearray(data)

    def append(self, name, data):
        self.files.setdefault(name, bytearray()).extend(data)

    def size(self, name):
        f = self.files.get(name)
        return None if f is None else len(f)

    def read_at(self, name, offset, n):
        f = self.files.get(name)
        return None if f is None else bytes(f[offset : offset + n])

    def remove(self, name):
        self.files.pop(name, None)

    def reader(self, name):
        return _RamReader(self.files[name])


class _RamReader:
    def __init__(self, data):
        self._data = data
        self._pos = 0

    def seek(self, pos):
        self._pos = pos
        return pos

    def readinto(self, buf):
        n = len(buf)
        got = self._data[self._pos : self._pos + n]
        buf[: len(got)] = got
        self._pos += len(got)
        return len(got)

    def close(self):
        pass
