"""green-dl-advisor: find, explain and measure the techniques that cut the energy of deep learning.

The public API is short; everything else lives in private or sub-modules::

    import advisor
    cat = advisor.load_catalog()            # the curated technique database
    cat.filter(stage="deployment").to_frame()

Heavy dependencies (torch, matplotlib, ipywidgets) are imported only by the functions that
need them, so ``import advisor`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from advisor._errors import (
    AdvisorError,
    CampaignError,
    CatalogError,
    ConstraintError,
    DataValidationError,
    ExcludedTechniqueError,
    HardwareError,
    IntensityTableError,
    KnowledgeError,
    MachineBusyError,
    MeasurementError,
    MeterUnavailable,
    MissingApplierDependencyError,
    MissingExtraError,
    NotApplicable,
    ProfileError,
    RecommendationError,
    ReportError,
    SaveError,
    StoreError,
    TuneError,
    UnknownTechniqueError,
    VariantIdError,
)
from advisor._version import __version__
from advisor.catalog import Catalog, VariantId, load_catalog
from advisor.generation import GenerationSettings, measure_generation
from advisor.measurement import MeasureSettings, MeasureTrainingSettings
from advisor.measurement.training import measure_training
from advisor.profile import (
    Constraints,
    HardwareProfile,
    ModelProfile,
    ModelSpec,
    TrainingSetup,
    as_spec,
    detect_hardware,
    load_spec,
    profile_model,
)
from advisor.recommendation import recommend
from advisor.reports import report
from advisor.training import measure_to_target
from advisor.tuning import GenerationOptions, TuneSettings, measure, tune

__all__ = [
    "AdvisorError",
    "CampaignError",
    "Catalog",
    "CatalogError",
    "ConstraintError",
    "Constraints",
    "DataValidationError",
    "ExcludedTechniqueError",
    "GenerationOptions",
    "GenerationSettings",
    "HardwareError",
    "HardwareProfile",
    "IntensityTableError",
    "KnowledgeError",
    "MachineBusyError",
    "MeasureSettings",
    "MeasureTrainingSettings",
    "MeasurementError",
    "MeterUnavailable",
    "MissingApplierDependencyError",
    "MissingExtraError",
    "ModelProfile",
    "ModelSpec",
    "NotApplicable",
    "ProfileError",
    "RecommendationError",
    "ReportError",
    "SaveError",
    "StoreError",
    "TrainingSetup",
    "TuneError",
    "TuneSettings",
    "UnknownTechniqueError",
    "VariantId",
    "VariantIdError",
    "__version__",
    "as_spec",
    "detect_hardware",
    "load_catalog",
    "load_spec",
    "measure",
    "measure_generation",
    "measure_to_target",
    "measure_training",
    "profile_model",
    "recommend",
    "report",
    "tune",
]

# name -> module holding it; imported on first access so `import advisor` stays light
_LAZY: dict[str, str] = {
    "load_profile_file": "advisor.profile.model",
    "batch_sweep": "advisor.measurement.sweep",
    "load_results": "advisor.reports._data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
