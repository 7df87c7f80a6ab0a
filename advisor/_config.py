"""The user's config file: settings that belong to a machine or a team rather than to one call.

Looked up at ``$GREEN_ADVISOR_CONFIG``, else ``$XDG_CONFIG_HOME/green-advisor/config.toml``
(``~/.config/green-advisor/config.toml``). Known keys::

    region = "FRA"      # where this machine draws its power: sets CO2e (see `green-advisor regions`)
    lock_dir = "/srv/green-advisor"   # folder of the machine-wide measurement lock (one per machine)
    app_mode = true                   # serve the form to others: no visitor-typed server paths, capped runs
    app_export_dir = "/srv/exports"   # app mode: exports go to a per-session folder inside this one
    app_max_budget_s = 120            # app mode: longest measurement budget a visitor may ask for (s)
    app_max_techniques = 4            # app mode: most techniques per measurement
    app_lock_timeout_s = 900          # app mode: a visitor's request gives up after waiting this long (s)

Each key also has an environment variable (:data:`ENV_KEYS`, e.g. ``GREEN_ADVISOR_APP_MODE=1``).
An argument always wins over an environment variable, which wins over the file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from advisor._errors import ConstraintError

__all__ = ["CONFIG_ENV", "ENV_KEYS", "KNOWN_KEYS", "config_path", "load_config", "setting"]

CONFIG_ENV = "GREEN_ADVISOR_CONFIG"
KNOWN_KEYS: dict[str, type | tuple[type, ...]] = {
    "region": str,
    "lock_dir": str,
    "app_mode": bool,
    "app_export_dir": str,
    "app_max_budget_s": (int, float),
    "app_max_techniques": int,
    "app_lock_timeout_s": (int, float),
}
ENV_KEYS = {
    "lock_dir": "GREEN_ADVISOR_LOCK_DIR",
    "app_mode": "GREEN_ADVISOR_APP_MODE",
    "app_export_dir": "GREEN_ADVISOR_EXPORT_DIR",
    "app_max_budget_s": "GREEN_ADVISOR_MAX_BUDGET_S",
    "app_max_techniques": "GREEN_ADVISOR_MAX_TECHNIQUES",
    "app_lock_timeout_s": "GREEN_ADVISOR_LOCK_TIMEOUT_S",
}


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
        kind = KNOWN_KEYS[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            want = " or ".join(t.__name__ for t in kind) if isinstance(kind, tuple) else kind.__name__
            raise ConstraintError(f"{path}: {key}: expected a {want}, got {type(value).__name__} {value!r}")
    return data


def setting(key: str) -> Any:
    """One setting: its environment variable (:data:`ENV_KEYS`) if set, else the config file's value, else None.

    Raises:
        ConstraintError: The environment variable or the file holds a value of the wrong type.
    """
    env = ENV_KEYS.get(key)
    raw = os.environ.get(env) if env else None
    if raw is not None and raw.strip() != "":
        return _parse_env(key, env, raw.strip())
    return load_config().get(key)


def _parse_env(key: str, env: str, raw: str) -> Any:
    kind = KNOWN_KEYS[key]
    if kind is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConstraintError(f"{env}: expected 1/0 (or true/false), got {raw!r}")
    if kind is str:
        return raw
    try:
        value = int(raw) if kind is int else float(raw)
    except ValueError:
        raise ConstraintError(f"{env}: expected a number for {key}, got {raw!r}") from None
    if value <= 0:
        raise ConstraintError(f"{env}: expected a positive number for {key}, got {raw!r}")
    return value


# --- app mode: the operator's rules when the advisor is served to others -------------------------------------
APP_DEFAULTS = {"app_max_budget_s": 120.0, "app_max_techniques": 4, "app_lock_timeout_s": 900.0}
MAX_NAME_CHARS = 255  # longest file or folder name accepted (most file systems' limit)
MAX_PATH_CHARS = 1024

VOILA_ENV = ("VOILA_KERNEL_ID", "VOILA_BASE_URL", "VOILA_SERVER_URL", "VOILA_APP_PORT", "VOILA_REQUEST_URL")


def under_voila() -> bool:
    """True in a kernel that Voila started (Voila puts ``VOILA_*`` variables in its kernels' environment)."""
    return any(os.environ.get(k) for k in VOILA_ENV)


def app_mode_enabled() -> bool:
    """App mode: on under Voila, or when the operator sets ``app_mode = true`` / ``GREEN_ADVISOR_APP_MODE=1``.

    An explicit ``app_mode = false`` (or ``GREEN_ADVISOR_APP_MODE=0``) turns it off even under Voila, for an
    operator serving the form to themselves only.
    """
    value = setting("app_mode")
    return under_voila() if value is None else bool(value)


def app_limit(key: str) -> Any:
    """An app-mode cap (``app_max_budget_s``, ``app_max_techniques``, ``app_lock_timeout_s``): setting or default.

    Raises:
        ConstraintError: The setting is not a positive number.
    """
    value = setting(key)
    if value is None:
        return APP_DEFAULTS[key]
    if value <= 0:
        raise ConstraintError(f"{config_path()}: {key}: expected a positive number, got {value!r}")
    return value


def resolve_inside(root: str | Path, requested: str | os.PathLike[str], *, what: str = "path") -> Path:
    """``requested`` as a path inside ``root``, or a :class:`ConstraintError` saying why it is refused.

    Refused: empty names, NUL bytes, absolute paths, ``~``, any ``..`` part, a name longer than 255
    characters (or a path longer than 1024), and anything that resolves outside ``root`` through a symlink.

    Raises:
        ConstraintError: The path would leave ``root`` or is not a usable name.
    """
    text = os.fspath(requested)
    hint = f"give a relative name inside the allowed folder (e.g. 'report.html'); {what} stays inside {root}"
    if not text.strip() or "\x00" in text:
        raise ConstraintError(f"{what}: expected a file or folder name, got {text!r}; {hint}")
    if len(text) > MAX_PATH_CHARS or any(len(part) > MAX_NAME_CHARS for part in Path(text).parts):
        raise ConstraintError(f"{what}: a name is longer than {MAX_NAME_CHARS} characters ({len(text)} in all); {hint}")
    rel = Path(text)
    if rel.is_absolute() or text.startswith("~") or ".." in rel.parts:
        raise ConstraintError(f"{what}: {text!r} points outside the allowed folder (absolute, ~ or ..); {hint}")
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise ConstraintError(f"{what}: {text!r} leads outside the allowed folder through a symlink; {hint}")
    return target
