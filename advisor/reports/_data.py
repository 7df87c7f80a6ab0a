"""Report inputs: load result files, recognise their kind, and normalise them into one report dict.

Every renderer (HTML, Markdown, JSON, BibTeX) reads the same normalised dict, built by
:func:`build_data`, so the formats cannot disagree. The dict is plain JSON (no NaN or infinity:
non-finite floats become ``None``) and is what ``report.json`` holds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advisor._errors import ReportError
from advisor.reports._text import fmt_num

__all__ = [
    "REPORT_KIND",
    "SCHEMA_VERSION",
    "ReportError",
    "build_data",
    "fmt_num",
    "load_results",
    "measurement_rows",
    "read_results",
    "reference_link",
    "reference_text",
]

REPORT_KIND = "green-advisor-report"
SCHEMA_VERSION = 1

# What load_results() accepts, for error messages.
ACCEPTED = (
    "a measurement from `green-advisor measure --out FILE` (keys: run_id, baseline, results, meta); "
    "recommendations from `green-advisor recommend --format json` (keys: recommended, excluded, constraints); "
    "the demo's advice.json from `green-advisor demo` (recommendation keys plus measurement); "
    "a generation run from `green-advisor generate --out FILE` (kind: generation); "
    "or a report.json written by `green-advisor report` (kind: green-advisor-report)"
)
_HOW = (
    "Produce one with `green-advisor measure --model SPEC --out results.json`, "
    "`green-advisor recommend --model SPEC --format json > recs.json` or `green-advisor demo`."
)
_MEASURE_KEYS = ("run_id", "baseline", "results", "meta")
_RECOMMEND_KEYS = ("recommended", "excluded", "constraints")


# --- loading ----------------------------------------------------------------------------------------
def load_results(path: str | Path) -> dict[str, Any]:
    """Read a result file and return the keyword arguments of :func:`advisor.report`.

    Accepts the JSON written by ``green-advisor measure --out``, the demo's ``advice.json``,
    ``green-advisor recommend --format json`` output, and a ``report.json`` (round trip)::

        advisor.report(**load_results("results.json"), out="report/")

    Args:
        path: The JSON file.

    Returns:
        ``{"measurement": dict | None, "recommendations": dict | None, "training": dict | None,
        "generation": dict | None, "title": str | None}``.

    Raises:
        ReportError: the file is missing, not JSON (with line and column), or not a known kind.
    """
    kwargs, _ = read_results(path)
    return kwargs


def read_results(path: str | Path) -> tuple[dict[str, Any], str]:
    """:func:`load_results` plus the kind the file was recognised as.

    The kind is ``measurement``, ``recommendations``, ``demo-advice``, ``training``, ``generation`` or ``report``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{p}: cannot read the results file ({exc.strerror or exc}). Expected {ACCEPTED}.") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{p}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Expected {ACCEPTED}. {_HOW}"
        ) from None
    out = classify(obj, str(p))
    kind = out.pop("kind")
    return out, kind


def classify(obj: Any, source: str) -> dict[str, Any]:
    """Recognise a parsed result object; see :func:`load_results`."""
    if not isinstance(obj, dict):
        raise ReportError(f"{source}: found a JSON {type(obj).__name__}, expected an object: {ACCEPTED}. {_HOW}")
    out: dict[str, Any] = {"measurement": None, "recommendations": None, "training": None, "generation": None,
                           "title": None}  # fmt: skip
    if obj.get("kind") == REPORT_KIND:
        version = obj.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ReportError(
                f"{source}: report schema_version {version!r}, expected an integer <= {SCHEMA_VERSION}; "
                "it was written by a newer green-dl-advisor: upgrade it (pip install -U green-dl-advisor)."
            )
        out.update(
            measurement=obj.get("measurement"),
            recommendations=obj.get("recommendations"),
            training=obj.get("training"),
            generation=_generation_run_dict(obj.get("generation")),
            title=obj.get("title"),
            kind="report",
        )
    elif obj.get("kind") == "generation":
        out.update(generation=obj, kind="generation")
    elif all(k in obj for k in _RECOMMEND_KEYS):
        out["recommendations"] = {k: v for k, v in obj.items() if k not in ("measurement", "training", "demo")}
        out["measurement"] = obj.get("measurement")
        out["training"] = obj.get("training")
        out["kind"] = "demo-advice" if "measurement" in obj else "recommendations"
    elif _is_training(obj):
        out.update(training=obj, kind="training")
    elif all(k in obj for k in _MEASURE_KEYS):
        out.update(measurement=obj, training=obj.get("training"), kind="measurement")
    else:
        found = ", ".join(sorted(map(str, obj))[:12]) or "none (an empty object)"
        raise ReportError(f"{source}: not a green-dl-advisor result: found keys {found}. Expected {ACCEPTED}. {_HOW}")
    _check_measurement(out["measurement"], source)
    _check_recommendations(out["recommendations"], source)
    _check_generation(out["generation"], source)
    if out["training"] is not None and not isinstance(out["training"], dict):
        raise ReportError(
            f"{source}: 'training' must be an object (a TrainingRun.to_dict()), found {out['training']!r}"
        )
    return out


