"""``advisor.report()``: write a measurement and/or recommendations as HTML, Markdown, JSON and BibTeX."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from advisor.reports._data import ReportError
from advisor.reports._model import build_data

__all__ = ["FILE_NAMES", "FORMATS", "render", "report"]

FORMATS = ("html", "md", "json", "bib")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".json": "json", ".bib": "bib"}
FILE_NAMES = {"html": "report.html", "md": "report.md", "json": "report.json", "bib": "references.bib"}


def render(data: Any, fmt: str) -> str:
    """One format of a :class:`ReportData` (from :func:`build_data`) as text."""
    if fmt == "html":
        from advisor.reports.html import render_html

        return render_html(data)
    if fmt == "md":
        from advisor.reports.markdown import render_markdown

        return render_markdown(data)
    if fmt == "json":
        from advisor.reports.reporting import reporting_items, reporting_statement

        reporting = {"statement": reporting_statement(data), "items": reporting_items(data)}
        payload = {**data.to_dict(), "reporting": reporting}
        return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if fmt == "bib":
        from advisor.reports.bibtex import render_bibtex

        return render_bibtex(data)
    raise ReportError(f"format {fmt!r} is not one of {list(FORMATS)}; pick one of them (or leave it out for all)")


def _targets(out: Path, formats: Iterable[str] | None) -> dict[str, Path]:
    wanted = None if formats is None else ([formats] if isinstance(formats, str) else list(formats))
    for f in wanted or []:
        if f not in FORMATS:
            raise ReportError(f"format {f!r} is not one of {list(FORMATS)}; pick from them (or give None for all)")
    suffix = out.suffix.lower()
    if out.is_dir() or not suffix:
        return {f: out / FILE_NAMES[f] for f in (wanted or FORMATS)}
    if suffix not in SUFFIXES:
        raise ReportError(
            f"out={str(out)!r}: the suffix {suffix!r} names no report format; expected a file ending in "
            f"{', '.join(SUFFIXES)} or a directory (no suffix) to write {', '.join(FILE_NAMES.values())}"
        )
    fmt = SUFFIXES[suffix]
    if wanted and wanted != [fmt]:
        raise ReportError(
            f"out={str(out)!r} is a {fmt} file but formats={wanted}; drop formats, or give a directory to write several"
        )
    return {fmt: out}


def _from_store(
    run_id: str, store: Any, measurement: Any, training: Any, generation: Any = None
) -> tuple[Any, Any, Any]:
    """The run with this id from the store, as (measurement, training, generation)."""
    from advisor.measurement import ResultStore

    if measurement is not None or training is not None or generation is not None:
        raise ReportError("report(): give either run_id= or a measurement/training/generation object, not both")
    from advisor.generation import GenerationRun
    from advisor.measurement import TrainingRun
    from advisor.training import ToTargetRun

    st = store if isinstance(store, ResultStore) else ResultStore(store)
    run = st.load_run(run_id)
    if isinstance(run, GenerationRun):
        return None, None, run
    return (None, run, None) if isinstance(run, (TrainingRun, ToTargetRun)) else (run, None, None)


def report(
    measurement: Any = None,
    recommendations: Any = None,
    *,
    out: str | Path,
    formats: Iterable[str] | str | None = None,
    title: str | None = None,
    training: Any = None,
    catalog: Any = None,
    run_id: str | None = None,
    store: Any = None,
    generation: Any = None,
) -> dict[str, Path]:
    """Write a report of a measurement and/or recommendations.

    Args:
        measurement: A ``MeasureRun`` (from :func:`advisor.measure`) or its ``to_dict()``; a ``GenerationRun``
            here is reported as ``generation``.
        run_id: Instead of ``measurement``/``training``: a run id in the results store (see
            ``green-advisor history``); a training run is reported as training.
        store: The results store to read ``run_id`` from (a path or ``ResultStore``; default store).
        recommendations: A ``Recommendations`` (from :func:`advisor.recommend`) or its ``to_dict()``.
        out: A file (``.html``, ``.md``, ``.json`` or ``.bib``: the format follows the suffix) or a
            directory, where ``report.html``, ``report.md``, ``report.json`` and ``references.bib`` are written.
        formats: With a directory, only these of ``html``, ``md``, ``json``, ``bib``.
        title: The report's title (default: "Energy report: <model name>").
        training: A training run (``TrainingRun`` or its ``to_dict()``), shown as tables.
        catalog: The catalog whose references are cited (default: the recommendations' catalog, else the shipped one).
        generation: A ``GenerationRun`` (from :func:`advisor.measure_generation`) or its ``to_dict()`` (the JSON of
            ``green-advisor generate --out``): the generation section (J/token table, frontier plot, advice,
            Reporting).

    Returns:
        Format -> path written.

    Raises:
        ReportError: no input, an input of the wrong shape, or an ``out``/``formats`` that do not fit.
        StoreError: ``run_id`` is not in the store.
    """
    targets = _targets(Path(out), formats)
    if run_id is not None:
        measurement, training, generation = _from_store(run_id, store, measurement, training, generation)
    data = build_data(
        measurement, recommendations, training=training, title=title, catalog=catalog, generation=generation
    )
    written = {}
    for fmt, path in targets.items():
        text = render(data, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written[fmt] = path
    return written
