"""``advisor.measurement``: apply techniques to the user's model and measure them against the baseline.

Each technique is applied to a fresh copy (at most one transformed copy is alive at a time),
checked for quality, timed with the harness and written to the store at once. A technique that
cannot apply or fails is recorded with its reason and the run goes on; Ctrl-C ends the run but
keeps everything measured so far.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.measurement.appliers import REGISTRY, Applied, NotApplicable, no_grad_eval
from advisor.measurement.carbon import (
    CarbonSummary,
    Intensity,
    co2e_g,
    co2e_method_label,
    get_intensity,
    resolve_region,
)
from advisor.measurement.carbon import summarize as carbon_summary
from advisor.measurement.energy import get_meters
from advisor.measurement.harness import CHUNK_S, Timing, benchmark, idle_power_w
from advisor.measurement.quality import Quality, fidelity, with_accuracy
from advisor.measurement.store import ResultStore

__all__ = ["MeasureRun", "TechniqueResult", "measure"]


@dataclass
class TechniqueResult:
    """One technique's outcome.

    Attributes:
        technique: Catalog id (``baseline`` for the unmodified model).
        status: ``ok``, ``not-applicable``, ``failed`` or ``skipped-budget``.
        reason: Why it is not ``ok``.
        timing: Latency, energy (with method) and memory figures.
        speedup: Baseline median latency / this median latency (> 1 is faster).
        energy_ratio: This energy per call / baseline's (< 1 saves energy).
        quality: Accuracy change or fidelity against the original outputs.
        predicted: The catalog's range and the advisor's adjusted estimate for the latency ratio.
        outside_prediction: True when the measured latency ratio falls outside the predicted range.
        settings: What the applier did.
        co2e_g_per_call: CO2e of one call in the run's region, with its PUE (None without a region or energy).
            Units: gCO2e.
        co2e_g_per_1k_calls: The same for 1000 calls. Units: gCO2e.
        co2e_g_per_call_iqr: Spread of ``co2e_g_per_call`` (from the energy IQR), where there is one. Units: gCO2e.
        co2e_method: The energy method x the intensity used (an estimated energy gives an estimated CO2e).
    """

    technique: str
    status: str
    reason: str | None = None
    timing: Timing | None = None
    speedup: float | None = None
    energy_ratio: float | None = None
    quality: Quality | None = None
    predicted: dict[str, Any] | None = None
    outside_prediction: bool | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    co2e_g_per_call: float | None = None
    co2e_g_per_1k_calls: float | None = None
    co2e_g_per_call_iqr: float | None = None
    co2e_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        return asdict(self)

    def row(self) -> dict[str, Any]:
        """The flat summary of this result: one row of :meth:`MeasureRun.table`."""
        t, q = self.timing, self.quality
        return {
            "technique": self.technique,
            "status": self.status if self.status == "ok" else f"{self.status}: {self.reason}",
            "latency_ms": t.latency_ms_median if t else None,
            "latency_ms_iqr": t.latency_ms_iqr if t else None,
            "speedup": self.speedup,
            "energy_j_per_call": t.energy_j_per_call if t else None,
            "energy_ratio": self.energy_ratio,
            "energy_method": t.energy_method if t else None,
            "co2e_g_per_1k_calls": self.co2e_g_per_1k_calls,
            "top1_agreement": q.top1_agreement if q else None,
            "accuracy_change": q.accuracy_change if q else None,
            "predicted_latency_ratio": (self.predicted or {}).get("adjusted"),
            "outside_prediction": self.outside_prediction,
        }


@dataclass
class RunRecord:
    """What every measurement run reports (:class:`MeasureRun`, ``TrainingRun``).

    Attributes:
        run_id: Its id in the results store (None if the store could not be written).
        status: ``finished`` or ``interrupted``.
        baseline: The unmodified model's result.
        results: One result per technique, in run order.
        meters: Descriptions of the energy meters used.
        unavailable_meters: Meter backend -> why it could not be used.
        store_path: The SQLite results store.
        meta: Hardware, versions, model profile, settings, harness, load.
        carbon: The run's CO2e block (region, intensity, PUE, what-if).
    """

    run_id: str | None
    status: str
    baseline: Any
    results: list[Any]
    meters: list[str]
    unavailable_meters: dict[str, str]
    store_path: str | None
    meta: dict[str, Any]
    carbon: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "meters": self.meters,
            "unavailable_meters": self.unavailable_meters,
            "store": self.store_path,
            "meta": self.meta,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "results": [r.to_dict() for r in self.results],
            "carbon": self.carbon.to_dict() if self.carbon is not None else None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The run as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def all_results(self) -> list[Any]:
        """The baseline (if measured) followed by every technique's result."""
        return [self.baseline, *self.results] if self.baseline else list(self.results)