def _is_training(obj: dict[str, Any]) -> bool:
    meta = obj.get("meta")
    return isinstance(meta, dict) and meta.get("phase") == "training" and "results" in obj


def _check_measurement(m: Any, source: str) -> None:
    if m is None:
        return
    if not isinstance(m, dict) or not isinstance(m.get("results"), list):
        raise ReportError(
            f"{source}: the measurement must be an object with a 'results' list (MeasureRun.to_dict()), "
            f"found {type(m).__name__} with keys {sorted(m) if isinstance(m, dict) else '-'}. {_HOW}"
        )
    for i, r in enumerate([m.get("baseline"), *m["results"]]):
        if r is None and i == 0:
            continue
        if not isinstance(r, dict) or "technique" not in r or "status" not in r:
            where = "baseline" if i == 0 else f"results[{i - 1}]"
            raise ReportError(
                f"{source}: measurement {where} must be an object with 'technique' and 'status', found {r!r:.120}"
            )


def _generation_run_dict(g: Any) -> Any:
    """The run inside a report's generation section (the section holds the run, advice, rows)."""
    return g.get("run") if isinstance(g, dict) and isinstance(g.get("run"), dict) else g


def _check_generation(g: Any, source: str) -> None:
    if g is None:
        return
    if not isinstance(g, dict) or not isinstance(g.get("results"), list) or "run_id" not in g:
        raise ReportError(
            f"{source}: the generation run must be an object with 'run_id' and a 'results' list "
            f"(GenerationRun.to_dict(), written by `green-advisor generate --out FILE`), found "
            f"{type(g).__name__} with keys {sorted(g) if isinstance(g, dict) else '-'}"
        )
    for i, r in enumerate(g["results"]):
        if not isinstance(r, dict) or not {"technique", "batch_size", "status"} <= set(r):
            raise ReportError(f"{source}: generation results[{i}] must be an object with 'technique', 'batch_size' "
                              f"and 'status', found {r!r:.120}")  # fmt: skip


def _is_generation(obj: Any) -> bool:
    if isinstance(obj, Mapping):
        return obj.get("kind") == "generation"
    return getattr(obj, "kind", None) == "generation" and hasattr(obj, "to_dict")


def _generation_section(g: Any) -> dict[str, Any] | None:
    """The generation section of the report dict: the run, its advice, the table rows, frontier, Reporting."""
    if g is None:
        return None
    from advisor.reports._generation import generation_json

    run = to_plain(g, "generation")
    _check_generation(run, "generation")
    return _finite(json.loads(json.dumps(generation_json(run), default=_default)))


def _generation_model(run: dict[str, Any]) -> dict[str, Any]:
    meta = run.get("meta") or {}
    return {"name": meta.get("model") or "model", "family": "generative-decoder", "phase": "inference (generation)",
            "n_parameters": meta.get("parameters")}  # fmt: skip


def _check_recommendations(rec: Any, source: str) -> None:
    if rec is None:
        return
    if not isinstance(rec, dict) or not isinstance(rec.get("recommended"), list):
        raise ReportError(
            f"{source}: the recommendations must be an object with a 'recommended' list "
            f"(Recommendations.to_dict()). {_HOW}"
        )
    for i, r in enumerate(rec["recommended"]):
        if not isinstance(r, dict) or "id" not in r:
            raise ReportError(f"{source}: recommended[{i}] must be an object with an 'id', found {r!r:.120}")


# --- normalising ------------------------------------------------------------------------------------
def to_plain(obj: Any, what: str) -> dict[str, Any] | None:
    """A result object (``MeasureRun``, ``Recommendations``, ...) or dict as plain, finite JSON data."""
    if obj is None:
        return None
    if hasattr(obj, "to_dict") and not isinstance(obj, Mapping):
        obj = obj.to_dict()
    if not isinstance(obj, Mapping):
        raise ReportError(
            f"{what}: expected a result object with .to_dict() or its dict, got {type(obj).__name__}. "
            "Pass what advisor.measure() / advisor.recommend() returned, or load a file with load_results()."
        )
    return _finite(json.loads(json.dumps(obj, default=_default)))


