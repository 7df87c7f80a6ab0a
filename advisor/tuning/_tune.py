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
from dataclasses import replace
from pathlib import Path
from typing import Any

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

__all__ = ["judge", "measurable_here", "quality_verdict", "tune"]

KIND_ORDER = {"data": 0, "model": 1, "training": 2, "runtime": 3, None: 2}
STAGE1_SHARE = 0.7  # of the budget, when stacks are tried after the single variants
MIN_STACK_BUDGET_S = 6.0
STACKS_FROM_BUDGET_S = 45.0  # default of tune(stacks_from_budget_s=): below it the single variants get all the budget
MIN_REFILL_S = 4.0  # measure further variants after fast failures only with at least this much budget left
RECOVERY_SHARE = 0.5  # of the budget left after stage 1 for recoveries of failed int8 variants, when stacks follow
DEFAULT_TRAINING = ("mixed-precision-training", "activation-checkpointing", "gradient-accumulation")


def _constraints(constraints: Constraints | dict[str, Any] | None, phase: str) -> Constraints:
    if isinstance(constraints, Constraints):
        return constraints
    training = phase == "training"  # you are training anyway: retraining and labelled data are given
    base = {"phase": phase, "objective": "energy", "max_accuracy_drop_pp": 1.0,
            "retraining": "full" if training else "none", "data": "labelled" if training else "calibration",
            "effort": "high"}  # fmt: skip
    return Constraints.make(**{**base, **(constraints or {})})


def _check(phase: str, budget_s: Any, stacks_from_budget_s: Any = 0.0) -> None:
    if phase not in ("inference", "training"):
        raise TuneError(f"phase: expected 'inference' or 'training', got {phase!r}")
    if isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or not budget_s > 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}; e.g. budget_s=60")
    s = stacks_from_budget_s
    if isinstance(s, bool) or not isinstance(s, int | float) or not s >= 0:
        raise ConstraintError(f"stacks_from_budget_s: expected a number of seconds >= 0, got {s!r}; e.g. 45 "
                              "(stacks=False turns stage 2 off)")  # fmt: skip


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
def _measure_inference(model: Any, inputs: tuple[Any, ...], variants: list[str], budget_s: float,
                       kw: dict[str, Any]) -> Any:  # fmt: skip
    from advisor.measurement.run import measure

    return measure(model, inputs, variants, budget_s=budget_s, **kw)


def _merge(runs: list[Any]) -> Any:
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    results = [r for run in runs for r in run.results]
    rounds = [rd for run in runs for rd in (run.rounds or [])]
    meta = {**first.meta, "tune_stage_runs": [r.run_id for r in runs]}
    return replace(first, results=results, rounds=rounds, meta=meta)


def _training_kw(kw: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in ("steps_per_epoch", "epochs") if training.get(k) is None]
    if missing:
        raise TuneError(f"phase='training' needs {' and '.join(missing)} to project the whole run, e.g. "
                        "tune(model, batch, phase='training', steps_per_epoch=500, epochs=3)")  # fmt: skip
    out = {k: v for k, v in kw.items() if k in ("store", "region", "pue", "progress")}
    return {**out, **{k: v for k, v in training.items() if v is not None}}


