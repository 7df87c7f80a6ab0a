"""The exception tree of green-dl-advisor.

Every error the package raises on purpose derives from :class:`AdvisorError`, so callers can
catch one class. Messages say what was wrong and how to fix it.

::

    AdvisorError
    ├── CatalogError                 the technique database could not be used
    │   ├── DataValidationError      data files break the schema or cross-entry rules (.problems)
    │   └── UnknownTechniqueError    an id that is not in the catalog (also a KeyError)
    ├── ProfileError                 a model, model spec or profile file cannot be profiled
    ├── HardwareError                a hardware profile file is malformed
    ├── ConstraintError              an invalid constraint (phase, objective, budget, ...)
    └── MissingExtraError            an optional dependency is missing; names the pip command
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor.catalog.validate import Problem

__all__ = [
    "AdvisorError",
    "CatalogError",
    "ConstraintError",
    "DataValidationError",
    "HardwareError",
    "MissingExtraError",
    "ProfileError",
    "UnknownTechniqueError",
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

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{purpose} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: pip install 'green-dl-advisor[{extra}]'"
        )
