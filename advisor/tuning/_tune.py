"""``advisor.tune``: profile, recommend, measure the most promising variants here, re-rank, and plan.

The only module that calls both :func:`advisor.recommend` and the measurement engine:

1. profile the model and read this machine's earlier measurements (the knowledge base);
2. ``recommend(measurable=..., knowledge=...)``: the group "apply now" lists what can be measured here,
   best first; techniques earlier runs on similar models found slower are already excluded (and listed);
3. stage 1: measure the top variants with the interleaved engine (most promising first; the engine
   stops early once every interval is tight, and skips what the budget does not reach);
4. stage 2 (budgets from ``stacks_from_budget_s``, 45 s by default): measure stacks of the variants that
   paid off (pairs that do not conflict) against the baseline in one engine run, with the rest of the budget;
5. re-rank on the measurements: a variant that is better on the objective within the accuracy budget
   pays off; the rest go to "tried here: does not pay off" with their figures;
6. save the winner (the runtimes' ``save_variant``), store the plan, and return a :class:`TunePlan`.

With ``phase="training"`` the training techniques are measured per step and the whole run projected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from advisor._errors import ConstraintError, TuneError
from advisor.catalog import VariantId
from advisor.profile.constraints import Constraints
from advisor.profile.spec import spec_from_call
from advisor.recommendation import parent_of, recommend
from advisor.tuning._knowledge import knowledge_for
from advisor.tuning._paths import path_for
from advisor.tuning._picks import better, finish, known_no_payoff, more_effort
from advisor.tuning._plan import Candidate, TunePlan
from advisor.tuning._recover import RECOVERY_ONLY, recovery_queue, recovery_records
from advisor.tuning._settings import TuneSettings, merge_settings

__all__ = ["judge", "measurable_here", "quality_verdict", "tune"]

KIND_ORDER = {"data": 0, "model": 1, "training": 2, "runtime": 3, None: 2}
STAGE1_SHARE = 0.7  # of the budget, when stacks are tried after the single variants
MIN_STACK_BUDGET_S = 6.0
MIN_REFILL_S = 4.0  # measure further variants after fast failures only with at least this much budget left
RECOVERY_SHARE = 0.5  # of the budget left after stage 1 for recoveries of failed int8 variants, when stacks follow
DEFAULT_TRAINING = ("mixed-precision-training", "activation-checkpointing", "gradient-accumulation")


def _constraints(constraints: Constraints | dict[str, Any] | None, phase: str) -> Constraints:
    if isinstance(constraints, Constraints):
        return constraints
    training = phase == "training"  # you are training anyway: retraining and labelled data are given
    base = {
        "phase": phase,
        "objective": "energy",
        "max_accuracy_drop_pp": 1.0,
        "retraining": "full" if training else "none",
        "data": "labelled" if training else "calibration",
        "effort": "high",
    }
    return Constraints.make(**{**base, **(constraints or {})})


def _check(phase: str, budget_s: Any) -> None:
    if phase not in ("inference", "training"):
        raise TuneError(f"phase: expected 'inference' or 'training', got {phase!r}")
    if isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or not budget_s > 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}; e.g. budget_s=60")


def measurable_here(phase: str) -> list[str]:
    """Variant ids the appliers can apply and measure on this machine for ``phase``."""
    if phase == "training":
        from advisor.measurement.appliers.training import TRAINING_REGISTRY

        return sorted(TRAINING_REGISTRY)
    from advisor.measurement.appliers import available_ids

    return list(available_ids())


def _is_setting_of(variant: str, technique_id: str) -> bool:
    """Whether ``variant`` applies ``technique_id`` alone (its default or one of its settings), not in a stack."""
    v = VariantId.parse(variant)
    return not v.is_stack and v.base == technique_id


def _candidates(rec: Any, measurable: list[str]) -> list[tuple[str, str]]:
    """(variant, family) of the group "apply now", best first and diverse: one per family before a second.

    A family is a technique and the techniques that specialise the same parent (three static int8
    quantizers are one idea); within a technique the plain id comes before its settings (``id@setting``).
    """
    firsts: list[tuple[str, str]] = []
    seconds: list[tuple[str, str]] = []
    families: dict[str, str] = {}
    for r in rec.in_group("apply-now"):
        own = (v for v in measurable if _is_setting_of(v, r.id) and v not in RECOVERY_ONLY)
        mine = sorted(own, key=lambda v: VariantId.parse(v).setting is not None)
        family = families.get(r.parent or "", families.get(r.id, r.parent or r.id))
        for v in mine:
            if family in families.values() or v != mine[0]:
                seconds.append((v, family))
            else:
                firsts.append((v, family))
                families[r.id] = family
                if r.parent:
                    families[r.parent] = family
    return [*firsts, *seconds]


def _default_limit(budget_s: float) -> int:
    """Single variants for a budget: set-up (conversion, calibration, compilation) counts in it."""
    return int(min(8, max(2, budget_s // 10)))


# --- judging one result -----------------------------------------------------------------------------------
FIDELITY_KEYS = ("top1_agreement", "top5_overlap", "token_agreement", "cosine_similarity", "relative_error")


def _fidelity(q: Any) -> dict[str, float]:
    out = {}
    for k in FIDELITY_KEYS:
        v = getattr(q, k, None)
        if v is not None:
            out[k] = float(v)
    return out


def quality_verdict(q: Any, c: Constraints) -> Any:
    """The one quality rule (:func:`advisor.measurement.quality.judge_quality`) under the user's constraints."""
    from advisor.measurement.quality import judge_quality

    return judge_quality(q, c.max_accuracy_drop_pp, c.min_fidelity)


