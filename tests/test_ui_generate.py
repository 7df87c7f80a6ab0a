"""The Generate tab: present in the advisor form, measures a causal LM and shows the generation section."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("transformers")

from advisor.measurement.generation_models import tiny_gpt2
from advisor.ui._advise_generate import GeneratePanel

warnings.filterwarnings("ignore")


def test_panel_without_generate_says_why_and_cannot_run() -> None:
    import torch

    p = GeneratePanel(torch.nn.Linear(2, 2))
    assert p.button.disabled and "generate()" in p.status.value


@pytest.mark.slow
def test_panel_measures_and_renders_the_section(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GREEN_ADVISOR_LOCK", str(tmp_path / "lock"))
    p = GeneratePanel(tiny_gpt2())
    p.batch_sizes.value = "1"
    p.max_new_tokens.value = 3
    p.techniques.value = ("prompt-lookup-decoding",)
    p.budget_s.value = 2.0
    p.measure()
    assert p.run is not None and p.run.get("baseline", 1).status == "ok"
    assert "Generation: energy per token" in p.result.value and "Reporting" in p.result.value
    p.batch_sizes.value = "one"
    p.measure()
    assert "expected integers" in p.status.value


def test_advisor_form_has_a_generate_tab() -> None:
    from advisor.ui.advise import AdvisorUI

    ui = AdvisorUI()
    titles = [ui.tabs.get_title(i) for i in range(len(ui.tabs.children))]
    assert "Generate" in titles
