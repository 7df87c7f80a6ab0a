"""``advisor.measure_training``: time training techniques per step and project a whole training run.

For the baseline and each technique, a fresh copy of the model with its own optimizer:

1. trains ``loss_steps`` steps from the same weights and seed on the example batch (the loss
   trajectory: it must stay finite; its last value minus the baseline's is the technique's
   "quality"),
2. runs one step with its tensor allocations counted (peak memory of a step, see
   :mod:`advisor.measurement.step_memory`),
3. is timed with the baseline in interleaved, paired rounds by the measurement engine (the same
   loop as :func:`advisor.measure`): step-time and step-energy ratios with 95 % intervals and a
   verdict, energy with its method label, idle power subtracted where energy is measured.

A projection multiplies the per-step figures by ``steps_per_epoch x epochs``: time, energy (with
its method) and CO2e (through :mod:`advisor.measurement.carbon`; needs a region). For gradient
accumulation a step is one *effective* step (k micro-batches + one optimizer step over the same
samples as one baseline step), so the comparison is per sample. Spreads are propagated from the
inter-quartile range of the step figures. Each result is written to the store at once; a failure
is recorded and the run goes on; Ctrl-C ends the run and keeps every finished round.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from advisor._errors import ConstraintError, ProfileError
from advisor.measurement._common import (
    check_args,
    fingerprint,
    merged_with_engine,
    meter_notes,
    peak_rss_mib,
    process_state,
    run_history,
    start_load,
    versions,
)
from advisor.measurement._results import Projection, Timing, TrainingQuality, TrainingResult, TrainingRun
from advisor.measurement.appliers.base import NotApplicable
from advisor.measurement.appliers.training import TRAINING_REGISTRY, TrainSetup, TrainStep, baseline_step, make_setup
from advisor.measurement.energy import get_meters
from advisor.measurement.engine import (
    EngineOutcome,
    EngineSettings,
    Variant,
    VariantSpec,
    derive,
    device_sync,
    load_summary,
    run_engine,
    summarize_timing,
)
from advisor.measurement.harness import idle_power_w
from advisor.measurement.store import ResultStore

__all__ = [
    "DEFAULT_TECHNIQUES",
    "MeasureTrainingSettings",
    "Projection",
    "TrainingQuality",
    "TrainingResult",
    "TrainingRun",
    "compare",
    "measure_training",
    "project",
]

DEFAULT_TECHNIQUES = ("mixed-precision-training", "activation-checkpointing", "gradient-accumulation")
SEED = 0
MIN_ROUNDS_FOR_SPREAD = 3  # fewer rounds give no inter-quartile range worth reporting


# --- arithmetic ---------------------------------------------------------------------------------------
def _positive_int(name: str, value: Any, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConstraintError(f"{name}: expected a positive integer, got {value!r}; {hint}")
    return value


def project(timing: Timing, steps: int, carbon: Callable[[float], float] | None, co2e_method: str | None) -> Projection:
    """Scale one step's timing to ``steps`` steps (see :class:`Projection`).

    Args:
        timing: The harness result of one (effective) step.
        steps: Steps in the whole run.
        carbon: ``energy_j -> co2e_g`` for the run's region and PUE (None: no CO2e).
        co2e_method: Label of the CO2e figure.
    """
    step_s = timing.latency_ms_median / 1000
    iqr_s = timing.latency_ms_iqr / 1000 if (timing.rounds or timing.repeats) >= MIN_ROUNDS_FOR_SPREAD else None
    ci = timing.latency_ms_ci95 / 1000 if math.isfinite(timing.latency_ms_ci95) else None
    energy = energy_iqr = energy_kwh = co2e = co2e_iqr = None
    if timing.energy_j_per_call is not None:
        energy = timing.energy_j_per_call * steps
        energy_kwh = energy / 3.6e6
        if timing.energy_j_per_call_iqr is not None:
            energy_iqr = timing.energy_j_per_call_iqr * steps
        elif step_s > 0 and iqr_s is not None:
            energy_iqr = energy * iqr_s / step_s
        if carbon is not None:
            co2e = carbon(energy)
            co2e_iqr = carbon(energy_iqr) if energy_iqr is not None else None
    return Projection(
        steps=steps,
        time_s=step_s * steps,
        time_s_iqr=iqr_s * steps if iqr_s is not None else None,
        time_s_ci95=ci * steps if ci is not None else None,
        energy_j=energy,
        energy_j_iqr=energy_iqr,
        energy_method=timing.energy_method,
        energy_kwh=energy_kwh,
        co2e_g=co2e,
        co2e_g_iqr=co2e_iqr,
        co2e_method=co2e_method if co2e is not None else None,
    )


def _quad(a: float | None, b: float | None) -> float | None:
    return math.hypot(a, b) if a is not None and b is not None else None


def _diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def compare(result: TrainingResult, base: TrainingResult) -> None:
    """Fill the peak-memory ratio and the savings of ``result`` against ``base``, in place.

    The step-time and energy ratios with their intervals come from the paired rounds
    (``result.comparison``); this adds what the rounds do not hold: memory and the projection.
    """
    if base.peak_memory_mib and result.peak_memory_mib is not None:
        result.peak_memory_ratio = result.peak_memory_mib / base.peak_memory_mib
    p, bp = result.projection, base.projection
    if p is not None and bp is not None:
        result.saving = {
            "time_s": bp.time_s - p.time_s,
            "time_s_iqr": _quad(bp.time_s_iqr, p.time_s_iqr),
            "energy_j": _diff(bp.energy_j, p.energy_j),
            "energy_j_iqr": _quad(bp.energy_j_iqr, p.energy_j_iqr),
            "co2e_g": _diff(bp.co2e_g, p.co2e_g),
            "co2e_g_iqr": _quad(bp.co2e_g_iqr, p.co2e_g_iqr),
        }


# --- one technique -----------------------------------------------------------------------------------
def _trajectory(ts: TrainStep, steps: int) -> list[float]:
    import torch

    torch.manual_seed(SEED)
    return [float(ts.step()) for _ in range(steps)]


def _quality(losses: list[float], base: TrainingQuality | None) -> TrainingQuality:
    finite = all(math.isfinite(v) for v in losses)
    final = losses[-1] if losses else None
    change = rel = None
    if base is not None and base.final_loss is not None and final is not None:
        change = final - base.final_loss
        rel = change / abs(base.final_loss) if base.final_loss else None
    elif base is None:
        change, rel = 0.0, 0.0
    return TrainingQuality(losses, finite, final, change, rel)


def _step_variant(
    tid: str, build: Callable[[], TrainStep], loss_steps: int, device: Any, base_quality: TrainingQuality | None
) -> Variant:
    """Build one training step, run its loss trajectory and count its memory; a broken step is ``failed``."""
    from advisor.measurement.step_memory import peak_call_memory_mib

    ts = build()
    try:
        losses = _trajectory(ts, loss_steps)
    except Exception as exc:  # noqa: BLE001 - a step that breaks (loss_fn, dtype, shapes) is reported
        return Variant(
            tid,
            ts.step,
            teardown=ts.restore,
            info={"settings": ts.settings},
            failed=f"training step failed: {type(exc).__name__}: {exc}",
        )
    quality = _quality(losses, base_quality)
    peak_mib, mem_method = peak_call_memory_mib(ts.step, device)
    settings = {**ts.settings, "micro_batches": ts.micro_batches, "samples_per_step": ts.samples_per_step}
    info = {"settings": settings, "quality": quality, "peak_memory_mib": peak_mib, "memory_method": mem_method}
    return Variant(tid, ts.step, 1, process_state(), ts.restore, info)


def _training_result(
    tid: str,
    outcome: EngineOutcome,
    comps: dict[str, Any],
    timing_of: Callable[[str], Any],
    proj: Callable[[Timing], Projection],
) -> TrainingResult:
    status, reason, info = outcome.setups.get(tid, ("interrupted", "interrupted before it was measured", {}))
    r = TrainingResult(
        tid,
        status,
        reason,
        settings=info.get("settings") or {},
        quality=info.get("quality"),
        peak_memory_mib=info.get("peak_memory_mib"),
        memory_method=info.get("memory_method"),
    )
    if status != "ok":
        return r
    r.timing = timing_of(tid)
    r.comparison = comps.get(tid)
    if r.timing is None:
        r.status, r.reason = "interrupted", "interrupted (Ctrl-C) before its first round"
        return r
    if outcome.status == "interrupted":
        r.status, r.reason = "interrupted", f"interrupted (Ctrl-C) after {r.timing.rounds} rounds; figures kept"
    if r.quality is not None and not r.quality.finite:
        r.reason = f"the loss is not finite: {r.quality.losses}"
    r.projection = proj(r.timing)
    return r


def _carbon_fns(region: str | None, pue: float) -> tuple[Any, Callable[..., Any] | None, Callable[..., Any]]:
    """(intensity or None, energy_j -> co2e_g or None, energy method -> CO2e label); raises for a bad region/PUE."""
    from advisor.measurement import carbon

    carbon.check_pue(pue)
    name = carbon.resolve_region(region)
    if name is None:
        return None, None, lambda _m: None
    it = carbon.get_intensity(name)  # an unknown region raises ConstraintError before anything is measured
    return it, functools.partial(_co2e, it=it, pue=pue), functools.partial(carbon.co2e_method_label, it=it)


def _co2e(energy_j: float, *, it: Any, pue: float) -> float:
    from advisor.measurement.carbon import co2e_g

    return co2e_g(max(energy_j, 0.0), it, pue)


def _check_training_ids(ids: list[str]) -> None:
    """Unknown training ids fail with suggestions; catalog ids without a training applier are ``not-applicable``."""
    import difflib

    from advisor._errors import UnknownTechniqueError
    from advisor.catalog import load_catalog

    if not ids:
        raise ConstraintError(
            "techniques: expected at least one training technique id, got an empty list; "
            f"e.g. {list(DEFAULT_TECHNIQUES)}"
        )
    unknown = [t for t in ids if t not in TRAINING_REGISTRY]
    if unknown:
        known = {t.id for t in load_catalog()} | set(TRAINING_REGISTRY)
        for t in unknown:
            if t not in known:
                raise UnknownTechniqueError(t, difflib.get_close_matches(t, sorted(known), n=3, cutoff=0.6))


def _train_spec(
    tid: str,
    model: Any,
    setup: TrainSetup,
    *,
    loss_steps: int,
    device: Any,
    base_quality: TrainingQuality | None,
    size: int,
) -> VariantSpec:
    def build() -> Variant:
        if tid not in TRAINING_REGISTRY:
            raise NotApplicable(f"no live training applier for {tid!r}; have: {sorted(TRAINING_REGISTRY)}")
        return _step_variant(
            tid, functools.partial(TRAINING_REGISTRY[tid], model, setup), loss_steps, device, base_quality
        )

    return VariantSpec(tid, build, size)


@dataclass(frozen=True)
class MeasureTrainingSettings:
    """The knobs of :func:`measure_training` (each may also be passed to it as a keyword).

    Attributes:
        optimizer_fn: ``optimizer_fn(params) -> Optimizer``; default ``torch.optim.SGD(params, lr=1e-3)``.
            Every variant gets its own optimizer from it.
        budget_s: Wall-clock budget for setting the steps up and timing the rounds (after a few
            seconds of profiling the model and sampling idle power); a technique not set up before
            it runs out is recorded as ``skipped-budget``. Units: s.
        store: A :class:`ResultStore`, a path, or None for the default store.
        region: Region id for CO2e (see ``green-advisor regions``); None reads ``$GREEN_ADVISOR_REGION``,
            and without either CO2e is not computed.
        pue: Power usage effectiveness of the facility, >= 1.0.
        progress: Show a tqdm progress bar.
        tdp_w: CPU TDP for the energy estimate where no counter is readable. Units: W.
        loss_steps: Steps of the loss trajectory compared with the baseline's.
        engine: The rounds' settings (default :class:`~advisor.measurement.EngineSettings`).
    """

    optimizer_fn: Callable[[Iterable[Any]], Any] | None = None
    budget_s: float = 60.0
    store: ResultStore | str | None = None
    region: str | None = None
    pue: float = 1.0
    progress: bool = True
    tdp_w: float | None = None
    loss_steps: int = 3
    engine: EngineSettings | None = None


@dataclass
class _TrainJob:
    """One measure_training() run in the making: the model's step set-up, the store's run, the figures so far."""

    model: Any
    inputs: tuple[Any, ...]
    ids: list[str]
    s: MeasureTrainingSettings
    eng: EngineSettings
    steps: int
    carbon: tuple[Any, Callable[..., Any] | None, Callable[..., Any]]
    store: ResultStore
    setup: TrainSetup
    device: Any
    prof: Any
    meters: list[Any]
    unavailable: Any
    idle: float | None
    meta: dict[str, Any] = field(default_factory=dict)
    model_fp: str = ""
    run_id: Any = None
    outcome: EngineOutcome = field(default_factory=EngineOutcome)
    base_v: Variant | None = None
    baseline: TrainingResult | None = None
    results: list[TrainingResult] = field(default_factory=list)
    status: str = "finished"


def _checked_steps(model: Any, steps_per_epoch: int, epochs: int, s: MeasureTrainingSettings) -> int:
    """The projected run's steps; raises for bad counts, budget or TDP, or a model with nothing to train."""
    hint = "pass the number of optimizer steps per epoch (dataset size / batch size) and the number of epochs"
    steps = _positive_int("steps_per_epoch", steps_per_epoch, hint) * _positive_int("epochs", epochs, hint)
    _positive_int("loss_steps", s.loss_steps, "the loss trajectory needs at least one step")
    check_args(s.budget_s, s.tdp_w)
    if not any(p.requires_grad for p in model.parameters()):
        raise ProfileError(
            f"{type(model).__name__} has no trainable parameters (requires_grad=True): nothing to "
            "train; unfreeze the layers you train before measuring training techniques"
        )
    return steps


