"""Benchmark: speed-up and output fidelity of the int8 paths, torch's and ONNX Runtime's, side by side.

For each model, in the same process and with the same timing method (``advisor.measurement.harness.benchmark``
with the labelled energy estimate), it times:

* ``torch-fp32``: the model under ``torch.no_grad()`` (the baseline);
* ``post-training-dynamic-quantization``: our applier (``torch.ao`` dynamic int8 on Linear/LSTM/GRU);
* ``post-training-dynamic-quantization+mha-fastpath-off``: the same, run with PyTorch's fused
  transformer fast path disabled - only when the applier's own forward fails on that fast path;
* ``post-training-static-quantization``: our FX static int8 applier, calibrated on held-out batches
  (when it is registered);
* ``onnx-runtime-inference``: ONNX Runtime fp32 of the exported model (TorchScript exporter,
  ``dynamo=False``: no ``onnxscript`` needed), our applier;
* ``onnx-runtime-inference+int8``: ONNX Runtime's own ``quantize_dynamic`` (int8) of that export.

Models: (a) a transformer-encoder classifier (``nn.TransformerEncoder``, d_model 512, 6 layers,
seq 128, batch 8, ``batch_first=True``; random weights), (b) a small VGG-style CNN (3x64x64, batch
16; random weights), (c) the digits CNN (``advisor._demo.digits_model``, trained: real test accuracy).

Per variant: latency median/IQR, speed-up vs torch fp32, energy per call (estimate, labelled), and
fidelity against torch fp32 on held-out batches (max abs error, cosine, top-1 agreement; test
accuracy for the digits CNN). Writes ``benchmarks/results/int8.json``.

    python benchmarks/bench_int8.py [--quick] [--models transformer,cnn,digits] [--budget-s S] [--shared]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, versions, write_result
from torch import nn

from advisor.measurement.appliers import REGISTRY, Applied, NotApplicable, no_grad_eval
from advisor.measurement.energy import get_meters
from advisor.measurement.harness import benchmark
from advisor.measurement.quality import fidelity, first_tensor

TECHNIQUES = [
    "post-training-dynamic-quantization",
    "post-training-static-quantization",
    "onnx-runtime-inference",
    "onnx-runtime-inference+int8",
]


class EncoderClassifier(nn.Module):
    """``nn.TransformerEncoder`` over float token embeddings, mean-pooled, then a 10-class linear head."""

    def __init__(self, d_model: int, layers: int, heads: int) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


def vgg_cnn() -> nn.Module:
    """Three conv blocks and a two-layer classifier head, for 3x64x64 inputs."""

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, 32),
        *block(32, 64),
        *block(64, 128),
        nn.Flatten(),
        nn.Linear(128 * 8 * 8, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def build(name: str, quick: bool) -> dict[str, Any]:
    """Model, timed inputs, held-out fidelity batches, calibration batches and an optional eval_fn."""
    torch.manual_seed(0)
    if name == "transformer":
        d, layers, seq, batch = (256, 2, 64, 4) if quick else (512, 6, 128, 8)
        model = EncoderClassifier(d, layers, heads=8).eval()

        def make(n: int) -> list[tuple[torch.Tensor]]:
            return [(torch.randn(batch, seq, d),) for _ in range(n)]

        desc = f"nn.TransformerEncoder d_model {d}, {layers} layers, 8 heads, ff {4 * d}, seq {seq}, batch {batch}"
        return {"model": model, "inputs": make(1)[0], "held_out": make(4), "calibration": make(4), "desc": desc}
    if name == "cnn":
        batch = 8 if quick else 16
        model = vgg_cnn().eval()

        def make_img(n: int) -> list[tuple[torch.Tensor]]:
            return [(torch.randn(batch, 3, 64, 64),) for _ in range(n)]

        desc = f"VGG-style CNN (3 conv-BN-ReLU-pool blocks, 2 linear), batch {batch}x3x64x64, random weights"
        return {"model": model, "inputs": make_img(1)[0], "held_out": make_img(4), "calibration": make_img(4),
                "desc": desc}  # fmt: skip
    if name == "digits":
        from advisor._demo import digits_model

        model, x, eval_fn = digits_model(epochs=5 if quick else 15)
        return {
            "model": model,
            "inputs": (x,),
            "held_out": [(x,)],
            "calibration": [(x,)],
            "eval_fn": eval_fn,
            "desc": "digits CNN (advisor._demo.digits_model), trained; batch 64 of 1x8x8; calibrated on that batch",
        }
    raise SystemExit(f"--models: unknown model {name!r}; expected transformer, cnn or digits")


def n_params(model: nn.Module) -> int:
    """Parameter count."""
    return sum(p.numel() for p in model.parameters())


@contextlib.contextmanager
def mha_fastpath_off() -> Iterator[None]:
    """Disable PyTorch's fused transformer fast path for the duration (and restore it)."""
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(before)


