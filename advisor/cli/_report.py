"""The ``report`` sub-command: a results JSON or a stored run (``--run RUN_ID``) as HTML, Markdown, JSON, BibTeX."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from advisor._errors import ReportError
from advisor.cli._app import command, out, output_path

__all__ = ["add_parsers"]


@command("report")
def _report(args: argparse.Namespace) -> int:
    from advisor.catalog import load_catalog
    from advisor.reports import read_results, report

    if (args.results is None) == (args.run is None):
        raise ReportError(
            "report: expected a results file or --run RUN_ID (one of them), got "
            + ("both" if args.results else "neither")
            + "; list run ids with `green-advisor history`"
        )
    target = Path(args.out)  # a file with a report suffix, else a folder (as report() reads it)
    output_path(args.out, "--out", folder=target.is_dir() or not target.suffix)
    if args.run:
        written = report(
            run_id=args.run,
            store=args.store,
            out=args.out,
            formats=[args.format] if args.format else None,
            title=args.title,
            catalog=load_catalog(args.data) if args.data else None,
        )
        for fmt, path in written.items():
            out(f"wrote {path} ({fmt}, from run {args.run})")
        return 0
    inputs, kind = read_results(args.results)
    title = args.title or inputs.pop("title", None)
    inputs.pop("title", None)
    written = report(
        **inputs,
        out=args.out,
        formats=[args.format] if args.format else None,
        title=title,
        catalog=load_catalog(args.data) if args.data else None,
    )
    for fmt, path in written.items():
        out(f"wrote {path} ({fmt}, from {kind} {args.results})")
    return 0


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    r = add("report", "write a report (HTML, Markdown, JSON, BibTeX) from a results JSON or a stored run")
    r.add_argument(
        "results",
        nargs="?",
        metavar="RESULTS.json",
        help="from `measure --out`, `recommend --format json`, the demo's advice.json, or a report.json",
    )
    r.add_argument("--run", metavar="RUN_ID", help="report a run from the results store (ids: `green-advisor history`)")
    r.add_argument("--store", metavar="PATH", help="the results store for --run (default ~/.local/share/green-advisor)")
    r.add_argument("--out", required=True, metavar="FILE_OR_DIR", help="a .html/.md/.json/.bib file, or a directory")
    r.add_argument("--format", choices=["html", "md", "json", "bib"], help="only this format")
    r.add_argument("--title", metavar="T", help="the report's title")
