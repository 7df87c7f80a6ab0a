"""Every CLI option that writes follows one rule (``advisor.cli._app.output_path``).

A path inside folders that do not exist yet: the folders are created and the file is written. A path that
cannot be written (a file where a folder must be, a folder where the file must be): exit 2 with one line
naming the option, what was expected and how to fix it, before anything is measured; never a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advisor.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
MODEL = f"{FIXTURES / 'user_model.py'}:make"
GPT2 = "advisor.generation.models:tiny_gpt2"
PLAN = """
name: outputs
models:
  - {name: cnn, spec: models.py:cnn}
techniques: [inference-mode-and-no-grad]
budget_s: 1
node_groups:
  - {name: here, resources: {here: 1}}
"""


def _results_json(tmp: Path) -> Path:
    """A results file for `report`: the JSON of `recommend --format json` on the fixture model."""
    import advisor
    from advisor.profile.spec import load_spec

    loaded = load_spec(MODEL)
    rec = advisor.recommend(advisor.profile_model(loaded.model, loaded.inputs))
    path = tmp / "advice.json"
    path.write_text(rec.to_json(), encoding="utf-8")
    return path


def _campaign_store(tmp: Path) -> Path:
    """A store with one finished campaign of one cell (the campaign tests' CNN, 1 s budget)."""
    folder = tmp / "plan"
    shutil.copytree(FIXTURES / "campaign", folder, ignore=shutil.ignore_patterns("__pycache__", "control.json"))
    (folder / "campaign.yaml").write_text(PLAN)
    store = tmp / "campaign.sqlite"
    assert main(["campaign", "run", str(folder / "campaign.yaml"), "--store", str(store), "--quiet"]) == 0
    return store


# (command line with {new} for a path inside folders that do not exist, what must exist afterwards)
QUICK = {
    "doctor --save": (["doctor", "--save", "{new}/hw.yaml"], "{new}/hw.yaml"),
    "schema --write": (["schema", "--write", "{new}/schemas"], "{new}/schemas/technique.schema.json"),
    "knowledge export": (["knowledge", "export", "{new}/team.json", "--store", "{tmp}/s.sqlite"], "{new}/team.json"),
    "report --out FILE": (["report", "{results}", "--out", "{new}/r.md"], "{new}/r.md"),
    "report --out DIR": (["report", "{results}", "--out", "{new}/report", "--format", "json"],
                         "{new}/report/report.json"),
}  # fmt: skip
MEASURING = {
    "measure --out --save": (["measure", "--model", MODEL, "--techniques", "inference-mode-and-no-grad", "--budget-s",
                              "2", "--store", "{tmp}/s.sqlite", "--out", "{new}/m.json", "--save", "{new}/winner"],
                             "{new}/m.json"),
    "measure-training --out": (["measure-training", "--model", MODEL, "--steps-per-epoch", "10", "--epochs", "1",
                                "--techniques", "gradient-accumulation", "--budget-s", "2", "--store", "{tmp}/s.sqlite",
                                "--out", "{new}/t.json"], "{new}/t.json"),
    "tune --out --save-dir": (["tune", "--model", MODEL, "--budget-s", "3", "--max-variants", "1", "--store",
                               "{tmp}/s.sqlite", "--out", "{new}/plan.json", "--save-dir", "{new}/art"],
                              "{new}/plan.json"),
    "generate --out": (["generate", "--model", GPT2, "--batch-sizes", "1", "--max-new-tokens", "4", "--techniques",
                        "sdpa-attention", "--budget-s", "2", "--no-store", "--out", "{new}/g.json"], "{new}/g.json"),
    "campaign report --out": (["campaign", "report", "--store", "{campaign}", "--out", "{new}/c"],
                              "{new}/c/campaign.html"),
    "demo --out": (["demo", "--out", "{new}/demo", "--budget-s", "3"], "{new}/demo/report.html"),
}  # fmt: skip


def _fill(items: list[str], tmp: Path, new: Path, extra: dict[str, Path]) -> list[str]:
    return [s.format(new=new, tmp=tmp, **extra) for s in items]


def _run(capsys, argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


ALL = {**QUICK, **MEASURING}
CASES = [*QUICK, *(pytest.param(name, marks=pytest.mark.slow) for name in MEASURING)]  # slow: ~5-25 s each


@pytest.mark.parametrize("name", CASES)
def test_an_output_in_missing_folders_is_written(name: str, tmp_path: Path, capsys) -> None:
    argv, expect = ALL[name]
    extra = {"results": _results_json(tmp_path)} if "{results}" in argv else {}
    if "{campaign}" in argv:
        extra["campaign"] = _campaign_store(tmp_path)
    new = tmp_path / "not" / "yet"
    code = main(_fill(argv, tmp_path, new, extra))  # a traceback would raise out of main() here
    out, err = capsys.readouterr()
    assert code == 0, err
    assert Path(expect.format(new=new)).is_file()
    if name == "measure --out --save":  # the parent is made at once, the folder only when a variant is saved
        assert (new / "winner").is_dir() == ("saved " in out and "nothing saved" not in out), out
    if name == "tune --out --save-dir":
        assert json.loads((new / "plan.json").read_text())["kind"] == "tune"


def _blocked(argv: list[str], tmp: Path) -> list[str]:
    """The command line with its output under a file (`blocker`) where a folder must be."""
    return _fill(argv, tmp, tmp / "blocker" / "sub", {"results": tmp / "advice.json", "campaign": tmp / "c.sqlite"})


@pytest.mark.parametrize("name", list(ALL))
def test_an_output_under_a_file_is_one_line_and_exit_2(name: str, tmp_path: Path, capsys) -> None:
    argv = ALL[name][0]
    (tmp_path / "blocker").write_text("a file, not a folder")
    code, err = _run(capsys, _blocked(argv, tmp_path))
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "blocker is a file, not a folder" in err and "expected a " in err and "choose " in err
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was measured or stored


def test_a_file_output_that_is_a_folder_and_a_folder_output_that_is_a_file(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "existing"
    folder.mkdir()
    code, err = _run(capsys, ["doctor", "--save", str(folder)])
    assert code == 2 and err.count("\n") == 1 and "--save: expected a file path" in err and "is a folder" in err
    file = tmp_path / "existing.txt"
    file.write_text("x")
    code, err = _run(capsys, ["schema", "--write", str(file)])
    assert code == 2 and err.count("\n") == 1 and "--write: expected a folder path" in err and "is a file" in err
    code, err = _run(capsys, ["measure", "--model", MODEL, "--save", str(file), "--store", str(tmp_path / "s.sqlite")])
    assert code == 2 and err.count("\n") == 1 and "--save: expected a folder path" in err
    assert not (tmp_path / "s.sqlite").exists()


def test_a_store_under_a_file_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "blocker").write_text("x")
    code, err = _run(capsys, ["history", "--store", str(tmp_path / "blocker" / "r.sqlite")])
    assert code == 2 and err.count("\n") == 1 and "cannot open the results store" in err and "Traceback" not in err
