"""Generation rounds: batch sizes in turn, the budget plan, retiring settled variants, the quality rule and gate.

The round logic is tested on recorded windows (no timing decides a test); the end-to-end tests use random-weight
decoders from transformers configs and a character-level tokenizer built from the shipped text (no download).
"""

from __future__ import annotations

import random
import time
import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from advisor.generation import (  # noqa: E402
    MAX_PERPLEXITY_RATIO,
    GenerationResult,
    GenerationRun,
    generation_advice,
    measure_generation,
    quality_limits,
)
from advisor.generation._rounds import Batch, Live, Settle, dominates, plan_meta, retire, stop_reason  # noqa: E402
from advisor.generation._techniques import GenSetup  # noqa: E402
from advisor.generation.models import tiny_gpt2  # noqa: E402
from advisor.measurement._results import Comparison, Interval  # noqa: E402

warnings.filterwarnings("ignore")


def _live(name: str, per_call_s: list[float], energy_per_s: float | None = 10.0, cost_s: float = 0.1) -> Live:
    """A variant with recorded rounds: round i's generation window took ``per_call_s[i]`` (one call)."""
    v = Live(name, GenSetup(None), lambda: None, lambda: None, cost_s=cost_s)
    for i, t in enumerate(per_call_s):
        e = None if energy_per_s is None else t * energy_per_s
        v.records.append((i, 1, t / 10, None if e is None else e / 10, 1, t, e))
    return v


def _rule(**kw) -> Settle:
    from advisor.generation._rounds import Layout

    return Settle(Layout([]), **{"min_rounds": 6, "target_rel": 0.03, **kw})


# --- retiring settled variants ----------------------------------------------------------------------------------
def test_a_variant_is_dominated_only_with_six_shared_rounds_and_both_ratios_above_one() -> None:
    rng = random.Random(0)
    base = _live("baseline", [1.0 + rng.uniform(-0.02, 0.02) for _ in range(6)])
    slow = _live("slow", [2.0 + rng.uniform(-0.05, 0.05) for _ in range(6)])
    assert dominates(base, slow) and not dominates(slow, base)
    assert not dominates(_live("b5", [1.0] * 5), _live("s5", [2.0] * 5))  # 5 rounds: no 95 % interval yet
    # slower but not costlier (a cooler variant): not dominated, it may be someone's pick
    cool = _live("cool", [2.0] * 6, energy_per_s=2.0)
    assert not dominates(base, cool)
    # no energy figures: time alone decides
    assert dominates(_live("b", [1.0] * 6, None), _live("s", [1.5] * 6, None))
    # an interval that straddles 1 settles nothing
    mixed = _live("mixed", [1.3, 0.8, 1.3, 0.8, 1.3, 0.8])
    assert not dominates(base, mixed)


def test_retire_takes_out_the_dominated_and_the_batch_size_settles() -> None:
    bt = Batch(1, 8)
    bt.live = [_live("baseline", [1.0] * 6), _live("fast", [0.5] * 6), _live("slow", [2.0] * 6),
               _live("middle", [0.8] * 6)]  # fmt: skip
    rule = _rule()
    retire(rule, bt)
    retired = {v.name: v.retired for v in bt.live if v.retired}
    # slow is worse than the baseline, middle worse than fast: neither can be the best; fast and the baseline stay
    assert set(retired) == {"slow", "middle"}
    assert "significantly slower and costlier per token than baseline" in retired["slow"]
    assert "than fast" in retired["middle"]
    assert [v.name for v in bt.active()] == ["baseline", "fast"]
    assert stop_reason(rule, bt) in (None, "interval")  # fast still timed
    bt.live[1].retired = "x"
    assert stop_reason(rule, bt) == "settled"
    assert stop_reason(_rule(min_rounds=7), bt) is None  # not before min_rounds


def test_a_variant_failing_the_quality_rule_does_not_retire_others() -> None:
    bt = Batch(1, 8)
    bt.live = [_live("baseline", [1.0] * 6), _live("int4", [0.5] * 6), _live("bf16", [0.8] * 6)]
    retire(_rule(quality_bad=lambda _bt, v: v.name == "int4"), bt)
    assert bt.live[2].retired is None  # bf16 is worse than int4, but int4 can never be picked


