"""The advisor in situations a domain expert would check, on the real catalog."""

from __future__ import annotations

import json

import pytest

from advisor import load_catalog
from advisor.profile.constraints import Constraints
from advisor.profile.hardware import HardwareProfile
from advisor.profile.model import ModelProfile
from advisor.recommendation import recommend

CAT = load_catalog()

AVX2_LAPTOP = HardwareProfile(cpu_model="Ryzen 7 3700X", arch="x86_64", physical_cores=8, logical_cores=16,
                              cpu_features=["avx2", "fma"], memory_gib=32)  # fmt: skip
VNNI_XEON = HardwareProfile(cpu_model="Xeon 8280", arch="x86_64", physical_cores=28, logical_cores=56,
                            cpu_features=["avx2", "avx512", "avx512-vnni", "fma"], memory_gib=192)  # fmt: skip
BF16_XEON = VNNI_XEON.model_copy(update={"cpu_features": [*VNNI_XEON.cpu_features, "avx512-bf16", "amx", "amx-bf16"]})
A100_SERVER = HardwareProfile(
    cpu_model="EPYC 7742", arch="x86_64", physical_cores=64, logical_cores=128, cpu_features=["avx2", "fma"],
    memory_gib=512, gpus=[{"name": "NVIDIA A100-SXM4-40GB", "memory_gib": 40, "compute_capability": (8, 0)}],
    nvml={"readable": True, "detail": "fake"},
)  # fmt: skip

CNN = ModelProfile(name="resnet-like", family="cnn", n_parameters=11_000_000, forward_flops=3_600_000_000,
                   flop_share={"convolution": 0.95, "linear": 0.05}, dynamic_quantizable_share=0.05,
                   layer_counts={"convolution": 20, "linear": 1, "normalization": 20}, source="test")  # fmt: skip
PURE_CONV = CNN.model_copy(update={"flop_share": {"convolution": 1.0}, "dynamic_quantizable_share": 0.0,
                                   "layer_counts": {"convolution": 20}})  # fmt: skip
BERT = ModelProfile(name="bert-base", family="transformer", n_parameters=110_000_000,
                    flop_share={"linear": 0.6, "attention": 0.35, "embedding": 0.05}, dynamic_quantizable_share=0.6,
                    layer_counts={"linear": 48, "attention": 12, "embedding": 3}, source="test")  # fmt: skip
MLP = ModelProfile(name="mlp", family="mlp", n_parameters=1_000_000, flop_share={"linear": 1.0},
                   dynamic_quantizable_share=1.0, layer_counts={"linear": 3}, source="test")  # fmt: skip


def rec(model, hw, **c):
    return recommend(model, hw, Constraints(**c), CAT)


def reasons(result, tid: str) -> str:
    return " | ".join(f.text for e in result.excluded_items if e.id == tid for f in e.reasons)


def test_every_technique_is_recommended_or_excluded_with_a_reason() -> None:
    r = rec(BERT, VNNI_XEON)
    ids = set(r.ids) | {e.id for e in r.excluded_items}
    assert ids == set(CAT.ids)
    assert not set(r.ids) & {e.id for e in r.excluded_items}
    assert all(e.reasons for e in r.excluded_items)


def test_transformer_training_on_ampere_gets_mixed_precision_near_the_top() -> None:
    r = rec(BERT.model_copy(update={"phase": "training"}), A100_SERVER, phase="training", objective="energy",
            retraining="full")  # fmt: skip
    assert r.rank_of("mixed-precision-training") is not None
    assert r.rank_of("mixed-precision-training") <= 10, r.table(12)


def test_cnn_on_avx2_cpu_is_warned_that_int8_gains_are_small() -> None:
    slow = rec(CNN, AVX2_LAPTOP, objective="latency", data="calibration")
    fast = rec(CNN, VNNI_XEON, objective="latency", data="calibration")
    tid = "post-training-static-quantization"
    assert any("VNNI" in w.text for w in slow[tid].warnings)
    assert not any("VNNI" in w.text for w in fast[tid].warnings)
    assert slow[tid].estimate.saving < fast[tid].estimate.saving


def test_no_gpu_means_no_tensor_core_advice() -> None:
    r = rec(BERT, VNNI_XEON, phase="both", retraining="full")
    for t in CAT:
        feats = set(t.applicability.requires_features)
        if (feats and feats <= {"tensor-cores", "sparse-tensor-cores", "fp8", "tf32"}) or set(
            t.applicability.hardware
        ) == {"gpu"}:
            assert t.id not in r.ids, t.id
    assert "GPU" in reasons(r, "tensor-cores") or "gpu" in reasons(r, "tensor-cores")


