"""Appliers: one function per technique id, returning a transformed copy of the model.

The user's model is never modified. An applier that cannot apply raises :class:`NotApplicable`
with the reason, and a measurement run goes on with the next technique.
"""

from __future__ import annotations

from advisor.measurement.appliers import compiled as _compiled  # noqa: F401
from advisor.measurement.appliers import inference as _inference  # noqa: F401 - registers appliers
from advisor.measurement.appliers import onnx_runtime as _onnx_runtime  # noqa: F401
from advisor.measurement.appliers import pruning as _pruning  # noqa: F401
from advisor.measurement.appliers import static_quant as _static_quant  # noqa: F401
from advisor.measurement.appliers.base import REGISTRY, Applied, NotApplicable, no_grad_eval

__all__ = ["REGISTRY", "Applied", "NotApplicable", "apply_technique", "available_ids", "no_grad_eval"]

from typing import Any


def apply_technique(
    variant_id: str, model: Any, example_inputs: tuple[Any, ...], *, calibration_data: Any = None
) -> Applied:
    """Apply one measured variant (a technique id, a ``+`` stack, optionally ``@setting``) to a copy of ``model``.

    This is the only entry point the measurement engine calls.

    Args:
        variant_id: E.g. ``torch-compile``, ``onnx-runtime-inference+int8``, ``openvino-runtime@fp32``.
        model: The user's model (never modified).
        example_inputs: A batch of inputs, as a tuple of positional arguments.
        calibration_data: Optional iterable of input batches for static quantizers.

    Raises:
        NotApplicable: The variant cannot be applied here; the message says why.
    """
    del calibration_data  # used by the static quantizers (runtimes issue)
    if variant_id not in REGISTRY:
        raise NotApplicable(f"no applier for {variant_id!r}; appliers exist for: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[variant_id](model, example_inputs)


def available_ids() -> list[str]:
    """Technique ids that can be applied and measured live (torch and the applier's extras installed)."""
    import importlib.util

    from advisor.measurement.appliers._deps import REQUIRES

    if importlib.util.find_spec("torch") is None:
        return []
    return sorted(t for t in REGISTRY if all(importlib.util.find_spec(m) is not None for m in REQUIRES.get(t, ())))
