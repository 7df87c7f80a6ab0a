"""Appliers: one function per technique id, returning a transformed copy of the model.

The user's model is never modified. An applier that cannot apply raises :class:`NotApplicable`
with the reason, and a measurement run goes on with the next technique.
"""

from __future__ import annotations

from advisor.measure.appliers import inference as _inference  # noqa: F401 - registers appliers
from advisor.measure.appliers.base import REGISTRY, Applied, NotApplicable, no_grad_eval

__all__ = ["REGISTRY", "Applied", "NotApplicable", "available_ids", "no_grad_eval"]


def available_ids() -> list[str]:
    """Technique ids that can be applied and measured live (torch must be installed)."""
    import importlib.util

    return sorted(REGISTRY) if importlib.util.find_spec("torch") is not None else []
