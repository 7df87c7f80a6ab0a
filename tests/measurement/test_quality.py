"""Quality in every verdict: held-out inputs, the metric per output kind, the one rule, the gate in tune, recoveries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import advisor
from advisor import Constraints
from advisor.measurement import Comparison, Interval, TechniqueResult
from advisor.measurement._held_out import held_out
from advisor.measurement.appliers import REGISTRY, Applied, no_grad_eval
from advisor.measurement.quality import Quality, fidelity, fidelity_over, judge_quality, output_kind
from advisor.measurement.run import measure
from advisor.tuning import TunePlan, judge
from advisor.tuning._recover import recovery_queue, recovery_records
from advisor.tuning._tune import _pick

LENIENT = Constraints(
    phase="inference",
    objective="latency",
    max_accuracy_drop_pp=1.0,
    retraining="none",
    data="calibration",
    effort="high",
)


# --- held-out inputs -----------------------------------------------------------------------------------------
def test_generated_held_out_inputs_differ_from_the_examples_and_keep_shape_dtype_and_range() -> None:
    torch.manual_seed(0)
    ids = torch.randint(5, 900, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    img = torch.randn(2, 3, 8, 8) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 3
    held = held_out((ids, mask, img), seed=0)
    assert (
        held.how == "generated" and held.calibration is None and held.n == 16 and len(held.batches) == 8
    )  # at most 8 batches
    for g_ids, g_mask, g_img in held.batches:
        assert g_ids.shape == ids.shape and g_ids.dtype == ids.dtype and not torch.equal(g_ids, ids)
        assert int(g_ids.min()) >= 5 and int(g_ids.max()) <= 899
        assert torch.equal(g_mask, mask)  # a 0/1 mask is kept as given
        assert g_img.shape == img.shape and not torch.allclose(g_img, img)
    stds = torch.cat([b[2] for b in held.batches]).std(dim=(0, 2, 3))
    assert stds[1] > 10 * stds[2]  # per-channel statistics followed
    again = held_out((ids, mask, img), seed=0)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(held.batches, again.batches, strict=True))  # seeded
    assert held.text == "16 held-out inputs, generated like the examples (seed 0)"


def test_a_large_batch_is_split_and_static_int8_never_calibrates_on_the_scored_half(tmp_path: Path) -> None:
    x = torch.randn(40, 16)
    held = held_out((x,))
    assert held.how == "split" and held.rows == slice(20, 40) and held.n == 20
    (calib,) = held.calibration[0]
    assert calib.shape == x.shape
    scored = {tuple(r.tolist()) for r in x[20:]}
    assert not scored & {tuple(r.tolist()) for r in calib}  # no held-out row reaches the observers
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))
    run = measure(
        model, x, ["post-training-static-quantization"], budget_s=3, store=tmp_path / "r.sqlite", progress=False
    )
    r = run.results[0]
    assert r.status == "ok" and "first half of the example batch" in r.settings["calibration"]
    assert r.quality.n_quality_inputs == 20 and "second half" in r.quality.quality_inputs
    assert run.meta["quality_inputs"] == r.quality.quality_inputs


def test_with_calibration_data_the_example_batch_is_the_held_out_set() -> None:
    x = torch.randn(8, 4)
    held = held_out((x,), calibration_data=[torch.randn(8, 4)])
    assert held.how == "calibration-data" and held.batches == [(x,)] and "calibration_data" in held.text


# --- the metric follows the output -------------------------------------------------------------------------------
def test_each_output_kind_gets_its_metric() -> None:
    torch.manual_seed(0)
    logits = torch.randn(32, 20)
    q = fidelity(logits, logits + 0.01 * torch.randn(32, 20))
    assert q.output_kind == "classifier" and q.top1_agreement is not None and q.top5_overlap is not None
    assert q.relative_error is None and q.token_agreement is None
    emb = nn.functional.normalize(torch.randn(32, 64), dim=1)
    q = fidelity(emb, emb + 0.001)
    assert q.output_kind == "embedding" and q.top1_agreement is None and q.cosine_similarity > 0.99
    reg = torch.randn(32, 1)
    q = fidelity(reg, reg * 1.02)
    assert q.output_kind == "regression" and q.relative_error == pytest.approx(0.02, rel=1e-3)
    assert q.top1_agreement is None
    tokens = torch.randn(4, 12, 50)
    q = fidelity(tokens, tokens, decoder=True)
    assert q.output_kind == "tokens" and q.token_agreement == 1.0
    hidden = torch.randn(4, 12, 50)
    assert fidelity(hidden, hidden).output_kind == "features"  # not a decoder: hidden states, cosine
    fmap = torch.randn(4, 8, 5, 5)
    assert output_kind(fmap) == "features"

    class Out:  # a Hugging Face style output with .logits
        def __init__(self, t):
            self.logits = t

    assert fidelity(Out(tokens), Out(tokens)).output_kind == "tokens"


def test_top5_overlap_and_token_agreement_count_what_they_say() -> None:
    ref = torch.arange(10.0).repeat(2, 1)  # top-5: classes 5..9
    out = ref.clone()
    out[:, 9], out[:, 0] = -1.0, 100.0  # class 9 leaves the top 5, class 0 becomes the top-1
    q = fidelity(ref, out)
    assert q.top1_agreement == 0.0 and q.top5_overlap == pytest.approx(0.8)
    seq = torch.randn(2, 4, 6)
    flipped = seq.clone()
    flipped[0, 0] = -seq[0, 0]  # one position of eight changes its arg-max
    q = fidelity(seq, flipped, decoder=True)
    assert q.token_agreement == pytest.approx(7 / 8)


def test_fidelity_over_batches_concatenates_and_counts_inputs() -> None:
    refs = [torch.randn(8, 10) for _ in range(4)]
    q = fidelity_over(refs, [r.clone() for r in refs], inputs_text="32 held-out inputs")
    assert q.n_quality_inputs == 32 and q.top1_agreement == 1.0 and q.quality_status == "verified"


# --- the one rule --------------------------------------------------------------------------------------------
def test_judge_quality_statuses_name_the_figure() -> None:
    ok = judge_quality(Quality(output_kind="classifier", top1_agreement=1.0, n_quality_inputs=64))
    assert ok.status == "verified" and ok.ok is True
    bad = judge_quality(
        Quality(output_kind="classifier", top1_agreement=0.5, n_quality_inputs=64, quality_inputs="64 held-out inputs")
    )
    assert bad.status == "failed" and bad.ok is False and "top-1 agreement 0.500 < 0.99 on 64 held-out" in bad.reason
    close = judge_quality(Quality(output_kind="classifier", top1_agreement=62 / 64, n_quality_inputs=64))
    assert close.status == "unverified" and "sampling error" in close.reason  # 2 flips of 64: too few to tell
    assert (
        judge_quality(
            Quality(output_kind="classifier", top1_agreement=62 / 64, n_quality_inputs=64), min_fidelity=0.95
        ).status
        == "verified"
    )
    acc = judge_quality(Quality(accuracy_change_pp=-3.0, top1_agreement=1.0))
    assert acc.status == "failed" and "beyond your 1 pp budget" in acc.reason  # accuracy decides with eval_fn
    assert judge_quality(Quality(accuracy_change_pp=-3.0), max_accuracy_drop_pp=5).status == "verified"
    assert judge_quality(Quality(output_kind="regression", relative_error=0.2)).status == "failed"
    assert judge_quality(Quality(output_kind="embedding", cosine_similarity=0.999)).status == "verified"
    raised = judge_quality(Quality(error="eval_fn raised KeyError: 'label'", top1_agreement=1.0))
    assert raised.status == "unverified" and "eval_fn raised" in raised.reason
    assert judge_quality(Quality(error="outputs contain no tensor to compare")).status == "unverified"
    assert judge_quality(None).status == "unverified"
    ref = torch.randn(16, 10)
    assert judge_quality(fidelity(ref, torch.full_like(ref, float("nan")))).status == "failed"  # variant broke
    assert judge_quality(fidelity(torch.zeros(16, 10), torch.zeros(16, 10))).status == "unverified"  # constant


def test_the_rule_covers_training_and_generation_as_the_old_rules_did() -> None:
    from advisor.generation import quality_limits
    from advisor.measurement import TrainingQuality

    assert judge_quality(TrainingQuality(losses=[1.0], finite=False)).status == "failed"
    assert judge_quality(TrainingQuality(losses=[1.0], finite=True, loss_rel_change=0.2)).status == "failed"
    assert judge_quality(TrainingQuality(losses=[1.0], finite=True, loss_rel_change=0.01)).status == "verified"
    cases = [
        {"perplexity_ratio": 1.02},
        {"perplexity_ratio": 1.2},
        {"greedy_agreement": 0.95},
        {"greedy_agreement": 0.5},
        {"note": "the model's weights and kernels are unchanged"},
        {"logit_cosine": 0.99, "note": "random weights: only logit fidelity"},
        None,
        {},
    ]
    # what generation's own rule (quality_ok, removed) said for these, case by case: real weights, then random
    unv = "unverified"
    expected = {True: ["verified", "failed", "verified", "failed", "verified", unv, unv, unv],
                False: ["verified", "failed", unv, unv, "verified", unv, unv, unv]}  # fmt: skip
    for real in (True, False):
        assert [judge_quality(q, **quality_limits(real)).status for q in cases] == expected[real], real
    assert "x1.200" in judge_quality(cases[1], **quality_limits(True)).reason
    assert "50%" in judge_quality(cases[3], **quality_limits(True)).reason


def test_one_rule_replaces_both_quality_ok() -> None:
    from advisor.tuning import _knowledge, _tune

    assert not hasattr(_tune, "_quality_ok")  # tune judges through quality_verdict -> judge_quality
    failing = _result("x", 0.5, Quality(output_kind="classifier", top1_agreement=0.9, n_quality_inputs=256))
    assert _knowledge._quality_ok(failing) is False is judge(failing, LENIENT, advisor.load_catalog()).quality_ok
    cos_only = _result("y", 0.5, Quality(cosine_similarity=0.995))  # a run stored before output kinds
    assert _knowledge._quality_ok(cos_only) is True


# --- the gate in tune --------------------------------------------------------------------------------------------
def _result(vid: str, ratio: float, quality: Quality | None) -> TechniqueResult:
    iv = Interval(ratio, ratio * 0.95, ratio * 1.05, 12)
    comp = Comparison(
        iv, iv, "faster" if ratio < 1 else "slower", "less energy" if ratio < 1 else "more energy", "estimated-tdp"
    )
    return TechniqueResult(vid, "ok", comparison=comp, quality=quality)


def _plan(cands: list) -> TunePlan:
    winner, fastest, ok = _pick(cands, "latency")
    return TunePlan(
        "m",
        "inference",
        "latency",
        winner,
        [c for c in ok if c is not winner],
        [c for c in cands if not c.pays_off],
        [],
        [],
        None,
        len(cands),
        1.0,
        10.0,
        fastest_unverified=fastest,
    )


def test_a_variant_failing_the_gate_is_never_the_winner_and_its_reason_names_the_figure() -> None:
    cat = advisor.load_catalog()
    broken = judge(
        _result("post-training-dynamic-quantization", 0.1, fidelity(torch.randn(64, 10), torch.randn(64, 10))),
        LENIENT,
        cat,
    )
    good = judge(
        _result(
            "inference-mode-and-no-grad",
            0.8,
            Quality(output_kind="classifier", top1_agreement=1.0, n_quality_inputs=64),
        ),
        LENIENT,
        cat,
    )
    assert broken.quality_status == "failed" and not broken.pays_off and "top-1 agreement" in broken.reason
    plan = _plan([broken, good])
    assert plan.winner is good and plan.headline().startswith("do this: inference-mode-and-no-grad")
    assert broken in plan.no_payoff and "top-1 agreement 1.000 on 64 inputs" in plan.headline()


def test_an_unverified_fastest_is_named_beside_the_verified_winner_never_as_do_this() -> None:
    cat = advisor.load_catalog()
    const = torch.zeros(16, 10)
    unknown = judge(_result("torch-compile", 0.2, fidelity(const, const)), LENIENT, cat)
    good = judge(
        _result(
            "inference-mode-and-no-grad",
            0.8,
            Quality(output_kind="classifier", top1_agreement=1.0, n_quality_inputs=64),
        ),
        LENIENT,
        cat,
    )
    assert unknown.pays_off and unknown.quality_status == "unverified"
    plan = _plan([unknown, good])
    head = plan.headline()
    assert plan.winner is good and head.startswith("do this: inference-mode-and-no-grad")
    assert "fastest, quality unknown: torch-compile" in head and "pass eval_fn or real inputs" in head
    alone = _plan([unknown])
    assert alone.winner is None and alone.headline().startswith("fastest, quality unknown: torch-compile")
    assert "do this" not in alone.headline()
    assert alone.to_dict()["fastest_unverified"]["variant"] == "torch-compile"


# --- a planted breaking applier, and a model whose int8 collapses ----------------------------------------------
@pytest.fixture
def planted():
    def shuffles_outputs(model, inputs):  # fast and wrong: returns another input's output
        def forward(*a):
            return model(*a).roll(1, dims=0)

        return Applied(forward, inputs, no_grad_eval)

    REGISTRY["x-shuffles"] = shuffles_outputs
    yield
    REGISTRY.pop("x-shuffles")


def test_a_planted_applier_that_breaks_outputs_is_failed(tmp_path: Path, planted) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 10))
    run = measure(model, torch.randn(8, 16), ["x-shuffles"], budget_s=2, store=tmp_path / "r.sqlite", progress=False)
    r = run.results[0]
    assert r.status == "ok" and r.quality.quality_status == "failed" and "top-1 agreement" in r.quality.quality_reason
    cand = judge(r, LENIENT, advisor.load_catalog())
    assert not cand.pays_off and _pick([cand], "latency")[0] is None


class Outlier(nn.Module):
    """One hidden unit 10^4 times larger than the rest: per-tensor int8 activations zero every other unit."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1, self.fc2 = nn.Linear(16, 32), nn.Linear(32, 10)
        with torch.no_grad():
            self.fc1.weight[0] *= 1e4
            self.fc1.bias[0] = 1e4
            self.fc2.weight[:, 0] = 0.0  # the head ignores the outlier unit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


