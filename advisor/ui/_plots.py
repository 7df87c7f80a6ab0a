"""Figures for the explorer: a technique's graph neighbourhood, count heatmaps, reported savings.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state,
no backend switch), which :func:`to_svg` turns into bytes for an ``ipywidgets.Image``.
"""

from __future__ import annotations

import io
import math
import textwrap
from typing import TYPE_CHECKING, Any

from advisor.catalog import schema as S
from advisor.ui._explorer_rows import vocab_label

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "heatmap_figure",
    "neighbourhood_figure",
    "plain",
    "savings_figure",
    "savings_views",
    "to_svg",
]

KIND_COLOURS = {
    "selected": "#e6550d",
    "technique": "#fdae6b",
    "category": "#6baed6",
    "stage": "#74c476",
    "level": "#9e9ac8",
    "survey-node": "#bdbdbd",
    "survey": "#969696",
}
RELATION_COLOURS = {
    "requires": "#d62728",
    "complements": "#2ca02c",
    "conflicts-with": "#8c564b",
    "alternative-to": "#1f77b4",
    "specializes": "#9467bd",
}
_VOCAB_SECTION = {"category": "categories", "stage": "lifecycle_stages", "level": "levels"}
_QUALIFIER_MARKERS = {"reported": "o", "up-to": ">", "at-least": "<", "derived": "D"}


def plain(text: str, width: int | None = None) -> str:
    """Text safe for matplotlib (no mathtext from ``$``), optionally wrapped."""
    text = str(text).replace("$", r"\$")
    return "\n".join(textwrap.wrap(text, width)) if width else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def to_svg(fig: Figure) -> bytes:
    """Render a figure to SVG bytes for an ``ipywidgets.Image(format="svg+xml")``.

    Text stays text (``svg.fonttype: none``), which renders several times faster than a PNG of
    the same figure and stays sharp at any zoom.
    """
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "green-dl-advisor"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def _node_label(g: nx.MultiDiGraph, node: str, vocab: dict[str, Any]) -> str:
    data = g.nodes[node]
    kind = data.get("kind", "")
    if kind in _VOCAB_SECTION:
        return vocab_label(vocab, _VOCAB_SECTION[kind], node.split(":", 1)[1])
    if kind == "survey-node":
        return f"{data.get('label', node)} ({node.split(':', 1)[0]})"
    return str(data.get("label", node))


def neighbourhood_figure(g: nx.MultiDiGraph, technique_id: str, vocab: dict[str, Any]) -> Figure:
    """The technique and every node one edge away, nodes coloured by kind.

    Relations between techniques are arrows coloured and labelled by their type (several
    relations between the same two techniques share one label, ``requires / complements``).
    Links to the taxonomy (``in-category``, ``in-stage``, ``at-level``, ``discussed-in``) are thin
    grey lines: the kind of the node they reach names them, so they carry no text label, which
    keeps the drawing fast enough to redraw on every selection.
    """
    import networkx as nx
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    relations: dict[tuple[str, str], list[str]] = {}
    taxonomy: list[tuple[str, str]] = []
    for u, v, d in [*g.out_edges(technique_id, data=True), *g.in_edges(technique_id, data=True)]:
        if d.get("type") in RELATION_COLOURS:
            relations.setdefault((u, v), []).append(d["type"])
        else:
            taxonomy.append((u, v))
    sub = nx.DiGraph()
    sub.add_node(technique_id)
    sub.add_edges_from([*taxonomy, *relations])
    kind_order = list(KIND_COLOURS)
    others = sorted((n for n in sub if n != technique_id), key=lambda n: (kind_order.index(g.nodes[n]["kind"]), n))
    pos = nx.shell_layout(sub, [[technique_id], others]) if others else {technique_id: (0.0, 0.0)}
    kinds = {n: "selected" if n == technique_id else g.nodes[n]["kind"] for n in sub}

    fig = Figure(figsize=(8, 6))
    fig.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.1)
    ax = fig.add_subplot()
    ax.set_axis_off()
    nx.draw_networkx_edges(sub, pos, edgelist=taxonomy, ax=ax, edge_color="#c8c8c8", arrows=False, width=0.8)
    if relations:
        rel_edges = list(relations)
        colours = [RELATION_COLOURS[relations[e][0]] for e in rel_edges]
        nx.draw_networkx_edges(
            sub, pos, edgelist=rel_edges, ax=ax, edge_color=colours, arrows=True, arrowsize=12, node_size=900, width=1.5
        )
        edge_labels: dict[tuple[str, str], str] = {}
        for (u, v), types in relations.items():
            key = (v, u) if (v, u) in edge_labels else (u, v)
            known = edge_labels[key].split(" / ") if key in edge_labels else []
            edge_labels[key] = " / ".join(dict.fromkeys([*known, *types]))
        nx.draw_networkx_edge_labels(sub, pos, edge_labels=edge_labels, ax=ax, font_size=7, font_color="#333333")
    nx.draw_networkx_nodes(
        sub, pos, ax=ax, node_size=900, node_color=[KIND_COLOURS[kinds[n]] for n in sub], edgecolors="#555555"
    )
    labels = {n: plain(_node_label(g, n, vocab), 18) for n in sub}
    nx.draw_networkx_labels(sub, pos, labels=labels, ax=ax, font_size=7)
    present = [k for k in KIND_COLOURS if k in kinds.values()]
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=8, markerfacecolor=KIND_COLOURS[k], markeredgecolor="#555")
        for k in present
    ]
    names = list(present)
    if taxonomy:
        handles.append(Line2D([], [], color="#c8c8c8"))
        names.append("placed in (category, stage, level, survey section)")
    for rtype in sorted({t for types in relations.values() for t in types}):
        handles.append(Line2D([], [], color=RELATION_COLOURS[rtype], linewidth=1.5))
        names.append(rtype)
    ax.legend(handles, names, loc="upper left", fontsize=7, frameon=False, bbox_to_anchor=(0.0, 0.0), ncol=3)
    ax.set_title(plain(f"Neighbourhood of {g.nodes[technique_id].get('label', technique_id)}"), fontsize=10)
    ax.margins(0.12)
    return fig


