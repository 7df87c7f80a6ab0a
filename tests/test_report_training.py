"""The training section of a report: `green-advisor train --report DIR` on the digits spec, and its renderings.

One real run (the digits CNN trained to 80 % with early stopping, 2 seeds, one thread) is shared by the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from advisor.cli import main
from advisor.reports import curves_plot, training_html, training_json, training_markdown, training_rows
from advisor.training import ToTargetRun


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, ToTargetRun, str]:
    folder = tmp_path_factory.mktemp("train-report")
    args = ["train", "--model", "advisor.examples:digits_training", "--target", "0.8", "--techniques",
            "early-stopping", "--seeds", "2", "--threads", "1", "--eval-every", "5", "--no-store",
            "--out", str(folder / "run.json"), "--report", str(folder / "report")]  # fmt: skip
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    assert code == 0, buf.getvalue()
    run = ToTargetRun.from_dict(json.loads((folder / "run.json").read_text()))
    return folder / "report", run, buf.getvalue()


def test_train_report_writes_three_files_the_cli_names(trained) -> None:
    folder, _, printed = trained
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["training.html", "training.json", "training.md"]
    assert f"report: {folder / 'training.html'}" in printed
    page = (folder / "training.html").read_text()
    assert page.startswith("<!doctype html>") and '<section id="training">' in page
    assert "data:image/png;base64," in page  # the curves
    md = (folder / "training.md").read_text()
    assert "## Training to a target" in md and "| early-stopping |" in md and "80 % accuracy" in md
    data = json.loads((folder / "training.json").read_text())
    assert data["run"]["kind"] == "to-target" and [r["technique"] for r in data["rows"]] == [
        "baseline",
        "early-stopping",
    ]


def test_rows_carry_every_figure_with_its_interval_and_the_outcome(trained) -> None:
    _, run, _ = trained
    base, es = training_rows(run)
    r = run.results[0]
    assert base["energy ratio"] == "1 (reference)" and base["outcome"] == f"{run.baseline.n_reached}/2 seeds reached it"
    assert es["verdict"] == r.verdict and es["in words"].startswith(("energy to 80 % accuracy", "did not reach"))
    if r.energy_ratio is not None and r.energy_ratio.confidence > 0:
        iv = r.energy_ratio
        assert es["energy ratio"] == f"x{iv.median:.2f} ({iv.low:.2f}-{iv.high:.2f})"
    e = run.baseline.energy_j_to_target
    assert base["energy to target J"] == f"{e.median:.3g} ({e.low:.3g}-{e.high:.3g})"
    assert training_json(run.to_dict())["rows"] == training_rows(run)  # a dict is read back typed
    assert "early-stopping" in training_markdown(run) and "early-stopping" in training_html(run)


def test_the_curves_plot_every_seed_against_energy_with_the_target() -> None:
    from advisor.measurement import Interval
    from advisor.training import SeedRun, VariantResult

    def seed(variant: str, s: int, curve: list[tuple[float, float]]) -> SeedRun:
        points = [{"step": 5 * (i + 1), "energy_j": e, "time_s": e, "metric": m} for i, (e, m) in enumerate(curve)]
        return SeedRun(variant, s, "reached", curve=points)

    base = VariantResult("baseline", n_seeds=1, n_reached=1, seeds=[seed("baseline", 0, [(1, 0.3), (2, 0.9)])])
    fast = VariantResult("x", n_seeds=1, n_reached=1, energy_ratio=Interval(0.5, 0.5, 0.5, 1, 0.0),
                         seeds=[seed("x", 0, [(0.5, 0.5), (1, 0.85)])])  # fmt: skip
    run = ToTargetRun(None, "finished", 0.8, "accuracy", base, [fast], meta={"energy_method": "estimated-x"})
    png = curves_plot(run)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    empty = ToTargetRun(None, "finished", 0.8, "accuracy", VariantResult("baseline"), [])
    assert curves_plot(empty) is None and "<img" not in training_html(empty)
    assert training_rows(run)[1]["energy ratio"] == "x0.50 (one seed)"


def test_a_report_folder_that_is_a_file_is_exit_2(tmp_path, capsys) -> None:
    f = tmp_path / "taken"
    f.write_text("x")
    code = main(["train", "--model", "advisor.examples:digits_training", "--report", str(f), "--no-store"])
    err = capsys.readouterr().err
    assert code == 2 and "--report" in err and "Traceback" not in err
