"""measure_training(): real training appliers on real models, the projection's arithmetic, and injected faults."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from advisor._errors import ConstraintError, ProfileError
from advisor.measurement.appliers.base import NotApplicable
from advisor.measurement.appliers.training import (
    TRAINING_REGISTRY,
    baseline_step,
    checkpoint_blocks,
    make_setup,
)
from advisor.measurement.carbon import co2e_g
from advisor.measurement.harness import Timing
from advisor.measurement.step_memory import StorageTracker, peak_call_memory_mib
from advisor.measurement.store import ResultStore
from advisor.measurement.training import DEFAULT_TECHNIQUES, TrainingResult, compare, measure_training, project

FIXTURE = Path(__file__).parents[1] / "fixtures" / "user_model.py"


def mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    return model, torch.randn(16, 32)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
        )
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def cnn() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return SmallCNN(), torch.randn(8, 3, 16, 16)


class Residual(nn.Module):
    """Blocks held in a ModuleList, as transformer stacks hold them."""

    def __init__(self, width: int = 64, depth: int = 6) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)) for _ in range(depth)
        )
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = x + b(x)
        return self.head(x)


class Single(nn.Module):
    """No container of blocks: nothing for activation checkpointing to wrap."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).relu()


def snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "types": [type(m) for m in model.modules()],
        "training": [m.training for m in model.modules()],
    }


def assert_untouched(model: nn.Module, before: dict) -> None:
    after = model.state_dict()
    assert before["state"].keys() == after.keys()
    assert all(torch.equal(before["state"][k], v) for k, v in after.items())
    assert [type(m) for m in model.modules()] == before["types"]
    assert [m.training for m in model.modules()] == before["training"]
    assert all(p.grad is None for p in model.parameters())
    assert not any("forward" in vars(m) for m in model.modules())  # no patched forward left behind


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread: two spinning threads on a shared 2-core machine make step times erratic."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "r.sqlite")


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory: pytest.TempPathFactory):
    model, x = mlp()
    model.eval()  # the user's mode must survive
    before = snapshot(model)
    store = ResultStore(tmp_path_factory.mktemp("s") / "r.sqlite")
    run = measure_training(model, x, steps_per_epoch=250, epochs=4, budget_s=4, store=store, region="FRA", pue=1.2,
                           progress=False)  # fmt: skip
    return model, before, store, run


# --- whole runs -------------------------------------------------------------------------------------------
def test_mlp_all_three_techniques_measured_and_original_untouched(mlp_run) -> None:
    model, before, _, run = mlp_run
    assert_untouched(model, before)
    assert run.status == "finished" and run.baseline.status == "ok"
    by = {r.technique: r for r in run.results}
    assert list(by) == list(DEFAULT_TECHNIQUES)
    for r in [run.baseline, *run.results]:
        assert r.status == "ok", r.reason
        assert r.timing.latency_ms_median > 0 and r.timing.repeats >= 1
        assert r.timing.energy_method.startswith(("estimated-", "measured-"))
        assert r.peak_memory_mib > 0 and r.memory_method == "tensor-accounting"
        assert r.quality.finite and len(r.quality.losses) == run.meta["loss_steps"]
        assert r.speedup > 0 and r.energy_ratio > 0 and r.peak_memory_ratio > 0
        assert r.settings["optimizer"] == "SGD" and r.settings["optimizer_settings"]["lr"] == 1e-3
    assert by["mixed-precision-training"].settings["autocast"] == "bfloat16"
    assert by["activation-checkpointing"].settings["checkpointed"][0]["module"] == "<model>"
    assert by["gradient-accumulation"].settings["micro_batches"] == 4
    assert by["gradient-accumulation"].settings["samples_per_step"] == 16
    # same weights, data and seed: recomputation and accumulation give the same losses as the baseline
    base_losses = run.baseline.quality.losses
    assert by["activation-checkpointing"].quality.losses == pytest.approx(base_losses, rel=1e-6)
    assert by["gradient-accumulation"].quality.losses == pytest.approx(base_losses, rel=1e-5)
    assert by["mixed-precision-training"].quality.loss_change == pytest.approx(0.0, abs=0.05)
    assert "cross-entropy against random labels of 10 classes" in run.meta["loss"]


