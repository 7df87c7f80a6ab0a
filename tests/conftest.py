"""Shared fixtures: a small valid data directory that tests break one rule at a time."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def _technique(tid: str, category: str | None, **over: Any) -> dict[str, Any]:
    t = {
        "id": tid,
        "name": tid.replace("-", " ").title(),
        "summary": f"A test technique called {tid}.",
        "category": category,
        "kind": "model",
        "parent": None,
        "lifecycle_stages": ["deployment"],
        "level": "model",
        "surveys": {"xu2021": ["xu2021:quantization"], "mehlin2023": [], "lee2021": []},
        "saves": ["energy"],
        "costs": {"accuracy_risk": "low", "effort": "low"},
        "applicability": {
            "model_families": ["any"],
            "architectures": ["any"],
            "architectures_note": None,
            "phases": ["inference"],
            "hardware": ["cpu"],
            "needs_retraining": "none",
            "needs_data": "none",
        },
        "evidence": [
            {
                "metric": "latency",
                "direction": "decrease",
                "value": 2.0,
                "unit": "x",
                "baseline": "fp32",
                "setting": "test",
                "hardware_class": "server-cpu",
                "basis": "saving",
                "reference": "alpha2020one",
                "locator": "Table 1",
            }
        ],
        "references": ["alpha2020one"],
        "relations": [],
    }
    t.update(over)
    return t


def minimal_data() -> dict[str, Any]:
    """The content of a small valid data directory, as Python objects."""
    a = _technique("tech-a", "efficient-inference", relations=[{"type": "requires", "target": "tech-b"}])
    b = _technique("tech-b", "efficient-inference", relations=[{"type": "complements", "target": "tech-a"}])
    c = _technique(
        "tech-c",
        None,
        level="arithmetic",
        references=["beta2021two"],
        evidence=[],
        relations=[{"type": "alternative-to", "target": "tech-a"}],
    )
    refs = [
        {
            "id": "alpha2020one",
            "type": "article",
            "title": "One",
            "author": [{"family": "Alpha", "given": "A."}],
            "issued": {"date-parts": [[2020]]},
            "arxiv": "2001.00001",
        },
        {
            "id": "beta2021two",
            "type": "article-journal",
            "title": "Two",
            "author": [{"family": "Beta", "given": "B."}],
            "issued": {"date-parts": [[2021]]},
            "DOI": "10.1000/xyz123",
        },
    ]
    return {
        "techniques": {"efficient-inference/tech-a": a, "efficient-inference/tech-b": b, "other/tech-c": c},
        "references": refs,
    }


def write_data(root: Path, content: dict[str, Any]) -> Path:
    """Write a data directory: techniques, references, and the real surveys and vocab."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, t in content["techniques"].items():
        path = root / "techniques" / f"{rel}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(t if isinstance(t, str) else yaml.safe_dump(t, sort_keys=False))
    (root / "references.json").write_text(json.dumps(content["references"] + _survey_refs(), indent=1))
    shutil.copytree(DATA / "surveys", root / "surveys")
    shutil.copy(DATA / "vocab.yaml", root / "vocab.yaml")
    return root


def _survey_refs() -> list[dict[str, Any]]:
    refs = json.loads((DATA / "references.json").read_text())
    return [r for r in refs if r["id"] in {"xu2021green", "mehlin2023towards", "lee2021resource"}]


@pytest.fixture
def make_data(tmp_path: Path) -> Callable[..., Path]:
    """Return a function that writes the minimal data, changed by ``mutate(content)``, and returns its dir."""

    calls = []

    def make(mutate: Callable[[dict[str, Any]], None] | None = None) -> Path:
        content = copy.deepcopy(minimal_data())
        if mutate:
            mutate(content)
        calls.append(mutate)
        return write_data(tmp_path / f"data{len(calls)}" / "data", content)

    return make


@pytest.fixture(autouse=True)
def _private_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measurements made by tests go to a temporary store, never the user's; the user's config is not read."""
    monkeypatch.setenv("GREEN_ADVISOR_STORE", str(tmp_path_factory.mktemp("store") / "results.sqlite"))
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(tmp_path_factory.mktemp("config") / "absent.toml"))
    monkeypatch.delenv("GREEN_ADVISOR_REGION", raising=False)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """A test that sets torch's thread count (one thread on a shared machine) leaves it as it found it."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)
