"""The user's config file: settings that belong to a machine or a team rather than to one call.

Looked up at ``$GREEN_ADVISOR_CONFIG``, else ``$XDG_CONFIG_HOME/green-advisor/config.toml``
(``~/.config/green-advisor/config.toml``). Known keys::

    region = "FRA"      # where this machine draws its power: sets CO2e (see `green-advisor regions`)

An argument always wins over an environment variable, which wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from advisor._errors import ConstraintError

__all__ = ["CONFIG_ENV", "KNOWN_KEYS", "config_path", "load_config"]

CONFIG_ENV = "GREEN_ADVISOR_CONFIG"
KNOWN_KEYS = {"region": str}


def config_path() -> Path:
    """Where the config file is looked for (it need not exist)."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "green-advisor" / "config.toml"


def load_config() -> dict[str, Any]:
    """The config file's settings ({} when there is no file).

    Raises:
        ConstraintError: The file is not valid TOML, has an unknown key or a value of the wrong type.
    """
    path = config_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConstraintError(f"{path}: not valid TOML ({exc}); fix the file or delete it") from None
    for key, value in data.items():
        if key not in KNOWN_KEYS:
            raise ConstraintError(f"{path}: unknown key {key!r}; expected one of {sorted(KNOWN_KEYS)}")
        if not isinstance(value, KNOWN_KEYS[key]):
            want = KNOWN_KEYS[key].__name__
            raise ConstraintError(f"{path}: {key}: expected a {want}, got {type(value).__name__} {value!r}")
    return data
