"""``advisor.measure``: apply variants to the user's model and measure them against the baseline.

The variants (technique ids, ``+`` stacks, ``@`` settings) are applied to copies of the model
through :func:`advisor.measurement.appliers.apply_technique`, checked for quality, and timed with
the baseline in interleaved, paired rounds by :mod:`advisor.measurement.engine`; the ratios, their
95 % intervals and the verdicts come from :func:`advisor.measurement.engine.derive`. A variant
that cannot apply or fails is recorded with its reason and the run goes on; Ctrl-C ends the run
and keeps every finished round.
"""

from __future__ import annotations

import difflib
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor._errors import ConstraintError, UnknownTechniqueError
from advisor.catalog import VariantId
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
from advisor.measurement._held_out import HeldOut, held_out, like
from advisor.measurement._results import MeasureRun, RunRecord, TechniqueResult
from advisor.measurement.appliers import REGISTRY, Applied, NotedBatches, apply_technique, no_grad_eval
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
from advisor.measurement.quality import Quality, fidelity_over, with_accuracy
from advisor.measurement.store import ResultStore
from advisor.profile.spec import ModelSpec, spec_from_call

__all__ = ["MeasureRun", "MeasureSettings", "RunRecord", "TechniqueResult", "check_variant_ids", "measure"]

SPLIT_NOTE = (
    "calibration: the first half of the example batch (its second half is held out for the quality "
    "check); pass calibration_data= (held-out input batches) to calibrate on more"
)


def check_variant_ids(ids: list[str], catalog: Any) -> None:
    """Every part of every variant id must be a catalog id or a registered applier (see CONTRACTS).

    An empty list is allowed here (the baseline alone is measured); the command line refuses it.

    Raises:
        VariantIdError: An id breaks the grammar (:class:`advisor.VariantId`).
        UnknownTechniqueError: A part is unknown; the message suggests close ids.
    """
    known = {t.id for t in catalog}
    for vid in ids:
        if vid in REGISTRY:
            continue
        for part in VariantId.parse(vid).techniques:
            if part in known or part in REGISTRY:
                continue
            close = difflib.get_close_matches(part, sorted(known | set(REGISTRY)), n=3, cutoff=0.6)
            raise UnknownTechniqueError(part, close)


