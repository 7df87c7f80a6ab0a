"""Benchmark: every runtime and quantizer a user could pick, measured by the engine on three real models.

Models (random weights from ``transformers`` configs, nothing downloaded; BatchNorm statistics set from random
batches so the CNNs' outputs are not degenerate):

* ResNet-50 (``ResNetConfig()`` defaults: bottleneck blocks 3-4-6-3, 2-label head, 23.5M parameters), 224x224;
* MobileNetV2 (``MobileNetV2Config()`` defaults, 2-label head, 2.2M parameters), 224x224 images;
* a BERT-style encoder of >= 20M parameters (hidden 512, 4 layers, 8 heads, 28M parameters), 128 tokens.

Every applicable variant (``advisor.measurement.appliers.available_ids()`` plus the stacks the catalog allows,
``candidate_stacks``) is measured by ``advisor.measure`` (interleaved paired rounds, 95 % intervals, fidelity
against the fp32 outputs; static quantizers calibrated on held-out batches). Each runtime's default path as a user
would call it is among them: ``onnx-runtime-inference`` (``InferenceSession`` defaults + graph optimizations),
``openvino-runtime`` (``convert_model`` + ``compile_model(m, "CPU")``: the runtime's default precision) and
``torch-compile`` (default mode). Target (issue 10): for each model the best variant is at least as fast as every
default path in the same run; the table says by how much the best beats plain PyTorch.

Writes ``benchmarks/results/runtimes.json`` (with a Markdown table under ``table_md``).

    python benchmarks/bench_runtimes.py [--quick] [--models resnet50,mobilenetv2,encoder] [--budget-s S] [--shared]

``--quick``: smaller inputs (batch 1, 64x64 images, 32 tokens), ONNX Runtime and OpenVINO default paths and
NNCF int8 only, a 40 s budget per model (about five minutes on a shared machine). The full run takes about an
hour: ~30 variants per model, several compiled (``torch.compile`` costs tens of seconds each, inside the budget).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, versions, write_result

import advisor
from advisor.measurement.appliers import available_ids, candidate_stacks

DEFAULT_PATHS = ("onnx-runtime-inference", "openvino-runtime", "torch-compile")
QUICK_VARIANTS = ("onnx-runtime-inference", "openvino-runtime", "nncf-post-training-quantization")
# not inference-speed variants of a fixed model (thread-tuning changes the process; listed for completeness)
SKIP = {"thread-tuning"}


def settle_batchnorm(model: Any, shape: tuple[int, ...], batches: int = 4) -> Any:
    """BatchNorm running statistics from random batches (random-init deep CNNs otherwise give ~0 logits)."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(*shape, generator=g))
    return model.eval()


def resnet50(batch: int, size: int) -> tuple[Any, tuple[Any, ...], list[Any]]:
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    m = settle_batchnorm(ResNetForImageClassification(ResNetConfig()), (4, 3, size, size))
    g = torch.Generator().manual_seed(1)
    return m, (torch.randn(batch, 3, size, size, generator=g),), [torch.randn(batch, 3, size, size, generator=g)
                                                                 for _ in range(4)]  # fmt: skip


def mobilenetv2(batch: int, size: int) -> tuple[Any, tuple[Any, ...], list[Any]]:
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    torch.manual_seed(0)
    m = settle_batchnorm(MobileNetV2ForImageClassification(MobileNetV2Config(image_size=size)), (4, 3, size, size))
    g = torch.Generator().manual_seed(1)
    return m, (torch.randn(batch, 3, size, size, generator=g),), [torch.randn(batch, 3, size, size, generator=g)
                                                                 for _ in range(4)]  # fmt: skip


def encoder(batch: int, seq: int) -> tuple[Any, tuple[Any, ...], list[Any]]:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=512, num_hidden_layers=4, num_attention_heads=8, intermediate_size=2048)
    g = torch.Generator().manual_seed(1)
    ids = [torch.randint(0, cfg.vocab_size, (batch, seq), generator=g) for _ in range(5)]
    return BertModel(cfg).eval(), (ids[0],), ids[1:]


def variants(quick: bool) -> list[str]:
    """The variant ids to measure: every applier that is installed (and stacks the catalog allows)."""
    if quick:
        return [v for v in QUICK_VARIANTS if v in available_ids()]
    singles = [v for v in available_ids() if v not in SKIP]
    return singles + candidate_stacks(singles)


