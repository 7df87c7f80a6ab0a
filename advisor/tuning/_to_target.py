"""``tune(..., phase="training")`` on a spec with a TrainingSetup: rank by energy to a target, not per step.

The training techniques that change *how many steps* reach the accuracy you need (schedules, batch size, data
pruning, curriculum, a compact model, distillation, early stopping) cannot be judged per step, so when the spec
carries a :class:`~advisor.TrainingSetup` tune measures them with :func:`advisor.measure_to_target` and picks by
the energy-to-target ratio (the time-to-target ratio for ``objective="latency"``). Quality is the target
itself: a variant that did not reach it in every seed it ran fails the gate, whatever it saved.
"""

from __future__ import annotations

import time
from typing import Any

from advisor.tuning._picks import finish, known_no_payoff, more_effort
from advisor.tuning._plan import Candidate, TunePlan

__all__ = ["DEFAULT_SEEDS", "to_target_candidate", "tune_to_target"]

DEFAULT_SEEDS = 3


def _time_verdict(iv: Any) -> str:
    if iv is None or iv.confidence == 0.0:
        return "inconclusive"
    if iv.high < 1:
        return "faster"
    return "slower" if iv.low > 1 else "no significant difference"


def to_target_candidate(r: Any, run: Any, objective: str, catalog: Any) -> Candidate:
    """A to-target variant as a tune candidate.

    It pays off when it reached the target in every seed and its objective's ratio interval lies below 1.
    """
    from advisor.training import outcome_line, target_text

    line = outcome_line(r, run.target, run.metric, run.baseline)
    reached_all = r.status == "ok" and r.n_seeds > 0 and r.n_reached == r.n_seeds
    ratio = r.time_ratio if objective == "latency" else r.energy_ratio
    cand = Candidate(
        variant=r.variant,
        status=r.status,
        verdict=_time_verdict(r.time_ratio),
        latency_ratio=r.time_ratio,
        energy_ratio=r.energy_ratio,
        energy_verdict=r.verdict,
        energy_method=r.energy_method,
        quality_ok=reached_all if r.status == "ok" and r.n_seeds else None,
        run_id=run.run_id,
        quality_status="verified" if reached_all else "failed" if r.status == "ok" and r.n_seeds else "unverified",
        quality_figure=f"{line} (to {target_text(run.target, run.metric)}, from scratch)",
        how_to_apply=_how_to_apply(r, catalog),
    )
    better = ratio is not None and ratio.confidence > 0 and ratio.high < 1
    cand.pays_off = reached_all and better
    if r.status != "ok":
        cand.reason = r.reason
    elif not cand.pays_off:
        cand.reason = (
            line
            if not reached_all
            else f"the {'time' if objective == 'latency' else 'energy'}-to-target interval does not lie below 1"
        )
    return cand


def _how_to_apply(r: Any, catalog: Any) -> list[str]:
    """The catalog's library calls for each technique of the variant, and what the applier did."""
    lines = [
        f"{impl.call}"
        for cid in r.catalog_ids
        if cid and cid in catalog
        for impl in catalog.get(cid).implementations[:2]
    ]
    settings = ", ".join(f"{k}={v}" for k, v in r.settings.items())
    return [*lines, f"as measured: {settings}" if settings else f"as measured: {r.variant}"]


def _profile(spec: Any, setup: Any) -> Any:
    from advisor.profile.model import profile_model

    inputs = spec.example_inputs
    if inputs is None and isinstance(setup.train_data, tuple | list):
        inputs = setup.train_data[0][: setup.batch_size]
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    return profile_model(spec.model, inputs, name=spec.name, phase="training"), inputs


def tune_to_target(
    spec: Any, c: Any, *, budget_s: float, store: Any, hw: Any, catalog: Any, t0: float, region: str | None = None
) -> TunePlan:
    """Measure the to-target techniques on ``spec`` and plan from their energy to the target (see the module)."""
    from advisor.recommendation import recommend
    from advisor.training import DEFAULT_TECHNIQUES, TECHNIQUES, ToTargetSettings, measure_to_target, target_text
    from advisor.tuning._knowledge import knowledge_for

    setup = spec.training
    prof, inputs = _profile(spec, setup)
    measurable = sorted({t.catalog_id for t in TECHNIQUES.values() if t.catalog_id})
    knowledge = knowledge_for(store, hw)
    rec = recommend(prof, hw, c, catalog, measurable=measurable, knowledge=knowledge)
    settings = ToTargetSettings(regions=[region] if region else [])
    run = measure_to_target(
        spec, None, list(DEFAULT_TECHNIQUES), DEFAULT_SEEDS, budget_s, store=store, settings=settings
    )
    cands = [to_target_candidate(r, run, c.objective, catalog) for r in run.results]
    key = (lambda x: x.latency_ratio.median) if c.objective == "latency" else (lambda x: x.energy_ratio.median)
    ok = sorted((x for x in cands if x.pays_off), key=key)
    what = target_text(run.target, run.metric)
    notes = [
        f"training: ranked by {'time' if c.objective == 'latency' else 'energy'} to {what}, each variant "
        f"trained from scratch over {len(run.meta.get('seeds', []))} seeds (measure_to_target), not per step",
        f"outcome: {run.outcome}",
        run.projection_note,
    ]
    plan = TunePlan(
        model_name=prof.name,
        phase="training",
        objective=c.objective,
        winner=ok[0] if ok else None,
        runners_up=ok[1:],
        no_payoff=[x for x in cands if not x.pays_off],
        known_no_payoff=known_no_payoff(rec),
        more_effort=more_effort(rec),
        artifact=None,
        measured=sum(1 for x in cands if x.energy_ratio is not None),
        elapsed_s=0.0,
        budget_s=float(budget_s),
        run=run,
        run_ids=[run.run_id] if run.run_id else [],
        store_path=str(store.path),
        knowledge_used=len(knowledge),
        recommendations=rec,
        notes=notes,
    )
    finish(plan, store, prof, spec.model, inputs, None, False, None)
    plan.elapsed_s = round(time.perf_counter() - t0, 1)
    return plan