def _start_training(
    model: Any,
    inputs: tuple[Any, ...],
    ids: list[str],
    s: MeasureTrainingSettings,
    *,
    targets: Any,
    loss_fn: Any,
    steps_per_epoch: int,
    epochs: int,
    steps: int,
    carbon: tuple[Any, Callable[..., Any] | None, Callable[..., Any]],
) -> _TrainJob:
    """Profile the model, build the step set-up, open the meters, read idle power, and start the store's run."""
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model

    eng = s.engine or EngineSettings()
    store = s.store if isinstance(s.store, ResultStore) else ResultStore(s.store)
    device = next(model.parameters()).device
    prof = profile_model(model, inputs, phase="training")
    hardware = detect_hardware()
    meters, unavailable = get_meters(s.tdp_w)
    idle = idle_power_w(meters, seconds=min(1.0, s.budget_s * 0.05))
    setup = make_setup(model, inputs, targets, loss_fn, s.optimizer_fn)
    job = _TrainJob(model, inputs, ids, s, eng, steps, carbon, store, setup, device, prof, meters, unavailable, idle)
    intensity = carbon[0]
    job.meta = {
        "phase": "training",
        "kind": "training",
        "hardware": hardware.model_dump(mode="json"),
        "versions": versions(),
        "model": prof.model_dump(),
        "budget_s": s.budget_s,
        "techniques": ids,
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "steps": steps,
        "loss": setup.loss_description,
        "loss_steps": s.loss_steps,
        "region": intensity.region if intensity is not None else None,
        "pue": s.pue,
        "device": str(device),
        "meters": [m.describe() for m in meters],
        "idle_power_w": idle,
        "harness": {"engine": "interleaved-paired-rounds", **eng.to_dict()},
        "start": start_load(),
    }
    job.model_fp = fingerprint(model)
    job.run_id = store.start_run(prof.name, job.model_fp, job.meta)
    return job


