"""tune's stage 2: stacks of the stage-1 winners, measured for real. No timing assertions.

Whether two stackable variants both pay off depends on the machine and on how busy it is, so no test here
depends on it. ``_stage2`` is given the winners (variant ids stage 1 could have found) and must measure
their stack against the baseline in one engine run, judge it like a single variant and store it, or say in
a note why it did not; ``tune(stacks_from_budget_s=0)`` reaches the stage at a small budget, and whatever
the winners it found, its plan lists exactly the stacks it measured.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import advisor
from advisor import Constraints
from advisor.measurement import Interval
from advisor.measurement.store import ResultStore
from advisor.tuning import Candidate, tune
from advisor.tuning._tune import MIN_STACK_BUDGET_S, STAGE1_SHARE, _Job, _key, _stack_variants, _stage2

nn = torch.nn
LATENCY = Constraints(phase="inference", objective="latency", max_accuracy_drop_pp=5.0, retraining="none",
                      data="calibration", effort="high")  # fmt: skip
PAIR = ("post-training-dynamic-quantization", "inference-mode-and-no-grad")  # stackable in the shipped catalog
VERDICTS = {"faster", "slower", "no significant difference", "inconclusive"}


def mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval(), torch.randn(8, 256)


def winner(variant: str, ratio: float) -> Candidate:
    """A stage-1 variant that paid off, as stage 1 hands it on (its figures only order the winners)."""
    return Candidate(variant=variant, status="ok", verdict="faster", latency_ratio=Interval(ratio, ratio * 0.9,
                     ratio * 1.1, 12), pays_off=True, quality_ok=True)  # fmt: skip


def _kw(store: ResultStore) -> dict:
    return {"eval_fn": None, "calibration_data": None, "store": store, "region": None, "pue": 1.0, "name": "mlp",
            "progress": False, "on_result": None}  # fmt: skip


def test_stage2_measures_the_stack_of_the_winners_against_the_baseline(tmp_path: Path) -> None:
    cat = advisor.load_catalog()
    store = ResultStore(tmp_path / "r.sqlite")
    winners = [winner(PAIR[0], 0.6), winner(PAIR[1], 0.9)]
    combos = _stack_variants(winners, cat)
    assert len(combos) == 1 and set(combos[0].split("+")) == set(PAIR)
    model, x = mlp()
    run, stacked, note = _stage2(_Job(model, (x,), _kw(store), LATENCY, cat), winners, MIN_STACK_BUDGET_S)
    assert note is None and run is not None and run.run_id
    assert [r.technique for r in run.results] == combos  # the stack only: the winners are not measured again
    assert run.rounds and all({"baseline", combos[0]} <= set(rd.blocks) for rd in run.rounds)  # same rounds
    (cand,) = stacked
    assert cand.variant == combos[0] and cand.run_id == run.run_id
    assert cand.status == "ok", cand.reason
    iv = cand.latency_ratio
    assert iv is not None and iv.low <= iv.median <= iv.high and cand.verdict in VERDICTS
    assert cand.pays_off == (cand.verdict == "faster" and cand.quality_ok is not False)
    assert cand.pays_off or cand.reason  # judged like a single variant: a reason when it does not pay off
    assert combos[0] in {r["technique"] for r in store.results(run.run_id)}  # recorded in the store
    assert cand.how_to_apply and "apply_technique" in cand.how_to_apply[-1]


def test_stage2_measures_nothing_it_cannot_measure_and_says_why(tmp_path: Path) -> None:
    cat = advisor.load_catalog()
    store = ResultStore(tmp_path / "r.sqlite")
    model, x = mlp()
    winners = [winner(PAIR[0], 0.6), winner(PAIR[1], 0.9)]
    run, stacked, note = _stage2(_Job(model, (x,), _kw(store), LATENCY, cat), winners, MIN_STACK_BUDGET_S - 1)
    assert run is None and stacked == [] and note is not None
    assert "not measured" in note and _stack_variants(winners, cat)[0] in note and "s of the budget left" in note
    run, stacked, note = _stage2(_Job(model, (x,), _kw(store), LATENCY, cat), winners, None)
    assert run is None and stacked == [] and "interrupted" in note
    runtimes = [winner("onnx-runtime-inference", 0.5), winner("openvino-runtime", 0.6)]  # alternatives
    assert _stage2(_Job(model, (x,), _kw(store), LATENCY, cat), runtimes, 60.0) == (None, [], None)
    assert _stage2(_Job(model, (x,), _kw(store), LATENCY, cat), winners[:1], 60.0) == (None, [], None)
    assert store.runs(10) == []  # nothing was measured


def test_a_bad_stack_threshold_is_refused_before_anything_runs(tmp_path: Path) -> None:
    model, x = mlp()
    for bad in (-1, "45", True, float("nan")):
        with pytest.raises(advisor.ConstraintError, match="stacks_from_budget_s: expected a number of seconds >= 0"):
            tune(model, x, budget_s=5.0, store=tmp_path / "r.sqlite", stacks_from_budget_s=bad)
    assert not (tmp_path / "r.sqlite").exists()


@pytest.mark.slow  # a real tune run of ~20 s
def test_tune_reaches_the_stack_stage_below_45_s_and_claims_only_measured_stacks(tmp_path: Path) -> None:
    budget = 20.0
    model, x = mlp()
    store_path = tmp_path / "r.sqlite"
    plan = tune(model, x, None, None, LATENCY, budget, store=store_path, progress=False, max_variants=3,
                save=False, stacks_from_budget_s=0)  # fmt: skip
    store = ResultStore(store_path)
    runs = [store.load_run(rid) for rid in plan.run_ids]
    singles = [r for r in runs if not any("+" in t.technique for t in r.results)]
    assert singles and singles[0].meta["budget_s"] <= budget * STAGE1_SHARE  # stage 2 kept its share
    everything = [*([plan.winner] if plan.winner else []), *plan.runners_up, *plan.no_payoff]
    good = sorted((c for c in everything if "+" not in c.variant and c.pays_off), key=lambda c: _key(c, "latency"))
    combos = _stack_variants(good, plan.recommendations.catalog)
    stacks = [c for c in everything if "+" in c.variant]
    stack_runs = [r for r in runs if r not in singles]
    if stack_runs:  # measured: one run of exactly the stacks of the winners, each judged with its interval
        (run2,) = stack_runs
        assert sorted(t.technique for t in run2.results) == sorted(combos) == sorted(c.variant for c in stacks)
        assert all(c.run_id == run2.run_id for c in stacks)
        assert all(c.latency_ratio is not None and c.verdict in VERDICTS for c in stacks if c.status == "ok")
    else:  # not measured: no stack in the plan, and a note names the ones left out
        assert stacks == []
        for combo in combos:
            assert any(combo in n and "not measured" in n for n in plan.notes), plan.notes
    assert len(stack_runs) <= 1 and len(runs) == len(singles) + len(stack_runs)
