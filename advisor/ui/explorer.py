"""The literature explorer: browse, filter and compare the technique catalog in JupyterLab or Voila.

::

    from advisor.ui import explorer
    ex = explorer()          # the shipped catalog; or explorer(load_catalog(path))
    ex                       # displays the widget
    ex.stage.value = ("deployment",); ex.search.value = "quant"; ex.current_ids

Four tabs: *Techniques* (filters, a sortable table and a detail pane with the technique's graph
neighbourhood), *Surveys* (each survey's own section tree), *Crosswalk* (count heatmaps) and
*Savings* (reported figures, one metric/direction/unit per axis). Filters sit above the tabs
and apply to all of them.

Speed: the table rows are computed once; a filter, search or sort change only re-renders the
count, the table and the id list. Plots are drawn lazily: the neighbourhood when the selection
changes, the crosswalk and savings figures when their tab is shown (and again only after the
filters changed). ``benchmarks/bench_ui.py`` times it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor._errors import CatalogError, MissingExtraError
from advisor.catalog import Catalog, load_catalog
from advisor.catalog import schema as S
from advisor.ui._explorer_detail import detail_html, placeholder_html
from advisor.ui._explorer_rows import SORT_OPTIONS, build_rows, sort_ids, table_html, vocab_label

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

__all__ = ["TAB_TITLES", "Explorer", "explorer"]

TAB_TITLES = ("Techniques", "Surveys", "Crosswalk", "Savings")
CROSSWALKS = (
    ("Lifecycle stage × level (Mehlin 2023 × Lee 2021)", "stage-level"),
    ("Category × lifecycle stage (Xu 2021 × Mehlin 2023)", "category-stage"),
    ("Xu 2021 sections × Mehlin 2023 sections (top level)", "xu-mehlin"),
)
_FILTER_AXES = ("category", "kind", "stage", "level", "phase", "hardware", "family", "architecture", "hardware_class")
_FILTER_TITLES = (
    "Category",
    "Kind",
    "Lifecycle stage",
    "Level",
    "Phase",
    "Hardware",
    "Model family",
    "Architecture",
    "Evidence hardware",
)


class Explorer:
    """The explorer widget. Every control is an attribute, so tests and scripts can drive it.

    Attributes:
        catalog: The catalog explored.
        category, kind, stage, level, phase, hardware, family, architecture, hardware_class: ``SelectMultiple``
            filters; an empty selection means any, several values mean any of them (as in
            :meth:`Catalog.filter`). ``hardware_class`` keeps techniques with evidence from that class of hardware.
        search: Free-text search (every word must match; see :meth:`Catalog.search`).
        evidence_only: Checkbox, only techniques with quantitative evidence.
        reset: Button clearing every filter, the search and the survey-section filter.
        count: Label, e.g. "37 of 198 techniques".
        sort_by, ascending: The table's sort column and direction.
        table: HTML table of the matching techniques.
        select: ``Select`` of the matching technique ids, in table order.
        detail: HTML of the selected technique.
        graph_image: SVG image of the selected technique's neighbourhood in the catalog graph.
        surveys: The Surveys tab (:class:`advisor.ui._explorer_surveys.SurveyPane`).
        crosswalk_kind, crosswalk_image: The Crosswalk tab's choice and heatmap.
        savings_view, savings_image: The Savings tab's (metric, direction, unit) choice and plot.
        tabs: The ``Tab`` holding the four views.
        widget: The root box; displaying the explorer displays it.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._rows = build_rows(catalog)
        self._labels = _option_labels(catalog)
        self._name_of = {t.id: t.name for t in catalog}
        self._graph: nx.MultiDiGraph | None = None
        self._evidence: pd.DataFrame | None = None
        self._search_cache: dict[str, list[str]] = {}
        self._node_ids: set[str] | None = None
        self._section: str | None = None
        self._matching: list[str] = []
        self._current: list[str] = []
        self._select_ids: tuple[str, ...] | None = None
        self._stale = {2: True, 3: True}  # tab index -> needs redrawing
        self._batch = False
        self._quiet_select = False
        self._quiet_views = False
        self._filters(catalog)
        self._views(catalog)
        self._layout()
        self._wire()
        self._refresh()

    def _filters(self, catalog: Catalog) -> None:
        """The filter boxes, the search, the reset button and the count."""
        import ipywidgets as w

        v = catalog.vocab
        box = w.Layout(width="95%")
        self.category = _multi("Category", [(vocab_label(v, "categories", c), c) for c in S.CATEGORIES], box, none=True)
        self.stage = _multi("Lifecycle stage", [(vocab_label(v, "lifecycle_stages", s), s) for s in S.STAGES], box)
        self.level = _multi("Level", [(vocab_label(v, "levels", lv), lv) for lv in S.LEVELS], box, none=True)
        self.phase = _multi("Phase", [(p, p) for p in S.PHASES], box)
        self.hardware = _multi("Hardware", [(h, h) for h in S.HARDWARE if h != "any"], box)
        self.family = _multi("Model family", [(f, f) for f in S.MODEL_FAMILIES if f != "any"], box)
        self.kind = _multi("Kind", [(vocab_label(v, "kinds", k), k) for k in S.KINDS], box)
        self.architecture = _multi(
            "Architecture", [(vocab_label(v, "architectures", a), a) for a in S.ARCHITECTURES if a != "any"], box
        )
        self.hardware_class = _multi(
            "Evidence hardware", [(vocab_label(v, "hardware_classes", h), h) for h in S.HARDWARE_CLASSES], box
        )
        self.search = w.Text(
            placeholder="search names, aliases, summaries, library calls…",
            continuous_update=True,
            description="Search",
            layout=w.Layout(width="40%"),
        )
        self.evidence_only = w.Checkbox(value=False, description="only with quantitative evidence", indent=False)
        self.reset = w.Button(description="Clear filters", icon="times", layout=w.Layout(width="auto"))
        self.count = w.Label()
        self.node_filter = w.HTML()
        self.clear_node = w.Button(description="Clear section filter", layout=w.Layout(width="auto", display="none"))

    def _views(self, catalog: Catalog) -> None:
        """The techniques table, the detail and graph, and the Surveys, Crosswalk and Savings tabs."""
        import ipywidgets as w

        from advisor.ui._explorer_surveys import SurveyPane

        self.sort_by = w.Dropdown(options=SORT_OPTIONS, value="name", description="Sort by")
        self.ascending = w.ToggleButton(value=True, description="ascending", tooltip="Sort direction")
        self.table = w.HTML()
        self.select = w.Select(options=[], value=None, rows=16, layout=w.Layout(width="28%"))
        self.detail = w.HTML(placeholder_html(len(catalog)))
        self.graph_image = w.Image(format="svg+xml", layout=w.Layout(display="none", max_width="720px"))
        self.surveys = SurveyPane(catalog, self.filter_to_section)
        self.crosswalk_kind = w.Dropdown(options=CROSSWALKS, value="stage-level", layout=w.Layout(width="60%"))
        self.crosswalk_caption = w.HTML()
        self.crosswalk_image = w.Image(format="svg+xml", layout=w.Layout(max_width="760px"))
        self.savings_view = w.Dropdown(options=[], description="Figures", layout=w.Layout(width="80%"))
        self.savings_caption = w.HTML()
        self.savings_image = w.Image(format="svg+xml", layout=w.Layout(max_width="900px"))

    def _layout(self) -> None:
        """The filters above the search row, the section filter and the tabs."""
        import ipywidgets as w

        techniques_tab = w.VBox(
            [
                w.HBox([self.sort_by, self.ascending]),
                self.table,
                w.HBox([self.select, w.VBox([self.detail, self.graph_image], layout=w.Layout(width="72%"))]),
            ]
        )
        self.tabs = w.Tab(
            children=[
                techniques_tab,
                self.surveys.widget,
                w.VBox([self.crosswalk_kind, self.crosswalk_caption, self.crosswalk_image]),
                w.VBox([self.savings_view, self.savings_caption, self.savings_image]),
            ],
            titles=TAB_TITLES,
        )
        columns = []
        for axis, title in zip(_FILTER_AXES, _FILTER_TITLES, strict=True):
            column = w.Layout(flex="1 1 0", min_width="120px")
            columns.append(w.VBox([w.HTML(f"<b>{title}</b>"), getattr(self, axis)], layout=column))
        filters = w.HBox(columns, layout=w.Layout(flex_flow="row wrap"))
        self.widget = w.VBox(
            [
                filters,
                w.HBox([self.search, self.evidence_only, self.reset, self.count]),
                w.HBox([self.node_filter, self.clear_node]),
                self.tabs,
            ]
        )

    def _wire(self) -> None:
        """Every widget's handler."""
        for axis in _FILTER_AXES:
            getattr(self, axis).observe(self._on_filter, names="value")
        self.search.observe(self._on_filter, names="value")
        self.evidence_only.observe(self._on_filter, names="value")
        self.reset.on_click(lambda _: self.clear())
        self.clear_node.on_click(lambda _: self.filter_to_section(None))
        self.sort_by.observe(self._on_sort, names="value")
        self.ascending.observe(self._on_sort, names="value")
        self.select.observe(self._on_select, names="value")
        self.tabs.observe(lambda _: self._draw_tab(), names="selected_index")
        self.crosswalk_kind.observe(lambda _: self._draw_crosswalk(), names="value")
        self.savings_view.observe(lambda _: None if self._quiet_views else self._draw_savings(), names="value")

    # --- display ---------------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Explorer: {self.count.value}>"

    # --- state ---------------------------------------------------------------------------------
    @property
    def current_ids(self) -> list[str]:
        """Ids of the techniques matching the filters, in the table's order."""
        return list(self._current)

    @property
    def section(self) -> str | None:
        """The survey section the techniques are filtered to (with its sub-sections), if any."""
        return self._section

    def filtered_catalog(self) -> Catalog:
        """The matching techniques as a catalog (same references, surveys and vocabulary)."""
        c = self.catalog
        return Catalog({i: c.get(i) for i in self._matching}, c.references, c.surveys, c.vocab, c.root)

    def clear(self) -> None:
        """Clear every filter, the search text and the survey-section filter."""
        self._batch = True
        try:
            for axis in _FILTER_AXES:
                getattr(self, axis).value = ()
            self.search.value = ""
            self.evidence_only.value = False
            self._set_section(None)
        finally:
            self._batch = False
        self._refresh()

    def filter_to_section(self, node_id: str | None) -> None:
        """Show only the techniques under a survey section (None clears it); opens the Techniques tab.

        Raises:
            CatalogError: ``node_id`` is not a section of any survey tree.
        """
        self._set_section(node_id)
        self._refresh()
        if node_id is not None:
            self.tabs.selected_index = 0

    def _set_section(self, node_id: str | None) -> None:
        from html import escape

        from advisor.catalog.surveys import node_techniques

        titles = {n.id: n.title for tree in self.catalog.surveys.values() for n in tree.nodes}
        if node_id is not None and node_id not in titles:
            close = [n for n in titles if n.startswith(node_id.split(":", 1)[0] + ":")][:8]
            raise CatalogError(
                f"survey section {node_id!r}: not in the catalog's survey trees; expected an id such as "
                f"{close or sorted(titles)[:8]}. List them in the Surveys tab or with survey_tree_frame()."
            )
        self._section = node_id
        self._node_ids = None if node_id is None else set(node_techniques(self.catalog, node_id))
        if node_id is None:
            self.node_filter.value = ""
            self.clear_node.layout.display = "none"
        else:
            title = titles[node_id]
            self.node_filter.value = f"Survey section: <b>{escape(title)}</b> <code>{escape(node_id)}</code>"
            self.clear_node.layout.display = None

    # --- filtering and the table -----------------------------------------------------------------
    def _search_ids(self, text: str) -> list[str]:
        if text not in self._search_cache:
            if len(self._search_cache) > 256:
                self._search_cache.clear()
            self._search_cache[text] = [t.id for t in self.catalog.search(text)]
        return self._search_cache[text]

    def _matching_ids(self) -> list[str]:
        kwargs: dict[str, Any] = {a: list(getattr(self, a).value) for a in _FILTER_AXES if getattr(self, a).value}
        if self.evidence_only.value:
            kwargs["has_evidence"] = True
        ids = self.catalog.filter(**kwargs).ids if kwargs else self.catalog.ids
        text = self.search.value.strip()
        if text:
            keep = set(ids)
            ids = [i for i in self._search_ids(text) if i in keep]
        if self._node_ids is not None:
            ids = [i for i in ids if i in self._node_ids]
        return ids

    def _on_filter(self, _: Any = None) -> None:
        if not self._batch:
            self._refresh()

    def _refresh(self) -> None:
        """Recompute the matching ids, then the count, table and id list; mark plot tabs stale."""
        self._matching = self._matching_ids()
        self.count.value = f"{len(self._matching)} of {len(self.catalog)} techniques"
        self._stale = {2: True, 3: True}
        self._resort()
        self._draw_tab()

    def _on_sort(self, _: Any = None) -> None:
        self._resort()

    def _resort(self) -> None:
        self._current = sort_ids(self._matching, self._rows, self.sort_by.value, ascending=self.ascending.value)
        self.ascending.description = "ascending" if self.ascending.value else "descending"
        self.table.value = table_html(self._current, self._rows, selected=self.select.value)
        self._update_select()

    def _update_select(self) -> None:
        ids = tuple(self._current)
        if ids == self._select_ids:
            return
        self._select_ids = ids
        before = self.select.value
        self._quiet_select = True
        try:
            self.select.options = [(self._labels[i], i) for i in ids]
            self.select.value = before if before in set(ids) else None
        finally:
            self._quiet_select = False
        if self.select.value != before:
            self._show_detail()

    # --- detail ----------------------------------------------------------------------------------
    def graph(self) -> nx.MultiDiGraph:
        """The catalog graph (built once)."""
        if self._graph is None:
            self._graph = self.catalog.graph()
        return self._graph

    def _on_select(self, _: Any = None) -> None:
        if not self._quiet_select:
            self.table.value = table_html(self._current, self._rows, selected=self.select.value)
            self._show_detail()

    def _show_detail(self) -> None:
        from advisor.catalog.graph import neighbourhood
        from advisor.ui._plots import neighbourhood_figure, to_svg

        tid = self.select.value
        if tid is None:
            self.detail.value = placeholder_html(len(self._matching))
            self.graph_image.layout.display = "none"
            return
        g = self.graph()
        incoming = [(rtype, other) for rtype, direction, other in neighbourhood(g, tid) if direction == "in"]
        self.detail.value = detail_html(self.catalog, self.catalog.get(tid), incoming)
        self.graph_image.value = to_svg(neighbourhood_figure(g, tid, self.catalog.vocab))
        self.graph_image.layout.display = None

    # --- lazily drawn tabs -----------------------------------------------------------------------
    def _draw_tab(self) -> None:
        index = self.tabs.selected_index
        if index == 1:
            self.surveys.show()
        elif index == 2 and self._stale[2]:
            self._draw_crosswalk()
        elif index == 3 and self._stale[3]:
            self._draw_savings(update_views=True)

    def _draw_crosswalk(self) -> None:
        from advisor.ui._explorer_tabs import crosswalk_content

        self._stale[2] = False
        caption, image = crosswalk_content(self.filtered_catalog(), self.crosswalk_kind.value)
        self.crosswalk_caption.value = caption
        self.crosswalk_image.value = image

    def _draw_savings(self, *, update_views: bool = False) -> None:
        from advisor.ui._explorer_tabs import savings_content, savings_view_options

        self._stale[3] = False
        if self._evidence is None:
            self._evidence = self.catalog.evidence_frame()
        ev = self._evidence
        ev = ev[ev["technique"].isin(set(self._matching))] if not ev.empty else ev
        if update_views:
            options = savings_view_options(ev, self.catalog.vocab)
            before = self.savings_view.value
            self._quiet_views = True
            try:
                self.savings_view.options = options
                values = [o[1] for o in options]
                self.savings_view.value = before if before in values else (values[0] if values else None)
            finally:
                self._quiet_views = False
        caption, image = savings_content(ev, self.savings_view.value, self._name_of, self.catalog.vocab)
        self.savings_caption.value = caption
        self.savings_image.value = image


