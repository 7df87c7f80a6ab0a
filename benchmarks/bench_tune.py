"""Benchmark: does ``advisor.tune`` find (almost) the best variant an exhaustive measurement finds?

For each model, in the same run:

* the **oracle**: ``advisor.measure`` of every variant the appliers can apply here (``available_ids()``,
  stacks included), with a generous budget; its best speed-up among the variants that keep fidelity
  (judged by ``advisor.tuning.judge`` with the same accuracy budget as tune) with a conclusive verdict is the
  target (1.0, the model as it is, when none is faster);
* **tune**: ``advisor.tune`` with a 120 s budget (a fresh store, so no earlier knowledge helps it).

Reported per model: the oracle's best variant and speed-up, tune's pick, the oracle's speed-up of
tune's pick (falling back to tune's own measurement when the oracle could not measure it), the ratio
pick / best (target >= 0.90), the time tune took and how many variants it measured.

Models (random weights, built from ``transformers`` configs, nothing downloaded): ResNet-50
(``ResNetConfig()``, 224x224, batch 1), MobileNetV2 (``MobileNetV2Config()``, 224x224, batch 1) and a
22M-parameter BERT-style sentence encoder (hidden 384, 6 layers, 12 heads, sequence 128, batch 1).
``--quick`` uses small versions of the three (32x32 images, a 2-layer encoder) and small budgets: a
smoke run of a minute or two that proves the script works, not a result.

    python benchmarks/bench_tune.py [--quick] [--models resnet50,mobilenetv2,encoder] [--tune-budget-s 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _bench_common import add_common_args, machine_info, versions, write_result

TARGET = 0.90


def _settle(model: Any, shape: tuple[int, ...]) -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(*shape, generator=g))
    return model.eval()


def build(name: str, quick: bool) -> tuple[Any, tuple[Any, ...], Any]:
    """(model, example_inputs, calibration batches) for a benchmark model."""
    import torch
    import transformers as tr

    torch.manual_seed(0)
    side = 32 if quick else 224
    g = torch.Generator().manual_seed(1)
    if name == "resnet50":
        cfg = tr.ResNetConfig(embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1]) if quick else tr.ResNetConfig()
        model = _settle(tr.ResNetForImageClassification(cfg), (2, 3, side, side))
    elif name == "mobilenetv2":
        cfg = tr.MobileNetV2Config(image_size=side, depth_multiplier=0.35 if quick else 1.0)
        model = _settle(tr.MobileNetV2ForImageClassification(cfg), (2, 3, side, side))
    elif name == "encoder":
        big = {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536}
        small = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
        cfg = tr.BertConfig(**(small if quick else big), vocab_size=30522 if not quick else 1000,
                            max_position_embeddings=512)  # fmt: skip
        model = tr.BertModel(cfg).eval()
        seq = 16 if quick else 128
        x = (torch.randint(0, cfg.vocab_size, (1, seq), generator=g),)
        return model, x, [(torch.randint(0, cfg.vocab_size, (1, seq), generator=g),) for _ in range(4)]
    else:
        raise SystemExit(f"unknown model {name!r}: expected resnet50, mobilenetv2 or encoder")
    x = (torch.randn(1, 3, side, side, generator=g),)
    return model, x, [(torch.randn(1, 3, side, side, generator=g),) for _ in range(4)]


def _speedup(c: Any) -> float | None:
    return 1 / c.latency_ratio.median if c is not None and c.latency_ratio is not None else None


def bench_model(name: str, quick: bool, tune_budget_s: float, oracle_budget_s: float) -> dict[str, Any]:
    """Oracle and tune on one model; the comparison row."""
    import advisor
    from advisor.measurement.appliers import available_ids
    from advisor.tuning import judge, tune

    model, x, calib = build(name, quick)
    n_params = sum(p.numel() for p in model.parameters())
    cat = advisor.load_catalog()
    constraints = advisor.Constraints(phase="inference", objective="latency", max_accuracy_drop_pp=1.0,
                                      retraining="none", data="calibration", effort="high")  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        variants = available_ids()
        t0 = time.perf_counter()
        oracle = advisor.measure(model, x, variants, calibration_data=calib, budget_s=oracle_budget_s,
                                 store=Path(d) / "oracle.sqlite", progress=False, name=f"{name}-oracle")  # fmt: skip
        oracle_s = time.perf_counter() - t0
        judged = {r.technique: judge(r, constraints, cat) for r in oracle.results}
        # the target: variants that keep fidelity and whose interval says something (inconclusive ones are listed)
        keep = {v: c for v, c in judged.items() if c.latency_ratio is not None and c.quality_ok is not False
                and c.verdict != "inconclusive"}  # fmt: skip
        best_v = max(keep, key=lambda v: _speedup(keep[v]), default=None)
        best = _speedup(keep[best_v]) if best_v else 1.0
        best = max(best, 1.0)  # keeping the model as it is is always an option
        t0 = time.perf_counter()
        plan = tune(model, x, None, calib, constraints, tune_budget_s, store=Path(d) / "tune.sqlite",
                    progress=False, save=False, name=name)  # fmt: skip
        tune_s = time.perf_counter() - t0
    pick = plan.winner.variant if plan.winner else None
    pick_oracle = _speedup(judged.get(pick)) if pick else 1.0
    pick_conclusive = pick is None or pick in keep  # an inconclusive oracle figure makes the ratio unreliable
    pick_speedup = pick_oracle if pick_oracle is not None else _speedup(plan.winner)
    ratio = (pick_speedup or 1.0) / best
    return {
        "model": name, "n_parameters": n_params, "inputs": [list(t.shape) for t in x],
        "oracle": {"variants": len(variants), "measured": sum(c.latency_ratio is not None for c in judged.values()),
                   "best": best_v, "best_speedup": best, "time_s": round(oracle_s, 1), "run_status": oracle.status,
                   "speedups": {v: _speedup(c) for v, c in judged.items()},
                   "fidelity_kept_and_conclusive": sorted(keep),
                   "inconclusive": sorted(v for v, c in judged.items() if c.verdict == "inconclusive")},
        "tune": {"pick": pick, "headline": plan.headline(), "pick_speedup_in_oracle": pick_oracle,
                 "pick_speedup_in_tune": _speedup(plan.winner), "measured": plan.measured,
                 "time_s": round(tune_s, 1), "budget_s": tune_budget_s, "runs": plan.run_ids},
        "ratio_pick_to_best": round(ratio, 3),
        "pick_conclusive_in_oracle": pick_conclusive,
        "meets_target": ratio >= TARGET and pick_conclusive,
    }  # fmt: skip


def main() -> int:
    """Run the benchmark and write ``benchmarks/results/tune.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--models", default="resnet50,mobilenetv2,encoder")
    ap.add_argument("--tune-budget-s", type=float, default=None, help="tune's budget (default 120; --quick 15)")
    ap.add_argument("--oracle-budget-s", type=float, default=None, help="the oracle's budget (default 600; quick 25)")
    args = ap.parse_args()
    tune_b = args.tune_budget_s or (15.0 if args.quick else 120.0)
    oracle_b = args.oracle_budget_s or (25.0 if args.quick else 600.0)
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        row = bench_model(name, args.quick, tune_b, oracle_b)
        rows.append(row)
        print(f"{name}: oracle best {row['oracle']['best']} {row['oracle']['best_speedup']:.2f}x; tune picked "
              f"{row['tune']['pick']} ({row['ratio_pick_to_best']:.0%} of best) in {row['tune']['time_s']:.0f} s, "
              f"{row['tune']['measured']} variants measured")  # fmt: skip
    result = {
        "benchmark": "tune vs exhaustive oracle",
        "quick": args.quick,
        "target": f"tune's pick >= {TARGET:.0%} of the oracle's best speed-up among variants that keep fidelity",
        "tune_budget_s": tune_b,
        "oracle_budget_s": oracle_b,
        "machine": machine_info(args.shared),
        "versions": versions("torch", "transformers", "openvino", "onnxruntime", "torchao"),
        "models": rows,
        "all_meet_target": all(r["meets_target"] for r in rows),
    }
    write_result(args.out, "tune", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
