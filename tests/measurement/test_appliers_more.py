"""The newer appliers (static int8, torch.compile, filter pruning, ONNX Runtime) and the batch-size sweep.

Real small models (a digits-sized CNN with trained BatchNorm statistics, an MLP, a TransformerEncoder),
real transformations; every test also checks the user's model is left untouched.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from advisor._errors import ConstraintError, MissingExtraError, ProfileError
from advisor.catalog import load_catalog
from advisor.measurement.appliers import REGISTRY, NotApplicable, available_ids
from advisor.measurement.appliers._deps import REQUIRES
from advisor.measurement.appliers.compiled import compiled
from advisor.measurement.appliers.onnx_runtime import INT8_VARIANT, OrtModel
from advisor.measurement.quality import fidelity
from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore
from advisor.measurement.sweep import batch_sweep, resize_batch

needs_ort = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="needs the onnx extra: pip install -e '.[onnx]'"
)
needs_tp = pytest.mark.skipif(
    importlib.util.find_spec("torch_pruning") is None, reason="needs the prune extra: pip install -e '.[prune]'"
)


def _cnn() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip
    m.train()
    with torch.no_grad():  # give BatchNorm real running statistics, as after training
        for _ in range(5):
            m(torch.randn(64, 1, 8, 8) * 2 + 0.5)
    return m.eval(), torch.randn(48, 1, 8, 8) * 2 + 0.5


def _mlp() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)).eval(), (
        torch.randn(32, 64)
    )


def _encoder() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval(), torch.randn(8, 10, 32)


@pytest.fixture(scope="module")
def cnn():
    return _cnn()


@pytest.fixture(scope="module")
def mlp():
    return _mlp()


@pytest.fixture(scope="module")
def encoder():
    return _encoder()


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    after = model.state_dict()
    return after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)


def _apply(tid: str, model: nn.Module, x: torch.Tensor, **kw):
    before = _snapshot(model)
    types_before = [type(m) for m in model.modules()]
    applied = REGISTRY[tid](model, (x,), **kw)
    with torch.no_grad():
        ref = model(x)
    quality = fidelity(ref, applied())
    applied.restore()
    assert _unchanged(model, before), f"{tid} modified the user's model"
    assert [type(m) for m in model.modules()] == types_before
    return applied, quality


# --- registry -------------------------------------------------------------------------------


def test_every_applier_key_is_a_catalog_id_or_a_variant_of_one() -> None:
    cat = load_catalog()
    for tid in REGISTRY:
        base = tid.split("@", 1)[0].split("+", 1)[0]
        assert base in cat, f"applier {tid!r} is not a catalog id (nor <catalog id>+variant or @setting)"
    assert {"post-training-static-quantization", "torch-compile", "structured-filter-pruning",
            "onnx-runtime-inference", INT8_VARIANT} <= set(REGISTRY)  # fmt: skip


@needs_ort
def test_available_ids_drop_appliers_whose_extra_is_missing(monkeypatch) -> None:
    assert "onnx-runtime-inference" in available_ids()
    monkeypatch.setitem(REQUIRES, "onnx-runtime-inference", ("no_such_module_for_green_advisor",))
    ids = available_ids()
    assert "onnx-runtime-inference" not in ids and "post-training-static-quantization" in ids


# --- post-training static quantization ----------------------------------------------------------


def test_static_quant_fuses_conv_bn_relu_and_stays_close(cnn) -> None:
    model, x = cnn
    applied, q = _apply("post-training-static-quantization", model, x)
    s = applied.settings
    assert s["mode"] == "fx-graph" and s["calibration_batches"] == 1
    assert "optimistic" in s["calibration"]
    assert s["quantized_modules"].get("ConvReLU2d") == 2 and s["float_layers_left"] == []
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Conv2d, nn.Linear)) for m in applied.model.modules())
    assert q.top1_agreement >= 0.9 and q.cosine_similarity > 0.99


def test_static_quant_uses_the_callers_calibration_data(mlp) -> None:
    model, x = mlp
    held_out = [torch.randn(16, 64) for _ in range(4)]
    applied, q = _apply("post-training-static-quantization", model, x, calibration=held_out)
    assert applied.settings["calibration_batches"] == 4
    assert "caller" in applied.settings["calibration"]
    assert q.cosine_similarity > 0.98
    with pytest.raises(NotApplicable, match="empty"):
        REGISTRY["post-training-static-quantization"](model, (x,), calibration=[])


def test_static_quant_not_applicable_paths(encoder) -> None:
    model, x = encoder
    with pytest.raises(NotApplicable, match="FX tracing failed"):
        REGISTRY["post-training-static-quantization"](model, (x,))
    assert torch.backends.quantized.engine in torch.backends.quantized.supported_engines
    with pytest.raises(NotApplicable, match="no Conv1d/Conv2d/Conv3d/Linear"):
        REGISTRY["post-training-static-quantization"](nn.Sequential(nn.ReLU(), nn.Tanh()), (x,))


# --- structured filter pruning ------------------------------------------------------------------


@needs_tp
def test_filter_pruning_really_shrinks_the_cnn(cnn) -> None:
    model, x = cnn
    applied, q = _apply("structured-filter-pruning", model, x)
    s = applied.settings
    n_before = sum(p.numel() for p in model.parameters())
    n_after = sum(p.numel() for p in applied.model.parameters())
    assert s["params_before"] == n_before and s["params_after"] == n_after < 0.7 * n_before
    assert s["flops_after"] < s["flops_before"] and s["flops_reduction"] > 0.3
    assert s["ratio"] == 0.3 and "none" in s["fine_tuning"]
    convs = [m for m in applied.model.modules() if isinstance(m, nn.Conv2d)]
    assert [abs(c.out_channels - w * 0.7) <= 1 for c, w in zip(convs, (32, 64), strict=True)] == [True, True]
    assert applied.model[-1].out_features == 10  # the output layer keeps its width
    assert q.error is None and q.cosine_similarity > 0.0  # same output shape; accuracy drops without fine-tuning


@needs_tp
def test_filter_pruning_ratio_and_transformer(mlp, encoder) -> None:
    model, x = mlp
    light, q_light = _apply("structured-filter-pruning", model, x, ratio=0.1)
    heavy, q_heavy = _apply("structured-filter-pruning", model, x, ratio=0.5)
    assert heavy.settings["params_after"] < light.settings["params_after"] < light.settings["params_before"]
    assert q_light.cosine_similarity > q_heavy.cosine_similarity
    with pytest.raises(ValueError, match="ratio"):
        REGISTRY["structured-filter-pruning"](model, (x,), ratio=1.0)
    enc, xe = encoder
    applied, q = _apply("structured-filter-pruning", enc, xe)
    changed = applied.settings["layers_changed"]
    assert changed and all(k.endswith(("linear1", "linear2")) for k in changed)  # only the feed-forward widths
    assert all(a.embed_dim == 32 for a in applied.model.modules() if isinstance(a, nn.MultiheadAttention))
    assert q.error is None


@needs_tp
def test_filter_pruning_not_applicable_and_missing_extra(mlp, monkeypatch) -> None:
    model, x = mlp
    with pytest.raises(NotApplicable, match="no layer could shrink"):
        REGISTRY["structured-filter-pruning"](nn.Sequential(nn.Linear(64, 3)), (x,))
    with pytest.raises(NotApplicable, match="no Conv1d/Conv2d/Conv3d/Linear"):
        REGISTRY["structured-filter-pruning"](nn.Sequential(nn.ReLU()), (x,))
    monkeypatch.setitem(sys.modules, "torch_pruning", None)  # import now fails, as when not installed
    with pytest.raises(MissingExtraError, match=r"green-dl-advisor\[prune\]") as info:
        REGISTRY["structured-filter-pruning"](model, (x,))
    assert isinstance(info.value, NotApplicable)  # measure() records it as not-applicable


# --- ONNX Runtime -------------------------------------------------------------------------------


@needs_ort
@pytest.mark.parametrize("name", ["cnn", "mlp", "encoder"])
def test_onnx_runtime_matches_torch(name, request) -> None:
    model, x = request.getfixturevalue(name)
    applied, q = _apply("onnx-runtime-inference", model, x)
    assert isinstance(applied.model, OrtModel)
    assert q.max_abs_error < 1e-4 and q.cosine_similarity > 0.99999
    assert "CPUExecutionProvider" in applied.settings["providers"]
    smaller = x[:3]  # the batch dimension is dynamic
    with torch.no_grad():
        assert torch.allclose(applied.model(smaller), model(smaller), atol=1e-4)


@needs_ort
def test_onnx_runtime_int8_variant_is_smaller_and_close(cnn) -> None:
    model, x = cnn
    applied, q = _apply(INT8_VARIANT, model, x)
    s = applied.settings
    assert "quantize_dynamic" in s["quantization"] and s["onnx_int8_bytes"] < 0.5 * s["onnx_bytes"]
    assert s["quantized_op_types"] == ["Gemm"]  # convolutions stay fp32 by default
    assert q.top1_agreement >= 0.9 and q.cosine_similarity > 0.99
    with_conv, q_conv = _apply(INT8_VARIANT, model, x, op_types=("Gemm", "Conv"))
    assert with_conv.settings["quantized_op_types"] == ["Conv", "Gemm"]
    assert q_conv.cosine_similarity > 0.99
    convs_only = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    with pytest.raises(NotApplicable, match="no MatMul/Gemm node"):
        REGISTRY[INT8_VARIANT](convs_only, (x,))


@needs_ort
def test_onnx_runtime_not_applicable_paths(mlp, monkeypatch) -> None:
    model, x = mlp

    class TakesAList(nn.Module):
        def forward(self, xs):
            return xs[0] * 2

    with pytest.raises(NotApplicable, match="tensor inputs only"):
        REGISTRY["onnx-runtime-inference"](TakesAList(), ([x],))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"green-dl-advisor\[onnx\]"):
        REGISTRY["onnx-runtime-inference"](model, (x,))


# --- torch.compile ------------------------------------------------------------------------------


def test_torch_compile_with_a_missing_backend_is_not_applicable(mlp) -> None:
    model, x = mlp
    with pytest.raises(NotApplicable, match=r"torch\.compile failed"):
        compiled(model, (x,), backend="no-such-backend")


@pytest.mark.slow
def test_torch_compile_compiles_inside_the_applier() -> None:
    """Tiny model: inductor compilation takes ~8 s warm and ~35 s cold on 2 cores."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    x = torch.randn(8, 16)
    applied, q = _apply("torch-compile", model, x)
    assert applied.settings["compile_s"] > 0 and applied.settings["backend"] == "inductor"
    from torch._dynamo.utils import counters

    compiled_frames = counters["frames"]["ok"]
    assert compiled_frames >= 1
    applied()  # already compiled inside the applier: the measured calls compile nothing more
    assert counters["frames"]["ok"] == compiled_frames
    assert q.max_abs_error < 1e-5


