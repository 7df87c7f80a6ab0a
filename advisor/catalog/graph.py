"""The catalog as a networkx graph.

Nodes carry a ``kind`` attribute:

- ``technique`` (node key: the technique id),
- ``category``, ``stage``, ``level`` (keys ``category:<term>``, ``stage:<term>``, ``level:<term>``),
- ``survey-node`` (keys such as ``xu2021:pruning``) and ``survey`` (key: the survey id).

Edges carry a ``type`` attribute: the relation types between techniques (``requires``,
``complements``, ``conflicts-with``, ``alternative-to``, ``specializes``), ``in-category``,
``in-stage``, ``at-level`` and ``discussed-in`` from a technique to the taxonomy, and
``child-of`` from a survey node to its parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import networkx as nx

from advisor.catalog import schema as S

__all__ = ["RELATION_EDGE_TYPES", "GraphSource", "build_graph", "neighbourhood", "relation_graph"]

RELATION_EDGE_TYPES = frozenset(S.RELATION_TYPES)


class GraphSource(Protocol):
    """What the graph needs of a catalog (:class:`advisor.catalog.Catalog` is one); the graph knows no more."""

    surveys: dict[str, S.SurveyTree]

    def __iter__(self) -> Iterator[S.Technique]:
        """Every technique."""
        ...

    def __contains__(self, technique_id: object) -> bool:
        """Whether ``technique_id`` is a technique of the catalog."""
        ...

    def survey_nodes_of(self, t: S.Technique) -> list[str]:
        """The survey nodes that discuss ``t``."""
        ...


def build_graph(catalog: GraphSource) -> nx.MultiDiGraph:
    """Build the taxonomy-and-relations graph of a catalog."""
    g = nx.MultiDiGraph()
    _add_vocabulary_nodes(g)
    _add_survey_trees(g, catalog)
    for t in catalog:
        g.add_node(t.id, kind="technique", label=t.name, category=t.category, level=t.level)
    for t in catalog:
        _add_technique_edges(g, catalog, t)
    return g


def _add_vocabulary_nodes(g: nx.MultiDiGraph) -> None:
    for kind, terms in (("category", S.CATEGORIES), ("stage", S.STAGES), ("level", S.LEVELS)):
        for term in terms:
            g.add_node(f"{kind}:{term}", kind=kind, label=term)


def _add_survey_trees(g: nx.MultiDiGraph, catalog: GraphSource) -> None:
    for tree in catalog.surveys.values():
        g.add_node(tree.survey, kind="survey", label=tree.title)
        for node in tree.nodes:
            g.add_node(node.id, kind="survey-node", label=node.title, survey=tree.survey)
        for node in tree.nodes:
            g.add_edge(node.id, node.parent or tree.survey, type="child-of")


def _add_technique_edges(g: nx.MultiDiGraph, catalog: GraphSource, t: S.Technique) -> None:
    """Taxonomy edges (category, stages, level, survey nodes) and typed relations of one technique."""
    if t.category:
        g.add_edge(t.id, f"category:{t.category}", type="in-category")
    for stage in t.lifecycle_stages:
        g.add_edge(t.id, f"stage:{stage}", type="in-stage")
    if t.level:
        g.add_edge(t.id, f"level:{t.level}", type="at-level")
    for node in catalog.survey_nodes_of(t):
        if node in g:
            g.add_edge(t.id, node, type="discussed-in")
    for rel in t.relations:
        if rel.target in catalog:
            g.add_edge(t.id, rel.target, type=rel.type, note=rel.note)


def relation_graph(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """The sub-graph of techniques and their typed relations only."""
    sub = nx.MultiDiGraph()
    sub.add_nodes_from((n, d) for n, d in g.nodes(data=True) if d.get("kind") == "technique")
    sub.add_edges_from((u, v, d) for u, v, d in g.edges(data=True) if d.get("type") in RELATION_EDGE_TYPES)
    return sub


def neighbourhood(g: nx.MultiDiGraph, technique_id: str) -> list[tuple[str, str, str]]:
    """Relations touching one technique as ``(type, direction, other_id)`` triples.

    ``direction`` is ``out`` for relations the technique declares, ``in`` for those declared
    by others towards it.
    """
    out = [
        (d["type"], "out", v) for _, v, d in g.out_edges(technique_id, data=True) if d["type"] in RELATION_EDGE_TYPES
    ]
    inc = [(d["type"], "in", u) for u, _, d in g.in_edges(technique_id, data=True) if d["type"] in RELATION_EDGE_TYPES]
    return sorted(out) + sorted(inc)