def heatmap_figure(table: pd.DataFrame, title: str, xlabel: str, ylabel: str) -> Figure:
    """Counts of a (rows x columns) table as an annotated heatmap."""
    from matplotlib.figure import Figure

    n_rows, n_cols = table.shape
    fig = Figure(figsize=(1.1 * n_cols + 3.0, 0.45 * n_rows + 1.8))
    ax = fig.add_subplot()
    values = table.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="Greens", aspect="auto", vmin=0, vmax=max(float(values.max()), 1.0))
    ax.set_xticks(range(n_cols), [plain(c, 16) for c in table.columns], fontsize=8, rotation=30, ha="right")
    ax.set_yticks(range(n_rows), [plain(r, 28) for r in table.index], fontsize=8)
    high = values.max() * 0.6 if values.size else 0
    for i in range(n_rows):
        for j in range(n_cols):
            ax.text(
                j,
                i,
                f"{values[i, j]:g}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if values[i, j] > high else "black",
            )
    ax.set_xlabel(plain(xlabel))
    ax.set_ylabel(plain(ylabel))
    ax.set_title(plain(title), fontsize=10)
    fig.colorbar(im, ax=ax, label="techniques")
    return fig


def savings_views(evidence: pd.DataFrame, vocab: dict[str, Any]) -> list[tuple[str, tuple[str, str, str]]]:
    """The (metric, direction, unit) groups of the evidence, as Dropdown options with counts.

    Only figures in the same unit, for the same metric and direction, are comparable on one
    axis, so each group is its own view. Ordered: resource metrics first (energy, carbon,
    latency, ...), accuracy last; decreases before increases; then by number of items.
    """
    if evidence.empty:
        return []
    metric_pos = {m: i for i, m in enumerate(S.METRICS)}
    metric_pos["accuracy"] = len(S.METRICS)
    dir_pos = {d: i for i, d in enumerate(("decrease", "increase", "change"))}
    groups = evidence.groupby(["metric", "direction", "unit"])["technique"].agg(["size", "nunique"])
    views = []
    for (metric, direction, unit), (n_items, n_techs) in groups.iterrows():
        label = (
            f"{vocab_label(vocab, 'metrics', metric)} {direction}, in {vocab_label(vocab, 'units', unit)} "
            f"({_plural(n_items, 'figure')}, {_plural(n_techs, 'technique')})"
        )
        views.append(((metric_pos[metric], dir_pos[direction], -n_items, unit), label, (metric, direction, unit)))
    return [(label, key) for _, label, key in sorted(views)]


def savings_figure(
    evidence: pd.DataFrame,
    names: dict[str, str],
    view: tuple[str, str, str],
    vocab: dict[str, Any],
    max_techniques: int = 60,
) -> Figure:
    """Reported figures of one (metric, direction, unit) group, one row per technique.

    Single values are markers (shape = qualifier), ranges are lines from low to high; green for
    whole-model (end-to-end) figures, grey for component-level ones. Factors (unit ``x``) use a
    log axis. Techniques are ordered by their largest figure; at most ``max_techniques`` rows.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    metric, direction, unit = view
    sel = evidence[(evidence.metric == metric) & (evidence.direction == direction) & (evidence.unit == unit)].copy()
    sel["top"] = sel["value"].fillna(sel["high"])
    order = sel.groupby("technique")["top"].max().sort_values(ascending=True)
    dropped = max(len(order) - max_techniques, 0)
    order = order.iloc[dropped:]
    ypos = {tid: i for i, tid in enumerate(order.index)}
    fig = Figure(figsize=(8, 0.28 * len(order) + 1.6))
    ax = fig.add_subplot()
    for row in sel[sel.technique.isin(ypos)].itertuples():
        y = ypos[row.technique]
        colour = "#31a354" if row.scope == "end-to-end" else "#969696"
        if row.value is not None and not math.isnan(row.value):
            ax.plot([row.value], [y], _QUALIFIER_MARKERS[row.qualifier], color=colour, markersize=6)
        else:
            ax.plot([row.low, row.high], [y, y], "-|", color=colour, linewidth=2, markersize=8)
    ax.set_yticks(range(len(order)), [plain(names.get(t, t), 40) for t in order.index], fontsize=7)
    ax.set_ylim(-0.7, len(order) - 0.3)
    if unit == "x" and (sel["top"] > 0).all() and (sel["low"].fillna(1) > 0).all():
        ax.set_xscale("log")
    unit_label = vocab_label(vocab, "units", unit)
    metric_label = vocab_label(vocab, "metrics", metric)
    ax.set_xlabel(plain(f"{metric_label} {direction} ({unit_label}), as reported by each source"))
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    more = f"; {dropped} techniques with smaller figures not shown" if dropped else ""
    ax.set_title(plain(f"{metric_label} {direction} in {unit_label}: {len(sel)} figures{more}"), fontsize=10)
    handles = [Line2D([], [], marker=m, linestyle="", color="#555") for m in _QUALIFIER_MARKERS.values()]
    handles += [Line2D([], [], color=c, linewidth=2) for c in ("#31a354", "#969696")]
    labels = [*_QUALIFIER_MARKERS, "end-to-end", "component"]
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig
