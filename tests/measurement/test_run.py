"""measure(): real appliers on real models, and every fault injected (the run goes on, results kept)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from advisor.measurement.appliers import REGISTRY, Applied, NotApplicable, no_grad_eval
from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore, StoreError


def mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, torch.randn(32, 64)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "r.sqlite")


@pytest.fixture
def fault_appliers():
    """Register appliers that break in the ways real ones can, and remove them afterwards."""

    def breaks_forward(model, inputs):
        return Applied(lambda *a: (_ for _ in ()).throw(RuntimeError("shape mismatch")), inputs, no_grad_eval)

    def crashes(model, inputs):
        raise ValueError("unsupported operator")

    def interrupts(model, inputs):
        raise KeyboardInterrupt

    def never(model, inputs):
        raise NotApplicable("needs something this model lacks")

    added = {"x-breaks-forward": breaks_forward, "x-crashes": crashes, "x-interrupt": interrupts, "x-never": never}
    REGISTRY.update(added)
    yield added
    for k in added:
        REGISTRY.pop(k)


def test_dynamic_quantization_is_measured_and_original_untouched(store: ResultStore) -> None:
    model, x = mlp()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    run = measure(model, x, ["post-training-dynamic-quantization", "inference-mode-and-no-grad"], budget_s=6,
                  store=store, progress=False)  # fmt: skip
    assert run.status == "finished"
    assert model.training  # mode restored
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(isinstance(m, nn.Linear) for m in model if not isinstance(m, nn.ReLU))
    dq = run.results[0]
    assert dq.status == "ok" and dq.settings["dtype"] == "qint8"
    assert dq.timing.latency_ms_median > 0 and dq.timing.energy_method.startswith(("estimated-", "measured-"))
    assert dq.quality.top1_agreement > 0.8 and dq.quality.cosine_similarity > 0.99
    assert dq.predicted is not None and dq.predicted["adjusted"] is not None
    assert isinstance(dq.outside_prediction, bool)
    assert run.baseline.timing.energy_j_per_call > 0


def test_not_applicable_and_failures_are_reported_and_the_run_goes_on(store, fault_appliers) -> None:
    model, x = mlp()
    run = measure(model, x, ["channels-last-memory-format", "x-never", "x-breaks-forward", "x-crashes",
                             "inference-mode-and-no-grad"], budget_s=8, store=store, progress=False)  # fmt: skip
    by = {r.technique: r for r in run.results}
    assert by["channels-last-memory-format"].status == "not-applicable"
    assert "no Conv2d" in by["channels-last-memory-format"].reason
    assert by["x-never"].reason == "needs something this model lacks"
    assert by["x-breaks-forward"].status == "failed" and "shape mismatch" in by["x-breaks-forward"].reason
    assert by["x-crashes"].status == "failed" and "unsupported operator" in by["x-crashes"].reason
    assert by["inference-mode-and-no-grad"].status == "ok"
    saved = store.results(run.run_id)
    assert saved[0]["technique"] == "baseline" and len(saved) == 6


def test_eval_fn_that_raises_is_reported(store) -> None:
    model, x = mlp()

    def bad_eval(m):
        raise RuntimeError("labels missing")

    run = measure(model, x, ["inference-mode-and-no-grad"], eval_fn=bad_eval, budget_s=4, store=store,
                  progress=False)  # fmt: skip
    assert "labels missing" in run.baseline.quality.error
    assert run.results[0].status == "ok" and "labels missing" in run.results[0].quality.error


def test_eval_fn_gives_accuracy_change(store) -> None:
    model, x = mlp()
    y = model(x).argmax(1)

    def acc(m):
        with torch.no_grad():
            return float((m(x).argmax(1) == y).float().mean() * 100)

    run = measure(model, x, ["post-training-dynamic-quantization"], eval_fn=acc, budget_s=4, store=store,
                  progress=False)  # fmt: skip
    assert run.baseline.quality.accuracy == 100.0
    assert run.results[0].quality.accuracy_change <= 0.0


def test_ctrl_c_during_set_up_keeps_every_result_marked_interrupted(store, fault_appliers) -> None:
    model, x = mlp()
    run = measure(model, x, ["inference-mode-and-no-grad", "x-interrupt", "post-training-dynamic-quantization"],
                  budget_s=6, store=store, progress=False)  # fmt: skip
    assert run.status == "interrupted"
    assert [r.technique for r in run.results] == ["inference-mode-and-no-grad", "x-interrupt",
                                                  "post-training-dynamic-quantization"]  # fmt: skip
    assert {r.status for r in run.results} == {"interrupted"}
    runs = store.runs()
    assert runs[0]["status"] == "interrupted" and runs[0]["n_results"] == 4


@pytest.fixture
def interrupt_after_1s():
    """A variant whose forward pass (5 ms each) raises KeyboardInterrupt, as Ctrl-C does, at its 60th call.

    Set-up and warm-up take 4 calls and a 50 ms block about 10, so a few rounds finish before it.
    """

    def applier(model, inputs):
        calls = []

        def forward(*a):
            calls.append(1)
            if len(calls) > 60:
                raise KeyboardInterrupt
            time.sleep(0.005)
            return model(*a)

        return Applied(forward, inputs, no_grad_eval)

    REGISTRY["x-interrupt-later"] = applier
    yield
    REGISTRY.pop("x-interrupt-later")


def test_ctrl_c_during_the_rounds_keeps_the_finished_rounds(store, interrupt_after_1s) -> None:
    model, x = mlp()
    run = measure(model, x, ["inference-mode-and-no-grad", "x-interrupt-later"], budget_s=20, store=store,
                  progress=False)  # fmt: skip
    assert run.status == "interrupted" and run.rounds
    r = run.results[0]
    assert r.status == "interrupted" and "figures kept" in r.reason
    assert r.timing.rounds == len(run.rounds) and r.comparison.latency_ratio.n_rounds == len(run.rounds)
    assert run.baseline.status == "ok" and run.baseline.timing.rounds == len(run.rounds)
    back = store.load_run(run.run_id)
    assert back.status == "interrupted" and len(back.rounds) == len(run.rounds)


class SlowMLP(nn.Module):
    """A forward pass that takes at least 20 ms, so the baseline alone outlasts a 10 ms budget."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(0.02)
        return self.fc(x)


