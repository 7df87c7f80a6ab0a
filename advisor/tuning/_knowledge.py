"""The knowledge base: every stored measurement is evidence about the machine it ran on.

:func:`observations_from_store` turns the results store's runs into plain
:class:`~advisor.recommendation.Observation` records (one per variant measured ``ok`` with a latency
ratio), each tagged with the fingerprint of the hardware it ran on. :func:`knowledge_for` keeps those
of this machine's fingerprint, adds the ones imported from team-mates' files, and is what
``recommend(knowledge=...)`` receives.

``green-advisor knowledge export FILE`` writes every observation (JSON, ``schema_version``);
``import FILE`` validates a file (messages name the file, the entry and the field) and keeps its
entries beside the store (``<store>.knowledge.json``), deduplicated by run and variant. Nothing is
shipped pre-filled: every figure comes from a user's own runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from advisor._errors import KnowledgeError, StoreError
from advisor._pydantic import first_error
from advisor.catalog import VariantId
from advisor.profile import hardware_fingerprint
from advisor.recommendation import Observation

__all__ = [
    "KNOWLEDGE_FORMAT",
    "KNOWLEDGE_VERSION",
    "export_knowledge",
    "hardware_fingerprint",
    "import_knowledge",
    "knowledge_for",
    "observations_from_store",
]

KNOWLEDGE_FORMAT = "green-advisor-knowledge"
KNOWLEDGE_VERSION = 1
MAX_RUNS = 500  # newest runs read from the store


def _date_of(run_id: str, fallback: float | None = None) -> str:
    try:
        return dt.datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").date().isoformat()
    except ValueError:
        return dt.datetime.fromtimestamp(fallback, dt.UTC).date().isoformat() if fallback else ""


def _quality_ok(result: Any) -> bool | None:
    """The one quality rule (``judge_quality``, default gate) as True / False / None (unverified)."""
    from advisor.measurement.quality import judge_quality

    return judge_quality(getattr(result, "quality", None)).ok


def _observation(r: Any, run: Any, fingerprint: str, model: dict[str, Any], phase: str) -> Observation | None:
    c = getattr(r, "comparison", None)
    lr = getattr(c, "latency_ratio", None) if c else None
    if r.technique == "baseline" or r.status != "ok" or lr is None or not lr.median > 0:
        return None
    er = getattr(c, "energy_ratio", None)
    return Observation(
        technique=r.technique,
        latency_ratio=float(lr.median),
        latency_low=float(lr.low),
        latency_high=float(lr.high),
        energy_ratio=float(er.median) if er else None,
        verdict=c.verdict,
        run_id=run.run_id or "",
        measured_at=_date_of(run.run_id or ""),
        model_name=str(model.get("name") or "model"),
        architectures=tuple(model.get("architectures") or ()),
        n_parameters=model.get("n_parameters"),
        batch_size=model.get("batch_size"),
        phase=phase,
        quality_ok=_quality_ok(r),
        energy_method=c.energy_method,
        fingerprint=fingerprint,
    )


def _time_verdict(iv: Any) -> str:
    if iv is None or iv.confidence == 0.0:
        return "inconclusive"
    if iv.high < 1:
        return "faster"
    return "slower" if iv.low > 1 else "no significant difference"


def _to_target_observations(run: Any, fingerprint: str) -> list[Observation]:
    """One observation per catalog technique a to-target run measured alone and reached the target with.

    The ratios are time and energy *to the target* (paired over the seeds both reached it), the evidence the
    training techniques that change how many steps are needed are judged by. A stack, a variant without a
    catalog entry and one that missed the target in any seed give none: a variant that did not reach the
    accuracy is no evidence of a saving.
    """
    from advisor.training import target_text

    model = run.meta.get("model") or {}
    out = []
    for r in run.results:
        tr = r.time_ratio
        if r.status != "ok" or tr is None or not tr.median > 0 or len(r.catalog_ids) != 1 or not r.catalog_ids[0]:
            continue
        if r.n_seeds == 0 or r.n_reached < r.n_seeds:
            continue
        er = r.energy_ratio
        out.append(
            Observation(
                technique=r.catalog_ids[0],
                latency_ratio=float(tr.median),
                latency_low=float(tr.low),
                latency_high=float(tr.high),
                energy_ratio=float(er.median) if er else None,
                verdict=_time_verdict(tr),
                run_id=run.run_id or "",
                measured_at=_date_of(run.run_id or ""),
                model_name=str(model.get("name") or run.meta.get("model_name") or "model"),
                architectures=tuple(model.get("architectures") or ()),
                n_parameters=model.get("n_parameters"),
                batch_size=run.meta.get("batch_size") or model.get("batch_size"),
                phase="training",
                quality_ok=True,
                energy_method=r.energy_method,
                fingerprint=fingerprint,
                basis="to-target",
                target=f"{target_text(run.target, run.metric)}, {r.n_reached}/{r.n_seeds} seeds",
            )
        )
    return out


def observations_from_store(store: Any, limit: int = MAX_RUNS) -> list[Observation]:
    """Every variant measured ``ok`` in the store's newest ``limit`` runs (any machine), as observations.

    Forward-pass and per-step training runs give per-item ratios; to-target runs (``measure_to_target``) give
    time and energy to the target (``basis="to-target"``), which outrank per-step figures in ``recommend``.
    """
    out: list[Observation] = []
    for head in store.runs(limit):
        if head.get("kind") not in ("measure", "training", "to-target", None):
            continue
        try:
            run = store.load_run(head["run_id"])
        except (StoreError, KeyError, TypeError, ValueError):  # an unreadable old run is skipped, not fatal
            continue
        meta = run.meta or {}
        if not meta.get("hardware"):
            continue
        fp = hardware_fingerprint(meta["hardware"])
        if head.get("kind") == "to-target":
            out += _to_target_observations(run, fp)
            continue
        phase = "training" if getattr(run, "kind", "measure") == "training" else "inference"
        model = meta.get("model") or {}
        for r in run.results:
            obs = _observation(r, run, fp, model, phase)
            if obs is not None:
                out.append(obs)
    return out


def _imported_path(store: Any) -> Path:
    return Path(str(store.path) + ".knowledge.json")


def _read_imported(store: Any) -> list[Observation]:
    path = _imported_path(store)
    if not path.is_file():
        return []
    return _parse(path)


def knowledge_for(store: Any, hardware: Any) -> list[Observation]:
    """The observations measured on a machine with ``hardware``'s fingerprint: this store's and imported ones."""
    fp = hardware_fingerprint(hardware)
    seen: set[tuple[str, str]] = set()
    out = []
    for o in [*observations_from_store(store), *_read_imported(store)]:
        key = (o.run_id, o.technique)
        if o.fingerprint == fp and key not in seen:
            seen.add(key)
            out.append(o)
    return out


# --- the exchange file ------------------------------------------------------------------------------------
class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    technique: str = Field(min_length=1)
    latency_ratio: float = Field(gt=0)
    latency_low: float | None = Field(None, gt=0)
    latency_high: float | None = Field(None, gt=0)
    energy_ratio: float | None = Field(None, gt=0)
    verdict: Literal["faster", "slower", "no significant difference", "inconclusive"]
    run_id: str = Field(min_length=1)
    measured_at: str
    model_name: str
    architectures: list[str] = Field(default_factory=list)
    n_parameters: int | None = Field(None, ge=0)
    batch_size: int | None = Field(None, ge=1)
    phase: Literal["inference", "training"] = "inference"
    quality_ok: bool | None = None
    energy_method: str | None = None
    fingerprint: str = Field(min_length=1)
    basis: Literal["per-item", "to-target"] = "per-item"
    target: str | None = None

    @field_validator("technique")
    @classmethod
    def _a_variant_id(cls, value: str) -> str:
        """The measured variant's id keeps the grammar (advisor.VariantId): recommend() reads it."""
        VariantId.parse(value)
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["green-advisor-knowledge"]
    schema_version: int
    exported_at: str
    entries: list[dict[str, Any]]