def _row(r: Any) -> dict[str, Any]:
    c, q, t = r.comparison, r.quality, r.timing
    lr = c.latency_ratio if c is not None else None
    s = r.settings or {}
    return {
        "variant": r.technique,
        "status": r.status,
        "reason": r.reason,
        "latency_ms": t.latency_ms_median if t else None,
        "latency_ratio": None if lr is None else {"median": lr.median, "low": lr.low, "high": lr.high},
        "speedup": 1 / lr.median if lr else None,
        "verdict": c.verdict if c else None,
        "cosine": q.cosine_similarity if q else None,
        "max_abs_error": q.max_abs_error if q else None,
        "top1_agreement": q.top1_agreement if q else None,
        "fidelity_flag": getattr(q, "fidelity_flag", None) if q else None,
        "degenerate": getattr(q, "degenerate", None) if q else None,
        "precision": s.get("inference_precision"),
        "calibration": s.get("calibration"),
        "compile_s": s.get("compile_s"),
    }


def run_model(name: str, build: Any, ids: list[str], budget_s: float) -> dict[str, Any]:
    model, inputs, calib = build()
    n_params = sum(p.numel() for p in model.parameters())
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = advisor.measure(model, inputs, ids, calibration_data=calib, budget_s=budget_s,
                              store=Path(tmp) / "s.db", name=name, progress=False)  # fmt: skip
    rows = [_row(r) for r in run.results]
    ok = [r for r in rows if r["status"] == "ok" and r["latency_ratio"] and not r["degenerate"]]
    faithful = [r for r in ok if not r["fidelity_flag"]]
    best = min(faithful or ok, key=lambda r: r["latency_ratio"]["median"]) if ok else None
    defaults = {r["variant"]: r["latency_ratio"]["median"] for r in ok if r["variant"] in DEFAULT_PATHS}
    return {
        "model": name,
        "parameters_m": round(n_params / 1e6, 1),
        "inputs": [list(x.shape) for x in inputs],
        "baseline_latency_ms": run.baseline.timing.latency_ms_median if run.baseline.timing else None,
        "wall_s": round(time.perf_counter() - t0, 1),
        "rounds": len(run.rounds),
        "variants": rows,
        "best": best["variant"] if best else None,
        "best_speedup_over_pytorch": best["speedup"] if best else None,
        "best_among": "variants that keep fidelity (cosine and top-1 >= 0.99)" if faithful else "all measured",
        "default_paths_latency_ratio": defaults,
        "best_at_least_as_fast_as_every_default_path": (
            all(best["latency_ratio"]["median"] <= v for v in defaults.values()) if best else None
        ),
    }


def table_md(results: list[dict[str, Any]]) -> str:
    lines = ["| model | variant | time/call ms | speed-up vs PyTorch (95 % CI) | verdict | cosine | top-1 | precision "
             "| note |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for m in results:
        lines.append(f"| {m['model']} ({m['parameters_m']}M) | baseline (PyTorch fp32, no_grad) | "
                     f"{m['baseline_latency_ms']:.2f} | 1.00 | | | | fp32 | |")  # fmt: skip
        for r in sorted(m["variants"], key=lambda r: (r["latency_ratio"] or {}).get("median", 1e9)):
            if r["status"] != "ok" or not r["latency_ratio"]:
                lines.append(f"| | {r['variant']} | | | {r['status']} | | | | {(r['reason'] or '')[:80]} |")
                continue
            lr = r["latency_ratio"]
            sp = f"{1 / lr['median']:.2f} ({1 / lr['high']:.2f}-{1 / lr['low']:.2f})"
            note = "; ".join(x for x in (r["fidelity_flag"], r["degenerate"]) if x)
            star = " **best**" if r["variant"] == m["best"] else ""
            cos = "-" if r["cosine"] is None else f"{r['cosine']:.4f}"
            top1 = "-" if r["top1_agreement"] is None else f"{r['top1_agreement']:.2f}"
            lines.append(f"| | {r['variant']}{star} | {r['latency_ms']:.2f} | {sp} | {r['verdict']} | {cos} | {top1} "
                         f"| {r['precision'] or ''} | {note} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--models", default="resnet50,mobilenetv2,encoder")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="budget per model, set-up included (default 1200, quick 40)")  # fmt: skip
    args = ap.parse_args()
    budget = args.budget_s or (40.0 if args.quick else 1200.0)
    batch, size, seq = (1, 64, 32) if args.quick else (4, 224, 128)
    builders = {
        "resnet50": lambda: resnet50(batch, size),
        "mobilenetv2": lambda: mobilenetv2(batch, size),
        "encoder": lambda: encoder(batch, seq),
    }
    ids = variants(args.quick)
    results = [run_model(n, builders[n], ids, budget) for n in args.models.split(",")]
    md = table_md(results)
    print(md)
    write_result(args.out, "runtimes", {
        "benchmark": "runtimes",
        "quick": args.quick,
        "settings": {"budget_s_per_model": budget, "batch": batch, "image_size": size, "seq_len": seq,
                     "variants": ids, "calibration": "4 held-out batches (static quantizers)"},
        "machine": machine_info(args.shared),
        "versions": versions("torch", "transformers", "openvino", "nncf", "torchao", "onnxruntime"),
        "results": results,
        "table_md": md,
    })  # fmt: skip


if __name__ == "__main__":
    main()