def test_no_retraining_excludes_quantization_aware_training_with_that_reason() -> None:
    r = rec(CNN, VNNI_XEON, retraining="none")
    assert "quantization-aware-training" not in r.ids
    assert "retraining" in reasons(r, "quantization-aware-training")


def test_edge_target_favours_quantization_and_pruning() -> None:
    r = rec(CNN, AVX2_LAPTOP, objective="model-size", target="edge", retraining="fine-tuning", effort="high",
            max_accuracy_drop_pp=2.0)  # fmt: skip
    top = r.ids[:5]
    assert any("quantiz" in i or "prun" in i or "compression" in i for i in top), top


def test_dynamic_quantization_not_applicable_without_linear_layers() -> None:
    r = rec(PURE_CONV, VNNI_XEON, objective="latency")
    assert "no Linear/LSTM/GRU layers" in reasons(r, "post-training-dynamic-quantization")


def test_dynamic_quantization_gain_scales_with_linear_share() -> None:
    tid = "post-training-dynamic-quantization"
    mlp = rec(MLP, VNNI_XEON, objective="latency")[tid].estimate
    bert = rec(BERT, VNNI_XEON, objective="latency")[tid].estimate
    assert mlp.saving > bert.saving > 0
    assert bert.saving == pytest.approx(mlp.saving * 0.6, rel=1e-6)
    assert any("60%" in a for a in bert.adjustments)


def test_bf16_without_hardware_support_is_excluded_as_a_slowdown() -> None:
    no = rec(BERT, VNNI_XEON, objective="latency", phase="both", retraining="full")
    yes = rec(BERT, BF16_XEON, objective="latency", phase="both", retraining="full")
    assert "slower" in reasons(no, "bfloat16")
    assert "slower" not in reasons(yes, "bfloat16")


def test_training_phase_excludes_inference_only_techniques() -> None:
    r = rec(BERT, A100_SERVER, phase="training", retraining="full")
    assert "you asked for training" in reasons(r, "post-training-dynamic-quantization")


def test_carbon_objective_surfaces_region_choice() -> None:
    r = rec(BERT, A100_SERVER, phase="training", objective="carbon", retraining="full", effort="high")
    assert r.rank_of("carbon-aware-region-selection") is not None
    where = next(g for g in r.groups() if g.key == "where-you-run")
    tops = [e.rec.id for e in where.entries]  # families, each ranked by its best member
    assert "carbon-aware-region-selection" in tops[:3], tops


def test_zero_accuracy_budget_keeps_only_lossless_techniques() -> None:
    r = rec(BERT, VNNI_XEON, max_accuracy_drop_pp=0.0, effort="high", retraining="full")
    assert r.recommended
    assert all(x.accuracy_risk == "none" for x in r.recommended)


def test_no_data_excludes_calibration_based_quantization() -> None:
    r = rec(CNN, VNNI_XEON, data="none")
    assert "needs calibration data" in reasons(r, "post-training-static-quantization")


def test_no_evidence_means_no_number() -> None:
    r = rec(BERT, VNNI_XEON, phase="both", retraining="full", effort="high", max_accuracy_drop_pp=5)
    without = [x for x in r.recommended if x.estimate.ratio is None]
    assert without, "some techniques have no figure for this objective"
    assert all(x.expected_text() == "no quantitative evidence" for x in without)


def test_why_items_point_at_real_evidence() -> None:
    r = rec(BERT, VNNI_XEON)
    for x in r.recommended:
        t = CAT.get(x.id)
        for f in x.why:
            if f.ref.startswith("evidence["):
                i = int(f.ref[len("evidence[") : -1])
                assert i < len(t.evidence)
                assert t.evidence[i].reference in f.text


def test_explain_answers_why_not() -> None:
    r = rec(CNN, AVX2_LAPTOP, retraining="none")
    text = r.explain("quantization-aware-training")
    assert "NOT recommended" in text and "retraining" in text


def test_stacks_are_compatible_and_discount_overlap() -> None:
    r = rec(BERT, VNNI_XEON, phase="inference", objective="energy", effort="high", max_accuracy_drop_pp=2)
    stacks = r.stacks(n=3)
    assert stacks
    bad = {frozenset((t.id, x.target)) for t in CAT for x in t.relations
           if x.type in ("conflicts-with", "alternative-to", "specializes")}  # fmt: skip
    requires = {t.id: {x.target for x in t.relations if x.type == "requires"} for t in CAT}
    for s in stacks:
        assert len(set(s.ids)) == len(s.ids) >= 2
        for a in s.ids:
            assert requires[a] <= set(s.ids)
            for b in s.ids:
                assert frozenset((a, b)) not in bad or a == b
        if s.ratio is not None:
            assert s.ratio >= s.naive_ratio  # never the plain product


