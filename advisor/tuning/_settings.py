"""The knobs of :func:`advisor.tune`, typed: :class:`TuneSettings` and its nested :class:`GenerationOptions`.

The model side (model, example inputs, eval_fn, calibration data, tokenizer, prompts, draft model, training
set-up) is the :class:`advisor.ModelSpec`; what tune does with it (where it stores, how long, what it saves,
how it projects training, how it measures a decoder) is a ``TuneSettings``. ``tune(..., settings=s, **overrides)``
merges keyword overrides into ``s`` with :func:`merge_settings` (``dataclasses.replace``); an unknown keyword is
one :class:`advisor.ConstraintError` naming it, its close matches and the valid fields.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor._errors import ConstraintError

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "DEFAULT_NEW_TOKENS",
    "STACKS_FROM_BUDGET_S",
    "GenerationOptions",
    "TuneSettings",
    "merge_settings",
]

DEFAULT_BATCH_SIZES = (1, 4)
DEFAULT_NEW_TOKENS = 32
STACKS_FROM_BUDGET_S = 45.0  # below it the single variants get all the budget
SPEC_FIELDS = ("tokenizer", "prompts", "draft_model", "training", "example_inputs")  # the ModelSpec carries these


@dataclass(frozen=True)
class GenerationOptions:
    """How :func:`advisor.tune` measures a generative decoder (a causal LM with ``generate``).

    Attributes:
        enabled: None: measure generation per output token when the model is a generative decoder; False:
            time the forward pass as for any model.
        batch_sizes: Batch sizes to measure generation at.
        max_new_tokens: Tokens generated per prompt.
        measure_options: Extra keyword arguments for :func:`advisor.measure_generation` (rounds, windows,
            ``lock_path``).
    """

    enabled: bool | None = None
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES
    max_new_tokens: int = DEFAULT_NEW_TOKENS
    measure_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = self.batch_sizes
        if isinstance(sizes, int | str) or not sizes or not all(_positive_int(b) for b in sizes):
            raise ConstraintError(f"batch_sizes: expected positive integers like (1, 4), got {sizes!r}")
        object.__setattr__(self, "batch_sizes", tuple(sizes))
        n = self.max_new_tokens
        if not _positive_int(n):
            raise ConstraintError(f"max_new_tokens: expected a positive integer like 32, got {n!r}")


def _positive_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


@dataclass(frozen=True)
class TuneSettings:
    """What :func:`advisor.tune` does with the model: store, carbon, budget split, saving, training projection.

    Attributes:
        store: A :class:`advisor.measurement.ResultStore`, a path, or None for the default store.
        region: Region for CO2e (see ``green-advisor regions``).
        pue: Power usage effectiveness of the facility.
        name: The model's name in the store and reports (default: the spec's).
        progress: Show progress bars.
        max_variants: Single variants to measure in stage 1 (default: from the budget, 2-8; generation 2-6).
        stacks: Measure stacks of the variants that paid off in stage 2.
        stacks_from_budget_s: The smallest ``budget_s`` at which stage 2 runs (then stage 1 gets 70 % of the
            budget; below it stage 1 gets all of it). Stage 2 also needs two variants that paid off and can be
            stacked, and at least 6 s of budget left after stage 1. Units: s.
        save: Save the winner as a deployable artifact (inference).
        save_dir: Where to save it (default: ``artifacts/<plan id>`` beside the store).
        hardware: A :class:`advisor.HardwareProfile` (default: detected).
        catalog: The technique catalog (default: the shipped one).
        steps_per_epoch: Training per step: optimizer steps per epoch, for the projection.
        epochs: Training per step: epochs, for the projection.
        targets: Training per step: targets of the batch for the loss.
        loss_fn: Training per step: ``loss_fn(output, targets)``.
        on_result: Inference: called with each measured result as soon as it is stored (live tables).
        generation: How a generative decoder is measured (:class:`GenerationOptions`).
    """

    store: Any = None
    region: str | None = None
    pue: float = 1.0
    name: str | None = None
    progress: bool = True
    max_variants: int | None = None
    stacks: bool = True
    stacks_from_budget_s: float = STACKS_FROM_BUDGET_S
    save: bool = True
    save_dir: str | Path | None = None
    hardware: Any = None
    catalog: Any = None
    steps_per_epoch: int | None = None
    epochs: int | None = None
    targets: Any = None
    loss_fn: Callable[[Any, Any], Any] | None = None
    on_result: Callable[[Any], None] | None = None
    generation: GenerationOptions = field(default_factory=GenerationOptions)

    def __post_init__(self) -> None:
        if not isinstance(self.generation, GenerationOptions):
            raise ConstraintError(
                f"generation: expected advisor.GenerationOptions, got {self.generation!r}; e.g. "
                "generation=GenerationOptions(enabled=False) to time the forward pass of a decoder"
            )
        s = self.stacks_from_budget_s
        if isinstance(s, bool) or not isinstance(s, int | float) or not s >= 0:
            raise ConstraintError(
                f"stacks_from_budget_s: expected a number of seconds >= 0, got {s!r}; e.g. 45 "
                "(stacks=False turns stage 2 off)"
            )
        m = self.max_variants
        if m is not None and not _positive_int(m):
            raise ConstraintError(f"max_variants: expected a positive integer or None, got {m!r}")


def merge_settings(settings: TuneSettings | None, overrides: Mapping[str, Any], where: str = "tune()") -> TuneSettings:
    """``settings`` (default: :class:`TuneSettings`) with the keyword ``overrides`` replaced in.

    Raises:
        ConstraintError: ``settings`` is not a TuneSettings, or a keyword is not one of its fields (the message
            names it, its close matches and the valid fields; a model-side keyword such as ``tokenizer`` is
            pointed to :class:`advisor.ModelSpec`).
    """
    from advisor._settings import merged

    if settings is not None and not isinstance(settings, TuneSettings):
        raise ConstraintError(f"{where}: settings: expected advisor.TuneSettings, got {type(settings).__name__}")
    return merged(TuneSettings, settings, overrides, where, _unknown)


def _unknown(key: str, names: list[str]) -> str:
    if key in SPEC_FIELDS:
        return (
            f"{key!r} belongs to the model: pass advisor.ModelSpec(model=..., example_inputs=..., {key}=...) "
            "as the first argument"
        )
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    moved = {"batch_sizes": "batch_sizes", "max_new_tokens": "max_new_tokens", "generation_options": "measure_options"}
    if key in moved:
        hint = f" (a generation option: generation=advisor.GenerationOptions({moved[key]}=...))"
    return f"unknown keyword {key!r}{hint}; valid settings: {', '.join(names)}"
