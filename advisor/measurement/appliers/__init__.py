"""Appliers: one function per technique id, returning a transformed copy of the model.

The user's model is never modified. An applier that cannot apply raises :class:`NotApplicable`
with the reason, and a measurement run goes on with the next technique. A variant id names one
technique (``torch-compile``), a setting of one (``openvino-runtime@fp32``, ``bfloat16@weights``)
or a stack applied in order (``structured-filter-pruning+post-training-static-quantization``).
"""

from __future__ import annotations

from typing import Any

from advisor.measurement.appliers import (
    _bf16,  # noqa: F401 - registers bfloat16@weights
    _openvino,  # noqa: F401 - registers openvino-runtime, nncf-... (and the @ignore-sensitive recoveries)
    _torchao,  # noqa: F401 - registers torchao-*, pt2e-x86-...
)
from advisor.measurement.appliers import compiled as _compiled  # noqa: F401
from advisor.measurement.appliers import inference as _inference  # noqa: F401 - registers appliers
from advisor.measurement.appliers import onnx_runtime as _onnx_runtime  # noqa: F401
from advisor.measurement.appliers import pruning as _pruning  # noqa: F401
from advisor.measurement.appliers import static_quant as _static_quant  # noqa: F401
from advisor.measurement.appliers._bf16 import BF16_VARIANTS, reduced_precision_ok
from advisor.measurement.appliers._calibration import EXAMPLE_NOTE, NotedBatches
from advisor.measurement.appliers._save import SavedArtifact, save_applied, save_variant
from advisor.measurement.appliers._stacks import apply_stack, candidate_stacks, split_variant, stack_id
from advisor.measurement.appliers.base import REGISTRY, Applied, NotApplicable, no_grad_eval

__all__ = [
    "EXAMPLE_NOTE",
    "REGISTRY",
    "Applied",
    "NotApplicable",
    "NotedBatches",
    "SavedArtifact",
    "apply_technique",
    "available_ids",
    "candidate_stacks",
    "no_grad_eval",
    "save_applied",
    "save_variant",
    "split_variant",
    "stack_id",
]


def apply_technique(
    variant_id: str, model: Any, example_inputs: tuple[Any, ...], *, calibration_data: Any = None, eval_fn: Any = None
) -> Applied:
    """Apply one measured variant (a technique id, a ``+`` stack, optionally ``@setting``) to a copy of ``model``.

    This is the only entry point the measurement engine calls. A stack's techniques are applied
    in a fixed sensible order (pruning, layout, quantization, precision, compilation, runtime),
    whatever order the id names them in.

    Args:
        variant_id: E.g. ``torch-compile``, ``onnx-runtime-inference+int8``, ``openvino-runtime@fp32``,
            ``bfloat16+torch-compile``.
        model: The user's model (never modified).
        example_inputs: A batch of inputs, as a tuple of positional arguments.
        calibration_data: Optional iterable of input batches for static quantizers; without it they
            calibrate on ``example_inputs`` and their settings say ``calibration: example batch (optimistic)``.
        eval_fn: ``eval_fn(model) -> accuracy`` for appliers that use one (NNCF's accuracy control).

    Raises:
        NotApplicable: The variant cannot be applied here; the message says why.
    """
    return apply_stack(
        split_variant(variant_id), model, tuple(example_inputs), calibration=calibration_data, eval_fn=eval_fn
    )


def available_ids(*, include_reduced_precision: bool = False) -> list[str]:
    """Variant ids that can be applied and measured live (torch and the applier's extras installed).

    bf16 variants are left out on hardware without bf16 units (they run only when asked for by name,
    with a warning) unless ``include_reduced_precision``.
    """
    import importlib.util

    from advisor.measurement.appliers._deps import REQUIRES

    if importlib.util.find_spec("torch") is None:
        return []
    ids = sorted(t for t in REGISTRY if all(importlib.util.find_spec(m) is not None for m in REQUIRES.get(t, ())))
    if not include_reduced_precision and not reduced_precision_ok("bfloat16"):
        ids = [i for i in ids if i not in BF16_VARIANTS]
    return ids