def _how_to_apply(variant: str, catalog: Any) -> list[str]:
    lines = []
    for part in VariantId.parse(variant).techniques:
        if part not in catalog:
            continue
        for impl in catalog.get(part).implementations[:2]:
            note = f": {' '.join(impl.note.split())}" if impl.note else ""
            lines.append(f"{impl.call}{note}")
    lines.append(f"or: advisor.measurement.appliers.apply_technique({variant!r}, model, example_inputs)")
    return lines


def judge(r: Any, c: Constraints, catalog: Any, run_id: str | None = None) -> Candidate:
    """One measured result judged on the objective and the quality gate: does it pay off, and if not, why.

    The quality gate is :func:`advisor.measurement.quality.judge_quality` with the constraints'
    ``max_accuracy_drop_pp`` and ``min_fidelity``: a ``failed`` variant never pays off (its reason names
    the figure); an ``unverified`` one may pay off but is never the plan's winner (see :class:`TunePlan`).
    """
    comp = getattr(r, "comparison", None)
    q = getattr(r, "quality", None)
    how = _how_to_apply(r.technique, catalog)
    cand = Candidate(variant=r.technique, status=r.status, run_id=run_id, how_to_apply=how)
    if r.status != "ok" or comp is None or comp.latency_ratio is None:
        cand.reason = r.reason or r.status
        return cand
    cand.verdict, cand.latency_ratio, cand.energy_ratio = comp.verdict, comp.latency_ratio, comp.energy_ratio
    cand.energy_verdict, cand.energy_method = comp.energy_verdict, comp.energy_method
    verdict = quality_verdict(q, c)
    if q is not None and hasattr(q, "accuracy_change_pp"):
        cand.accuracy_change_pp = q.accuracy_change_pp
        cand.fidelity = _fidelity(q)
        cand.quality_inputs = q.quality_inputs
    else:  # training: the loss trajectory from the same weights and data
        cand.projection = getattr(r, "saving", None)
    cand.quality_status, cand.quality_ok = verdict.status, verdict.ok
    cand.quality_figure = verdict.figure
    is_better, why_b = better(comp, c.objective)
    cand.pays_off = is_better and verdict.status != "failed"
    cand.reason = None if cand.pays_off else (why_b or verdict.reason)
    if verdict.status == "failed" and not is_better:
        cand.reason = f"{why_b}; quality: {verdict.reason}"
    elif verdict.status == "failed":
        cand.reason = f"quality: {verdict.reason}"
    if cand.pays_off and verdict.status == "unverified":
        cand.reason = f"quality unknown: {verdict.reason}; pass eval_fn or real inputs to verify it"
    return cand


