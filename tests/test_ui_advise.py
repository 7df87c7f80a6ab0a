"""The advisor form driven as a user would: set values, click buttons, read the widgets."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")
torch = pytest.importorskip("torch")

import advisor  # noqa: E402
from advisor import ProfileError  # noqa: E402
from advisor.ui.advise import AdvisorUI, advise  # noqa: E402


def small_cnn() -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 8 * 8, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    ).eval()
    return model, torch.randn(16, 1, 8, 8)


@pytest.fixture(scope="module")
def ui_measured(tmp_path_factory: pytest.TempPathFactory) -> AdvisorUI:
    """One form that has recommended and measured (measurement is the slow part; done once)."""
    model, x = small_cnn()
    out = tmp_path_factory.mktemp("ui")
    ui = advise(model, x, name="<script>alert(1)</script>", out_dir=out / "report", store=out / "store.sqlite")
    ui.recommend_button.click()
    ui.techniques.value = ("post-training-dynamic-quantization", "inference-mode-and-no-grad")
    ui.budget_s.value = 6
    ui.measure_button.click()
    return ui


def test_form_is_prefilled_from_the_model_and_machine() -> None:
    model, x = small_cnn()
    ui = advise(model, x, name="cnn")
    n_params = sum(p.numel() for p in model.parameters())
    assert ui.params_m.value == pytest.approx(n_params / 1e6, abs=1e-3)
    assert ui.family.value == "cnn" and ui.family.disabled
    assert ui.gflops.value > 0
    assert ui.hardware.cpu_model in ui.widget.children[0].children[0].children[-1].value


def test_recommend_fills_ranking_exclusions_and_measurable_choices(ui_measured: AdvisorUI) -> None:
    rec = ui_measured.recommendations
    assert rec is not None and len(rec.recommended) > 0
    assert rec.recommended[0].id in ui_measured.ranking.value
    assert ui_measured.ranking.value.count("<tr>") == min(ui_measured.top.value, len(rec.recommended)) + 1
    offered = [value for _label, value in ui_measured.techniques.options]
    measurable = [r.id for r in rec.recommended if r.measurable_here]
    assert offered[: len(measurable)] == measurable  # recommended ones first, in rank order
    assert "post-training-dynamic-quantization" in offered  # the others can be chosen too
    assert rec.excluded_items[0].id in ui_measured.excluded.value


def test_explain_shows_the_evidence_of_the_chosen_technique(ui_measured: AdvisorUI) -> None:
    tid = ui_measured.explain_select.options[0]
    ui_measured.explain_select.value = tid
    assert ui_measured.recommendations.explain(tid).splitlines()[0].split(",")[0] in ui_measured.explanation.value


def test_measure_fills_table_progress_and_plot(ui_measured: AdvisorUI) -> None:
    run = ui_measured.run
    assert run is not None and run.baseline is not None
    assert ui_measured.live_results[0].technique == "baseline"
    assert ui_measured.progress.value == ui_measured.progress.max == 3
    for r in ui_measured.live_results:
        assert r.technique in ui_measured.measurements.value
    assert "estimated" in ui_measured.measurements.value or "measured" in ui_measured.measurements.value
    assert ui_measured.plots.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'class="gda-err"' not in ui_measured.status.value


@pytest.mark.parametrize("kind", ["html", "md", "json", "bib"])
def test_export_writes_each_format(ui_measured: AdvisorUI, kind: str) -> None:
    ui_measured.export_buttons[kind].click()
    assert 'class="gda-err"' not in ui_measured.status.value, ui_measured.status.value
    written = (
        Path(ui_measured.out_dir.value)
        / {"html": "report.html", "md": "report.md", "json": "report.json", "bib": "references.bib"}[kind]
    )
    assert written.is_file() and written.stat().st_size > 0
    assert "download" in ui_measured.exported.value
    if kind == "html":
        text = written.read_text(encoding="utf-8")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert(1)" not in text


def test_bad_values_show_a_message_not_a_traceback() -> None:
    model, x = small_cnn()
    ui = advise(model, x)
    ui.max_drop.value = -1
    ui.recommend_button.click()
    assert 'class="gda-err"' in ui.status.value and "max accuracy drop" in ui.status.value
    assert ui.recommendations is None
    ui.max_drop.value = 1
    ui.region.value = "Atlantis"
    ui.recommend_button.click()
    assert 'class="gda-err"' in ui.status.value and "Atlantis" in ui.status.value
    ui.region.value = ""
    ui.pue.value = 0.5
    ui.recommend_button.click()
    assert 'class="gda-err"' in ui.status.value and "PUE" in ui.status.value


def test_without_a_model_the_form_describes_one_and_measure_is_disabled() -> None:
    ui = advise()
    assert ui.measure_button.disabled and not ui.family.disabled
    ui.family.value = "transformer"
    ui.params_m.value = 110
    ui.recommend_button.click()
    assert ui.recommendations is not None and ui.recommendations.model.family == "transformer"
    ui.params_m.value = 0
    ui.recommend_button.click()
    assert 'class="gda-err"' in ui.status.value and "parameters" in ui.status.value


def test_model_without_inputs_is_refused_clearly() -> None:
    model, _ = small_cnn()
    with pytest.raises(ProfileError, match=r"advise\(\): expected example inputs .* got none"):
        advise(model)


def test_the_form_takes_a_model_spec() -> None:
    model, x = small_cnn()
    ui = advise(advisor.ModelSpec(model, x, name="spec-cnn"))
    assert ui.model is model and ui.example_inputs == (x,) and ui.name.value == "spec-cnn"
