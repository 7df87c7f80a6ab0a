"""Optional dependencies of appliers: a missing one is both a :class:`MissingExtraError` and a verdict.

Raised inside :func:`advisor.measurement.measure`, it is recorded as ``not-applicable`` with the pip
command; called directly, it can be caught as the package's usual ``MissingExtraError``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from advisor._errors import MissingApplierDependencyError

__all__ = ["REQUIRES", "MissingApplierDependencyError", "need"]

# technique id -> modules its applier imports beyond torch (checked by ``available_ids``)
REQUIRES: dict[str, tuple[str, ...]] = {}


def need(module: str, extra: str, purpose: str) -> Any:
    """Import ``module``, or raise :class:`MissingApplierDependencyError` naming the pip command.

    Args:
        module: Importable module name, e.g. ``"onnxruntime"``.
        extra: The package extra that installs it, e.g. ``"onnx"``.
        purpose: What needs it, for the message (e.g. ``"The onnx-runtime-inference applier"``).
    """
    try:
        return import_module(module)
    except ImportError:
        raise MissingApplierDependencyError(module, extra, purpose) from None