def test_deterministic_json() -> None:
    a = rec(BERT, VNNI_XEON).to_json()
    b = rec(BERT, VNNI_XEON).to_json()
    assert a == b
    payload = json.loads(a)
    assert payload["recommended"][0]["rank"] == 1
    assert {"id", "score", "estimate", "why", "warnings", "measurable_here"} <= set(payload["recommended"][0])


# --- issue 11: real models, traits, groups, evidence in context, knowledge ---------------------------------
GENERATIVE = {"speculative-decoding", "kv-cache", "static-kv-cache-compile", "prompt-lookup-decoding",
              "weight-only-llm-quantization", "gptq", "continuous-batching-paged-attention"}  # fmt: skip
OPEN = {"retraining": "full", "effort": "high", "data": "labelled", "max_accuracy_drop_pp": 5.0}


def _live(model, inputs, **kw):
    from advisor.profile import profile_model

    return profile_model(model, inputs, **kw)


@pytest.fixture(scope="module")
def encoder():
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    m = BertModel(BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                             vocab_size=100, max_position_embeddings=32)).eval()  # fmt: skip
    return _live(m, torch.randint(0, 100, (2, 16)), name="bert-tiny")


@pytest.fixture(scope="module")
def decoder():
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    m = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=32,
                                   bos_token_id=0, eos_token_id=0)).eval()  # fmt: skip
    return _live(m, torch.randint(0, 100, (1, 8)), name="gpt2-tiny")


@pytest.fixture(scope="module")
def vit():
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(0)
    m = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                           image_size=32, patch_size=8)).eval()  # fmt: skip
    return _live(m, torch.randn(2, 3, 32, 32), name="vit-tiny")


@pytest.fixture(scope="module")
def cnn():
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1),
                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)).eval()  # fmt: skip
    return _live(m, torch.randn(4, 3, 32, 32), name="cnn-small")


def test_profiles_report_architecture_traits(encoder, decoder, vit, cnn) -> None:
    assert encoder.architectures == ["encoder-only"] and not encoder.can_generate
    assert encoder.sequence_length == 16
    assert decoder.architectures == ["generative-decoder"] and decoder.can_generate
    assert vit.architectures == ["vision-transformer"]
    assert cnn.architectures == ["convolutional"] and cnn.dtype == "float32" and cnn.device == "cpu"


def test_encoder_gets_no_generative_technique_in_groups_one_or_two(encoder) -> None:
    r = recommend(encoder, VNNI_XEON, Constraints(**OPEN), CAT, measurable=["torch-compile"])
    top = {x.id for x in r.recommended if x.group in ("apply-now", "more-effort")}
    assert not top & GENERATIVE, top & GENERATIVE
    for tid in GENERATIVE & set(CAT.ids):
        assert "generative-decoder" in reasons(r, tid) and "encoder-only" in reasons(r, tid), tid
    assert "vision-transformer" in reasons(r, "token-merging")


def test_decoder_with_generate_is_offered_speculative_decoding_and_kv_cache(decoder) -> None:
    r = recommend(decoder, A100_SERVER, Constraints(**OPEN), CAT)
    for tid in ("speculative-decoding", "kv-cache"):
        assert "generative-decoder" not in reasons(r, tid), reasons(r, tid)
    both = ("speculative-decoding", "kv-cache")
    assert set(both) <= set(r.ids), [reasons(r, t) for t in both]


def test_vit_is_offered_token_merging(vit) -> None:
    r = recommend(vit, VNNI_XEON, Constraints(**OPEN), CAT)
    assert "token-merging" in r.ids, reasons(r, "token-merging")


def test_cnn_gets_channels_last_and_static_int8_to_apply_now(cnn) -> None:
    measurable = ["channels-last-memory-format", "post-training-static-quantization", "torch-compile",
                  "openvino-runtime", "openvino-runtime@fp32"]  # fmt: skip
    r = recommend(cnn, VNNI_XEON, Constraints(data="calibration", retraining="none", effort="high"), CAT,
                  measurable=measurable)  # fmt: skip
    now = [x.id for x in r.in_group("apply-now")]
    assert {"channels-last-memory-format", "post-training-static-quantization"} <= set(now), now
    assert all(x.measurable_here for x in r.in_group("apply-now"))
    assert r.recommended[0].group == "apply-now"  # what you can do now comes before buying hardware


