"""Tune for generative decoders: measure generation per token at a few batch sizes and pick per batch size.

When the profiled model is a generative decoder with ``generate``, :func:`advisor.tune` comes here instead
of timing one forward pass: the shortlist is the group "apply now" of ``recommend`` restricted to the
variants :func:`advisor.measure_generation` supports (most promising first, as many as the budget
allows); one generation run measures them at each batch size (default 1 and 4) in interleaved paired
rounds; :func:`advisor.generation.generation_advice` ranks them per batch size, and the plan carries
the pick per batch size and the crossover lines ("pays off here only from batch 8", "1.6x faster at
38 % acceptance, energy x0.70").

Quality: the one rule, :func:`advisor.measurement.quality.judge_quality`, with generation's limits
(:func:`advisor.generation.quality_limits`, shared with the advice and the benchmark): a
perplexity ratio on the shipped text (real weights with a tokenizer) must stay within
:data:`advisor.generation.MAX_PERPLEXITY_RATIO`; without a tokenizer, real weights need a greedy agreement of at least
:data:`advisor.generation.MIN_GREEDY_AGREEMENT`; a technique that leaves weights and kernels unchanged keeps quality by
construction; random weights: quality is not judged (speed and energy are what was measured).
With real weights and a tokenizer, a variant beyond the perplexity tolerance is not timed at all
(``measure_generation(max_perplexity_ratio=...)``): it could never be picked, and its rounds would
take the budget from those that can.

:func:`generation_picks` gives the pick per batch size of any generation run by the same rule as tune.
"""

from __future__ import annotations

import time
from typing import Any

from advisor.catalog import VariantId
from advisor.generation import (
    MAX_PERPLEXITY_RATIO,
    GenerationRun,
    generation_advice,
    generation_measurable,
    is_generative,
    measure_generation,
    quality_limits,
)
from advisor.measurement.quality import judge_quality
from advisor.recommendation import base_technique, recommend
from advisor.tuning._knowledge import knowledge_for
from advisor.tuning._paths import TunePath, register_tune_path
from advisor.tuning._picks import better, finish, known_no_payoff, more_effort
from advisor.tuning._plan import BatchPick, Candidate, TunePlan
from advisor.tuning._settings import DEFAULT_BATCH_SIZES, DEFAULT_NEW_TOKENS

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "DEFAULT_NEW_TOKENS",
    "generation_order",
    "generation_picks",
    "tune_generation",
]


def generation_order(
    model: Any, prof: Any, hw: Any, catalog: Any, *, constraints: Any = None, draft_model: Any = None
) -> list[str]:
    """The generation variants measurable here for this model, most promising first (the Generate tab's default).

    First tune's shortlist (``recommend``'s group "apply now", in its order), then the other measurable ids.

    Args:
        model: A causal LM with ``generate``.
        prof: Its :class:`advisor.ModelProfile`.
        hw: A :class:`advisor.HardwareProfile`.
        catalog: The technique catalog.
        constraints: :class:`advisor.Constraints` (default: inference, objective energy).
        draft_model: A draft model (``speculative-decoding`` is measurable only with one).
    """
    from advisor.profile.constraints import Constraints

    measurable = generation_measurable(model, draft_model)
    rec = recommend(prof, hw, constraints or Constraints.make(phase="inference"), catalog, measurable=measurable)
    first = _shortlist(rec, measurable, len(measurable))
    return first + [v for v in measurable if v not in first]


def _shortlist(rec: Any, measurable: list[str], limit: int) -> list[str]:
    out: list[str] = []
    for r in rec.in_group("apply-now"):
        out += [v for v in measurable if base_technique(v) == r.id and v not in out]
    return out[:limit]


def _how(r: Any, catalog: Any) -> list[str]:
    lines = []
    for part in VariantId.parse(r.technique).techniques:
        if part in catalog:
            lines += [
                f"{i.call}" + (f": {' '.join(i.note.split())}" if i.note else "")
                for i in catalog.get(part).implementations[:2]
            ]
    if r.settings:
        lines.append(f"as measured: {r.settings}")
    lines.append(
        f"measure it again: advisor.measure_generation(model, techniques=[{r.technique!r}], "
        f"batch_sizes=[{r.batch_size}])"
    )
    return lines


