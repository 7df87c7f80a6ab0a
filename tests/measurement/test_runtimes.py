"""Runtimes and quantizers users would pick themselves: OpenVINO/NNCF, torchao, PT2E, bf16, ONNX Runtime, stacks.

Real models built from ``transformers`` configs (BERT-like encoder, ResNet, MobileNetV2), kept tiny.
Tests that compile with ``torch.compile`` take tens of seconds on 2 cores and are marked slow.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from advisor import MissingApplierDependencyError, NotApplicable  # noqa: E402
from advisor.measurement.appliers import (  # noqa: E402
    EXAMPLE_NOTE,
    REGISTRY,
    apply_technique,
    available_ids,
    candidate_stacks,
    split_variant,
    stack_id,
)
from advisor.measurement.quality import degenerate_reason, fidelity, first_tensor  # noqa: E402
from tests.measurement._hf_models import (  # noqa: E402
    SmallCNN,
    image_batch,
    settle_batchnorm,
    tiny_bert,
    tiny_mobilenet,
    tiny_resnet,
    token_batch,
)


def _needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed")


@pytest.fixture(scope="module")
def bert():
    return tiny_bert(), token_batch()


@pytest.fixture(scope="module")
def resnet():
    return tiny_resnet(), image_batch()


@pytest.fixture(scope="module")
def mobilenet():
    return tiny_mobilenet(), image_batch()


def _quality(model, inputs, applied):
    with torch.no_grad():
        ref = model(*inputs)
    return fidelity(ref, applied())


# --- variant ids, stacks ---------------------------------------------------------------------------
def test_split_variant_keeps_registered_suffixes_and_settings():
    assert split_variant("onnx-runtime-inference+int8") == ["onnx-runtime-inference+int8"]
    assert split_variant("structured-filter-pruning+onnx-runtime-inference+static-int8") == [
        "structured-filter-pruning",
        "onnx-runtime-inference+static-int8",
    ]
    assert split_variant("torch-compile+bfloat16@weights") == ["torch-compile", "bfloat16@weights"]
    with pytest.raises(NotApplicable, match="no applier for 'no-such-thing'"):
        split_variant("torch-compile+no-such-thing")


def test_stack_order_is_sensible_whatever_the_id_says():
    assert stack_id(["torch-compile", "structured-filter-pruning"]) == "structured-filter-pruning+torch-compile"
    assert stack_id(["onnx-runtime-inference+int8", "structured-filter-pruning"]).startswith("structured-filter")
    # OpenVINO conversion is part of the NNCF applier
    assert stack_id(["openvino-runtime", "nncf-post-training-quantization"]) == "nncf-post-training-quantization"


@pytest.mark.parametrize(
    ("variant", "match"),
    [
        ("onnx-runtime-inference+openvino-runtime", "separate runtimes"),
        ("post-training-dynamic-quantization+post-training-static-quantization", "alternative quantizers"),
        ("bfloat16+onnx-runtime-inference", "do not carry into"),
        ("torchao-int8-dynamic-quantization+torch-compile", "compiles .* itself"),
        ("post-training-dynamic-quantization+onnx-runtime-inference", "quantize themselves"),
        ("channels-last-memory-format+openvino-runtime", "do not carry into"),
    ],
)
def test_impossible_stacks_say_why(resnet, variant, match):
    model, inputs = resnet
    with pytest.raises(NotApplicable, match=match):
        apply_technique(variant, model, inputs)


def test_candidate_stacks_follow_catalog_relations():
    stacks = candidate_stacks(available_ids())
    # pruning complements quantization (through the techniques they specialise)
    assert "structured-filter-pruning+post-training-static-quantization" in stacks
    # alternative-to in the catalog: never stacked
    assert not any({"onnx-runtime-inference", "torch-compile"} <= set(s.split("+")) for s in stacks)
    # two runtimes or two quantizers: never
    assert "post-training-dynamic-quantization+post-training-static-quantization" not in stacks
    for s in stacks:
        assert stack_id(s.split("+")) == s or "+int8" in s or "+static-int8" in s


def test_pruning_then_static_int8_with_calibration(resnet):
    pytest.importorskip("torch_pruning")
    model = settle_batchnorm(SmallCNN(), (8, 3, 32, 32))
    (x,) = image_batch(4)
    calib = [image_batch(4, seed=s)[0] for s in range(2, 5)]
    a = apply_technique(
        "post-training-static-quantization+structured-filter-pruning", model, (x,), calibration_data=calib
    )
    assert a.settings["stack"] == ["structured-filter-pruning", "post-training-static-quantization"]
    assert a.settings["structured-filter-pruning"]["layers_changed"]
    assert "caller's calibration_data" in a.settings["calibration"]  # one note for every static quantizer
    assert a.settings["post-training-static-quantization"]["calibration_batches"] == 3
    assert first_tensor(a()).shape == first_tensor(model(x)).shape


# --- ONNX Runtime on Hugging Face models ------------------------------------------------------------
@_needs("onnxruntime")
@pytest.mark.parametrize("which", ["bert", "resnet", "mobilenet"])
def test_ort_exports_hf_models_and_keeps_output_type(which, request):
    model, inputs = request.getfixturevalue(which)
    a = apply_technique("onnx-runtime-inference", model, inputs)
    out = a()
    with torch.no_grad():
        ref = model(*inputs)
    assert type(out) is type(ref)  # ModelOutput rebuilt: eval_fn reading .logits keeps working
    q = fidelity(ref, out)
    assert q.cosine_similarity > 0.9999 and q.degenerate is None and q.fidelity_flag is None
    assert "inputs passed by name" in a.settings["wrapper"]
    # no spinning workers running into the next measured block
    assert a.model.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


@_needs("onnxruntime")
def test_ort_static_int8_is_calibrated_qdq(resnet):
    import onnx

    model, inputs = resnet
    a = apply_technique("onnx-runtime-inference+static-int8", model, inputs)
    assert a.settings["calibration"] == EXAMPLE_NOTE  # no calibration data: the result says so
    assert "QDQ" in a.settings["quantization"]
    ops = {n.op_type for n in onnx.load_from_string(a.model.model_bytes).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert _quality(model, inputs, a).cosine_similarity > 0.99
    calib = [image_batch(4, seed=s) for s in range(2, 5)]
    b = apply_technique("onnx-runtime-inference+static-int8", model, inputs, calibration_data=calib)
    assert b.settings["calibration_batches"] == 3 and "caller's" in b.settings["calibration"]


# --- OpenVINO and NNCF --------------------------------------------------------------------------------
@pytest.mark.slow  # ~5-20 s: OpenVINO conversion and compilation
@_needs("openvino")
def test_openvino_default_and_fp32_record_the_precision_used(bert):
    model, inputs = bert
    a = apply_technique("openvino-runtime", model, inputs)
    used = a.model.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    assert a.settings["inference_precision"] == used and a.settings["precision_requested"] == "runtime default"
    f = apply_technique("openvino-runtime@fp32", model, inputs)
    assert f.settings["inference_precision"] == "f32"
    q = _quality(model, inputs, f)
    assert q.max_abs_error < 1e-3 and q.cosine_similarity > 0.99999
    assert _quality(model, inputs, a).cosine_similarity > 0.999
    assert type(a()).__name__ == type(model(*inputs)).__name__


@pytest.mark.slow  # ~5-20 s: OpenVINO conversion and compilation
@_needs("nncf")
def test_nncf_int8_transformer_preset_and_cnn(bert, mobilenet):
    model, inputs = bert
    a = apply_technique("nncf-post-training-quantization", model, inputs)
    assert a.settings["model_type"].startswith("TRANSFORMER")
    assert a.settings["fake_quantize_nodes"] > 0 and a.settings["calibration"] == EXAMPLE_NOTE
    assert _quality(model, inputs, a).cosine_similarity > 0.99
    cnn, x = mobilenet
    calib = [image_batch(4, seed=s) for s in range(2, 4)]
    b = apply_technique("openvino-runtime+nncf-post-training-quantization", cnn, x, calibration_data=calib)
    assert b.settings["model_type"].startswith("default") and b.settings["calibration_batches"] == 2
    q = _quality(cnn, x, b)
    assert q.degenerate is None and q.cosine_similarity is not None


# --- torchao and PT2E ---------------------------------------------------------------------------------
@_needs("torchao")
@pytest.mark.parametrize("variant", ["torchao-int8-dynamic-quantization", "torchao-int8-weight-only-quantization"])
def test_torchao_quantize_keeps_fidelity(bert, variant):
    model, inputs = bert
    a = REGISTRY[variant](model, inputs, compile=False)  # the quantization itself; compile is tested (slow) below
    assert "quantize_" in a.settings["call"]
    weights = [m.weight for m in a.model.modules() if isinstance(m, torch.nn.Linear)]
    assert weights and all(type(w) is not torch.nn.Parameter and type(w) is not torch.Tensor for w in weights)
    assert _quality(model, inputs, a).cosine_similarity > 0.999


@_needs("torchao")
def test_torchao_needs_linear_layers():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()).eval()
    with pytest.raises(NotApplicable, match=r"no nn\.Linear"):
        apply_technique("torchao-int8-dynamic-quantization", conv, image_batch())


@_needs("torchao")
@pytest.mark.parametrize("which", ["resnet", "bert"])
def test_pt2e_x86_static_int8(which, request):
    model, inputs = request.getfixturevalue(which)
    a = REGISTRY["pt2e-x86-static-quantization"](model, inputs, compile=False)
    assert a.settings["quantized_weights"] > 0 and a.settings["calibration"] == EXAMPLE_NOTE
    assert _quality(model, inputs, a).cosine_similarity > 0.99


@pytest.mark.slow
@_needs("torchao")
def test_compiled_variants(resnet):
    model, inputs = resnet
    for variant in ("torchao-int8-dynamic-quantization", "pt2e-x86-static-quantization", "bfloat16+torch-compile"):
        a = apply_technique(variant, model, inputs)
        assert a.settings.get("compile_s", a.settings.get("torch-compile", {}).get("compile_s")) > 0
        q = _quality(model, inputs, a)
        assert q.cosine_similarity > 0.98, (variant, q)
    # autocast wraps the compiled call: compiled under the context it is measured in
    assert apply_technique("torch-compile+bfloat16", model, inputs).settings["stack"] == ["bfloat16", "torch-compile"]


# --- bf16 ---------------------------------------------------------------------------------------------
def test_bf16_weights_casts_model_and_back(bert):
    model, inputs = bert
    a = apply_technique("bfloat16@weights", model, inputs)
    assert {p.dtype for p in a.model.parameters()} == {torch.bfloat16}
    out = a()
    assert first_tensor(out).dtype == torch.float32
    assert _quality(model, inputs, a).cosine_similarity > 0.99
    assert next(model.parameters()).dtype == torch.float32  # the user's model is untouched


def test_bf16_only_on_request_without_bf16_hardware(monkeypatch, resnet):
    from advisor.measurement.appliers import _bf16
    from advisor.profile import HardwareProfile

    monkeypatch.setattr(_bf16, "_hardware", lambda: HardwareProfile(cpu_features=["avx2"]))
    assert not {"bfloat16", "bfloat16@weights", "bfloat16+torch-compile"} & set(available_ids())
    assert "bfloat16" in available_ids(include_reduced_precision=True)
    model, inputs = resnet
    a = apply_technique("bfloat16", model, inputs)  # asked for by name: runs, with the warning
    assert a.warnings and "no bf16 units" in a.settings["warning"]
    assert a.settings["device"] == "cpu"


# --- dependencies, quality ----------------------------------------------------------------------------
def test_missing_package_is_not_applicable_with_pip_command(monkeypatch, bert):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    model, inputs = bert
    with pytest.raises(MissingApplierDependencyError, match="pip install") as err:
        apply_technique("openvino-runtime", model, inputs)
    assert isinstance(err.value, NotApplicable) and "openvino" in str(err.value)


def test_fidelity_flags_and_degenerate_outputs():
    ref = torch.randn(8, 10)
    noisy = ref + 0.8 * torch.randn(8, 10)
    q = fidelity(ref, noisy)
    assert q.fidelity_flag and "cosine similarity" in q.fidelity_flag
    assert fidelity(ref, ref).fidelity_flag is None
    const = torch.full((8, 10), 0.1)
    q = fidelity(ref, const)
    assert q.degenerate and "constant" in q.degenerate and q.cosine_similarity is None
    same_rows = ref[:1].repeat(8, 1)
    assert "every input" in fidelity(ref, same_rows).degenerate
    assert degenerate_reason(torch.tensor([[1.0, float("nan")]])).startswith("non-finite")
    # identical rows from the original (identical inputs) are one distinct input: nothing to verify on, unverified
    same = fidelity(same_rows, same_rows)
    assert "every input" in same.degenerate and same.quality_status == "unverified"
    assert fidelity(ref, same_rows).quality_status == "failed"  # the variant collapsed, the original did not


def test_random_mobilenet_without_settled_batchnorm_is_reported_degenerate():
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification

    torch.manual_seed(0)
    m = MobileNetV2ForImageClassification(MobileNetV2Config(image_size=32, depth_multiplier=0.35)).eval()
    (x,) = image_batch()
    with torch.no_grad():
        q = fidelity(m(x), m(x))
    assert q.degenerate and q.cosine_similarity is None


def test_flag_reaches_result_rows():
    from advisor.measurement import TechniqueResult, result_row

    ref = torch.randn(8, 10)
    flagged = TechniqueResult("x", "ok", None, quality=fidelity(ref, ref + torch.randn(8, 10)))
    row = result_row(flagged)
    assert row["fidelity_flag"].startswith("fidelity loss") and row["cosine_similarity"] < 0.99
    assert result_row(TechniqueResult("y", "ok", None, quality=fidelity(ref, ref)))["fidelity_flag"] is None


def test_pruning_keeps_hf_attention_whole(bert):
    pytest.importorskip("torch_pruning")
    model, inputs = bert
    a = apply_technique("structured-filter-pruning", model, inputs)
    assert a.settings["layers_changed"] and all("attention" not in k for k in a.settings["layers_changed"])
    assert _quality(model, inputs, a).degenerate is None  # the pruned encoder still runs