def test_plan_meta_says_what_min_rounds_need() -> None:
    batches = []
    for b, cost in ((1, 2.0), (16, 6.0)):
        bt = Batch(b, 8)
        bt.live = [_live("baseline", [], cost_s=cost / 2), _live("v", [], cost_s=cost / 2)]
        batches.append(bt)
    m = plan_meta(batches, setup_s=20.0, budget_s=60.0, min_rounds=6, hard_factor=1.5)
    assert m["round_cost_s"] == {"1": 2.0, "16": 6.0} and m["rounds_affordable"] == 5
    assert m["budget_for_min_rounds_s"] == 68.0 and "need about 68 s" in m["note"] and "1.5x" in m["note"]
    assert "note" not in plan_meta(batches, setup_s=20.0, budget_s=100.0, min_rounds=6, hard_factor=1.5)


# --- the rounds are the engine's --------------------------------------------------------------------------------
def test_generation_runs_on_the_engine_every_batch_size_in_every_round(tmp_path, monkeypatch) -> None:
    import advisor.measurement as measurement

    calls = []
    real = measurement.run_engine

    def spy(baseline, specs, **kw):
        out = real(baseline, specs, **kw)
        calls.append((baseline, list(specs), kw, out))
        return out

    monkeypatch.setattr(measurement, "run_engine", spy)
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=["sdpa-attention@eager"],
                             budget_s=60, min_rounds=2, max_rounds=3, warmup=1, prompt_tokens=4,
                             lock_path=tmp_path / "lock", store=False)  # fmt: skip
    assert len(calls) == 1
    baseline, specs, kw, out = calls[0]
    assert baseline.name == "baseline [batch 1] prefill" and kw["settle"] is not None
    # a pair is never split by the budget: the generation window is set up whenever its prefill window was
    assert all(sp.essential for sp in specs if sp.name.endswith(" generation"))
    assert [sp.essential for sp in specs if sp.name.endswith(" prefill")] == [False, True, False]
    assert kw["settings"].stop_before_overrun and kw["settings"].max_rounds == 3
    # two windows per variant and batch size, every one in every round: each batch size gets the same rounds
    assert len(out.rounds) == 3 and all(len(r.blocks) == 8 for r in out.rounds)
    assert out.stopped_by == ["max_rounds"] and run.meta["engine_stopped_by"] == ["max_rounds"]
    assert {(r.technique, r.batch_size): r.rounds for r in run.results} == {
        (t, b): 3 for t in ("baseline", "sdpa-attention@eager") for b in (1, 2)
    }
    assert all(r.tokens["stopped_by"] == "max_rounds" for r in run.results)
    # the figures come from the engine's blocks: calls per window and per-token items as the engine timed them
    eager = run.get("sdpa-attention@eager", 2)
    block = out.rounds[0].blocks["sdpa-attention@eager [batch 2] generation"]
    assert eager.tokens["calls_per_generation_window"] == block.calls and block.items_per_call == 2 * 3
    assert run.meta["load"]["rounds"] == 3 and run.meta["engine"]["lock_timeout_s"] is None
    assert run.meta["plan"]["round_cost_s"]["2"] > 0


def test_past_the_budget_only_the_baselines_are_set_up_and_no_pair_is_split(tmp_path) -> None:
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=["sdpa-attention@eager"],
                             budget_s=1e-6, min_rounds=2, max_rounds=3, warmup=1, prompt_tokens=4,
                             lock_path=tmp_path / "lock", store=False)  # fmt: skip
    assert run.status == "finished"
    assert [(r.batch_size, r.status) for r in run.results if r.technique == "baseline"] == [(1, "ok"), (2, "ok")]
    eager = [r for r in run.results if r.technique != "baseline"]
    assert [r.status for r in eager] == ["skipped-budget"] * 2 and all("budget" in r.reason for r in eager)


def test_the_engines_hard_deadline_stops_rounds_short_of_min_rounds(tmp_path) -> None:
    t0 = time.perf_counter()
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1,), techniques=[], budget_s=0.5,
                             min_rounds=10_000, max_rounds=20_000, warmup=1, prompt_tokens=4,
                             lock_path=tmp_path / "lock", store=False)  # fmt: skip
    base = run.get("baseline", 1)
    assert base.status == "ok" and 1 <= base.rounds < 10_000 and base.tokens["stopped_by"] == "budget"
    assert time.perf_counter() - t0 < 30  # 1.5x the budget after set-up, not 10 000 rounds


def test_ctrl_c_in_the_rounds_is_the_engines_and_keeps_every_finished_round(tmp_path) -> None:
    seen: list[tuple[int, int]] = []

    def stop(b: int, n: int) -> None:
        seen.append((b, n))
        if n >= 3 and b == 2:
            raise KeyboardInterrupt

    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=["sdpa-attention@eager"],
                             budget_s=30, min_rounds=6, max_rounds=50, warmup=1, prompt_tokens=4, on_round=stop,
                             lock_path=tmp_path / "lock", store=False)  # fmt: skip
    assert run.status == "interrupted" and run.meta["engine_stopped_by"] == ["interrupted"]
    assert seen[:4] == [(1, 1), (2, 1), (1, 2), (2, 2)]  # every batch size in every round
    for r in run.results:
        assert r.status == "interrupted" and r.rounds == 3 and "figures kept" in r.reason
        assert r.figures.request_latency_s is not None