def test_every_result_is_in_the_store_with_training_meta(mlp_run) -> None:
    _, _, store, run = mlp_run
    saved = store.results(run.run_id)
    assert [s["technique"] for s in saved] == ["baseline", *DEFAULT_TECHNIQUES]
    assert saved[1]["projection"]["steps"] == 1000
    row = store._db.execute("SELECT status, meta_json FROM runs WHERE run_id = ?", (run.run_id,)).fetchone()
    meta = json.loads(row[1])
    assert row[0] == "finished" and meta["phase"] == "training" and meta["steps"] == 1000
    payload = json.loads(run.to_json())
    assert payload["carbon"]["region"] == "FRA" and payload["results"][0]["projection"]["co2e_g"] > 0
    table = run.table()
    assert list(table["technique"]) == ["baseline", *DEFAULT_TECHNIQUES]
    assert table["projected_time_h"].notna().all()


def test_projection_of_a_real_run_is_per_step_times_steps(mlp_run) -> None:
    _, _, _, run = mlp_run
    steps = 250 * 4
    base = run.baseline.projection
    for r in [run.baseline, *run.results]:
        p, t = r.projection, r.timing
        assert p.steps == steps
        assert p.time_s == pytest.approx(t.latency_ms_median / 1000 * steps)
        assert p.energy_j == pytest.approx(t.energy_j_per_call * steps)
        assert p.energy_kwh == pytest.approx(p.energy_j / 3.6e6)
        assert p.energy_method == t.energy_method
        assert p.co2e_g == pytest.approx(co2e_g(p.energy_j, "FRA", 1.2))
        assert p.co2e_method.startswith(t.energy_method) and "FRA" in p.co2e_method
        if r is not run.baseline:
            assert r.saving["time_s"] == pytest.approx(base.time_s - p.time_s)
            assert r.saving["energy_j"] == pytest.approx(base.energy_j - p.energy_j)
            lr = r.comparison.latency_ratio  # paired per-round ratios: the median with its interval
            assert r.speedup == pytest.approx(1 / lr.median) and lr.low <= lr.median <= lr.high
            assert lr.n_rounds == t.rounds == run.baseline.timing.rounds


def test_cnn_all_three_techniques(store) -> None:
    model, x = cnn()
    before = snapshot(model)
    run = measure_training(model, x, steps_per_epoch=10, epochs=2, budget_s=6, store=store, progress=False)
    assert_untouched(model, before)
    by = {r.technique: r for r in run.results}
    assert all(r.status == "ok" for r in run.results), [(r.technique, r.reason) for r in run.results]
    assert by["activation-checkpointing"].settings["checkpointed"] == [
        {"module": "features", "kind": "sequential-segments", "blocks": 5, "segments": 2}
    ]
    assert "BatchNorm statistics see micro-batches of 2-2, not 8" in by["gradient-accumulation"].settings["note"]
    assert run.baseline.projection.co2e_g is None and run.carbon.region is None  # no region: no CO2e, said so
    assert "no region given" in run.carbon.note


def test_not_applicable_paths_are_reported_and_the_run_goes_on(store) -> None:
    torch.manual_seed(0)
    model, x = Single(), torch.randn(1, 32)
    from advisor._errors import UnknownTechniqueError

    with pytest.raises(UnknownTechniqueError, match="no-such-technique"):  # a typo fails before measuring
        measure_training(model, x, techniques=[*DEFAULT_TECHNIQUES, "no-such-technique"], steps_per_epoch=5,
                         epochs=1, budget_s=3, store=store, progress=False)  # fmt: skip
    run = measure_training(model, x, techniques=list(DEFAULT_TECHNIQUES), steps_per_epoch=5, epochs=1, budget_s=3,
                           store=store, progress=False)  # fmt: skip
    by = {r.technique: r for r in run.results}
    assert by["activation-checkpointing"].status == "not-applicable"
    assert "no nn.Sequential or nn.ModuleList" in by["activation-checkpointing"].reason
    assert by["gradient-accumulation"].status == "not-applicable"
    assert "batch has 1 sample" in by["gradient-accumulation"].reason
    assert by["mixed-precision-training"].status == "ok"
    assert run.status == "finished" and len(store.results(run.run_id)) == 4