def _timed_steps(job: _TrainJob) -> None:
    """Build the baseline's step, then time every technique's against it in the engine's rounds."""
    model, s = job.model, job.s
    try:
        job.base_v = _step_variant("baseline", lambda: baseline_step(model, job.setup), s.loss_steps, job.device, None)
    except Exception as exc:  # noqa: BLE001 - recorded: nothing else can be measured
        job.base_v = Variant("baseline", lambda: None, failed=f"{type(exc).__name__}: {exc}")
    base_v = job.base_v
    if base_v.failed:
        job.baseline = TrainingResult("baseline", "failed", base_v.failed, settings=base_v.info.get("settings") or {})
        why = f"not measured: the baseline step failed ({base_v.failed})"
        job.results = [TrainingResult(t, "failed", why) for t in job.ids]
        job.status = "failed"
        return
    size = 4 * (job.prof.size_bytes or 0)  # a copy, its gradients and optimizer state
    base_q = base_v.info["quality"]
    specs = [
        _train_spec(t, model, job.setup, loss_steps=s.loss_steps, device=job.device, base_quality=base_q, size=size)
        for t in job.ids
    ]
    job.outcome = run_engine(
        base_v,
        specs,
        meters=job.meters,
        settings=job.eng,
        budget_s=s.budget_s,
        sync=device_sync(model, job.inputs),
        progress=s.progress,
        label=f"measure-training {job.prof.name}",
    )
    job.status = job.outcome.status