def _candidate(r: Any, c: Any, catalog: Any, run_id: str, real_weights: bool) -> Candidate:
    cand = Candidate(
        variant=r.technique, status=r.status, run_id=run_id, how_to_apply=_how(r, catalog), batch_size=r.batch_size
    )
    comp = r.comparison.get("end_to_end")
    if r.status != "ok" or comp is None or comp.latency_ratio is None:
        cand.reason = r.reason or r.status
        return cand
    cand.verdict, cand.latency_ratio, cand.energy_ratio = comp.verdict, comp.latency_ratio, comp.energy_ratio
    cand.energy_verdict, cand.energy_method = comp.energy_verdict, comp.energy_method
    cand.acceptance_rate = (r.acceptance or {}).get("acceptance_rate")
    cand.j_per_output_token = r.figures.j_per_output_token if r.figures else None
    q = r.quality or {}
    keys = ("perplexity_ratio", "greedy_agreement", "logit_top1_agreement", "logit_cosine")
    cand.fidelity = {k: float(q[k]) for k in keys if isinstance(q.get(k), int | float)}
    verdict = judge_quality(r.quality, **quality_limits(real_weights))
    cand.quality_status, cand.quality_ok, cand.quality_figure = verdict.status, verdict.ok, verdict.figure
    is_better, why_b = better(comp, c.objective)
    cand.pays_off = is_better and verdict.status != "failed"
    cand.reason = None if cand.pays_off else (why_b or verdict.reason)
    if cand.pays_off and cand.quality_ok is None:
        cand.reason = "quality not judged: random weights (speed and energy effects only)"
    return cand


def _picks(run: Any, adv: Any, cands: list[Candidate], objective: str) -> list[BatchPick]:
    picks = []
    for b in run.batch_sizes:
        mine = {x.variant: x for x in cands if x.batch_size == b}
        ranking = adv.ranking.get(b, [])
        if objective == "latency":
            order = [v.technique for v in sorted(ranking, key=lambda v: -(v.speedup or 0.0))]
        else:  # the advice's pick first (lowest J/token with significantly less energy), then its ranking
            order = [adv.best.get(b, "baseline"), *(v.technique for v in ranking)]
        win = next((mine[t] for t in order if t in mine and mine[t].pays_off), None)
        picks.append(BatchPick(b, win, objective))
    return picks


def generation_picks(run: Any, objective: str = "energy", catalog: Any = None) -> dict[int, str]:
    """Batch size -> the variant tune picks there from this generation run (``baseline``: nothing paid off).

    The same rule as :func:`advisor.tune` for a generative decoder: per (variant, batch size), a significant saving
    on ``objective`` (energy: ``less energy``; latency: ``faster``) within the quality rule; among those, the
    advice's best first, then its ranking.

    Args:
        run: A :class:`advisor.measurement.GenerationRun` (or its dict).
        objective: ``energy`` or ``latency``.
        catalog: The technique catalog (default: the shipped one).
    """
    from advisor.catalog import load_catalog
    from advisor.profile.constraints import Constraints

    run = GenerationRun.from_dict(run) if isinstance(run, dict) else run
    c = Constraints.make(phase="inference", objective=objective)
    catalog = catalog or load_catalog()
    real = run.meta.get("weights") == "real"
    cands = [_candidate(r, c, catalog, run.run_id, real) for r in run.results if r.technique != "baseline"]
    picks = _picks(run, generation_advice(run), cands, objective)
    return {p.batch_size: p.winner.variant if p.winner else "baseline" for p in picks}


def _overall(picks: list[BatchPick]) -> Candidate | None:
    """The variant picked at the most batch sizes (ties: the one picked at the smallest batch size)."""
    won = [p.winner for p in picks if p.winner is not None]
    if not won:
        return None
    counts = {w.variant: sum(1 for x in won if x.variant == w.variant) for w in won}
    return max(won, key=lambda w: (counts[w.variant], -won.index(w)))


