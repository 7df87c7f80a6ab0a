"""The applier interface: a technique id -> a transformed *copy* of the user's model and how to run it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from advisor._errors import NotApplicable

__all__ = ["REGISTRY", "Applied", "Applier", "NotApplicable", "model_device_type", "no_grad_eval", "register"]


@dataclass
class Applied:
    """A transformed model, ready to run.

    Attributes:
        model: The transformed copy (the user's model is never modified).
        inputs: Inputs to call it with (possibly converted, e.g. channels-last).
        context: A context manager factory wrapped around every call (autocast, inference mode).
        settings: What was done, for the record (dtype, threads, ...).
        restore: Undo process-wide settings (thread count) after measuring.
        eager: The module before ``torch.compile`` (for saving; None when ``model`` is not compiled).
        warnings: Things the user must know about this variant (e.g. bf16 on hardware without bf16 units).
    """

    model: Any
    inputs: tuple[Any, ...]
    context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    settings: dict[str, Any] = field(default_factory=dict)
    restore: Callable[[], None] = lambda: None
    eager: Any = None
    warnings: list[str] = field(default_factory=list)

    def __call__(self) -> Any:
        """Run the transformed model once on its inputs, inside its context."""
        with self.context():
            return self.model(*self.inputs)


Applier = Callable[[Any, tuple[Any, ...]], Applied]
REGISTRY: dict[str, Applier] = {}
_F = TypeVar("_F", bound=Callable[..., Any])


def register(technique_id: str, registry: dict[str, Any] | None = None) -> Callable[[_F], _F]:
    """Register an applier for a catalog technique id (in ``registry``, default the inference ``REGISTRY``)."""

    def deco(fn: _F) -> _F:
        (REGISTRY if registry is None else registry)[technique_id] = fn
        return fn

    return deco


@contextlib.contextmanager
def no_grad_eval() -> Iterator[None]:
    """The baseline's context: ``torch.no_grad()``."""
    import torch

    with torch.no_grad():
        yield


def model_device_type(model: Any) -> str:
    """``cuda``/``cpu``/... : where the model's first parameter (or buffer) lives; ``cpu`` for none."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device.type
    return "cpu"
