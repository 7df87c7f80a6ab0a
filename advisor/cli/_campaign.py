"""The ``campaign`` command group: run, resume, list and report measurement campaigns across a fleet."""

from __future__ import annotations

import argparse
from typing import Any

from advisor.cli._app import command, out, output_path

__all__ = ["add_parsers"]


def _summary(result: Any) -> int:
    counts = ", ".join(f"{k} {v}" for k, v in result.counts().items())
    out(result.table().to_string(index=False, max_colwidth=60))
    out(f"campaign {result.campaign_id} ({result.status}, {result.runner}): {counts}; store {result.store_path}")
    if result.status == "interrupted":
        out("interrupted: finished cells are kept; run `green-advisor campaign resume` for the missing ones")
        return 130
    return 0


@command("campaign")
def _campaign(args: argparse.Namespace) -> int:
    from advisor.campaign import resume_campaign, run_campaign

    if args.action == "run":
        return _summary(run_campaign(args.plan, ray=args.ray, store=args.store, progress=not args.quiet))
    if args.action == "resume":
        return _summary(resume_campaign(args.campaign, ray=args.ray, store=args.store, progress=not args.quiet))
    if args.action == "list":
        from advisor.campaign import Ledger
        from advisor.measurement.store import default_store_path

        ledger = Ledger(args.store or default_store_path())
        try:
            rows = ledger.campaigns(args.limit)
            for c in rows:
                counts: dict[str, int] = {}
                for cell in ledger.cells(c["campaign_id"]):
                    counts[cell["status"]] = counts.get(cell["status"], 0) + 1
                out(f"{c['campaign_id']}  {c['status']:<11} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            if not rows:
                out(f"no campaigns in {ledger.path}")
        finally:
            ledger.close()
        return 0
    from advisor.reports import campaign_report

    folder = output_path(args.out, "--out", folder=True)
    for path in campaign_report(args.campaign, store=args.store, out=folder):
        out(f"wrote {path}")
    return 0


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    c = add("campaign", "measure many models on many node types (Ray or locally) and compare them")
    actions = c.add_subparsers(dest="action", metavar="ACTION", required=True)
    store_help = "SQLite results store (default ~/.local/share/green-advisor/results.sqlite)"
    ray_help = "run on Ray: 'local' starts a cluster here, or the address of a running one (default: no Ray)"
    r = actions.add_parser("run", help="run every cell of a plan", description="run every cell of a campaign plan")
    r.add_argument("plan", metavar="PLAN", help="campaign.yaml (see docs/campaigns.md)")
    r.add_argument("--ray", metavar="ADDRESS", help=ray_help)
    r.add_argument("--store", metavar="PATH", help=store_help)
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    rs = actions.add_parser("resume", help="run the cells an earlier campaign did not finish")
    rs.add_argument("campaign", nargs="?", metavar="ID|PLAN", help="campaign id or plan file (default: the newest)")
    rs.add_argument("--ray", metavar="ADDRESS", help=ray_help)
    rs.add_argument("--store", metavar="PATH", help=store_help)
    rs.add_argument("--quiet", action="store_true", help="no progress bar")
    ls = actions.add_parser("list", help="list campaigns with their cells' states")
    ls.add_argument("--store", metavar="PATH", help=store_help)
    ls.add_argument("--limit", type=int, default=20)
    rp = actions.add_parser("report", help="write the campaign report: HTML, Markdown, JSON")
    rp.add_argument("campaign", nargs="?", metavar="ID", help="campaign id (default: the newest)")
    rp.add_argument("--store", metavar="PATH", help=store_help)
    rp.add_argument("--out", default="campaign-report", metavar="DIR", help="folder for the report files")