def test_mixed_precision_not_applicable_to_half_models() -> None:
    model, x = mlp()
    model = model.to(torch.bfloat16)
    setup = make_setup(model, (x.to(torch.bfloat16),))
    with pytest.raises(NotApplicable, match="already"):
        TRAINING_REGISTRY["mixed-precision-training"](model, setup)


def test_a_loss_fn_that_raises_for_one_technique_is_reported(store) -> None:
    model, x = mlp()
    y = torch.randint(0, 10, (16,))

    def full_batch_only(out, target):
        if out.shape[0] != 16:
            raise ValueError("this loss expects the full batch of 16")
        return nn.functional.cross_entropy(out.float(), target)

    run = measure_training(model, x, y, full_batch_only, steps_per_epoch=5, epochs=1, budget_s=3, store=store,
                           progress=False)  # fmt: skip
    by = {r.technique: r for r in run.results}
    assert by["gradient-accumulation"].status == "failed"
    assert "expects the full batch of 16" in by["gradient-accumulation"].reason
    assert by["mixed-precision-training"].status == "ok" and by["activation-checkpointing"].status == "ok"
    assert run.status == "finished" and run.meta["loss"] == "user loss_fn(output, targets)"


def test_a_loss_fn_that_always_raises_fails_the_baseline_and_is_recorded(store) -> None:
    model, x = mlp()

    def broken(out):
        raise RuntimeError("labels missing")

    run = measure_training(model, x, loss_fn=broken, steps_per_epoch=5, epochs=1, budget_s=3, store=store,
                           progress=False)  # fmt: skip
    assert run.status == "failed"
    assert run.baseline.status == "failed" and "labels missing" in run.baseline.reason
    assert all(r.status == "failed" and "baseline step failed" in r.reason for r in run.results)
    assert store.runs()[0]["status"] == "failed" and store.runs()[0]["n_results"] == 4


def test_a_non_finite_loss_is_flagged(store) -> None:
    model, x = mlp()

    def overflows(out):
        return out.float().pow(2).mean() * torch.tensor(3e38) * 10  # beyond float32: inf

    run = measure_training(model, x, loss_fn=overflows, techniques=["gradient-accumulation"], steps_per_epoch=5,
                           epochs=1, budget_s=2, store=store, progress=False)  # fmt: skip
    for r in (run.baseline, run.results[0]):
        assert r.status == "ok" and r.quality.finite is False
        assert "not finite" in r.reason


@pytest.fixture
def interrupting_applier():
    def interrupts(model, setup):
        raise KeyboardInterrupt

    TRAINING_REGISTRY["x-interrupt"] = interrupts
    yield
    TRAINING_REGISTRY.pop("x-interrupt")


def test_ctrl_c_keeps_what_was_measured(store, interrupting_applier) -> None:
    model, x = mlp()
    ids = ["gradient-accumulation", "x-interrupt", "mixed-precision-training"]
    run = measure_training(model, x, techniques=ids, steps_per_epoch=5, epochs=1, budget_s=3, store=store,
                           progress=False)  # fmt: skip
    assert run.status == "interrupted"
    assert [r.technique for r in run.results] == ids and {r.status for r in run.results} == {"interrupted"}
    assert run.results[0].settings["micro_batches"] > 1  # set up (and its loss trajectory run) before Ctrl-C
    runs = store.runs()
    assert runs[0]["status"] == "interrupted" and runs[0]["n_results"] == 4


