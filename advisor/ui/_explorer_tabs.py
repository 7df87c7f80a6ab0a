"""Content of the explorer's plot tabs: crosswalk heatmaps and reported savings, with captions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING, Any

from advisor.ui._explorer_rows import vocab_label

if TYPE_CHECKING:
    import pandas as pd

    from advisor.catalog import schema as S
    from advisor.catalog._catalog import Catalog

__all__ = ["crosswalk_content", "crosswalk_table", "savings_content", "savings_view_options"]


def _level(t: S.Technique) -> list[str]:
    return [t.level or "none"]


def _category(t: S.Technique) -> list[str]:
    return [t.category or "none"]


def _count(
    catalog: Catalog,
    rows: list[str],
    cols: list[str],
    rows_of: Callable[[S.Technique], Iterable[str]],
    cols_of: Callable[[S.Technique], Iterable[str]],
) -> pd.DataFrame:
    """Techniques per (row term, column term); a technique counts once in every cell it falls in."""
    import pandas as pd

    counts: Counter[tuple[str, str]] = Counter()
    for t in catalog:
        for r in set(rows_of(t)):
            for c in set(cols_of(t)):
                counts[r, c] += 1
    return pd.DataFrame([[counts[r, c] for c in cols] for r in rows], index=rows, columns=cols)


def crosswalk_table(catalog: Catalog, kind: str) -> tuple[pd.DataFrame, str, str]:
    """Technique counts for a crosswalk, with row and column axis names.

    Args:
        catalog: The techniques to count.
        kind: ``stage-level`` (Mehlin stage x Lee level), ``category-stage`` (Xu category x
            Mehlin stage) or ``xu-mehlin`` (top-level sections of the two surveys' own trees).
    """
    from advisor.catalog import schema as S
    from advisor.catalog.surveys import crosswalk

    v = catalog.vocab
    if kind == "stage-level":
        table = _count(catalog, list(S.STAGES), [*S.LEVELS, "none"], lambda t: t.lifecycle_stages, _level)
        table.index = [vocab_label(v, "lifecycle_stages", s) for s in table.index]
        table.columns = [vocab_label(v, "levels", c) if c != "none" else "no level" for c in table.columns]
        return table, "Lifecycle stage (Mehlin et al. 2023)", "Level (Lee et al. 2021)"
    if kind == "category-stage":
        table = _count(catalog, [*S.CATEGORIES, "none"], list(S.STAGES), _category, lambda t: t.lifecycle_stages)
        table.index = [vocab_label(v, "categories", c) if c != "none" else "no category" for c in table.index]
        table.columns = [vocab_label(v, "lifecycle_stages", s) for s in table.columns]
        return table, "Category (Xu et al. 2021)", "Lifecycle stage (Mehlin et al. 2023)"
    if kind == "xu-mehlin":
        titles = {n.id: n.title for tree in catalog.surveys.values() for n in tree.nodes}
        table = crosswalk(catalog, "xu2021", "mehlin2023").copy()
        table.index = [titles.get(i, i) for i in table.index]
        table.columns = [titles.get(c, c) for c in table.columns]
        return table, "Xu et al. 2021 section", "Mehlin et al. 2023 section"
    from advisor._errors import CatalogError

    raise CatalogError(f"crosswalk kind {kind!r}: expected 'stage-level', 'category-stage' or 'xu-mehlin'")


def crosswalk_content(catalog: Catalog, kind: str) -> tuple[str, bytes]:
    """Caption (HTML) and heatmap (SVG) of a crosswalk of the given techniques."""
    from advisor.ui._plots import heatmap_figure, to_svg

    if len(catalog) == 0:
        return "<p><i>No technique matches the filters; nothing to count.</i></p>", b""
    table, rows, cols = crosswalk_table(catalog, kind)
    caption = (
        f"<p>Counts of the {len(catalog)} techniques matching the filters. A technique placed in several "
        "cells (several stages or sections) counts once in each.</p>"
    )
    return caption, to_svg(heatmap_figure(table, f"{rows} × {cols}", cols, rows))


def savings_view_options(evidence: pd.DataFrame, vocab: dict[str, Any]) -> list[tuple[str, tuple[str, str, str]]]:
    """Dropdown options of the Savings tab: one per (metric, direction, unit) in the evidence."""
    from advisor.ui._plots import savings_views

    return savings_views(evidence, vocab)


def savings_content(
    evidence: pd.DataFrame, view: tuple[str, str, str] | None, names: dict[str, str], vocab: dict[str, Any]
) -> tuple[str, bytes]:
    """Caption (HTML) and strip/range plot (SVG) of the figures in one (metric, direction, unit) group."""
    from advisor.ui._plots import savings_figure, to_svg

    if view is None or evidence.empty:
        return "<p><i>None of the matching techniques has quantitative evidence.</i></p>", b""
    metric, direction, unit = view
    caption = (
        f"<p>Reported <b>{escape(vocab_label(vocab, 'metrics', metric).lower())} {escape(direction)}</b> in "
        f"<b>{escape(vocab_label(vocab, 'units', unit))}</b>, one row per technique. Each figure comes from its "
        "own source, model, baseline and hardware (see the detail pane), so the rows are not a like-for-like "
        "comparison. Only figures in the same unit share an axis; pick another unit or metric above.</p>"
    )
    return caption, to_svg(savings_figure(evidence, names, view, vocab))
