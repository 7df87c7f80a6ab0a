"""The shipped database: valid as a whole, and each entry valid on its own (one test id per entry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from advisor.catalog import schema as S
from advisor.catalog._files import read_data_dir
from advisor.catalog.export_schema import SCHEMAS, render
from advisor.catalog.validate import parse

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
PARSED = parse(read_data_dir(DATA))
FILES = sorted((DATA / "techniques").rglob("*.yaml"))


def test_shipped_data_has_no_problems() -> None:
    assert [str(p) for p in PARSED.problems] == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_entry(path: Path) -> None:
    mine = [str(p) for p in PARSED.problems if p.file.endswith(f"/{path.parent.name}/{path.name}")]
    assert mine == []
    t = S.Technique.model_validate(yaml.safe_load(path.read_text()))
    assert t.relations, "every technique has at least one relation"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_exported_schema_matches_code(name: str) -> None:
    path = DATA / "schema" / f"{name}.schema.json"
    assert path.read_text() == render(name), "schema drifted: run `green-advisor schema --write`"
    assert json.loads(path.read_text())["title"]


def test_seed_coverage() -> None:
    ts = list(PARSED.techniques.values())
    assert len(ts) >= 30
    assert {t.category for t in ts} >= set(S.CATEGORIES)
    assert {s for t in ts for s in t.lifecycle_stages} == set(S.STAGES)
    assert {t.level for t in ts} >= set(S.LEVELS)
