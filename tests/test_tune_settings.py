"""tune()'s knobs are one typed TuneSettings: keywords merge into it, an unknown one is one clear error.

Nothing here measures: a registered tune path that claims the test model captures what tune hands on.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import advisor
from advisor import ConstraintError, GenerationOptions, TuneSettings
from advisor.tuning._settings import merge_settings

torch = pytest.importorskip("torch")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> tuple[torch.nn.Module, dict]:
    """A model that a test-only tune path claims; the dict receives the spec and settings tune passed on."""
    from advisor.tuning import _paths

    model = torch.nn.Linear(4, 2)
    seen: dict = {}

    def run(spec, settings, **kw):
        seen.update(spec=spec, settings=settings, **kw)
        return "plan"

    claims = lambda prof, m, phase, settings: m is model  # noqa: E731
    monkeypatch.setitem(_paths.TUNE_PATHS, "captured", _paths.TunePath("captured", claims, run))
    return model, seen


def test_keywords_are_settings_fields_merged_into_the_given_settings(tmp_path: Path, captured) -> None:
    model, seen = captured
    base = TuneSettings(progress=False, pue=1.4, region="FRA")
    out = advisor.tune(model, torch.randn(3, 4), budget_s=5, settings=base, store=tmp_path / "s.db", save=False)
    assert out == "plan"
    s = seen["settings"]
    assert isinstance(s, TuneSettings) and s.store == tmp_path / "s.db" and s.save is False  # the overrides
    assert (s.progress, s.pue, s.region) == (False, 1.4, "FRA")  # the rest from the settings given
    assert base.save is True and base.store is None  # frozen: the caller's settings are not changed
    assert seen["budget_s"] == 5 and seen["spec"].model is model and seen["store"].path == tmp_path / "s.db"


def test_the_spec_carries_the_model_side_and_name_comes_from_the_settings(tmp_path: Path, captured) -> None:
    model, seen = captured
    spec = advisor.ModelSpec(model, torch.randn(3, 4), prompts=[[1, 2, 3]], name=None)
    advisor.tune(spec, budget_s=5, store=tmp_path / "s.db", name="lin", progress=False)
    assert seen["spec"].prompts == [[1, 2, 3]] and seen["spec"].name == "lin" and seen["prof"].name == "lin"


def test_an_unknown_keyword_is_one_error_naming_it_its_close_matches_and_the_fields(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 2)
    with pytest.raises(ConstraintError) as err:
        advisor.tune(model, torch.randn(3, 4), budget_s=5, store=tmp_path / "s.db", max_variant=2)
    msg = str(err.value)
    assert "\n" not in msg and "'max_variant'" in msg and "did you mean max_variants" in msg
    assert all(f in msg for f in ("store", "stacks_from_budget_s", "on_result", "generation"))
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_model_side_and_generation_keywords_point_to_where_they_belong() -> None:
    with pytest.raises(ConstraintError, match=r"'tokenizer' belongs to the model: pass advisor.ModelSpec"):
        merge_settings(None, {"tokenizer": object()})
    with pytest.raises(ConstraintError, match=r"GenerationOptions\(batch_sizes=...\)"):
        merge_settings(None, {"batch_sizes": [1, 4]})
    with pytest.raises(ConstraintError, match=r"GenerationOptions\(measure_options=...\)"):
        merge_settings(None, {"generation_options": {}})
    with pytest.raises(ConstraintError, match=r"settings: expected advisor\.TuneSettings, got dict"):
        merge_settings({"save": False}, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"generation": False}, "generation: expected advisor.GenerationOptions, got False"),
        ({"max_variants": 0}, "max_variants: expected a positive integer"),
        ({"stacks_from_budget_s": -1}, "stacks_from_budget_s: expected a number of seconds >= 0"),
    ],
)
def test_a_bad_setting_is_one_constraint_error(kw: dict, match: str) -> None:
    with pytest.raises(ConstraintError, match=match):
        TuneSettings(**kw)


@pytest.mark.parametrize("sizes", [(), 4, "1,4", (1, 0), (1, True), (2.0,)])
def test_generation_options_check_batch_sizes(sizes) -> None:
    with pytest.raises(ConstraintError, match="batch_sizes: expected positive integers"):
        GenerationOptions(batch_sizes=sizes)
    assert GenerationOptions(batch_sizes=[1, 8]).batch_sizes == (1, 8)  # a list becomes a tuple
    with pytest.raises(ConstraintError, match="max_new_tokens: expected a positive integer"):
        GenerationOptions(max_new_tokens=0)


def test_tune_documents_every_setting_and_keeps_the_positional_order() -> None:
    params = list(inspect.signature(advisor.tune).parameters)
    assert params[:6] == ["spec_or_model", "example_inputs", "eval_fn", "calibration_data", "constraints", "budget_s"]
    assert params[6:] == ["phase", "settings", "overrides"]
    doc = inspect.getdoc(TuneSettings) or ""
    fields = TuneSettings.__dataclass_fields__
    assert all(f"{name}:" in doc for name in fields), [n for n in fields if f"{n}:" not in doc]
