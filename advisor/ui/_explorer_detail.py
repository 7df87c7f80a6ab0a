"""The explorer's detail pane: one technique as escaped HTML (evidence, references, relations)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from advisor.ui._explorer_rows import ARROW, qualifier_text, vocab_label

if TYPE_CHECKING:
    from advisor.catalog import schema as S
    from advisor.catalog._catalog import Catalog

__all__ = ["detail_html", "placeholder_html", "reference_html", "reference_links"]

_TH = "padding:2px 6px;border-bottom:1px solid #ccc;text-align:left;background:#f4f4f4;"
_TD = "padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top;"
_TH_ROW = _TD + "text-align:left;white-space:nowrap;"


def placeholder_html(n_matching: int) -> str:
    """What the detail pane shows when no technique is selected."""
    return (
        f"<p><i>Pick one of the {n_matching} matching techniques in the list to see its summary, "
        "evidence, references and neighbourhood.</i></p>"
    )


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url, quote=True)}" target="_blank" rel="noopener">{escape(text)}</a>'


def reference_links(ref: S.Reference) -> list[str]:
    """HTML links of a reference: DOI (doi.org), arXiv (arxiv.org/abs) and an http(s) URL."""
    links = []
    if ref.DOI:
        links.append(_link("https://doi.org/" + quote(ref.DOI, safe="/()._-;:"), f"doi:{ref.DOI}"))
    if ref.arxiv:
        links.append(_link("https://arxiv.org/abs/" + quote(ref.arxiv, safe="/._-"), f"arXiv:{ref.arxiv}"))
    if ref.URL and ref.URL.lower().startswith(("https://", "http://")):  # never a javascript: or data: URL
        links.append(_link(ref.URL, "link"))
    return links


def reference_html(ref: S.Reference) -> str:
    """One reference as a line: authors, year, title, venue and its links."""
    names = [a.get("family") or a.get("literal") or "" for a in ref.author]
    authors = names[0] + (" et al." if len(names) > 2 else f" and {names[1]}" if len(names) == 2 else "")
    venue = f" <i>{escape(ref.container_title)}</i>." if ref.container_title else ""
    links = " · ".join(reference_links(ref))
    return (
        f"<code>{escape(ref.id)}</code> {escape(authors)} ({ref.year or 'n.d.'}). {escape(ref.title)}.{venue} {links}"
    )


def _evidence_table(t: S.Technique, vocab: dict[str, Any]) -> str:
    if not t.evidence:
        return "<p><i>No quantitative evidence recorded for this technique yet.</i></p>"
    heads = ["Metric", "Figure", "Baseline", "Setting", "Hardware", "Source", "Note"]
    rows = []
    for ev in t.evidence:
        unit = vocab_label(vocab, "units", ev.unit)
        figure = f"{ARROW[ev.direction]} {qualifier_text(ev)}{ev.value_text} {unit}"
        extras = [x for x, on in (("component", ev.scope == "component"), ("derived", ev.qualifier == "derived")) if on]
        if extras:
            figure += f" ({', '.join(extras)})"
        cells = [
            vocab_label(vocab, "metrics", ev.metric),
            figure,
            ev.baseline,
            ev.setting,
            ev.hardware or "not stated",
            f"{ev.reference}, {ev.locator}",
            ev.note or "",
        ]
        rows.append("<tr>" + "".join(f'<td style="{_TD}">{escape(c)}</td>' for c in cells) + "</tr>")
    head = "".join(f'<th style="{_TH}">{h}</th>' for h in heads)
    return (
        '<table style="border-collapse:collapse;font-size:12px;width:100%;line-height:1.35;">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _relations(catalog: Catalog, t: S.Technique, incoming: list[tuple[str, str]]) -> str:
    def name(tid: str) -> str:
        return escape(catalog.get(tid).name) if tid in catalog else escape(tid)

    items = [
        f"<li>{escape(vocab_label(catalog.vocab, 'relation_types', r.type))} <b>{name(r.target)}</b> "
        f"<code>{escape(r.target)}</code>{(' – ' + escape(r.note)) if r.note else ''}</li>"
        for r in t.relations
    ]
    items += [
        f"<li><b>{name(src)}</b> <code>{escape(src)}</code> "
        f"{escape(vocab_label(catalog.vocab, 'relation_types', rtype))} this technique</li>"
        for rtype, src in incoming
    ]
    return f"<ul>{''.join(items)}</ul>" if items else "<p><i>No relations recorded.</i></p>"


def detail_html(catalog: Catalog, t: S.Technique, incoming: list[tuple[str, str]] | None = None) -> str:
    """The technique as HTML; every string from the data is escaped.

    Args:
        catalog: The catalog (for vocabulary labels, references and related techniques' names).
        t: The technique.
        incoming: ``(relation type, source id)`` of relations other techniques declare towards it.
    """
    v = catalog.vocab
    app, costs = t.applicability, t.costs
    stages = ", ".join(vocab_label(v, "lifecycle_stages", s) for s in t.lifecycle_stages)
    facts = [
        ("Category", vocab_label(v, "categories", t.category)),
        ("Lifecycle stages", stages),
        ("Level", vocab_label(v, "levels", t.level)),
        ("Saves", ", ".join(t.saves)),
        ("Model families", ", ".join(app.model_families)),
        ("Phases", ", ".join(app.phases)),
        ("Hardware", ", ".join(app.hardware)),
        ("Needs hardware features", ", ".join(app.requires_features) or "none"),
        ("Targets", ", ".join(app.targets)),
        ("Retraining", app.needs_retraining),
        ("Data needed", app.needs_data),
        ("Accuracy risk / effort", f"{costs.accuracy_risk} / {costs.effort}"),
    ]
    if costs.notes:
        facts.append(("Costs", costs.notes))
    if t.implementations:
        facts.append(("Implementations", "; ".join(i.call for i in t.implementations)))
    fact_rows = "".join(
        f'<tr><th style="{_TH_ROW}">{escape(k)}</th><td style="{_TD}">{escape(val)}</td></tr>' for k, val in facts
    )
    refs = []
    for key in t.references:
        ref = catalog.references.get(key)
        refs.append(f"<li>{reference_html(ref)}</li>" if ref else f"<li><code>{escape(key)}</code> (not found)</li>")
    aliases = f'<p style="color:#666;">Also known as: {escape(", ".join(t.aliases))}</p>' if t.aliases else ""
    return (
        f'<h3 style="margin:4px 0;">{escape(t.name)} <code style="font-size:70%;">{escape(t.id)}</code></h3>'
        f"{aliases}<p>{escape(t.summary)}</p>"
        f'<table style="border-collapse:collapse;font-size:12px;line-height:1.35;">{fact_rows}</table>'
        f"<h4>Evidence ({len(t.evidence)})</h4>{_evidence_table(t, v)}"
        f"<h4>References ({len(t.references)})</h4><ul>{''.join(refs)}</ul>"
        f"<h4>Relations</h4>{_relations(catalog, t, incoming or [])}"
    )
