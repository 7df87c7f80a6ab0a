"""One rule for settings objects: a frozen dataclass of knobs, overridden by keywords with a clear error.

Functions with many knobs (``measure_generation``, ``tune``, ``measure``) take ``settings=None, **overrides``;
:func:`merged` returns the settings (default: the class's defaults) with the keyword overrides replaced in, or
raises one :class:`~advisor.ConstraintError` naming each unknown keyword, its close matches and the valid fields.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from advisor._errors import ConstraintError

__all__ = ["merged", "unknown_keyword"]

S = TypeVar("S")


def unknown_keyword(key: str, names: list[str]) -> str:
    """``unknown keyword 'budget' (did you mean budget_s?); valid settings: ...`` for one bad keyword."""
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown keyword {key!r}{hint}; valid settings: {', '.join(names)}"


def merged(
    cls: type[S],
    settings: S | None,
    overrides: Mapping[str, Any],
    where: str,
    unknown_text: Callable[[str, list[str]], str] = unknown_keyword,
) -> S:
    """``settings`` (default: ``cls()``) with the keyword ``overrides`` replaced in (``dataclasses.replace``).

    Args:
        cls: The settings dataclass.
        settings: An instance of it, or None for its defaults.
        overrides: Keyword arguments that name its fields.
        where: The caller for the message, e.g. ``measure_generation()``.
        unknown_text: ``(keyword, field names) -> message`` for a keyword that is not a field.

    Raises:
        ConstraintError: ``settings`` is not a ``cls``, or a keyword is not one of its fields.
    """
    if settings is not None and not isinstance(settings, cls):
        raise ConstraintError(f"{where}: settings: expected {cls.__name__}, got {type(settings).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise ConstraintError(f"{where}: " + "; ".join(unknown_text(k, names) for k in unknown))
    return dataclasses.replace(settings if settings is not None else cls(), **overrides)  # type: ignore[type-var]