HOLDER = """
import sys, time
from advisor.measurement import machine_lock
with machine_lock(path=sys.argv[1], label="another measurement", on_wait=lambda i: None):
    print("HELD", flush=True)
    time.sleep(60)
"""


def test_the_engines_lock_timeout_applies_to_generation(tmp_path) -> None:
    import subprocess
    import sys

    from advisor import MachineBusyError

    lock = tmp_path / "lock"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER, encoding="utf-8")
    holder = subprocess.Popen([sys.executable, str(script), str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HELD"
        t0 = time.perf_counter()
        with pytest.raises(MachineBusyError, match="another measurement"):
            measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1,), techniques=[], budget_s=30,
                               min_rounds=2, max_rounds=2, warmup=1, prompt_tokens=4, lock_path=lock,
                               lock_timeout_s=0.5, store=False)  # fmt: skip
        assert time.perf_counter() - t0 < 20
    finally:
        holder.kill()
        holder.wait()


def test_generation_takes_no_lock_and_runs_no_loop_of_its_own() -> None:
    from pathlib import Path

    import advisor.generation

    src = {p.name: p.read_text(encoding="utf-8") for p in Path(advisor.generation.__file__).parent.glob("*.py")}
    assert not any("machine_lock" in text or "LoadSampler" in text for text in src.values())
    assert "run_engine" in src["_measure.py"]


# --- the quality rule -------------------------------------------------------------------------------------------
def test_quality_rule_perplexity_decides_with_real_weights_not_greedy_agreement() -> None:
    import advisor.generation
    from advisor.measurement.quality import judge_quality

    def judge(q: dict, real: bool) -> str:
        return judge_quality(q, **quality_limits(real)).status

    # bf16 on SmolLM2: 12 % greedy agreement at the same perplexity: kept
    assert judge({"perplexity_ratio": 1.0023, "greedy_agreement": 0.125}, True) == "verified"
    v = judge_quality({"perplexity_ratio": 1.55, "greedy_agreement": 0.9}, **quality_limits(True))
    assert v.status == "failed" and "x1.550" in v.reason and f"x{MAX_PERPLEXITY_RATIO:g}" in v.reason
    assert judge({"greedy_agreement": 0.5}, True) == "failed"  # real weights, no tokenizer: agreement decides
    assert judge({"greedy_agreement": 0.5, "logit_cosine": 0.99}, False) == "unverified"  # random: not judged
    assert judge({"greedy_agreement": 1.0, "note": "the model's weights and kernels are unchanged: ..."},
                 True) == "verified"  # fmt: skip
    assert not hasattr(advisor.generation, "quality_ok")  # one rule: judge_quality, no generation copy


def _res(tech: str, jpt: float, ratio: float, quality: dict | None) -> GenerationResult:
    from advisor.generation import GenerationFigures

    iv = Interval(ratio, ratio * 0.97, ratio * 1.03, 6)
    comp = Comparison(latency_ratio=iv, energy_ratio=iv, verdict="faster" if ratio < 1 else "slower",
                      energy_verdict="less energy" if ratio < 1 else "more energy")  # fmt: skip
    figs = GenerationFigures(j_per_output_token=Interval(jpt, jpt * 0.97, jpt * 1.03, 6))
    return GenerationResult(tech, 1, figures=figs, comparison={"end_to_end": comp} if tech != "baseline" else {},
                            quality=quality, rounds=6)  # fmt: skip


def test_the_advice_never_picks_a_variant_that_fails_the_quality_rule() -> None:
    rs = [_res("baseline", 1.0, 1.0, None), _res("int4", 0.5, 0.5, {"perplexity_ratio": 1.55}),
          _res("bf16", 0.8, 0.8, {"perplexity_ratio": 1.002, "greedy_agreement": 0.12}),
          GenerationResult("int4@gated", 1, "skipped-quality", "not timed: perplexity x1.550 ...")]  # fmt: skip
    adv = generation_advice(GenerationRun("r", "finished", rs, {"weights": "real"}))
    assert adv.best[1] == "bf16"
    assert next(v for v in adv.ranking[1] if v.technique == "int4").quality_ok is False
    assert any(line.startswith("int4:") and "fails the quality rule" in line for line in adv.lines)
    assert any(line.startswith("int4@gated: not timed") for line in adv.lines)
    # random weights (logit fidelity, no perplexity): quality not judged, int4 is the pick
    rs[1] = _res("int4", 0.5, 0.5, {"logit_cosine": 0.99, "greedy_agreement": 0.4})
    assert generation_advice(GenerationRun("r", "finished", rs, {"weights": "random"})).best[1] == "int4"


