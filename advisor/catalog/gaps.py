"""Literature gaps (Mehlin et al.'s RQ3): where the catalog is thin, computed from the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from advisor.catalog import schema as S

if TYPE_CHECKING:
    import pandas as pd

    from advisor.catalog._catalog import Catalog

__all__ = ["Gaps", "coverage_gaps"]


@dataclass
class Gaps:
    """Coverage matrices and their thinnest cells."""

    stage_by_level: pd.DataFrame
    category_by_stage: pd.DataFrame
    evidence_by_stage: pd.DataFrame
    thinnest: list[tuple[str, str, str, int]]
    empty_survey_nodes: list[str]

    def to_text(self) -> str:
        """A plain-text rendering for the terminal."""
        lines = ["Techniques per lifecycle stage (rows) and level (columns):", self.stage_by_level.to_string(), ""]
        lines += [
            "Techniques per category (rows) and lifecycle stage (columns):",
            self.category_by_stage.to_string(),
            "",
        ]
        lines += ["Techniques with quantitative evidence, per stage and level:", self.evidence_by_stage.to_string(), ""]
        lines.append("Thinnest cells (fewest techniques):")
        lines += [f"  {m}: {r} x {c}: {n}" for m, r, c, n in self.thinnest]
        if self.empty_survey_nodes:
            lines.append("Survey nodes with no technique: " + ", ".join(self.empty_survey_nodes))
        else:
            lines.append("Every survey node has at least one technique.")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "stage_by_level": self.stage_by_level.to_dict(),
            "category_by_stage": self.category_by_stage.to_dict(),
            "evidence_by_stage": self.evidence_by_stage.to_dict(),
            "thinnest": [{"matrix": m, "row": r, "column": c, "count": n} for m, r, c, n in self.thinnest],
            "empty_survey_nodes": self.empty_survey_nodes,
        }


def coverage_gaps(catalog: Catalog, n_thinnest: int = 8) -> Gaps:
    """Count techniques per stage x level and category x stage and list the thinnest cells."""
    import pandas as pd

    levels = [*S.LEVELS, "none"]
    cats = [*S.CATEGORIES, "none"]
    sl = pd.DataFrame(0, index=list(S.STAGES), columns=levels)
    cs = pd.DataFrame(0, index=cats, columns=list(S.STAGES))
    ev = pd.DataFrame(0, index=list(S.STAGES), columns=levels)
    for t in catalog:
        for stage in t.lifecycle_stages:
            sl.loc[stage, t.level or "none"] += 1
            cs.loc[t.category or "none", stage] += 1
            if t.evidence:
                ev.loc[stage, t.level or "none"] += 1
    cells = [("stage x level", r, c, int(sl.loc[r, c])) for r in sl.index for c in S.LEVELS]
    cells += [("category x stage", r, c, int(cs.loc[r, c])) for r in S.CATEGORIES for c in cs.columns]
    thinnest = sorted(cells, key=lambda x: (x[3], x[0], x[1], x[2]))[:n_thinnest]
    parent = {n.id: n.parent for tree in catalog.surveys.values() for n in tree.nodes}
    used: set[str] = set()
    for t in catalog:  # a node is covered by its own techniques and by its descendants'
        for start in catalog.survey_nodes_of(t):
            node: str | None = start
            while node and node not in used:
                used.add(node)
                node = parent.get(node)
    empty = [n.id for tree in catalog.surveys.values() for n in tree.nodes if n.id not in used]
    return Gaps(sl, cs, ev, thinnest, empty)