def _multi(title: str, options: list[tuple[str, str]], layout: Any, *, none: bool = False) -> Any:
    import ipywidgets as w

    if none:
        options = [*options, ("(none)", "none")]
    return w.SelectMultiple(
        options=options,
        value=(),
        rows=min(len(options), 7),
        layout=layout,
        tooltip=f"{title}: pick one or more (Ctrl/Cmd-click); none picked means any",
    )


def _option_labels(catalog: Catalog) -> dict[str, str]:
    """A unique list label per technique: its name, plus the id where two names collide."""
    seen = Counter(t.name for t in catalog)
    return {t.id: t.name if seen[t.name] == 1 else f"{t.name} ({t.id})" for t in catalog}


def explorer(catalog: Catalog | str | Path | None = None) -> Explorer:
    """Build the literature explorer.

    Args:
        catalog: A :class:`Catalog`, a data directory to load one from, or None for the shipped catalog.

    Raises:
        MissingExtraError: ipywidgets is not installed (``pip install 'green-dl-advisor[notebook]'``).
        CatalogError: ``catalog`` is neither a Catalog, a path nor None, or it holds no technique.
    """
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        raise MissingExtraError("ipywidgets", "notebook", "The literature explorer") from None
    if catalog is None:
        catalog = load_catalog()
    elif isinstance(catalog, str | Path):
        catalog = load_catalog(catalog)
    elif not isinstance(catalog, Catalog):
        raise CatalogError(
            f"explorer(catalog=...): expected a Catalog (from advisor.load_catalog()), a data directory "
            f"or None; got {type(catalog).__name__}. Pass advisor.load_catalog(path) or leave it out."
        )
    if len(catalog) == 0:
        raise CatalogError(
            "explorer(catalog=...): the catalog holds no technique; expected at least one. "
            "Check the data directory with `green-advisor validate --data DIR`."
        )
    return Explorer(catalog)
