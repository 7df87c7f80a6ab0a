"""The one report model: the typed results of one report and the facts around them.

:func:`build_data` turns what :func:`advisor.report` is given (result objects, their dicts, a run
from the store) into a :class:`ReportData`; every format (HTML, Markdown, JSON, BibTeX) renders that
object, so the formats cannot disagree. ``report.json`` is :meth:`ReportData.to_dict` (plain JSON:
non-finite floats become ``null``), with the same field names as the results' own ``to_dict()``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from advisor._errors import ReportError
from advisor.reports._data import (
    REPORT_KIND,
    SCHEMA_VERSION,
    as_generation,
    as_measurement,
    as_recommendations,
    as_training,
    is_generation,
)
from advisor.reports._facts import RunFacts

__all__ = ["ReportData", "build_data", "technique_of"]


@dataclass
class ReportData:
    """Everything one report shows, typed.

    Attributes:
        title: The report's title.
        generated_at: When the report was built (ISO 8601, UTC).
        model: The model measured or advised on (None: not recorded).
        hardware: The machine (None: not recorded).
        versions: Software versions (``python``, ``torch``, ``green-dl-advisor``, ...).
        versions_source: ``measurement`` (recorded with the run) or ``report`` (of the environment writing it).
        measurement: An inference measurement.
        recommendations: The ranked techniques.
        training: A per-step training measurement (``TrainingRun``) or an energy-to-target run (``ToTargetRun``).
        generation: A text-generation run.
        references: The cited works by key, in order of first citation.
        cites: Technique id -> the keys of the works it cites.
    """

    title: str
    generated_at: str
    model: Any
    hardware: Any
    versions: dict[str, str]
    versions_source: str
    measurement: Any = None
    recommendations: Any = None
    training: Any = None
    generation: Any = None
    references: dict[str, Any] = field(default_factory=dict)
    cites: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def step_run(self) -> Any:
        """The run whose rounds the Reporting section describes: the measurement, else a per-step training run."""
        from advisor.measurement import TrainingRun

        return self.measurement or (self.training if isinstance(self.training, TrainingRun) else None)

    def to_dict(self) -> dict[str, Any]:
        """``report.json``: the results' own dicts, each technique with its ``references`` keys, the cited works."""
        from advisor.reports._generation import generation_json

        def cited(run: Any, key: str) -> dict[str, Any] | None:
            """The run's dict, each technique with its reference keys and the works they name."""
            if run is None:
                return None
            block = run.to_dict()
            typed = run.recommended if key == "recommended" else run.results
            for it, obj in zip(block[key], typed, strict=True):
                it["references"] = list(self.cites[technique_of(obj)])
            keys = dict.fromkeys(k for it in block[key] for k in it["references"])
            block["references_resolved"] = {k: works[k] for k in keys if k in works}
            return block

        works = {k: ref.model_dump(mode="json", by_alias=True, exclude_none=True) for k, ref in self.references.items()}
        data = {
            "kind": REPORT_KIND,
            "schema_version": SCHEMA_VERSION,
            "title": self.title,
            "generated_at": self.generated_at,
            "model": self.model.model_dump(mode="json") if self.model is not None else None,
            "hardware": self.hardware.model_dump(mode="json") if self.hardware is not None else None,
            "versions": self.versions,
            "versions_source": self.versions_source,
            "recommendations": cited(self.recommendations, "recommended"),
            "measurement": cited(self.measurement, "results"),
            "training": cited(self.training, "results"),
            "generation": generation_json(self.generation) if self.generation is not None else None,
            "references": works,
        }
        return _finite(json.loads(json.dumps(data, default=_default)))