def _derived(job: _TrainJob, base_v: Variant) -> None:
    """Every result from the rounds: timings, ratios with intervals, projections, and the comparison to baseline."""
    outcome = job.outcome
    _intensity, carbon_fn, co2e_label = job.carbon
    method = "+".join(sorted({m.method for m in job.meters})) or None
    timing_of = functools.partial(
        summarize_timing,
        outcome.rounds,
        idle_w=job.idle,
        energy_method=method,
        notes=tuple(dict.fromkeys(n for m in job.meters for n in meter_notes(m))),
        peak_rss_mib=peak_rss_mib(),
        stopped_by=outcome.stopped_by[-1] if outcome.stopped_by else "budget",
    )

    def proj(t: Timing) -> Projection:
        return project(t, job.steps, carbon_fn, co2e_label(t.energy_method))

    outcome.setups.setdefault("baseline", ("ok", None, base_v.info))
    measured = [t for t in job.ids if outcome.setups.get(t, ("",))[0] == "ok"]
    comps = derive(
        outcome.rounds,
        "baseline",
        measured,
        idle_w=job.idle,
        energy_method=method,
        target_rel=job.eng.target_rel,
        history=run_history(job.store, job.meta, job.model_fp, job.run_id),
    )
    baseline = job.baseline = _training_result("baseline", outcome, comps, timing_of, proj)
    if baseline.timing is not None:
        baseline.peak_memory_ratio = 1.0
    job.results = [_training_result(t, outcome, comps, timing_of, proj) for t in job.ids]
    for r in job.results:
        compare(r, baseline)


