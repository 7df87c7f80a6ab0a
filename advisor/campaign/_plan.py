"""The campaign plan (``campaign.yaml``): models x node groups (x batch sizes), validated with clear messages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from advisor._errors import CampaignError
from advisor._pydantic import first_error

__all__ = ["Cell", "ModelEntry", "NodeGroup", "Plan", "Train", "TrainTo", "load_plan"]

_ID_HINT = "letters, digits, '-', '_' and '.' only"


def _check_id(value: str) -> str:
    if not value or not all(c.isalnum() or c in "-_." for c in value):
        raise ValueError(f"a name of {_ID_HINT}")
    return value


class ModelEntry(BaseModel):
    """One model of the plan: a name and a model spec (``file.py:factory``, relative to the plan's folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    spec: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        return _check_id(v)

    @field_validator("spec")
    @classmethod
    def _spec_has_factory(cls, v: str) -> str:
        if ":" not in v:
            raise ValueError("'file.py:factory' or 'package.module:factory'")
        return v


class Recommended(BaseModel):
    """Measure the top ``recommended`` measurable recommendations for each model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recommended: int = Field(ge=1, le=50)


class TrainTo(BaseModel):
    """What a training cell measures: each technique trained from scratch to ``target`` (``measure_to_target``).

    Attributes:
        target: The metric to reach (e.g. 0.95); default: the spec's ``TrainingSetup.target``.
        techniques: To-target technique ids (``early-stopping``, ``large-batch-training``, ``a+b``); default: all.
        seeds: Seeds per variant (paired with the baseline's).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: float | None = Field(None, gt=0)
    techniques: list[str] | None = Field(None, min_length=1)
    seeds: int = Field(3, ge=1, le=50)


class Train(BaseModel):
    """Train each model's TrainingSetup to a target (``techniques: {train: {target: 0.95, seeds: 3}}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: TrainTo = Field(default_factory=TrainTo)


class NodeGroup(BaseModel):
    """A kind of node: how Ray selects it, and where its energy comes from.

    Attributes:
        name: The group's name in results and reports (``zen4``, ``h100``).
        resources: Ray custom resources a node of this group offers (``{"zen4": 1}``).
        labels: Ray node labels that select the group (``{"cpu": "amx"}``), where the cluster uses labels.
        region: Where the group's energy is drawn, for CO2e (``FRA``, ``gcp:europe-west1``).
        pue: Power usage effectiveness of its facility (>= 1.0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    resources: dict[str, float] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    region: str | None = None
    pue: float = Field(1.0, ge=1.0)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        return _check_id(v)


class Plan(BaseModel):
    """A campaign: every model measured on every node group (and batch size).

    Attributes:
        name: The campaign's name (default: the file's stem).
        models: Models as model specs, shipped with the plan's folder.
        techniques: ``"tune"``, a list of technique ids, ``{"recommended": N}``, or ``{"train": {...}}`` (train the
            spec's TrainingSetup to a target per technique: energy to the target, not per step; see :class:`Train`).
        budget_s: Measuring budget per cell. Units: s.
        batch_sizes: Resize the example inputs to these batch sizes (one cell each); empty: as given. In a training
            cell, the training batch size (the learning rate as the spec sets it).
        node_groups: The kinds of node; without Ray, every group runs on this machine.
        retries: How often a cell whose worker died is retried before it is recorded as failed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    models: list[ModelEntry] = Field(min_length=1)
    techniques: Literal["tune"] | list[str] | Recommended | Train = Field(
        default_factory=lambda: Recommended(recommended=3)
    )
    budget_s: float = Field(30.0, gt=0, le=24 * 3600)
    batch_sizes: list[int] = Field(default_factory=list)
    node_groups: list[NodeGroup] = Field(default_factory=lambda: [NodeGroup(name="local")])
    retries: int = Field(2, ge=0, le=10)
    folder: str = Field("", exclude=True)

    @field_validator("batch_sizes")
    @classmethod
    def _positive_sizes(cls, v: list[int]) -> list[int]:
        if any(b < 1 for b in v):
            raise ValueError("batch sizes >= 1")
        return v

    @field_validator("techniques")
    @classmethod
    def _non_empty_list(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("at least one technique id, or 'tune', or {recommended: N}, or {train: {target: 0.95}}")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> Plan:
        for what, names in (
            ("models", [m.name for m in self.models]),
            ("node_groups", [g.name for g in self.node_groups]),
        ):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"{what}: unique names, got {dup} more than once")
        return self

    def cells(self) -> list[Cell]:
        """Every (model, node group, batch size) cell, in a stable order."""
        sizes: list[int | None] = list(self.batch_sizes) or [None]
        return [Cell(self, m, g, b) for m in self.models for g in self.node_groups for b in sizes]

    def digest(self) -> str:
        """A short hash of the plan's content (to tell whether a resumed campaign still has the same plan)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:12]


class Cell:
    """One unit of work: a model on a node group at a batch size."""

    def __init__(self, plan: Plan, model: ModelEntry, group: NodeGroup, batch_size: int | None) -> None:
        self.plan, self.model, self.group, self.batch_size = plan, model, group, batch_size

    @property
    def cell_id(self) -> str:
        """``model@group`` plus ``#b<batch>`` when the plan sweeps batch sizes."""
        return f"{self.model.name}@{self.group.name}" + (f"#b{self.batch_size}" if self.batch_size else "")

    def task(self) -> dict[str, Any]:
        """What a worker needs to run the cell (plain JSON)."""
        techniques = self.plan.techniques
        return {
            "cell_id": self.cell_id,
            "model": self.model.name,
            "spec": self.model.spec,
            "group": self.group.name,
            "batch_size": self.batch_size,
            "techniques": techniques.model_dump() if isinstance(techniques, Recommended | Train) else techniques,
            "budget_s": self.plan.budget_s,
            "region": self.group.region,
            "pue": self.group.pue,
        }

    def __repr__(self) -> str:
        return f"Cell({self.cell_id})"


def load_plan(path: str | Path) -> Plan:
    """Read and validate a campaign plan.

    Raises:
        CampaignError: The file is missing or unreadable, or breaks the schema; the message names the file,
            the entry and the field, what was expected and what was found.
    """
    import yaml

    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CampaignError(f"{p}: cannot read the campaign plan: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CampaignError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise CampaignError(f"{p}: expected a mapping with 'models' and 'node_groups', got {type(raw).__name__}")
    raw.setdefault("name", p.stem)
    try:
        plan = Plan.model_validate({**raw, "folder": str(p.resolve().parent)})
    except ValidationError as exc:
        err = first_error(exc)
        entry = _entry_label(raw, err.field)
        raise CampaignError(
            f"{p}: {entry}{err.field}: expected {err.expected}, got {err.got}. See docs/campaigns.md for the format."
        ) from None
    _check_specs_exist(plan, p)
    return plan


def _entry_label(raw: dict[str, Any], field: str) -> str:
    """``models[1] (encoder): `` for an error inside a named list entry."""
    parts = field.split(".")
    if len(parts) >= 2 and parts[0] in ("models", "node_groups") and parts[1].isdigit():
        items = raw.get(parts[0]) or []
        i = int(parts[1])
        name = items[i].get("name") if i < len(items) and isinstance(items[i], dict) else None
        return f"{parts[0]}[{i}]" + (f" ({name})" if name else "") + ": "
    return ""


def _check_specs_exist(plan: Plan, path: Path) -> None:
    for i, m in enumerate(plan.models):
        file_part = m.spec.rpartition(":")[0]
        if file_part.endswith(".py") and not (Path(plan.folder) / file_part).is_file():
            raise CampaignError(
                f"{path}: models[{i}] ({m.name}): spec: expected a file relative to the plan's folder "
                f"{plan.folder}, got {file_part!r}, which does not exist"
            )
