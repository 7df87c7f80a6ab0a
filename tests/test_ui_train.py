"""The Train tab: present in the advisor form, trains a TrainingSetup to a target and shows the training section."""

from __future__ import annotations

import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("sklearn")

from advisor.examples import digits_training
from advisor.ui._advise_train import TrainPanel


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    for k in (
        "GREEN_ADVISOR_APP_MODE",
        "GREEN_ADVISOR_MAX_TECHNIQUES",
        "GREEN_ADVISOR_MAX_BUDGET_S",
        "VOILA_KERNEL_ID",
    ):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GREEN_ADVISOR_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("GREEN_ADVISOR_STORE", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("GREEN_ADVISOR_LOCK", str(tmp_path / "lock"))
    return tmp_path


def test_a_form_without_a_training_setup_says_how_to_pass_one(sandbox) -> None:
    import torch

    from advisor.ui.advise import advise

    ui = advise(torch.nn.Linear(4, 2), torch.randn(2, 4))
    titles = [ui.tabs.get_title(i) for i in range(len(ui.tabs.children))]
    assert "Train" in titles
    p = ui.train_panel
    assert p.button.disabled and "TrainingSetup" in p.status.value
    p.train()  # nothing happens, nothing raises
    assert p.run is None


def test_the_tab_trains_to_the_target_and_shows_the_section(sandbox) -> None:
    import torch

    from advisor.ui.advise import advise

    torch.set_num_threads(1)
    ui = advise(digits_training())
    p = ui.train_panel
    assert not p.button.disabled and p.target.value == 0.95  # the spec's target
    p.target.value = 0.8
    p.techniques.value = ("early-stopping",)
    p.seeds.value = 2
    p.budget_s.value = 120
    p.train()
    assert p.run is not None and p.run.target == 0.8 and [r.variant for r in p.run.results] == ["early-stopping"]
    assert p.run.run_id and p.run.run_id in p.status.value  # stored in the sandbox's store
    html = p.result.value
    assert '<section id="training">' in html and "early-stopping" in html and "data:image/png;base64," in html
    assert "80 % accuracy" in html
    assert not p.button.disabled


def test_app_mode_caps_the_default_request_and_refuses_a_bigger_one(sandbox, monkeypatch) -> None:
    from advisor.ui._app_mode import app_mode

    monkeypatch.setenv("GREEN_ADVISOR_APP_MODE", "1")
    monkeypatch.setenv("GREEN_ADVISOR_MAX_TECHNIQUES", "2")
    monkeypatch.setenv("GREEN_ADVISOR_MAX_BUDGET_S", "30")
    p = TrainPanel(digits_training())
    assert len(p.techniques.value) == 2 and p.budget_s.value == 30
    app_mode().check_request(len(p.techniques.value), float(p.budget_s.value))  # the default is accepted
    p.techniques.value = tuple(p.techniques.options[:3])
    p.train()
    assert p.run is None and "at most 2 techniques" in p.status.value
