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
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from advisor._errors import (
    AdvisorError,
    CatalogError,
    ConstraintError,
    DataValidationError,
    HardwareError,
    MissingExtraError,
    ProfileError,
    UnknownTechniqueError,
)
from advisor.catalog import Catalog, load_catalog
from advisor.measure.run import measure
from advisor.measure.training import measure_training
from advisor.profile import Constraints, HardwareProfile, ModelProfile, detect_hardware, profile_model

# Bound eagerly: a lazy attribute would be shadowed by the sub-package of the same name
# (`advisor.recommend`) as soon as anything imports one of its modules.
from advisor.recommend import recommend
from advisor.report import report  # same shadowing as `recommend`: the function wins over the sub-package

try:
    __version__ = version("green-dl-advisor")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

__all__ = [
    "AdvisorError",
    "Catalog",
    "CatalogError",
    "ConstraintError",
    "Constraints",
    "DataValidationError",
    "HardwareError",
    "HardwareProfile",
    "MissingExtraError",
    "ModelProfile",
    "ProfileError",
    "UnknownTechniqueError",
    "__version__",
    "detect_hardware",
    "load_catalog",
    "measure",
    "measure_training",
    "profile_model",
    "recommend",
    "report",
]

# name -> module holding it; imported on first access so `import advisor` stays light
_LAZY: dict[str, str] = {
    "load_profile_file": "advisor.profile.model",
    "load_model_spec": "advisor.profile.model",
    "batch_sweep": "advisor.measure.sweep",
    "load_results": "advisor.report._data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'advisor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*__all__, *_LAZY])
