"""Reports of recommendations and measurements: HTML, Markdown, JSON and BibTeX.

::

    import advisor
    run = advisor.measure(model, inputs, budget_s=60)
    advisor.report(run, advisor.recommend(profile), out="green-report/")   # all four formats
    from advisor.reports import load_results   # also advisor.load_results
    advisor.report(**load_results("results.json"), out="report.html")

``advisor.report`` is the function (bound in ``advisor/__init__.py``); import names from this
package with ``from advisor.reports import ...``.

Light to import: Jinja2 and matplotlib are loaded when a format that needs them is written.
"""

from advisor.reports._campaign import campaign_data, campaign_report
from advisor.reports._data import ReportError, load_results, read_results
from advisor.reports._facts import RunFacts
from advisor.reports._generation import (
    frontier_plot,
    generation_html,
    generation_json,
    generation_markdown,
    generation_rows,
)
from advisor.reports._model import ReportData, build_data
from advisor.reports._report import FORMATS, render, report
from advisor.reports._text import quality_text
from advisor.reports._training import (
    curves_plot,
    training_html,
    training_json,
    training_markdown,
    training_report,
    training_rows,
)

__all__ = [
    "FORMATS",
    "ReportData",
    "ReportError",
    "RunFacts",
    "build_data",
    "campaign_data",
    "campaign_report",
    "curves_plot",
    "frontier_plot",
    "generation_html",
    "generation_json",
    "generation_markdown",
    "generation_rows",
    "load_results",
    "quality_text",
    "read_results",
    "render",
    "report",
    "training_html",
    "training_json",
    "training_markdown",
    "training_report",
    "training_rows",
]
