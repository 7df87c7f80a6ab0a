"""Shared plumbing of the command line: the command registry, output, and common options."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "Handler", "catalog_of", "command", "confine_paths", "model_args", "out", "output_path"]

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of sub-command ``name``."""

    def deco(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return deco


def out(text: str) -> None:
    """Write one block of text to standard output, ending it with a newline."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def output_path(value: str | None, option: str, *, folder: bool = False) -> Path | None:
    """Make a path an option writes to ready before any work starts; the one rule for every output option.

    Its missing parent folders are created, like ``mkdir -p``, whether it names a file (``--out FILE``,
    ``doctor --save FILE``, ``knowledge export FILE``) or a folder (``--save DIR``, ``--save-dir``, ``schema
    --write``: the folder itself is made by what writes into it, so nothing is left behind when nothing is
    saved). A path that cannot be written is bad input, refused before anything is built or measured.

    Args:
        value: The option's value (None: the option was not given, nothing to do).
        option: The option's name for the message, e.g. ``--out``.
        folder: The path names a folder to write files into, not a file.

    Returns:
        The path, or None when ``value`` is None.

    Raises:
        ConstraintError: A file stands where a folder must be (or a folder where the file must be), or a
            parent folder cannot be created or written to (one line: expected, received, how to fix it).
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    what = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        fix = "choose another folder or move that file away" if folder else f"name a file inside it: {path}/NAME"
        raise _unwritable(option, what, value, f"{path} is {'a file' if folder else 'a folder'}", fix)
    target = path.parent
    existing = next((p for p in (target, *target.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise _unwritable(option, what, value, f"{existing} is a file, not a folder", "choose a path outside it")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create {target}: {exc.strerror or exc}"
        raise _unwritable(option, what, value, reason, "choose another path") from None
    if not os.access(path if path.exists() else target, os.W_OK):
        raise _unwritable(option, what, value, "no permission to write there", "choose a path you can write to")
    return path


def _unwritable(option: str, what: str, value: str, reason: str, fix: str) -> Exception:
    from advisor._errors import ConstraintError

    return ConstraintError(f"{option}: expected a {what} path that can be written, got {value!r}: {reason}; {fix}")


def catalog_of(args: argparse.Namespace) -> Any:
    """Load the catalog named by ``--data`` (the shipped data by default)."""
    from advisor.catalog import load_catalog

    return load_catalog(args.data)


def model_args(p: argparse.ArgumentParser) -> None:
    """Add ``--model``/``--profile``/``--phase``: a model to import or a profile file of a planned one."""
    p.add_argument("--model", metavar="SPEC", help="'package.module:factory' or 'path/file.py:factory'")
    p.add_argument("--profile", metavar="FILE", help="YAML/JSON profile of a model that does not exist yet")
    p.add_argument("--phase", choices=["training", "inference", "both"], default=None)


# --- app mode: every path on the command line stays inside the allowed folder ---------------------------------
PATH_DESTS = (
    "out",
    "store",
    "save",
    "save_dir",
    "write",
    "hardware",
    "profile",
    "data",
    "results",
    "file",
    "plan",
    "report",
)
SPEC_DESTS = ("model", "draft")  # 'path/file.py:factory' specs name a file; 'package.module:factory' do not


def confine_paths(args: argparse.Namespace) -> None:
    """In app mode, rewrite every path option to a path inside the allowed folder, or refuse it.

    The allowed folder is the operator's ``app_export_dir`` (``GREEN_ADVISOR_EXPORT_DIR``), else the
    current directory. Outside app mode this does nothing.

    Raises:
        ConstraintError: A path option is absolute, starts with ``~``, contains ``..``, is too long or
            leads outside the folder through a symlink.
    """
    from advisor._config import app_mode_enabled, resolve_inside, setting

    if not app_mode_enabled():
        return
    root = Path(setting("app_export_dir") or Path.cwd()).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    for dest in PATH_DESTS:
        value = getattr(args, dest, None)
        if isinstance(value, str):
            if value == "-" and dest == "write":
                raise _app_error("--write", "name a folder inside the allowed folder (the default is the package's)")
            setattr(args, dest, str(resolve_inside(root, value, what=f"--{dest.replace('_', '-')} (app mode)")))
    for dest in SPEC_DESTS:
        value = getattr(args, dest, None)
        target, sep, attr = value.rpartition(":") if isinstance(value, str) else ("", "", "")
        if sep and (target.endswith(".py") or "/" in target or target.startswith("~")):
            setattr(args, dest, f"{resolve_inside(root, target, what=f'--{dest} (app mode)')}:{attr}")
    campaign = getattr(args, "campaign", None)
    if isinstance(campaign, str) and (
        "/" in campaign or campaign.startswith(("~", ".")) or campaign.endswith((".yaml", ".yml", ".json"))
    ):
        args.campaign = str(resolve_inside(root, campaign, what="campaign plan (app mode)"))


def _app_error(option: str, fix: str) -> Exception:
    from advisor._errors import ConstraintError

    return ConstraintError(f"{option}: not allowed in app mode without a value; {fix}")
