"""Advice in groups, in the order a user acts on it, with parents heading their children.

1. ``apply-now``: techniques the caller can apply to this model and measure here now.
2. ``more-effort``: changes to the model, the training or the data that need retraining, data or a new
   architecture (``kind`` model, training or data, not measurable here).
3. ``how-you-run``: runtimes, batching, serving, scheduling (``kind: runtime``).
4. ``where-you-run``: hardware, region, datacenter, time of day (``kind: infrastructure``).
5. ``practices``: measuring and reporting (``kind: practice``).

A technique whose ``parent`` (or nearest ancestor) is recommended in the same group is listed under
it instead of competing with it for a rank: the family is ranked by its best member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor.recommendation._items import Recommendation

if TYPE_CHECKING:
    from advisor.catalog import schema as S

__all__ = ["GROUPS", "GROUP_TITLES", "Group", "group_of", "nest", "parent_of"]

GROUP_TITLES: dict[str, str] = {
    "apply-now": "Apply to your model now (measurable here)",
    "more-effort": "Worth it with more effort (retraining, data, new architecture)",
    "how-you-run": "How you run it (runtime, batching, serving, scheduling)",
    "where-you-run": "Where you run it (hardware, region, datacenter, time of day)",
    "practices": "Practices (measure and report)",
}
GROUPS: tuple[str, ...] = tuple(GROUP_TITLES)
KIND_GROUP = {
    "model": "more-effort",
    "training": "more-effort",
    "data": "more-effort",
    "runtime": "how-you-run",
    "infrastructure": "where-you-run",
    "practice": "practices",
}


def group_of(t: S.Technique, measurable_here: bool) -> str:
    """The group a recommended technique belongs to."""
    kind = getattr(t, "kind", None)
    if measurable_here and kind not in ("infrastructure", "practice"):
        return "apply-now"
    return KIND_GROUP.get(kind or "model", "more-effort")


def parent_of(t: S.Technique) -> str | None:
    """The technique's parent id: ``parent``, or (older data) its first ``specializes`` relation."""
    if hasattr(t, "parent"):
        return t.parent
    return next((r.target for r in t.relations if r.type == "specializes"), None)


@dataclass
class Entry:
    """One row of a group: a technique and the recommended techniques that specialise it."""

    rec: Recommendation
    children: list[Entry] = field(default_factory=list)

    @property
    def best_score(self) -> float:
        """The best score in this family."""
        return max([self.rec.score, *(c.best_score for c in self.children)])

    def walk(self, depth: int = 0) -> list[tuple[int, Recommendation]]:
        """This entry and its children, depth first, as (depth, recommendation)."""
        out = [(depth, self.rec)]
        for c in self.children:
            out += c.walk(depth + 1)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the id, its rank and score, and its children."""
        return {
            "id": self.rec.id,
            "rank": self.rec.rank,
            "score": self.rec.score,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class Group:
    """One group of advice."""

    key: str
    title: str
    entries: list[Entry]

    def rows(self) -> list[tuple[int, Recommendation]]:
        """Every recommendation of the group with its depth (0 = top level), in order."""
        return [row for e in self.entries for row in e.walk()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"key": self.key, "title": self.title, "entries": [e.to_dict() for e in self.entries]}


def _sort(entries: list[Entry]) -> None:
    entries.sort(key=lambda e: (-e.best_score, e.rec.id))
    for e in entries:
        _sort(e.children)


def nest(recs: list[Recommendation], parents: dict[str, str | None]) -> list[Group]:
    """Build the groups: each recommendation under its nearest recommended ancestor of the same group."""
    by_id = {r.id: r for r in recs}
    entries = {r.id: Entry(r) for r in recs}
    tops: dict[str, list[Entry]] = {g: [] for g in GROUPS}
    for r in recs:
        anc, seen = parents.get(r.id), {r.id}
        while anc is not None and anc not in seen and not (anc in by_id and by_id[anc].group == r.group):
            seen.add(anc)
            anc = parents.get(anc)
        if anc is not None and anc not in seen:
            entries[anc].children.append(entries[r.id])
        else:
            tops[r.group].append(entries[r.id])
    groups = []
    for g in GROUPS:
        _sort(tops[g])
        groups.append(Group(g, GROUP_TITLES[g], tops[g]))
    return groups
