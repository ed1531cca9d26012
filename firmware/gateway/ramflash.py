# The slice of the Flash interface a roster uses, in RAM: for a Zone built without a
# board (rule tests). Never used on a board, so never imported there. A file is the list
# of the pieces written to it, so appending never regrows one big buffer (which would
# fragment a small test heap) and reading copies byte by byte without slices.


class RamFlash:
    def __init__(self):
        self.files = {}

    def write(self, name, data):
        self.files[name] = [bytes(data)]

    def append(self, name, data):
        self.files.setdefault(name, []).append(bytes(data))

    def size(self, name):
        f = self.files.get(name)
        if f is None:
            return None
        n = 0
        for piece in f:
            n += len(piece)
        return n

    def read_at(self, name, offset, n):
        if name not in self.files:
            return None
        size = self.size(name)
        if offset >= size:
            return b""
        buf = bytearray(min(n, size - offset))
        r = self.reader(name)
        r.seek(offset)
        r.readinto(buf)
        return bytes(buf)

    def remove(self, name):
        self.files.pop(name, None)

    def reader(self, name):
        return _RamReader(self.files[name])


class _RamReader:
    def __init__(self, pieces):
        self._pieces = pieces
        self._pos = 0

    def seek(self, pos):
        self._pos = pos
        return pos

    def readinto(self, buf):
        pieces = self._pieces
        pos = self._pos
        base = 0
        k = 0
        while k < len(pieces) and base + len(pieces[k]) <= pos:
            base += len(pieces[k])
            k += 1
        got = 0
        n = len(buf)
        while got < n and k < len(pieces):
            piece = pieces[k]
            i = pos - base
            while i < len(piece) and got < n:
                buf[got] = piece[i]
                got += 1
                i += 1
            base += len(piece)
            pos = base
            k += 1
        self._pos += got
        return got

    def close(self):
        pass
