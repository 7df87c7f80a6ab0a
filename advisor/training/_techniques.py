"""Training techniques as appliers: each changes a :class:`Recipe` (how one variant trains) and names its catalog entry.

A recipe starts as the user's :class:`~advisor.TrainingSetup` (the baseline); an applier changes the parts its
technique is about (the schedule, the batch size and learning rate, the precision, the data, the model, the loss,
when to stop). Each technique occupies *slots*; two techniques stack (``a+b``) when their slots are disjoint.
An applier that cannot apply to this set-up raises :class:`~advisor.NotApplicable` with the reason.

Catalog entries: every technique names the entry it implements (``catalog_id``) or says it has none
(``compact-model``: the user's own architecture); no evidence is invented for it.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from advisor._errors import ConstraintError, NotApplicable, UnknownTechniqueError
from advisor.catalog import VariantId

__all__ = [
    "DEFAULT_TECHNIQUES",
    "TECHNIQUES",
    "Knobs",
    "Recipe",
    "Technique",
    "base_recipe",
    "check_ids",
    "make_recipe",
]


@dataclass(frozen=True)
class Knobs:
    """The settings the appliers use (one place, recorded with every run).

    Attributes:
        patience: Early stopping: evaluations without a new best metric before the run stops.
        keep_frac: Data pruning and random subset: fraction of the training samples kept.
        score_steps: Steps of the warm-up that scores the samples (EL2N, curriculum); None: 10 % of the schedule.
        batch_scale: Large-batch training: the batch size multiplier.
        width: Width multiplier of the compact model (``build_model(width=...)``).
        kd_alpha: Distillation: weight of the teacher's soft targets in the loss (the rest is the user's loss).
        kd_temperature: Distillation: softmax temperature of the soft targets.
        curriculum_start: Curriculum: the easiest fraction of the data trained on at step 0.
        curriculum_pace: Curriculum: fraction of the schedule after which all data is in.
        warmup_frac: Large-batch training: fraction of the schedule with a linear learning-rate warm-up.
        one_cycle_max_lr: One-cycle: the peak learning rate as a multiple of the user's.
    """

    patience: int = 3
    keep_frac: float = 0.5
    score_steps: int | None = None
    batch_scale: int = 4
    width: float = 0.5
    kd_alpha: float = 0.5
    kd_temperature: float = 2.0
    curriculum_start: float = 0.5
    curriculum_pace: float = 0.5
    warmup_frac: float = 0.05
    one_cycle_max_lr: float = 4.0


@dataclass
class Recipe:
    """How one variant trains: the baseline is the user's set-up, each applier changes its part.

    Attributes:
        build: ``build(seed) -> torch.nn.Module``, a fresh model.
        x: Training inputs (a tensor; None when the data comes from a loader).
        y: Training targets.
        loader: ``loader(batch_size, seed) -> iterable of (inputs, targets)`` (None for tensors).
        batch_size: Samples per optimizer step.
        lr: Learning rate.
        make_optimizer: ``make_optimizer(parameters, lr) -> Optimizer``.
        loss_fn: ``loss_fn(outputs, targets) -> loss``.
        schedule: ``None``, ``one-cycle``, ``cosine`` or ``warmup`` (linear warm-up, then constant).
        schedule_steps: Steps the schedule spans.
        autocast: A ``torch.dtype`` for ``torch.autocast`` (None: full precision).
        data_select: ``None``, ``el2n`` (keep the highest-scoring samples after a warm-up) or ``random``.
        curriculum: Order the data by the warm-up's loss, easiest first.
        patience: Early stopping patience in evaluations (None: no early stopping).
        distil: Train against a teacher's soft targets.
        teacher: The teacher model (set by the runner when ``distil``).
        settings: What the appliers set, for the results.
        notes: What the results should say about this variant (e.g. the cost of a teacher).
    """

    build: Callable[[int], Any]
    x: Any
    y: Any
    loader: Callable[[int, int], Any] | None
    batch_size: int
    lr: float
    make_optimizer: Callable[[Any, float], Any]
    loss_fn: Callable[[Any, Any], Any]
    knobs: Knobs
    schedule: str | None = None
    schedule_steps: int = 1
    autocast: Any = None
    data_select: str | None = None
    curriculum: bool = False
    patience: int | None = None
    distil: bool = False
    teacher: Any = None
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def needs_scores(self) -> bool:
        """Whether a seed's run starts with a scoring warm-up (its cost is counted as overhead)."""
        return self.data_select == "el2n" or self.curriculum


