"""Ranking every technique in the catalog for a model, a machine and a set of constraints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from advisor._errors import ExcludedTechniqueError, UnknownTechniqueError
from advisor.catalog import schema as S
from advisor.catalog.variant_id import VariantId
from advisor.profile.constraints import Constraints
from advisor.profile.hardware import HardwareProfile
from advisor.profile.model import ModelProfile
from advisor.recommendation._context import hardware_class_of
from advisor.recommendation._groups import Group, group_of, nest, parent_of
from advisor.recommendation._items import Excluded, Recommendation
from advisor.recommendation._knowledge import Observation, prior_estimate, reason_text
from advisor.recommendation.estimate import DIRECT, PROXY, Estimate, estimate
from advisor.recommendation.rules import Finding, adjust, exclusion_reasons
from advisor.recommendation.stacks import Stack, build_stacks

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from advisor.catalog import Catalog

__all__ = ["Excluded", "Recommendation", "Recommendations", "measurable_ids", "recommend"]

OBJECTIVE_SAVES = {
    "energy": {"energy"},
    "latency": {"time"},
    "memory": {"memory"},
    "model-size": {"model-size"},
    "carbon": {"carbon", "energy"},
}
CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.75, "low": 0.5, "none": 0.45}
RISK_WEIGHT = {"none": 1.0, "low": 0.95, "medium": 0.85, "high": 0.7}
EFFORT_WEIGHT = {"low": 1.0, "medium": 0.9, "high": 0.8}
NOT_ACTIONABLE_WEIGHT = 0.75
PROXY_WEIGHT = 0.8  # a figure on the objective itself counts more than one on a stand-in
# Without a figure, a technique that says it saves the objective is ranked as if it saved this
# much; it is shown as "no quantitative evidence", never as a number.
QUALITATIVE_PRIOR = 0.12
# Phase relevance: the stage a technique acts in, for the phase the user asked about.
STAGE_FIT = {
    "inference": {"deployment": 1.0, "modeling": 0.8, "it-infrastructure": 0.8, "data": 0.5, "training": 0.6},
    "training": {"training": 1.0, "data": 0.9, "modeling": 0.8, "it-infrastructure": 0.8, "deployment": 0.6},
}


@dataclass
class Recommendations:
    """The result of :func:`recommend`: ranked techniques, exclusions, stacks and explanations."""

    recommended: list[Recommendation]
    excluded_items: list[Excluded]
    model: ModelProfile
    hardware: HardwareProfile
    constraints: Constraints
    catalog: Catalog = field(repr=False)
    machine_class: str | None = None
    observations_used: int = 0

    def __len__(self) -> int:
        return len(self.recommended)

    def __getitem__(self, technique_id: str) -> Recommendation:
        for r in self.recommended:
            if r.id == technique_id:
                return r
        excluded = next((e for e in self.excluded_items if e.id == technique_id), None)
        raise ExcludedTechniqueError(technique_id, [f.text for f in excluded.reasons] if excluded else [])

    @property
    def ids(self) -> list[str]:
        """Recommended ids, best first."""
        return [r.id for r in self.recommended]

    def groups(self) -> list[Group]:
        """The advice in its five groups, in order; parents head the recommended techniques that specialise them."""
        parents = {t.id: parent_of(t) for t in self.catalog}
        return nest(self.recommended, parents)

    def in_group(self, key: str) -> list[Recommendation]:
        """The recommendations of one group (``apply-now``, ``more-effort``, ...), in rank order."""
        return [r for r in self.recommended if r.group == key]

    def rank_of(self, technique_id: str) -> int | None:
        """1-based rank, or None if excluded."""
        return next((r.rank for r in self.recommended if r.id == technique_id), None)

    def table(self, top: int | None = None) -> pd.DataFrame:
        """The ranking as a pandas DataFrame, best first."""
        import pandas as pd

        rows = [
            {
                "rank": r.rank,
                "id": r.id,
                "score": r.score,
                "expected": r.expected_text(),
                "expected_ratio": r.estimate.ratio,
                "ratio_low": r.estimate.low,
                "ratio_high": r.estimate.high,
                "confidence": r.estimate.confidence,
                "accuracy_risk": r.accuracy_risk,
                "effort": r.effort,
                "measurable_here": r.measurable_here,
                "group": r.group,
                "parent": r.parent,
                "measured_here": bool(r.estimate.measured),
                "warnings": len(r.warnings),
                "name": r.name,
            }
            for r in self.recommended[:top]
        ]
        return pd.DataFrame(rows).set_index("rank") if rows else pd.DataFrame()

    def excluded(self) -> pd.DataFrame:
        """Every excluded technique with its reasons."""
        import pandas as pd

        return pd.DataFrame(
            [{"id": e.id, "name": e.name, "reasons": "; ".join(f.text for f in e.reasons)} for e in self.excluded_items]
        )

    def explain(self, technique_id: str) -> str:
        """Why a technique is recommended (with its evidence), or why not."""
        t = self.catalog.get(technique_id)
        for e in self.excluded_items:
            if e.id == technique_id:
                lines = [f"{t.name} ({t.id}) is NOT recommended here:"]
                lines += [f"  - {f.text}  [{f.ref}]" for f in e.reasons]
                return "\n".join(lines)
        try:
            r = self[technique_id]
        except KeyError:
            raise UnknownTechniqueError(technique_id, []) from None
        lines = [
            f"#{r.rank} {t.name} ({t.id}), score {r.score:.1f}",
            f"expected: {r.expected_text()}",
            f"accuracy risk {r.accuracy_risk}, effort {r.effort}; "
            f"{'can' if r.measurable_here else 'cannot yet'} be measured live here",
            "why:",
        ]
        lines += [f"  - {f.text}  [{f.ref}]" for f in r.why]
        if r.estimate.adjustments:
            lines.append("adjusted for this machine and model:")
            lines += [f"  - {a}" for a in r.estimate.adjustments]
        if r.warnings:
            lines.append("warnings:")
            lines += [f"  - {f.text}  [{f.ref}]" for f in r.warnings]
        if r.implementations:
            lines.append("apply with: " + ", ".join(r.implementations))
        return "\n".join(lines)

    def stacks(self, n: int = 3, size: int = 4, pool: int = 15) -> list[Stack]:
        """Up to ``n`` compatible combinations; see :func:`advisor.recommendation.stacks.build_stacks`."""
        return build_stacks(self, n=n, size=size, pool=pool)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with stable field names."""

        def rec(r: Recommendation) -> dict[str, Any]:
            d = asdict(r)
            d["expected"] = r.expected_text()
            return d

        return {
            "constraints": self.constraints.model_dump(),
            "model": self.model.model_dump(),
            "hardware": self.hardware.model_dump(mode="json"),
            "recommended": [rec(r) for r in self.recommended],
            "excluded": [asdict(e) for e in self.excluded_items],
            "groups": [g.to_dict() for g in self.groups()],
            "machine_class": self.machine_class,
            "stacks": [s.to_dict() for s in self.stacks()],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=list)


