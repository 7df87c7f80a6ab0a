"""The ``green-advisor`` command line (also ``python -m advisor``).

One module per command group; each registers its handlers with :func:`advisor.cli._app.command`
and adds its parsers in ``add_parsers``. Add a group by writing ``_name.py`` and listing it in
``GROUPS`` below.

Exit codes: 0 success; 1 the data failed validation; 2 bad input (unknown id, bad option,
unreadable file), always with a one-line message naming what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from advisor._errors import AdvisorError
from advisor._version import __version__
from advisor.cli import _advise, _campaign, _catalog, _demo, _generate, _measure, _report, _train, _tune
from advisor.cli._app import COMMANDS, confine_paths

__all__ = ["main"]

GROUPS = (_catalog, _advise, _measure, _generate, _train, _report, _demo, _campaign, _tune)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every command group included."""
    p = argparse.ArgumentParser(
        prog="green-advisor",
        description="Find, explain and measure techniques that cut the energy and carbon of deep learning.",
    )
    p.add_argument("--version", action="version", version=f"green-dl-advisor {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--data", metavar="DIR", help="technique data directory (default: the shipped data)")
        return sp

    for group in GROUPS:
        group.add_parsers(sub, add)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        confine_paths(args)  # app mode: every path option stays inside the allowed folder
        return COMMANDS[args.command](args)
    except AdvisorError as exc:
        sys.stderr.write(f"green-advisor {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"green-advisor {args.command}: interrupted\n")
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        return 0