def _recorded(job: _TrainJob) -> TrainingRun:
    """Store every result, finish the store's run, and return the run with its carbon summary."""
    from advisor.measurement.carbon import summarize

    outcome, meta, store = job.outcome, job.meta, job.store
    meta["load"] = load_summary(outcome.rounds)
    meta["lock_waited_s"] = round(outcome.lock_waited_s, 3)
    meta["groups"] = outcome.groups
    meta["block_s"] = outcome.block_s
    meta["allocator"] = outcome.allocator
    meta["stopped_by"] = outcome.stopped_by
    everyone = [job.baseline, *job.results] if job.baseline else job.results
    for r in everyone:
        store.add_result(job.run_id, r.technique, r.status, r.to_dict())
    store.finish_run(job.run_id, job.status)
    timed = [r for r in everyone if r.timing is not None]
    summary = summarize(
        job.carbon[0],
        {r.technique: r.timing.energy_j_per_call for r in timed},  # type: ignore[union-attr]
        pue=job.s.pue,
        energy_methods=[r.timing.energy_method for r in timed if r.timing.energy_method],  # type: ignore[union-attr]
    )
    run = TrainingRun(
        job.run_id,
        job.status,
        job.baseline,
        job.results,
        [m.describe() for m in job.meters],
        job.unavailable,
        str(store.path),
        meta,
        summary,
        outcome.rounds,
    )
    store.save_run(run)
    return run