def _key(cand: Candidate, objective: str) -> tuple[float, float]:
    iv = cand.latency_ratio if objective == "latency" or cand.energy_ratio is None else cand.energy_ratio
    return (iv.median, iv.high)


# --- stacks --------------------------------------------------------------------------------------------------
def _stackable(a: str, b: str, catalog: Any) -> bool:
    if any(VariantId.parse(a).settings + VariantId.parse(b).settings) or a not in catalog or b not in catalog:
        return False
    ta, tb = catalog.get(a), catalog.get(b)
    for x, y in ((ta, b), (tb, a)):
        if any(r.target == y and r.type in ("conflicts-with", "alternative-to", "specializes") for r in x.relations):
            return False
    if getattr(ta, "kind", None) == getattr(tb, "kind", None) == "runtime":
        return False  # two runtimes are alternatives, not a stack
    pa, pb = parent_of(ta), parent_of(tb)
    return not (pa and pa == pb)


def _stack_variants(winners: list[Candidate], catalog: Any, limit: int = 2) -> list[str]:
    ids = [w.variant for w in winners[:3]]
    out = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if _stackable(a, b, catalog):
                pair = sorted((a, b), key=lambda t: KIND_ORDER.get(getattr(catalog.get(t), "kind", None), 2))
                out.append("+".join(pair))
    return out[:limit]


# --- measuring -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Job:
    """What every stage of one tune run measures and judges with: the model, its inputs, measure's keywords."""

    model: Any
    inputs: tuple[Any, ...]
    kw: dict[str, Any]  # measure()'s keywords: eval_fn, calibration_data, store, region, pue, name, progress, ...
    c: Constraints
    catalog: Any

    def measure(self, variants: list[str], budget_s: float) -> Any:
        """One engine run of ``variants`` against the baseline, within ``budget_s`` seconds."""
        from advisor.measurement.run import measure

        return measure(self.model, self.inputs, variants, budget_s=budget_s, **self.kw)

    def judged(self, run: Any) -> list[Candidate]:
        """The run's results judged on the objective and the quality gate."""
        return [judge(r, self.c, self.catalog, run.run_id) for r in run.results]


@dataclass(frozen=True)
class _Setup:
    """Where a tune run stores, on which machine, from which catalog."""

    store: Any
    hw: Any
    catalog: Any


class _Staged(NamedTuple):
    runs: list[Any]
    cands: list[Candidate]
    notes: list[str]


def _merge(runs: list[Any]) -> Any:
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    results = [r for run in runs for r in run.results]
    rounds = [rd for run in runs for rd in (run.rounds or [])]
    meta = {**first.meta, "tune_stage_runs": [r.run_id for r in runs]}
    return replace(first, results=results, rounds=rounds, meta=meta)


def _training_kw(s: TuneSettings, store: Any) -> dict[str, Any]:
    """measure_training's keywords from the settings (raises when the projection's figures are missing)."""
    missing = [k for k in ("steps_per_epoch", "epochs") if getattr(s, k) is None]
    if missing:
        raise TuneError(
            f"phase='training' needs {' and '.join(missing)} to project the whole run, e.g. "
            "tune(model, batch, phase='training', steps_per_epoch=500, epochs=3)"
        )
    given = {"steps_per_epoch": s.steps_per_epoch, "epochs": s.epochs, "targets": s.targets, "loss_fn": s.loss_fn}
    out = {"store": store, "region": s.region, "pue": s.pue, "progress": s.progress}
    return {**out, **{k: v for k, v in given.items() if v is not None}}


def _setup(s: TuneSettings) -> _Setup:
    from advisor.catalog import load_catalog
    from advisor.measurement.store import ResultStore
    from advisor.profile.hardware import detect_hardware

    store = s.store if isinstance(s.store, ResultStore) else ResultStore(s.store)
    return _Setup(store, s.hardware or detect_hardware(), s.catalog or load_catalog())