@dataclass(frozen=True)
class Technique:
    """One training technique measured to a target.

    Attributes:
        id: The variant id (the catalog id where there is one).
        catalog_id: The catalog entry it implements (None: no entry; no evidence is cited for it).
        slots: What it changes; techniques with disjoint slots stack.
        summary: One line on what the applier does.
        apply: ``apply(recipe, setup)`` changes the recipe in place; raises NotApplicable.
    """

    id: str
    catalog_id: str | None
    slots: frozenset[str]
    summary: str
    apply: Callable[[Recipe, Any], None]


def _call_builder(fn: Callable[..., Any], seed: int, **kw: Any) -> Any:
    """Call a model builder with the keywords it takes (``seed``, ``width``); the torch seed is set either way."""
    import torch

    torch.manual_seed(seed)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    takes_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    args = {k: v for k, v in {"seed": seed, **kw}.items() if takes_kw or k in params}
    return fn(**args)


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _default_optimizer(params: Any, lr: float) -> Any:
    import torch

    return torch.optim.Adam(params, lr=lr)


def _default_loss(outputs: Any, targets: Any) -> Any:
    import torch

    return torch.nn.functional.cross_entropy(outputs, targets)


def _is_tensor_pair(data: Any) -> bool:
    import torch

    return (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
        and len(data[0]) == len(data[1])
        and len(data[0]) > 0
    )


def base_recipe(setup: Any, knobs: Knobs, schedule_steps: int, source: str = "the spec") -> Recipe:
    """The baseline recipe: the user's set-up as it is.

    Raises:
        ProfileError: The training data is neither a pair of tensors nor a loader callable.
    """
    from advisor._errors import ProfileError

    data = setup.train_data
    if _is_tensor_pair(data):
        x, y, loader = data[0], data[1], None
    elif callable(data):
        x, y, loader = None, None, data
    else:
        raise ProfileError(
            f"model spec {source}: training.train_data must be a pair of tensors (inputs, targets) of "
            f"the same length or a callable loader(batch_size, seed), got a {type(data).__name__}"
        )
    for name, value, ok in (
        ("batch_size", setup.batch_size, isinstance(setup.batch_size, int) and setup.batch_size > 0),
        ("lr", setup.lr, isinstance(setup.lr, int | float) and setup.lr > 0),
    ):
        if not ok:
            raise ProfileError(f"model spec {source}: training.{name} must be positive, got {value!r}")
    return Recipe(
        build=lambda seed: _call_builder(setup.build_model, seed),
        x=x,
        y=y,
        loader=loader,
        batch_size=setup.batch_size,
        lr=float(setup.lr),
        make_optimizer=setup.make_optimizer or _default_optimizer,
        loss_fn=setup.loss_fn or _default_loss,
        knobs=knobs,
        schedule_steps=schedule_steps,
    )


# --- the appliers ------------------------------------------------------------------------------------------
def _early_stopping(r: Recipe, _setup: Any) -> None:
    r.patience = r.knobs.patience
    r.settings["patience_evals"] = r.knobs.patience


def _one_cycle(r: Recipe, _setup: Any) -> None:
    r.schedule = "one-cycle"
    r.settings.update(schedule="one-cycle", max_lr=r.lr * r.knobs.one_cycle_max_lr, schedule_steps=r.schedule_steps)


def _cosine(r: Recipe, _setup: Any) -> None:
    r.schedule = "cosine"
    r.settings.update(schedule="cosine", schedule_steps=r.schedule_steps)


def _is_sgd(make_optimizer: Callable[[Any, float], Any]) -> bool:
    import torch

    return isinstance(make_optimizer([torch.nn.Parameter(torch.zeros(1))], 1e-3), torch.optim.SGD)