def _evidence_findings(t: S.Technique, est: Estimate, c: Constraints) -> list[Finding]:
    out: list[Finding] = []
    for i in est.basis:
        ev = t.evidence[i]
        hw_text = f" on {ev.hardware}" if ev.hardware else ""
        cls = getattr(ev, "hardware_class", None)
        cls_text = f", {cls}" if cls else ""
        text = f"{ev.describe()} ({ev.setting}{hw_text}{cls_text}) [{ev.reference}, {ev.locator}]"
        out.append(Finding("evidence", text, f"evidence[{i}]"))
    metrics = (*DIRECT[c.objective], *PROXY[c.objective])
    for i, ev in enumerate(t.evidence):
        basis = getattr(ev, "basis", None) or "saving"
        if ev.metric not in metrics or (ev.scope != "component" and basis == "saving"):
            continue
        why = "one component, not a whole model" if ev.scope == "component" else f"basis {basis}, not a saving"
        text = f"context, not counted ({why}): {ev.describe()} [{ev.reference}, {ev.locator}]"
        out.append(Finding("evidence", text, f"evidence[{i}]"))
    return out


def _why(
    t: S.Technique,
    est: Estimate,
    model: ModelProfile,
    hw: HardwareProfile,
    c: Constraints,
    *,
    measured: list[Finding],
) -> list[Finding]:
    why: list[Finding] = [*measured]
    aligned = OBJECTIVE_SAVES[c.objective] & set(t.saves)
    if aligned:
        why.append(Finding("constraint", f"saves {', '.join(sorted(aligned))}, your objective", "technique.saves"))
    why += _evidence_findings(t, est, c)
    if est.discount < 1.0:
        note = next((a for a in est.adjustments if a.startswith("evidence from")), "evidence from other hardware")
        why.append(Finding("hardware", f"discounted: {note}", "evidence.hardware_class"))
    if est.proxy:
        why.append(
            Finding("evidence", f"no direct {c.objective} figure: estimated from time/compute proxies", "evidence")
        )
    fams = t.applicability.model_families
    if model.family != "unknown" and model.family in fams:
        why.append(Finding("profile", f"made for {model.family} models like yours", "profile.family"))
    archs = set(getattr(t.applicability, "architectures", None) or []) - {"any"}
    if archs & set(model.architectures):
        why.append(Finding("profile", f"suits {model.trait_text()} models like yours", "applicability.architectures"))
    if t.applicability.needs_retraining == "none":
        why.append(Finding("constraint", "needs no retraining", "applicability.needs_retraining"))
    feats = [f for f in t.applicability.requires_features if hw.has(f)]
    if feats:
        why.append(Finding("hardware", f"this machine has {', '.join(feats)}", "hardware"))
    return why