def without_fastpath(applied: Applied) -> Applied:
    """The same transformed model, called with the transformer fast path off."""
    inner = applied.context

    @contextlib.contextmanager
    def ctx() -> Iterator[None]:
        with mha_fastpath_off(), inner():
            yield

    settings = {**applied.settings, "mha_fastpath": "disabled (torch.backends.mha.set_fastpath_enabled(False))"}
    return Applied(applied.model, applied.inputs, ctx, settings, applied.restore)


def apply(tid: str, model: nn.Module, inputs: tuple[Any, ...], calibration: list[Any]) -> Applied:
    """Run the registered applier; the static one gets held-out calibration batches when it takes them."""
    fn = REGISTRY[tid]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if "calibration" in inspect.signature(fn).parameters:
            return fn(model, inputs, calibration=calibration)
        return fn(model, inputs)


def outputs(applied: Applied, batches: list[tuple[Any, ...]]) -> torch.Tensor:
    """The variant's first output tensor on every batch, concatenated along the batch dimension."""
    outs = []
    for b in batches:
        with applied.context():
            out = first_tensor(applied.model(*b))
        outs.append(out.dequantize() if out.is_quantized else out.float())
    return torch.cat(outs)


def time_variant(applied: Applied, meters: list[Any], budget_s: float, min_repeats: int) -> dict[str, Any]:
    """Harness timing of one variant: latency median/IQR and estimated energy per call."""
    t = benchmark(applied, meters=meters, warmup=2, min_repeats=min_repeats, budget_s=budget_s, min_time_s=1.0)
    return {
        "latency_ms_median": t.latency_ms_median,
        "latency_ms_iqr": t.latency_ms_iqr,
        "latency_ms_ci95": t.latency_ms_ci95,
        "repeats": t.repeats,
        "stopped_by": t.stopped_by,
        "energy_j_per_call": t.energy_j_per_call,
        "energy_j_per_call_iqr": t.energy_j_per_call_iqr,
        "energy_method": t.energy_method,
    }


