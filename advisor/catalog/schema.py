"""The data model of the technique catalog: the single source of the schema.

Every YAML file under ``data/techniques/<category>/<id>.yaml`` is one :class:`Technique`.
References live once in ``data/references.json`` (CSL-JSON, one :class:`Reference` per item),
the surveys' own section trees in ``data/surveys/<survey>.yaml`` (:class:`SurveyTree`).

The JSON Schema in ``data/schema/technique.schema.json`` is exported from these models by
``green-advisor schema --write``; a test fails when the two drift apart.

Vocabularies (categories, stages, levels, units, ...) are ``Literal`` types here; their
human-readable labels and descriptions live in ``data/vocab.yaml``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "ARCHITECTURES",
    "BASES",
    "CATEGORIES",
    "COST_KINDS",
    "DIRECTIONS",
    "DOC_GENRES",
    "DOC_TYPES",
    "EFFORTS",
    "HARDWARE",
    "HARDWARE_CLASSES",
    "KINDS",
    "LEVELS",
    "METRICS",
    "MODEL_FAMILIES",
    "PHASES",
    "RELATION_TYPES",
    "RISKS",
    "SAVINGS",
    "STAGES",
    "SURVEYS",
    "TARGETS",
    "UNITS",
    "Applicability",
    "Costs",
    "Evidence",
    "Implementation",
    "Reference",
    "Relation",
    "SurveyNode",
    "SurveyPlacement",
    "SurveyTree",
    "Technique",
]

Category = Literal["compact-networks", "efficient-training", "efficient-inference", "efficient-data"]
Kind = Literal["model", "training", "data", "runtime", "infrastructure", "practice"]
Architecture = Literal[
    "any",
    "encoder-only",
    "generative-decoder",
    "encoder-decoder",
    "convolutional",
    "vision-transformer",
    "recurrent",
    "mlp",
]
HardwareClass = Literal[
    "datacenter-gpu",
    "consumer-gpu",
    "server-cpu",
    "desktop-cpu",
    "mobile-edge",
    "accelerator",
    "simulated",
]
Basis = Literal["saving", "more-hardware", "estimation-error"]
Stage = Literal["it-infrastructure", "data", "modeling", "training", "deployment", "evaluation"]
Level = Literal["model", "arithmetic", "implementation"]
ModelFamily = Literal["any", "cnn", "transformer", "rnn", "mlp", "gnn", "llm"]
Phase = Literal["training", "inference"]
Hardware = Literal["any", "cpu", "gpu", "tpu", "fpga", "asic", "edge", "datacenter"]
Retraining = Literal["none", "fine-tuning", "full"]
DataNeed = Literal["none", "calibration", "unlabelled", "labelled"]
Target = Literal["server", "desktop", "edge", "mobile"]
Saving = Literal["energy", "time", "memory", "model-size", "data", "carbon", "compute", "cost"]
Risk = Literal["none", "low", "medium", "high"]
Effort = Literal["low", "medium", "high"]
CostKind = Literal[
    "accuracy-risk",
    "retraining",
    "engineering-effort",
    "hardware-support",
    "extra-compute",
    "extra-memory",
    "data-collection",
    "latency",
]
RelationType = Literal["requires", "complements", "conflicts-with", "alternative-to", "specializes"]
Metric = Literal[
    "energy",
    "carbon",
    "latency",
    "throughput",
    "training-time",
    "compute",
    "memory",
    "model-size",
    "parameters",
    "data",
    "communication",
    "bit-width",
    "accuracy",
    "cost",
]
Direction = Literal["decrease", "increase", "change"]
Unit = Literal[
    "percent",  # relative change against the baseline, 0-100 for a decrease
    "x",  # factor: baseline/new for a decrease (3x faster), new/baseline for an increase
    "pp",  # percentage points (accuracy and other scores given in %)
    "score",  # absolute score points (GLUE, BLEU, F1 x100, ...)
    "ms",
    "s",
    "h",
    "gpu-h",
    "days",
    "J",
    "kWh",
    "MWh",
    "W",
    "kgCO2e",
    "tCO2e",
    "lbCO2e",
    "B",
    "KB",
    "MB",
    "GB",
    "M-params",
    "B-params",
    "MFLOPs",
    "GFLOPs",
    "TFLOPs",
    "PFLOP-days",
    "samples",
    "bits",
    "usd",
]
Survey = Literal["xu2021", "mehlin2023", "lee2021"]
Scope = Literal["end-to-end", "component"]
Qualifier = Literal["reported", "up-to", "at-least", "derived"]

CATEGORIES: tuple[str, ...] = Category.__args__
STAGES: tuple[str, ...] = Stage.__args__
LEVELS: tuple[str, ...] = Level.__args__
MODEL_FAMILIES: tuple[str, ...] = ModelFamily.__args__
PHASES: tuple[str, ...] = Phase.__args__
HARDWARE: tuple[str, ...] = Hardware.__args__
TARGETS: tuple[str, ...] = Target.__args__
SAVINGS: tuple[str, ...] = Saving.__args__
RISKS: tuple[str, ...] = Risk.__args__
EFFORTS: tuple[str, ...] = Effort.__args__
COST_KINDS: tuple[str, ...] = CostKind.__args__
RELATION_TYPES: tuple[str, ...] = RelationType.__args__
METRICS: tuple[str, ...] = Metric.__args__
DIRECTIONS: tuple[str, ...] = Direction.__args__
UNITS: tuple[str, ...] = Unit.__args__
SURVEYS: tuple[str, ...] = Survey.__args__
KINDS: tuple[str, ...] = Kind.__args__
ARCHITECTURES: tuple[str, ...] = Architecture.__args__
HARDWARE_CLASSES: tuple[str, ...] = HardwareClass.__args__
BASES: tuple[str, ...] = Basis.__args__

KEBAB_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
REFKEY_RE = r"^[a-z][a-z0-9]*$"
NODE_RE = r"^(xu2021|mehlin2023|lee2021):[a-z0-9]+(?:[-.][a-z0-9]+)*$"
DOI_RE = re.compile(r"^10\.\d{4,9}/\S+$")
ARXIV_RE = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})$")
# A documentation reference (no DOI, no arXiv id) is allowed only for these CSL types and genres:
# official documentation, a project's README (or benchmark file) and a vendor's engineering blog.
DOC_TYPES = ("webpage", "software", "report")
DOC_GENRES = ("documentation", "readme", "engineering-blog")

KebabId = Annotated[str, StringConstraints(pattern=KEBAB_RE)]
RefKey = Annotated[str, StringConstraints(pattern=REFKEY_RE)]
NodeId = Annotated[str, StringConstraints(pattern=NODE_RE)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Evidence(BaseModel):
    """One quantitative finding from a cited source.

    ``value`` is a single figure; ``low``/``high`` give a range instead (exactly one of the two
    forms). With ``direction`` ``decrease`` or ``increase`` the magnitude is non-negative and
    the direction carries the sign; ``change`` allows signed values (e.g. an accuracy change
    that is positive on some tasks, negative on others).
    """

    model_config = _STRICT

    metric: Metric = Field(description="What was measured.")
    direction: Direction = Field(description="Whether the technique lowered or raised the metric.")
    value: float | None = Field(None, description="A single figure (or use low/high).")
    low: float | None = Field(None, description="Lower end of a reported range.")
    high: float | None = Field(None, description="Upper end of a reported range.")
    unit: Unit = Field(description="Unit of value/low/high, from a closed vocabulary.")
    baseline: Text = Field(description="What the figure is compared against, e.g. 'BERT-base FP32'.")
    setting: Text = Field(description="Task, dataset, model and conditions of the measurement.")
    hardware: str | None = Field(None, description="Hardware the figure was obtained on, if stated.")
    hardware_class: HardwareClass = Field(
        description="Class of the hardware behind the figure, from the source's setting: 'datacenter-gpu', "
        "'consumer-gpu', 'server-cpu', 'desktop-cpu', 'mobile-edge', 'accelerator' (TPU, FPGA, ASIC) or "
        "'simulated' (counted, simulated or analytical: FLOPs, parameters, models of cost)."
    )
    basis: Basis = Field(
        description="'saving' (resources saved for the same work), 'more-hardware' (faster by adding devices) or "
        "'estimation-error' (the size of a misestimate, not a saving). Only 'saving' feeds expected savings."
    )
    reference: RefKey = Field(description="Key of the source in data/references.json.")
    locator: Text = Field(description="Where in the source: 'Table 3', 'Section 4.2', 'p. 7', 'Abstract'.")
    note: str | None = Field(None, description="Caveats or how the figure was derived from the source.")
    scope: Scope = Field(
        "end-to-end",
        description="'end-to-end' for a whole model or run; 'component' for one operation, kernel, layer or "
        "a hardware unit's peak (not a whole-model saving).",
    )
    qualifier: Qualifier = Field(
        "reported",
        description="'reported' as stated; 'up-to' a best case; 'at-least' a lower bound; "
        "'derived' computed by the curator from numbers the source states (say how in note).",
    )

    @model_validator(mode="after")
    def _value_or_range(self) -> Evidence:
        has_value = self.value is not None
        has_range = self.low is not None or self.high is not None
        if has_value == has_range:
            raise ValueError("give either 'value' or both 'low' and 'high', not both and not neither")
        if has_range and (self.low is None or self.high is None):
            raise ValueError("a range needs both 'low' and 'high'")
        return self

    @property
    def value_text(self) -> str:
        """The figure as text: ``'2.5'`` or ``'2-3'`` for a range."""
        return f"{self.value:g}" if self.value is not None else f"{self.low:g}-{self.high:g}"

    def describe(self) -> str:
        """One line: metric, direction, figure, unit and baseline, e.g. 'latency decrease 2 x vs fp32'."""
        return f"{self.metric} {self.direction} {self.value_text} {self.unit} vs {self.baseline}"

    @property
    def magnitude(self) -> tuple[float, float]:
        """The figure as a (low, high) pair; a single value gives (value, value)."""
        if self.value is not None:
            return (self.value, self.value)
        return (float(self.low), float(self.high))  # type: ignore[arg-type]


class Applicability(BaseModel):
    """Where a technique applies and what it needs."""

    model_config = _STRICT

    model_families: list[ModelFamily] = Field(min_length=1, description="Model families it suits.")
    architectures: list[Architecture] = Field(
        min_length=1,
        description="Model traits it needs: 'any', or the architectures it applies to (e.g. 'generative-decoder' "
        "for KV-cache techniques, 'vision-transformer' for token merging).",
    )
    architectures_note: str | None = Field(
        description="Why it needs those architectures (null when the list is just 'any' and that is obvious)."
    )
    phases: list[Phase] = Field(min_length=1, description="Training, inference or both.")
    hardware: list[Hardware] = Field(min_length=1, description="Hardware on which it pays off.")
    requires_features: list[KebabId] = Field(
        default_factory=list,
        description="Hardware capabilities it needs to pay off, e.g. 'avx512-vnni', 'tensor-cores', 'bf16'.",
    )
    targets: list[Target] = Field(
        default_factory=lambda: ["server", "desktop", "edge", "mobile"],
        description="Deployment targets it suits.",
    )
    needs_retraining: Retraining = Field(description="none, fine-tuning or full (re)training.")
    needs_data: DataNeed = Field(description="Data needed to apply it.")


class Costs(BaseModel):
    """What applying the technique costs."""

    model_config = _STRICT

    accuracy_risk: Risk = Field(description="Risk of losing accuracy.")
    effort: Effort = Field(description="Engineering effort to apply it.")
    kinds: list[CostKind] = Field(default_factory=list, description="Kinds of cost it brings.")
    notes: str | None = Field(None, description="What the costs are, in a sentence or two.")


class Implementation(BaseModel):
    """A library call that applies the technique."""

    model_config = _STRICT

    library: Text = Field(description="Distribution name, e.g. 'torch', 'onnxruntime'.")
    call: Text = Field(description="Fully qualified call, e.g. 'torch.ao.quantization.quantize_dynamic'.")
    note: str | None = None


class Relation(BaseModel):
    """A typed edge from this technique to another."""

    model_config = _STRICT

    type: RelationType
    target: KebabId = Field(description="Id of the related technique.")
    note: str | None = None


class SurveyPlacement(BaseModel):
    """Nodes of each survey's own section tree where the technique is discussed."""

    model_config = _STRICT

    xu2021: list[NodeId] = Field(default_factory=list)
    mehlin2023: list[NodeId] = Field(default_factory=list)
    lee2021: list[NodeId] = Field(default_factory=list)


