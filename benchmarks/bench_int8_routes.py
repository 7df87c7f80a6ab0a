"""Benchmark: the deprecated ``torch.ao.quantization`` int8 routes against their replacements, with ``advisor.measure``.

``torch.ao.quantization`` (``quantize_dynamic``, FX graph-mode static) is deprecated upstream in favour
of torchao and PT2E. Users report torchao's int8 dynamic path slower than ``quantize_dynamic`` on CPU
(pytorch/ao#4365). This measures, in the same interleaved paired rounds against the same fp32 baseline:

* dynamic int8: ``post-training-dynamic-quantization`` (torch.ao ``quantize_dynamic``) vs
  ``torchao-int8-dynamic-quantization`` (``Int8DynamicActivationInt8WeightConfig`` + ``torch.compile``) and
  ``torchao-int8-weight-only-quantization``, on a transformer encoder and an MLP;
* static int8: ``post-training-static-quantization`` (FX) vs ``pt2e-x86-static-quantization``
  (``X86InductorQuantizer`` + Inductor), on a CNN and an MLP.

Random weights: the speed figures are what this benchmark is for; the quality figures (output fidelity on
held-out generated inputs) are printed for completeness and are not a claim about trained models.
A route is "measurably faster" than the other when the two speed-up intervals do not overlap.

    python benchmarks/bench_int8_routes.py [--quick] [--budget-s S] [--models transformer,mlp,cnn] [--shared]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, versions, write_result
from torch import nn

DYNAMIC = [
    "post-training-dynamic-quantization",
    "torchao-int8-dynamic-quantization",
    "torchao-int8-weight-only-quantization",
]
STATIC = ["post-training-static-quantization", "pt2e-x86-static-quantization"]
PAIRS = [
    ("post-training-dynamic-quantization", "torchao-int8-dynamic-quantization"),
    ("post-training-static-quantization", "pt2e-x86-static-quantization"),
]


class Encoder(nn.Module):
    """A transformer-encoder classifier: d_model 256, 4 layers, 4 heads, mean-pooled, 10 classes."""

    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(256, 4, 1024, batch_first=True, dropout=0.0)
        self.enc = nn.TransformerEncoder(layer, 4, enable_nested_tensor=False)
        self.head = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.enc(x).mean(1))


def models(quick: bool) -> dict[str, tuple[nn.Module, torch.Tensor, list[str], str]]:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    cnn = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    seq = 32 if quick else 64
    return {
        "transformer": (Encoder().eval(), torch.randn(8, seq, 256), DYNAMIC, "nn.TransformerEncoder 4x256, batch 8"),
        "mlp": (mlp.eval(), torch.randn(64, 512), DYNAMIC + STATIC, "MLP 512-1024-1024-10, batch 64"),
        "cnn": (cnn.eval(), torch.randn(16, 3, 64, 64), STATIC, "3-conv CNN, 3x64x64, batch 16"),
    }


def _row(r: Any) -> dict[str, Any]:
    c, q = r.comparison, r.quality
    s = c.latency_ratio.inverted() if c and c.latency_ratio else None
    return {
        "variant": r.technique,
        "status": r.status,
        "reason": r.reason,
        "speedup": round(s.median, 3) if s else None,
        "speedup_low": round(s.low, 3) if s else None,
        "speedup_high": round(s.high, 3) if s else None,
        "verdict": c.verdict if c else None,
        "text": c.text() if c else None,
        "energy_ratio": round(c.energy_ratio.median, 3) if c and c.energy_ratio else None,
        "energy_method": c.energy_method if c else None,
        "latency_ms": r.timing.latency_ms_median if r.timing else None,
        "quality_status": q.quality_status if q else None,
        "quality": q.quality_reason
        or (
            f"top-1 agreement {q.top1_agreement:.3f}, cosine {q.cosine_similarity:.5f}"
            if q and q.top1_agreement is not None
            else None
        ),
        "deprecation": (r.settings or {}).get("deprecation"),
    }


def _compare(rows: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for old, new in PAIRS:
        a, b = rows.get(old), rows.get(new)
        if not a or not b or a["speedup"] is None or b["speedup"] is None:
            continue
        if a["speedup_low"] > b["speedup_high"]:
            word = f"torch.ao route measurably faster ({a['speedup']:.2f}x vs {b['speedup']:.2f}x)"
        elif b["speedup_low"] > a["speedup_high"]:
            word = f"replacement measurably faster ({b['speedup']:.2f}x vs {a['speedup']:.2f}x)"
        else:
            word = f"intervals overlap ({a['speedup']:.2f}x vs {b['speedup']:.2f}x): no measurable difference"
        out.append(f"{old} vs {new}: {word}")
    return out


def _lscpu() -> dict[str, Any]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return {}
    name = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("Model name")), None)
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("Flags")), [])
    return {
        "lscpu_model_name": name,
        "amx": sorted(f for f in flags if f.startswith("amx")),
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512_vnni": "avx512_vnni" in flags,
    }


def main() -> None:
    import advisor

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap)
    ap.add_argument("--budget-s", type=float, default=None, help="measure budget per model (default 90, quick 20)")
    ap.add_argument("--models", default="transformer,mlp,cnn")
    args = ap.parse_args()
    budget = args.budget_s or (20.0 if args.quick else 90.0)
    out: dict[str, Any] = {
        "benchmark": "int8_routes",
        "quick": args.quick,
        "budget_s_per_model": budget,
        "weights": "random (speed figures; fidelity on generated held-out inputs only)",
        "models": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, (model, x, ids, desc) in models(args.quick).items():
            if name not in args.models.split(","):
                continue
            run = advisor.measure(
                model, x, ids, budget_s=budget, store=Path(tmp) / "r.sqlite", progress=False, name=name
            )
            rows = {r.technique: _row(r) for r in run.results}
            out["models"][name] = {
                "description": desc,
                "rounds": len(run.rounds),
                "results": list(rows.values()),
                "comparisons": _compare(rows),
                "load": run.meta.get("load"),
            }
            for line in out["models"][name]["comparisons"]:
                print(f"{name}: {line}")
    out["versions"] = versions("torch", "torchao")
    out["machine"] = {**machine_info(args.shared), **_lscpu()}
    write_result(args.out, "int8_routes" + ("_quick" if args.quick else ""), out)


if __name__ == "__main__":
    main()
