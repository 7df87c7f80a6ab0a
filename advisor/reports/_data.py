"""Report inputs: read result files, recognise their kind, and rebuild the typed results they hold.

Every input of a report ends up as a typed result: ``MeasureRun``, ``TrainingRun`` (per step),
``ToTargetRun`` (energy to a target), ``GenerationRun`` or ``Recommendations``. A dict (a
``to_dict()``, a JSON file) is rebuilt with the type's own ``from_dict``; the renderers never walk
dicts. The only dict reading left here is the shape check of a foreign file, so a bad file ends in
one clear :class:`ReportError` instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advisor._errors import ReportError
from advisor._version import RESULT_SCHEMA_VERSION as SCHEMA_VERSION

__all__ = [
    "REPORT_KIND",
    "SCHEMA_VERSION",
    "ReportError",
    "as_generation",
    "as_measurement",
    "as_recommendations",
    "as_training",
    "is_generation",
    "load_results",
    "read_results",
]

REPORT_KIND = "green-advisor-report"

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
_KINDS = ("measurement", "recommendations", "training", "generation")


# --- loading ----------------------------------------------------------------------------------------
def load_results(path: str | Path) -> dict[str, Any]:
    """Read a result file and return the keyword arguments of :func:`advisor.report`.

    Accepts the JSON written by ``green-advisor measure --out``, the demo's ``advice.json``,
    ``green-advisor recommend --format json`` output, ``green-advisor generate --out`` output and a
    ``report.json`` (round trip)::

        advisor.report(**load_results("results.json"), out="report/")

    Args:
        path: The JSON file.

    Returns:
        ``{"measurement": MeasureRun | None, "recommendations": Recommendations | None,
        "training": TrainingRun | ToTargetRun | None, "generation": GenerationRun | None, "title": str | None}``:
        the typed results, rebuilt from the file.

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
    plain, kind = _recognise(obj, str(p))
    out: dict[str, Any] = {
        "measurement": as_measurement(plain["measurement"], str(p)),
        "recommendations": as_recommendations(plain["recommendations"], str(p)),
        "training": as_training(plain["training"], str(p)),
        "generation": as_generation(plain["generation"], str(p)),
        "title": plain["title"],
    }
    return out, kind


def _recognise(obj: Any, source: str) -> tuple[dict[str, Any], str]:
    """The parts of a parsed file (still plain JSON) and the file's kind."""
    if not isinstance(obj, dict):
        raise ReportError(f"{source}: found a JSON {type(obj).__name__}, expected an object: {ACCEPTED}. {_HOW}")
    out: dict[str, Any] = dict.fromkeys((*_KINDS, "title"))
    kind = obj.get("kind")
    if kind == REPORT_KIND:
        version = obj.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ReportError(
                f"{source}: report schema_version {version!r}, expected an integer <= {SCHEMA_VERSION}; "
                "it was written by a newer green-dl-advisor: upgrade it (pip install -U green-dl-advisor)."
            )
        out.update({k: obj.get(k) for k in (*_KINDS, "title")})
        gen = out["generation"]  # a report's generation section holds the run beside its advice and rows
        out["generation"] = gen["run"] if isinstance(gen, dict) and isinstance(gen.get("run"), dict) else gen
        return out, "report"
    if kind == "generation":
        return {**out, "generation": obj}, "generation"
    if kind == "to-target":
        return {**out, "training": obj}, "training"
    if all(k in obj for k in _RECOMMEND_KEYS):
        out["recommendations"] = {k: v for k, v in obj.items() if k not in ("measurement", "training", "demo")}
        out["measurement"], out["training"] = obj.get("measurement"), obj.get("training")
        return out, ("demo-advice" if "measurement" in obj else "recommendations")
    if _is_training(obj):
        return {**out, "training": obj}, "training"
    if all(k in obj for k in _MEASURE_KEYS):
        return {**out, "measurement": obj, "training": obj.get("training")}, "measurement"
    found = ", ".join(sorted(map(str, obj))[:12]) or "none (an empty object)"
    raise ReportError(f"{source}: not a green-dl-advisor result: found keys {found}. Expected {ACCEPTED}. {_HOW}")


def _is_training(obj: dict[str, Any]) -> bool:
    meta = obj.get("meta")
    return isinstance(meta, dict) and meta.get("phase") == "training" and "results" in obj


def is_generation(obj: Any) -> bool:
    """A generation run: a ``GenerationRun`` or its dict."""
    if isinstance(obj, Mapping):
        return obj.get("kind") == "generation"
    return getattr(obj, "kind", None) == "generation" and hasattr(obj, "results")


# --- typed results from objects or dicts ----------------------------------------------------------------
def _dict(obj: Any, what: str, source: str, expected: str) -> dict[str, Any] | None:
    """``obj`` as a dict to rebuild from, or None when it already is the typed result (or absent)."""
    if not isinstance(obj, Mapping):
        raise ReportError(
            f"{source}: {what}: expected a result object ({expected}) or its dict, got {type(obj).__name__}. "
            "Pass what advisor.measure() / advisor.recommend() returned, or load a file with load_results()."
        )
    return dict(obj)


def _items(d: dict[str, Any], key: str, source: str, what: str, needs: tuple[str, ...]) -> None:
    """Check that ``d[key]`` is a list of objects with the ``needs`` keys (one clear line when not)."""
    items = d[key] if isinstance(d.get(key), list) else None
    if items is None:
        raise ReportError(
            f"{source}: the {what} must be an object with a '{key}' list, found {type(d).__name__} with keys "
            f"{sorted(d)}. {_HOW}"
        )
    for i, r in enumerate(items):
        if not isinstance(r, dict) or not set(needs) <= set(r):
            names = " and ".join(f"'{n}'" for n in needs)
            raise ReportError(f"{source}: {what} {key}[{i}] must be an object with {names}, found {r!r:.120}")


