"""Text primitives every report format shares: numbers for tables, Markdown cells and tables.

The lowest module of ``advisor.reports``: it imports no other module of the package, so the
renderers (Markdown, HTML, generation, campaign) can all use it without importing each other.
"""

from __future__ import annotations

import html
from typing import Any

__all__ = ["fmt_num", "md_cell", "md_table", "md_text"]


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
