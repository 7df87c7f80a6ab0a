"""Benchmark: does the engine measure the same speed-up as a plain, hand-written timing loop?

For dynamic int8 (on a BERT-style encoder built from a config), ``torch.compile`` and
channels-last (on a small CNN), the variant is applied once with
``advisor.measurement.appliers.apply_technique`` and measured twice in the same process:

* by the **engine** (``advisor.measure()``: interleaved paired rounds, median per-round ratio);
* by a **plain loop** written here: for ``R`` rounds, time ``N`` calls of the baseline then ``N``
  calls of the variant with ``time.perf_counter`` (alternating which goes first), speed-up =
  median over rounds of baseline time / variant time.

Target (issue 9): the two speed-ups agree within 5 %. Writes ``benchmarks/results/accuracy.json``.

    python benchmarks/bench_accuracy.py [--quick] [--budget-s S] [--skip-compile] [--shared]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, versions, write_result
from torch import nn

from advisor.measurement.appliers import Applied, apply_technique, no_grad_eval
from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())  # fmt: skip
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


def encoder() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536)
    return BertModel(cfg).eval(), (torch.randint(0, cfg.vocab_size, (8, 64)),)


def cnn() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    return SmallCNN().eval(), (torch.randn(16, 3, 32, 32),)


def _faults() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def plain_loop(base: Applied, variant: Applied, rounds: int, block_s: float = 0.05) -> dict[str, Any]:
    """The hand-written interleaved loop: N calls each per round, alternating order; median of ratios.

    Also counts this process's minor page faults per call of each (a sign of the allocator's state).
    """
    for a in (base, variant):
        for _ in range(3):
            a()
    t0 = time.perf_counter()
    base()
    n = max(1, round(block_s / max(time.perf_counter() - t0, 1e-6)))
    ratios = []
    faults = {id(base): 0, id(variant): 0}
    for i in range(rounds):
        times = {}
        order = (base, variant) if i % 2 == 0 else (variant, base)
        for a in order:
            f = _faults()
            t = time.perf_counter()
            for _ in range(n):
                a()
            times[id(a)] = time.perf_counter() - t
            faults[id(a)] += _faults() - f
        ratios.append(times[id(base)] / times[id(variant)])
    return {"speedup": statistics.median(ratios), "rounds": rounds, "calls_per_block": n,
            "page_faults_per_call": {"baseline": faults[id(base)] / (rounds * n),
                                     "variant": faults[id(variant)] / (rounds * n)}}  # fmt: skip


def one(name: str, model: Any, inputs: tuple[Any, ...], tid: str, *, budget_s: float, rounds: int,
        store: ResultStore) -> dict[str, Any]:  # fmt: skip
    run = measure(model, inputs, [tid], budget_s=budget_s, store=store, progress=False)
    r = run.results[0]
    out: dict[str, Any] = {"model": name, "technique": tid, "status": r.status, "reason": r.reason}
    if r.status != "ok" or r.comparison is None:
        return out
    s = r.comparison.speedup
    out["engine"] = {"speedup": s.median, "low": s.low, "high": s.high, "verdict": r.comparison.verdict,
                     "rounds": s.n_rounds, "allocator": run.meta.get("allocator"),
                     "page_faults_per_call": {"baseline": run.baseline.timing.page_faults_per_call,
                                              "variant": r.timing.page_faults_per_call}}  # fmt: skip
    variant = apply_technique(tid, model, inputs)
    try:
        with torch.no_grad():
            out["plain_loop"] = plain_loop(Applied(model, inputs, no_grad_eval), variant, rounds)
    finally:
        variant.restore()
    out["rel_difference"] = out["engine"]["speedup"] / out["plain_loop"]["speedup"] - 1
    out["agree_within_5pct"] = abs(out["rel_difference"]) <= 0.05
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--budget-s", type=float, default=None, help="engine budget per variant (default 30, quick 6)")
    ap.add_argument("--rounds", type=int, default=None, help="plain-loop rounds (default 100, quick 30)")
    ap.add_argument("--skip-compile", action="store_true", help="leave torch.compile out (its set-up is slow)")
    args = ap.parse_args()
    budget_s = args.budget_s or (6.0 if args.quick else 30.0)
    rounds = args.rounds or (30 if args.quick else 100)
    cases = [("bert-encoder-22m", encoder, "post-training-dynamic-quantization"),
             ("small-cnn", cnn, "channels-last-memory-format")]  # fmt: skip
    if not args.skip_compile:
        cases.append(("small-cnn", cnn, "torch-compile"))
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as tmp:
        store = ResultStore(Path(tmp) / "results.sqlite")
        for name, build, tid in cases:
            model, inputs = build()
            rows.append(one(name, model, inputs, tid, budget_s=budget_s, rounds=rounds, store=store))
    agree = [r.get("agree_within_5pct") for r in rows if "agree_within_5pct" in r]
    result = {
        "benchmark": "accuracy",
        "quick": args.quick,
        "settings": {
            "engine_budget_s": budget_s,
            "plain_loop_rounds": rounds,
            "torch_threads": torch.get_num_threads(),
        },
        "target": {"all_agree_within_5pct": all(agree) if agree else None},
        "cases": rows,
        "wall_s": time.perf_counter() - t0,
        "versions": versions("torch", "transformers"),
        "machine": machine_info(args.shared),
    }
    write_result(args.out, "accuracy", result)


if __name__ == "__main__":
    main()
