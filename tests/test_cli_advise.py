"""CLI: profile, doctor, recommend and demo, including every bad input ending with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from advisor.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "user_model.py"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_recommend_on_a_model_in_the_users_file(capsys) -> None:
    code, out, err = run(capsys, "recommend", "--model", f"{FIXTURE}:make", "--top", "5",
                         "--explain", "quantization-aware-training")  # fmt: skip
    assert code == 0, err
    assert "model: make (transformer)" in out
    assert "recommended in five groups" in out and "  1. " in out
    assert out.index("(1) Apply to your model now") < out.index("Where you run it") < out.index("Practices")
    assert "Excluded" in out and "why:" in out
    assert "quantization-aware-training" in out


def test_recommend_json_is_machine_readable(capsys, tmp_path: Path) -> None:
    prof = tmp_path / "llm.yaml"
    prof.write_text("name: my-llm\nfamily: llm\nn_parameters: 7000000000\nphase: inference\n")
    code, out, _ = run(capsys, "recommend", "--profile", str(prof), "--objective", "memory", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["constraints"]["objective"] == "memory"
    assert payload["model"]["name"] == "my-llm"
    assert payload["recommended"] and payload["excluded"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recommend", "--model", "nowhere_pkg:make"], "cannot import module 'nowhere_pkg'"),
        (["recommend", "--model", f"{FIXTURE}:make_raises"], "factory raised RuntimeError"),
        (["recommend", "--model", f"{FIXTURE}:make_wrong_shape"], "expected example inputs"),
        (["generate", "--model", f"{FIXTURE}:make"], "expected a generative decoder"),
        (["generate", "--model", f"{FIXTURE}:make_bad_tuple"], "item 2 of the tuple is a int"),
        (["recommend", "--model", f"{FIXTURE}:make_bad_inputs"], "forward pass of TinyTextClassifier failed"),
        (["recommend", "--max-accuracy-drop", "-1", "--model", f"{FIXTURE}:make"], "max_accuracy_drop_pp"),
        (["recommend"], "give exactly one of --model SPEC"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(capsys, argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and out == ""


def test_unknown_objective_is_rejected_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["recommend", "--objective", "speed", "--model", f"{FIXTURE}:make"])
    assert exc.value.code == 2
    assert "invalid choice: 'speed'" in capsys.readouterr().err


def test_bad_profile_file_names_field(capsys, tmp_path: Path) -> None:
    prof = tmp_path / "p.yaml"
    prof.write_text("family: cnn\nn_parameters: lots\n")
    code, _, err = run(capsys, "recommend", "--profile", str(prof))
    assert code == 2 and "p.yaml: field 'n_parameters'" in err


def test_profile_and_doctor(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "profile", "--model", f"{FIXTURE}:make", "--format", "json")
    assert code == 0 and json.loads(out)["family"] == "transformer"
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "CPU energy (RAPL)" in out and "GPU energy (NVML)" in out
    hw = tmp_path / "hw.yaml"
    code, _, _ = run(capsys, "doctor", "--save", str(hw))
    assert code == 0 and "cpu_features" in hw.read_text()
    code, out, _ = run(capsys, "recommend", "--model", f"{FIXTURE}:make", "--hardware", str(hw), "--format", "json")
    assert code == 0 and json.loads(out)["hardware"]["source"] == str(hw)


@pytest.mark.slow
def test_demo_trains_profiles_and_writes_results(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "advisor", "demo", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and "report:" in proc.stdout
    html_path = Path(proc.stdout.split("report: ")[1].splitlines()[0])
    assert html_path == (tmp_path / "out" / "report.html").resolve()
    html = html_path.read_text(encoding="utf-8")
    assert "digits-cnn" in html and "data:image/png;base64," in html and "Reporting" in html
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"report.md", "report.json", "references.bib"}
    payload = json.loads((tmp_path / "out" / "advice.json").read_text())
    assert payload["demo"]["test_accuracy_pct"] > 90  # real training on real data
    assert payload["model"]["family"] == "cnn"
    assert (tmp_path / "out" / "advice.md").read_text().startswith("# green-dl-advisor demo")
