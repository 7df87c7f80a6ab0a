"""The report as one self-contained HTML file (Jinja2, autoescaped; figures embedded as PNG data URIs)."""

from __future__ import annotations

from typing import Any

from advisor._errors import MissingExtraError
from advisor.reports._generation import generation_html
from advisor.reports._training import training_html
from advisor.reports._view import view
from advisor.reports.reporting import run_rows
from advisor.training import ToTargetRun

__all__ = ["render_html"]


def render_html(data: Any) -> str:
    """Render a :class:`ReportData` as HTML.

    Every string from the data is escaped by Jinja2's autoescape; the only links are the
    references' DOI/arXiv addresses and in-page anchors.
    """
    try:
        import jinja2
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingExtraError("jinja2", "all", "The HTML report") from None
    from importlib.resources import files

    from advisor.reports.plots import figures

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string((files("advisor.reports") / "templates" / "report.html.j2").read_text("utf-8"))
    rows = run_rows(data.measurement)
    gen = generation_html(data.generation) if data.generation is not None else None  # escapes every string itself
    to_target = training_html(data.training) if isinstance(data.training, ToTargetRun) else None  # so does this
    return template.render(v=view(data), figures=figures(rows) if rows else [], generation=gen, to_target=to_target)