@dataclass
class MeasureRun(RunRecord):
    """All results of one call to :func:`measure` (inference)."""

    def table(self) -> Any:
        """A pandas table: one row per technique, the baseline first."""
        import pandas as pd

        return pd.DataFrame([r.row() for r in self.all_results()])


def _fingerprint(model: Any) -> str:
    h = hashlib.sha256()
    h.update(type(model).__name__.encode())
    for name, p in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(str(p.dtype).encode())
    return h.hexdigest()[:16]


def _load_note() -> dict[str, Any]:
    """The machine's load when the run starts: a busy machine makes every timing noisy."""
    import psutil

    try:
        load_1m = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on POSIX
        return {"load_average_1m": None, "busy": None, "note": None}
    threads = psutil.cpu_count(logical=True) or 1
    busy = load_1m > 0.5 * threads
    note = (f"the machine was busy when measuring started (1-minute load average {load_1m:.1f} on {threads} "
            "hardware threads): other processes compete for the CPU, so timings and energy are noisy; "
            "re-run on a quiet machine for figures to publish") if busy else None  # fmt: skip
    return {"load_average_1m": round(load_1m, 2), "hardware_threads": threads, "busy": busy, "note": note}


def _versions() -> dict[str, str]:
    import torch

    from advisor import __version__

    return {"python": platform.python_version(), "torch": torch.__version__, "green-dl-advisor": __version__}


