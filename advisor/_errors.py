"""The exception tree of green-dl-advisor.

Every error the package raises on purpose derives from :class:`AdvisorError`, so callers can
catch one class. Messages say what was wrong and how to fix it.

::

    AdvisorError
    ├── CatalogError                       the technique database could not be used
    │   ├── DataValidationError            data files break the schema or cross-entry rules (.problems)
    │   │   └── IntensityTableError        the carbon-intensity table breaks a rule
    │   ├── UnknownTechniqueError          an id that is not in the catalog (also a KeyError)
    │   └── VariantIdError                 a variant id that breaks the grammar a+b@setting (also a ValueError)
    ├── ProfileError                       a model, model spec or profile file cannot be profiled
    ├── HardwareError                      a hardware profile file is malformed
    ├── ConstraintError                    an invalid constraint (phase, objective, budget, ...; also a ValueError)
    ├── RecommendationError                a question the recommendations cannot answer
    │   └── ExcludedTechniqueError         the technique was excluded; says why (also a KeyError)
    ├── MeasurementError                   a measurement could not be made
    │   ├── NotApplicable                  a technique cannot be applied to this model here (a verdict)
    │   │   └── MissingApplierDependencyError   ... because its optional package is missing
    │   ├── MeterUnavailable               an energy counter cannot be read here (also a RuntimeError)
    │   ├── StoreError                     the results store cannot be opened, written or read
    │   ├── SaveError                      an applied variant cannot be saved as an artifact
    │   └── MachineBusyError               the machine lock was not granted in time (also a TimeoutError)
    ├── KnowledgeError                     a knowledge file is unreadable or breaks the format
    ├── TuneError                          tune cannot work with its arguments
    ├── ReportError                        a report input is unreadable or of an unknown kind
    ├── CampaignError                      a campaign plan is invalid or a campaign cannot run
    └── MissingExtraError                  an optional dependency is missing; names the pip command (ImportError)
        └── MissingApplierDependencyError  (also a NotApplicable)

Every class is importable from ``advisor`` and from here; modules that used to define some of them
(``advisor.measurement.store.StoreError``, ...) re-export the same class.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from advisor.catalog.validate import Problem

__all__ = [
    "AdvisorError",
    "CampaignError",
    "CatalogError",
    "ConstraintError",
    "DataValidationError",
    "ExcludedTechniqueError",
    "HardwareError",
    "IntensityTableError",
    "KnowledgeError",
    "MachineBusyError",
    "MeasurementError",
    "MeterUnavailable",
    "MissingApplierDependencyError",
    "MissingExtraError",
    "NotApplicable",
    "ProfileError",
    "RecommendationError",
    "ReportError",
    "SaveError",
    "StoreError",
    "TuneError",
    "UnknownTechniqueError",
    "VariantIdError",
]


class AdvisorError(Exception):
    """Base class of every error raised on purpose by green-dl-advisor."""


class CatalogError(AdvisorError):
    """The technique database could not be loaded or queried."""


class DataValidationError(CatalogError):
    """Data files break the schema or a cross-entry rule.

    Attributes:
        problems: One :class:`advisor.catalog.validate.Problem` per broken rule.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"{len(problems)} problem(s) in the technique data:\n{lines}{more}\n"
            "Run `green-advisor validate --data DIR` for the full list; see docs/curation.md."
        )


class UnknownTechniqueError(CatalogError, KeyError):
    """A technique id that is not in the catalog."""

    def __init__(self, technique_id: str, suggestions: list[str]) -> None:
        self.technique_id = technique_id
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(
            f"no technique with id {technique_id!r}.{hint} "
            "List ids with `green-advisor techniques` or Catalog.search(text)."
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class VariantIdError(CatalogError, ValueError):
    """A variant id that breaks the grammar ``technique[@setting][+technique[@setting]...]``."""


class ProfileError(AdvisorError):
    """A model, model spec or profile file cannot be turned into a model profile."""


class HardwareError(AdvisorError):
    """A hardware profile file is malformed."""


class ConstraintError(AdvisorError, ValueError):
    """An invalid constraint value (unknown phase or objective, negative budget, ...)."""


class MissingExtraError(AdvisorError, ImportError):
    """An optional dependency is not installed.

    The message names the exact command that installs it.
    """

    def __init__(self, module: str, extra: str | None, purpose: str, *, install: str | None = None) -> None:
        self.module = module
        self.extra = extra
        command = install or f"pip install 'green-dl-advisor[{extra}]'"
        super().__init__(
            f"{purpose} needs the optional dependency {module!r}, which is not installed. Install it with: {command}"
        )


class IntensityTableError(DataValidationError):
    """The carbon-intensity CSV breaks a rule; ``.problems`` has one entry per broken cell."""

    def __init__(self, problems: list[Any], path: Path) -> None:
        super().__init__(problems)
        lines = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        self.args = (
            f"{len(problems)} problem(s) in the carbon-intensity table {path}:\n{lines}{more}\n"
            "Rebuild it with `python data/carbon/build_intensity.py CODECARBON_DIR` or fix the named cells "
            "(see data/carbon/README.md).",
        )


class RecommendationError(AdvisorError):
    """A question the recommendations cannot answer."""


class ExcludedTechniqueError(RecommendationError, KeyError):
    """``Recommendations[id]`` for a technique that was excluded (or never considered); says why."""

    def __init__(self, technique_id: str, reasons: list[str]) -> None:
        self.technique_id = technique_id
        self.reasons = reasons
        why = "; ".join(reasons) if reasons else "it is not in the catalog the recommendations were made from"
        super().__init__(
            f"{technique_id!r} is not among the recommendations: {why}. "
            "See Recommendations.excluded() for every exclusion, or .explain(id)."
        )

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class MeasurementError(AdvisorError):
    """A measurement could not be made."""


class NotApplicable(MeasurementError):  # noqa: N818 - it is a verdict, not a failure
    """The technique cannot be applied to this model here; the message says why."""


class MissingApplierDependencyError(MissingExtraError, NotApplicable):
    """An applier's optional dependency is not installed; the message names the install command."""


class SaveError(MeasurementError):
    """An applied variant could not be saved as a deployable artifact; the message says why."""


class MeterUnavailable(MeasurementError, RuntimeError):  # noqa: N818 - reads better at the call site
    """An energy backend cannot read energy here; the message says why and how to fix it."""


class StoreError(MeasurementError):
    """The results store cannot be opened, written or read."""


class MachineBusyError(MeasurementError, TimeoutError):
    """The machine-wide measurement lock was not granted within the caller's timeout."""


class KnowledgeError(AdvisorError):
    """A knowledge file (``green-advisor knowledge import``) is unreadable or breaks the format (file, entry, field)."""


class TuneError(AdvisorError):
    """``advisor.tune`` was called with arguments it cannot work with (phase, budget, constraints)."""


class ReportError(AdvisorError):
    """A report input (file or object) is unreadable or not a kind of result the report understands."""


class CampaignError(AdvisorError):
    """A campaign plan is invalid, or a campaign cannot run."""
