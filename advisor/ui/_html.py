"""Small HTML builders for the widgets: escaped tables, messages and download links."""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["download_link", "fmt", "message", "table"]

_STYLE = (
    "<style>.gda-t{border-collapse:collapse;font-size:12px}"
    ".gda-t th,.gda-t td{border-bottom:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}"
    ".gda-t th{background:#f3f3f3}.gda-err{color:#a40000}.gda-ok{color:#1b5e20}.gda-warn{color:#8a5300}</style>"
)


def fmt(value: Any, digits: int = 3) -> str:
    """A cell's text: numbers to ``digits`` significant figures, None and NaN as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, css_class: str = "gda-t") -> str:
    """An HTML table of ``rows`` with every cell escaped.

    Args:
        rows: One mapping per row; missing keys render as an en dash.
        columns: Keys to show, in order; also the header text.
        css_class: Class of the ``<table>``.
    """
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f'{_STYLE}<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def message(text: str, kind: str = "ok") -> str:
    """An escaped one-line status message; ``kind`` is ``ok``, ``warn`` or ``err``."""
    return f'{_STYLE}<div class="gda-{kind}">{html.escape(text)}</div>'


def download_link(data: bytes, filename: str, mime: str, label: str | None = None) -> str:
    """An ``<a download>`` link carrying ``data`` inline, so it also works from a Voila page."""
    b64 = base64.b64encode(data).decode("ascii")
    name = html.escape(filename, quote=True)
    return f'<a download="{name}" href="data:{mime};base64,{b64}">{html.escape(label or filename)}</a>'
