"""Appliers: one function per technique id, returning a transformed copy of the model.

The user's model is never modified. An applier that cannot apply raises :class:`NotApplicable`
with the reason, and a measurement run goes on with the next technique. A variant id names one
technique (``torch-compile``), a setting of one (``openvino-runtime@fp32``, ``bfloat16@weights``)
or a stack applied in order (``structured-filter-pruning+post-training-static-quantization``).
"""

from __future__ import annotations

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
from advisor.measurement.appliers._stacks import apply_technique, candidate_stacks, split_variant, stack_id
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