def tune(  # noqa: PLR0917 - the issue fixes the positional order (model, inputs, eval_fn, calibration, ...)
    spec_or_model: Any,
    example_inputs: Any = None,
    eval_fn: Any = None,
    calibration_data: Any = None,
    constraints: Constraints | dict[str, Any] | None = None,
    budget_s: float = 60.0,
    *,
    phase: str = "inference",
    settings: TuneSettings | None = None,
    **overrides: Any,
) -> TunePlan:
    """Find, measure and pick what to do to this model on this machine.

    ``advisor.tune(model, inputs, budget_s=15, save=False)``: the model side is the first argument (a
    ``torch.nn.Module`` with its inputs, or an :class:`advisor.ModelSpec` carrying them, its tokenizer, prompts,
    draft model and training set-up); what tune does with it is an :class:`advisor.TuneSettings`, given whole
    (``settings=``) or field by field as keywords (``store=``, ``save=``, ``steps_per_epoch=``, ...), which
    are merged into ``settings``.

    Args:
        spec_or_model: The user's ``torch.nn.Module`` (never modified), or an :class:`advisor.ModelSpec` (then
            leave ``example_inputs`` out: ``tune(spec, budget_s=60)``).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)`` (one training batch for training).
        eval_fn: ``eval_fn(model) -> accuracy in percent``; without it, fidelity to the original outputs is used.
        calibration_data: Input batches for static quantizers.
        constraints: :class:`advisor.Constraints` or a dict of its fields; default: objective energy, max
            accuracy drop 1 pp, no retraining, calibration data, any effort.
        budget_s: Measuring budget (set-up before it is not counted). Units: s.
        phase: ``inference`` or ``training`` (per-step measurement and a projection of the whole run; with a
            spec that carries a :class:`advisor.TrainingSetup`, energy to the target).
        settings: An :class:`advisor.TuneSettings` (default: its defaults).
        **overrides: Fields of :class:`advisor.TuneSettings` to replace in ``settings``.

    Returns:
        A :class:`TunePlan` (also written to the store).

    Raises:
        TuneError: a bad phase, or training per step without ``steps_per_epoch``/``epochs``.
        ConstraintError: a bad budget, constraint or setting, or a keyword that is not a setting.
    """
    t0 = time.perf_counter()
    s = merge_settings(settings, overrides)
    _check(phase, budget_s)
    c = _constraints(constraints, phase)
    given = {"eval_fn": eval_fn, "calibration_data": calibration_data, "name": s.name}
    spec = spec_from_call(spec_or_model, example_inputs, "tune()", **given)
    if phase == "training" and spec.training is None:
        _training_kw(s, None)  # fails early, before the store is opened
    env = _setup(s)
    if phase == "training" and spec.training is not None:  # energy to a target, not per step (issue 22)
        from advisor.tuning._to_target import tune_to_target

        return tune_to_target(
            spec, c, budget_s=budget_s, store=env.store, hw=env.hw, catalog=env.catalog, t0=t0, region=s.region
        )
    from advisor.profile.model import profile_model

    prof = profile_model(spec.model, spec.inputs, name=spec.name, phase=phase)
    path = path_for(prof, spec.model, phase, s)  # a registered path (generation) that claims this model
    if path is not None:
        return path.run(
            spec, s, prof=prof, hw=env.hw, c=c, catalog=env.catalog, store=env.store, budget_s=budget_s, t0=t0
        )
    return _tune_measured(spec, prof, phase, c, budget_s, s, env, t0)


