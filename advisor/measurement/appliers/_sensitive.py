"""The layers int8 hurts most, kept in higher precision by the ``@ignore-sensitive`` recovery variants.

The standard recoveries when post-training int8 breaks a model's outputs (NNCF's and PyTorch's
quantization guides): keep the first and the last weighted layer in floating point (the input
layer sees raw inputs, the classifier head decides the arg-max), and depthwise convolutions
(one filter per channel: few weights per scale, the usual cause of MobileNet-style collapse).
For transformers the attention matmuls fed by softmax are kept too (NNCF: see ``_openvino``).

When those fixed groups are not enough, ``@keep-float-k`` searches: each weighted layer's own int8
error is measured on the calibration data (:func:`layer_errors`: that layer alone with int8 weights
and int8 inputs, its output against fp32), and the k worst are kept in floating point, k growing
1, 2, 4, ... until the quantized model's outputs on the calibration batches pass the default gate
(:func:`keep_float_search`) or k reaches half of the layers. The held-out inputs the measurement
scores are never looked at: the search sees calibration data only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from advisor._errors import NotApplicable

__all__ = [
    "IGNORE_SENSITIVE",
    "KEEP_FLOAT_K",
    "keep_float_search",
    "keep_sensitive_float",
    "layer_errors",
    "reverted_text",
    "sensitive_modules",
]

IGNORE_SENSITIVE = "ignore-sensitive"
KEEP_FLOAT_K = "keep-float-k"


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


def _fake_int8_input(x: Any) -> Any:
    """Per-tensor asymmetric 8-bit fake quantization over the tensor's own min-max (0 always representable)."""
    import torch

    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    scale = (hi - lo) / 255 or 1.0
    zero = round(-lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, 0, 255) - zero) * scale


def _fake_int8_weight(w: Any) -> Any:
    """Per-output-channel symmetric int8 fake quantization (max-abs scales), as the x86 int8 routes do."""
    import torch

    scale = (w.abs().flatten(1).amax(1).clamp(min=1e-12) / 127).view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(torch.round(w / scale), -127, 127) * scale


def layer_errors(model: Any, batches: list[tuple[Any, ...]], *, max_batches: int = 2) -> list[tuple[str, float]]:
    """Each weighted layer's own int8 error on calibration data, worst first: ``[(module name, error), ...]``.

    The error is ``||y_q - y|| / ||y||`` summed over the batches, where ``y`` is the layer's fp32 output in
    the fp32 model and ``y_q`` the same layer run once more with int8 weights (per channel) on its input
    fake-quantized to 8 bits (per tensor, min-max). One forward pass per batch; the model is not changed.

    Args:
        model: The fp32 model (in eval mode).
        batches: Calibration batches (tuples of positional inputs); at most ``max_batches`` are used.
        max_batches: Cap on the batches run (the ranking needs few inputs).
    """
    import torch

    layers = _weighted(model)
    num: dict[str, float] = dict.fromkeys((n for n, _ in layers), 0.0)
    den = dict(num)

    def hook(name: str) -> Any:
        def run(mod: Any, args: tuple[Any, ...], out: Any) -> None:
            saved = mod.weight.data
            mod.weight.data = _fake_int8_weight(saved)
            try:
                yq = mod.forward(_fake_int8_input(args[0]), *args[1:])  # forward(): no hooks, no recursion
            finally:
                mod.weight.data = saved
            num[name] += float((yq - out).pow(2).sum())
            den[name] += float(out.pow(2).sum())

        return run

    handles = [m.register_forward_hook(hook(n)) for n, m in layers]
    try:
        with torch.no_grad():
            for batch in batches[:max_batches]:
                model(*batch)
    finally:
        for h in handles:
            h.remove()
    errors = [(n, (num[n] / den[n]) ** 0.5 if den[n] > 0 else 0.0) for n, _ in layers]
    return sorted(errors, key=lambda e: -e[1])


def _gate_on(applied: Any, batches: list[tuple[Any, ...]], references: list[Any]) -> Any:
    """The default gate's verdict on the calibration batches: the quantized model's outputs against fp32's."""
    import torch

    from advisor.measurement.quality import fidelity_over, judge_quality

    with torch.no_grad(), applied.context():
        outputs = [applied.model(*b) for b in batches]
    quality = fidelity_over(references, outputs, inputs_text="calibration batches")
    return quality, judge_quality(quality)


def keep_float_search(
    apply: Callable[..., Any], model: Any, inputs: tuple[Any, ...], calibration: Any, *, max_share: float = 0.5
) -> Any:
    """Static int8 with the k layers of worst own int8 error (:func:`layer_errors`) kept float, k grown to pass.

    k runs 1, 2, 4, ... (at most ``max_share`` of the weighted layers). Each k is quantized by ``apply``
    (``keep_float=`` the names) and judged by the default gate (top-1 agreement / cosine >= 0.99) on the
    calibration batches against the fp32 model; the first k that passes is returned, else the last one
    tried (its measurement will then fail or pass the gate on the held-out inputs on its own).

    The returned ``Applied`` records ``kept_float``, ``k``, ``search`` (each k with its figure on the
    calibration batches), ``ranking`` (the method) and ``reverted``.

    Raises:
        NotApplicable: The model has no Conv/Linear layer.
    """
    import torch

    from advisor.measurement.appliers._calibration import calibration_batches
    from advisor.measurement.quality import quality_figure

    batches, _note = calibration_batches(calibration, inputs)
    ranked = layer_errors(model, batches)
    if not ranked:
        raise NotApplicable("no Conv/Linear layer to keep in floating point")
    with torch.no_grad():
        references = [model(*b) for b in batches]
    cap = max(1, int(len(ranked) * max_share))
    search: list[str] = []
    k, applied = 1, None
    while True:
        if applied is not None:
            applied.restore()
        names = [n for n, _ in ranked[:k]]
        applied = apply(model, inputs, calibration=calibration, keep_float=names)
        quality, verdict = _gate_on(applied, batches, references)
        search.append(f"k={k}: {verdict.status} ({quality_figure(quality)})")
        if verdict.status == "verified" or k >= cap:
            break
        k = min(2 * k, cap)
    total = len(ranked)
    applied.settings |= {
        "kept_float": names,
        "k": k,
        "search": search,
        "search_passed": verdict.status == "verified",
        "ranking": "each layer alone with int8 weights (per channel) and 8-bit inputs (per tensor): relative "
        f"output error vs fp32 on {min(2, len(batches))} calibration batch(es), worst first",
        "reverted": f"kept in floating point: {k} of {total} weighted layers with the largest own int8 error "
        f"({', '.join(names[:6])}{', ...' if k > 6 else ''})",
    }
    return applied