# --- measure() with the new ids -----------------------------------------------------------------


@pytest.mark.slow
@needs_ort
@needs_tp
def test_measure_runs_the_new_appliers(mlp, tmp_path: Path) -> None:
    """One real run: ~25 s, as each technique's share of the budget is spent when timings are noisy."""
    model, x = mlp
    before = _snapshot(model)
    ids = ["post-training-static-quantization", "structured-filter-pruning", "onnx-runtime-inference", INT8_VARIANT]
    run = measure(model, x, ids, budget_s=30, store=ResultStore(tmp_path / "r.sqlite"), progress=False)
    assert _unchanged(model, before)
    by = {r.technique: r for r in run.results}
    assert [by[t].status for t in ids] == ["ok"] * 4, [(t, by[t].reason) for t in ids]
    for t in ids:
        assert by[t].timing.latency_ms_median > 0 and by[t].speedup > 0
        assert by[t].timing.energy_method.startswith(("estimated-", "measured-"))
    assert by["onnx-runtime-inference"].quality.max_abs_error < 1e-4
    assert (
        by["structured-filter-pruning"].settings["params_after"]
        < by["structured-filter-pruning"].settings["params_before"]
    )
    assert by["post-training-static-quantization"].predicted is not None
    assert by[INT8_VARIANT].predicted is None  # its entry (onnx-runtime-inference) has no latency figure
    assert json.loads(run.to_json())["results"][0]["settings"]["mode"] == "fx-graph"