# --- end to end -------------------------------------------------------------------------------------------------
def _char_tokenizer():
    """A character-level tokenizer over the shipped text (built here: no download)."""
    from tokenizers import Tokenizer, models

    from advisor.generation._quality import eval_text

    vocab = {"<unk>": 0, **{c: i + 1 for i, c in enumerate(sorted(set(eval_text())))}}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", pad_token="<unk>")


def test_quality_gate_leaves_out_variants_beyond_the_tolerance_and_says_why(tmp_path) -> None:
    # a random model treated as trained, so that perplexity is measured; a gate below 1 rejects every variant that
    # changes numerics (their ratio is ~1), while prompt lookup (weights unchanged) is timed
    run = measure_generation(tiny_gpt2(), _char_tokenizer(), ["It was the best of"], max_new_tokens=3,
                             batch_sizes=(1,), techniques=["sdpa-attention@eager", "prompt-lookup-decoding"],
                             real_weights=True, max_perplexity_ratio=0.5, budget_s=5, min_rounds=2, max_rounds=2,
                             warmup=1, lock_path=tmp_path / "lock", store=False)  # fmt: skip
    g = run.get("sdpa-attention@eager", 1)
    assert g.status == "skipped-quality" and g.rounds == 0 and "x0.5 tolerance" in g.reason
    assert g.quality["perplexity_ratio"] > 0.5 and g.settings["attention"]["to"] == "eager"
    assert run.get("prompt-lookup-decoding", 1).status == "ok" and run.get("prompt-lookup-decoding", 1).rounds == 2
    assert "Quality rule for a pick: perplexity" in run.meta["reporting"]
    assert any("not timed" in line for line in generation_advice(run).lines)


def test_a_run_records_its_plan_rounds_and_why_each_variant_stopped(tmp_path) -> None:
    run = measure_generation(tiny_gpt2(), max_new_tokens=3, batch_sizes=(1, 2), techniques=["prompt-lookup-decoding"],
                             budget_s=0.01, min_rounds=2, max_rounds=3, warmup=1, prompt_tokens=4,
                             lock_path=tmp_path / "lock", store=False)  # fmt: skip
    plan = run.meta["plan"]
    assert set(plan["round_cost_s"]) == {"1", "2"} and all(c > 0 for c in plan["round_cost_s"].values())
    assert plan["rounds_affordable"] == 0 and "need about" in plan["note"]
    for r in run.results:
        if r.status == "ok":
            assert r.tokens["stopped_by"] in {"budget", "interval", "max_rounds", "settled", "retired"}
            assert r.tokens["pilot_round_s"] > 0 and r.rounds >= 1
    assert "Quality: random weights, not judged" in run.meta["reporting"]


# --- load per round ------------------------------------------------------------------------------------------
def test_generation_rounds_carry_their_load_and_busy_ones_are_set_aside() -> None:
    from advisor.generation._rounds import phase_rounds
    from advisor.measurement.engine._derive import derive

    base = _live("baseline", [1.0] * 12)
    v = _live("v", [0.5] * 8 + [0.9] * 4)  # rounds 8-11: contention shifted the ratio
    loads = {i: {"other_cpu_frac": 0.45 if i >= 8 else 0.01, "steal_frac": 0.0} for i in range(12)}
    rounds = phase_rounds([base, v], 1, 4, 8, loads)["end_to_end"]
    assert [r.load["other_cpu_frac"] for r in rounds][-1] == 0.45
    c = derive(rounds, "baseline", ["v"])["v"]
    assert c.latency_ratio.median == pytest.approx(0.5) and c.rounds_set_aside == 5  # 8-11 busy, 7 next to them


def test_a_generation_run_records_the_load_it_saw() -> None:
    model = tiny_gpt2()
    run = measure_generation(model, max_new_tokens=4, batch_sizes=(1,), techniques=[], budget_s=3, store=False,
                             min_rounds=2, max_rounds=3)  # fmt: skip
    assert run.meta["load"]["rounds"] >= 2 and "other_cpu_frac_median" in run.meta["load"]
    assert run.meta["allocator"]["allocator"]
