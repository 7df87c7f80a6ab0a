"""Structured L1-norm filter pruning that physically removes filters, with ``torch-pruning`` (DepGraph).

``torch-pruning`` traces the model once and groups every layer whose channels depend on each
other (a convolution's filters, the next BatchNorm, the next layer's input channels, a flatten, a
residual add), so removing filters keeps the model runnable. The layers that produce the model's
output keep their width (the output shape must not change), and attention blocks are left whole.
No fine-tuning follows: accuracy drops, and fidelity shows by how much.
"""

from __future__ import annotations

import copy
from typing import Any

from advisor.measurement.appliers._deps import REQUIRES, need
from advisor.measurement.appliers.base import Applied, NotApplicable, no_grad_eval, register

__all__ = ["DEFAULT_RATIO", "filter_pruning", "output_layers"]

DEFAULT_RATIO = 0.3
REQUIRES["structured-filter-pruning"] = ("torch_pruning",)


def output_layers(graph: Any, prunable: tuple[type, ...]) -> list[Any]:
    """Prunable layers whose output channels reach a model output without passing another such layer.

    Args:
        graph: A built ``torch_pruning.DependencyGraph``.
        prunable: Layer types that count (Conv/Linear/LSTM).
    """
    roots = [n for n in graph.module2node.values() if not n.outputs]
    found: list[Any] = []
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.module, prunable):
            if node.module not in found:
                found.append(node.module)
            continue
        stack.extend(node.inputs)
    return found


def _widths(model: Any, kinds: tuple[type, ...]) -> dict[str, tuple[int, int]]:
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, kinds):
            w = getattr(m, "weight", None)
            if w is not None and w.dim() >= 2:
                out[name] = (int(w.shape[0]), int(w.shape[1]))
    return out


@register("structured-filter-pruning")
def filter_pruning(model: Any, inputs: tuple[Any, ...], *, ratio: float = DEFAULT_RATIO) -> Applied:
    """Remove the ``ratio`` share of output channels with the smallest L1 norm from every prunable layer.

    Args:
        model: The user's model (not modified: a deep copy is pruned).
        inputs: Example inputs, used to trace the layer dependencies.
        ratio: Share of output channels (filters/features) removed per layer, in (0, 1).

    Raises:
        NotApplicable: No Conv/Linear layer that can shrink, tracing fails, or nothing was removed.
        MissingExtraError: ``torch-pruning`` is not installed (also a NotApplicable).
    """
    import torch

    if not 0 < ratio < 1:
        raise ValueError(f"ratio: expected a share in (0, 1), got {ratio!r}; e.g. 0.3 removes 30 % of the filters")
    tp = need("torch_pruning", "prune", "The structured-filter-pruning applier")
    from advisor.profile.model import profile_model

    nn = torch.nn
    prunable = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    if not any(isinstance(m, prunable) for m in model.modules()):
        raise NotApplicable("the model has no Conv1d/Conv2d/Conv3d/Linear layers to prune")
    m = copy.deepcopy(model).eval()
    # attention blocks stay whole: nn.MultiheadAttention and Hugging Face ``...Attention`` modules (their
    # reshapes into heads break when a projection loses channels)
    attention = [
        a
        for a in m.modules()
        if isinstance(a, nn.MultiheadAttention) or type(a).__name__.endswith(("Attention", "SelfAttention"))
    ]
    try:
        graph = tp.DependencyGraph().build_dependency(m, example_inputs=inputs)
        keep = output_layers(graph, prunable)
        pruner = tp.pruner.MagnitudePruner(
            m,
            inputs,
            importance=tp.importance.MagnitudeImportance(p=1),
            pruning_ratio=ratio,
            ignored_layers=[*keep, *attention],
        )
        before = _widths(m, prunable)
        prof0 = profile_model(model, inputs)
        pruner.step()
    except NotApplicable:
        raise
    except Exception as exc:
        raise NotApplicable(f"torch-pruning could not prune this model ({type(exc).__name__}: {exc})") from exc
    after = _widths(m, prunable)
    changed = {k: f"{b[0]}x{b[1]} -> {after[k][0]}x{after[k][1]}" for k, b in before.items() if after.get(k, b) != b}
    if not changed:
        raise NotApplicable(
            "no layer could shrink: every Conv/Linear layer feeds the output or an attention block directly"
        )
    try:
        prof1 = profile_model(m, inputs)
    except Exception as exc:  # the pruned model must still run: a broken one is a verdict, not a crash
        raise NotApplicable(f"the pruned model no longer runs ({type(exc).__name__}: {str(exc)[:300]})") from exc
    f0, f1 = prof0.forward_flops, prof1.forward_flops
    flops_red = 1 - f1 / f0 if f0 and f1 is not None else None
    settings = {
        "ratio": ratio,
        "criterion": "L1 norm of each filter/output feature (mean over its dependency group)",
        "library": f"torch-pruning {getattr(tp, '__version__', '?')}",
        "params_before": prof0.n_parameters,
        "params_after": prof1.n_parameters,
        "flops_before": prof0.forward_flops,
        "flops_after": prof1.forward_flops,
        "flops_reduction": round(flops_red, 4) if flops_red is not None else None,
        "layers_changed": changed,
        "kept_whole": sorted(n for n, x in m.named_modules() if x in keep)
        + [f"{len(attention)} attention block(s)"] * bool(attention),
        "fine_tuning": "none: accuracy drops until the pruned model is fine-tuned",
    }
    return Applied(m, inputs, no_grad_eval, settings)