# --- batch-size sweep ---------------------------------------------------------------------------


def test_resize_batch_repeats_and_slices() -> None:
    x = torch.arange(6.0).reshape(3, 2)
    mask = torch.ones(7)  # not batched (dim 0 differs): passed unchanged
    big, m = resize_batch((x, mask), 7)
    assert big.shape == (7, 2) and torch.equal(big[3:6], x) and m is mask
    (small,) = resize_batch((x,), 2)
    assert torch.equal(small, x[:2])
    with pytest.raises(ProfileError, match="batch dimension"):
        resize_batch((torch.tensor(1.0),), 4)


def test_batch_sweep_rows(mlp) -> None:
    model, x = mlp
    model.train()
    rows = batch_sweep(model, x, sizes=(16, 1, 4), budget_s=3.0)
    assert model.training  # mode restored
    model.eval()
    assert [r.batch_size for r in rows] == [1, 4, 16] and all(r.status == "ok" for r in rows)
    for r in rows:
        assert r.latency_ms_per_item == pytest.approx(r.latency_ms_median / r.batch_size)
        assert r.throughput_per_s == pytest.approx(r.batch_size / (r.latency_ms_median / 1000))
        assert r.energy_j_per_item > 0 and r.energy_method.startswith(("estimated-", "measured-"))
        assert r.latency_ms_iqr >= 0 and r.peak_memory_mib > 0 and r.memory_method == "process-peak-rss"
    acts = [r.activation_mib for r in rows]
    assert acts[0] < acts[1] < acts[2]
    assert json.loads(json.dumps([r.to_dict() for r in rows]))[0]["batch_size"] == 1


