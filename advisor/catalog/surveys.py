"""Browsing the catalog by each survey's own structure, and the crosswalk between two surveys."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from advisor.catalog._catalog import Catalog

__all__ = ["crosswalk", "node_techniques", "survey_tree_frame", "survey_tree_text"]


def _children(catalog: Catalog, survey: str) -> dict[str | None, list[str]]:
    kids: dict[str | None, list[str]] = {}
    for node in catalog.surveys[survey].nodes:
        kids.setdefault(node.parent, []).append(node.id)
    return kids


def node_techniques(catalog: Catalog, node_id: str, *, descendants: bool = True) -> list[str]:
    """Ids of techniques placed at a survey node (and, by default, under its sub-nodes)."""
    survey = node_id.split(":", 1)[0]
    if survey not in catalog.surveys:
        from advisor._errors import CatalogError

        raise CatalogError(f"unknown survey {survey!r} in node {node_id!r}; surveys: {sorted(catalog.surveys)}")
    nodes = {node_id}
    if descendants:
        kids = _children(catalog, survey)
        stack = [node_id]
        while stack:
            for k in kids.get(stack.pop(), []):
                nodes.add(k)
                stack.append(k)
    return sorted(t.id for t in catalog if nodes & set(catalog.survey_nodes_of(t)))


def survey_tree_frame(catalog: Catalog, survey: str) -> pd.DataFrame:
    """One row per node of a survey's tree, in tree order, with technique counts."""
    import pandas as pd

    kids = _children(catalog, survey)
    by_id = {n.id: n for n in catalog.surveys[survey].nodes}
    rows = []

    def walk(node_id: str, depth: int) -> None:
        n = by_id[node_id]
        rows.append(
            {
                "node": n.id,
                "title": n.title,
                "depth": depth,
                "parent": n.parent,
                "provenance": n.provenance,
                "n_here": len(node_techniques(catalog, n.id, descendants=False)),
                "n_total": len(node_techniques(catalog, n.id)),
            }
        )
        for k in kids.get(node_id, []):
            walk(k, depth + 1)

    for root in kids.get(None, []):
        walk(root, 0)
    return pd.DataFrame(rows)


def survey_tree_text(catalog: Catalog, survey: str, *, with_ids: bool = False) -> str:
    """The survey's tree as indented text with counts (and technique ids)."""
    tree = catalog.surveys[survey]
    lines = [f"{tree.title} [{tree.reference}]"]
    for row in survey_tree_frame(catalog, survey).itertuples():
        mark = "" if row.provenance == "checked" else " (reconstructed)"
        lines.append(f"{'  ' * (row.depth + 1)}{row.title}{mark}  [{row.node}]: {row.n_total}")
        if with_ids:
            ids = node_techniques(catalog, row.node, descendants=False)
            if ids:
                lines.append(f"{'  ' * (row.depth + 2)}- " + ", ".join(ids))
    return "\n".join(lines)


def crosswalk(catalog: Catalog, survey_a: str, survey_b: str, *, top_level: bool = True) -> pd.DataFrame:
    """Techniques counted by (node of survey A, node of survey B); top-level nodes by default."""
    import pandas as pd

    def level_nodes(survey: str) -> dict[str, str]:
        by_id = {n.id: n for n in catalog.surveys[survey].nodes}
        out = {}
        for nid in by_id:
            root = nid
            while top_level and by_id[root].parent:
                root = by_id[root].parent
            out[nid] = root
        return out

    map_a, map_b = level_nodes(survey_a), level_nodes(survey_b)
    rows_a = sorted(set(map_a.values()), key=list(map_a.values()).index)
    cols_b = sorted(set(map_b.values()), key=list(map_b.values()).index)
    table = pd.DataFrame(0, index=rows_a, columns=cols_b)
    for t in catalog:
        a = {map_a[n] for n in getattr(t.surveys, survey_a)}
        b = {map_b[n] for n in getattr(t.surveys, survey_b)}
        for x in a:
            for y in b:
                table.loc[x, y] += 1
    return table