def tune_generation(
    spec: Any, settings: Any, *, prof: Any, hw: Any, c: Any, catalog: Any, store: Any, budget_s: float, t0: float
) -> TunePlan:
    """Tune a generative decoder per output token at a few batch sizes (see the module docstring).

    ``spec`` is the :class:`advisor.ModelSpec` (its tokenizer, prompts and draft model), ``settings`` tune's
    :class:`advisor.TuneSettings` (``max_variants`` and the :class:`advisor.GenerationOptions`).
    """
    model, inputs, draft, g = spec.model, spec.inputs, spec.draft_model, settings.generation
    measurable = generation_measurable(model, draft)
    knowledge = knowledge_for(store, hw)
    rec = recommend(prof, hw, c, catalog, measurable=measurable, knowledge=knowledge)
    limit = settings.max_variants or int(min(6, max(2, budget_s // 10)))
    variants = _shortlist(rec, measurable, limit)
    prompts = spec.prompts
    x = inputs[0] if inputs else None
    is_ids = getattr(x, "dtype", None) is not None and not x.dtype.is_floating_point and x.dim() == 2
    if prompts is None and spec.tokenizer is None and is_ids:
        prompts = x.tolist()  # the example input ids are the prompts
    gen_opts = {"max_perplexity_ratio": MAX_PERPLEXITY_RATIO, **g.measure_options}
    run = measure_generation(
        model,
        spec.tokenizer,
        prompts,
        max_new_tokens=g.max_new_tokens,
        batch_sizes=list(g.batch_sizes),
        techniques=variants,
        draft_model=draft,
        budget_s=budget_s,
        store=store,
        name=prof.name,
        **gen_opts,
    )
    real = run.meta.get("weights") == "real"
    cands = [_candidate(r, c, catalog, run.run_id, real) for r in run.results if r.technique != "baseline"]
    adv = generation_advice(run)
    picks = _picks(run, adv, cands, c.objective)
    winner = _overall(picks)
    picked = {id(p.winner) for p in picks if p.winner is not None}
    notes = [
        f"generation: measured per output token at batch sizes {run.batch_sizes}, "
        f"{run.meta.get('max_new_tokens')} new tokens per prompt ({run.meta.get('weights')} weights)"
    ]
    if run.meta.get("weights_note"):
        notes.append(run.meta["weights_note"])
    if winner is not None:
        notes.append(
            "generation variants change the model or the generate() call: apply them with the code "
            "above (no artifact is saved)"
        )
    plan = TunePlan(
        model_name=prof.name,
        phase="inference",
        objective=c.objective,
        winner=winner,
        runners_up=[x for x in cands if x.pays_off and x is not winner],
        no_payoff=[x for x in cands if not x.pays_off],
        known_no_payoff=known_no_payoff(rec),
        more_effort=more_effort(rec),
        artifact=None,
        measured=sum(1 for x in cands if x.latency_ratio is not None),
        elapsed_s=0.0,
        budget_s=float(budget_s),
        run=run,
        run_ids=[run.run_id],
        store_path=str(store.path),
        knowledge_used=len(knowledge),
        recommendations=rec,
        notes=notes,
        per_batch=picks,
        crossover=list(adv.lines),
    )
    plan.runners_up.sort(key=lambda x: (id(x) not in picked, x.batch_size or 0))
    if not variants:
        plan.notes.append("nothing in the catalog can be measured for generation here for this model and constraints")
    finish(plan, store, prof, model, inputs, None, False, None)
    plan.elapsed_s = round(time.perf_counter() - t0, 1)
    return plan


def _claims(prof: Any, model: Any, phase: str, settings: Any) -> bool:
    """Tune measures generation per token for a generative decoder at inference, unless generation is disabled.

    ``settings.generation.enabled`` (:class:`advisor.GenerationOptions`): None measures a decoder per token,
    False times its forward pass as for any model.
    """
    return phase == "inference" and settings.generation.enabled is not False and is_generative(prof, model)


register_tune_path(TunePath("generation", _claims, tune_generation))  # tune() asks the registry, never branches