def _tune_measured(  # noqa: PLR0917 - tune()'s own path, called once
    spec: Any, prof: Any, phase: str, c: Constraints, budget_s: float, s: TuneSettings, env: _Setup, t0: float
) -> TunePlan:
    """Recommend, measure the candidates in stages, judge, plan, store, save (the forward pass or per step)."""
    measurable = measurable_here(phase)
    knowledge = knowledge_for(env.store, env.hw)
    rec = recommend(prof, env.hw, c, env.catalog, measurable=measurable, knowledge=knowledge)
    queue = _candidates(rec, measurable)
    kw = {
        "eval_fn": spec.eval_fn,
        "calibration_data": spec.calibration_data,
        "store": env.store,
        "region": s.region,
        "pue": s.pue,
        "name": spec.name,
        "progress": s.progress,
        "on_result": s.on_result,
    }
    job = _Job(spec.model, spec.inputs, kw, c, env.catalog)
    limit = s.max_variants or _default_limit(budget_s)
    if phase == "training":
        staged = _training_stage(job, queue[:limit], budget_s, _training_kw(s, env.store))
    else:
        staged = _run_stages(job, queue, limit, budget_s, s.stacks_from_budget_s if s.stacks else float("inf"))
    plan = _plan(prof, phase, c, rec, len(knowledge), staged, budget_s, env.store)
    if not queue:
        plan.notes.append("nothing in the catalog can be applied and measured here for this model and constraints")
    save = s.save and phase == "inference"
    finish(plan, env.store, prof, spec.model, spec.inputs, spec.calibration_data, save, s.save_dir)
    plan.elapsed_s = round(time.perf_counter() - t0, 1)
    return plan


def _plan(  # noqa: PLR0917 - a private step of tune(), called once
    prof: Any, phase: str, c: Constraints, rec: Any, n_knowledge: int, staged: _Staged, budget_s: float, store: Any
) -> TunePlan:
    """The plan of the judged candidates: the winner, runners-up, recoveries, what did not pay off and why."""
    runs, cands = staged.runs, staged.cands
    recoveries = recovery_records(cands, {r.technique: r.settings for run in runs for r in run.results})
    winner, fastest_unverified, cands_ok = _pick(cands, c.objective)
    return TunePlan(
        model_name=prof.name,
        phase=phase,
        objective=c.objective,
        winner=winner,
        runners_up=[x for x in cands_ok if x is not winner],
        fastest_unverified=fastest_unverified,
        recoveries=recoveries,
        no_payoff=[x for x in cands if not x.pays_off],
        known_no_payoff=known_no_payoff(rec),
        more_effort=more_effort(rec),
        artifact=None,
        measured=sum(1 for x in cands if x.latency_ratio is not None),
        elapsed_s=0.0,
        budget_s=float(budget_s),
        run=_merge(runs) if runs else None,
        run_ids=[r.run_id for r in runs if r.run_id],
        store_path=str(store.path),
        knowledge_used=n_knowledge,
        recommendations=rec,
        notes=list(staged.notes),
    )


def _pick(cands: list[Candidate], objective: str) -> tuple[Candidate | None, Candidate | None, list[Candidate]]:
    """(winner, fastest unverified, every candidate that pays off, best first).

    The winner is the best variant that pays off with its quality verified; a variant whose quality is
    unknown is never the winner, but is returned as the fastest unverified one when it beats the winner.
    """
    ok = sorted((x for x in cands if x.pays_off), key=lambda x: _key(x, objective))
    verified = [x for x in ok if x.verified]
    winner = verified[0] if verified else None
    u = next((x for x in ok if not x.verified), None)
    if u is not None and winner is not None and _key(u, objective) >= _key(winner, objective):
        u = None
    return winner, u, ok


def _recover(job: _Job, cands: list[Candidate], left_s: float) -> tuple[Any, list[Candidate], str | None]:
    """Measure the recoveries of the int8 variants that failed the quality gate (see ``advisor.tuning._recover``).

    Returns:
        (the run or None, the recoveries judged, a note when some were not measured for lack of budget).
    """
    queue = recovery_queue(cands, measurable_here("inference"), job.kw.get("eval_fn"))
    if not queue:
        return None, [], None
    ids = [r for r, _ in queue]
    if left_s < MIN_REFILL_S:
        note = (
            f"recoveries {', '.join(ids)} of failed int8 variants not measured: {max(left_s, 0):.0f} s "
            "of the budget left (give a larger budget)"
        )
        return None, [], note
    run = job.measure(ids, left_s)
    return run, job.judged(run), None