def _predictions(cat: Any, model_profile: Any, hardware: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Predicted latency ratio per variant: the catalog's raw range and the advisor's adjusted one.

    A stack or a setting is predicted by its first technique only when it has one part; stacks get none, and so
    does a technique whose entry has no latency figure.
    """
    from advisor.profile.constraints import Constraints
    from advisor.recommendation.estimate import estimate
    from advisor.recommendation.rules import adjust

    c = Constraints(
        phase="inference",
        objective="latency",
        retraining="full",
        data="labelled",
        effort="high",
        max_accuracy_drop_pp=100,
    )
    out = {}
    for vid in ids:
        v = VariantId.parse(vid)
        tid = v.base
        if v.is_stack or tid not in cat:
            continue
        t = cat.get(tid)
        raw = estimate(t, "latency", {"inference"})
        adj, _ = adjust(t, raw, model_profile, hardware, c)
        if adj.ratio is None and raw.low is None and raw.high is None:
            continue  # the entry has no latency figure: no prediction rather than an empty one
        out[vid] = {
            "literature_low": raw.low,
            "literature_high": raw.high,
            "adjusted": adj.ratio,
            "adjusted_low": adj.low,
            "adjusted_high": adj.high,
            "confidence": raw.confidence,
            "adjustments": list(adj.adjustments),
        }
    return out


def _held_outputs(applied: Applied, held: HeldOut, inputs: tuple[Any, ...], first: Any) -> list[Any]:
    """The variant's outputs on the held-out batches (its own first output when the example batch is held out)."""
    if held.batches[0] is inputs:
        return [first]
    outs = []
    with applied.context():
        for b in held.batches:
            outs.append(applied.model(*like(b, inputs, applied.inputs)))
    return outs


def _quality(applied: Applied, first: Any, q: _QualitySetup) -> Quality:
    """The variant against the original on the held-out inputs, and with the eval_fn."""
    try:
        outs = _held_outputs(applied, q.held, q.inputs, first)
    except Exception as exc:  # noqa: BLE001 - reported: the quality is then unverified
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        fid = Quality(
            quality_inputs=q.held.text,
            error=f"the variant failed on the held-out inputs ({type(exc).__name__}: {text})",
        ).judged()
    else:
        fid = fidelity_over(q.references, outs, rows=q.held.rows, inputs_text=q.held.text, decoder=q.decoder)
    return with_accuracy(fid, q.eval_fn, _Callable(applied), q.base_acc)


@dataclass
class _QualitySetup:
    """What every variant's quality check needs: held-out inputs, the original's outputs on them, the eval_fn."""

    held: HeldOut
    inputs: tuple[Any, ...]
    references: list[Any]
    decoder: bool
    eval_fn: Any = None
    base_acc: float | None = None


def _spec(
    vid: str,
    model: Any,
    inputs: tuple[Any, ...],
    *,
    q: _QualitySetup,
    calibration_data: Any,
    size_bytes: int,
    items: int,
) -> VariantSpec:
    """How to set up one variant: apply, check the forward pass, measure quality, remember its process state."""

    def setup() -> Variant:
        applied = apply_technique(vid, model, inputs, calibration_data=calibration_data, eval_fn=q.eval_fn)
        try:
            out = applied()
        except Exception as exc:  # noqa: BLE001 - a variant that breaks the forward pass is reported
            return Variant(
                vid,
                applied,
                items,
                teardown=applied.restore,
                info={"settings": applied.settings},
                failed=f"forward pass failed: {type(exc).__name__}: {exc}",
            )
        quality = _quality(applied, out, q)
        return Variant(
            vid, applied, items, process_state(), applied.restore, {"settings": applied.settings, "quality": quality}
        )

    return VariantSpec(vid, setup, size_bytes)


def _variant_ids(techniques: Any, catalog: Any) -> list[str]:
    """The variant ids to measure, checked; ``"recommended"`` is resolved above this layer (``advisor.measure``)."""
    if techniques is None or techniques == "recommended":
        raise ConstraintError(
            f"techniques: expected variant ids, got {techniques!r}; the measurement engine does not ask recommend(): "
            "use advisor.measure(model, inputs, techniques='recommended', top=N), which resolves them"
        )
    ids = [techniques] if isinstance(techniques, str) else list(techniques)
    check_variant_ids(ids, catalog)
    return ids


def _results_from(
    outcome: EngineOutcome,
    ids: list[str],
    predictions: dict[str, Any],
    *,
    idle: float | None,
    method: str | None,
    notes: tuple[str, ...],
    flops: float | None,
    target_rel: float,
    history: Any = None,
) -> dict[str, TechniqueResult]:
    """Every variant's result from the engine's rounds and set-up records."""
    measured = [v for v in ids if outcome.setups.get(v, ("",))[0] == "ok"]
    comps = derive(
        outcome.rounds,
        "baseline",
        measured,
        predicted=predictions,
        idle_w=idle,
        energy_method=method,
        target_rel=target_rel,
        history=history,
    )
    stopped = outcome.stopped_by[-1] if outcome.stopped_by else "budget"
    last_group = outcome.rounds[-1].group if outcome.rounds else None
    out = {}
    for vid in ids:
        status, reason, info = outcome.setups.get(vid, ("interrupted", "interrupted before it was measured", {}))
        r = TechniqueResult(
            vid,
            status,
            reason,
            predicted=predictions.get(vid),
            settings=info.get("settings") or {},
            quality=info.get("quality"),
        )
        if status == "ok":
            r.timing = summarize_timing(
                outcome.rounds,
                vid,
                idle_w=idle,
                energy_method=method,
                notes=notes,
                flops_per_call=flops,
                peak_rss_mib=peak_rss_mib(),
                stopped_by=stopped,
            )
            r.comparison = comps.get(vid)
            in_last = any(vid in rd.blocks for rd in outcome.rounds if rd.group == last_group)
            if r.timing is None:
                r.status, r.reason = "interrupted", "interrupted (Ctrl-C) before its first round"
            elif outcome.status == "interrupted" and in_last:
                r.status, r.reason = "interrupted", f"interrupted (Ctrl-C) after {r.timing.rounds} rounds; figures kept"
        out[vid] = r
    return out


@dataclass(frozen=True)
class MeasureSettings:
    """The knobs of :func:`measure` (each may also be passed to it as a keyword).

    Attributes:
        budget_s: Wall-clock budget for setting the variants up and timing the rounds (profiling the
            model, loading the catalog and idle power come first and do not count). Units: s.
        store: A :class:`ResultStore`, a path, or None for the default store.
        tdp_w: CPU TDP for the energy estimate where no counter is readable. Units: W.
        progress: Show a tqdm progress bar.
        on_result: Called with each result (the baseline first) once the rounds are done, e.g. to
            fill a table in a notebook. An exception it raises is not caught.
        region: Where the energy is drawn, for CO2e (``FRA``, ``US-CA``, ``gcp:europe-west1``; see
            ``green-advisor regions``); default ``$GREEN_ADVISOR_REGION``; None: CO2e is reported as None.
        pue: Power usage effectiveness of the facility (>= 1.0; 1.0 for a desktop).
        what_if: Other regions to compare the CO2e of the baseline and each variant in.
        engine: The rounds' settings (block length, target interval, seed; default :class:`EngineSettings`).
    """

    budget_s: float = 120.0
    store: ResultStore | str | None = None
    tdp_w: float | None = None
    progress: bool = True
    on_result: Callable[[TechniqueResult], None] | None = None
    region: str | None = None
    pue: float = 1.0
    what_if: list[str] | None = None
    engine: EngineSettings | None = None


@dataclass
class _Job:
    """One measure() run in the making: the spec, its settings, the store's run, the meters, the figures so far."""

    spec: ModelSpec
    s: MeasureSettings
    eng: EngineSettings
    ids: list[str]
    store: ResultStore
    prof: Any
    predictions: dict[str, dict[str, Any]]
    meters: list[Any]
    unavailable: Any
    idle: float | None
    meta: dict[str, Any]
    model_fp: str = ""
    run_id: Any = None
    outcome: EngineOutcome = field(default_factory=EngineOutcome)
    baseline: TechniqueResult | None = None
    results: dict[str, TechniqueResult] = field(default_factory=dict)
    status: str = "finished"


def _start(spec: ModelSpec, ids: list[str], catalog: Any, s: MeasureSettings, carbon_meta: dict[str, Any]) -> _Job:
    """Profile the model, predict each variant, open the meters, read idle power, and start the store's run."""
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model

    eng = s.engine or EngineSettings()
    store = s.store if isinstance(s.store, ResultStore) else ResultStore(s.store)
    hardware = detect_hardware()
    prof = profile_model(spec.model, spec.inputs, name=spec.name)
    predictions = _predictions(catalog, prof, hardware, ids)
    meters, unavailable = get_meters(s.tdp_w)
    idle = idle_power_w(meters, seconds=min(1.0, s.budget_s * 0.05))
    meta = {
        "hardware": hardware.model_dump(mode="json"),
        "versions": versions(),
        "model": prof.model_dump(),
        "budget_s": s.budget_s,
        "techniques": ids,
        "meters": [m.describe() for m in meters],
        "idle_power_w": idle,
        "carbon": carbon_meta,
        "harness": {"engine": "interleaved-paired-rounds", **eng.to_dict()},
        "start": start_load(),
    }
    job = _Job(spec, s, eng, ids, store, prof, predictions, meters, unavailable, idle, meta)
    job.model_fp = fingerprint(spec.model)
    job.run_id = store.start_run(prof.name, job.model_fp, meta)
    return job


def _baseline_quality(job: _Job) -> tuple[_QualitySetup, Quality]:
    """The quality set-up every variant is checked with, and the baseline's own quality (its eval_fn accuracy)."""
    spec = job.spec
    q = _quality_setup(spec.model, spec.inputs, spec.calibration_data, spec.eval_fn, job.eng.seed)
    job.meta["quality_inputs"] = q.held.text
    refs = q.references
    fid = fidelity_over(refs, refs, rows=q.held.rows, inputs_text=q.held.text, decoder=q.decoder)
    base_q = with_accuracy(fid, spec.eval_fn, spec.model, None)
    q.base_acc = base_q.accuracy
    return q, base_q


def _timed(job: _Job) -> None:
    """Set every variant up and time it against the baseline in the engine's rounds; the results into ``job``."""
    spec, prof = job.spec, job.prof
    model, inputs = spec.model, spec.inputs
    base = Applied(model, inputs, no_grad_eval)
    q, base_q = _baseline_quality(job)
    gc.collect()
    items = prof.batch_size or 1
    calib = NotedBatches(q.held.calibration, SPLIT_NOTE) if q.held.calibration else spec.calibration_data
    size = 2 * (prof.size_bytes or 0)
    specs = [_spec(v, model, inputs, q=q, calibration_data=calib, size_bytes=size, items=items) for v in job.ids]
    job.outcome = outcome = run_engine(
        Variant("baseline", base, items, process_state()),
        specs,
        meters=job.meters,
        settings=job.eng,
        budget_s=job.s.budget_s,
        sync=device_sync(model, inputs),
        progress=job.s.progress,
        label=f"measure {prof.name}",
    )
    job.status = outcome.status
    method = "+".join(sorted({m.method for m in job.meters})) or None
    notes = tuple(dict.fromkeys(n for m in job.meters for n in meter_notes(m)))
    btiming = summarize_timing(
        outcome.rounds,
        "baseline",
        idle_w=job.idle,
        energy_method=method,
        notes=notes,
        flops_per_call=prof.forward_flops,
        peak_rss_mib=peak_rss_mib(),
        stopped_by=outcome.stopped_by[-1] if outcome.stopped_by else "budget",
    )
    job.baseline = TechniqueResult(
        "baseline",
        "ok" if btiming else "interrupted",
        None if btiming else "interrupted before the first round",
        timing=btiming,
        quality=base_q,
    )
    job.results = _results_from(
        outcome,
        job.ids,
        job.predictions,
        idle=job.idle,
        method=method,
        notes=notes,
        flops=prof.forward_flops,
        target_rel=job.eng.target_rel,
        history=run_history(job.store, job.meta, job.model_fp, job.run_id),
    )


def _recorded(job: _Job, intensity: Intensity | None) -> MeasureRun:
    """Store every result (CO2e added, ``on_result`` called), finish the store's run and return the run."""
    s, outcome, meta = job.s, job.outcome, job.meta
    meta["load"] = load_summary(outcome.rounds)
    meta["lock_waited_s"] = round(outcome.lock_waited_s, 3)
    meta["groups"] = outcome.groups
    meta["block_s"] = outcome.block_s
    meta["allocator"] = outcome.allocator
    meta["stopped_by"] = outcome.stopped_by
    ordered = [job.baseline, *job.results.values()] if job.baseline else list(job.results.values())
    for r in ordered:
        _add_co2e(r, intensity, s.pue)
        job.store.add_result(job.run_id, r.technique, r.status, r.to_dict())
        if s.on_result:
            s.on_result(r)
    job.store.finish_run(job.run_id, job.status)
    carbon = _carbon_summary(intensity, s.pue, s.what_if, ordered)
    run = MeasureRun(
        job.run_id,
        job.status,
        job.baseline,
        list(job.results.values()),
        [m.describe() for m in job.meters],
        job.unavailable,
        str(job.store.path),
        meta,
        carbon,
        outcome.rounds,
    )
    spec = job.spec
    run._source = (spec.model, spec.inputs, spec.calibration_data)  # type: ignore[attr-defined] - for MeasureRun.save
    job.store.save_run(run)
    return run


def measure(
    model: Any,
    example_inputs: Any = None,
    techniques: list[str] | str | None = None,
    *,
    eval_fn: Callable[[Any], float] | None = None,
    calibration_data: Any = None,
    name: str | None = None,
    settings: MeasureSettings | EngineSettings | None = None,
    **overrides: Any,
) -> MeasureRun:
    """Apply variants to copies of ``model`` and measure each against the baseline in paired rounds.

    Args:
        model: The user's ``torch.nn.Module`` (never modified; its train/eval mode is restored), or an
            :class:`advisor.ModelSpec` (then ``example_inputs`` is left out: ``measure(spec, techniques=...)``).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``.
        techniques: Variant ids (``torch-compile``, ``torch-compile+bfloat16``, ``openvino-runtime@fp32``).
            ``"recommended"`` is :func:`advisor.measure`'s: it asks ``recommend`` (in ``advisor.tuning``) and
            passes the ids here; this engine measures what it is given.
        eval_fn: ``eval_fn(model) -> accuracy``; without it, fidelity to the original outputs is reported.
        calibration_data: Input batches for static quantizers (passed to ``apply_technique``).
        name: The model's name in the store and reports (default: its class name).
        settings: Budget, store, meters, progress, carbon and the rounds' settings (:class:`MeasureSettings`;
            default: its defaults); an :class:`EngineSettings` here is the rounds' settings (``engine=``).
        **overrides: Any :class:`MeasureSettings` field by keyword (``budget_s=60``, ``region="FRA"``,
            ``store=path``, ``progress=False``).

    Raises:
        ConstraintError: A non-positive budget or TDP, a bad region or PUE, no techniques, an unknown keyword.
        UnknownTechniqueError: A technique id that is not in the catalog (with suggestions).
        VariantIdError: A malformed variant id.
    """
    from advisor.catalog import load_catalog

    s = merged_with_engine(MeasureSettings, settings, overrides, "measure()")
    check_args(s.budget_s, s.tdp_w)
    intensity, carbon_meta = _carbon_setup(s.region, s.pue, s.what_if)  # unknown region / bad PUE fail first
    catalog = load_catalog()
    ids = _variant_ids(techniques, catalog)  # a bad id fails before the model is profiled
    given = {"eval_fn": eval_fn, "calibration_data": calibration_data, "name": name}
    spec = spec_from_call(model, example_inputs, "measure()", **given)
    was_training = spec.model.training
    job = _start(spec, ids, catalog, s, carbon_meta)
    try:
        spec.model.eval()
        _timed(job)
    except KeyboardInterrupt:
        job.status = "interrupted"
    finally:
        spec.model.train(was_training)
        for m in job.meters:
            m.close()
    return _recorded(job, intensity)


def _quality_setup(
    model: Any, inputs: tuple[Any, ...], calibration_data: Any, eval_fn: Any, seed: int
) -> _QualitySetup:
    """Held-out inputs (see :mod:`advisor.measurement._held_out`) and the original model's outputs on them."""
    import torch

    held = held_out(inputs, calibration_data, seed=seed)
    with torch.no_grad():
        refs = [model(*b) for b in held.batches]
    decoder = callable(getattr(model, "generate", None)) or hasattr(model, "lm_head")
    return _QualitySetup(held, inputs, refs, decoder, eval_fn)


def _carbon_setup(region: str | None, pue: float, what_if: list[str] | None) -> tuple[Intensity | None, dict[str, Any]]:
    """Resolve and check the region, PUE and what-if regions; the block stored in the run's meta."""
    resolved = resolve_region(region)
    intensity = get_intensity(resolved) if resolved else None
    carbon_summary(intensity, {}, pue=pue, what_if_regions=what_if)  # raises on a bad PUE or unknown what-if region
    meta: dict[str, Any] = {
        "region": intensity.region if intensity else None,
        "pue": pue,
        "what_if": list(what_if or []),
    }
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


class _Callable:
    """Lets ``eval_fn(model)`` call a variant under its context (autocast, channels-last inputs)."""

    def __init__(self, applied: Applied) -> None:
        self._applied = applied

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._applied.context():
            return self._applied.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._applied.model, name)