def test_bad_arguments_fail_before_measuring(store) -> None:
    model, x = mlp()
    with pytest.raises(ConstraintError, match="steps_per_epoch: expected a positive integer, got 0"):
        measure_training(model, x, steps_per_epoch=0, epochs=1, store=store, progress=False)
    with pytest.raises(ConstraintError, match="unknown region"):
        measure_training(model, x, steps_per_epoch=1, epochs=1, region="Atlantis", store=store, progress=False)
    with pytest.raises(ConstraintError, match="pue"):
        measure_training(model, x, steps_per_epoch=1, epochs=1, pue=0.5, store=store, progress=False)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ProfileError, match="no trainable parameters"):
        measure_training(model, x, steps_per_epoch=1, epochs=1, store=store, progress=False)
    assert store.runs() == []


# --- projection arithmetic ----------------------------------------------------------------------------------
def timing(median_ms: float, iqr_ms: float, energy_j: float | None, *, repeats: int = 20, energy_iqr=None) -> Timing:
    return Timing(repeats=repeats, latency_ms_median=median_ms, latency_ms_iqr=iqr_ms, latency_ms_ci95=iqr_ms / 4,
                  throughput_per_s=1000 / median_ms, cpu_time_ms_per_call=median_ms, peak_rss_mib=100.0,
                  energy_j_per_call=energy_j, energy_method="estimated-tdp" if energy_j else None,
                  energy_j_per_call_iqr=energy_iqr)  # fmt: skip


def test_projection_scales_step_figures_and_propagates_spread() -> None:
    t = timing(12.5, 2.0, 0.3)
    steps = 390 * 90
    carbon = lambda e: co2e_g(e, "SWE", 1.1)  # noqa: E731
    p = project(t, steps, carbon, "estimated-tdp x annual grid intensity SWE")
    assert p.time_s == pytest.approx(0.0125 * steps)
    assert p.time_s_iqr == pytest.approx(0.002 * steps) and p.time_s_ci95 == pytest.approx(0.0005 * steps)
    assert p.energy_j == pytest.approx(0.3 * steps) and p.energy_kwh == pytest.approx(0.3 * steps / 3.6e6)
    assert p.energy_j_iqr == pytest.approx(p.energy_j * 2.0 / 12.5)  # no chunk IQR: the step time's relative IQR
    assert p.co2e_g == pytest.approx(co2e_g(0.3 * steps, "SWE", 1.1))
    assert p.co2e_g_iqr == pytest.approx(p.co2e_g * 2.0 / 12.5)
    with_chunks = project(timing(12.5, 2.0, 0.3, energy_iqr=0.01), steps, None, None)
    assert with_chunks.energy_j_iqr == pytest.approx(0.01 * steps) and with_chunks.co2e_g is None
    few = project(timing(12.5, 0.0, None, repeats=1), 10, carbon, "x")
    assert few.time_s_iqr is None and few.energy_j is None and few.co2e_g is None


def test_compare_gives_ratios_and_savings() -> None:
    steps = 1000
    base = TrainingResult("baseline", "ok", timing=timing(20.0, 2.0, 0.4), peak_memory_mib=100.0)
    fast = TrainingResult("x", "ok", timing=timing(10.0, 1.0, 0.1), peak_memory_mib=40.0)
    for r in (base, fast):
        r.projection = project(r.timing, steps, None, None)
    compare(fast, base)
    assert fast.peak_memory_ratio == pytest.approx(0.4)
    assert fast.saving["time_s"] == pytest.approx((0.020 - 0.010) * steps)
    assert fast.saving["energy_j"] == pytest.approx((0.4 - 0.1) * steps)
    assert fast.saving["time_s_iqr"] == pytest.approx(math.hypot(0.002 * steps, 0.001 * steps))


# --- appliers ------------------------------------------------------------------------------------------------
def deep_mlp(layers: int = 24, width: int = 128) -> nn.Sequential:
    torch.manual_seed(0)
    mods = [m for _ in range(layers) for m in (nn.Linear(width, width), nn.ReLU())]
    return nn.Sequential(*mods, nn.Linear(width, 10))


