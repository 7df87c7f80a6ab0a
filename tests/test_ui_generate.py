"""The Generate tab: present in the advisor form, measures a causal LM and shows the generation section."""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("transformers")

from advisor.generation.models import tiny_gpt2
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


def _decoder():
    import torch

    from advisor.generation.models import gpt2_decoder

    return gpt2_decoder(n_embd=32, n_layer=1, n_head=2, vocab_size=128), torch.randint(3, 128, (1, 8))


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    for k in ("GREEN_ADVISOR_APP_MODE", "GREEN_ADVISOR_MAX_TECHNIQUES", "GREEN_ADVISOR_MAX_BUDGET_S", "VOILA_KERNEL_ID",
              "VOILA_BASE_URL", "VOILA_SERVER_URL", "VOILA_APP_PORT", "VOILA_REQUEST_URL"):  # fmt: skip
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("GREEN_ADVISOR_STORE", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("GREEN_ADVISOR_LOCK", str(tmp_path / "lock"))
    return tmp_path


def test_the_default_generate_request_is_valid_in_app_mode(sandbox, monkeypatch) -> None:
    from advisor.tuning import generation_order
    from advisor.ui._app_mode import app_mode
    from advisor.ui.advise import advise

    model, x = _decoder()
    ui = advise(model, x, name="decoder")  # outside app mode: every technique measurable here, in the advice's order
    order = generation_order(model, ui.profile, ui.hardware, ui.catalog)
    gen = ui.generate_panel
    assert list(gen.techniques.value) == order and list(gen.techniques.options)[: len(order)] == order
    assert "speculative-decoding" not in order  # no draft model: not measurable, still offered
    assert "speculative-decoding" in gen.techniques.options
    monkeypatch.setenv("GREEN_ADVISOR_APP_MODE", "1")
    for cap in (4, 2):
        monkeypatch.setenv("GREEN_ADVISOR_MAX_TECHNIQUES", str(cap))
        monkeypatch.setenv("GREEN_ADVISOR_MAX_BUDGET_S", "30")
        gen = advise(model, x, name="decoder").generate_panel
        assert list(gen.techniques.value) == order[:cap]  # the top of the advice, as many as the server allows
        assert gen.budget_s.value == 30
        app_mode().check_request(len(gen.techniques.value), float(gen.budget_s.value))  # accepted as it stands


@pytest.mark.slow  # ~10 s: profile, recommend, set-up at two batch sizes, rounds
def test_tune_tab_on_a_decoder_measures_per_token_and_shows_the_pick_per_batch_size(sandbox) -> None:
    from advisor.generation import GenerationRun
    from advisor.tuning import generation_order
    from advisor.ui.advise import advise

    model, x = _decoder()
    ui = advise(model, x, name="decoder", store=str(sandbox / "form.sqlite"))
    panel = ui.tune_panel
    panel.budget_s.value = 2.0
    panel.tune()
    plan = panel.plan
    assert plan is not None and isinstance(plan.run, GenerationRun), panel.status.value
    assert [p.batch_size for p in plan.per_batch] == [1, 4]  # tune's default batch sizes for generation
    measured = {r.technique for r in plan.run.results} - {"baseline"}
    assert measured and measured <= set(generation_order(model, ui.profile, ui.hardware, ui.catalog))
    assert "do this per batch size" in panel.status.value
    html = panel.result.value
    assert "Per batch size (generation, per output token)" in html and "batch 1:" in html and "batch 4:" in html
    assert "Where each technique pays off" in html and "batching first" in html
    # every measured (variant, batch size) is a row of its own
    for c in [*plan.runners_up, *plan.no_payoff, *([plan.winner] if plan.winner else [])]:
        assert f"{c.variant} [batch {c.batch_size}]" in html
