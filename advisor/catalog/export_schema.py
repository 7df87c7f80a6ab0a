"""Export the pydantic models as JSON Schema files (``data/schema/*.schema.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advisor.catalog import schema as S

__all__ = ["SCHEMAS", "json_schema", "write_schemas"]

SCHEMAS = {
    "technique": S.Technique,
    "reference": S.Reference,
    "survey": S.SurveyTree,
}


def json_schema(name: str = "technique") -> dict[str, Any]:
    """The JSON Schema of one model (``technique``, ``reference`` or ``survey``)."""
    model = SCHEMAS[name]
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://green-dl-advisor/schema/{name}.schema.json",
        **model.model_json_schema(by_alias=True),
    }
    return out


def render(name: str) -> str:
    """The schema as the exact text written to disk."""
    return json.dumps(json_schema(name), indent=2, sort_keys=True) + "\n"


def write_schemas(schema_dir: Path) -> list[Path]:
    """Write every schema into ``schema_dir``; return the paths written."""
    schema_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SCHEMAS:
        path = schema_dir / f"{name}.schema.json"
        path.write_text(render(name), encoding="utf-8")
        paths.append(path)
    return paths
