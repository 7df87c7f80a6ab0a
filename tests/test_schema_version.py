"""One result schema version (advisor._version.RESULT_SCHEMA_VERSION): every result writes it, readers take older."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import advisor
from advisor import MeasurementError, ReportError
from advisor._version import RESULT_SCHEMA_VERSION
from advisor.generation import GenerationRun
from advisor.measurement import MeasureRun, TrainingRun
from advisor.reports import load_results
from advisor.training import ToTargetRun
from advisor.tuning import TunePlan

ROOT = Path(advisor.__file__).parent

TO_TARGET = {"run_id": "r", "status": "ok", "target": 0.9, "metric": "accuracy", "baseline": {"variant": "baseline"}}


def _results() -> dict[str, object]:
    return {
        "measure": MeasureRun(None, "ok", None, [], [], {}, None, {}),
        "training": TrainingRun(None, "ok", None, [], [], {}, None, {}),
        "to-target": ToTargetRun.from_dict({**TO_TARGET, "results": []}),
        "generation": GenerationRun("r", "ok"),
        "tune": TunePlan("m", "inference", "energy", None, [], [], [], [], None, 0, 0.0, 1.0),
    }


@pytest.mark.parametrize("kind", list(_results()))
def test_every_result_writes_the_one_schema_version(kind: str) -> None:
    assert _results()[kind].to_dict()["schema_version"] == RESULT_SCHEMA_VERSION  # type: ignore[attr-defined]


def test_no_module_has_a_schema_version_of_its_own() -> None:
    """No ``X_SCHEMA_VERSION = <int>`` outside _version.py, no ``"schema_version": <int>`` literal in a dict."""
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "_version.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
                bad += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if n.endswith("SCHEMA_VERSION")]
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "schema_version" and isinstance(v, ast.Constant):
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: schema_version {v.value!r}")
    assert not bad, "use advisor._version.RESULT_SCHEMA_VERSION:\n" + "\n".join(bad)


def test_readers_take_older_files_and_name_a_newer_one(tmp_path: Path) -> None:
    old = MeasureRun.from_dict({"schema_version": 1, "run_id": "r1", "status": "ok", "results": []})
    assert old.run_id == "r1"
    assert ToTargetRun.from_dict({**TO_TARGET, "schema_version": 1, "results": []}).run_id == "r"
    assert GenerationRun.from_dict({"schema_version": 1, "run_id": "g", "status": "ok", "results": []}).run_id == "g"
    with pytest.raises(MeasurementError, match=f"schema_version {RESULT_SCHEMA_VERSION + 1}.*newer"):
        MeasureRun.from_dict({"schema_version": RESULT_SCHEMA_VERSION + 1, "results": []})
    newer = tmp_path / "report.json"
    newer.write_text(f'{{"kind": "green-advisor-report", "schema_version": {RESULT_SCHEMA_VERSION + 1}}}')
    with pytest.raises(ReportError, match=f"schema_version {RESULT_SCHEMA_VERSION + 1}"):
        load_results(newer)
