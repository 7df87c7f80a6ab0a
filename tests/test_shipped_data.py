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


def _ev(tid: str) -> list[S.Evidence]:
    return list(PARSED.techniques[tid].evidence)


def test_every_kind_architecture_hardware_class_and_basis_is_used() -> None:
    ts = list(PARSED.techniques.values())
    assert {t.kind for t in ts} == set(S.KINDS)
    assert {a for t in ts for a in t.applicability.architectures} >= set(S.ARCHITECTURES) - {"recurrent", "mlp"}
    evidence = [ev for t in ts for ev in t.evidence]
    assert {ev.hardware_class for ev in evidence} == set(S.HARDWARE_CLASSES)
    assert {ev.basis for ev in evidence} == set(S.BASES)


def test_parents_form_a_forest_of_existing_entries() -> None:
    for t in PARSED.techniques.values():
        seen, node = {t.id}, t.parent
        while node is not None:
            assert node in PARSED.techniques and node not in seen, f"{t.id}: parent chain broken at {node}"
            seen.add(node)
            node = PARSED.techniques[node].parent


@pytest.mark.parametrize(
    ("tid", "needs"),
    [
        ("kv-cache", "generative-decoder"),
        ("speculative-decoding", "generative-decoder"),
        ("multi-query-attention", "generative-decoder"),
        ("token-merging", "vision-transformer"),
        ("structured-filter-pruning", "convolutional"),
    ],
)
def test_architecture_needs_with_reasons(tid: str, needs: str) -> None:
    app = PARSED.techniques[tid].applicability
    assert needs in app.architectures and "any" not in app.architectures
    assert app.architectures_note


def test_audit_corrections_stay_fixed() -> None:
    """Issue 12's audit: each correction, so it cannot silently come back."""
    more_hw = [("data-parallel-training", 0), ("tensor-model-parallelism", 0), ("lamb-optimizer", 0)]
    assert all(_ev(t)[i].basis == "more-hardware" for t, i in more_hw)
    assert _ev("energy-reporting-practice")[0].basis == "estimation-error"
    assert all(ev.metric == "bit-width" for t in ("low-precision-accumulation", "stochastic-rounding") for ev in _ev(t))
    assert _ev("channel-pruning")[0].metric == "compute"
    assert _ev("gradient-compression")[0].metric == "communication"
    adapter_gap = next(ev for ev in _ev("adapters") if ev.metric == "accuracy")
    assert adapter_gap.unit == "score"
    assert all(ev.reference != "shazeer2019fast" for ev in _ev("multi-query-attention"))
    nas = _ev("neural-architecture-search")
    assert any(ev.reference == "patterson2021carbon" and ev.basis == "estimation-error" for ev in nas)
    assert 25.8 not in {ev.value for ev in _ev("embodied-carbon-accounting")}
    assert "56.3" in _ev("weight-sharing-nas")[0].setting
    assert "v1" in _ev("onnx-runtime-inference")[0].locator
