"""The layers int8 hurts most, kept in higher precision by the ``@ignore-sensitive`` recovery variants.

The standard recoveries when post-training int8 breaks a model's outputs (NNCF's and PyTorch's
quantization guides): keep the first and the last weighted layer in floating point (the input
layer sees raw inputs, the classifier head decides the arg-max), and depthwise convolutions
(one filter per channel: few weights per scale, the usual cause of MobileNet-style collapse).
For transformers the attention matmuls fed by softmax are kept too (NNCF: see ``_openvino``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from advisor._errors import NotApplicable

__all__ = ["IGNORE_SENSITIVE", "keep_sensitive_float", "reverted_text", "sensitive_modules"]

IGNORE_SENSITIVE = "ignore-sensitive"


def _weighted(model: Any) -> list[tuple[str, Any]]:
    import torch

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


def is_depthwise(m: Any) -> bool:
    """A convolution with one group per input channel (and more than one group)."""
    groups = getattr(m, "groups", 1)
    return groups > 1 and groups == getattr(m, "in_channels", -1)


def sensitive_modules(model: Any) -> dict[str, list[str]]:
    """Names of the modules to keep in floating point: ``first_last`` and ``depthwise`` (registration order).

    Returns:
        ``{"first_last": [...], "depthwise": [...]}``; empty lists for a model without Conv/Linear layers.
    """
    layers = _weighted(model)
    if not layers:
        return {"first_last": [], "depthwise": []}
    first_last = list(dict.fromkeys([layers[0][0], layers[-1][0]]))
    depthwise = [n for n, m in layers if is_depthwise(m) and n not in first_last]
    return {"first_last": first_last, "depthwise": depthwise}


def reverted_text(groups: dict[str, list[str]], total: int) -> str:
    """E.g. ``kept in floating point: 19 of 53 weighted layers (first/last: conv1, fc; 17 depthwise convs)``."""
    fl, dw = groups.get("first_last", []), groups.get("depthwise", [])
    extra = [f"{len(v)} {k}" for k, v in groups.items() if k not in ("first_last", "depthwise") and v]
    parts = [f"first/last: {', '.join(fl)}"] if fl else []
    parts += [f"{len(dw)} depthwise convs"] if dw else []
    parts += extra
    n = len(fl) + len(dw) + sum(len(v) for k, v in groups.items() if k not in ("first_last", "depthwise"))
    return f"kept in floating point: {n} of {total} weighted layers ({'; '.join(parts) or 'none'})"


WEIGHTED_TYPES = ("Conv1d", "Conv2d", "Conv3d", "Linear")  # exact types, as the int8 quantizers count them


def keep_sensitive_float(apply: Callable[..., Any], model: Any, inputs: tuple[Any, ...], calibration: Any) -> Any:
    """Apply a static int8 quantizer with :func:`sensitive_modules` kept in floating point (``keep_float=``).

    The returned ``Applied`` records ``kept_float`` (the names) and ``reverted`` (:func:`reverted_text`).

    Raises:
        NotApplicable: The model has no Conv/Linear layer to keep.
    """
    groups = sensitive_modules(model)
    names = [n for v in groups.values() for n in v]
    if not names:
        raise NotApplicable("no Conv/Linear layer to keep in floating point")
    applied = apply(model, inputs, calibration=calibration, keep_float=names)
    total = sum(1 for m in model.modules() if type(m).__name__ in WEIGHTED_TYPES)
    applied.settings |= {"kept_float": names, "reverted": reverted_text(groups, total)}
    return applied
