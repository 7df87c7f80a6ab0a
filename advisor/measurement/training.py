"""``advisor.measure_training``: time training techniques per step and project a whole training run.

For the baseline and each technique, a fresh copy of the model with its own optimizer:

1. trains ``loss_steps`` steps from the same weights and seed on the example batch (the loss
   trajectory: it must stay finite; its last value minus the baseline's is the technique's
   "quality"),
2. runs one step with its tensor allocations counted (peak memory of a step, see
   :mod:`advisor.measurement.step_memory`),
3. is timed step by step with the harness (median/IQR, energy in chunks with its method label,
   idle power subtracted where energy is measured).

A projection multiplies the per-step figures by ``steps_per_epoch x epochs``: time, energy (with
its method) and CO2e (through :mod:`advisor.measurement.carbon`; needs a region). For gradient
accumulation a step is one *effective* step (k micro-batches + one optimizer step over the same
samples as one baseline step), so the comparison is per sample. Spreads are propagated from the
inter-quartile range of the step figures. Each result is written to the store at once; a failure
is recorded and the run goes on; Ctrl-C ends the run and keeps what was measured.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor._errors import ConstraintError, ProfileError
from advisor.measurement.appliers.base import NotApplicable
from advisor.measurement.appliers.training import TRAINING_REGISTRY, TrainSetup, TrainStep, baseline_step, make_setup
from advisor.measurement.energy import get_meters
from advisor.measurement.harness import Timing, benchmark, idle_power_w
from advisor.measurement.run import RunRecord, _fingerprint, _load_note, _versions
from advisor.measurement.store import ResultStore

__all__ = ["DEFAULT_TECHNIQUES", "Projection", "TrainingQuality", "TrainingResult", "TrainingRun", "measure_training"]

DEFAULT_TECHNIQUES = ("mixed-precision-training", "activation-checkpointing", "gradient-accumulation")
SEED = 0
MIN_REPEATS_FOR_SPREAD = 3  # fewer timed steps give no inter-quartile range worth reporting


@dataclass(frozen=True)
class TrainingQuality:
    """The loss trajectory of a few steps from the same weights, data and seed as the baseline.

    Attributes:
        losses: Loss after each of the first steps (whole-batch loss before that step's update).
        finite: Every loss is finite.
        final_loss: The last loss.
        loss_change: ``final_loss`` minus the baseline's (0 for the baseline; small is good).
        loss_rel_change: ``loss_change`` / abs(baseline final loss).
        error: Why the trajectory could not be obtained, if so.
    """

    losses: list[float] = field(default_factory=list)
    finite: bool | None = None
    final_loss: float | None = None
    loss_change: float | None = None
    loss_rel_change: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Projection:
    """A whole training run: per-step figures x ``steps`` (= steps per epoch x epochs).

    Spreads scale the step's inter-quartile range (as if every step varied together: an upper
    bound on the run's spread) and, for time, the 95 % CI half-width of the median step.

    Attributes:
        steps: Optimizer steps in the run (effective steps for gradient accumulation).
        time_s: Projected training time. Units: s.
        time_s_iqr: Step-time IQR x steps (None with fewer than 3 timed steps). Units: s.
        time_s_ci95: Half-width of the 95 % CI of the median step x steps (None with < 6 repeats). Units: s.
        energy_j: Projected energy (None without a meter). Units: J.
        energy_j_iqr: Energy spread: the per-chunk energy IQR x steps, or the step-time relative IQR
            applied to the energy when there were fewer than two energy chunks. Units: J.
        energy_method: How the step energy was obtained (``measured-rapl``, ``estimated-default-power``...).
        energy_kwh: ``energy_j`` in kWh. Units: kWh.
        co2e_g: Projected emissions (None without a region or energy). Units: gCO2e.
        co2e_g_iqr: ``energy_j_iqr`` converted the same way. Units: gCO2e.
        co2e_method: The energy method x the annual grid intensity used.
    """

    steps: int
    time_s: float
    time_s_iqr: float | None
    time_s_ci95: float | None
    energy_j: float | None
    energy_j_iqr: float | None
    energy_method: str | None
    energy_kwh: float | None
    co2e_g: float | None
    co2e_g_iqr: float | None
    co2e_method: str | None


@dataclass
class TrainingResult:
    """One training technique's outcome (or the baseline's).

    Attributes:
        technique: Catalog id (``baseline`` for the unmodified step).
        status: ``ok``, ``not-applicable``, ``failed`` or ``skipped-budget``.
        reason: Why it is not ``ok`` (for an ``ok`` result: a warning, e.g. a non-finite loss).
        timing: Per-step latency, energy (with method) and spread; one call = one (effective) step.
        peak_memory_mb: Peak memory one step allocates above what was alive before it. Units: MiB.
        memory_method: ``tensor-accounting`` (CPU) or ``cuda-max-allocated``.
        quality: The loss trajectory and its change against the baseline.
        speedup: Baseline step time / this step time (> 1 is faster).
        speedup_iqr: Spread of the speedup from both steps' relative IQRs (in quadrature).
        energy_ratio: This step energy / the baseline's (< 1 saves energy).
        peak_memory_ratio: This peak memory / the baseline's (< 1 saves memory).
        projection: The whole run with this technique.
        saving: Baseline projection minus this one: ``time_s``, ``energy_j``, ``co2e_g`` and their
            ``*_iqr`` (IQRs combined in quadrature); positive saves.
        settings: What the applier did (dtype, checkpointed modules, micro-batches, optimizer, loss).
    """

    technique: str
    status: str
    reason: str | None = None
    timing: Timing | None = None
    peak_memory_mb: float | None = None
    memory_method: str | None = None
    quality: TrainingQuality | None = None
    speedup: float | None = None
    speedup_iqr: float | None = None
    energy_ratio: float | None = None
    peak_memory_ratio: float | None = None
    projection: Projection | None = None
    saving: dict[str, float | None] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        return asdict(self)


@dataclass
class TrainingRun(RunRecord):
    """All results of one call to :func:`measure_training` (fields: see :class:`RunRecord`)."""

    def table(self) -> Any:
        """A pandas table: one row per technique, the baseline first; projected figures for the whole run."""
        import pandas as pd

        rows = []
        for r in self.all_results():
            t, p, q = r.timing, r.projection, r.quality
            rows.append(
                {
                    "technique": r.technique,
                    "status": r.status if r.status == "ok" else f"{r.status}: {r.reason}",
                    "step_ms": t.latency_ms_median if t else None,
                    "step_ms_iqr": t.latency_ms_iqr if t else None,
                    "speedup": r.speedup,
                    "energy_j_per_step": t.energy_j_per_call if t else None,
                    "energy_ratio": r.energy_ratio,
                    "energy_method": t.energy_method if t else None,
                    "peak_memory_mb": r.peak_memory_mb,
                    "peak_memory_ratio": r.peak_memory_ratio,
                    "loss_change": q.loss_change if q else None,
                    "projected_time_h": p.time_s / 3600 if p else None,
                    "projected_time_h_iqr": p.time_s_iqr / 3600 if p and p.time_s_iqr is not None else None,
                    "projected_energy_kwh": p.energy_kwh if p else None,
                    "projected_co2e_g": p.co2e_g if p else None,
                    "projected_co2e_g_iqr": p.co2e_g_iqr if p else None,
                }
            )
        return pd.DataFrame(rows)


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
    iqr_s = timing.latency_ms_iqr / 1000 if timing.repeats >= MIN_REPEATS_FOR_SPREAD else None
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
    """Fill the ratios and savings of ``result`` against ``base`` (both measured), in place."""
    t, bt = result.timing, base.timing
    if t is None or bt is None:
        return
    if t.latency_ms_median > 0:
        result.speedup = bt.latency_ms_median / t.latency_ms_median
        if min(t.repeats, bt.repeats) >= MIN_REPEATS_FOR_SPREAD and bt.latency_ms_median > 0:
            rel = math.hypot(bt.latency_ms_iqr / bt.latency_ms_median, t.latency_ms_iqr / t.latency_ms_median)
            result.speedup_iqr = result.speedup * rel
    if bt.energy_j_per_call and t.energy_j_per_call is not None:
        result.energy_ratio = t.energy_j_per_call / bt.energy_j_per_call
    if base.peak_memory_mb and result.peak_memory_mb is not None:
        result.peak_memory_ratio = result.peak_memory_mb / base.peak_memory_mb
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


@dataclass
class _Context:
    """What every technique's measurement shares within one run."""

    setup: TrainSetup
    loss_steps: int
    steps: int
    device: Any
    bench: Callable[..., Timing]
    carbon: Callable[[float], float] | None
    co2e_label: Callable[[str | None], str | None]