def _large_batch(r: Recipe, _setup: Any) -> None:
    k = r.knobs.batch_scale
    if r.x is not None and r.batch_size * k > len(r.x):
        raise NotApplicable(f"batch {r.batch_size} x {k} exceeds the {len(r.x)} training samples")
    rule = "linear" if _is_sgd(r.make_optimizer) else "square-root"
    r.lr *= k if rule == "linear" else math.sqrt(k)
    r.batch_size *= k
    r.schedule = "warmup"
    r.settings.update(
        batch_size=r.batch_size,
        lr=r.lr,
        lr_scaling=rule,
        warmup_steps=max(1, round(r.knobs.warmup_frac * r.schedule_steps)),
    )


def _bf16(r: Recipe, _setup: Any) -> None:
    import torch

    r.autocast = torch.bfloat16
    r.settings["autocast"] = "bfloat16"


def _need_tensors(r: Recipe, what: str) -> None:
    if r.x is None:
        raise NotApplicable(f"{what} needs the training data as tensors (inputs, targets), not a loader")


def _el2n(r: Recipe, _setup: Any) -> None:
    _need_tensors(r, "data pruning")
    r.data_select = "el2n"
    r.settings.update(score="EL2N after a warm-up", keep_frac=r.knobs.keep_frac, keep="highest scores")


def _random_subset(r: Recipe, _setup: Any) -> None:
    _need_tensors(r, "a random subset")
    r.data_select = "random"
    r.settings.update(keep_frac=r.knobs.keep_frac, keep="uniform at random (seeded)")


def _curriculum(r: Recipe, _setup: Any) -> None:
    _need_tensors(r, "curriculum learning")
    r.curriculum = True
    r.settings.update(
        score="loss after a warm-up", start_frac=r.knobs.curriculum_start, pace_frac=r.knobs.curriculum_pace
    )


def _compact_builder(setup: Any, width: float) -> tuple[Callable[[int], Any], str] | None:
    if setup.compact_model is not None:
        return (lambda seed: _call_builder(setup.compact_model, seed)), "the spec's compact_model"
    if _takes(setup.build_model, "width"):
        return (lambda seed: _call_builder(setup.build_model, seed, width=width)), f"build_model(width={width:g})"
    return None


def _width(r: Recipe, setup: Any) -> None:
    if not _takes(setup.build_model, "width"):
        raise NotApplicable(
            "build_model takes no width keyword; accept build_model(width=...) or pass "
            "TrainingSetup(compact_model=...) and measure compact-model"
        )
    w = r.knobs.width
    r.build = lambda seed: _call_builder(setup.build_model, seed, width=w)
    r.settings["width"] = w


def _compact(r: Recipe, setup: Any) -> None:
    if setup.compact_model is None:
        raise NotApplicable(
            "the spec has no compact_model; pass TrainingSetup(compact_model=...) (a builder of "
            "the smaller alternative), or measure width-multiplier"
        )
    r.build = lambda seed: _call_builder(setup.compact_model, seed)
    r.settings["model"] = "the spec's compact_model"


def _distil(r: Recipe, setup: Any) -> None:
    got = _compact_builder(setup, r.knobs.width)
    if got is None:
        r.settings["student"] = "the same architecture (no compact model: pass compact_model or build_model(width))"
    else:
        r.build, r.settings["student"] = got
    r.distil = True
    r.teacher = setup.teacher
    r.settings.update(
        kd_alpha=r.knobs.kd_alpha,
        kd_temperature=r.knobs.kd_temperature,
        teacher="the spec's teacher" if setup.teacher is not None else "trained first by this run",
    )


def _t(id_: str, catalog_id: str | None, slots: str, summary: str, fn: Callable[[Recipe, Any], None]) -> Technique:
    return Technique(id_, catalog_id, frozenset(slots.split()), summary, fn)


