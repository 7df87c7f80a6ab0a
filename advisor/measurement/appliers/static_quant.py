"""Post-training static int8 quantization (FX graph mode) with a calibration pass.

Weights and activations become int8; the activation scales come from observers run on
calibration data. Without the caller's own calibration data the example inputs are used: the
model is then calibrated on the very batch it is measured on, which flatters its fidelity.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from collections.abc import Iterable
from typing import Any

from advisor.measurement.appliers._calibration import calibration_batches
from advisor.measurement.appliers.base import Applied, NotApplicable, no_grad_eval, register

__all__ = ["DEPRECATION", "static_int8", "static_int8_ignore_sensitive", "static_int8_keep_float"]

DEPRECATION = (
    "torch.ao.quantization (FX graph mode) is deprecated upstream in favour of PT2E (torch.export + "
    "torchao.quantization.pt2e, here pt2e-x86-static-quantization); kept while torch ships it because it measured "
    "faster on a CNN (12.5x vs 11.3x on an Intel Xeon with AMX; no difference on an MLP: "
    "benchmarks/results/int8_routes.json)"
)


def _engine(torch: Any) -> str:
    engines = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "qnnpack"):
        if name in engines:
            return name
    raise NotApplicable(f"no int8 quantized engine in this torch build (supported: {engines})")


@register("post-training-static-quantization")
def static_int8(
    model: Any,
    inputs: tuple[Any, ...],
    *,
    calibration: Iterable[Any] | None = None,
    max_batches: int = 64,
    keep_float: list[str] | None = None,
) -> Applied:
    """Int8 static PTQ with ``prepare_fx``/``convert_fx`` (Conv-BN-ReLU fused, BN folded).

    Args:
        model: The user's model (not modified: a deep copy is quantized).
        inputs: Example inputs; the calibration set when ``calibration`` is None.
        calibration: Batches (tensors or tuples of tensors) to calibrate the observers on.
        max_batches: Use at most this many calibration batches.
        keep_float: Names of modules left in floating point (``qconfig_mapping.set_module_name(name, None)``).

    Raises:
        NotApplicable: No Conv/Linear layer, no int8 engine, or the model cannot be FX-traced.
    """
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    nn = torch.nn
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    if not any(type(m) in kinds for m in model.modules()):
        raise NotApplicable("the model has no Conv1d/Conv2d/Conv3d/Linear layers (exact types) to quantize")
    engine = _engine(torch)
    batches, note = calibration_batches(calibration, inputs, max_batches=max_batches)
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    with warnings.catch_warnings():  # torch deprecates torch.ao.quantization in favour of torchao; still works
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            mapping = get_default_qconfig_mapping(engine)
            for name in keep_float or []:
                mapping = mapping.set_module_name(name, None)
            prepared = prepare_fx(copy.deepcopy(model).eval(), mapping, inputs)
        except Exception as exc:
            torch.backends.quantized.engine = previous
            raise NotApplicable(
                f"FX tracing failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "graph-mode static quantization needs a forward that torch.fx can trace symbolically"
            ) from exc
        with torch.no_grad():
            for batch in batches:
                prepared(*batch)
        quantized = convert_fx(prepared)
    kinds_after = Counter(
        type(m).__name__
        for m in quantized.modules()
        if type(m).__module__.startswith("torch.ao") and not type(m).__name__.endswith("PackedParams")
    )
    float_left = sorted({type(m).__name__ for m in quantized.modules() if type(m) in kinds})
    settings = {
        "mode": "fx-graph",
        "engine": engine,
        "weights": "qint8 (per-channel)" if engine in ("x86", "fbgemm") else "qint8",
        "activations": "quint8 (per-tensor, observer-calibrated)",
        "quantized_modules": dict(sorted(kinds_after.items())),
        "float_layers_left": float_left,
        "fused": "conv-bn(-relu) and linear-relu patterns fused by prepare_fx; BatchNorm folded",
        "calibration_batches": len(batches),
        "calibration": note,
        "deprecation": DEPRECATION,
    }
    return Applied(
        quantized, inputs, no_grad_eval, settings, restore=lambda: setattr(torch.backends.quantized, "engine", previous)
    )


@register("post-training-static-quantization@ignore-sensitive")
def static_int8_ignore_sensitive(
    model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None
) -> Applied:
    """FX static int8 with the first/last weighted layers and depthwise convs left in fp32 (a quality recovery)."""
    from advisor.measurement.appliers._sensitive import keep_sensitive_float

    return keep_sensitive_float(static_int8, model, inputs, calibration)


@register("post-training-static-quantization@keep-float-k")
def static_int8_keep_float(model: Any, inputs: tuple[Any, ...], *, calibration: Iterable[Any] | None = None) -> Applied:
    """FX static int8 with the k layers of largest own int8 error left in fp32, k grown until the gate holds."""
    from advisor.measurement.appliers._sensitive import keep_float_search

    return keep_float_search(static_int8, model, inputs, calibration)