def _default(x: Any) -> Any:
    if isinstance(x, (set, frozenset, tuple)):
        return list(x)
    if hasattr(x, "to_dict"):
        return x.to_dict()
    if hasattr(x, "model_dump"):
        return x.model_dump(mode="json")
    return str(x)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def build_data(
    measurement: Any = None,
    recommendations: Any = None,
    *,
    training: Any = None,
    title: str | None = None,
    catalog: Any = None,
    generated_at: str | None = None,
    generation: Any = None,
) -> dict[str, Any]:
    """Normalise the inputs into the report dict every format renders (``report.json``).

    Adds to the inputs the reference keys of each technique (``references``) and the resolved
    bibliography (``references_resolved``), so a saved report renders without the catalog.

    A generation run (``generation=``, or passed as ``measurement``) becomes the ``generation`` section:
    the run, its advice per batch size, the J/token rows, the frontier points and the Reporting text.

    Raises:
        ReportError: no input at all, or an input of the wrong shape.
    """
    if _is_generation(measurement):
        if generation is not None:
            raise ReportError("report(): two generation runs given (measurement= and generation=); give one")
        measurement, generation = None, measurement
    gen = _generation_section(generation)
    m = to_plain(measurement, "measurement")
    rec = to_plain(recommendations, "recommendations")
    tr = to_plain(training, "training")
    if m is None and rec is None and tr is None and gen is None:
        raise ReportError(
            "report(): nothing to report: give a measurement (advisor.measure(...)), recommendations "
            "(advisor.recommend(...)), a training run or a generation run (advisor.measure_generation(...)), "
            "or load a file with advisor.reports.load_results(path)."
        )
    _check_measurement(m, "measurement")
    _check_recommendations(rec, "recommendations")
    if catalog is None and recommendations is not None and hasattr(recommendations, "catalog"):
        catalog = recommendations.catalog
    refs = _attach_references(m, rec, catalog, tr)
    meta = (m or {}).get("meta") or {}
    tr_meta = (tr or {}).get("meta") or {}
    g_meta = (gen or {}).get("run", {}).get("meta") or {}
    model = meta.get("model") or (rec or {}).get("model") or (tr or {}).get("model") or tr_meta.get("model")
    model = model or (_generation_model(gen["run"]) if gen else None)
    hardware = meta.get("hardware") or (rec or {}).get("hardware") or tr_meta.get("hardware") or g_meta.get("hardware")
    versions = meta.get("versions") or tr_meta.get("versions") or g_meta.get("versions")
    versions_source = "measurement" if versions else "report"
    if not versions:
        versions = _report_versions()
    name = (model or {}).get("name") or "model"
    data: dict[str, Any] = {
        "kind": REPORT_KIND,
        "schema_version": SCHEMA_VERSION,
        "title": title or f"Energy report: {name}",
        "generated_at": generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "model": model,
        "hardware": hardware,
        "versions": versions,
        "versions_source": versions_source,
        "recommendations": rec,
        "measurement": m,
        "training": tr,
        "generation": gen,
        "references": refs,
    }
    return data


def _report_versions() -> dict[str, str]:
    import platform

    from advisor._version import __version__

    out = {"python": platform.python_version(), "green-dl-advisor": __version__}
    try:
        from importlib.metadata import version

        out["torch"] = version("torch")
    except Exception:  # noqa: BLE001 - torch is optional for a report
        out["torch"] = "not installed"
    return out