def _score(t: S.Technique, est: Estimate, c: Constraints, *, aligned: bool) -> float:
    """See docs/advisor.md; ``aligned``: the technique lists the objective among what it saves.

    The score does not depend on what can be measured here (nor on which optional packages are installed).
    """
    saving = est.saving
    if saving is None:
        saving = QUALITATIVE_PRIOR if aligned else QUALITATIVE_PRIOR / 3
    saving = max(min(saving, 0.95), -1.0)
    n = len(est.basis) + len(est.measured)
    if n:  # shrink toward no effect when few items back the figure: n / (n + 1)
        saving *= n / (n + 1)
    score = 100.0 * saving * CONFIDENCE_WEIGHT[est.confidence]
    if est.proxy:
        score *= PROXY_WEIGHT
    if not aligned:
        score *= 0.5
    if score > 0:
        score *= RISK_WEIGHT[t.costs.accuracy_risk] * EFFORT_WEIGHT[t.costs.effort]
        fits = [STAGE_FIT[p].get(s, 0.4) for p in c.phases for s in t.lifecycle_stages]
        score *= max(fits, default=0.4)
        if not t.implementations:  # no library call applies it to a model: a hardware or research option
            score *= NOT_ACTIONABLE_WEIGHT
    return round(score, 2)


def measurable_ids(measurable: Iterable[str] | None) -> frozenset[str]:
    """Catalog ids measurable here from variant ids (``openvino-runtime@fp32`` counts for ``openvino-runtime``)."""
    parsed = [VariantId.parse(v) for v in (measurable or ())]
    return frozenset(v.base for v in parsed if not v.is_stack)


@dataclass
class _Context:
    model: ModelProfile
    hardware: HardwareProfile
    constraints: Constraints
    machine_class: str
    live: frozenset[str]
    observations: list[Observation]