def test_collapsing_static_int8_fails_and_the_recovery_keeps_the_sensitive_layers(tmp_path: Path) -> None:
    model = Outlier().eval()
    ids = ["post-training-static-quantization", "post-training-static-quantization@ignore-sensitive"]
    run = measure(model, torch.randn(8, 16), ids, budget_s=4, store=tmp_path / "r.sqlite", progress=False)
    by = {r.technique: r for r in run.results}
    assert by[ids[0]].quality.quality_status == "failed"
    assert by[ids[1]].quality.quality_status == "verified"
    assert "kept in floating point" in by[ids[1]].settings["reverted"]
    cat = advisor.load_catalog()
    cands = [judge(r, LENIENT, cat) for r in run.results]
    queue = recovery_queue(cands[:1], [*advisor.measurement.appliers.available_ids(), ids[1]], None)
    assert queue[0] == (ids[1], ids[0])
    records = recovery_records(cands, {r.technique: r.settings for r in run.results})
    assert records and records[0]["variant"] == ids[1] and records[0]["status"] == "verified"
    assert cands[1].recovered_from == ids[0] and "kept in floating point" in cands[1].reverted
    assert records[0]["cost"] is None or "for post-training-static-quantization" in records[0]["cost"]


class MiddleOutlier(nn.Module):
    """A middle layer (fc1) whose weight rows each hold one entry 10^4 times the rest (on a unit that is always 0).

    Per-channel int8 weights give each row one scale, set by that entry: every other weight of fc1 rounds
    to zero. The first/last and depthwise rules do not keep fc1; a search over layer errors does.
    """

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc0, self.fc1 = nn.Linear(16, 32), nn.Linear(32, 32)
        self.fc2, self.fc3 = nn.Linear(32, 32), nn.Linear(32, 10)
        with torch.no_grad():
            self.fc0.weight[0] = 0.0
            self.fc0.bias[0] = -1.0  # unit 0 of fc0 is always 0 after the ReLU
            self.fc1.weight[:, 0] = 1e4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(torch.relu(self.fc0(x))))
        return self.fc3(torch.relu(self.fc2(h)))