def tune(  # noqa: PLR0917 - the issue fixes the positional order (model, inputs, eval_fn, calibration, ...)
    model: Any,
    example_inputs: Any = None,
    eval_fn: Any = None,
    calibration_data: Any = None,
    constraints: Constraints | dict[str, Any] | None = None,
    budget_s: float = 60.0,
    *,
    phase: str = "inference",
    store: Any = None,
    region: str | None = None,
    pue: float = 1.0,
    name: str | None = None,
    progress: bool = True,
    max_variants: int | None = None,
    stacks: bool = True,
    stacks_from_budget_s: float = STACKS_FROM_BUDGET_S,
    save: bool = True,
    save_dir: str | Path | None = None,
    hardware: Any = None,
    catalog: Any = None,
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
    targets: Any = None,
    loss_fn: Any = None,
    on_result: Any = None,
    batch_sizes: Any = None,
    max_new_tokens: int | None = None,
    tokenizer: Any = None,
    prompts: Any = None,
    draft_model: Any = None,
    generation: bool | None = None,
    generation_options: dict[str, Any] | None = None,
) -> TunePlan:
    """Find, measure and pick what to do to this model on this machine.

    Args:
        model: The user's ``torch.nn.Module`` (never modified), or an :class:`advisor.ModelSpec` (then leave
            ``example_inputs`` out: ``tune(spec, budget_s=60)``).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)`` (one training batch for training).
        eval_fn: ``eval_fn(model) -> accuracy in percent``; without it, fidelity to the original outputs is used.
        calibration_data: Input batches for static quantizers.
        constraints: :class:`advisor.Constraints` or a dict of its fields; default: objective energy, max
            accuracy drop 1 pp, no retraining, calibration data, any effort.
        budget_s: Measuring budget (set-up before it is not counted). Units: s.
        phase: ``inference`` or ``training`` (per-step measurement and a projection of the whole run).
        store: A :class:`advisor.measurement.ResultStore`, a path, or None for the default store.
        region: Region for CO2e (see ``green-advisor regions``).
        pue: Power usage effectiveness of the facility.
        name: The model's name in the store and reports.
        progress: Show progress bars.
        max_variants: Single variants to measure in stage 1 (default: from the budget, 2-8).
        stacks: Measure stacks of the variants that paid off in stage 2.
        stacks_from_budget_s: The smallest ``budget_s`` at which stage 2 runs (then stage 1 gets 70 % of the
            budget; below it stage 1 gets all of it). Stage 2 also needs two variants that paid off and can be
            stacked, and at least 6 s of budget left after stage 1. Units: s.
        save: Save the winner as a deployable artifact (inference).
        save_dir: Where to save it (default: ``artifacts/<plan id>`` beside the store).
        hardware: A :class:`advisor.HardwareProfile` (default: detected).
        catalog: The technique catalog (default: the shipped one).
        steps_per_epoch: Training only: optimizer steps per epoch, for the projection.
        epochs: Training only: epochs, for the projection.
        targets: Training only: targets of the batch for the loss.
        loss_fn: Training only: ``loss_fn(output, targets)``.
        on_result: Inference only: called with each measured result as soon as it is stored (live tables).
        batch_sizes: Generative decoders: batch sizes to measure generation at (default 1 and 4).
        max_new_tokens: Generative decoders: tokens generated per prompt (default 32).
        tokenizer: Generative decoders: the tokenizer (string prompts, perplexity with real weights).
        prompts: Generative decoders: prompts (strings with a tokenizer, else token-id lists; default: the
            rows of ``example_inputs`` when they are token ids).
        draft_model: Generative decoders: a draft model for ``speculative-decoding`` (assisted generation).
        generation: None: measure generation per token when the model is a generative decoder with
            ``generate`` (see ``advisor.tuning._generation``); False: time the forward pass as for any model.
        generation_options: Extra keyword arguments for :func:`advisor.measure_generation` (rounds, windows).

    Returns:
        A :class:`TunePlan` (also written to the store).

    Raises:
        TuneError: a bad phase, or training without ``steps_per_epoch``/``epochs``.
        ConstraintError: a bad budget or constraint.
    """
    from advisor.catalog import load_catalog
    from advisor.measurement.store import ResultStore
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model

    t0 = time.perf_counter()
    _check(phase, budget_s, stacks_from_budget_s)
    c = _constraints(constraints, phase)
    given = {"eval_fn": eval_fn, "calibration_data": calibration_data, "name": name, "tokenizer": tokenizer,
             "prompts": prompts, "draft_model": draft_model}  # fmt: skip
    spec = spec_from_call(model, example_inputs, "tune()", **given)
    if phase == "training" and spec.training is not None:  # energy to a target, not per step (issue 22)
        from advisor.tuning._to_target import tune_to_target

        store = store if isinstance(store, ResultStore) else ResultStore(store)
        return tune_to_target(
            spec,
            c,
            budget_s=budget_s,
            store=store,
            hw=hardware or detect_hardware(),
            catalog=catalog or load_catalog(),
            t0=t0,
            region=region,
        )
    model, inputs, eval_fn, calibration_data, name = (
        spec.model,
        spec.inputs,
        spec.eval_fn,
        spec.calibration_data,
        spec.name,
    )
    tokenizer, prompts, draft_model = spec.tokenizer, spec.prompts, spec.draft_model
    training = {"steps_per_epoch": steps_per_epoch, "epochs": epochs, "targets": targets, "loss_fn": loss_fn}
    kw = {"eval_fn": eval_fn, "calibration_data": calibration_data, "store": None, "region": region, "pue": pue,
          "name": name, "progress": progress, "on_result": on_result}  # fmt: skip
    if phase == "training":
        _training_kw(kw, training)  # fails early
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    kw["store"] = store
    hw = hardware or detect_hardware()
    catalog = catalog or load_catalog()
    prof = profile_model(model, inputs, name=name, phase=phase)
    opts = {"generation": generation, "batch_sizes": batch_sizes, "max_new_tokens": max_new_tokens,
            "tokenizer": tokenizer, "prompts": prompts, "draft_model": draft_model, "max_variants": max_variants,
            "generation_options": generation_options}  # fmt: skip
    path = path_for(prof, model, phase, opts)  # a registered path (generation) that claims this model
    if path is not None:
        return path.run(model, inputs, prof=prof, hw=hw, c=c, catalog=catalog, store=store, budget_s=budget_s,
                        opts=opts, t0=t0)  # fmt: skip
    measurable = measurable_here(phase)
    knowledge = knowledge_for(store, hw)
    rec = recommend(prof, hw, c, catalog, measurable=measurable, knowledge=knowledge)
    limit = max_variants or _default_limit(budget_s)
    queue = _candidates(rec, measurable)
    stacks_s = stacks_from_budget_s if stacks else float("inf")
    runs, cands, notes = _run_stages(model, inputs, queue, limit, budget_s, kw, training, phase, c, catalog, stacks_s)
    recoveries = recovery_records(cands, {r.technique: r.settings for run in runs for r in run.results})
    winner, fastest_unverified, cands_ok = _pick(cands, c.objective)
    rest = [x for x in cands if not x.pays_off]
    plan = TunePlan(
        model_name=prof.name, phase=phase, objective=c.objective, winner=winner,
        runners_up=[x for x in cands_ok if x is not winner], fastest_unverified=fastest_unverified,
        recoveries=recoveries,
        no_payoff=rest, known_no_payoff=known_no_payoff(rec), more_effort=more_effort(rec), artifact=None,
        measured=sum(1 for x in cands if x.latency_ratio is not None), elapsed_s=0.0, budget_s=float(budget_s),
        run=_merge(runs) if runs else None, run_ids=[r.run_id for r in runs if r.run_id],
        store_path=str(store.path), knowledge_used=len(knowledge), recommendations=rec, notes=notes,
    )  # fmt: skip
    if not queue:
        plan.notes.append("nothing in the catalog can be applied and measured here for this model and constraints")
    finish(plan, store, prof, model, inputs, calibration_data, save and phase == "inference", save_dir)
    plan.elapsed_s = round(time.perf_counter() - t0, 1)
    return plan


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


