"""Turning a pydantic ValidationError into the parts of a clear message."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

__all__ = ["FieldError", "first_error"]


class FieldError(NamedTuple):
    """The first problem of a validation error: which field, what was expected, what was got."""

    field: str
    expected: str
    got: str


def first_error(exc: ValidationError) -> FieldError:
    """The first error of ``exc`` in words."""
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or "(value)"
    expected = err["msg"]
    if err["type"] == "literal_error":
        expected = "one of " + str(err.get("ctx", {}).get("expected", ""))
    elif err["type"] == "value_error":  # a validator's own message, without pydantic's "Value error, " prefix
        expected = expected.removeprefix("Value error, ")
    got = "nothing" if err["type"] == "missing" else repr(err.get("input"))
    return FieldError(field, expected, got)