TECHNIQUES: dict[str, Technique] = {
    t.id: t
    for t in (
        _t(
            "early-stopping",
            "early-stopping",
            "stop",
            "stop when the metric has not improved for `patience` evaluations",
            _early_stopping,
        ),
        _t(
            "one-cycle-learning-rate",
            "one-cycle-learning-rate",
            "schedule",
            "OneCycleLR over the schedule, peak learning rate 4x the user's",
            _one_cycle,
        ),
        _t(
            "cosine-learning-rate",
            "cosine-learning-rate",
            "schedule",
            "cosine annealing of the learning rate over the schedule, no restarts",
            _cosine,
        ),
        _t(
            "large-batch-training",
            "large-batch-training",
            "schedule batch",
            "batch x4 with the learning rate scaled (linear for SGD, square root otherwise) and a linear warm-up",
            _large_batch,
        ),
        _t("bf16-training", "bf16-training", "precision", "forward and loss under torch.autocast(bfloat16)", _bf16),
        _t(
            "data-pruning",
            "data-pruning",
            "data",
            "keep the half with the highest EL2N scores from a short warm-up",
            _el2n,
        ),
        _t(
            "random-subset",
            "random-data-subset",
            "data",
            "keep a random half of the training data (the control for data-pruning)",
            _random_subset,
        ),
        _t(
            "curriculum-learning",
            "curriculum-learning",
            "data",
            "easiest samples first (loss after a warm-up), all data in by half the schedule",
            _curriculum,
        ),
        _t(
            "width-multiplier",
            "mobilenet",
            "model",
            "the model at half width (build_model(width=0.5); MobileNet's width multiplier)",
            _width,
        ),
        _t(
            "compact-model",
            None,
            "model",
            "the spec's compact_model instead of build_model (the user's own architecture: no catalog entry, "
            "since each compact-network entry names one design and the user's model need follow none)",
            _compact,
        ),
        _t(
            "knowledge-distillation",
            "knowledge-distillation",
            "model loss",
            "a compact student trained on the teacher's soft targets plus the user's loss",
            _distil,
        ),
    )
}

DEFAULT_TECHNIQUES = (
    "early-stopping",
    "one-cycle-learning-rate",
    "cosine-learning-rate",
    "large-batch-training",
    "bf16-training",
    "data-pruning",
    "random-subset",
    "curriculum-learning",
    "width-multiplier",
    "knowledge-distillation",
)


def check_ids(ids: list[str]) -> None:
    """Every id (or ``a+b`` stack) names known techniques whose slots are disjoint.

    Raises:
        ConstraintError: An empty list, or a stack of techniques that change the same thing.
        UnknownTechniqueError: An id that is not a to-target technique (with close matches).
    """
    if not ids:
        raise ConstraintError(
            f"techniques: expected at least one to-target technique id, got none; e.g. "
            f"{', '.join(DEFAULT_TECHNIQUES[:3])}"
        )
    for vid in ids:
        v = VariantId.parse(vid)
        if any(v.settings):
            raise ConstraintError(f"technique {vid!r}: expected to-target technique ids without a setting")
        parts = list(v.techniques)
        for p in parts:
            if p not in TECHNIQUES:
                raise UnknownTechniqueError(p, difflib.get_close_matches(p, sorted(TECHNIQUES), n=3, cutoff=0.5))
        if len(set(parts)) != len(parts):
            raise ConstraintError(f"technique {vid!r}: expected distinct techniques in a stack, got a repeat")
        for i, a in enumerate(parts):
            for b in parts[i + 1 :]:
                shared = TECHNIQUES[a].slots & TECHNIQUES[b].slots
                if shared:
                    raise ConstraintError(
                        f"technique {vid!r}: {a} and {b} both change the {', '.join(sorted(shared))}; "
                        "expected a stack of techniques that change different things"
                    )


def make_recipe(vid: str, base: Recipe, setup: Any) -> Recipe:
    """The recipe of variant ``vid`` (``baseline``, a technique id or an ``a+b`` stack).

    Raises:
        NotApplicable: A technique cannot apply to this set-up (the message says why).
    """
    r = replace(base, settings={}, notes=[])
    if vid == "baseline":
        return r
    for tid in VariantId.parse(vid).techniques:
        TECHNIQUES[tid].apply(r, setup)
    return r
