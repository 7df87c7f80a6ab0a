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

__all__ = ["REGISTRY", "Applied", "NotApplicable", "available_ids", "no_grad_eval"]


def available_ids() -> list[str]:
    """Technique ids that can be applied and measured live (torch and the applier's extras installed)."""
    import importlib.util

    from advisor.measurement.appliers._deps import REQUIRES

    if importlib.util.find_spec("torch") is None:
        return []
    return sorted(t for t in REGISTRY if all(importlib.util.find_spec(m) is not None for m in REQUIRES.get(t, ())))