def _measure_step(tid: str, build: Callable[[], TrainStep], ctx: _Context, base: TrainingResult | None,
                  budget_s: float) -> TrainingResult:  # fmt: skip
    """Build, check, count memory, time and project one training step; failures become results."""
    from advisor.measurement.step_memory import peak_call_memory_mb

    t0 = time.perf_counter()
    ts = None
    try:
        ts = build()
        try:
            losses = _trajectory(ts, ctx.loss_steps)
        except Exception as exc:  # noqa: BLE001 - a step that breaks (loss_fn, dtype, shapes) is reported
            return TrainingResult(tid, "failed", f"training step failed: {type(exc).__name__}: {exc}",
                                  settings=ts.settings)  # fmt: skip
        quality = _quality(losses, base.quality if base else None)
        peak_mb, mem_method = peak_call_memory_mb(ts.step, ctx.device)
        left = max(budget_s - (time.perf_counter() - t0), 0.05)
        timing = ctx.bench(ts.step, budget_s=left, min_time_s=min(1.0, left / 2))
    except NotApplicable as exc:
        return TrainingResult(tid, "not-applicable", str(exc))
    except Exception as exc:  # noqa: BLE001 - any applier failure is recorded and the run goes on
        return TrainingResult(tid, "failed", f"{type(exc).__name__}: {exc}", settings=ts.settings if ts else {})
    finally:
        if ts is not None:
            ts.restore()
    result = TrainingResult(tid, "ok", None, timing, peak_mb, mem_method, quality,
                            settings={**ts.settings, "micro_batches": ts.micro_batches,
                                      "samples_per_step": ts.samples_per_step})  # fmt: skip
    if not quality.finite:
        result.reason = f"the loss is not finite after {ctx.loss_steps} steps: {quality.losses}"
    result.projection = project(timing, ctx.steps, ctx.carbon, ctx.co2e_label(timing.energy_method))
    if base is None:
        result.speedup, result.speedup_iqr, result.energy_ratio, result.peak_memory_ratio = 1.0, 0.0, 1.0, 1.0
    else:
        compare(result, base)
    return result


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


