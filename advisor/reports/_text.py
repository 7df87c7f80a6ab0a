"""Text primitives every report format shares: numbers for tables, Markdown cells and tables.

The lowest module of ``advisor.reports``: it imports no other module of the package, so the
renderers (Markdown, HTML, generation, campaign) can all use it without importing each other.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["fmt_num", "md_cell", "md_table", "md_text", "quality_text", "reference_link", "reference_text"]


def fmt_num(x: Any, spec: str = ".3g") -> str:
    """A number for tables (``-`` for None)."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def md_cell(x: Any) -> str:
    """One table cell: HTML-escaped (Markdown renders raw HTML), pipes and newlines neutralised."""
    return html.escape(str(x), quote=False).replace("|", "\\|").replace("\n", " ").strip()


def md_text(x: Any) -> str:
    """Running Markdown text: HTML-escaped (Markdown renders raw HTML) on one line."""
    return html.escape(str(x), quote=False).replace("\n", " ")


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def quality_text(q: Any) -> str:
    """The deciding quality figure and its status, e.g. ``top-1 agreement 0.984 on 64 held-out inputs (verified)``.

    Accuracy change where an eval_fn gave it, else the output kind's fidelity figure
    (:func:`advisor.measurement.quality.quality_figure`); why it is unverified when it is.

    Args:
        q: A :class:`advisor.measurement.quality.Quality` (None: no quality measured).
    """
    from advisor.measurement.quality import judge_quality, quality_figure

    if q is None:
        return "-"
    verdict = judge_quality(q)
    figure = quality_figure(q)
    if q.accuracy is not None and figure and figure.startswith("accuracy"):
        figure += f" (accuracy {fmt_num(q.accuracy, '.4g')})"
    if verdict.status == "unverified":
        return f"unverified: {verdict.reason}" + (f" ({figure})" if figure else "")
    if verdict.status == "failed":
        return f"FAILED: {verdict.reason}"
    return f"{figure} (verified)" if figure else "verified"


def reference_link(ref: Any) -> tuple[str, str] | None:
    """(label, URL) of a :class:`advisor.catalog.schema.Reference`: its DOI, else its arXiv id, else its URL."""
    if ref.DOI:
        return f"doi:{ref.DOI}", f"https://doi.org/{ref.DOI}"
    if ref.arxiv:
        return f"arXiv:{ref.arxiv}", f"https://arxiv.org/abs/{ref.arxiv}"
    if ref.URL:
        return ref.URL, ref.URL
    return None


def _author_name(a: dict[str, str]) -> str:
    """One CSL author (a CSL name object: ``family``/``given`` or ``literal``) as 'Family, G.'."""
    if "family" in a:
        initials = " ".join(f"{g[0]}." for g in (a.get("given") or "").replace("-", " ").split() if g)
        return f"{a['family']}, {initials}".rstrip(", ") if initials else a["family"]
    return a.get("literal", "?")


def reference_text(ref: Any) -> str:
    """A citation without its link: 'Family, G., Other, H. (2021). Title. Venue.'."""
    authors = [_author_name(a) for a in ref.author]
    if len(authors) > 6:
        authors = [*authors[:6], "et al."]
    venue = ref.container_title or ""
    year = ref.year or "n.d."
    return f"{', '.join(authors)} ({year}). {ref.title}." + (f" {venue}." if venue else "")