def test_activation_checkpointing_lowers_peak_tensor_memory() -> None:
    model, x = deep_mlp(), torch.randn(512, 128)
    setup = make_setup(model, (x,))
    base = baseline_step(model, setup)
    ckpt = TRAINING_REGISTRY["activation-checkpointing"](model, setup)
    base.step(), ckpt.step()  # optimizer state and lazy allocations happen before counting
    base_mb, method = peak_call_memory_mib(base.step)
    ckpt_mb, _ = peak_call_memory_mib(ckpt.step)
    relu_outputs_mb = 24 * 512 * 128 * 4 / 2**20  # what the baseline must keep for backward, at least
    assert method == "tensor-accounting"
    assert base_mb >= relu_outputs_mb
    assert ckpt_mb < 0.6 * base_mb
    assert ckpt.settings["checkpointed"][0]["segments"] == 7  # round(sqrt(49))


def test_per_block_checkpointing_of_module_lists_gives_the_same_gradients() -> None:
    torch.manual_seed(0)
    model, x = Residual(), torch.randn(64, 64)
    setup = make_setup(model, (x,))
    base = baseline_step(model, setup)
    ckpt = TRAINING_REGISTRY["activation-checkpointing"](model, setup)
    assert ckpt.settings["checkpointed"] == [{"module": "blocks", "kind": "per-block", "blocks": 6,
                                              "block_type": "Sequential"}]  # fmt: skip
    base_mb, _ = peak_call_memory_mib(base.step)
    ckpt_mb, _ = peak_call_memory_mib(ckpt.step)
    assert ckpt_mb < base_mb
    for p, q in zip(base.model.parameters(), ckpt.model.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)


def test_checkpointing_a_transformer_encoder_wraps_its_layers() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_model_for_training", FIXTURE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model, tokens = mod.make()
    wrapped, patched = checkpoint_blocks(model)  # in place: this copy is ours
    assert wrapped == [{"module": "encoder.layers", "kind": "per-block", "blocks": 2,
                        "block_type": "TransformerEncoderLayer"}]  # fmt: skip
    model.train()
    model(tokens).float().pow(2).mean().backward()
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert patched == list(model.encoder.layers)


def test_gradient_accumulation_matches_the_whole_batch_update() -> None:
    model, x = mlp()
    setup = make_setup(model, (x,))
    base = baseline_step(model, setup)
    acc = TRAINING_REGISTRY["gradient-accumulation"](model, setup)
    assert acc.micro_batches == 4 and acc.settings["micro_batch_sizes"] == [4, 4, 4, 4]
    loss_b, loss_a = base.step(), acc.step()
    assert float(loss_a) == pytest.approx(float(loss_b), rel=1e-6)
    for p, q, orig in zip(base.model.parameters(), acc.model.parameters(), model.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-7)
        assert not torch.equal(q, orig)  # the step did update the copy


def test_uneven_batches_are_weighted_by_size() -> None:
    torch.manual_seed(0)
    model, x = nn.Linear(8, 3), torch.randn(10, 8)
    setup = make_setup(model, (x,))
    acc = TRAINING_REGISTRY["gradient-accumulation"](model, setup)
    base = baseline_step(model, setup)
    assert acc.settings["micro_batch_sizes"] == [3, 3, 2, 2]
    base.step(), acc.step()
    assert torch.allclose(base.model.weight, acc.model.weight, atol=1e-7)


def test_mixed_precision_runs_the_forward_in_bf16_with_fp32_master_weights() -> None:
    model, x = mlp()
    seen: list[torch.dtype] = []

    def loss(out):
        seen.append(out.dtype)
        return out.float().pow(2).mean()

    ts = TRAINING_REGISTRY["mixed-precision-training"](model, make_setup(model, (x,), loss_fn=loss))
    ts.step()
    assert seen == [torch.bfloat16]
    assert all(p.dtype == torch.float32 for p in ts.model.parameters())
    assert ts.settings["autocast"] == "bfloat16" and ts.settings["master_weights"] == "float32"