def _predictions(cat: Any, model_profile: Any, hardware: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Predicted latency ratio per technique: the catalog's raw range and the advisor's adjusted one."""
    from advisor.profile.constraints import Constraints
    from advisor.recommendation.estimate import estimate
    from advisor.recommendation.rules import adjust

    c = Constraints(phase="inference", objective="latency", retraining="full", data="labelled", effort="high",
                    max_accuracy_drop_pp=100)  # fmt: skip
    out = {}
    for tid in ids:
        if tid not in cat:
            continue
        t = cat.get(tid)
        raw = estimate(t, "latency", {"inference"})
        adj, _ = adjust(t, raw, model_profile, hardware, c)
        out[tid] = {
            "literature_low": raw.low,
            "literature_high": raw.high,
            "adjusted": adj.ratio,
            "adjusted_low": adj.low,
            "adjusted_high": adj.high,
            "confidence": raw.confidence,
            "adjustments": list(adj.adjustments),
        }
    return out


def measure(
    model: Any,
    example_inputs: Any,
    techniques: list[str] | str | None = "recommended",
    *,
    eval_fn: Callable[[Any], float] | None = None,
    top: int = 5,
    budget_s: float = 120.0,
    store: ResultStore | str | None = None,
    tdp_w: float | None = None,
    progress: bool = True,
    on_result: Callable[[TechniqueResult], None] | None = None,
    region: str | None = None,
    pue: float = 1.0,
    what_if: list[str] | None = None,
    name: str | None = None,
) -> MeasureRun:
    """Apply techniques to copies of ``model`` and measure each against the baseline.

    Args:
        model: The user's ``torch.nn.Module`` (never modified; its train/eval mode is restored).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``.
        techniques: Technique ids, or ``"recommended"`` for the top ``top`` measurable recommendations.
        eval_fn: ``eval_fn(model) -> accuracy``; without it, fidelity to the original outputs is reported.
        top: How many recommendations to measure with ``"recommended"``.
        budget_s: Wall-clock budget for measuring the baseline and the techniques, shared fairly between
            them; set-up before it (profiling the model, loading the catalog, idle power) is not counted. Units: s.
        store: A :class:`ResultStore`, a path, or None for the default store.
        tdp_w: CPU TDP for the energy estimate where no counter is readable. Units: W.
        progress: Show a tqdm progress bar.
        on_result: Called with each result (the baseline first) as soon as it is stored, e.g. to
            fill a table live in a notebook. An exception it raises is not caught.
        region: Where the energy is drawn, for CO2e (``FRA``, ``US-CA``, ``gcp:europe-west1``; see
            ``green-advisor regions``); default ``$GREEN_ADVISOR_REGION``; None: CO2e is reported as None.
        pue: Power usage effectiveness of the facility (>= 1.0; 1.0 for a desktop).
        what_if: Other regions to compare the CO2e of the baseline and each technique in.
        name: The model's name in the store and reports (default: its class name).
    """
    import torch

    from advisor.catalog import load_catalog
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model

    intensity, carbon_meta = _carbon_setup(region, pue, what_if)  # unknown region / bad PUE fail before measuring
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    was_training = model.training
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    hardware = detect_hardware()
    prof = profile_model(model, inputs, name=name)
    catalog = load_catalog()
    if techniques in (None, "recommended"):
        from advisor.profile.constraints import Constraints
        from advisor.recommendation import recommend

        c = Constraints(phase="inference", objective="energy", retraining="none", effort="high",
                        max_accuracy_drop_pp=2.0)  # fmt: skip
        rec = recommend(prof, hardware, c, catalog)
        ids = [r.id for r in rec.recommended if r.id in REGISTRY][:top]
    else:
        ids = [techniques] if isinstance(techniques, str) else list(techniques)
    predictions = _predictions(catalog, prof, hardware, ids)
    meters, unavailable = get_meters(tdp_w)
    idle = idle_power_w(meters, seconds=min(1.0, budget_s * 0.05))
    per_item_s = budget_s * 0.9 / (len(ids) + 1)  # the baseline and each technique get a fair share
    harness = {"warmup": 3, "min_repeats": 10, "rel_ci": 0.02, "budget_s_per_variant": per_item_s,
               "min_time_s": min(1.0, per_item_s / 2), "energy_chunk_s": CHUNK_S}  # fmt: skip
    bench = functools.partial(benchmark, meters=meters, items_per_call=prof.batch_size or 1,
                              flops_per_call=prof.forward_flops, budget_s=per_item_s,
                              min_time_s=harness["min_time_s"], warmup=harness["warmup"],
                              min_repeats=harness["min_repeats"], rel_ci=harness["rel_ci"], idle_w=idle)  # fmt: skip
    meta = {
        "hardware": hardware.model_dump(mode="json"),
        "versions": _versions(),
        "model": prof.model_dump(),
        "budget_s": budget_s,
        "techniques": ids,
        "meters": [m.describe() for m in meters],
        "idle_power_w": idle,
        "carbon": carbon_meta,
        "harness": harness,
        "load": _load_note(),
    }
    run_id = store.start_run(prof.name, _fingerprint(model), meta)
    results: list[TechniqueResult] = []
    baseline: TechniqueResult | None = None
    status = "finished"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(ids) + 1, desc="measuring", unit="technique")
    t_start = time.perf_counter()  # the budget counts from here: set-up is done
    try:
        model.eval()
        base = Applied(model, inputs, no_grad_eval)
        with torch.no_grad():
            reference = model(*inputs)
        timing = bench(base)
        quality = with_accuracy(fidelity(reference, reference), eval_fn, model, None)
        base_acc = quality.accuracy
        baseline = TechniqueResult("baseline", "ok", timing=timing, quality=quality, speedup=1.0, energy_ratio=1.0)
        _add_co2e(baseline, intensity, pue)
        store.add_result(run_id, "baseline", "ok", baseline.to_dict())
        if on_result:
            on_result(baseline)
        if bar:
            bar.update(1)
        for tid in ids:
            if time.perf_counter() - t_start > budget_s:
                r = TechniqueResult(tid, "skipped-budget", f"the {budget_s:g} s budget ran out")
                results.append(r)
                store.add_result(run_id, tid, r.status, r.to_dict())
                if on_result:
                    on_result(r)
                continue
            r = _measure_one(tid, model, inputs, reference, eval_fn, base_acc, baseline, bench, predictions.get(tid))
            _add_co2e(r, intensity, pue)
            results.append(r)
            store.add_result(run_id, tid, r.status, r.to_dict())
            if on_result:
                on_result(r)
            gc.collect()
            if bar:
                bar.update(1)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        model.train(was_training)
        for m in meters:
            m.close()
        if bar:
            bar.close()
        store.finish_run(run_id, status)
    carbon = _carbon_summary(intensity, pue, what_if, [baseline, *results] if baseline else results)
    return MeasureRun(run_id, status, baseline, results, [m.describe() for m in meters], unavailable,
                      str(store.path), meta, carbon)  # fmt: skip


def _carbon_setup(region: str | None, pue: float, what_if: list[str] | None) -> tuple[Intensity | None, dict[str, Any]]:
    """Resolve and check the region, PUE and what-if regions; the block stored in the run's meta."""
    resolved = resolve_region(region)
    intensity = get_intensity(resolved) if resolved else None
    carbon_summary(intensity, {}, pue=pue, what_if_regions=what_if)  # raises on a bad PUE or unknown what-if region
    meta: dict[str, Any] = {"region": intensity.region if intensity else None, "pue": pue,
                            "what_if": list(what_if or [])}  # fmt: skip
    if intensity:
        meta.update(g_co2e_per_kwh=intensity.g_co2e_per_kwh, year=intensity.year, source=intensity.source)
    return intensity, meta


def _add_co2e(r: TechniqueResult, intensity: Intensity | None, pue: float) -> None:
    """Fill the result's CO2e fields from its energy per call (left None without a region or energy)."""
    t = r.timing
    if intensity is None or t is None or t.energy_j_per_call is None:
        return
    r.co2e_g_per_call = co2e_g(t.energy_j_per_call, intensity, pue)
    r.co2e_g_per_1k_calls = r.co2e_g_per_call * 1000
    if t.energy_j_per_call_iqr is not None:
        r.co2e_g_per_call_iqr = co2e_g(t.energy_j_per_call_iqr, intensity, pue)
    r.co2e_method = co2e_method_label(t.energy_method, intensity)


def _carbon_summary(
    intensity: Intensity | None, pue: float, what_if: list[str] | None, rows: list[TechniqueResult]
) -> CarbonSummary:
    """The run's carbon block: the region's figures, the caveat, and the what-if table."""
    per_call = {r.technique: r.timing.energy_j_per_call if r.timing else None for r in rows if r.status == "ok"}
    methods = [r.timing.energy_method for r in rows if r.timing and r.timing.energy_method]
    return carbon_summary(intensity, per_call, pue=pue, what_if_regions=what_if, energy_methods=methods)


def _measure_one(  # noqa: PLR0917 - a private step of measure(), called once
    tid: str,
    model: Any,
    inputs: tuple[Any, ...],
    reference: Any,
    eval_fn: Callable[[Any], float] | None,
    base_acc: float | None,
    baseline: TechniqueResult,
    bench: Callable[[Applied], Timing],
    predicted: dict[str, Any] | None,
) -> TechniqueResult:
    applier = REGISTRY.get(tid)
    if applier is None:
        return TechniqueResult(tid, "not-applicable", f"no live applier for {tid!r} yet; have: {sorted(REGISTRY)}")
    applied = None
    try:
        applied = applier(model, inputs)
        try:
            out = applied()
        except Exception as exc:  # noqa: BLE001 - a technique that breaks the forward pass is reported
            return TechniqueResult(tid, "failed", f"forward pass failed: {type(exc).__name__}: {exc}",
                                   settings=applied.settings)  # fmt: skip
        quality = with_accuracy(fidelity(reference, out), eval_fn, _Callable(applied), base_acc)
        timing = bench(applied)
    except NotApplicable as exc:
        return TechniqueResult(tid, "not-applicable", str(exc))
    except Exception as exc:  # noqa: BLE001 - any applier failure is recorded and the run goes on
        return TechniqueResult(tid, "failed", f"{type(exc).__name__}: {exc}")
    finally:
        if applied is not None:
            applied.restore()
    bt = baseline.timing
    speedup = bt.latency_ms_median / timing.latency_ms_median if bt and timing.latency_ms_median else None
    eratio = None
    if bt and bt.energy_j_per_call and timing.energy_j_per_call is not None:
        eratio = timing.energy_j_per_call / bt.energy_j_per_call
    outside = None
    if predicted and predicted.get("adjusted_low") is not None and speedup:
        ratio = 1 / speedup
        outside = not (predicted["adjusted_low"] <= ratio <= max(predicted["adjusted_high"], 1.0))
    return TechniqueResult(tid, "ok", None, timing, speedup, eratio, quality, predicted, outside, applied.settings)


class _Callable:
    """Lets ``eval_fn(model)`` call a variant under its context (autocast, channels-last inputs)."""

    def __init__(self, applied: Applied) -> None:
        self._applied = applied

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._applied.context():
            return self._applied.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._applied.model, name)