def test_groups_come_in_order_and_parents_head_their_children(cnn) -> None:
    r = recommend(cnn, VNNI_XEON, Constraints(**OPEN), CAT)
    from advisor.recommendation import GROUPS

    order = [GROUPS.index(x.group) for x in r.recommended]
    assert order == sorted(order)
    kinds = {x.group: x.kind for x in r.recommended}
    assert kinds.get("where-you-run") == "infrastructure" and kinds.get("practices") == "practice"
    nested = [(g, e) for g in r.groups() for e in g.entries if e.children]
    assert nested, "some recommended technique specialises another recommended one"
    for _g, e in nested:
        for child in e.children:
            assert child.rec.parent == e.rec.id or CAT.get(child.rec.id).parent is not None


def test_ranking_does_not_depend_on_what_is_measurable(cnn) -> None:
    c = Constraints(**OPEN)
    a = recommend(cnn, VNNI_XEON, c, CAT, measurable=[])
    b = recommend(cnn, VNNI_XEON, c, CAT, measurable=["torch-compile", "post-training-static-quantization"])
    assert {x.id: x.score for x in a.recommended} == {x.id: x.score for x in b.recommended}
    assert b["torch-compile"].group == "apply-now" and a["torch-compile"].group != "apply-now"


def test_evidence_from_another_hardware_class_is_discounted_with_the_reason() -> None:
    gpu_only = [
        t
        for t in CAT
        if t.evidence
        and {e.hardware_class for e in t.evidence} == {"datacenter-gpu"}
        and any(e.basis == "saving" and e.metric in ("latency", "throughput", "energy") for e in t.evidence)
    ]
    assert gpu_only
    from advisor.recommendation import estimate

    t = gpu_only[0]
    on_gpu = estimate(t, "latency", {"inference", "training"}, machine_class="datacenter-gpu")
    on_cpu = estimate(t, "latency", {"inference", "training"}, machine_class="server-cpu")
    assert on_gpu.discount == 1.0 and on_cpu.discount < 1.0
    assert on_cpu.ratio > on_gpu.ratio  # a smaller saving on a CPU
    assert any("datacenter GPU" in a and "server CPU" in a for a in on_cpu.adjustments)


def test_only_saving_evidence_feeds_the_estimate() -> None:
    r = rec(BERT, A100_SERVER, phase="both", retraining="full", effort="high", max_accuracy_drop_pp=5)
    for x in r.recommended:
        t = CAT.get(x.id)
        assert all(t.evidence[i].basis == "saving" for i in x.estimate.basis), x.id


def test_measurements_here_outweigh_the_literature_and_say_so(cnn) -> None:
    from advisor.recommendation import Observation

    slow = Observation("torch-compile", 1.6, 1.5, 1.7, 1.55, "slower", "20260101-120000-abc123", "2026-01-01",
                       "other-cnn", ("convolutional",), cnn.n_parameters, cnn.batch_size)  # fmt: skip
    fast = Observation("post-training-static-quantization", 0.25, 0.22, 0.28, 0.24, "faster",
                       "20260102-120000-def456", "2026-01-02", "other-cnn", ("convolutional",),
                       cnn.n_parameters * 2, cnn.batch_size)  # fmt: skip
    c = Constraints(data="calibration", retraining="none", effort="high")
    before = recommend(cnn, VNNI_XEON, c, CAT)
    after = recommend(cnn, VNNI_XEON, c, CAT, knowledge=[slow, fast])
    assert "torch-compile" in before.ids and "torch-compile" not in after.ids
    assert "measured 1.55x energy (slower)" in reasons(after, "torch-compile")
    assert "run 20260101-120000-abc123" in reasons(after, "torch-compile")
    q = after["post-training-static-quantization"]
    assert q.estimate.measured == ("20260102-120000-def456",)
    assert q.estimate.ratio < 0.5 and q.why[0].kind == "measurement" and "similar" in q.why[0].text
    assert q.score > before["post-training-static-quantization"].score
    # a measurement on an unrelated model (an encoder 1000x larger) is not used
    far = Observation("torch-compile", 1.6, 1.5, 1.7, 1.55, "slower", "r", "2026-01-01", "bert",
                      ("encoder-only",), cnn.n_parameters * 1000, 256)  # fmt: skip
    assert "torch-compile" in recommend(cnn, VNNI_XEON, c, CAT, knowledge=[far]).ids
