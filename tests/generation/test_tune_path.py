"""tune() reaches generation through a registry of tune paths, not through a branch of its own."""

from __future__ import annotations

import ast
import inspect

import pytest

torch = pytest.importorskip("torch")


def test_generation_registers_its_tune_path_and_tune_knows_no_generation() -> None:
    import advisor.tuning  # noqa: F401 - importing the package registers the generation path
    from advisor.tuning import _tune
    from advisor.tuning._paths import TUNE_PATHS

    assert "generation" in TUNE_PATHS
    tree = ast.parse(inspect.getsource(_tune))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m and ("generation" in m) for m in imported), imported  # neither package nor glue
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "path_for" in called and "is_generative" not in called


def test_tune_hands_a_claimed_model_to_its_registered_path(tmp_path, monkeypatch) -> None:
    from advisor.tuning import GenerationOptions, TuneSettings, _paths, tune

    model = torch.nn.Linear(4, 2)
    seen = {}

    def run(spec, settings, **kw):
        seen.update(model=spec.model, settings=settings, budget_s=kw["budget_s"])
        return "the path's plan"

    claims = lambda prof, m, phase, settings: m is model and phase == "inference"  # noqa: E731
    monkeypatch.setitem(_paths.TUNE_PATHS, "test-kind", _paths.TunePath("test-kind", claims, run))
    gen = GenerationOptions(batch_sizes=[2])
    out = tune(model, torch.randn(3, 4), budget_s=7, store=tmp_path / "s.db", progress=False, generation=gen)
    assert out == "the path's plan" and seen["model"] is model and seen["budget_s"] == 7
    assert seen["settings"].generation.batch_sizes == (2,) and seen["settings"].generation.enabled is None
    assert seen["settings"].progress is False and seen["settings"].store == tmp_path / "s.db"
    # GenerationOptions(enabled=False) is a setting the generation path reads: it does not claim a decoder then
    from advisor.generation.models import tiny_gpt2
    from advisor.profile.model import profile_model

    gpt = tiny_gpt2()
    ids = torch.randint(0, 100, (1, 8))
    prof = profile_model(gpt, (ids,), name="gpt", phase="inference")
    path = _paths.TUNE_PATHS["generation"]
    assert path.claims(prof, gpt, "inference", TuneSettings())
    assert not path.claims(prof, gpt, "inference", TuneSettings(generation=GenerationOptions(enabled=False)))
    assert not path.claims(prof, gpt, "training", TuneSettings())
