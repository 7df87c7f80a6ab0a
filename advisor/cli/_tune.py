"""Sub-commands that tune and share what was learnt: tune, knowledge export/import/show."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from advisor._errors import KnowledgeError
from advisor.cli._app import command, out, output_path
from advisor.profile.constraints import OBJECTIVES

__all__ = ["add_parsers"]


def _constraints(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {
        "objective": args.objective,
        "max_accuracy_drop_pp": args.max_accuracy_drop,
        "min_fidelity": getattr(args, "min_fidelity", None),
        "retraining": args.retraining,
        "data": args.data_available,
        "effort": args.effort,
    }
    return {k: v for k, v in pairs.items() if v is not None}


def _batch_sizes(text: str | None) -> list[int] | None:
    from advisor._errors import ConstraintError

    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConstraintError(f"--batch-sizes: expected comma-separated integers like 1,4, got {text!r}") from None


@command("tune")
def _tune(args: argparse.Namespace) -> int:
    from advisor.catalog import load_catalog
    from advisor.profile.spec import load_spec
    from advisor.tuning import GenerationOptions, tune

    gen = {"batch_sizes": _batch_sizes(args.batch_sizes), "max_new_tokens": args.max_new_tokens}
    generation = GenerationOptions(**{k: v for k, v in gen.items() if v is not None})
    json_out = output_path(args.out, "--out")
    save_dir = None if args.no_save else output_path(args.save_dir, "--save-dir", folder=True)
    spec = load_spec(args.model)  # the spec carries the tokenizer, prompts, draft model and training set-up
    if args.draft:
        spec = replace(spec, draft_model=load_spec(args.draft).model)
    plan = tune(
        spec,
        None,
        None,
        None,
        _constraints(args),
        args.budget_s,
        phase=args.phase,
        store=args.store,
        region=args.region,
        pue=args.pue,
        name=args.model.rpartition(":")[2],
        progress=args.format == "text",
        max_variants=args.max_variants,
        stacks=not args.no_stacks,
        save=not args.no_save,
        save_dir=save_dir,
        catalog=load_catalog(args.data) if args.data else None,
        steps_per_epoch=args.steps_per_epoch,
        epochs=args.epochs,
        generation=generation,
    )
    if json_out:
        json_out.write_text(plan.to_json(), encoding="utf-8")
    out(plan.to_json() if args.format == "json" else str(plan))
    return 0 if plan.run is None or plan.run.status == "finished" else 130


@command("knowledge")
def _knowledge(args: argparse.Namespace) -> int:
    from advisor.measurement.store import ResultStore
    from advisor.profile.hardware import detect_hardware
    from advisor.tuning import export_knowledge, hardware_fingerprint, import_knowledge, knowledge_for

    if args.action in ("export", "import") and not args.file:
        raise KnowledgeError(
            f"knowledge {args.action}: expected a FILE, e.g. `green-advisor knowledge "
            f"{args.action} team-knowledge.json`"
        )
    target = output_path(args.file, "knowledge export FILE") if args.action == "export" else None
    store = ResultStore(args.store)
    if target:
        n = export_knowledge(store, target)
        out(f"wrote {n} measured result(s) from {store.path} to {args.file}")
    elif args.action == "import":
        new, known = import_knowledge(store, args.file)
        out(f"imported {new} new result(s) from {args.file} ({known} already known); kept beside {store.path}")
    else:
        hw = detect_hardware()
        obs = knowledge_for(store, hw)
        out(f"{len(obs)} result(s) measured on this machine (fingerprint {hardware_fingerprint(hw)}):")
        for o in obs[: args.top]:
            er = f", energy x{o.energy_ratio:.2f}" if o.energy_ratio else ""
            out(
                f"  {o.measured_at} run {o.run_id}: {o.technique} on {o.model_text()}: "
                f"time x{o.latency_ratio:.2f} ({o.verdict}){er}"
            )
    return 0


def add_parsers(sub: Any, add: Any) -> None:
    """Add this group's sub-command parsers."""
    t = add("tune", "recommend, measure the most promising variants here, re-rank, and print the plan")
    t.add_argument("--model", required=True, metavar="SPEC", help="'module:factory' or 'path/file.py:factory'")
    t.add_argument("--budget-s", type=float, default=60.0, help="measuring budget in seconds (default 60)")
    t.add_argument("--phase", choices=["inference", "training"], default="inference")
    t.add_argument("--objective", choices=OBJECTIVES, default=None)
    t.add_argument("--max-accuracy-drop", type=float, default=None, metavar="PP", help="percentage points (>= 0)")
    t.add_argument(
        "--min-fidelity",
        type=float,
        default=None,
        metavar="F",
        help="fidelity floor without an eval_fn (0-1, default 0.99): top-1/token agreement or cosine on "
        "held-out inputs",
    )
    t.add_argument("--retraining", choices=["none", "fine-tuning", "full"], default=None)
    t.add_argument("--data-available", choices=["none", "calibration", "unlabelled", "labelled"], default=None)
    t.add_argument("--effort", choices=["low", "medium", "high"], default=None)
    t.add_argument("--max-variants", type=int, default=None, metavar="N", help="single variants to measure")
    t.add_argument("--no-stacks", action="store_true", help="do not measure stacks of the variants that pay off")
    t.add_argument("--no-save", action="store_true", help="do not save the winner as an artifact")
    t.add_argument("--save-dir", metavar="DIR", help="where to save the winner (default: beside the store)")
    t.add_argument("--steps-per-epoch", type=int, metavar="N", help="training: optimizer steps per epoch")
    t.add_argument("--epochs", type=int, metavar="E", help="training: epochs of the run to project")
    t.add_argument("--batch-sizes", metavar="1,4", help="generative decoders: batch sizes to measure (default 1,4)")
    t.add_argument("--max-new-tokens", type=int, metavar="N", help="generative decoders: tokens per prompt (32)")
    t.add_argument("--draft", metavar="SPEC", help="generative decoders: a draft model spec for speculative decoding")
    t.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    t.add_argument("--region", metavar="R", help="where the energy is drawn, for CO2e (default $GREEN_ADVISOR_REGION)")
    t.add_argument("--pue", type=float, default=1.0, metavar="P", help="data-centre PUE (>= 1.0; 1.0 for a desktop)")
    t.add_argument("--out", metavar="FILE", help="also write the plan as JSON")
    t.add_argument("--format", choices=["text", "json"], default="text")

    k = add("knowledge", "share what this machine measured: export FILE, import FILE, or show")
    k.add_argument("action", choices=["export", "import", "show"])
    k.add_argument("file", nargs="?", metavar="FILE", help="JSON knowledge file (export/import)")
    k.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    k.add_argument("--top", type=int, default=20, help="show: how many results to list")
