"""Sub-commands that browse and check the technique database: techniques, show, validate, schema, gaps, surveys."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from advisor.catalog import schema as S
from advisor.cli._app import catalog_of, command, out, output_path

__all__ = ["add_parsers"]


# --- techniques ------------------------------------------------------------------------------------
@command("techniques")
def _techniques(args: argparse.Namespace) -> int:
    cat = catalog_of(args).filter(
        category=args.category, stage=args.stage, level=args.level, phase=args.phase, family=args.family
    )
    items = cat.search(args.search) if args.search else list(cat)
    if args.format == "json":
        out(json.dumps([t.model_dump(mode="json") for t in items], indent=2, ensure_ascii=False))
        return 0
    frame = cat.to_frame().loc[[t.id for t in items]] if items else cat.to_frame().iloc[0:0]
    if args.format == "csv":
        flat = frame.copy()
        for col in flat.columns:
            if flat[col].map(lambda v: isinstance(v, list)).any():
                flat[col] = flat[col].map(lambda v: ";".join(v) if isinstance(v, list) else v)
        out(flat.to_csv(index=False))
        return 0
    if frame.empty:
        out("no technique matches these filters")
        return 0
    view = frame[["category", "level", "lifecycle_stages", "n_evidence", "name"]].copy()
    view["lifecycle_stages"] = view["lifecycle_stages"].map(",".join)
    view = view.rename(columns={"lifecycle_stages": "stages", "n_evidence": "evidence"}).fillna("-")
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        out(view.to_string())
    out(f"{len(frame)} technique(s)")
    return 0


# --- show ------------------------------------------------------------------------------------------
def _fmt_evidence(ev: S.Evidence) -> str:
    hw = f" on {ev.hardware}" if ev.hardware else ""
    return f"  - {ev.describe()} ({ev.setting}{hw}) [{ev.reference}, {ev.locator}]"


def _reference_line(ref: S.Reference) -> str:
    authors = ref.author[0].get("family", ref.author[0].get("literal", "?"))
    if len(ref.author) > 1:
        authors += " et al."
    ident = f"doi:{ref.DOI}" if ref.DOI else f"arXiv:{ref.arxiv}" if ref.arxiv else f"{ref.URL} (documentation)"
    return f"  [{ref.id}] {authors} ({ref.year}). {ref.title}. {ident}"


@command("show")
def _show(args: argparse.Namespace) -> int:
    cat = catalog_of(args)
    t = cat.get(args.id)
    if args.format == "json":
        record = t.model_dump(mode="json")
        record["references_resolved"] = [cat.references[k].model_dump(mode="json", by_alias=True) for k in t.references]
        out(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    app = t.applicability
    lines = [
        f"{t.name}  ({t.id})",
        f"category: {t.category or '-'}   level: {t.level or '-'}   stages: {', '.join(t.lifecycle_stages)}",
        "",
        t.summary,
        "",
        f"saves: {', '.join(t.saves)}",
        f"costs: accuracy risk {t.costs.accuracy_risk}, effort {t.costs.effort}"
        + (f"; {t.costs.notes}" if t.costs.notes else ""),
        f"applies to: {', '.join(app.model_families)}; phase {', '.join(app.phases)}; "
        f"hardware {', '.join(app.hardware)}; retraining {app.needs_retraining}; data {app.needs_data}",
    ]
    if app.requires_features:
        lines.append(f"needs hardware features: {', '.join(app.requires_features)}")
    if t.implementations:
        lines.append("apply with:")
        lines += [f"  - {i.library}: {i.call}" + (f" ({i.note})" if i.note else "") for i in t.implementations]
    if t.evidence:
        lines.append("evidence:")
        lines += [_fmt_evidence(ev) for ev in t.evidence]
    if t.relations:
        lines.append("relations:")
        lines += [f"  - {r.type} {r.target}" + (f": {r.note}" if r.note else "") for r in t.relations]
    lines.append("references:")
    lines += [_reference_line(cat.references[k]) for k in t.references if k in cat.references]
    out("\n".join(lines))
    return 0


# --- validate, schema, gaps ------------------------------------------------------------------------
@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from advisor.catalog import read_data_dir
    from advisor.catalog.validate import parse

    parsed = parse(read_data_dir(args.data))
    for p in parsed.problems:
        out(str(p))
    errors = sum(p.severity == "error" for p in parsed.problems)
    n_ev = sum(bool(t.evidence) for t in parsed.techniques.values())
    summary = (
        f"{len(parsed.techniques)} techniques ({n_ev} with quantitative evidence), "
        f"{len(parsed.references)} references, {sum(len(s.nodes) for s in parsed.surveys.values())} survey nodes: "
    )
    sys.stderr.write(summary + (f"{errors} problem(s)\n" if errors else "valid\n"))
    return 1 if errors else 0


@command("schema")
def _schema(args: argparse.Namespace) -> int:
    from advisor.catalog.export_schema import render, write_schemas

    if args.write:
        from advisor.catalog import default_data_dir

        target = default_data_dir() / "schema" if args.write == "-" else output_path(args.write, "--write", folder=True)
        for path in write_schemas(target):
            out(f"wrote {path}")
        return 0
    out(render(args.model))
    return 0


@command("gaps")
def _gaps(args: argparse.Namespace) -> int:
    from advisor.catalog.gaps import coverage_gaps

    gaps = coverage_gaps(catalog_of(args), n_thinnest=args.top)
    out(json.dumps(gaps.to_json(), indent=2) if args.format == "json" else gaps.to_text())
    return 0


@command("surveys")
def _surveys(args: argparse.Namespace) -> int:
    from advisor.catalog.surveys import crosswalk, survey_tree_text

    cat = catalog_of(args)
    if args.crosswalk:
        a, b = args.crosswalk
        import pandas as pd

        with pd.option_context("display.width", 250, "display.max_columns", None):
            out(f"techniques per ({a} node, {b} node), top-level nodes:\n" + crosswalk(cat, a, b).to_string())
        return 0
    for survey in [args.survey] if args.survey else list(S.SURVEYS):
        out(survey_tree_text(cat, survey, with_ids=args.ids) + "\n")
    return 0


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    t = add("techniques", "list techniques, filtered")
    t.add_argument("--category", choices=[*S.CATEGORIES, "none"])
    t.add_argument("--stage", choices=S.STAGES)
    t.add_argument("--level", choices=[*S.LEVELS, "none"])
    t.add_argument("--phase", choices=S.PHASES)
    t.add_argument("--family", choices=S.MODEL_FAMILIES)
    t.add_argument("--search", metavar="TEXT", help="free-text search (all words must match)")
    t.add_argument("--format", choices=["table", "json", "csv"], default="table")

    s = add("show", "show one technique with its evidence and references")
    s.add_argument("id")
    s.add_argument("--format", choices=["text", "json"], default="text")

    add("validate", "check the data: one line per problem, exit 1 if any")

    sc = add("schema", "print the JSON Schema (or write data/schema/*.schema.json)")
    sc.add_argument("--model", choices=["technique", "reference", "survey"], default="technique")
    sc.add_argument("--write", nargs="?", const="-", metavar="DIR", help="write all schemas (default data/schema)")

    g = add("gaps", "coverage matrices (stage x level, category x stage) and the thinnest cells")
    g.add_argument("--top", type=int, default=8, help="how many thinnest cells to list")
    g.add_argument("--format", choices=["text", "json"], default="text")

    sv = add("surveys", "browse by each survey's own section tree, or show the crosswalk between two surveys")
    sv.add_argument("--survey", choices=S.SURVEYS)
    sv.add_argument("--ids", action="store_true", help="list the technique ids under each node")
    sv.add_argument("--crosswalk", nargs=2, choices=S.SURVEYS, metavar=("A", "B"))
