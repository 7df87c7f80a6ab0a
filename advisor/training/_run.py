"""``advisor.measure_to_target``: train every variant from scratch to a target metric, over seeds, interleaved.

For each seed, the variants (the baseline among them) run in an order shuffled by that seed, so drift in the
machine's load hits every variant alike; the machine lock is held around each training run. Each run is written
to the results store as soon as it ends (the variant's aggregate so far), so Ctrl-C keeps every finished run.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor._errors import ConstraintError, NotApplicable, ProfileError
from advisor.catalog import VariantId
from advisor.training._loop import Caps, MeterSet, Trainer, train_run
from advisor.training._project import ASSUMPTION, project
from advisor.training._results import (
    KIND,
    SeedRun,
    ToTargetRun,
    VariantResult,
    paired_ratio,
    seed_interval,
    target_text,
    verdict,
)
from advisor.training._techniques import DEFAULT_TECHNIQUES, TECHNIQUES, Knobs, Recipe, base_recipe, check_ids
from advisor.training._techniques import make_recipe as _make_recipe

__all__ = ["ToTargetSettings", "aggregate", "measure_to_target", "training_setup_of"]

DEFAULT_EVAL_EVERY = 10
DEFAULT_EPOCHS_CAP = 20  # without the user's epochs, a run gives up after this many epochs
TEACHER_SEED = 999_983


@dataclass
class ToTargetSettings:
    """The knobs of :func:`measure_to_target` (defaults suit the example specs).

    Attributes:
        eval_every: Optimizer steps between evaluations (default: the spec's ``eval_every``, else 10).
        max_steps: A run that has not reached the target by then stops (default: the user's full training,
            ``full_epochs`` x steps per epoch, else 20 epochs).
        max_run_s: Training seconds after which a run stops. Units: s.
        schedule_steps: Steps the learning-rate schedules and the curriculum span (default: ``max_steps``).
        full_dataset_size: Samples of the user's full training set, for the projection (default: the spec's,
            else the training data's).
        full_epochs: Epochs of the user's full training, for the projection (default: the spec's).
        regions: Region ids for the projection's CO2e (default: ``$GREEN_ADVISOR_REGION`` or the config's).
        pue: Power usage effectiveness for the CO2e (>= 1).
        tdp_w: CPU TDP for the energy estimate where no counter is readable. Units: W.
        knobs: The appliers' settings (patience, keep fraction, batch scale, width, distillation).
        lock_timeout_s: Give up waiting for the machine lock after this long (None: wait). Units: s.
        threads: torch's intra-op threads during the runs (None: leave torch's setting); restored afterwards.
            On a machine shared with other jobs, 1 avoids the spin-waiting of oversubscribed threads.
        progress: Write one line per finished run to stderr.
    """

    eval_every: int | None = None
    max_steps: int | None = None
    max_run_s: float = 120.0
    schedule_steps: int | None = None
    full_dataset_size: int | None = None
    full_epochs: int | None = None
    regions: list[str] = field(default_factory=list)
    pue: float = 1.0
    tdp_w: float | None = None
    knobs: Knobs = field(default_factory=Knobs)
    lock_timeout_s: float | None = None
    threads: int | None = None
    progress: bool = False


def training_setup_of(spec: Any) -> tuple[Any, str, str]:
    """``(TrainingSetup, name, source)`` from a spec string, a ModelSpec, a TrainingSetup or a factory's return.

    Raises:
        ProfileError: The spec has no TrainingSetup (the message says what a training spec returns).
    """
    from advisor.profile.spec import ModelSpec, TrainingSetup, as_spec, load_spec

    if isinstance(spec, TrainingSetup):
        return spec, "model", "the spec"
    loaded = load_spec(spec) if isinstance(spec, str) else spec if isinstance(spec, ModelSpec) else as_spec(spec)
    if loaded.training is None:
        raise ProfileError(
            f"model spec {loaded.source}: expected an advisor.TrainingSetup (build_model, train_data, eval_fn, ...) "
            "to train to a target, got none; return ModelSpec(model=..., training=TrainingSetup(...)) or the "
            "TrainingSetup itself from the factory, e.g. advisor.examples:digits_training"
        )
    return loaded.training, loaded.name or type(loaded.model).__name__, loaded.source


def _check_target(target: Any, setup: Any) -> float:
    import math

    target = setup.target if target is None else target
    if target is None:
        raise ConstraintError(
            "target: expected the metric to reach, e.g. 0.95, got none; pass target=... "
            "(--target) or set TrainingSetup(target=...)"
        )
    if isinstance(target, bool) or not isinstance(target, int | float) or not math.isfinite(target):
        raise ConstraintError(f"target: expected a finite number such as 0.95, got {target!r}")
    if setup.metric == "accuracy" and not 0 < target <= 1:
        raise ConstraintError(
            f"target: expected an accuracy as a fraction in (0, 1], got {target:g}; "
            f"e.g. {target / 100:g} for {target:g} %"
            if 1 < target <= 100
            else f"target: expected an accuracy as a fraction in (0, 1], got {target:g}; e.g. 0.95"
        )
    return float(target)


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    got = list(range(seeds)) if isinstance(seeds, int) and not isinstance(seeds, bool) else list(seeds)  # type: ignore[arg-type]
    if not got or not all(isinstance(s, int) and not isinstance(s, bool) for s in got) or len(set(got)) != len(got):
        raise ConstraintError(f"seeds: expected a positive count or distinct integers, got {seeds!r}; e.g. seeds=3")
    return got


def _positive(name: str, value: Any, integer: bool = False) -> None:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if value is not None and (isinstance(value, bool) or not ok or not value > 0):
        raise ConstraintError(f"{name}: expected a positive {'integer' if integer else 'number'}, got {value!r}")


def _caps(setup: Any, s: ToTargetSettings, recipe: Recipe) -> tuple[Caps, int, int | None]:
    """(caps, schedule steps, steps per epoch) from the settings, the spec and the data."""
    for name in ("eval_every", "max_steps", "schedule_steps", "full_dataset_size", "full_epochs", "threads"):
        _positive(name, getattr(s, name), integer=True)
    _positive("max_run_s", s.max_run_s)
    per_epoch = len(recipe.x) // recipe.batch_size if recipe.x is not None else None
    epochs = s.full_epochs or setup.full_epochs
    max_steps = s.max_steps or ((epochs or DEFAULT_EPOCHS_CAP) * per_epoch if per_epoch else None)
    if not max_steps:
        raise ConstraintError(
            "max_steps: expected a step cap for a spec whose data is a loader (its epoch length is "
            "unknown); pass ToTargetSettings(max_steps=...) (--max-steps) or full_epochs"
        )
    eval_every = s.eval_every or setup.eval_every or DEFAULT_EVAL_EVERY
    return Caps(eval_every, max_steps, float(s.max_run_s)), s.schedule_steps or max_steps, per_epoch


def _catalog_ids(vid: str) -> list[str | None]:
    return [] if vid == "baseline" else [TECHNIQUES[t].catalog_id for t in VariantId.parse(vid).techniques]


def _prepare(ids: list[str], base: Recipe, setup: Any) -> tuple[dict[str, Recipe], dict[str, VariantResult]]:
    """The recipes that apply, and a not-applicable result for each that does not."""
    recipes: dict[str, Recipe] = {}
    skipped: dict[str, VariantResult] = {}
    for vid in ["baseline", *ids]:
        try:
            recipes[vid] = _make_recipe(vid, base, setup)
        except NotApplicable as exc:
            skipped[vid] = VariantResult(vid, _catalog_ids(vid), "not-applicable", str(exc))
    return recipes, skipped


def aggregate(
    vid: str, runs: list[SeedRun], base_runs: list[SeedRun], recipe: Recipe | None, method: str | None
) -> VariantResult:
    """One variant's result over its seeds, its ratios paired by seed with the baseline's runs."""
    done = [r for r in runs if r.status != "failed"]
    reached = [r for r in runs if r.reached]
    res = VariantResult(
        vid,
        _catalog_ids(vid),
        settings=dict(recipe.settings) if recipe else {},
        notes=list(recipe.notes) if recipe else [],
        n_seeds=len(done),
        n_reached=len(reached),
        energy_method=method,
        seeds=list(runs),
    )
    failed = [r for r in runs if r.status == "failed"]
    if failed and not done:
        res.status, res.reason = "failed", failed[0].reason
    res.energy_j_to_target = seed_interval([r.energy_j_to_target for r in reached], log=True)
    res.time_s_to_target = seed_interval([r.time_s_to_target for r in reached], log=True)
    res.steps_to_target = seed_interval(
        [float(r.steps_to_target) for r in reached if r.steps_to_target is not None], log=True
    )
    res.energy_j_spent = seed_interval([r.energy_j for r in done], log=True)
    res.final_metric = seed_interval([r.final_metric for r in done if r.final_metric is not None])
    if vid != "baseline":
        b_reached = [r for r in base_runs if r.reached]
        for attr, key in (
            ("energy_ratio", "energy_j_to_target"),
            ("time_ratio", "time_s_to_target"),
            ("steps_ratio", "steps_to_target"),
        ):
            setattr(
                res,
                attr,
                paired_ratio(
                    {r.seed: float(getattr(r, key)) for r in reached},
                    {r.seed: float(getattr(r, key)) for r in b_reached},
                ),
            )
        res.spent_ratio = paired_ratio(
            {r.seed: r.energy_j for r in done}, {r.seed: r.energy_j for r in base_runs if r.status != "failed"}
        )
        res.verdict = verdict(res.energy_ratio)
    return res


def _teacher(recipes: dict[str, Recipe], setup: Any, ctx: _Ctx) -> dict[str, Any] | None:
    """Train a teacher for the distillation variants when the spec has none; its cost is stated, not in ratios."""
    distil = [r for r in recipes.values() if r.distil]
    if not distil:
        return None
    if setup.teacher is not None:
        teacher, info = setup.teacher, {"source": "the spec's teacher (trained by the user; its cost is not counted)"}
    else:
        from advisor.measurement import machine_lock

        base = recipes["baseline"]
        with machine_lock(label=f"train-to-target {ctx.name}: teacher", timeout_s=ctx.settings.lock_timeout_s):
            teacher, run = _train_teacher(base, ctx)
        info = {
            "source": f"trained first by this run: the baseline recipe for {run.steps} steps (seed "
            f"{TEACHER_SEED}), metric {run.final_metric:.4g}",
            "energy_j": run.energy_j,
            "time_s": run.time_s,
            "steps": run.steps,
            "energy_method": ctx.meters.method,
            "final_metric": run.final_metric,
        }
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    note = f"teacher: {info['source']}" + (
        f"; it cost {info['energy_j']:.4g} J ({ctx.meters.method}) once, not in the ratios"
        if "energy_j" in info
        else ""
    )
    for r in distil:
        r.teacher = teacher
        r.notes.append(note)
    return info


def _train_teacher(base: Recipe, ctx: _Ctx) -> tuple[Any, SeedRun]:
    """The baseline recipe trained for the full cap (the user's full training), keeping the model."""
    import torch

    trainer = Trainer.fresh(base, TEACHER_SEED)
    tok = ctx.meters.begin()
    done, _ = trainer.steps(0, ctx.caps.max_steps)
    energy, secs = ctx.meters.end(tok)
    trainer.model.eval()
    with torch.no_grad():
        metric = float(ctx.setup.eval_fn(trainer.model))
    run = SeedRun("teacher", TEACHER_SEED, "reached", steps=done, energy_j=energy, time_s=secs, final_metric=metric)
    return trainer.model, run


@dataclass
class _Ctx:
    """What every run of one call shares."""

    setup: Any
    name: str
    target: float
    settings: ToTargetSettings
    caps: Caps
    warm_steps: int
    meters: MeterSet
    carbon: tuple[dict[str, float], list[str]] = field(default_factory=lambda: ({}, []))
    meta: dict[str, Any] = field(default_factory=dict)
    store: Any = None
    run_id: str | None = None
    lock_waited_s: float = 0.0
    orders: list[list[str]] = field(default_factory=list)


def _one(vid: str, seed: int, recipe: Recipe, ctx: _Ctx) -> SeedRun:
    from advisor.measurement import machine_lock

    label = f"train-to-target {ctx.name}: {vid} seed {seed}"
    with machine_lock(label=label, timeout_s=ctx.settings.lock_timeout_s, expected_s=ctx.settings.max_run_s) as grant:
        ctx.lock_waited_s += grant.waited_s
        try:
            run = train_run(
                recipe,
                seed,
                target=ctx.target,
                eval_fn=ctx.setup.eval_fn,
                caps=ctx.caps,
                meters=ctx.meters,
                warm_steps=ctx.warm_steps,
            )
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - a run that breaks is recorded, the others go on
            run = SeedRun(vid, seed, "failed", reason=f"{type(exc).__name__}: {exc}")
    run.variant = vid
    if ctx.settings.progress:
        sys.stderr.write(
            f"seed {seed} {vid}: {run.status} after {run.steps} steps, {run.energy_j:.3g} J, "
            f"{run.time_s:.2f} s; {run.reason}\n"
        )
    return run


def _loop(
    recipes: dict[str, Recipe], seeds: list[int], budget_s: float, ctx: _Ctx
) -> tuple[dict[str, list[SeedRun]], str]:
    """Every seed, every variant in a shuffled order; results written as they come. Returns (runs, status).

    When the budget runs out inside a seed, that seed's baseline still runs (if it has not), so every variant
    run in the seed has its pair; then the loop stops.
    """
    runs: dict[str, list[SeedRun]] = {v: [] for v in recipes}
    t0 = time.monotonic()
    try:
        for seed in seeds:
            order = list(recipes)
            random.Random(seed).shuffle(order)  # noqa: S311 - a seeded run order, not cryptography
            ctx.orders.append(order)
            for i, vid in enumerate(order):
                if time.monotonic() - t0 - ctx.lock_waited_s > budget_s:
                    if i and "baseline" in order[i:]:
                        _record(runs, "baseline", seed, recipes, ctx)
                    return runs, "budget"
                _record(runs, vid, seed, recipes, ctx)
    except KeyboardInterrupt:
        return runs, "interrupted"
    return runs, "finished"


def _record(runs: dict[str, list[SeedRun]], vid: str, seed: int, recipes: dict[str, Recipe], ctx: _Ctx) -> None:
    """Run one variant and seed, and write the variant's aggregate so far to the store."""
    runs[vid].append(_one(vid, seed, recipes[vid], ctx))
    if ctx.store is not None:
        res = aggregate(vid, runs[vid], runs["baseline"], recipes[vid], ctx.meters.method)
        ctx.store.add_result(ctx.run_id, vid, res.status, res.to_dict())


def _run_outcome(base: VariantResult, target: float, metric: str, max_steps: int) -> str:
    what = target_text(target, metric)
    if base.status != "ok" or not base.n_seeds:
        return f"the baseline was not trained ({base.status}: {base.reason or 'no seed ran'}); nothing to compare"
    if base.n_reached == 0:
        best = max((s.best_metric for s in base.seeds if s.best_metric is not None), default=float("nan"))
        return (
            f"the baseline did not reach {what} in any of {base.n_seeds} seeds (best {best:.4g}): no "
            f"energy-to-target ratio; lower the target or raise max_steps (now {max_steps})"
        )
    if base.n_reached < base.n_seeds:
        return (
            f"the baseline reached {what} in {base.n_reached} of {base.n_seeds} seeds; ratios rest on the seeds "
            "where both reached it"
        )
    return f"the baseline reached {what} in {base.n_seeds} of {base.n_seeds} seeds"


def _carbon(s: ToTargetSettings) -> tuple[dict[str, float], list[str]]:
    """Region -> gCO2e per J, and the regions' descriptions; an unknown region raises before anything runs."""
    from advisor.measurement import carbon

    carbon.check_pue(s.pue)
    regions = list(s.regions) or [r for r in [carbon.resolve_region(None)] if r]
    out, described = {}, []
    for region in regions:
        it = carbon.get_intensity(region)
        out[it.region] = carbon.co2e_g(1.0, it, s.pue)
        described.append(f"{it.region} {it.g_co2e_per_kwh:g} gCO2e/kWh ({it.year}), PUE {s.pue:g}")
    return out, described


def _projection(
    base: VariantResult, results: list[VariantResult], setup: Any, ctx: _Ctx, carbon: tuple[dict[str, float], list[str]]
) -> tuple[list[Any] | None, str]:
    s = ctx.settings
    size = (
        s.full_dataset_size
        or setup.full_dataset_size
        or (len(setup.train_data[0]) if not callable(setup.train_data) else None)
    )
    epochs = s.full_epochs or setup.full_epochs
    if not size or not epochs:
        return None, (
            "no projection: the full training's dataset size and epochs are needed (TrainingSetup("
            "full_dataset_size=..., full_epochs=...) or --dataset-size/--epochs)"
        )
    if base.n_reached == 0:
        return None, "no projection: the baseline never reached the target, so there is no ratio to carry"
    rows = project(base, [r for r in results if r.status == "ok"], size * epochs, carbon[0])
    regions = "; CO2e for " + "; ".join(carbon[1]) if carbon[1] else "; no CO2e (no region: pass regions=[...])"
    return rows, (
        f"full training: {size} samples x {epochs} epochs = {size * epochs} samples, energy "
        f"({ctx.meters.method}) per sample from the baseline's runs{regions}. It {ASSUMPTION}."
    )


def measure_to_target(
    spec: Any,
    target: float | None = None,
    techniques: Iterable[str] | str = DEFAULT_TECHNIQUES,
    seeds: int | Iterable[int] = 3,
    budget_s: float = 600.0,
    *,
    store: Any = None,
    settings: ToTargetSettings | None = None,
) -> ToTargetRun:
    """Train the baseline and each technique from scratch until ``eval_fn`` reaches ``target``, over seeds.

    Args:
        spec: A ``module:factory`` string, a :class:`~advisor.ModelSpec` with ``training``, a
            :class:`~advisor.TrainingSetup`, or what a factory returns.
        target: The metric to reach (an accuracy as a fraction, e.g. 0.95); default: the spec's ``target``.
        techniques: Technique ids or ``a+b`` stacks (see ``advisor.training.TECHNIQUES``), or one id.
        seeds: How many seeds (0, 1, ...) or the seeds themselves.
        budget_s: No new run starts after this many seconds (time waiting for the machine lock excluded),
            except the baseline of the seed under way, so every run has its pair. Seeds are interleaved: a
            short budget leaves the variants with the same number of seeds, give or take the last one. Units: s.
        store: A :class:`~advisor.measurement.ResultStore`, a path, None (the default store) or False (none).
        settings: Caps, evaluation period, projection inputs and the appliers' knobs.

    Raises:
        ProfileError: The spec has no TrainingSetup or its data has the wrong shape.
        ConstraintError: A bad target, seeds, budget, setting, region or incompatible stack.
        UnknownTechniqueError: An id that is not a to-target technique.
    """
    from advisor.measurement import ResultStore
    from advisor.measurement.energy import get_meters

    s = settings or ToTargetSettings()
    setup, name, source = training_setup_of(spec)
    target = _check_target(target, setup)
    ids = [techniques] if isinstance(techniques, str) else list(techniques)
    check_ids(ids)
    seed_list = _seeds(seeds)
    _positive("budget_s", budget_s)
    carbon = _carbon(s)
    probe = base_recipe(setup, s.knobs, 1, source)
    caps, schedule_steps, per_epoch = _caps(setup, s, probe)
    base = base_recipe(setup, s.knobs, schedule_steps, source)
    recipes, skipped = _prepare(ids, base, setup)
    meters, unavailable = get_meters(s.tdp_w)
    warm = s.knobs.score_steps or max(1, round(0.1 * schedule_steps))
    ctx = _Ctx(setup, name, target, s, caps, warm, MeterSet(meters), carbon)
    import torch

    threads = torch.get_num_threads()
    try:
        if s.threads:
            torch.set_num_threads(s.threads)
        ctx.meta = _meta(ctx, ids=ids, seeds=seed_list, budget_s=budget_s, per_epoch=per_epoch, unavailable=unavailable)
        if store is not False:
            ctx.store = store if isinstance(store, ResultStore) else ResultStore(store)
            ctx.run_id = ctx.store.start_run(name, "", ctx.meta)
            ctx.meta["store"] = str(ctx.store.path)
        runs, status, teacher = _execute(recipes, seed_list, budget_s, ctx)
    finally:
        torch.set_num_threads(threads)
        for m in meters:
            m.close()
    return _finish(ids, recipes, skipped, runs, status=status, teacher=teacher, ctx=ctx)


def _execute(
    recipes: dict[str, Recipe], seeds: list[int], budget_s: float, ctx: _Ctx
) -> tuple[dict[str, list[SeedRun]], str, dict[str, Any] | None]:
    """The teacher (when distillation needs one), then every seed's runs; Ctrl-C keeps what finished."""
    teacher = None
    try:
        teacher = _teacher(recipes, ctx.setup, ctx) if "baseline" in recipes else None
    except KeyboardInterrupt:
        return {v: [] for v in recipes}, "interrupted", None
    runs, status = _loop(recipes, seeds, budget_s, ctx)
    return runs, status, teacher


def _finish(
    ids: list[str],
    recipes: dict[str, Recipe],
    skipped: dict[str, VariantResult],
    runs: dict[str, list[SeedRun]],
    *,
    status: str,
    teacher: dict[str, Any] | None,
    ctx: _Ctx,
) -> ToTargetRun:
    """Aggregate every variant, project, and write the run to the store."""
    method, meta = ctx.meters.method, ctx.meta

    def result(vid: str) -> VariantResult:
        if vid in skipped:
            return skipped[vid]
        res = aggregate(vid, runs.get(vid, []), runs.get("baseline", []), recipes[vid], method)
        if not res.n_seeds and res.status == "ok":
            res.status, res.reason = "no-runs", "the budget ran out before its first seed"
        return res

    base = result("baseline")
    results = [result(v) for v in ids]
    meta.update(orders=ctx.orders, lock_waited_s=round(ctx.lock_waited_s, 3))
    proj, note = _projection(base, results, ctx.setup, ctx, ctx.carbon)
    run = ToTargetRun(
        ctx.run_id,
        status,
        ctx.target,
        ctx.setup.metric,
        base,
        results,
        _run_outcome(base, ctx.target, ctx.setup.metric, ctx.caps.max_steps),
        proj,
        note,
        teacher,
        [m.describe() for m in ctx.meters.meters],
        meta,
    )
    if ctx.store is not None:
        for r in run.all_results():
            ctx.store.add_result(ctx.run_id, r.variant, r.status, r.to_dict())
        ctx.store.finish_run(ctx.run_id, status)
        ctx.store.save_run(run)
    return run


def _model_facts(setup: Any, name: str) -> dict[str, Any]:
    """The baseline model's profile (architectures, parameters, batch) for knowledge reuse, or why it is missing.

    ``recommend(knowledge=...)`` weighs a stored to-target run by how alike its model is to the user's; a model
    whose profile cannot be taken (a loader whose first batch cannot be drawn, a forward that fails) is recorded
    with its name and the reason, and then counts as a model of unknown traits.
    """
    from advisor._errors import ProfileError
    from advisor.profile.model import profile_model

    try:
        data = setup.train_data
        batch = data[0][: setup.batch_size] if isinstance(data, tuple | list) else next(iter(data()))[0]
        return profile_model(setup.build_model(), batch, name=name, phase="training").model_dump(mode="json")
    except (ProfileError, TypeError, IndexError, StopIteration, RuntimeError) as exc:
        return {"name": name, "profile_error": f"{type(exc).__name__}: {exc}"[:200]}


def _meta(
    ctx: _Ctx, *, ids: list[str], seeds: list[int], budget_s: float, per_epoch: int | None, unavailable: dict[str, str]
) -> dict[str, Any]:
    """What the store and the JSON record about the run's set-up and machine."""
    import platform

    import torch

    from advisor._version import __version__
    from advisor.profile.hardware import detect_hardware

    setup = ctx.setup
    return {
        "kind": KIND,
        "model_name": ctx.name,
        "target": ctx.target,
        "metric": setup.metric,
        "techniques": ids,
        "seeds": seeds,
        "budget_s": budget_s,
        "caps": asdict(ctx.caps),
        "warm_steps": ctx.warm_steps,
        "steps_per_epoch": per_epoch,
        "batch_size": setup.batch_size,
        "lr": setup.lr,
        "knobs": asdict(ctx.settings.knobs),
        "energy_method": ctx.meters.method,
        "meters": [m.describe() for m in ctx.meters.meters],
        "meters_unavailable": unavailable,
        "hardware": detect_hardware().model_dump(mode="json"),
        "model": _model_facts(setup, ctx.name),
        "torch_threads": torch.get_num_threads(),
        "versions": {"green-dl-advisor": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