def _assess(t: S.Technique, cx: _Context) -> Recommendation | Excluded:
    """One technique: excluded with its reasons, or a recommendation with its estimate and reasons."""
    c = cx.constraints
    reasons = exclusion_reasons(t, cx.model, cx.hardware, c)
    if reasons:
        return Excluded(t.id, t.name, tuple(reasons))
    # time stands in for energy only "at equal power": not for techniques that do not claim to
    # save the objective (e.g. data parallelism buys speed with more hardware)
    aligned = bool(OBJECTIVE_SAVES[c.objective] & set(t.saves))
    # where and how carefully you run does not depend on the hardware the evidence came from
    cls = None if getattr(t, "kind", None) in ("infrastructure", "practice") else cx.machine_class
    est = estimate(t, c.objective, c.phases, allow_proxy=aligned, machine_class=cls)
    est, warnings = adjust(t, est, cx.model, cx.hardware, c)
    est, used = prior_estimate(t.id, est, cx.observations, cx.model, c.objective)
    measured = [Finding("measurement", reason_text(o, sim, c.objective), f"run {o.run_id}") for o, sim in used]
    if est.ratio is not None and est.ratio >= 1.0 and est.confidence in ("high", "medium"):
        why = measured[:1] or [
            Finding("evidence", f"the cited evidence shows no {c.objective} saving here", "evidence")
        ]
        return Excluded(t.id, t.name, (*why, *warnings))
    live = t.id in cx.live
    return Recommendation(
        id=t.id,
        name=t.name,
        rank=0,
        score=_score(t, est, c, aligned=aligned),
        estimate=est,
        accuracy_risk=t.costs.accuracy_risk,
        effort=t.costs.effort,
        why=tuple(_why(t, est, cx.model, cx.hardware, c, measured=measured)),
        warnings=tuple(warnings),
        measurable_here=live,
        implementations=tuple(i.call for i in t.implementations),
        group=group_of(t, live),
        kind=getattr(t, "kind", None),
        parent=parent_of(t),
    )


def recommend(
    model: ModelProfile,
    hardware: HardwareProfile | None = None,
    constraints: Constraints | None = None,
    catalog: Catalog | None = None,
    *,
    measurable: Iterable[str] | None = None,
    knowledge: Iterable[Observation] | None = None,
) -> Recommendations:
    """Rank every catalog technique for this model, machine and constraints, in five groups.

    Args:
        model: From :func:`advisor.profile_model`, a profile file or a spec.
        hardware: Defaults to :func:`advisor.detect_hardware`.
        constraints: Defaults to ``Constraints()`` with the model's phase.
        catalog: Defaults to :func:`advisor.load_catalog`.
        measurable: Technique (or variant) ids the caller can apply and measure here, e.g. from
            ``advisor.measurement.appliers.available_ids()``; they form the group "apply now". None: none.
            The score does not depend on it.
        knowledge: Measurements on this machine (:class:`Observation` records, e.g. from
            ``advisor.tuning.knowledge_for``); a similar model's result outweighs the literature.

    Returns:
        Every technique either recommended with a score or excluded with its reasons.
    """
    from advisor.catalog import load_catalog
    from advisor.profile.hardware import detect_hardware

    hardware = hardware or detect_hardware()
    constraints = constraints or Constraints(phase=model.phase)
    catalog = catalog or load_catalog()
    phase_ok = {"inference"} if constraints.phases == {"inference"} else constraints.phases
    obs = [o for o in (knowledge or ()) if o.phase in phase_ok]
    cx = _Context(model, hardware, constraints, hardware_class_of(hardware), measurable_ids(measurable), obs)
    recs: list[Recommendation] = []
    excluded: list[Excluded] = []
    for t in catalog:
        got = _assess(t, cx)
        (recs if isinstance(got, Recommendation) else excluded).append(got)
    result = Recommendations(
        recs,
        sorted(excluded, key=lambda e: e.id),
        model,
        hardware,
        constraints,
        catalog,
        cx.machine_class,
        sum(bool(r.estimate.measured) for r in recs),
    )
    ordered = [r for g in result.groups() for _, r in g.rows()]
    result.recommended = [replace(r, rank=i + 1) for i, r in enumerate(ordered)]
    return result