def _recover(  # noqa: PLR0917 - a private step of tune(), called once
    model: Any,
    inputs: tuple[Any, ...],
    cands: list[Candidate],
    left_s: float,
    kw: dict[str, Any],
    c: Constraints,
    catalog: Any,
) -> tuple[Any, list[Candidate], str | None]:
    """Measure the recoveries of the int8 variants that failed the quality gate (see ``advisor.tuning._recover``).

    Returns:
        (the run or None, the recoveries judged, a note when some were not measured for lack of budget).
    """
    queue = recovery_queue(cands, measurable_here("inference"), kw.get("eval_fn"))
    if not queue:
        return None, [], None
    ids = [r for r, _ in queue]
    if left_s < MIN_REFILL_S:
        return (
            None,
            [],
            (
                f"recoveries {', '.join(ids)} of failed int8 variants not measured: {max(left_s, 0):.0f} s "
                "of the budget left (give a larger budget)"
            ),
        )
    run = _measure_inference(model, inputs, ids, left_s, kw)
    return run, [judge(r, c, catalog, run.run_id) for r in run.results], None


def _stage1(  # noqa: PLR0917 - a private step of tune(), called once
    model: Any, inputs: tuple[Any, ...], queue: list[tuple[str, str]], limit: int, budget_s: float,
    kw: dict[str, Any], c: Constraints, catalog: Any,
) -> tuple[list[Any], list[Candidate]]:  # fmt: skip
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
        run = _measure_inference(model, inputs, [v for v, _ in batch], left, kw)
        runs.append(run)
        judged = [judge(r, c, catalog, run.run_id) for r in run.results]
        cands += judged
        failed = {fam for (v, fam) in batch for x in judged if x.variant == v and x.latency_ratio is None}
        queue = [q for q in queue if q[1] in failed] + [q for q in queue if q[1] not in failed]
        if run.status != "finished":
            break
    return runs, cands


