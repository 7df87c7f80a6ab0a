"""The ``demo`` sub-command: the main job on the embedded default model."""

from __future__ import annotations

import argparse
from typing import Any

from advisor.cli._app import command, output_path

__all__ = ["add_parsers"]


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from advisor._demo import run_demo

    return run_demo(out_dir=output_path(args.out, "--out", folder=True), seconds=args.budget_s, region=args.region)


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    m = add("demo", "the main job: train a small model on scikit-learn's digits, profile it and advise")
    m.add_argument("--out", default="green-advisor-demo", help="folder for the results")
    m.add_argument("--budget-s", type=float, default=30.0, help="time budget for measurements, in seconds")
    m.add_argument("--region", metavar="R", help="region for CO2e, e.g. FRA (default $GREEN_ADVISOR_REGION)")