def test_every_variant_gets_its_own_optimizer_from_optimizer_fn() -> None:
    model, x = mlp()
    setup = make_setup(model, (x,), optimizer_fn=lambda params: torch.optim.AdamW(params, lr=0.01))
    steps = [baseline_step(model, setup), *(TRAINING_REGISTRY[t](model, setup) for t in DEFAULT_TECHNIQUES)]
    assert all(isinstance(s.optimizer, torch.optim.AdamW) for s in steps)
    assert all(s.settings["optimizer_settings"]["lr"] == 0.01 for s in steps)
    ids = {id(p) for s in steps for g in s.optimizer.param_groups for p in g["params"]}
    assert len(ids) == len(steps) * len(list(model.parameters()))  # no parameter shared between variants
    assert not ids & {id(p) for p in model.parameters()}


def test_default_loss_depends_on_the_output_shape() -> None:
    model, x = mlp()
    logits = make_setup(model, (x,))
    assert logits.targets.shape == (16,) and logits.targets.dtype == torch.int64
    assert int(logits.targets.max()) < 10
    again = make_setup(model, (x,))
    assert torch.equal(logits.targets, again.targets)  # seeded: every technique sees the same labels
    regression = nn.Sequential(nn.Linear(32, 1), nn.Flatten(0))
    flat = make_setup(regression, (x,))
    assert flat.targets is None and "pow(2).mean()" in flat.loss_description
    given = make_setup(model, (x,), targets=torch.randint(0, 10, (16,)))
    assert "cross-entropy against the given targets" in given.loss_description
    dense = make_setup(model, (x,), targets=torch.randn(16, 10))
    assert "mean squared error" in dense.loss_description


def test_storage_tracker_counts_new_tensors_and_their_release() -> None:
    a = torch.randn(1000)
    with StorageTracker() as tr:
        b = a * 2  # 4000 bytes, new
        c = b.view(10, 100)  # a view: nothing new
        a.add_(1)  # in place: nothing new
        del b, c
        d = torch.ones(500)  # 2000 bytes; b's storage was released before
    assert tr.peak_bytes == 4000 and tr.current_bytes == 2000
    del d


# --- command line --------------------------------------------------------------------------------------------
def test_cli_measure_training(tmp_path: Path, capsys) -> None:
    from advisor.cli import main

    db, out = tmp_path / "s.sqlite", tmp_path / "r.json"
    code = main(["measure-training", "--model", f"{FIXTURE}:make", "--steps-per-epoch", "100", "--epochs", "3",
                 "--techniques", "gradient-accumulation", "--budget-s", "5", "--region", "FRA", "--store", str(db),
                 "--out", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "gradient-accumulation" in text and "300 steps" in text and "saved in" in text
    payload = json.loads(out.read_text())
    assert payload["meta"]["phase"] == "training"
    assert payload["results"][0]["status"] == "ok", payload["results"][0]["reason"]
    proj = payload["results"][0]["projection"]
    assert proj["steps"] == 300 and proj["time_s"] > 0 and proj["co2e_g"] > 0


def test_settings_object_equals_keywords_and_a_wrong_keyword_fails(store) -> None:
    """MeasureTrainingSettings carries the knobs; keywords override it; settings=EngineSettings is the rounds'."""
    from advisor.measurement import EngineSettings, MeasureTrainingSettings

    model, x = cnn()
    eng = EngineSettings(block_s=0.005, min_rounds=2, max_rounds=3, seed=5)
    s = MeasureTrainingSettings(budget_s=4, store=store, progress=False, loss_steps=2, engine=eng)
    one = {"techniques": ["mixed-precision-training"], "steps_per_epoch": 5, "epochs": 1}
    run = measure_training(model, x, **one, settings=s, budget_s=3)
    assert run.meta["budget_s"] == 3 and run.meta["loss_steps"] == 2 and run.meta["harness"]["seed"] == 5
    assert len(run.baseline.quality.losses) == 2 and run.baseline.timing.rounds <= 3
    old = measure_training(model, x, **one, settings=eng, budget_s=3, store=store, progress=False)
    assert old.meta["harness"]["seed"] == 5 and old.meta["loss_steps"] == 3
    with pytest.raises(ConstraintError, match="loss_steps"):
        measure_training(model, x, steps_per_epoch=5, epochs=1, loss_step=2, store=store)