def measure_training(
    model: Any,
    example_inputs: Any,
    targets: Any = None,
    loss_fn: Callable[..., Any] | None = None,
    techniques: Iterable[str] | str = DEFAULT_TECHNIQUES,
    *,
    steps_per_epoch: int,
    epochs: int,
    settings: MeasureTrainingSettings | EngineSettings | None = None,
    **overrides: Any,
) -> TrainingRun:
    """Measure training techniques per step on copies of ``model`` and project a whole training run.

    Args:
        model: The user's ``torch.nn.Module`` (never modified; its train/eval mode is kept).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``: one training batch.
        targets: Targets of that batch for the loss (None: see ``loss_fn``).
        loss_fn: ``loss_fn(output, targets)`` (or ``loss_fn(output)`` without targets) -> scalar tensor.
            Without both, the loss is cross-entropy against random labels (seed 0) for logits-shaped
            outputs (N x C), else ``output.float().pow(2).mean()``: it measures the compute of a step,
            not learning.
        techniques: Training technique ids (see ``TRAINING_REGISTRY``).
        steps_per_epoch: Optimizer steps per epoch at this batch size (dataset size / batch size).
        epochs: Epochs of the run to project.
        settings: Optimizer, budget, store, carbon, meters, loss steps and the rounds' settings
            (:class:`MeasureTrainingSettings`; default: its defaults); an :class:`EngineSettings` here is the
            rounds' settings (``engine=``).
        **overrides: Any :class:`MeasureTrainingSettings` field by keyword (``budget_s=30``, ``region="FRA"``,
            ``optimizer_fn=...``, ``loss_steps=5``).

    Raises:
        ConstraintError: non-positive steps/epochs/budget/TDP, an empty list, an unknown region, a PUE below 1,
            an unknown keyword.
        UnknownTechniqueError: a technique id in neither the catalog nor the training appliers.
        ProfileError: the model has no trainable parameters.
    """
    s = merged_with_engine(MeasureTrainingSettings, settings, overrides, "measure_training()")
    steps = _checked_steps(model, steps_per_epoch, epochs, s)
    carbon = _carbon_fns(s.region, s.pue)
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    ids = [techniques] if isinstance(techniques, str) else list(techniques)
    _check_training_ids(ids)
    job = _start_training(
        model,
        inputs,
        ids,
        s,
        targets=targets,
        loss_fn=loss_fn,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        steps=steps,
        carbon=carbon,
    )
    try:
        _timed_steps(job)
    except KeyboardInterrupt:
        job.status = "interrupted"
    finally:
        if job.base_v is not None and job.base_v.teardown:
            job.base_v.teardown()
        for m in job.meters:
            m.close()
    if job.base_v is not None and not job.base_v.failed:
        _derived(job, job.base_v)
    return _recorded(job)