def _stage1(job: _Job, queue: list[tuple[str, str]], limit: int, budget_s: float) -> tuple[list[Any], list[Candidate]]:
    """Measure the top ``limit`` variants; refill with the next ones while variants fail fast and budget is left.

    When a family's first variant cannot be applied (e.g. FX tracing fails), the family's next member
    moves to the front of the queue (NNCF or PT2E static int8 after FX static int8).
    """
    t0 = time.perf_counter()
    runs: list[Any] = []
    cands: list[Candidate] = []
    queue = list(queue)
    while queue:
        left = budget_s - (time.perf_counter() - t0)
        room = limit - sum(1 for x in cands if x.latency_ratio is not None)
        if room <= 0 or (runs and left < MIN_REFILL_S):
            break
        batch, queue = queue[:room], queue[room:]
        run = job.measure([v for v, _ in batch], left)
        runs.append(run)
        judged = job.judged(run)
        cands += judged
        failed = {fam for (v, fam) in batch for x in judged if x.variant == v and x.latency_ratio is None}
        queue = [q for q in queue if q[1] in failed] + [q for q in queue if q[1] not in failed]
        if run.status != "finished":
            break
    return runs, cands


def _training_stage(job: _Job, queue: list[tuple[str, str]], budget_s: float, kw: dict[str, Any]) -> _Staged:
    """The training techniques of ``queue`` measured per step in one run (``measure_training``), judged."""
    if not queue:
        return _Staged([], [], [])
    from advisor.measurement.training import measure_training

    run = measure_training(job.model, job.inputs, techniques=[v for v, _ in queue], budget_s=budget_s, **kw)
    return _Staged([run], job.judged(run), [])


def _run_stages(job: _Job, queue: list[tuple[str, str]], limit: int, budget_s: float, stacks_from_s: float) -> _Staged:
    """Stage 1 (single variants), recoveries and stage 2 (stacks of what paid off): the runs, candidates, notes.

    Stage 2 runs only when ``budget_s >= stacks_from_s`` (``inf``: never).
    """
    if not queue:
        return _Staged([], [], [])
    t_stage = time.perf_counter()
    stacks = budget_s >= stacks_from_s
    runs, cands = _stage1(job, queue, limit, budget_s * (STAGE1_SHARE if stacks else 1.0))
    notes: list[str] = []
    if runs[-1].status == "finished":  # recoveries of failed int8 variants: half of what is left with stacks to come
        left = budget_s - (time.perf_counter() - t_stage)
        _add(_recover(job, cands, left * (RECOVERY_SHARE if stacks else 1.0)), runs, cands, notes)
    if stacks:
        left = budget_s - (time.perf_counter() - t_stage) if runs[-1].status == "finished" else None
        good = sorted((x for x in cands if x.pays_off), key=lambda x: _key(x, job.c.objective))
        _add(_stage2(job, good, left), runs, cands, notes)
    warn = next((w for r in runs if (w := r.load_warning())), None)
    return _Staged(runs, cands, [*notes, warn] if warn else notes)


def _add(
    step: tuple[Any, list[Candidate], str | None], runs: list[Any], cands: list[Candidate], notes: list[str]
) -> None:
    """Append one stage's (run or None, candidates, note or None) to what the stages found so far."""
    run, judged, note = step
    runs += [run] if run is not None else []
    cands += judged
    notes += [note] if note else []


def _stage2(job: _Job, winners: list[Candidate], left_s: float | None) -> tuple[Any, list[Candidate], str | None]:
    """Stacks of the stage-1 winners (best first), measured against the baseline in one engine run.

    ``left_s`` is the budget left after stage 1, in seconds (None: stage 1 was interrupted).

    Returns:
        (the run or None, the stacks judged like single variants, a note). Without two stackable winners
        nothing is measured and there is no note; after an interruption or with too little budget left
        (< ``MIN_STACK_BUDGET_S``) nothing is measured and the note names the stacks left out, so a plan
        never claims a stack it did not measure.
    """
    combos = _stack_variants(winners, job.catalog)
    if not combos:
        return None, [], None
    if left_s is None:
        return None, [], f"stacks {', '.join(combos)} not measured: the single variants' run was interrupted"
    if left_s < MIN_STACK_BUDGET_S:
        return None, [], f"stacks {', '.join(combos)} not measured: {max(left_s, 0):.0f} s of the budget left"
    run = job.measure(combos, left_s)
    return run, job.judged(run), None