def test_layer_errors_rank_the_layer_whose_int8_input_collapses_first() -> None:
    from advisor.measurement.appliers._sensitive import layer_errors

    model = MiddleOutlier().eval()
    ranked = layer_errors(model, [(torch.randn(32, 16),)])
    assert ranked[0][0] == "fc1"
    assert ranked[0][1] > 0.5 > ranked[-1][1], ranked  # fc1's output is mostly lost; the others keep most of it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layer_errors(model, [(torch.randn(32, 16),)])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the model must not change"


def test_keep_float_search_grows_k_until_the_gate_holds_on_calibration_data() -> None:
    from advisor.measurement.appliers.static_quant import static_int8, static_int8_keep_float

    model = MiddleOutlier().eval()
    calib = [(torch.randn(32, 16),) for _ in range(2)]
    x = torch.randn(32, 16)
    plain = static_int8(model, (x,), calibration=calib)
    ignore = REGISTRY["post-training-static-quantization@ignore-sensitive"](model, (x,), calibration=calib)
    ref = model(x)
    for bad in (plain, ignore):  # full int8 and first/last kept float both lose fc1's input
        with torch.no_grad():
            assert judge_quality(fidelity(ref, bad.model(x))).status == "failed"
        bad.restore()
    found = static_int8_keep_float(model, (x,), calibration=calib)
    assert found.settings["kept_float"][0] == "fc1" and found.settings["search_passed"]
    assert found.settings["search"][-1].startswith(f"k={found.settings['k']}: verified")
    with torch.no_grad():
        held = judge_quality(fidelity(ref, found.model(x)))  # on inputs the search never saw: not failed
    assert held.status != "failed", held.reason
    assert "of 4 weighted layers" in found.settings["reverted"]
    found.restore()


