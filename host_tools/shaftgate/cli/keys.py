"""Gateway keys on this host (docs/keys.md): key new, key rotate."""

import argparse
from pathlib import Path

from shaftgate.cli import EXIT_OK, EXIT_USAGE, register
from shaftgate.cli.common import _say_error
from shaftgate.link.keystore import Keystore, KeystoreError, shaftgate_home


def _key_new_args(p):
    p.add_argument("gateway_id", metavar="GATEWAY_ID")
    # SUPPRESS: given before the command word, the main parser's value stands.
    s = argparse.SUPPRESS
    p.add_argument("--home", metavar="DIR", default=s, help="shaftgate home")
    p.add_argument("--key-dir", metavar="DIR", default=s, help="key directory (default HOME/keys)")


def _keystore(args):
    home = Path(args.home) if args.home else shaftgate_home()
    return Keystore(args.key_dir if args.key_dir else home / "keys")


@register(
    "key new",
    "generate a new key for a gateway (32 random bytes, mode 0600)",
    "local",
    _key_new_args,
)
def _key_new(args):
    keystore = _keystore(args)
    path = keystore.create(args.gateway_id)
    print("new key for gateway %s: %s" % (args.gateway_id, path))
    print("provision the board with it, then reset the board (docs/keys.md):")
    print("  mpremote connect PORT fs cp %s :/data/gateway.key" % path)
    return EXIT_OK


def _key_rotate_args(p):
    _key_new_args(p)
    p.add_argument(
        "--commit",
        action="store_true",
        help="step 3: the board holds the new key; put it in place of the old one",
    )


@register(
    "key rotate",
    "rotate a gateway's key (docs/keys.md, Rotation): a new key, then --commit once provisioned",
    "local",
    _key_rotate_args,
)
def _key_rotate(args):
    import os
    import secrets

    keystore = _keystore(args)
    key = keystore.key_path(args.gateway_id)
    new = key.with_name(key.name + ".new")
    try:
        if not args.commit:
            keystore.load(args.gateway_id)  # there is a key to rotate, and it is sound
            try:
                fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                raise KeystoreError(
                    "%s exists: a rotation is under way; provision the board with it and run "
                    "`shaftgate key rotate %s --commit`, or delete it to start again"
                    % (new, args.gateway_id)
                ) from None
            try:
                os.write(fd, secrets.token_bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            print(
                "new key for %s: %s (the old one stays in use until --commit)"
                % (args.gateway_id, new)
            )
            print("2. provision the board with it and reset the board (a maintenance window:")
            print("   the gateway refuses dispatch's commands until step 3):")
            print("     mpremote connect PORT fs cp %s :/data/gateway.key" % new)
            print("3. shaftgate key rotate %s --commit   (then restart serve)" % args.gateway_id)
            print("4. send one harmless signed command and check it is accepted")
            return EXIT_OK
        data = new.read_bytes() if new.exists() else None
        if data is None:
            raise KeystoreError(
                "no rotation under way for %s (%s missing): run `shaftgate key rotate %s` first"
                % (args.gateway_id, new, args.gateway_id)
            )
        if len(data) != 32 or new.stat().st_mode & 0o077:
            raise KeystoreError("%s is not a 32-byte key readable by its owner only" % new)
        os.replace(new, key)  # atomic: the old key or the new one, never half of each
        dir_fd = os.open(key.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except KeystoreError as e:
        _say_error(e)
        return EXIT_USAGE
    print(
        "key for %s rotated: %s now holds the new key; the old one is gone" % (args.gateway_id, key)
    )
    print("restart serve, then send one harmless signed command and check it is accepted")
    return EXIT_OK
