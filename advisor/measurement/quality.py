"""Quality of a transformed model: accuracy change with the user's ``eval_fn``, else fidelity.

Fidelity compares the transformed model's outputs with the original's on the same inputs:
top-1 agreement for classifier-shaped outputs (N x C, C > 1), cosine similarity and maximum
absolute error for every output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FIDELITY_MIN", "Quality", "degenerate_reason", "fidelity", "first_tensor"]

# below either figure a variant is flagged as losing fidelity, even when it is the fastest
FIDELITY_MIN = {"cosine_similarity": 0.99, "top1_agreement": 0.99}


@dataclass(frozen=True)
class Quality:
    """Quality figures of one variant.

    Attributes:
        accuracy: ``eval_fn(model)`` of the variant, in the eval_fn's units (None without eval_fn).
        accuracy_change: Variant minus baseline, same units.
        top1_agreement: Share of inputs whose argmax matches the original's (classifier outputs).
        cosine_similarity: Mean cosine similarity of the flattened outputs per example.
        max_abs_error: Largest absolute difference from the original outputs.
        error: Why quality could not be measured, if so.
        degenerate: Why the outputs cannot be scored (constant or non-finite outputs), reported instead of scores.
        fidelity_flag: Set when cosine or top-1 agreement falls below :data:`FIDELITY_MIN`: says which and by how much.
    """

    accuracy: float | None = None
    accuracy_change: float | None = None
    top1_agreement: float | None = None
    cosine_similarity: float | None = None
    max_abs_error: float | None = None
    error: str | None = None
    degenerate: str | None = None
    fidelity_flag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def first_tensor(out: Any) -> Any:
    """The first tensor in a model output (tensor, tuple, list, dict or object with .logits)."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits"):
        return out.logits
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        for x in out:
            t = first_tensor(x)
            if t is not None:
                return t
    return None


def degenerate_reason(t: Any, reference: Any = None) -> str | None:
    """Why an output tensor cannot be scored: non-finite values, one constant value, or the same row for every input.

    The last is checked only against a ``reference`` whose rows differ (identical example inputs give
    identical rows legitimately). Such outputs (e.g. constant logits from a broken quantization, or
    vanishing activations) make cosine and top-1 agreement meaningless: they are reported, not scored.
    """
    import torch

    t = t.detach().float()
    if t.numel() == 0:
        return "empty output"
    if not bool(torch.isfinite(t).all()):
        return f"non-finite output values ({int((~torch.isfinite(t)).sum())} NaN/inf of {t.numel()})"
    scale = float(t.abs().max())
    spread = float(t.max() - t.min())
    if t.numel() > 1 and spread <= 1e-6 * max(1.0, scale):
        return f"constant output (every value within {spread:.3g} of {float(t.flatten()[0]):.3g})"
    if reference is not None and t.dim() > 1 and t.shape[0] > 1:
        ref = reference.detach().float()
        ref_scale = 1e-6 * max(1.0, float(ref.abs().max()))
        if float((t - t[:1]).abs().max()) <= 1e-6 * max(1.0, scale) and float((ref - ref[:1]).abs().max()) > ref_scale:
            return "the same output for every input in the batch (constant logits)"
    return None


def _flag(q: Quality) -> Quality:
    low = [
        f"{name.replace('_', ' ')} {value:.4f} < {FIDELITY_MIN[name]}"
        for name, value in (("cosine_similarity", q.cosine_similarity), ("top1_agreement", q.top1_agreement))
        if value is not None and value < FIDELITY_MIN[name]
    ]
    if not low:
        return q
    return Quality(**{**q.to_dict(), "fidelity_flag": "fidelity loss: " + "; ".join(low)})


def fidelity(reference: Any, output: Any) -> Quality:
    """Compare a variant's output with the original's (flagged below :data:`FIDELITY_MIN`; degenerate reported)."""
    import torch

    ref, out = first_tensor(reference), first_tensor(output)
    if ref is None or out is None:
        return Quality(error="outputs contain no tensor to compare")
    # a quantized output must be dequantized before it can be cast to float
    ref, out = (x.detach().dequantize() if x.is_quantized else x.detach() for x in (ref, out))
    ref, out = ref.float(), out.float()
    if ref.shape != out.shape:
        return Quality(error=f"output shape changed from {tuple(ref.shape)} to {tuple(out.shape)}")
    bad_ref, bad_out = degenerate_reason(ref), degenerate_reason(out, ref)
    if bad_ref or bad_out:
        which = f"original model: {bad_ref}" if bad_ref else f"variant: {bad_out}"
        return Quality(degenerate=which, error=f"degenerate outputs, not scored ({which})")
    top1 = None
    if ref.dim() == 2 and ref.shape[1] > 1:
        top1 = float((ref.argmax(1) == out.argmax(1)).float().mean())
    flat_r = ref.reshape(ref.shape[0], -1) if ref.dim() > 1 else ref.reshape(1, -1)
    flat_o = out.reshape(out.shape[0], -1) if out.dim() > 1 else out.reshape(1, -1)
    cos = float(torch.nn.functional.cosine_similarity(flat_r, flat_o, dim=1).mean())
    return _flag(Quality(top1_agreement=top1, cosine_similarity=cos, max_abs_error=float((ref - out).abs().max())))


def with_accuracy(q: Quality, eval_fn: Callable[[Any], float] | None, model: Any, baseline: float | None) -> Quality:
    """Add the eval_fn accuracy (and its change) to a fidelity result; an eval_fn error is recorded."""
    if eval_fn is None:
        return q
    try:
        acc = float(eval_fn(model))
    except Exception as exc:  # noqa: BLE001 - user code: reported, never fatal
        return Quality(**{**q.to_dict(), "error": f"eval_fn raised {type(exc).__name__}: {exc}"})
    change = None if baseline is None else acc - baseline
    return Quality(**{**q.to_dict(), "accuracy": acc, "accuracy_change": change})