def measure_training(
    model: Any,
    example_inputs: Any,
    targets: Any = None,
    loss_fn: Callable[..., Any] | None = None,
    techniques: Iterable[str] | str = DEFAULT_TECHNIQUES,
    *,
    steps_per_epoch: int,
    epochs: int,
    optimizer_fn: Callable[[Iterable[Any]], Any] | None = None,
    budget_s: float = 60.0,
    store: ResultStore | str | None = None,
    region: str | None = None,
    pue: float = 1.0,
    progress: bool = True,
    tdp_w: float | None = None,
    loss_steps: int = 3,
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
        optimizer_fn: ``optimizer_fn(params) -> Optimizer``; default ``torch.optim.SGD(params, lr=1e-3)``.
            Every variant gets its own optimizer from it.
        budget_s: Wall-clock budget for the measurements (after a few seconds of profiling the
            model and sampling idle power). Each variant gets 80 % of what is left divided by the
            variants still to measure; a technique not started before the budget runs out is
            recorded as ``skipped-budget``. Units: s.
        store: A :class:`ResultStore`, a path, or None for the default store.
        region: Region id for CO2e (see ``green-advisor regions``); None reads ``$GREEN_ADVISOR_REGION``,
            and without either CO2e is not computed.
        pue: Power usage effectiveness of the facility, >= 1.0.
        progress: Show a tqdm progress bar.
        tdp_w: CPU TDP for the energy estimate where no counter is readable. Units: W.
        loss_steps: Steps of the loss trajectory compared with the baseline's.

    Raises:
        ConstraintError: non-positive steps/epochs, an unknown region or a PUE below 1.
        ProfileError: the model has no trainable parameters.
    """
    import torch

    from advisor.measurement.carbon import summarize
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model

    hint = "pass the number of optimizer steps per epoch (dataset size / batch size) and the number of epochs"
    steps = _positive_int("steps_per_epoch", steps_per_epoch, hint) * _positive_int("epochs", epochs, hint)
    _positive_int("loss_steps", loss_steps, "the loss trajectory needs at least one step")
    if not any(p.requires_grad for p in model.parameters()):
        raise ProfileError(f"{type(model).__name__} has no trainable parameters (requires_grad=True): nothing to "
                           "train; unfreeze the layers you train before measuring training techniques")  # fmt: skip
    intensity, carbon_fn, co2e_label = _carbon_fns(region, pue)
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    ids = [techniques] if isinstance(techniques, str) else list(techniques)
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    device = next(model.parameters()).device
    prof = profile_model(model, inputs, phase="training")
    hardware = detect_hardware()
    meters, unavailable = get_meters(tdp_w)
    idle = idle_power_w(meters, seconds=min(1.0, budget_s * 0.05))
    setup = make_setup(model, inputs, targets, loss_fn, optimizer_fn)
    sync = functools.partial(torch.cuda.synchronize, device) if device.type == "cuda" else None
    # warm-up: the loss-trajectory steps and the memory step have run just before the timing
    bench = functools.partial(benchmark, meters=meters, items_per_call=setup.batch_size or 1, warmup=0,
                              min_repeats=5, idle_w=idle, sync=sync)  # fmt: skip
    ctx = _Context(setup, loss_steps, steps, device, bench, carbon_fn, co2e_label)
    meta = {
        "phase": "training",
        "hardware": hardware.model_dump(mode="json"),
        "versions": _versions(),
        "model": prof.model_dump(),
        "budget_s": budget_s,
        "techniques": ids,
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "steps": steps,
        "loss": setup.loss_description,
        "loss_steps": loss_steps,
        "region": intensity.region if intensity is not None else None,
        "pue": pue,
        "device": str(device),
        "meters": [m.describe() for m in meters],
        "idle_power_w": idle,
        "load": _load_note(),
    }
    run_id = store.start_run(prof.name, _fingerprint(model), meta)
    results: list[TrainingResult] = []
    baseline: TrainingResult | None = None
    status = "finished"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ids) + 1, desc="measuring training", unit="technique")
    t_start = time.perf_counter()  # the budget covers the measurements; profiling and idle power come first

    def share_s(items_left: int) -> float:  # what is left of the budget, shared by what is left to measure
        return max(budget_s - (time.perf_counter() - t_start), 0.0) * 0.8 / items_left

    try:
        baseline = _measure_step("baseline", lambda: baseline_step(model, setup), ctx, None, share_s(len(ids) + 1))
        store.add_result(run_id, "baseline", baseline.status, baseline.to_dict())
        if bar:
            bar.update(1)
        for i, tid in enumerate(ids):
            if baseline.status != "ok":
                r = TrainingResult(tid, "failed", f"not measured: the baseline step failed ({baseline.reason})")
            elif time.perf_counter() - t_start > budget_s:
                r = TrainingResult(tid, "skipped-budget", f"the {budget_s:g} s budget ran out")
            elif tid not in TRAINING_REGISTRY:
                have = sorted(TRAINING_REGISTRY)
                r = TrainingResult(tid, "not-applicable", f"no live training applier for {tid!r}; have: {have}")
            else:
                applier = TRAINING_REGISTRY[tid]
                r = _measure_step(tid, functools.partial(applier, model, setup), ctx, baseline, share_s(len(ids) - i))
            results.append(r)
            store.add_result(run_id, tid, r.status, r.to_dict())
            if bar:
                bar.update(1)
        if baseline.status != "ok":
            status = "failed"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        for m in meters:
            m.close()
        if bar:
            bar.close()
        store.finish_run(run_id, status)
    measured = [r for r in [baseline, *results] if r is not None and r.timing is not None]
    summary = summarize(
        intensity,
        {r.technique: r.timing.energy_j_per_call for r in measured},  # type: ignore[union-attr]
        pue=pue,
        energy_methods=[r.timing.energy_method for r in measured if r.timing.energy_method],  # type: ignore[union-attr]
    )
    return TrainingRun(run_id, status, baseline, results, [m.describe() for m in meters], unavailable,
                       str(store.path), meta, summary)  # fmt: skip
