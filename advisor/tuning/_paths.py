"""Tune paths for kinds of model that are not measured by timing one forward pass: register, don't branch.

``tune()`` asks :func:`path_for` whether a registered path claims the profiled model; if one does, that path
measures and plans (generation: ``advisor.tuning._generation`` registers one for generative decoders, which
measures per output token with :func:`advisor.measure_generation`). ``tune()`` itself knows no such kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TUNE_PATHS", "TunePath", "path_for", "register_tune_path"]


@dataclass(frozen=True)
class TunePath:
    """A way of tuning a kind of model.

    Attributes:
        name: What it measures (``generation``).
        claims: ``claims(profile, model, phase, settings)``: whether this path tunes the model (``settings`` is
            tune's :class:`advisor.TuneSettings`, e.g. ``settings.generation.enabled``).
        run: ``run(spec, settings, *, prof, hw, c, catalog, store, budget_s, t0) -> TunePlan`` (``spec``: the
            :class:`advisor.ModelSpec`, with the tokenizer, prompts and draft model it carries).
    """

    name: str
    claims: Callable[[Any, Any, str, dict[str, Any]], bool]
    run: Callable[..., Any]


TUNE_PATHS: dict[str, TunePath] = {}


def register_tune_path(path: TunePath) -> None:
    """Register (or replace, by name) a tune path."""
    TUNE_PATHS[path.name] = path


def path_for(prof: Any, model: Any, phase: str, settings: Any) -> TunePath | None:
    """The first registered path that claims this model, or None (then tune times the forward pass)."""
    return next((p for p in TUNE_PATHS.values() if p.claims(prof, model, phase, settings)), None)
