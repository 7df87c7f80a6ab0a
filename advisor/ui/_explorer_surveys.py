"""The explorer's "Surveys" tab: each survey's own section tree, with technique counts."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING, Any

from advisor.catalog.surveys import node_techniques, survey_tree_frame

if TYPE_CHECKING:
    import pandas as pd

    from advisor.catalog._catalog import Catalog

__all__ = ["SURVEY_ORDER", "SurveyPane", "node_html"]

SURVEY_ORDER = ("xu2021", "mehlin2023", "lee2021")
_NBSP = "\u00a0"


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _mark(provenance: str) -> str:
    return "" if provenance == "checked" else "*"


def node_html(catalog: Catalog, frame: pd.DataFrame, node_id: str) -> str:
    """A survey node as HTML: its facts, then its techniques as a nested list down its sub-tree."""
    by_node = frame.set_index("node")
    node = next(n for s in catalog.surveys.values() for n in s.nodes if n.id == node_id)

    def branch(nid: str) -> str:
        row = by_node.loc[nid]
        here = node_techniques(catalog, nid, descendants=False)
        items = "".join(f"<li>{escape(catalog.get(t).name)} <code>{escape(t)}</code></li>" for t in here)
        kids = "".join(branch(k) for k in frame.loc[frame.parent == nid, "node"])
        return (
            f"<li><b>{escape(row['title'])}</b> <code>{escape(nid)}</code>: {int(row['n_total'])}"
            f"<ul>{items}{kids}</ul></li>"
        )

    row = by_node.loc[node_id]
    section = f"section {escape(node.section)}, " if node.section else ""
    prov = (
        "checked against the survey"
        if node.provenance == "checked"
        else "reconstructed, not checked against the survey"
    )
    return (
        f"<h4 style='margin:4px 0;'>{escape(node.title)}</h4>"
        f"<p>{section}{prov}; "
        f"{int(row['n_here'])} techniques here, {int(row['n_total'])} including sub-sections.</p>"
        f"<ul>{branch(node_id)}</ul>"
    )


class SurveyPane:
    """Survey picker, its tree as an indented list of nodes with counts, and the node's techniques.

    The tree frames are computed on first use (:meth:`show`), once per survey.

    Attributes:
        survey: Dropdown of the surveys.
        nodes: Select of the survey's nodes, indented by depth, with technique counts (sub-tree).
        info: HTML of the selected node and its techniques.
        filter_button: Applies the node as a filter in the Techniques tab.
        widget: The tab's root box.
    """

    def __init__(self, catalog: Catalog, on_filter: Callable[[str], None]) -> None:
        import ipywidgets as w

        self._catalog = catalog
        self._frames: dict[str, Any] = {}
        self._on_filter = on_filter
        surveys = [s for s in SURVEY_ORDER if s in catalog.surveys] + sorted(set(catalog.surveys) - set(SURVEY_ORDER))
        self.survey = w.Dropdown(
            options=[(_short(f"{catalog.surveys[s].title} ({s})", 90), s) for s in surveys],
            value=surveys[0] if surveys else None,
            description="Survey",
            layout=w.Layout(width="98%"),
        )
        self.header = w.HTML()
        self.nodes = w.Select(options=[], rows=18, layout=w.Layout(width="45%"))
        self.info = w.HTML("<p><i>Pick a section to list its techniques.</i></p>")
        self.filter_button = w.Button(
            description="Filter Techniques tab to this section",
            icon="filter",
            disabled=True,
            layout=w.Layout(width="auto"),
        )
        right = w.VBox([self.filter_button, self.info], layout=w.Layout(width="55%"))
        self.widget = w.VBox([self.survey, self.header, w.HBox([self.nodes, right])])
        self.survey.observe(lambda _: self._fill(), names="value")
        self.nodes.observe(lambda _: self._show_node(), names="value")
        self.filter_button.on_click(lambda _: self._on_filter(self.nodes.value) if self.nodes.value else None)
        self._shown = False

    def frame(self, survey: str) -> pd.DataFrame:
        """The survey's tree with counts (cached)."""
        if survey not in self._frames:
            self._frames[survey] = survey_tree_frame(self._catalog, survey)
        return self._frames[survey]

    def show(self) -> None:
        """Fill the pane the first time its tab is shown."""
        if not self._shown:
            self._shown = True
            self._fill()

    def _fill(self) -> None:
        survey = self.survey.value
        if survey is None:
            return
        tree = self._catalog.surveys[survey]
        frame = self.frame(survey)
        ref = self._catalog.references.get(tree.reference)
        year = f", {ref.year}" if ref and ref.year else ""
        self.header.value = (
            f"<p><b>{escape(tree.title)}</b> <code>{escape(tree.reference)}</code>{year}: "
            f"{len(frame)} sections. Counts are over the whole catalog (the filters above do not apply here) "
            "and include sub-sections. "
            "Sections marked * were reconstructed, not checked against the survey's table of contents.</p>"
        )
        self.nodes.options = [
            (f"{_NBSP * 4 * int(r.depth)}{_short(r.title)}{_mark(r.provenance)} ({int(r.n_total)})", r.node)
            for r in frame.itertuples()
        ]
        self.nodes.value = None

    def _show_node(self) -> None:
        node = self.nodes.value
        self.filter_button.disabled = node is None
        if node is None:
            self.info.value = "<p><i>Pick a section to list its techniques.</i></p>"
            return
        self.info.value = node_html(self._catalog, self.frame(self.survey.value), node)
