"""Sub-command ``generate``: energy per token of text generation, prefill and decode, per batch size."""

from __future__ import annotations

import argparse
from typing import Any

from advisor._errors import ConstraintError, ProfileError
from advisor.cli._app import command, out, output_path

__all__ = ["add_parsers"]


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConstraintError(f"{what}: expected comma-separated integers like 1,4,16, got {text!r}") from None
    return vals


def _prompt_ids(loaded: Any) -> list[list[int]] | None:
    """Prompts from a ``measure`` factory's example token ids (one prompt per row); None: the default prompts."""
    if loaded.tokenizer is not None or loaded.example_inputs is None:
        return None
    ids = loaded.inputs[0]
    if getattr(ids, "dtype", None) is None or ids.dtype.is_floating_point or ids.dim() != 2:
        return None
    return [row.tolist() for row in ids]


@command("generate")
def _generate(args: argparse.Namespace) -> int:
    from advisor.generation import generation_advice, measure_generation
    from advisor.profile.spec import load_spec

    batch_sizes, json_out = _ints(args.batch_sizes, "--batch-sizes"), output_path(args.out, "--out")
    loaded = load_spec(args.model)
    if not loaded.generative:
        raise ProfileError(
            f"--model {args.model}: expected a generative decoder (a transformers causal LM with .generate()), "
            f"got a {type(loaded.model).__name__}; measure it with green-advisor measure"
        )
    draft = load_spec(args.draft).model if args.draft else loaded.draft_model
    prompts = loaded.prompts if loaded.prompts is not None else _prompt_ids(loaded)
    techniques = [t.strip() for t in args.techniques.split(",") if t.strip()] if args.techniques else "default"
    run = measure_generation(
        loaded.model,
        loaded.tokenizer,
        prompts,
        max_new_tokens=args.max_new_tokens,
        batch_sizes=batch_sizes,
        techniques=techniques,
        draft_model=draft,
        budget_s=args.budget_s,
        tdp_w=args.tdp_w,
        store=False if args.no_store else args.store,
        name=args.model.rpartition(":")[2],
        max_perplexity_ratio=args.max_perplexity_ratio,
    )
    if json_out:
        json_out.write_text(run.to_json(), encoding="utf-8")
    if args.format == "json":
        out(run.to_json())
        return 0 if run.status == "finished" else 130
    from advisor.reports import generation_markdown

    out(generation_markdown(run))
    adv = generation_advice(run)
    out("best per batch size: " + ", ".join(f"batch {b}: {t}" for b, t in adv.best.items()))
    if args.out:
        out(f"JSON: {args.out}")
    if run.meta.get("store"):
        out(
            f"run {run.run_id} stored in {run.meta['store']}; report it: green-advisor report --run {run.run_id} "
            "--out DIR"
        )
    return 0 if run.status == "finished" else 130


def add_parsers(sub: object, add: object) -> None:
    """Add this group's sub-command parsers."""
    g = add("generate", "measure energy per token of text generation (prefill, decode) per batch size and technique")  # type: ignore[operator]
    g.add_argument(
        "--model",
        required=True,
        metavar="SPEC",
        help="'module:factory' or 'file.py:factory' returning a ModelSpec, the model, (model, example_ids), "
        "(model, tokenizer[, prompts]) or a dict; e.g. advisor.generation.models:tiny_gpt2",
    )
    g.add_argument("--batch-sizes", default="1,4,16", metavar="1,4,16", help="prompts per generate() call")
    g.add_argument("--max-new-tokens", type=int, default=64, metavar="N", help="tokens generated per prompt (>= 2)")
    g.add_argument("--techniques", metavar="A,B", help="variant ids (default: every generation technique)")
    g.add_argument("--draft", metavar="SPEC", help="a draft model spec for speculative-decoding (assisted generation)")
    g.add_argument(
        "--budget-s",
        type=float,
        default=120.0,
        help="seconds for set-up and rounds; the batch sizes take rounds in turn",
    )
    g.add_argument(
        "--max-perplexity-ratio",
        type=float,
        metavar="X",
        help="quality gate (real weights with a tokenizer): do not time a variant whose perplexity exceeds "
        "X times the baseline's, e.g. 1.05 (default: time every variant)",
    )
    g.add_argument("--tdp-w", type=float, metavar="W", help="CPU TDP for the energy estimate when RAPL is unreadable")
    g.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    g.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    g.add_argument("--no-store", action="store_true", help="do not write the run to the results store")
    g.add_argument("--format", choices=["table", "json"], default="table")
