"""advisor.tune end to end on small real models: plan, re-ranking, store, knowledge, CLI. No timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import advisor
from advisor import Constraints, TuneError
from advisor.cli import main
from advisor.measurement import Comparison, Interval, TechniqueResult
from advisor.measurement.store import ResultStore
from advisor.tuning import TunePlan, judge, knowledge_for, tune

nn = torch.nn
LENIENT = Constraints(phase="inference", objective="energy", max_accuracy_drop_pp=1.0, retraining="none",
                      data="calibration", effort="high")  # fmt: skip


def small_cnn():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).eval()  # fmt: skip
    return m, torch.randn(8, 3, 32, 32)


@pytest.fixture(scope="module")
def cnn_plan(tmp_path_factory) -> tuple[TunePlan, Path]:
    store = tmp_path_factory.mktemp("tune") / "results.sqlite"
    m, x = small_cnn()
    plan = tune(m, x, None, None, LENIENT, 8.0, store=store, progress=False, max_variants=3)
    return plan, store


@pytest.mark.slow  # the shared tune run takes ~15 s on a busy 2-core machine
def test_tune_measures_the_top_measurable_candidates_and_plans(cnn_plan) -> None:
    plan, _store = cnn_plan
    rec = plan.recommendations
    now = [r.id for r in rec.in_group("apply-now")]
    tried = [c.variant for c in [*([plan.winner] if plan.winner else []), *plan.runners_up, *plan.no_payoff]]
    assert tried and all(v.split("@")[0] in now for v in tried)  # measured only what is measurable here
    assert now[0] in tried  # most promising first
    assert plan.run is not None and plan.run_ids and plan.plan_id
    for c in [*plan.runners_up, *plan.no_payoff]:
        assert c.reason or c.pays_off
    if plan.winner is not None:  # a winner is a measured variant that paid off, with its figures
        w = plan.winner
        assert w.pays_off and w.latency_ratio is not None and w.verdict is not None
        assert plan.headline().startswith(f"do this: {w.variant}: measured ")
        assert w.how_to_apply and "apply_technique" in w.how_to_apply[-1]
    else:
        assert plan.headline().startswith(("nothing pays off here", "not proven within the budget"))
    assert plan.more_effort and all(m["group"] in ("more-effort", "where-you-run") for m in plan.more_effort)
    d = json.loads(plan.to_json())
    assert d["kind"] == "tune" and d["headline"] == plan.headline()


def test_the_plan_is_stored_and_later_recommendations_learn_from_it(cnn_plan) -> None:
    plan, store_path = cnn_plan
    store = ResultStore(store_path)
    kinds = {r["run_id"]: r["kind"] for r in store.runs(10)}
    assert kinds[plan.plan_id] == "tune"
    stored = store.results(plan.plan_id)
    assert stored[0]["technique"] == "plan" and stored[0]["headline"] == plan.headline()
    obs = knowledge_for(store, advisor.detect_hardware())
    measured = {c.variant for c in [*plan.runners_up, *plan.no_payoff, *([plan.winner] if plan.winner else [])]
                if c.latency_ratio is not None}  # fmt: skip
    assert measured and measured <= {o.technique for o in obs}
    assert all(o.run_id in plan.run_ids for o in obs)
    m, x = small_cnn()
    prof = advisor.profile_model(m, x)
    again = advisor.recommend(prof, None, LENIENT, knowledge=obs)
    texts = [f.text for r in again.recommended for f in r.why if f.kind == "measurement"]
    texts += [f.text for e in again.excluded_items for f in e.reasons if f.kind == "measurement"]
    assert texts and all("here on" in t and "run " in t for t in texts)


def test_knowledge_export_and_import_between_stores(cnn_plan, tmp_path: Path, capsys) -> None:
    _plan, store_path = cnn_plan
    f = tmp_path / "team.json"
    assert main(["knowledge", "export", str(f), "--store", str(store_path)]) == 0
    data = json.loads(f.read_text())
    assert data["format"] == "green-advisor-knowledge" and data["schema_version"] == 1 and data["entries"]
    other = tmp_path / "other.sqlite"
    assert main(["knowledge", "import", str(f), "--store", str(other)]) == 0
    assert f"imported {len(data['entries'])} new" in capsys.readouterr().out
    assert len(knowledge_for(ResultStore(other), advisor.detect_hardware())) == len(data["entries"])
    assert main(["knowledge", "import", str(f), "--store", str(other)]) == 0
    assert "imported 0 new" in capsys.readouterr().out
    data["entries"][0]["latency_ratio"] = "fast"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["knowledge", "import", str(bad), "--store", str(other)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "entry 0" in err and "latency_ratio" in err and err.count("\n") == 1
    assert main(["knowledge", "import", "--store", str(other)]) == 2


def _result(verdict: str, ratio: float, energy: float, acc: float | None = 0.0) -> TechniqueResult:
    from advisor.measurement.quality import Quality

    iv = Interval(ratio, ratio * 0.95, ratio * 1.05, 12)
    ev = Interval(energy, energy * 0.95, energy * 1.05, 12)
    ever = "inconclusive" if verdict == "inconclusive" else "less energy" if energy < 1 else "more energy"
    comp = Comparison(iv, ev, verdict, ever, "estimated-tdp")
    return TechniqueResult("torch-compile", "ok", comparison=comp, quality=Quality(accuracy_change_pp=acc))


def test_judging_a_result_on_the_objective_and_the_accuracy_budget() -> None:
    cat = advisor.load_catalog()
    good = judge(_result("faster", 0.2, 0.2), LENIENT, cat)
    assert good.pays_off and good.speed_text() == "5.0x faster (4.8-5.3)" and good.quality_text() == "accuracy +0.0 pp"
    slow = judge(_result("slower", 1.3, 1.3), LENIENT, cat)
    assert not slow.pays_off and slow.reason == "more energy here"
    lossy = judge(_result("faster", 0.5, 0.5, acc=-3.0), LENIENT, cat)
    assert not lossy.pays_off and "beyond your 1 pp budget" in lossy.reason
    plan = TunePlan("m", "inference", "energy", None, [], [slow, lossy], [], [], None, 2, 1.0, 10.0)
    assert plan.headline().startswith("nothing pays off here: of 2 variants measured")
    wide = judge(_result("inconclusive", 0.5, 0.5), LENIENT, cat)
    assert not wide.pays_off and "interval is too wide" in wide.reason
    plan.no_payoff.append(wide)
    assert plan.headline().startswith("not proven within the budget: torch-compile looked faster")


def test_tiny_mlp_tune_never_invents_a_winner(tmp_path: Path) -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    plan = tune(m, torch.randn(1, 4), budget_s=5.0, store=tmp_path / "r.sqlite", progress=False, max_variants=2,
                save=False)  # fmt: skip
    everything = [*plan.runners_up, *plan.no_payoff, *([plan.winner] if plan.winner else [])]
    assert all(c.pays_off == (c.verdict in ("faster",) or c.energy_verdict == "less energy") and c.quality_ok
               is not False for c in everything if c.pays_off)  # fmt: skip
    if plan.winner is None:
        assert plan.headline().startswith(("nothing pays off here", "not proven within the budget"))


@pytest.mark.slow
def test_training_phase_measures_per_step_and_projects_the_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    with pytest.raises(TuneError, match="steps_per_epoch"):
        tune(m, torch.randn(16, 32), phase="training", budget_s=5.0)
    plan = tune(m, torch.randn(16, 32), phase="training", budget_s=6.0, store=tmp_path / "r.sqlite",
                progress=False, steps_per_epoch=50, epochs=2, constraints={"phase": "training"})  # fmt: skip
    assert plan.phase == "training" and plan.run is not None and plan.run.kind == "training"
    rec = plan.recommendations
    assert rec.in_group("apply-now") and all(r.measurable_here for r in rec.in_group("apply-now"))
    ok = [c for c in [*plan.runners_up, *plan.no_payoff, *([plan.winner] if plan.winner else [])] if c.latency_ratio]
    assert ok and all(c.projection is not None for c in ok)


def test_cli_tune_prints_the_plan(tmp_path: Path, capsys) -> None:
    fixture = Path(__file__).parent / "fixtures" / "user_model.py"
    code = main(["tune", "--model", f"{fixture}:make", "--budget-s", "5", "--max-variants", "2", "--no-save",
                 "--store", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "plan.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert code in (0, 130)
    assert out.startswith(("do this: ", "nothing pays off here", "not proven within the budget"))
    assert "measured " in out and "worth trying with more effort" in out
    assert json.loads((tmp_path / "plan.json").read_text())["kind"] == "tune"
    assert main(["tune", "--model", f"{fixture}:make", "--budget-s", "0"]) == 2


def test_the_form_has_a_tune_tab_with_the_same_plan(tmp_path: Path) -> None:
    from advisor.ui import advise

    m, x = small_cnn()
    ui = advise(m, x, name="cnn", store=tmp_path / "store.sqlite", out_dir=tmp_path / "report")
    titles = [ui.tabs.get_title(i) for i in range(len(ui.tabs.children))]
    assert ui.tabs.children[titles.index("Tune")] is ui.tune_panel.widget and not ui.tune_panel.button.disabled
    ui.effort.value, ui.retraining.value, ui.data.value = "high", "none", "calibration"
    ui.tune_panel.budget_s.value = 5.0
    ui.tune_panel.button.click()
    plan = ui.tune_panel.plan
    assert plan is not None and plan.headline() in ui.tune_panel.status.value.replace("&#x27;", "'")
    assert "Measured here" in ui.tune_panel.result.value or plan.measured == 0
    assert "Worth trying with more effort" in ui.tune_panel.result.value
    assert advise().tune_panel.button.disabled  # no model, nothing to tune


def test_the_saved_winner_is_calibrated_as_the_measured_variant_was(tmp_path: Path, monkeypatch) -> None:
    """A split example batch: the artifact's quantizers see the first half, as the measured variant's did."""
    from types import SimpleNamespace

    import torch

    from advisor.measurement import ResultStore, appliers, held_out
    from advisor.tuning import _picks

    seen: dict[str, object] = {}

    def record(variant, model, inputs, out, *, calibration_data=None):
        seen["calibration"] = calibration_data
        return SimpleNamespace(path=out, format="test", files=[], snippet="")

    monkeypatch.setattr(appliers, "save_variant", record)
    m, x = small_cnn()
    big = torch.cat([x] * (64 // x.shape[0] + 1))[:64]
    plan = SimpleNamespace(winner=SimpleNamespace(variant="post-training-static-quantization"), phase="inference",
                           run_ids=[], plan_id=None, artifact=None, to_dict=dict)  # fmt: skip
    prof = SimpleNamespace(name="cnn", model_dump=dict)
    _picks.finish(plan, ResultStore(tmp_path / "s.sqlite"), prof, m, (big,), None, True, tmp_path / "out")
    expected = held_out((big,)).calibration
    cal = seen["calibration"][0][0]
    assert expected is not None and torch.equal(cal, expected[0][0])
    assert torch.equal(cal[:32], big[:32]) and torch.equal(cal[32:], big[:32])  # only first-half rows, not the batch
    given = [(big[:8],)]
    _picks.finish(plan, ResultStore(tmp_path / "s2.sqlite"), prof, m, (big,), given, True, tmp_path / "out2")
    assert seen["calibration"] is given  # the caller's calibration data when there is some
