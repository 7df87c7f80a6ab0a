"""The value types of advice: one recommended technique and one left out (shared by rank, groups and stacks)."""

from __future__ import annotations

from dataclasses import dataclass

from advisor.recommendation.estimate import Estimate
from advisor.recommendation.rules import Finding

__all__ = ["Excluded", "Recommendation"]


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
        measurable_here: Whether the caller can apply and measure it here (the ``measurable`` argument).
        implementations: Library calls that apply it.
        group: ``apply-now``, ``more-effort``, ``how-you-run``, ``where-you-run`` or ``practices``.
        kind: The catalog's kind (``model``, ``training``, ``data``, ``runtime``, ``infrastructure``, ``practice``).
        parent: The technique it specialises, if any.
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
    group: str = "more-effort"
    kind: str | None = None
    parent: str | None = None

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
        if e.measured:
            proxy += f", measured here in run {e.measured[0]}"
        word = "less" if e.ratio <= 1 else "MORE"
        amount = pct(e.ratio) if e.ratio <= 1 else f"{(e.ratio - 1) * 100:.0f}%"
        return f"{amount} {word} {e.objective} (" + (f"{rng}, " if rng else "") + f"{e.confidence} confidence{proxy})"


@dataclass(frozen=True)
class Excluded:
    """A technique left out, with every reason."""

    id: str
    name: str
    reasons: tuple[Finding, ...]