def _attach_references(
    m: dict[str, Any] | None, rec: dict[str, Any] | None, catalog: Any, tr: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Give each technique its reference keys and return the cited works, in order of first citation."""
    known: dict[str, Any] = {}
    for block in (rec, m, tr):
        if block and isinstance(block.get("references_resolved"), dict):
            known.update(block["references_resolved"])
    items = [*((rec or {}).get("recommended") or []), *((m or {}).get("results") or [])]
    items += [r for r in (tr or {}).get("results") or [] if isinstance(r, dict)]
    ids_needing = [it for it in items if not isinstance(it.get("references"), list)]
    if ids_needing and catalog is None:
        from advisor.catalog import load_catalog

        catalog = load_catalog()
    order: dict[str, None] = {}
    for it in items:
        tid = it.get("id") or it.get("technique")
        if not isinstance(it.get("references"), list):
            it["references"] = list(catalog.get(tid).references) if tid in catalog else []
        for key in it["references"]:
            if key not in known and catalog is not None and key in catalog.references:
                known[key] = catalog.references[key].model_dump(mode="json", by_alias=True, exclude_none=True)
            order[key] = None
    blocks = ((rec, (rec or {}).get("recommended")), (m, (m or {}).get("results")), (tr, (tr or {}).get("results")))
    for block, block_items in blocks:
        if block is not None:
            keys = dict.fromkeys(k for it in block_items or [] if isinstance(it, dict) for k in it["references"])
            block["references_resolved"] = {k: known[k] for k in keys if k in known}
    return {k: known[k] for k in order if k in known}


# --- derived views ------------------------------------------------------------------------------------
def quality_text(q: dict[str, Any] | None) -> str:
    """The deciding quality figure and its status, e.g. ``top-1 agreement 0.984 on 64 held-out inputs (verified)``.

    Accuracy change where an eval_fn gave it, else the output kind's fidelity figure
    (:func:`advisor.measurement.quality.quality_figure`); why it is unverified when it is.
    """
    from advisor.measurement.quality import judge_quality, quality_figure

    if not q:
        return "-"
    verdict = judge_quality(q)
    figure = quality_figure(q)
    if q.get("accuracy") is not None and figure and figure.startswith("accuracy"):
        figure += f" (accuracy {fmt_num(q['accuracy'], '.4g')})"
    if verdict.status == "unverified":
        return f"unverified: {verdict.reason}" + (f" ({figure})" if figure else "")
    if verdict.status == "failed":
        return f"FAILED: {verdict.reason}"
    return f"{figure} (verified)" if figure else "verified"


def _co2e(r: dict[str, Any], name: str) -> Any:
    if r.get(name) is not None:
        return r[name]
    return (r.get("timing") or {}).get(name)


def measurement_rows(m: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One flat row per measured variant (the baseline first), with the figures every format shows.

    The figures come from :func:`advisor.measurement.result_row` (the one flattening of a result);
    this adds the report's own columns (reason, quality text, settings).
    """
    from advisor.measurement import result_row

    if not m:
        return []
    rows = []
    for r in [m.get("baseline"), *m.get("results", [])]:
        if r is None:
            continue
        flat = result_row(r)
        rows.append(
            {
                **flat,
                "status": r.get("status"),
                "reason": r.get("reason"),
                "latency_ms_median": flat["latency_ms"],
                "co2e_g_per_call": _co2e(r, "co2e_g_per_call"),
                "co2e_g_per_1k_calls": _co2e(r, "co2e_g_per_1k_calls"),
                "quality": quality_text(r.get("quality")),
                "measured_latency_ratio": flat["latency_ratio"],
                "settings": r.get("settings") or {},
            }
        )
    return rows


def reference_link(ref: dict[str, Any]) -> tuple[str, str] | None:
    """(label, URL) of a reference: its DOI, else its arXiv id, else its URL."""
    if ref.get("DOI"):
        return f"doi:{ref['DOI']}", f"https://doi.org/{ref['DOI']}"
    if ref.get("arxiv"):
        return f"arXiv:{ref['arxiv']}", f"https://arxiv.org/abs/{ref['arxiv']}"
    if ref.get("URL"):
        return ref["URL"], ref["URL"]
    return None


def _year(ref: dict[str, Any]) -> str:
    parts = (ref.get("issued") or {}).get("date-parts") or [[None]]
    year = parts[0][0] if parts and parts[0] else None
    return str(year) if year else "n.d."


def _author_name(a: dict[str, str]) -> str:
    if "family" in a:
        initials = " ".join(f"{g[0]}." for g in (a.get("given") or "").replace("-", " ").split() if g)
        return f"{a['family']}, {initials}".rstrip(", ") if initials else a["family"]
    return a.get("literal", "?")


def reference_text(ref: dict[str, Any]) -> str:
    """A citation without its link: 'Family, G., Other, H. (2021). Title. Venue.'."""
    authors = [_author_name(a) for a in ref.get("author") or []]
    if len(authors) > 6:
        authors = [*authors[:6], "et al."]
    venue = ref.get("container-title") or ""
    return f"{', '.join(authors)} ({_year(ref)}). {ref.get('title', '')}." + (f" {venue}." if venue else "")
