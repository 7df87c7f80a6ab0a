"""Quality of a transformed model: accuracy change with the user's ``eval_fn``, else fidelity.

Fidelity compares the transformed model's outputs with the original's on the same inputs:
top-1 agreement for classifier-shaped outputs (N x C, C > 1), cosine similarity and maximum
absolute error for every output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Quality", "fidelity", "first_tensor"]


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
    """

    accuracy: float | None = None
    accuracy_change: float | None = None
    top1_agreement: float | None = None
    cosine_similarity: float | None = None
    max_abs_error: float | None = None
    error: str | None = None

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


def fidelity(reference: Any, output: Any) -> Quality:
    """Compare a variant's output with the original's."""
    import torch

    ref, out = first_tensor(reference), first_tensor(output)
    if ref is None or out is None:
        return Quality(error="outputs contain no tensor to compare")
    # a quantized output must be dequantized before it can be cast to float
    ref, out = (x.detach().dequantize() if x.is_quantized else x.detach() for x in (ref, out))
    ref, out = ref.float(), out.float()
    if ref.shape != out.shape:
        return Quality(error=f"output shape changed from {tuple(ref.shape)} to {tuple(out.shape)}")
    top1 = None
    if ref.dim() == 2 and ref.shape[1] > 1:
        top1 = float((ref.argmax(1) == out.argmax(1)).float().mean())
    flat_r = ref.reshape(ref.shape[0], -1) if ref.dim() > 1 else ref.reshape(1, -1)
    flat_o = out.reshape(out.shape[0], -1) if out.dim() > 1 else out.reshape(1, -1)
    cos = float(torch.nn.functional.cosine_similarity(flat_r, flat_o, dim=1).mean())
    return Quality(top1_agreement=top1, cosine_similarity=cos, max_abs_error=float((ref - out).abs().max()))


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
