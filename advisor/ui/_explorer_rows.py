"""The explorer's technique table: one cached row per technique, sorting and HTML rendering.

Rows are computed once per catalog (:func:`build_rows`); a filter or sort change only picks,
orders and joins the cached, already escaped HTML fragments, so it stays well under a millisecond
per hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from advisor.catalog import schema as S
from advisor.recommendation.estimate import evidence_ratio

if TYPE_CHECKING:
    from collections.abc import Iterable

    from advisor.catalog._catalog import Catalog

__all__ = [
    "COLUMNS",
    "SORT_OPTIONS",
    "Row",
    "best_saving",
    "build_rows",
    "qualifier_text",
    "sort_ids",
    "table_html",
    "vocab_label",
]

# (column header, sort key) in display order
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Technique", "name"),
    ("Category", "category"),
    ("Lifecycle stages", "stages"),
    ("Level", "level"),
    ("Best reported saving", "saving"),
    ("# evidence", "n_evidence"),
    ("# refs", "n_references"),
)
SORT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("Search relevance", "relevance"),
    ("Name", "name"),
    ("Category", "category"),
    ("Lifecycle stage", "stages"),
    ("Level", "level"),
    ("Best reported saving", "saving"),
    ("# evidence", "n_evidence"),
    ("# references", "n_references"),
)
ARROW = {"decrease": "↓", "increase": "↑", "change": "±"}
_CELL = "padding:3px 8px;border-bottom:1px solid #e5e5e5;vertical-align:top;"
_MUTED = "color:#777;font-size:90%;"


def vocab_label(vocab: dict[str, Any], section: str, term: str | None) -> str:
    """The human label of a vocabulary term (``data/vocab.yaml``), or the term itself."""
    if term is None:
        return "none"
    entry = vocab.get(section, {}).get(term)
    return str(entry["label"]) if isinstance(entry, dict) and "label" in entry else term


def qualifier_text(ev: Any) -> str:
    """How an evidence figure is bounded, as a prefix: ``up to ``, ``at least `` or nothing."""
    return {"up-to": "up to ", "at-least": "at least "}.get(ev.qualifier, "")


@dataclass(frozen=True)
class Row:
    """One technique's table row: sort keys and its escaped HTML cells.

    Attributes:
        id: Technique id.
        keys: Sort key per column key; ``None`` sorts last whichever the direction.
        cells: Escaped HTML of each column, in :data:`COLUMNS` order.
    """

    id: str
    keys: dict[str, Any]
    cells: tuple[str, ...]


def best_saving(t: S.Technique) -> tuple[float, S.Evidence] | None:
    """The technique's largest reported resource saving as (factor, evidence item).

    The factor is baseline/new of a lower-is-better quantity (2.0 = halved; a 30 % decrease is
    1.43), converted as the advisor does (:func:`advisor.recommendation.estimate.evidence_ratio`, the
    geometric middle of a range). Accuracy items, signed ``change`` items and absolute units are
    not savings and are skipped. Whole-model (``end-to-end``) items are preferred; component-level
    items are used only when a technique has no other.
    """
    for scope in ("end-to-end", "component"):
        best: tuple[float, S.Evidence] | None = None
        for ev in t.evidence:
            if ev.metric == "accuracy" or ev.scope != scope:
                continue
            ratio = evidence_ratio(ev)
            if ratio is None or ratio >= 1.0:
                continue
            factor = 1.0 / ratio
            if best is None or factor > best[0]:
                best = (factor, ev)
        if best is not None:
            return best
    return None


def _saving_cell(vocab: dict[str, Any], found: tuple[float, S.Evidence] | None) -> str:
    if found is None:
        return f'<span style="{_MUTED}">–</span>'
    factor, ev = found
    metric = vocab_label(vocab, "metrics", ev.metric).lower()
    unit = vocab_label(vocab, "units", ev.unit)
    sep = "" if ev.unit == "percent" else " "
    text = f"{metric} {ARROW[ev.direction]} {qualifier_text(ev)}{ev.value_text}{sep}{unit}"
    if ev.scope == "component":
        text += " (component)"
    tip = f"vs {ev.baseline}; {ev.setting} [{ev.reference}, {ev.locator}]"
    return (
        f'<span title="{escape(tip)}">{escape(text)}</span> '
        f'<span style="{_MUTED}" title="baseline/new">(×{factor:.3g})</span>'
    )


def build_rows(catalog: Catalog) -> dict[str, Row]:
    """Compute every technique's row once: sort keys and escaped cells."""
    vocab = catalog.vocab
    cat_pos = {c: i for i, c in enumerate(S.CATEGORIES)}
    stage_pos = {s: i for i, s in enumerate(S.STAGES)}
    level_pos = {lv: i for i, lv in enumerate(S.LEVELS)}
    rows: dict[str, Row] = {}
    for t in catalog:
        found = best_saving(t)
        stages = sorted(t.lifecycle_stages, key=stage_pos.__getitem__)
        keys = {
            "name": (t.name.lower(), t.id),
            "category": cat_pos[t.category] if t.category else None,
            "stages": tuple(stage_pos[s] for s in stages),
            "level": level_pos[t.level] if t.level else None,
            "saving": found[0] if found else None,
            "n_evidence": len(t.evidence),
            "n_references": len(t.references),
        }
        cells = (
            f'<b>{escape(t.name)}</b><br><code style="{_MUTED}">{escape(t.id)}</code>',
            escape(vocab_label(vocab, "categories", t.category)),
            escape(", ".join(vocab_label(vocab, "lifecycle_stages", s) for s in stages)),
            escape(vocab_label(vocab, "levels", t.level)),
            _saving_cell(vocab, found),
            str(len(t.evidence)),
            str(len(t.references)),
        )
        rows[t.id] = Row(t.id, keys, cells)
    return rows


def sort_ids(ids: Iterable[str], rows: dict[str, Row], key: str, *, ascending: bool = True) -> list[str]:
    """Order technique ids by a column; ties by name, techniques without a value last.

    ``key="relevance"`` keeps the given order (the search ranking), reversed when descending.
    """
    ids = list(ids)
    if key == "relevance":
        return ids if ascending else ids[::-1]
    by_name = sorted(ids, key=lambda i: rows[i].keys["name"])
    if key == "name":
        return by_name if ascending else by_name[::-1]
    present = [i for i in by_name if rows[i].keys[key] is not None]
    missing = [i for i in by_name if rows[i].keys[key] is None]
    present.sort(key=lambda i: rows[i].keys[key], reverse=not ascending)  # stable: ties stay by name
    return present + missing


def table_html(ids: list[str], rows: dict[str, Row], *, selected: str | None = None, max_height_px: int = 420) -> str:
    """The techniques as an HTML table (cells are already escaped)."""
    if not ids:
        return "<p><i>No technique matches these filters. Clear a filter or the search text.</i></p>"
    head = "".join(
        f'<th style="{_CELL}text-align:left;position:sticky;top:0;background:#f4f4f4;">{escape(h)}</th>'
        for h, _ in COLUMNS
    )
    body = []
    for tid in ids:
        style = ' style="background:#fff4c2;"' if tid == selected else ""
        tds = "".join(f'<td style="{_CELL}">{c}</td>' for c in rows[tid].cells)
        body.append(f'<tr data-id="{escape(tid)}"{style}>{tds}</tr>')
    return (
        f'<div style="max-height:{max_height_px}px;overflow:auto;border:1px solid #ddd;">'
        f'<table style="border-collapse:collapse;width:100%;font-size:13px;line-height:1.35;">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
