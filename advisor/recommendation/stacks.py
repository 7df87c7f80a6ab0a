"""Stacks: compatible combinations of recommended techniques, built on the relations graph.

A stack never holds two techniques that conflict, that are alternatives, or where one
specialises the other (or both specialise the same parent: they are variants of one idea).
Every ``requires`` target is pulled in, and a candidate whose prerequisite was excluded is
skipped. Members are ordered by lifecycle stage, prerequisites first.

The combined estimate does **not** multiply the savings: savings of techniques acting through
the same mechanism overlap. The largest saving counts fully; each further one counts with an
exponent of 0.75, or 0.5 when it shares its Lee et al. level with an earlier member. The naive
product is reported beside it for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from advisor.catalog import schema as S
from advisor.recommendation._items import Excluded, Recommendation

if TYPE_CHECKING:
    from advisor.catalog import Catalog
    from advisor.profile.constraints import Constraints

__all__ = ["Ranked", "Stack", "build_stacks"]

STAGE_ORDER = {s: i for i, s in enumerate(S.STAGES)}
SAME_LEVEL_WEIGHT = 0.5
OTHER_WEIGHT = 0.75


class Ranked(Protocol):
    """What stacks are built from (:class:`advisor.recommendation.Recommendations` is one)."""

    recommended: list[Recommendation]
    excluded_items: list[Excluded]
    catalog: Catalog
    constraints: Constraints


@dataclass(frozen=True)
class Stack:
    """An ordered, compatible combination of techniques.

    Attributes:
        ids: Technique ids in the order to apply them.
        ratio: Combined new/baseline ratio of the objective (None if no member has a figure).
        naive_ratio: The plain product of the members' ratios, for comparison.
        objective: The objective the ratios refer to.
        notes: How the stack was assembled (prerequisites added, members without figures).
    """

    ids: tuple[str, ...]
    ratio: float | None
    naive_ratio: float | None
    objective: str
    notes: tuple[str, ...] = ()

    @property
    def saving(self) -> float | None:
        """Combined relative saving."""
        return None if self.ratio is None else 1 - self.ratio

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "ids": list(self.ids),
            "ratio": self.ratio,
            "naive_ratio": self.naive_ratio,
            "saving": self.saving,
            "objective": self.objective,
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        est = f"~{self.saving:.0%} less {self.objective}" if self.saving is not None else "no combined figure"
        return " -> ".join(self.ids) + f"  ({est})"


def _relations(result: Ranked) -> tuple[set[frozenset[str]], dict[str, set[str]], dict[str, set[str]]]:
    """Incompatible pairs, prerequisites and 'specializes' parents."""
    bad: set[frozenset[str]] = set()
    requires: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    for t in result.catalog:
        for r in t.relations:
            if r.type in ("conflicts-with", "alternative-to", "specializes"):
                bad.add(frozenset((t.id, r.target)))
            if r.type == "requires":
                requires.setdefault(t.id, set()).add(r.target)
            if r.type == "specializes":
                parents.setdefault(t.id, set()).add(r.target)
    return bad, requires, parents


def _compatible(a: str, b: str, bad: set[frozenset[str]], parents: dict[str, set[str]]) -> bool:
    if frozenset((a, b)) in bad:
        return False
    return not parents.get(a, set()) & parents.get(b, set())


def _combine(members: list[Recommendation], catalog: Any) -> tuple[float | None, float | None]:
    with_figures = sorted((m for m in members if m.estimate.ratio is not None), key=lambda m: m.estimate.ratio)
    if not with_figures:
        return None, None
    log_combined, log_naive, levels = 0.0, 0.0, set()
    for i, m in enumerate(with_figures):
        r = max(m.estimate.ratio, 1e-3)
        level = catalog.get(m.id).level
        w = 1.0 if i == 0 else (SAME_LEVEL_WEIGHT if level in levels else OTHER_WEIGHT)
        levels.add(level)
        log_combined += w * math.log(r)
        log_naive += math.log(r)
    return math.exp(log_combined), math.exp(log_naive)


def build_stacks(result: Ranked, n: int = 3, size: int = 4, pool: int = 15) -> list[Stack]:
    """Build up to ``n`` stacks of at most ``size`` techniques from the top ``pool`` recommendations."""
    bad, requires, parents = _relations(result)
    recs = {r.id: r for r in result.recommended}
    excluded = {e.id for e in result.excluded_items}
    top = [r.id for r in result.recommended[:pool]]
    seen: set[frozenset[str]] = set()
    stacks: list[Stack] = []
    for seed in top:
        members: list[str] = []
        notes: list[str] = []

        def add(tid: str, members: list[str] = members, notes: list[str] = notes) -> bool:
            need = requires.get(tid, set()) - set(members)
            if need & excluded or not need <= set(recs):
                return False
            group = [*sorted(need), tid]
            if len(members) + len(group) > size:
                return False
            if not all(_compatible(a, b, bad, parents) for a in group for b in members + group if a != b):
                return False
            members.extend(group)
            notes.extend(f"{p} added: required by {tid}" for p in sorted(need))
            return True

        if not add(seed):
            continue
        for cand in top:
            if cand not in members and len(members) < size:
                add(cand)
        key = frozenset(members)
        if len(members) < 2 or key in seen:
            continue
        seen.add(key)
        ordered = sorted(
            members,
            key=lambda i: (min(STAGE_ORDER[s] for s in result.catalog.get(i).lifecycle_stages), recs[i].rank),
        )
        for tid in list(ordered):  # prerequisites before the techniques that need them
            for p in requires.get(tid, ()):
                if p in ordered and ordered.index(p) > ordered.index(tid):
                    ordered.remove(p)
                    ordered.insert(ordered.index(tid), p)
        ratio, naive = _combine([recs[i] for i in ordered], result.catalog)
        no_fig = [i for i in ordered if recs[i].estimate.ratio is None]
        if no_fig:
            notes.append("no figure for " + ", ".join(no_fig) + " (not counted in the estimate)")
        stacks.append(Stack(tuple(ordered), ratio, naive, result.constraints.objective, tuple(notes)))
    stacks.sort(key=lambda s: (s.ratio if s.ratio is not None else 2.0, s.ids))
    return stacks[:n]