class Technique(BaseModel):
    """One green deep-learning technique: one YAML file in data/techniques/<category>/."""

    model_config = _STRICT

    id: KebabId = Field(description="Kebab-case id, equal to the file name without '.yaml'.")
    name: Text
    aliases: list[str] = Field(default_factory=list)
    summary: Text = Field(description="What it is and why it saves resources, in our own words.")
    category: Category | None = Field(description="Xu et al. 2021 category, or null if it has none.")
    kind: Kind = Field(
        description="What it changes: 'model' (the model or its numerics), 'training' (how it is trained), 'data', "
        "'runtime' (how it is executed), 'infrastructure' (hardware, datacenter, region, scheduling) or 'practice' "
        "(measuring, reporting, benchmarks)."
    )
    parent: KebabId | None = Field(
        description="Id of the technique this one specialises (e.g. dynamic int8 under quantization), or null."
    )
    lifecycle_stages: list[Stage] = Field(min_length=1, description="Mehlin et al. 2023 stages.")
    level: Level | None = Field(description="Lee et al. 2021 level, or null if it has none.")
    surveys: SurveyPlacement = Field(default_factory=SurveyPlacement)
    saves: list[Saving] = Field(min_length=1, description="What it saves.")
    costs: Costs
    applicability: Applicability
    implementations: list[Implementation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    references: list[RefKey] = Field(min_length=1, description="Keys in data/references.json.")
    relations: list[Relation] = Field(default_factory=list)


class Reference(BaseModel):
    """One bibliography item in CSL-JSON form (a subset of CSL fields plus ``arxiv``)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    id: RefKey
    type: Literal[
        "article-journal",
        "paper-conference",
        "article",
        "chapter",
        "book",
        "report",
        "thesis",
        "webpage",
        "software",
    ]
    title: Text
    author: list[dict[str, str]] = Field(min_length=1)
    issued: dict[str, list[list[int]]]
    container_title: str | None = Field(None, alias="container-title")
    DOI: str | None = None
    arxiv: str | None = None
    URL: str | None = None
    accessed: dict[str, list[list[int]]] | None = Field(
        None, description="When a documentation page was read (CSL date-parts [[year, month, day]])."
    )
    publisher: str | None = Field(None, description="Who publishes it, e.g. 'PyTorch Foundation' or 'Intel'.")
    genre: str | None = Field(
        None, description="For a documentation reference: one of documentation, readme, engineering-blog."
    )

    @property
    def is_documentation(self) -> bool:
        """A documentation reference: no DOI and no arXiv id (official docs, a README, a vendor blog)."""
        return not self.DOI and not self.arxiv

    @property
    def year(self) -> int | None:
        """Year of publication."""
        parts = self.issued.get("date-parts") or [[None]]
        return parts[0][0] if parts and parts[0] else None


class SurveyNode(BaseModel):
    """One section of a survey's own structure."""

    model_config = _STRICT

    id: NodeId
    title: Text
    parent: NodeId | None = None
    section: str | None = Field(None, description="Section number in the survey, where known.")
    provenance: Literal["checked", "reconstructed"] = Field(
        description="'checked' against the survey's text or table of contents, else 'reconstructed'."
    )


class SurveyTree(BaseModel):
    """A survey and its section tree."""

    model_config = _STRICT

    survey: Survey
    reference: RefKey
    title: Text
    nodes: list[SurveyNode] = Field(min_length=1)
