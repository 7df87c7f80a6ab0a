"""Shared plumbing of the command line: the command registry, output, and common options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["COMMANDS", "Handler", "catalog_of", "command", "model_args", "out"]

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


def catalog_of(args: argparse.Namespace) -> Any:
    """Load the catalog named by ``--data`` (the shipped data by default)."""
    from advisor.catalog import load_catalog

    return load_catalog(args.data)


def model_args(p: argparse.ArgumentParser) -> None:
    """Add ``--model``/``--profile``/``--phase``: a model to import or a profile file of a planned one."""
    p.add_argument("--model", metavar="SPEC", help="'package.module:factory' or 'path/file.py:factory'")
    p.add_argument("--profile", metavar="FILE", help="YAML/JSON profile of a model that does not exist yet")
    p.add_argument("--phase", choices=["training", "inference", "both"], default=None)