def test_quantize_dynamic_per_channel_keeps_a_row_scaled_weight_that_per_tensor_loses() -> None:
    model = nn.Sequential(nn.Linear(32, 32)).eval()
    with torch.no_grad():
        model[0].weight[0] *= 300  # one row 300x the others: one per-tensor scale leaves the rest few int8 levels
    x = torch.randn(64, 32)
    ref = model(x)[:, 1:]
    err = {}
    for vid in ("post-training-dynamic-quantization", "post-training-dynamic-quantization@per-channel"):
        a = REGISTRY[vid](model, (x,))
        with a.context():
            err[vid] = float((a.model(x)[:, 1:] - ref).norm() / ref.norm())
        assert a.settings["weights"] == ("per channel (Linear)" if vid.endswith("@per-channel") else "per tensor")
    assert err["post-training-dynamic-quantization@per-channel"] < err["post-training-dynamic-quantization"] / 3, err


def test_recovery_queue_puts_the_sensitivity_search_and_finer_int8_routes_after_the_fixed_ones() -> None:
    from types import SimpleNamespace

    from advisor.tuning._recover import RECOVERY_ONLY

    nncf, dyn = "nncf-post-training-quantization", "post-training-dynamic-quantization"
    failed = [SimpleNamespace(variant=v, quality_status="failed") for v in (nncf, dyn)]
    measurable = [
        f"{nncf}@ignore-sensitive",
        f"{nncf}@keep-float-k",
        f"{nncf}@accuracy-control",
        f"{dyn}@per-channel",
        "torchao-int8-dynamic-quantization",
    ]
    queue = [r for r, _ in recovery_queue(failed, measurable, None)]
    order = [
        f"{nncf}@ignore-sensitive",
        f"{nncf}@keep-float-k",
        f"{dyn}@per-channel",
        "torchao-int8-dynamic-quantization",
    ]
    assert queue == order
    assert f"{nncf}@accuracy-control" in [r for r, _ in recovery_queue(failed, measurable, lambda m: 1.0)]
    assert {f"{nncf}@keep-float-k", f"{dyn}@per-channel"} <= RECOVERY_ONLY


def test_ov_op_names_match_torch_layers_through_folded_batchnorm() -> None:
    pytest.importorskip("openvino")
    from advisor.measurement.appliers._openvino import convert, ov_op_names

    layers = [nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8), nn.Flatten()]
    model = nn.Sequential(*layers, nn.Linear(8 * 4 * 4, 5)).eval()
    x = (torch.randn(2, 3, 8, 8),)
    ov_model, _ = convert(model, x)
    names = ov_op_names(ov_model, model, x, ["3", "0", "5"])
    kinds = {op.get_friendly_name(): op.get_type_name() for op in ov_model.get_ordered_ops()}
    assert [kinds[n] for n in names] == ["GroupConvolution", "Convolution", "MatMul"]
