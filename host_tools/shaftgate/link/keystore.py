"""Where the host keeps what outlives one command: the per-gateway keys and auth counters
(docs/keys.md), the event record and the names of the last roster loaded.

Layout under the shaftgate home ($SHAFTGATE_HOME, else ~/.config/shaftgate):
    keys/<gateway_id>.key       32 raw bytes, mode 0600 (the directory 0700)
    keys/<gateway_id>.counter   the last auth counter used, decimal text
    events/<gateway_id>.jsonl   events received, one JSON object a line (client.py)
    rosters/<gateway_id>.json   names, roles and crews of the last roster loaded
    gateways.toml               optional: [gateways] id = "port" (cli.py)
"""

import os
import re
import secrets
import stat
from pathlib import Path

from gatewire.auth import KEY_LEN
from shaftgate.home import shaftgate_home

# Gateway ids become file names: a narrow alphabet, so "../x" or "a/b" can never name a
# file outside the keystore. 32 bytes is the wire limit of a gateway id (messages._NAME).
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


class KeystoreError(Exception):
    """A key or counter file is missing, malformed or not private enough."""


def check_gateway_id(gateway_id):
    if not isinstance(gateway_id, str) or not _GATEWAY_ID.match(gateway_id):
        raise KeystoreError(
            "gateway id %r is not 1-32 characters of letters, digits, '.', '_' or '-' "
            "starting with a letter or digit" % (gateway_id,)
        )
    return gateway_id


def default_key_dir():
    return shaftgate_home() / "keys"


def _write_durably(path, data, mode=0o600):
    # Temp file, fsync, rename, fsync of the folder: a crash leaves the old contents or
    # the new ones, never a mix, and the rename itself survives a power cut.
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    _sync_dir(path.parent)


def _sync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CounterFile:
    """The host's persisted auth counter for one gateway: the last counter used."""

    def __init__(self, path):
        self.path = Path(path)

    def load(self):
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeError) as e:
            raise KeystoreError("cannot read counter file %s: %s" % (self.path, e)) from e
        text = text.strip()
        if not text.isdigit():
            # Not silently 0: the clock alone might then be behind the gateway's counter.
            raise KeystoreError(
                "counter file %s holds %r, not a decimal counter; fix or remove it "
                "(docs/keys.md, Counters)" % (self.path, text[:40])
            )
        return int(text)

    def save(self, counter):
        try:
            _write_durably(self.path, b"%d\n" % counter)
        except OSError as e:
            raise KeystoreError("cannot write counter file %s: %s" % (self.path, e)) from e


class MemoryCounter:
    """A counter kept only in memory: for tests and one-off tools, where the clock part of
    auth.initial_counter is what keeps the next run above this one."""

    def __init__(self, counter=0):
        self.counter = counter

    def load(self):
        return self.counter

    def save(self, counter):
        self.counter = counter


class Keystore:
    def __init__(self, directory=None):
        self.directory = Path(directory) if directory is not None else default_key_dir()

    def key_path(self, gateway_id):
        return self.directory / ("%s.key" % check_gateway_id(gateway_id))

    def counter_store(self, gateway_id):
        return CounterFile(self.directory / ("%s.counter" % check_gateway_id(gateway_id)))

    def has_key(self, gateway_id):
        return self.key_path(gateway_id).exists()

    def load(self, gateway_id):
        path = self.key_path(gateway_id)
        self._check_directory()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise KeystoreError(
                "no key for gateway %s: %s does not exist (create one with "
                "`shaftgate key new %s`, then provision the board: docs/keys.md)"
                % (gateway_id, path, gateway_id)
            ) from None
        except OSError as e:
            raise KeystoreError("cannot open key file %s: %s" % (path, e)) from e
        try:
            # fstat of the open file, so the checks and the read see the same file.
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise KeystoreError("key file %s is not a regular file" % path)
            if st.st_uid != os.getuid():
                raise KeystoreError(
                    "key file %s belongs to uid %d, not to this account (uid %d)"
                    % (path, st.st_uid, os.getuid())
                )
            if st.st_mode & 0o077:
                raise KeystoreError(
                    "key file %s is mode %04o: readable or writable by group or others; "
                    "refusing to use it (chmod 600 %s, and consider the key leaked: "
                    "docs/keys.md, Rotation)" % (path, stat.S_IMODE(st.st_mode), path)
                )
            data = os.read(fd, KEY_LEN + 1)
        finally:
            os.close(fd)
        if len(data) != KEY_LEN:
            raise KeystoreError(
                "key file %s holds %s bytes, a gateway key is exactly %d"
                % (path, "more than %d" % KEY_LEN if len(data) > KEY_LEN else len(data), KEY_LEN)
            )
        return data

    def create(self, gateway_id):
        path = self.key_path(gateway_id)
        self._make_directory()
        key = secrets.token_bytes(KEY_LEN)
        try:
            # O_EXCL: never overwrite a key a board may already hold.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeystoreError(
                "a key for gateway %s already exists at %s; to rotate it follow "
                "docs/keys.md, Rotation" % (gateway_id, path)
            ) from None
        try:
            os.fchmod(fd, 0o600)  # the umask may have narrowed it further, never widened
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        _sync_dir(self.directory)
        return path

    def _make_directory(self):
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise KeystoreError("cannot create key directory %s: %s" % (self.directory, e)) from e
        self._check_directory()

    def _check_directory(self):
        try:
            st = os.stat(self.directory)
        except FileNotFoundError:
            return  # the key file's own error says what is missing
        # Anyone who can write the folder can swap a key file under us.
        if st.st_mode & 0o022:
            raise KeystoreError(
                "key directory %s is mode %04o: writable by group or others; "
                "refusing to use it (chmod 700 %s)"
                % (self.directory, stat.S_IMODE(st.st_mode), self.directory)
            )
