"""The command line: output formats, exit codes and error messages."""

from __future__ import annotations

import json

import pytest

from advisor.cli import main
from tests.test_validate_rules import _set


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_techniques_json_uses_schema_field_names(capsys, make_data) -> None:
    code, out, _ = run(capsys, "techniques", "--data", str(make_data()), "--format", "json")
    assert code == 0
    records = json.loads(out)
    assert [r["id"] for r in records] == ["tech-a", "tech-b", "tech-c"]
    assert {
        "id",
        "name",
        "summary",
        "category",
        "lifecycle_stages",
        "level",
        "applicability",
        "evidence",
        "references",
        "relations",
    } <= set(records[0])


def test_techniques_filters_and_csv(capsys, make_data) -> None:
    data = str(make_data())
    code, out, _ = run(capsys, "techniques", "--data", data, "--level", "arithmetic", "--format", "csv")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 2 and lines[1].startswith("tech-c,")
    code, out, _ = run(capsys, "techniques", "--data", data, "--search", "tech b")
    assert "tech-b" in out and "tech-a" not in out and "1 technique(s)" in out


def test_show_text_and_json(capsys, make_data) -> None:
    data = str(make_data())
    code, out, _ = run(capsys, "show", "tech-a", "--data", data)
    assert code == 0 and "latency decrease 2 x vs fp32" in out and "[alpha2020one, Table 1]" in out
    assert "arXiv:2001.00001" in out
    code, out, _ = run(capsys, "show", "tech-a", "--data", data, "--format", "json")
    assert json.loads(out)["references_resolved"][0]["id"] == "alpha2020one"


def test_show_unknown_id_exits_2_with_hint(capsys, make_data) -> None:
    code, _, err = run(capsys, "show", "tech-q", "--data", str(make_data()))
    assert code == 2 and "no technique with id 'tech-q'" in err and "tech-a" in err


def test_validate_exit_codes(capsys, make_data) -> None:
    code, out, err = run(capsys, "validate", "--data", str(make_data()))
    assert code == 0 and out == "" and "valid" in err
    bad = make_data(_set("other/tech-c", references=["nobody1999none"]))
    code, out, _ = run(capsys, "validate", "--data", str(bad))
    assert code == 1
    assert (
        "tech-c.yaml: tech-c: references[0]: reference-exists: expected a key in references.json, got nobody1999none"
        in out
    )


def test_schema_prints_json_schema(capsys) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out)["title"] == "Technique"


def test_gaps_text(capsys, make_data) -> None:
    code, out, _ = run(capsys, "gaps", "--data", str(make_data()))
    assert code == 0 and "Thinnest cells" in out and "deployment" in out


def test_bad_option_exits_2(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["techniques", "--stage", "inference"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_surveys_tree_and_crosswalk(capsys) -> None:
    code, out, _ = run(capsys, "surveys", "--survey", "lee2021")
    assert code == 0 and "[lee2021:arithmetic-level]" in out
    code, out, _ = run(capsys, "surveys", "--crosswalk", "mehlin2023", "lee2021")
    assert code == 0 and "mehlin2023:deployment" in out and "lee2021:model-level" in out