class _Slow(nn.Module):
    def forward(self, x):
        time.sleep(0.05)
        return x * 2


class _OomAbove(nn.Module):
    def __init__(self, limit: int, exc: BaseException) -> None:
        super().__init__()
        self.limit, self.exc = limit, exc

    def forward(self, x):
        if x.shape[0] > self.limit:
            raise self.exc
        return x + 1


def test_batch_sweep_stops_on_budget_and_memory() -> None:
    x = torch.randn(4, 3)
    rows = batch_sweep(_Slow(), x, sizes=(1, 2, 4), budget_s=0.05)
    assert rows[0].status == "ok" and rows[-1].status == "skipped-budget"
    for exc in (MemoryError(), RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")):
        rows = batch_sweep(_OomAbove(8, exc), x, sizes=(2, 8, 32, 64), budget_s=1.0)
        assert [r.status for r in rows] == ["ok", "ok", "out-of-memory", "skipped-budget"]
        assert rows[1].latency_ms_median > 0  # what was measured is kept
    rows = batch_sweep(_OomAbove(2, ValueError("needs batch <= 2")), x, sizes=(2, 4), budget_s=1.0)
    assert [r.status for r in rows] == ["ok", "failed"] and "needs batch" in rows[1].reason


def test_batch_sweep_rejects_bad_arguments(mlp) -> None:
    model, x = mlp
    with pytest.raises(ConstraintError, match="sizes"):
        batch_sweep(model, x, sizes=(0, 8))
    with pytest.raises(ConstraintError, match="budget_s"):
        batch_sweep(model, x, budget_s=0)


def test_cli_sweep(tmp_path: Path, capsys) -> None:
    from advisor import cli

    spec = tmp_path / "factory.py"
    spec.write_text(
        "import torch\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)), "
        "torch.randn(4, 8)\n"
    )
    assert cli.main(["sweep", "--model", f"{spec}:make", "--sizes", "1,8", "--budget-s", "2", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["batch_size"] for r in rows] == [1, 8] and rows[1]["status"] == "ok"
    assert cli.main(["sweep", "--model", f"{spec}:make", "--sizes", "2", "--budget-s", "1"]) == 0
    out = capsys.readouterr().out
    assert "J/item" in out and "energy: " in out
    assert cli.main(["sweep", "--model", f"{spec}:make", "--sizes", "1,x"]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_dynamic_int8_runs_a_transformer_encoder_in_eval_mode(encoder) -> None:
    """The fused fast path would read a quantized projection's ``weight`` (a method) as a tensor."""
    model, x = encoder
    before = _snapshot(model)
    applied = REGISTRY["post-training-dynamic-quantization"](model, (x,))
    with torch.no_grad():
        ref = model(x)
    out = applied()
    assert "disabled" in applied.settings["transformer_fastpath"]
    assert fidelity(ref, out).cosine_similarity > 0.99
    assert torch.backends.mha.get_fastpath_enabled()  # switched back on after the call
    assert _unchanged(model, before)
