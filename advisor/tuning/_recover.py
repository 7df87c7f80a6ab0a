"""Recover instead of giving up: when an int8 variant fails the quality gate, measure the standard recoveries.

The recoveries (NNCF's and PyTorch's quantization guides), tried in this order and measured as
variants of their own against the same baseline:

- keep the sensitive layers in floating point (``@ignore-sensitive``: first/last weighted layers,
  depthwise convolutions, for transformers the attention matmuls fed by softmax);
- a sensitivity search (``@keep-float-k``): each layer's own int8 error on the calibration data ranks
  the layers, and the k worst stay in floating point, k grown until the outputs on the calibration
  batches pass the gate (``appliers/_sensitive.py``);
- with an ``eval_fn``: ``nncf.quantize_with_accuracy_control`` (NNCF reverts layers until the drop is
  within 1 pp);
- per-channel int8 weights where the route quantizes per tensor (``quantize_dynamic@per-channel``),
  or another int8 route with finer scales (torchao's per-token dynamic int8 for ``quantize_dynamic``);
- int8 for weights only (activations in floating point): torchao's weight-only config, ORT's dynamic
  MatMul-only int8 (convolutions fp32);
- give int8 up for bf16 (``bfloat16+torch-compile``; OpenVINO at its default precision, bf16 on CPUs
  with AMX or AVX-512 bf16) or the runtime's fp32.

Each recovery is judged by the same rule; the plan reports what it reverted and what keeping the
quality cost in speed against the failing int8 variant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RECOVERIES", "RECOVERY_ONLY", "recovery_queue", "recovery_records"]

NNCF = "nncf-post-training-quantization"
PT2E = "pt2e-x86-static-quantization"
FX = "post-training-static-quantization"
BF16 = "bfloat16+torch-compile"
KEEP = "keep-float-k"
RECOVERIES: dict[str, tuple[str, ...]] = {
    NNCF: (f"{NNCF}@ignore-sensitive", f"{NNCF}@{KEEP}", f"{NNCF}@accuracy-control", "openvino-runtime"),
    PT2E: (f"{PT2E}@ignore-sensitive", f"{PT2E}@{KEEP}", BF16),
    FX: (f"{FX}@ignore-sensitive", f"{PT2E}@ignore-sensitive", f"{PT2E}@{KEEP}", BF16),
    "onnx-runtime-inference+static-int8": ("onnx-runtime-inference+int8", "onnx-runtime-inference"),
    "onnx-runtime-inference+int8": ("onnx-runtime-inference",),
    "post-training-dynamic-quantization": (
        "post-training-dynamic-quantization@per-channel",
        "torchao-int8-dynamic-quantization",
        "torchao-int8-weight-only-quantization",
        BF16,
    ),
    "torchao-int8-dynamic-quantization": ("torchao-int8-weight-only-quantization", BF16),
}
# variants measured only as recoveries (never in the first stage of tune)
RECOVERY_ONLY = frozenset(
    {
        f"{NNCF}@ignore-sensitive",
        f"{NNCF}@accuracy-control",
        f"{PT2E}@ignore-sensitive",
        f"{FX}@ignore-sensitive",
        f"{NNCF}@{KEEP}",
        f"{PT2E}@{KEEP}",
        f"{FX}@{KEEP}",
        "post-training-dynamic-quantization@per-channel",
    }
)
REVERTED = {
    "post-training-dynamic-quantization@per-channel": "weights: one int8 scale per output row instead of per matrix",
    "torchao-int8-dynamic-quantization": "torch.ao's int8 dynamic route given up for torchao's (per-token activations, "
    "per-channel weights)",
    "openvino-runtime": "int8 given up: OpenVINO at its default precision (bf16 where the CPU has bf16 units)",
    BF16: "int8 given up: bf16 autocast and torch.compile",
    "torchao-int8-weight-only-quantization": "activations kept in floating point (int8 weights only)",
    "onnx-runtime-inference+int8": "activations and convolutions kept in floating point (int8 MatMul/Gemm weights)",
    "onnx-runtime-inference": "int8 given up: ONNX Runtime fp32",
}


def recovery_queue(cands: list[Any], measurable: list[str], eval_fn: Any) -> list[tuple[str, str]]:
    """(recovery variant, the failed variant it stands in for), in order, for every int8 variant that failed.

    Variants already measured are left out (their figures are reused by :func:`recovery_records`);
    accuracy control only with an ``eval_fn``.
    """
    measured = {c.variant for c in cands}
    out: list[tuple[str, str]] = []
    for c in cands:
        if c.quality_status != "failed" or c.variant not in RECOVERIES:
            continue
        for r in RECOVERIES[c.variant]:
            if r not in measurable or r in measured or any(r == q for q, _ in out):
                continue
            if r.endswith("@accuracy-control") and eval_fn is None:
                continue
            out.append((r, c.variant))
    return out


def _cost(rec: Any, failed: Any) -> str | None:
    if rec.latency_ratio is None or failed.latency_ratio is None:
        return None
    a, b = rec.speedup.median, failed.speedup.median
    lost = 1 - a / b if b > 0 else 0.0
    what = f"costs {lost:.0%} of the failing int8's speed-up" if lost > 0 else "no speed lost"
    return f"{a:.2f}x vs {b:.2f}x for {failed.variant}: keeping the quality {what}"


def recovery_records(cands: list[Any], settings: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each recovery candidate (``recovered_from``, ``reverted``) and describe it for the plan.

    Args:
        cands: Every judged candidate of the plan (the failed int8 variants and the recoveries among them).
        settings: Each measured variant's applier settings (``reverted`` is read from them).
    """
    by = {c.variant: c for c in cands}
    out = []
    for failed in [c for c in cands if c.quality_status == "failed" and c.variant in RECOVERIES]:
        for rid in RECOVERIES[failed.variant]:
            rec = by.get(rid)
            if rec is None or rec is failed:
                continue
            if rec.recovered_from is None:
                rec.recovered_from = failed.variant
                rec.reverted = (settings.get(rid) or {}).get("reverted") or REVERTED.get(rid)
            status = rec.quality_status or rec.status
            out.append(
                {
                    "recovered_from": failed.variant,
                    "variant": rid,
                    "status": status,
                    "quality": rec.quality_text() if rec.latency_ratio is not None else rec.reason,
                    "speed": rec.speed_text(),
                    "reverted": rec.reverted,
                    "cost": _cost(rec, failed),
                    "pays_off": rec.pays_off,
                }
            )
    return out
