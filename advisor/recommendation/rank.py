"""Ranking every technique in the catalog for a model, a machine and a set of constraints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from advisor._errors import ExcludedTechniqueError, UnknownTechniqueError
from advisor.catalog import schema as S
from advisor.profile.constraints import Constraints
from advisor.profile.hardware import HardwareProfile
from advisor.profile.model import ModelProfile
from advisor.recommendation.estimate import DIRECT, PROXY, Estimate, estimate
from advisor.recommendation.rules import Finding, adjust, exclusion_reasons

if TYPE_CHECKING:
    import pandas as pd

    from advisor.catalog import Catalog
    from advisor.recommendation.stacks import Stack

__all__ = ["Excluded", "Recommendation", "Recommendations", "recommend"]

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


def _live_appliers() -> frozenset[str]:
    """Technique ids that can be applied and measured on this machine (the measure package)."""
    from advisor.measurement.appliers import available_ids  # light: appliers import torch only when run

    return frozenset(available_ids())


@dataclass(frozen=True)
class Recommendation:
    """One recommended technique.

    Attributes:
        id: Technique id.
        name: Technique name.
        rank: 1 for the best.
        score: 0-100; higher is better. Deterministic for the same inputs.
        estimate: Expected effect on the objective (ratios new/baseline), adjusted for here.
        accuracy_risk: From the catalog: none, low, medium, high.
        effort: From the catalog: low, medium, high.
        why: The reasons, each pointing at evidence, a profile fact or a constraint.
        warnings: What may stop it from paying off here.
        measurable_here: Whether `advisor.measure` can apply and measure it on this machine.
        implementations: Library calls that apply it.
    """

    id: str
    name: str
    rank: int
    score: float
    estimate: Estimate
    accuracy_risk: str
    effort: str
    why: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    measurable_here: bool
    implementations: tuple[str, ...] = ()

    def expected_text(self) -> str:
        """The expected saving in words, e.g. '30% less energy (15-45%, medium confidence)'."""
        e = self.estimate
        if e.ratio is None:
            return "no quantitative evidence"
        pct = lambda r: f"{(1 - r) * 100:.0f}%"  # noqa: E731
        rng = ""
        if e.low is not None and e.high is not None and pct(e.high) != pct(e.low):
            rng = f"{pct(e.high)} to {pct(e.low)}"
        proxy = ", from proxies" if e.proxy else ""
        word = "less" if e.ratio <= 1 else "MORE"
        amount = pct(e.ratio) if e.ratio <= 1 else f"{(e.ratio - 1) * 100:.0f}%"
        return f"{amount} {word} {e.objective} (" + (f"{rng}, " if rng else "") + f"{e.confidence} confidence{proxy})"


@dataclass(frozen=True)
class Excluded:
    """A technique left out, with every reason."""

    id: str
    name: str
    reasons: tuple[Finding, ...]


@dataclass
class Recommendations:
    """The result of :func:`recommend`: ranked techniques, exclusions, stacks and explanations."""

    recommended: list[Recommendation]
    excluded_items: list[Excluded]
    model: ModelProfile
    hardware: HardwareProfile
    constraints: Constraints
    catalog: Catalog = field(repr=False)

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
        from advisor.recommendation.stacks import build_stacks

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
            "stacks": [s.to_dict() for s in self.stacks()],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=list)


def _why(t: S.Technique, est: Estimate, model: ModelProfile, hw: HardwareProfile, c: Constraints) -> list[Finding]:
    why: list[Finding] = []
    aligned = OBJECTIVE_SAVES[c.objective] & set(t.saves)
    if aligned:
        why.append(Finding("constraint", f"saves {', '.join(sorted(aligned))}, your objective", "technique.saves"))
    for i in est.basis:
        ev = t.evidence[i]
        hw_text = f" on {ev.hardware}" if ev.hardware else ""
        why.append(
            Finding(
                "evidence",
                f"{ev.describe()} ({ev.setting}{hw_text}) [{ev.reference}, {ev.locator}]",
                f"evidence[{i}]",
            )
        )
    for i, ev in enumerate(t.evidence):
        if ev.scope == "component" and ev.metric in (*DIRECT[c.objective], *PROXY[c.objective]):
            why.append(
                Finding(
                    "evidence",
                    f"context, not counted (one component, not a whole model): {ev.describe()} "
                    f"[{ev.reference}, {ev.locator}]",
                    f"evidence[{i}]",
                )
            )
    if est.proxy:
        why.append(
            Finding("evidence", f"no direct {c.objective} figure: estimated from time/compute proxies", "evidence")
        )
    fams = t.applicability.model_families
    if model.family != "unknown" and model.family in fams:
        why.append(Finding("profile", f"made for {model.family} models like yours", "profile.family"))
    if t.applicability.needs_retraining == "none":
        why.append(Finding("constraint", "needs no retraining", "applicability.needs_retraining"))
    feats = [f for f in t.applicability.requires_features if hw.has(f)]
    if feats:
        why.append(Finding("hardware", f"this machine has {', '.join(feats)}", "hardware"))
    return why


def _score(t: S.Technique, est: Estimate, c: Constraints, *, aligned: bool, live: bool) -> float:
    """See docs/advisor.md; ``aligned``: the technique lists the objective among what it saves."""
    saving = est.saving
    if saving is None:
        saving = QUALITATIVE_PRIOR if aligned else QUALITATIVE_PRIOR / 3
    saving = max(min(saving, 0.95), -1.0)
    n = len(est.basis)
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
        if live:
            score *= 1.05
    return round(score, 2)


def recommend(
    model: ModelProfile,
    hardware: HardwareProfile | None = None,
    constraints: Constraints | None = None,
    catalog: Catalog | None = None,
) -> Recommendations:
    """Rank every catalog technique for this model, machine and constraints.

    Args:
        model: From :func:`advisor.profile_model`, a profile file or a spec.
        hardware: Defaults to :func:`advisor.detect_hardware`.
        constraints: Defaults to ``Constraints()`` with the model's phase.
        catalog: Defaults to :func:`advisor.load_catalog`.

    Returns:
        Every technique either recommended with a score or excluded with its reasons.
    """
    from advisor.catalog import load_catalog
    from advisor.profile.hardware import detect_hardware

    hardware = hardware or detect_hardware()
    constraints = constraints or Constraints(phase=model.phase)
    catalog = catalog or load_catalog()
    live_ids = _live_appliers()
    scored: list[tuple[float, str, Recommendation]] = []
    excluded: list[Excluded] = []
    for t in catalog:
        reasons = exclusion_reasons(t, model, hardware, constraints)
        if reasons:
            excluded.append(Excluded(t.id, t.name, tuple(reasons)))
            continue
        # time stands in for energy only "at equal power": not for techniques that do not claim to
        # save the objective (e.g. data parallelism buys speed with more hardware)
        aligned = bool(OBJECTIVE_SAVES[constraints.objective] & set(t.saves))
        est = estimate(t, constraints.objective, constraints.phases, allow_proxy=aligned)
        est, warnings = adjust(t, est, model, hardware, constraints)
        if est.ratio is not None and est.ratio >= 1.0 and est.confidence in ("high", "medium"):
            excluded.append(
                Excluded(
                    t.id,
                    t.name,
                    (
                        Finding(
                            "evidence", f"the cited evidence shows no {constraints.objective} saving here", "evidence"
                        ),
                        *warnings,
                    ),
                )
            )
            continue
        live = t.id in live_ids
        rec = Recommendation(
            id=t.id,
            name=t.name,
            rank=0,
            score=_score(t, est, constraints, aligned=aligned, live=live),
            estimate=est,
            accuracy_risk=t.costs.accuracy_risk,
            effort=t.costs.effort,
            why=tuple(_why(t, est, model, hardware, constraints)),
            warnings=tuple(warnings),
            measurable_here=live,
            implementations=tuple(i.call for i in t.implementations),
        )
        scored.append((-rec.score, t.id, rec))
    scored.sort(key=lambda x: (x[0], x[1]))
    ranked = [replace(r, rank=i + 1) for i, (_, _, r) in enumerate(scored)]
    return Recommendations(ranked, sorted(excluded, key=lambda e: e.id), model, hardware, constraints, catalog)
