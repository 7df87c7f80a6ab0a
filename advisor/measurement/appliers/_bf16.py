"""bf16 done properly: whole-model bf16 weights, and the hardware check every reduced-precision variant makes.

``bfloat16`` (autocast, in ``inference.py``) keeps fp32 weights and casts per op; it pays off
mostly together with ``torch.compile`` (the stack ``bfloat16+torch-compile``). ``bfloat16@weights``
casts the whole model to bf16 once: half the weight memory and no per-call casts, but every
op runs in bf16 (LayerNorm and softmax included), so its fidelity differs. Inputs are cast to
bf16 and outputs back to fp32, so the variant is a drop-in replacement.

On hardware without bf16 (fp16) units these formats are emulated and usually slower: such
variants are left out of automatic runs (:func:`reduced_precision_ok`) and, when asked for
explicitly, carry a warning.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from advisor.measurement.appliers.base import Applied, model_device_type, no_grad_eval, register

__all__ = ["BF16_VARIANTS", "cast_floats", "hardware_warning", "reduced_precision_ok", "weights_bf16"]

# variants that need bf16 (or fp16) units to pay off; left out of automatic runs on hardware without them
BF16_VARIANTS = ("bfloat16", "bfloat16@weights", "bfloat16+torch-compile")
_FEATURE = {"bfloat16": "bf16", "float16": "fp16"}


@functools.lru_cache(maxsize=1)
def _hardware() -> Any:
    from advisor.profile import detect_hardware

    return detect_hardware()


def reduced_precision_ok(dtype_name: str = "bfloat16", device_type: str = "cpu") -> bool:
    """Whether this machine has units for ``dtype_name`` on ``device_type`` (per ``advisor.profile``)."""
    if device_type == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported()) if dtype_name == "bfloat16" else True
    try:
        return _hardware().has(_FEATURE.get(dtype_name, dtype_name))
    except Exception:  # noqa: BLE001 - an undetectable machine is treated as lacking the feature
        return False


def hardware_warning(dtype_name: str, device_type: str = "cpu") -> str | None:
    """A warning when the hardware lacks ``dtype_name`` units, else None."""
    if reduced_precision_ok(dtype_name, device_type):
        return None
    feature = _FEATURE.get(dtype_name, dtype_name)
    return (
        f"this {device_type} has no {feature} units (advisor.profile found none): {dtype_name} is emulated here "
        "and usually slower than fp32; it ran only because it was asked for"
    )


def cast_floats(value: Any, dtype: Any) -> Any:
    """``value`` with every floating-point tensor in it (tuples, lists, dicts, ``ModelOutput``) cast to ``dtype``."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, dict):
        items = {k: cast_floats(v, dtype) for k, v in value.items()}
        try:
            return type(value)(**items)
        except TypeError:
            return items
    if isinstance(value, (tuple, list)):
        return type(value)(cast_floats(v, dtype) for v in value)
    return value


def _module_base() -> Any:
    import torch

    return torch.nn.Module


def weights_bf16_module(model: Any) -> Any:
    """A module running a bf16 copy of ``model``: float inputs cast to bf16, float outputs back to fp32."""
    import torch

    class BF16Weights(_module_base()):  # type: ignore[misc]
        """``inner`` in bf16; inputs cast in, outputs cast back to fp32 for comparison with the original."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return cast_floats(self.inner(*cast_floats(args, torch.bfloat16)), torch.float32)

    return BF16Weights(copy.deepcopy(model).eval().to(torch.bfloat16)).eval()


@register("bfloat16@weights")
def weights_bf16(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """The whole model cast to bf16 (``model.to(torch.bfloat16)``); inputs cast to bf16, outputs back to fp32."""
    device = model_device_type(model)
    warning = hardware_warning("bfloat16", device)
    settings: dict[str, Any] = {
        "weights": "bfloat16 (whole model: model.to(torch.bfloat16))",
        "inputs": "floating-point inputs cast to bfloat16",
        "outputs": "cast back to float32 (for fidelity and drop-in use)",
        "device": device,
    }
    if warning:
        settings["warning"] = warning
    return Applied(weights_bf16_module(model), inputs, no_grad_eval, settings, warnings=[warning] if warning else [])


@register("bfloat16+torch-compile")
def bf16_compiled(model: Any, inputs: tuple[Any, ...]) -> Applied:
    """bf16 autocast with ``torch.compile`` (compiled inside the autocast context it is measured in).

    Registered as a variant of its own (it is how bf16 pays off on CPUs); the same as the stack
    ``torch-compile+bfloat16`` in any order.
    """
    from advisor.measurement.appliers._stacks import apply_stack

    return apply_stack(["bfloat16", "torch-compile"], model, inputs)
