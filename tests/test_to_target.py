"""Training to a target (advisor.training, ``green-advisor train``): the loop, its outcomes, the appliers, the CLI.

Every run trains the digits CNN for real (tens of steps, one thread); targets are low so a run takes a fraction of
a second.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from advisor import ConstraintError, ModelSpec, ProfileError, TrainingSetup, UnknownTechniqueError  # noqa: E402
from advisor.examples import digits_cnn, digits_training  # noqa: E402
from advisor.measurement import ResultStore  # noqa: E402
from advisor.training import (  # noqa: E402
    ToTargetRun,
    ToTargetSettings,
    measure_to_target,
    outcome_line,
    paired_ratio,
    seed_interval,
)

FAST = ToTargetSettings(threads=1, eval_every=5)


def _setup(**over: Any) -> TrainingSetup:
    return dataclasses.replace(digits_training().training, **over)


def _run(
    techniques: list[str], target: float = 0.8, seeds: int = 2, settings: ToTargetSettings = FAST, **kw: Any
) -> ToTargetRun:
    return measure_to_target(_setup(**kw), target, techniques, seeds, store=False, settings=settings)


def _result(run: ToTargetRun, vid: str) -> Any:
    return next(r for r in run.all_results() if r.variant == vid)


# --- the statistics -----------------------------------------------------------------------------------------
def test_paired_ratio_is_the_geometric_mean_with_a_t_interval_on_log_ratios() -> None:
    from scipy import stats

    base = {0: 10.0, 1: 20.0, 2: 40.0}
    var = {0: 5.0, 1: 12.0, 2: 18.0}
    iv = paired_ratio(var, base)
    logs = [math.log(var[s] / base[s]) for s in base]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    h = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert iv.median == pytest.approx(math.exp(mean))
    assert (iv.low, iv.high) == (pytest.approx(math.exp(mean - h)), pytest.approx(math.exp(mean + h)))
    assert iv.n_rounds == 3 and iv.confidence == 0.95
    one = paired_ratio({0: 5.0, 5: 1.0}, {0: 10.0})  # seed 5 has no baseline pair
    assert one.median == pytest.approx(0.5) and one.n_rounds == 1 and one.confidence == 0.0
    assert paired_ratio({1: 1.0}, {0: 1.0}) is None
    assert seed_interval([3.0, -1.0], log=True).n_rounds == 1  # non-positive figures cannot enter a log interval


# --- the loop -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stored_bf16(tmp_path_factory) -> tuple[ResultStore, ToTargetRun]:
    """bf16 and early stopping against the baseline to 80 %, 3 seeds, in a store (shared by the tests reading it)."""
    store = ResultStore(tmp_path_factory.mktemp("to-target") / "r.sqlite")
    techniques = ["bf16-training", "early-stopping"]
    return store, measure_to_target(_setup(), 0.8, techniques, 3, store=store, settings=FAST)


def test_the_loop_reaches_a_target_and_reports_intervals_over_seeds(stored_bf16) -> None:
    store, run = stored_bf16
    base, bf16 = run.baseline, run.results[0]
    assert run.status == "finished" and base.outcome == "reached" and base.n_reached == 3
    for r in (base, bf16):
        assert all(s.reached and s.final_metric >= 0.8 and s.steps_to_target % 5 == 0 for s in r.seeds)
        e = r.energy_j_to_target
        assert e.confidence == 0.95 and e.n_rounds == 3 and 0 < e.low <= e.median <= e.high
        assert r.energy_method and r.energy_method.startswith(("estimated-", "measured-"))
    assert bf16.energy_ratio.n_rounds == 3 and bf16.energy_ratio.low <= bf16.energy_ratio.median
    assert bf16.verdict in ("less energy", "more energy", "no significant difference")
    line = outcome_line(bf16, run.target, run.metric, base)
    assert line.startswith("energy to 80 % accuracy x") and line.endswith("3/3 seeds reached it")
    orders = run.meta["orders"]
    assert len(orders) == 3 and all(sorted(o) == ["baseline", "bf16-training", "early-stopping"] for o in orders)
    stored = store.runs(1)[0]
    assert stored["kind"] == "to-target" and stored["status"] == "finished" and stored["n_results"] == 3
    loaded = store.load_run(run.run_id)
    assert isinstance(loaded, ToTargetRun) and loaded.results[0].energy_ratio == bf16.energy_ratio
    again = ToTargetRun.from_dict(json.loads(run.to_json()))
    assert again.results[0].energy_ratio == bf16.energy_ratio and len(again.baseline.seeds) == 3


def test_a_stored_to_target_run_is_knowledge_that_recommend_cites(stored_bf16) -> None:
    import advisor
    from advisor.tuning import knowledge_for, observations_from_store

    store, run = stored_bf16
    obs = {o.technique: o for o in observations_from_store(store) if o.run_id == run.run_id}
    reached = {r.catalog_ids[0] for r in run.results if r.n_reached == r.n_seeds}
    assert set(obs) == reached  # the baseline, and a variant that missed the target in a seed, are no evidence
    assert "early-stopping" in obs
    o = obs["early-stopping"]
    es = _result(run, "early-stopping")
    assert o.basis == "to-target" and o.phase == "training" and o.target == "80 % accuracy, 3/3 seeds"
    assert o.latency_ratio == pytest.approx(es.time_ratio.median)
    assert o.energy_ratio == pytest.approx(es.energy_ratio.median)
    assert o.n_parameters == sum(p.numel() for p in digits_cnn().parameters()) and o.architectures
    hw = advisor.detect_hardware()
    assert set(knowledge_for(store, hw)) == set(obs.values())  # this machine's fingerprint
    spec = digits_training()
    prof = advisor.profile_model(spec.model, spec.example_inputs, phase="training")
    c = advisor.Constraints(phase="training", objective="energy")

    def cited(knowledge: list[Any]) -> list[str]:
        rec = advisor.recommend(prof, hw, c, knowledge=knowledge)
        r = next(x for x in [*rec.recommended, *rec.excluded_items] if x.id == "early-stopping")
        return [f.text for f in getattr(r, "why", None) or r.reasons if f.kind == "measurement"]

    texts = cited(knowledge_for(store, hw))
    assert texts and "energy to 80 % accuracy, 3/3 seeds" in texts[0] and run.run_id in texts[0]
    # a to-target figure outranks a per-step one of the same technique: only it is cited
    per_step = dataclasses.replace(o, basis="per-item", target=None, energy_ratio=5.0, latency_ratio=5.0, run_id="x-1")
    assert cited([per_step]) and "x-1" in cited([per_step])[0]
    assert all("x-1" not in t for t in cited([per_step, o]))


def test_an_unreachable_target_is_its_own_outcome() -> None:
    run = _run(["early-stopping"], target=0.999, settings=dataclasses.replace(FAST, max_steps=10))
    assert run.baseline.outcome == "did-not-reach" and run.baseline.energy_ratio is None
    assert all(s.status == "not-reached" and s.steps == 10 and s.energy_j > 0 for s in run.baseline.seeds)
    assert "did not reach 99.9 % accuracy in any of 2 seeds" in run.outcome
    assert outcome_line(run.baseline, run.target, run.metric).startswith("did not reach 99.9 % accuracy in 2 of 2")
    assert run.projection is None and "never reached" in run.projection_note


def test_evaluation_cost_is_kept_out_of_the_training_figures() -> None:
    inner = digits_training().training.eval_fn

    def slow_eval(model: Any) -> float:
        t0 = time.process_time()
        while time.process_time() - t0 < 0.15:  # CPU work only the evaluation does
            sum(range(1000))
        return inner(model)

    a = _run(["bf16-training"], seeds=1).baseline.seeds[0]
    b = _run(["bf16-training"], seeds=1, eval_fn=slow_eval).baseline.seeds[0]
    assert a.steps_to_target == b.steps_to_target  # same seed, same training
    assert b.eval_time_s >= 0.15 * b.evals and b.eval_energy_j > a.eval_energy_j
    assert b.time_s_to_target < b.eval_time_s / 2 and b.energy_j_to_target < b.eval_energy_j / 2
    assert b.time_s_to_target == pytest.approx(b.curve[-1]["time_s"])
    assert b.energy_j_to_target == pytest.approx(b.curve[-1]["energy_j"])


def test_the_projection_scales_energy_per_sample_and_carries_the_interval() -> None:
    from advisor.measurement.carbon import co2e_g, get_intensity

    settings = dataclasses.replace(FAST, regions=["FRA"], full_epochs=10, full_dataset_size=50_000)
    run = measure_to_target(_setup(), 0.8, ["width-multiplier"], 3, store=False, settings=settings)
    base_row, var_row = run.projection
    per_seed = [s.energy_j / s.samples_seen * 500_000 for s in run.baseline.seeds]
    assert base_row.energy_j.median == pytest.approx(math.exp(sum(map(math.log, per_seed)) / 3))
    assert (
        base_row.energy_j.n_rounds == 3
        and 0 < base_row.energy_j.low < base_row.energy_j.median < base_row.energy_j.high
    )
    assert base_row.energy_kwh.median == pytest.approx(base_row.energy_j.median / 3.6e6)
    fra = co2e_g(base_row.energy_j.median, get_intensity("FRA"))
    assert base_row.co2e_g["FRA"].median == pytest.approx(fra)
    var = _result(run, "width-multiplier")
    b_e = {s.seed: s.energy_j_to_target for s in run.baseline.seeds}
    expect = [p * s.energy_j_to_target / b_e[s.seed] for p, s in zip(per_seed, var.seeds, strict=True)]
    assert var_row.energy_j.median == pytest.approx(math.exp(sum(map(math.log, expect)) / 3))
    assert var_row.saving_j.median == pytest.approx(sum(p - e for p, e in zip(per_seed, expect, strict=True)) / 3)
    assert "500000 samples" in run.projection_note and "transfers to the full training" in run.projection_note
    no = _run(["bf16-training"], seeds=1, full_epochs=None)
    assert no.projection is None and "full_epochs" in no.projection_note


# --- the appliers do what they claim ---------------------------------------------------------------------------
def test_data_appliers_train_on_what_they_claim() -> None:
    run = _run(["data-pruning", "random-subset", "curriculum-learning"], seeds=1)
    n = len(digits_training().training.train_data[0])
    assert run.baseline.seeds[0].train_samples == n and run.baseline.seeds[0].overhead_energy_j == 0
    for vid in ("data-pruning", "random-subset"):
        s = _result(run, vid).seeds[0]
        assert s.train_samples == round(0.5 * n)
    for vid in ("data-pruning", "curriculum-learning"):  # both score the data in a warm-up, counted as overhead
        s = _result(run, vid).seeds[0]
        assert s.overhead_energy_j > 0 and s.overhead_time_s > 0
        assert s.energy_j_to_target >= s.overhead_energy_j and s.curve[0]["energy_j"] > s.overhead_energy_j
    assert _result(run, "curriculum-learning").seeds[0].train_samples == n


def test_pruning_keeps_the_highest_el2n_scores() -> None:
    from advisor.training._loop import _pool
    from advisor.training._techniques import Knobs, base_recipe, make_recipe

    setup = _setup()
    r = make_recipe("data-pruning", base_recipe(setup, Knobs(), 180), setup)
    keep = _pool(r, 0, 20)
    from advisor.training._loop import _scores

    scores = _scores(r, 0, 20)
    assert len(keep) == round(0.5 * len(r.x)) and scores[keep].min() >= scores.median()


def test_precision_batch_model_and_schedule_appliers() -> None:
    run = _run(
        [
            "bf16-training",
            "large-batch-training",
            "width-multiplier",
            "cosine-learning-rate",
            "one-cycle-learning-rate",
        ],
        seeds=1,
    )
    base = run.baseline.seeds[0]
    assert base.autocast is None and _result(run, "bf16-training").seeds[0].autocast == "bfloat16"
    big = _result(run, "large-batch-training")
    assert big.settings["batch_size"] == 128 and big.settings["lr_scaling"] == "square-root"  # Adam
    assert big.settings["lr"] == pytest.approx(2e-3)
    assert big.seeds[0].samples_seen == 128 * big.seeds[0].steps
    assert _result(run, "width-multiplier").seeds[0].n_params < base.n_params / 2
    assert base.lr_last == pytest.approx(1e-3)
    assert _result(run, "cosine-learning-rate").seeds[0].lr_last < 1e-3
    assert _result(run, "one-cycle-learning-rate").seeds[0].lr_last != pytest.approx(1e-3)


def test_early_stopping_ends_a_run_that_plateaus_below_the_target() -> None:
    settings = dataclasses.replace(FAST, max_steps=400, knobs=dataclasses.replace(FAST.knobs, patience=1))
    run = _run(["early-stopping"], target=0.9999, seeds=1, settings=settings)
    es, base = _result(run, "early-stopping").seeds[0], run.baseline.seeds[0]
    assert es.status == "stopped-early" and es.steps < 400 and "no new best for 1" in es.reason
    assert base.steps == 400 and es.energy_j < base.energy_j


def test_distillation_trains_a_compact_student_from_a_teacher_whose_cost_is_stated() -> None:
    settings = dataclasses.replace(FAST, max_steps=60)
    run = _run(["knowledge-distillation"], seeds=1, settings=settings)
    kd = _result(run, "knowledge-distillation")
    assert run.teacher["steps"] == 60 and run.teacher["energy_j"] > 0 and "trained first" in run.teacher["source"]
    assert kd.settings["student"] == "build_model(width=0.5)" and kd.seeds[0].n_params < run.baseline.seeds[0].n_params
    assert any("not in the ratios" in n for n in kd.notes)
    given = _run(["knowledge-distillation"], seeds=1, teacher=digits_cnn(seed=3))
    assert "the spec's teacher" in given.teacher["source"] and "energy_j" not in given.teacher


def test_stacks_and_ids_are_checked_before_anything_runs() -> None:
    run = _run(["bf16-training+random-subset"], seeds=1)
    stack = run.results[0]
    assert stack.settings["autocast"] == "bfloat16" and stack.settings["keep_frac"] == 0.5
    assert stack.catalog_ids == ["bf16-training", "random-data-subset"] and stack.seeds[0].autocast == "bfloat16"
    with pytest.raises(ConstraintError, match="both change the schedule"):
        _run(["one-cycle-learning-rate+cosine-learning-rate"])
    with pytest.raises(UnknownTechniqueError, match="early-stopping"):
        _run(["early-stoping"])


def test_a_loader_spec_runs_and_data_techniques_are_not_applicable() -> None:
    x, y = digits_training().training.train_data

    def loader(batch_size: int, seed: int) -> Any:
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
        return [(x[perm[i : i + batch_size]], y[perm[i : i + batch_size]]) for i in range(0, len(x), batch_size)]

    settings = dataclasses.replace(FAST, max_steps=200)
    run = _run(["data-pruning", "bf16-training"], seeds=1, settings=settings, train_data=loader)
    assert run.baseline.n_reached == 1 and _result(run, "bf16-training").n_reached == 1
    dp = _result(run, "data-pruning")
    assert dp.status == "not-applicable" and "tensors" in dp.reason


def test_ctrl_c_keeps_the_finished_runs(tmp_path) -> None:
    inner = digits_training().training.eval_fn
    calls = {"n": 0}

    def eval_fn(model: Any) -> float:
        calls["n"] += 1
        if calls["n"] > 6:
            raise KeyboardInterrupt
        return inner(model)

    store = ResultStore(tmp_path / "r.sqlite")
    setup = _setup(eval_fn=eval_fn)
    run = measure_to_target(setup, 0.5, ["bf16-training"], 5, store=store, settings=FAST)
    assert run.status == "interrupted"
    done = [s for r in run.all_results() for s in r.seeds]
    assert done and all(s.reached for s in done)
    assert store.runs(1)[0]["status"] == "interrupted" and store.runs(1)[0]["n_results"] >= 1
    again = store.load_run(run.run_id)
    assert isinstance(again, ToTargetRun) and again.status == "interrupted"


def test_bad_specs_and_targets_say_what_is_expected() -> None:
    with pytest.raises(ProfileError, match=r"expected an advisor\.TrainingSetup"):
        measure_to_target(ModelSpec(model=torch.nn.Linear(4, 2), example_inputs=torch.randn(1, 4)), 0.9)
    with pytest.raises(ConstraintError, match=r"e\.g\. 0\.95 for 95 %"):
        measure_to_target(_setup(), 95)
    with pytest.raises(ConstraintError, match="finite"):
        measure_to_target(_setup(), float("nan"))
    with pytest.raises(ProfileError, match="pair of tensors"):
        measure_to_target(_setup(train_data=[1, 2, 3]), 0.9)


# --- the command line ------------------------------------------------------------------------------------------
def test_cli_train_prints_one_line_per_technique(tmp_path, capsys) -> None:
    from advisor.cli import main

    out_file = tmp_path / "out" / "train.json"
    code = main(
        [
            "train",
            "--model",
            "advisor.examples:digits_training",
            "--target",
            "0.8",
            "--techniques",
            "bf16-training",
            "--seeds",
            "2",
            "--threads",
            "1",
            "--out",
            str(out_file),
            "--region",
            "FRA",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "energy to 80 % accuracy x" in text and "2/2 seeds reached it" in text
    assert "projection to the full training" in text and "FRA" in text
    run = ToTargetRun.from_dict(json.loads(out_file.read_text()))
    assert run.target == 0.8 and run.results[0].variant == "bf16-training" and run.run_id


def test_cli_train_bad_input_exits_2(tmp_path, capsys) -> None:
    from advisor.cli import main

    spec = tmp_path / "inference_only.py"
    spec.write_text("import torch\n\ndef make():\n    return torch.nn.Linear(4, 2), torch.randn(1, 4)\n")
    assert main(["train", "--model", f"{spec}:make", "--seeds", "1"]) == 2
    assert "expected an advisor.TrainingSetup" in capsys.readouterr().err
    assert main(["train", "--model", "advisor.examples:digits_training", "--target", "95"]) == 2
    assert "e.g. 0.95" in capsys.readouterr().err
    assert main(["train", "--model", "advisor.examples:digits_training", "--techniques", "nope"]) == 2
    assert main(["train", "--model", "advisor.examples:digits_training", "--seeds", "0"]) == 2


def test_cli_a_target_the_baseline_never_reaches_is_an_outcome_line(capsys) -> None:
    from advisor.cli import main

    code = main(
        [
            "train",
            "--model",
            "advisor.examples:digits_training",
            "--target",
            "0.9999",
            "--techniques",
            "bf16-training",
            "--seeds",
            "1",
            "--max-steps",
            "10",
            "--threads",
            "1",
            "--no-store",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "outcome: the baseline did not reach 99.99 % accuracy in any of 1 seeds" in text
    assert "did not reach 99.99 % accuracy in 1 of 1 seeds" in text


def test_tune_for_training_ranks_by_energy_to_target(tmp_path) -> None:
    import advisor
    from advisor.tuning._to_target import to_target_candidate

    torch.set_num_threads(1)
    spec = digits_training()
    spec.training.target = 0.8
    plan = advisor.tune(spec, phase="training", budget_s=3, store=str(tmp_path / "t.sqlite"))
    assert plan.phase == "training" and isinstance(plan.run, ToTargetRun) and plan.run_ids == [plan.run.run_id]
    assert any("energy to 80 % accuracy" in n for n in plan.notes)
    cands = [plan.winner, *plan.runners_up, *plan.no_payoff] if plan.winner else [*plan.runners_up, *plan.no_payoff]
    assert {c.variant for c in cands} == {r.variant for r in plan.run.results}
    for c in cands:
        r = next(x for x in plan.run.results if x.variant == c.variant)
        assert c.energy_ratio == r.energy_ratio
        if c.pays_off:
            assert r.n_reached == r.n_seeds and r.energy_ratio.high < 1
    if plan.winner:
        assert all(plan.winner.energy_ratio.median <= c.energy_ratio.median for c in plan.runners_up)
    # a variant that missed the target in a seed fails the gate whatever it saved
    run = plan.run
    r = dataclasses.replace(run.results[0], n_reached=run.results[0].n_seeds - 1)
    r.energy_ratio = advisor.measurement.Interval(0.5, 0.4, 0.6, 3)
    c = to_target_candidate(r, run, "energy", advisor.load_catalog())
    assert not c.pays_off and c.quality_status == "failed" and "did not reach" in c.reason


def test_a_budget_that_runs_out_mid_seed_still_pairs_the_seed_with_its_baseline() -> None:
    run = measure_to_target(
        _setup(), 0.8, ["bf16-training", "random-subset", "width-multiplier"], 3, 0.001, store=False, settings=FAST
    )
    assert run.status == "budget"
    ran = [r for r in run.results if r.n_seeds]
    assert ran and run.baseline.n_seeds == 1 and all(r.seeds[0].seed == 0 for r in ran)
    assert all(r.energy_ratio is not None for r in ran)
    assert any(r.status == "no-runs" for r in run.results) or run.meta["orders"][0][-1] == "baseline"