def test_tiny_budget_skips_the_rest(store) -> None:
    ids = ["inference-mode-and-no-grad", "post-training-dynamic-quantization", "thread-tuning"]
    run = measure(SlowMLP(), torch.randn(8, 16), ids, budget_s=0.01, store=store, progress=False)
    assert run.baseline is not None and run.baseline.timing.repeats >= 1
    assert run.results[-1].status == "skipped-budget" and "budget ran out" in run.results[-1].reason
    measured = [r for r in run.results if r.status == "ok"]
    assert all(r.verdict == "inconclusive" and "longer budget" in r.comparison.note for r in measured)


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the results store"):
        ResultStore(blocker / "sub" / "r.sqlite")


def test_cli_measure_and_history(tmp_path: Path, capsys) -> None:
    from advisor.cli import main

    fixture = Path(__file__).parents[1] / "fixtures" / "user_model.py"
    db, out = tmp_path / "s.sqlite", tmp_path / "r.json"
    code = main(["measure", "--model", f"{fixture}:make_with_eval", "--techniques", "inference-mode-and-no-grad",
                 "--budget-s", "4", "--store", str(db), "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "inference-mode-and-no-grad" in text and "saved in" in text
    payload = json.loads(out.read_text())
    assert payload["results"][0]["timing"]["latency_ms_median"] > 0
    assert payload["baseline"]["timing"]["energy_method"]
    assert main(["history", "--store", str(db)]) == 0
    assert payload["run_id"] in capsys.readouterr().out


def test_cli_bad_input_is_one_line_and_exit_2(capsys) -> None:
    from advisor.cli import main

    fixture = Path(__file__).parents[1] / "fixtures" / "user_model.py"
    spec = f"{fixture}:make"
    cases = [
        (["measure", "--model", spec, "--tdp-w", "0"], "--tdp-w"),
        (["measure", "--model", spec, "--budget-s", "-1"], "--budget-s"),
        (["measure", "--model", spec, "--techniques", " , "], "--techniques"),
        (["measure", "--model", spec, "--techniques", "torch-compil"], "Did you mean: torch-compile"),
        (["measure-training", "--model", spec, "--steps-per-epoch", "1", "--epochs", "1", "--budget-s", "0"],
         "--budget-s"),
        (["sweep", "--model", spec, "--tdp-w", "-5"], "--tdp-w"),
    ]  # fmt: skip
    for argv, needle in cases:
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and needle in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_a_stored_run_is_listed_loaded_and_reported_by_id(tmp_path: Path, capsys) -> None:
    import advisor
    from advisor.cli import main

    model, x = mlp()
    db = tmp_path / "s.sqlite"
    run = measure(model, x, ["post-training-dynamic-quantization"], budget_s=3, store=db, progress=False)
    back = ResultStore(db).load_run(run.run_id)
    assert json.loads(back.to_json()) == json.loads(run.to_json())  # the whole typed run, rounds included
    assert back.results[0].comparison == run.results[0].comparison and back.rounds == run.rounds
    assert main(["history", "--store", str(db)]) == 0
    listing = capsys.readouterr().out
    assert run.run_id in listing and "measure" in listing
    assert main(["history", "--store", str(db), "--run", run.run_id]) == 0
    shown = capsys.readouterr().out
    assert run.results[0].comparison.text() in shown
    paths = advisor.report(run_id=run.run_id, store=db, out=tmp_path / "rep")
    html = paths["html"].read_text()
    assert run.results[0].comparison.text() in html
    assert main(["report", "--run", run.run_id, "--store", str(db), "--out", str(tmp_path / "r.md")]) == 0
    assert run.results[0].comparison.text() in (tmp_path / "r.md").read_text()
    assert main(["report", "--run", "no-such-run", "--store", str(db), "--out", str(tmp_path / "x.md")]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err


def test_recommended_is_resolved_above_the_engine(store: ResultStore) -> None:
    """advisor.measure(techniques="recommended") asks recommend() in advisor.tuning and passes the ids to the
    engine; the engine itself takes ids only (docs/architecture.md: tuning joins recommend with measuring)."""
    import advisor
    from advisor import ConstraintError
    from advisor.tuning import recommended_ids

    model, x = mlp()
    ids = recommended_ids(model, x, top=1)
    assert len(ids) == 1 and ids[0] in REGISTRY
    run = advisor.measure(model, x, "recommended", top=1, budget_s=3, store=store, progress=False)
    assert run.meta["techniques"] == ids and [r.technique for r in run.results] == ids
    for asked in ("recommended", None):
        with pytest.raises(ConstraintError, match=r"advisor\.measure"):
            measure(model, x, asked, budget_s=3, store=store, progress=False)


def test_settings_object_equals_keywords_and_a_wrong_keyword_fails(store: ResultStore) -> None:
    """MeasureSettings carries the knobs; keywords override it; an EngineSettings as settings= is the rounds'."""
    from advisor import ConstraintError
    from advisor.measurement import EngineSettings, MeasureSettings

    model, x = mlp()
    eng = EngineSettings(block_s=0.005, min_rounds=2, max_rounds=3, seed=7)
    s = MeasureSettings(budget_s=3, store=store, progress=False, engine=eng)
    run = measure(model, x, ["inference-mode-and-no-grad"], settings=s, budget_s=2)
    assert run.meta["budget_s"] == 2 and run.meta["harness"]["seed"] == 7 and run.meta["harness"]["max_rounds"] == 3
    assert run.status == "finished" and run.baseline.timing.rounds <= 3
    old = measure(model, x, [], settings=eng, budget_s=2, store=store, progress=False)  # the old meaning of settings=
    assert old.meta["harness"]["seed"] == 7
    with pytest.raises(ConstraintError, match="budget_s"):
        measure(model, x, [], budget=2, store=store)
    with pytest.raises(ConstraintError, match="pass one"):
        measure(model, x, [], settings=eng, engine=eng, store=store)