def _run_stages(  # noqa: PLR0917 - a private step of tune(), called once
    model: Any, inputs: tuple[Any, ...], queue: list[tuple[str, str]], limit: int, budget_s: float,
    kw: dict[str, Any], training: dict[str, Any], phase: str, c: Constraints, catalog: Any, stacks_from_s: float,
) -> tuple[list[Any], list[Candidate], list[str]]:  # fmt: skip
    """Stage 1 (single variants) and stage 2 (stacks of what paid off): the runs, judged candidates, notes.

    Stage 2 runs only when ``budget_s >= stacks_from_s`` (``inf``: never).
    """
    if not queue:
        return [], [], []
    notes: list[str] = []
    if phase == "training":
        from advisor.measurement.training import measure_training

        variants = [v for v, _ in queue[:limit]]
        run = measure_training(model, inputs, techniques=variants, budget_s=budget_s, **_training_kw(kw, training))
        return [run], [judge(r, c, catalog, run.run_id) for r in run.results], notes
    t_stage = time.perf_counter()
    stacks = budget_s >= stacks_from_s
    runs, cands = _stage1(model, inputs, queue, limit, budget_s * (STAGE1_SHARE if stacks else 1.0), kw, c, catalog)
    if runs[-1].status == "finished":  # recoveries of failed int8 variants: half of what is left with stacks to come
        left = budget_s - (time.perf_counter() - t_stage)
        run_r, recovered, note = _recover(
            model, inputs, cands, left * (RECOVERY_SHARE if stacks else 1.0), kw, c, catalog
        )
        runs += [run_r] if run_r is not None else []
        cands += recovered
        notes += [note] if note else []
    if stacks:
        left = budget_s - (time.perf_counter() - t_stage) if runs[-1].status == "finished" else None
        good = sorted((x for x in cands if x.pays_off), key=lambda x: _key(x, c.objective))
        run2, stacked, note = _stage2(model, inputs, good, left, kw, c, catalog)
        runs += [run2] if run2 is not None else []
        cands += stacked
        notes += [note] if note else []
    warn = next((w for r in runs if (w := r.load_warning())), None)
    if warn:
        notes.append(warn)
    return runs, cands, notes


def _stage2(  # noqa: PLR0917 - a private step of tune(), called once
    model: Any, inputs: tuple[Any, ...], winners: list[Candidate], left_s: float | None, kw: dict[str, Any],
    c: Constraints, catalog: Any,
) -> tuple[Any, list[Candidate], str | None]:  # fmt: skip
    """Stacks of the stage-1 winners (best first), measured against the baseline in one engine run.

    ``left_s`` is the budget left after stage 1, in seconds (None: stage 1 was interrupted).

    Returns:
        (the run or None, the stacks judged like single variants, a note). Without two stackable winners
        nothing is measured and there is no note; after an interruption or with too little budget left
        (< ``MIN_STACK_BUDGET_S``) nothing is measured and the note names the stacks left out, so a plan
        never claims a stack it did not measure.
    """
    combos = _stack_variants(winners, catalog)
    if not combos:
        return None, [], None
    if left_s is None:
        return None, [], f"stacks {', '.join(combos)} not measured: the single variants' run was interrupted"
    if left_s < MIN_STACK_BUDGET_S:
        return None, [], f"stacks {', '.join(combos)} not measured: {max(left_s, 0):.0f} s of the budget left"
    run = _measure_inference(model, inputs, combos, left_s, kw)
    return run, [judge(r, c, catalog, run.run_id) for r in run.results], None