def _parse(path: Path) -> list[Observation]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read the knowledge file: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a JSON object with 'format' and 'entries', got {type(data).__name__}")
    version = data.get("schema_version")
    if isinstance(version, int) and version > KNOWLEDGE_VERSION:
        raise KnowledgeError(
            f"{path}: schema_version {version} is newer than this green-dl-advisor reads "
            f"({KNOWLEDGE_VERSION}); upgrade it (pip install -U green-dl-advisor)"
        )
    try:
        head = _File.model_validate(data)
    except ValidationError as exc:
        e = first_error(exc)
        raise KnowledgeError(
            f"{path}: field {e.field!r}: expected {e.expected}, got {e.got}. "
            "Write the file with `green-advisor knowledge export FILE`."
        ) from None
    out = []
    for i, raw in enumerate(head.entries):
        try:
            entry = _Entry.model_validate(raw)
        except ValidationError as exc:
            e = first_error(exc)
            tid = raw.get("technique", "?") if isinstance(raw, dict) else "?"
            raise KnowledgeError(
                f"{path}: entry {i} ({tid}): field {e.field!r}: expected {e.expected}, got {e.got}"
            ) from None
        d = entry.model_dump()
        d["architectures"] = tuple(d["architectures"])
        out.append(Observation(**d))
    return out


def export_knowledge(store: Any, path: str | Path) -> int:
    """Write every observation of the store (all machines, imported ones included) to ``path``; return the count."""
    seen: set[tuple[str, str]] = set()
    entries = []
    for o in [*observations_from_store(store), *_read_imported(store)]:
        if (o.run_id, o.technique) not in seen:
            seen.add((o.run_id, o.technique))
            entries.append(o.to_dict())
    payload = {
        "format": KNOWLEDGE_FORMAT,
        "schema_version": KNOWLEDGE_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "entries": entries,
    }
    try:
        Path(path).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot write the knowledge file: {exc.strerror}") from None
    return len(entries)


def import_knowledge(store: Any, path: str | Path) -> tuple[int, int]:
    """Validate ``path`` and keep its entries beside the store; return (new entries, entries already known).

    Raises:
        KnowledgeError: The file is unreadable or an entry breaks the format (file, entry and field named).
    """
    incoming = _parse(Path(path))
    known = _read_imported(store)
    keys = {(o.run_id, o.technique) for o in [*known, *observations_from_store(store)]}
    new = [o for o in incoming if (o.run_id, o.technique) not in keys]
    merged = [*known, *new]
    payload = {
        "format": KNOWLEDGE_FORMAT,
        "schema_version": KNOWLEDGE_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "entries": [o.to_dict() for o in merged],
    }
    _imported_path(store).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return len(new), len(incoming) - len(new)