def as_measurement(obj: Any, source: str = "measurement") -> Any:
    """A ``MeasureRun`` (itself, or rebuilt from its dict); None stays None.

    Raises:
        ReportError: not a measurement run or its dict.
    """
    from advisor.measurement import MeasureRun, TrainingRun

    if obj is None or isinstance(obj, (MeasureRun, TrainingRun)):
        return obj
    d = _dict(obj, "the measurement", source, "a MeasureRun")
    _items(d, "results", source, "measurement", ("technique", "status"))
    base = d.get("baseline")
    if base is not None and (not isinstance(base, dict) or not {"technique", "status"} <= set(base)):
        raise ReportError(
            f"{source}: measurement baseline must be an object with 'technique' and 'status', found {base!r:.120}"
        )
    return _from_dict(MeasureRun.from_dict, d, source)


def as_training(obj: Any, source: str = "training") -> Any:
    """A ``TrainingRun`` (per-step figures) or ``ToTargetRun`` (energy to a target), rebuilt from a dict if need be."""
    from advisor.measurement import TrainingRun
    from advisor.training import ToTargetRun

    if obj is None or isinstance(obj, (TrainingRun, ToTargetRun)):
        return obj
    d = _dict(obj, "'training'", source, "a TrainingRun or ToTargetRun")
    if d.get("kind") == "to-target":
        _items(d, "results", source, "training run", ("variant",))
        return _from_dict(ToTargetRun.from_dict, d, source)
    _items(d, "results", source, "training run", ("technique", "status"))
    return _from_dict(TrainingRun.from_dict, d, source)


def as_generation(obj: Any, source: str = "generation") -> Any:
    """A ``GenerationRun``, rebuilt from its dict (``green-advisor generate --out``) if need be."""
    from advisor.generation import GenerationRun

    if obj is None or isinstance(obj, GenerationRun):
        return obj
    if not isinstance(obj, Mapping) or not isinstance(obj.get("results"), list) or "run_id" not in obj:
        raise ReportError(
            f"{source}: the generation run must be an object with 'run_id' and a 'results' list "
            f"(GenerationRun.to_dict(), written by `green-advisor generate --out FILE`), found "
            f"{type(obj).__name__} with keys {sorted(obj) if isinstance(obj, Mapping) else '-'}"
        )
    _items(dict(obj), "results", source, "generation", ("technique", "batch_size", "status"))
    return _from_dict(GenerationRun.from_dict, dict(obj), source)


def as_recommendations(obj: Any, source: str = "recommendations", catalog: Any = None) -> Any:
    """``Recommendations`` (itself, or rebuilt from its ``to_dict()`` with ``catalog``, default the shipped one)."""
    from advisor.recommendation import Recommendations

    if obj is None or isinstance(obj, Recommendations):
        return obj
    d = _dict(obj, "the recommendations", source, "a Recommendations")
    _items(d, "recommended", source, "recommendations", ("id",))
    return _from_dict(lambda x: recommendations_from_dict(x, catalog), d, source)


def _from_dict(reader: Any, d: dict[str, Any], source: str) -> Any:
    """Run a type's reader; a field of the wrong type or a missing one is one line, naming the file."""
    from pydantic import ValidationError

    from advisor._errors import AdvisorError

    try:
        return reader(d)
    except (KeyError, TypeError, ValueError, AttributeError, ValidationError, AdvisorError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportError(f"{source}: cannot read the result ({type(exc).__name__}: {why:.200}). {_HOW}") from None


def recommendations_from_dict(d: dict[str, Any], catalog: Any = None) -> Any:
    """``Recommendations`` from :meth:`Recommendations.to_dict` (the JSON of ``green-advisor recommend``).

    ``groups`` and ``stacks`` are derived again from the catalog, as ``to_dict()`` derives them.
    """
    from advisor.profile import Constraints, HardwareProfile, ModelProfile
    from advisor.recommendation import Recommendations
    from advisor.recommendation.rank import Excluded, Recommendation
    from advisor.recommendation.rules import Finding

    if catalog is None:
        from advisor.catalog import load_catalog

        catalog = load_catalog()

    def findings(items: Any) -> tuple[Finding, ...]:
        return tuple(Finding(f["kind"], f["text"], f["ref"]) for f in items)

    def recommendation(r: dict[str, Any]) -> Recommendation:
        kw = {k: r[k] for k in _fields(Recommendation) if k in r}
        kw.update(
            estimate=_estimate(r["estimate"]),
            why=findings(kw.pop("why", ())),
            warnings=findings(kw.pop("warnings", ())),
            implementations=tuple(kw.pop("implementations", ())),
        )
        return Recommendation(**kw)

    excluded = [Excluded(e["id"], e.get("name", e["id"]), findings(e.get("reasons", ()))) for e in d["excluded"]]
    return Recommendations(
        [recommendation(r) for r in d["recommended"]],
        excluded,
        ModelProfile.model_validate(d["model"]),
        HardwareProfile.model_validate(d["hardware"]),
        Constraints.model_validate(d["constraints"]),
        catalog,
        machine_class=d.get("machine_class"),
    )


def _fields(cls: type) -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(cls)]


def _estimate(e: dict[str, Any]) -> Any:
    from advisor.recommendation.estimate import Estimate

    tuples = ("basis", "adjustments", "measured")
    return Estimate(**{k: tuple(e[k]) if k in tuples else e[k] for k in _fields(Estimate) if k in e})
