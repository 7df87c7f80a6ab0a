"""A query over the catalog's techniques: :class:`CatalogQuery`, what :meth:`advisor.Catalog.filter` answers."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from advisor._errors import CatalogError
from advisor.catalog import schema as S

__all__ = ["AXES", "CatalogQuery"]

Terms = str | Iterable[str] | None

# axis -> (allowed terms, the technique's values, entries marked 'any' match too)
AXES: dict[str, tuple[tuple[str, ...], Callable[[S.Technique], set[str]], bool]] = {
    "category": ((*S.CATEGORIES, "none"), lambda t: {t.category or "none"}, False),
    "stage": (S.STAGES, lambda t: set(t.lifecycle_stages), False),
    "level": ((*S.LEVELS, "none"), lambda t: {t.level or "none"}, False),
    "phase": (S.PHASES, lambda t: set(t.applicability.phases), False),
    "hardware": (S.HARDWARE, lambda t: set(t.applicability.hardware), True),
    "family": (S.MODEL_FAMILIES, lambda t: set(t.applicability.model_families), True),
    "kind": (S.KINDS, lambda t: {t.kind}, False),
    "architecture": (S.ARCHITECTURES, lambda t: set(t.applicability.architectures), True),
    "hardware_class": (S.HARDWARE_CLASSES, lambda t: {ev.hardware_class for ev in t.evidence}, False),
}


def _as_set(value: Terms) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


@dataclass(frozen=True)
class CatalogQuery:
    """Which techniques to keep: every given criterion must match (any of several values per axis).

    ``category="none"`` or ``level="none"`` selects techniques where that axis is null. ``hardware``,
    ``family`` and ``architecture`` also match entries marked ``any``. ``hardware_class`` selects techniques
    with at least one evidence item from that class of hardware.

    Attributes:
        category: Catalog category (``efficient-inference``, ...).
        stage: Lifecycle stage (``deployment``, ``training``, ...).
        level: Level of the technique (``arithmetic``, ...).
        phase: ``inference`` or ``training``.
        hardware: Hardware it applies to (``cpu``, ``gpu``, ...).
        family: Model family (``cnn``, ``transformer``, ...).
        kind: What it is (``model``, ``runtime``, ``practice``, ...).
        architecture: Architecture trait (``generative-decoder``, ``convolutional``, ...).
        hardware_class: Class of hardware of its evidence (``server-cpu``, ``mobile-edge``, ...).
        survey_node: A survey node it is placed under (``xu2021:quantization``).
        has_evidence: Whether it has evidence items.
    """

    category: Terms = None
    stage: Terms = None
    level: Terms = None
    phase: Terms = None
    hardware: Terms = None
    family: Terms = None
    kind: Terms = None
    architecture: Terms = None
    hardware_class: Terms = None
    survey_node: str | None = None
    has_evidence: bool | None = None

    @classmethod
    def of(cls, query: CatalogQuery | None, criteria: Mapping[str, Any]) -> CatalogQuery:
        """``query`` (default: everything) with the keyword ``criteria`` replaced in.

        Raises:
            CatalogError: a criterion that is not a field (named, with its close matches and the fields).
        """
        names = [f.name for f in fields(cls)]
        unknown = [k for k in criteria if k not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise CatalogError(f"filter: unknown criterion {unknown[0]!r}{hint}; expected one of {names}")
        return replace(query or cls(), **criteria)

    def checks(self) -> list[tuple[set[str], Callable[[S.Technique], set[str]]]]:
        """(wanted terms, the technique's values) per given axis.

        Raises:
            CatalogError: a term the axis does not know (named, with the allowed terms).
        """
        out = []
        for name, (allowed, values_of, any_matches) in AXES.items():
            wanted = _as_set(getattr(self, name))
            if wanted is None:
                continue
            unknown = sorted(wanted - set(allowed))
            if unknown:
                raise CatalogError(f"filter {name}={unknown}: unknown value; expected one of {list(allowed)}")
            out.append((wanted | {"any"} if any_matches else wanted, values_of))
        return out
