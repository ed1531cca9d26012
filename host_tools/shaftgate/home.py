"""Where this host keeps shaftgate's files: $SHAFTGATE_HOME, else ~/.config/shaftgate (keys,
events, rosters, gateways.toml, serve.sock, site.toml). Alone so that finding it loads
nothing else (link/keystore.py re-exports it)."""

import os
from pathlib import Path


def shaftgate_home():
    home = os.environ.get("SHAFTGATE_HOME")
    if home:
        return Path(home)
    return Path.home() / ".config" / "shaftgate"