def technique_of(item: Any) -> str:
    """The technique id of a ``Recommendation``, ``TechniqueResult``, ``TrainingResult`` or ``VariantResult``."""
    for name in ("id", "technique", "variant"):
        if hasattr(item, name):
            return getattr(item, name)
    raise ReportError(f"report(): {type(item).__name__} names no technique (expected id, technique or variant)")


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
) -> ReportData:
    """The :class:`ReportData` every format renders, from result objects or their dicts.

    Adds the reference keys of each technique and the cited works (from ``catalog``: the given one, the
    recommendations' own, else the shipped one), so a saved ``report.json`` carries its bibliography.
    A generation run (``generation=``, or passed as ``measurement``) becomes the generation section.

    Raises:
        ReportError: no input at all, or an input of the wrong shape.
    """
    if is_generation(measurement):
        if generation is not None:
            raise ReportError("report(): two generation runs given (measurement= and generation=); give one")
        measurement, generation = None, measurement
    gen = as_generation(generation)
    if catalog is None and recommendations is not None and hasattr(recommendations, "catalog"):
        catalog = recommendations.catalog
    rec = as_recommendations(recommendations, catalog=catalog)
    m, tr = as_measurement(measurement), as_training(training)
    if m is None and rec is None and tr is None and gen is None:
        raise ReportError(
            "report(): nothing to report: give a measurement (advisor.measure(...)), recommendations "
            "(advisor.recommend(...)), a training run or a generation run (advisor.measure_generation(...)), "
            "or load a file with advisor.reports.load_results(path)."
        )
    items = [*(rec.recommended if rec else []), *(m.results if m else []), *(tr.results if tr else [])]
    if items and catalog is None:
        from advisor.catalog import load_catalog

        catalog = load_catalog()
    cites, references = _references(items, catalog)
    try:
        model, hardware, versions = _facts(m, rec, tr, gen)
    except ValidationError as exc:
        where = ".".join(map(str, exc.errors()[0]["loc"])) or "?"
        raise ReportError(
            f"report(): the run's meta holds a model or hardware record that is not a profile ({exc.title}: "
            f"{where}: {exc.errors()[0]['msg']}); expected ModelProfile/HardwareProfile.model_dump()"
        ) from None
    name = model.name if model is not None else "model"
    return ReportData(
        title=title or f"Energy report: {name}",
        generated_at=generated_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        model=model,
        hardware=hardware,
        versions=versions or _report_versions(),
        versions_source="measurement" if versions else "report",
        measurement=m,
        recommendations=rec,
        training=tr,
        generation=gen,
        references=references,
        cites=cites,
    )


def _references(items: list[Any], catalog: Any) -> tuple[dict[str, tuple[str, ...]], dict[str, Any]]:
    """Each technique's reference keys and the works they name, in order of first citation."""
    cites: dict[str, tuple[str, ...]] = {}
    order: dict[str, None] = {}
    for it in items:
        tid = technique_of(it)
        keys = tuple(catalog.get(tid).references) if tid in catalog else ()
        cites[tid] = keys
        order.update(dict.fromkeys(keys))
    return cites, {k: catalog.references[k] for k in order if k in catalog.references}


def _facts(m: Any, rec: Any, tr: Any, gen: Any) -> tuple[Any, Any, dict[str, str] | None]:
    """The model, the hardware and the versions, from the first input that recorded them."""
    from advisor.profile import HardwareProfile, ModelProfile

    facts = [RunFacts.of(run) for run in (m, tr, gen) if run is not None]
    models = [ModelProfile.model_validate(f.model) for f in facts if isinstance(f.model, dict)]
    if rec is not None:
        models.insert(1 if m is not None else 0, rec.model)
    if gen is not None:
        models.append(_generation_model(RunFacts.of(gen)))
    hardware = [HardwareProfile.model_validate(f.hardware) for f in facts if isinstance(f.hardware, dict)]
    if rec is not None:
        hardware.insert(1 if m is not None else 0, rec.hardware)
    versions = next((f.versions for f in facts if f.versions), None)
    return (models or [None])[0], (hardware or [None])[0], versions


def _generation_model(facts: RunFacts) -> Any:
    """The profile a generation run records: its model's class name and parameters, a generative decoder."""
    from advisor.profile import ModelProfile

    return ModelProfile(
        name=facts.model or "model",
        family="llm",
        phase="inference",
        n_parameters=facts.parameters or 0,
        architectures=["generative-decoder"],
        can_generate=True,
    )


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