def run_model(name: str, spec: dict[str, Any], budget_s: float, min_repeats: int) -> dict[str, Any]:
    """Every variant of one model: status, timing, speed-up and fidelity."""
    model, inputs, held_out = spec["model"], spec["inputs"], spec["held_out"]
    eval_fn: Callable[[Any], float] | None = spec.get("eval_fn")
    meters, _ = get_meters()
    base = Applied(model, inputs, no_grad_eval, {"dtype": "float32"})
    with torch.no_grad():
        reference = outputs(base, held_out)
    variants: dict[str, dict[str, Any]] = {}
    base_timing = time_variant(base, meters, budget_s, min_repeats)
    base_acc = eval_fn(model) if eval_fn else None
    variants["torch-fp32"] = {
        "status": "ok",
        "apply_s": 0.0,
        **base_timing,
        "speedup_vs_torch_fp32": 1.0,
        "fidelity": fidelity(reference, reference).to_dict(),
        "accuracy_pct": base_acc,
    }
    for tid in TECHNIQUES:
        if tid not in REGISTRY:
            variants[tid] = {"status": "not-registered", "reason": f"no applier for {tid!r} in REGISTRY"}
            continue
        t0 = time.perf_counter()
        try:
            applied = apply(tid, model, inputs, spec["calibration"])
        except NotApplicable as exc:
            variants[tid] = {"status": "not-applicable", "reason": str(exc)}
            continue
        except Exception as exc:  # noqa: BLE001 - a failing applier is a result, reported as such
            variants[tid] = {"status": "failed", "reason": f"applier raised {type(exc).__name__}: {exc}"}
            continue
        apply_s = time.perf_counter() - t0
        tries = [(tid, applied)]
        try:
            applied()
        except Exception as exc:  # noqa: BLE001 - reported, and retried without the fast path where that is the cause
            variants[tid] = {"status": "failed", "apply_s": apply_s, "settings": applied.settings,
                             "reason": f"forward pass failed: {type(exc).__name__}: {exc}"}  # fmt: skip
            tries = []
            has_encoder_layer = any(isinstance(m, nn.TransformerEncoderLayer) for m in model.modules())
            if isinstance(exc, AttributeError) and has_encoder_layer:
                tries = [(f"{tid}+mha-fastpath-off", without_fastpath(applied))]
        for label, variant in tries:
            try:
                with torch.no_grad():
                    out = outputs(variant, held_out)
                timing = time_variant(variant, meters, budget_s, min_repeats)
            except Exception as exc:  # noqa: BLE001 - reported per variant
                variants[label] = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
                continue
            acc = None
            if eval_fn:
                with variant.context():
                    acc = eval_fn(variant.model)
            variants[label] = {
                "status": "ok",
                "apply_s": apply_s,
                **timing,
                "speedup_vs_torch_fp32": base_timing["latency_ms_median"] / timing["latency_ms_median"],
                "fidelity": fidelity(reference, out).to_dict(),
                "accuracy_pct": acc,
                "accuracy_change_pp": None if acc is None or base_acc is None else acc - base_acc,
                "settings": variant.settings,
            }
        applied.restore()
    for m in meters:
        m.close()
    return {
        "description": spec["desc"],
        "n_parameters": n_params(model),
        "fidelity_samples": int(reference.shape[0]),
        "fidelity_reference": "torch fp32 outputs on held-out batches (not the timed batch)",
        "variants": variants,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--models", default="transformer,cnn,digits", help="comma-separated (default: %(default)s)")
    ap.add_argument("--budget-s", type=float, default=None, help="timing budget per variant (default 12, quick 1.5)")
    ap.add_argument("--min-repeats", type=int, default=None, help="timed calls at least (default 7, quick 5)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    budget_s = args.budget_s or (1.5 if args.quick else 12.0)
    min_repeats = args.min_repeats or (5 if args.quick else 7)
    models = {}
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        spec = build(name, args.quick)
        models[name] = run_model(name, spec, budget_s, min_repeats)
        del spec
    result = {
        "benchmark": "int8",
        "quick": args.quick,
        "settings": {
            "budget_s_per_variant": budget_s,
            "min_repeats": min_repeats,
            "warmup_calls": 2,
            "timing": "advisor.measurement.harness.benchmark (stops when the 95 % CI of the median is within 2 % or "
            "at the budget)",
            "torch_threads": torch.get_num_threads(),
            "onnx_export": "torch.onnx.export(dynamo=False) TorchScript exporter, opset 17 (needs only onnx; the "
            "default dynamo exporter needs onnxscript, which is not installed)",
            "ort_threads": "intra_op_num_threads = torch threads (ORT's default would be the physical-core count)",
            "static_calibration": "4 held-out random batches (digits: the example batch, optimistic)",
            "quantized_engine": torch.backends.quantized.engine,
            "registered_techniques": sorted(REGISTRY),
        },
        "models": models,
        "versions": versions("torch", "onnx", "onnxruntime"),
        "machine": machine_info(args.shared),
    }
    write_result(args.out, "int8", result)


if __name__ == "__main__":
    main()
