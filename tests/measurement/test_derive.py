"""The pure derivation: fixed rounds in, ratios, intervals, verdicts and 'outside the prediction' out.

Every polarity is pinned: a variant that takes half the baseline's time per item must come out
as latency ratio 0.5, speed-up 2, verdict 'faster'; inverting any of these fails a test.
"""

from __future__ import annotations

import math

import pytest

from advisor.measurement import Block, Comparison, Interval, MeasureRun, Round, TechniqueResult, derive, result_row
from advisor.measurement.engine._derive import (
    MIN_ROUNDS,
    median_interval,
    outside_prediction,
    ratios,
    ready_to_stop,
    summarize_timing,
    verdict,
)


def rounds_of(per_item_s: dict[str, list[float]], *, items: dict[str, int] | None = None,
              energy_w: dict[str, float] | None = None) -> list[Round]:  # fmt: skip
    """Rounds where variant v takes per_item_s[v][i] seconds per item in round i (10 calls per block)."""
    n = len(next(iter(per_item_s.values())))
    items = items or {}
    out = []
    for i in range(n):
        blocks = {}
        for name, xs in per_item_s.items():
            k = items.get(name, 1)
            wall = xs[i] * 10 * k
            e = (energy_w or {}).get(name)
            blocks[name] = Block(10, wall, k, e * wall if e is not None else None, wall)
        out.append(Round(i, 0, list(blocks), blocks, {"other_cpu_frac": 0.0, "steal_frac": 0.0}))
    return out


# --- the interval of a median ---------------------------------------------------------------------------
def test_median_interval_uses_order_statistics() -> None:
    xs = [float(i) for i in range(1, 21)]  # n = 20: the sign-test 95 % interval is [x(6), x(15)]
    iv = median_interval(xs)
    assert iv.median == 10.5 and (iv.low, iv.high) == (6.0, 15.0) and iv.n_rounds == 20
    assert iv.confidence >= 0.95
    few = median_interval([1.0, 2.0, 3.0])
    assert (few.low, few.high) == (1.0, 3.0) and few.confidence < 0.95
    assert median_interval([]) is None
    six = median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert six.n_rounds == MIN_ROUNDS == 6 and (six.low, six.high) == (1.0, 6.0) and six.confidence >= 0.95


def test_a_burst_in_a_few_rounds_barely_moves_the_median() -> None:
    xs = [0.5] * 17 + [5.0, 6.0, 7.0]
    iv = median_interval(xs)
    assert iv.median == 0.5 and iv.high == 0.5


# --- polarity ---------------------------------------------------------------------------------------------
def test_half_the_time_is_ratio_half_speedup_two_and_faster() -> None:
    rs = rounds_of({"baseline": [0.010] * 10, "fast": [0.005] * 10, "slow": [0.020] * 10})
    c = derive(rs, "baseline")
    fast, slow = c["fast"], c["slow"]
    assert fast.latency_ratio.median == pytest.approx(0.5) and fast.speedup.median == pytest.approx(2.0)
    assert fast.verdict == "faster" and fast.text().startswith("2.00x faster (2.00-2.00)")
    assert slow.latency_ratio.median == pytest.approx(2.0) and slow.speedup.median == pytest.approx(0.5)
    assert slow.verdict == "slower" and slow.text().startswith("2.00x slower")
    r = TechniqueResult("fast", "ok", comparison=fast)
    assert r.speedup == pytest.approx(2.0)


def test_ratios_pair_each_round_with_its_own_baseline() -> None:
    # the machine is twice as slow in odd rounds; the variant is always 0.8x the baseline of its round
    base = [0.010 if i % 2 == 0 else 0.020 for i in range(12)]
    var = [b * 0.8 for b in base]
    rs = rounds_of({"baseline": base, "v": var})
    assert ratios(rs, "v", "baseline") == pytest.approx([0.8] * 12)
    c = derive(rs, "baseline")["v"]
    assert c.latency_ratio.median == pytest.approx(0.8) and c.latency_ratio.rel_halfwidth == pytest.approx(0)
    assert c.verdict == "faster"


def test_ratios_are_per_item() -> None:
    # batch 4 takes 2x the time per call of batch 1: per item it is half
    rs = rounds_of({"b1": [0.010] * 8, "b4": [0.005] * 8}, items={"b1": 1, "b4": 4})
    assert derive(rs, "b1")["b4"].latency_ratio.median == pytest.approx(0.5)


def test_energy_ratio_comes_from_the_same_rounds_and_estimator() -> None:
    rs = rounds_of({"baseline": [0.010] * 8, "v": [0.005] * 8}, energy_w={"baseline": 10.0, "v": 30.0})
    c = derive(rs, "baseline", energy_method="estimated-tdp")["v"]
    assert c.energy_ratio.median == pytest.approx(1.5)  # half the time at three times the power
    assert c.energy_verdict == "more energy" and c.energy_method == "estimated-tdp"
    assert c.energy_ratio.n_rounds == c.latency_ratio.n_rounds
    less = derive(rounds_of({"baseline": [0.01] * 8, "v": [0.005] * 8}, energy_w={"baseline": 10.0, "v": 10.0}),
                  "baseline")["v"]  # fmt: skip
    assert less.energy_ratio.median == pytest.approx(0.5) and less.energy_verdict == "less energy"


def test_idle_power_is_subtracted_from_both_sides() -> None:
    rs = rounds_of({"baseline": [0.010] * 8, "v": [0.010] * 8}, energy_w={"baseline": 20.0, "v": 15.0})
    assert derive(rs, "baseline")["v"].energy_ratio.median == pytest.approx(0.75)
    assert derive(rs, "baseline", idle_w=10.0)["v"].energy_ratio.median == pytest.approx(0.5)


# --- verdicts ------------------------------------------------------------------------------------------------
def test_verdicts() -> None:
    assert verdict(Interval(0.8, 0.75, 0.85, 20)) == "faster"
    assert verdict(Interval(1.2, 1.1, 1.3, 20)) == "slower"
    assert verdict(Interval(1.0, 0.98, 1.03, 20)) == "no significant difference"
    assert verdict(Interval(1.0, 0.7, 1.4, 20)) == "inconclusive"  # contains 1 but too wide to say
    assert verdict(Interval(0.5, 0.4, 0.6, 5)) == "inconclusive"  # too few rounds for a 95 % interval
    assert verdict(None) == "inconclusive"


def test_noise_around_one_is_no_significant_difference_and_inconclusive_says_what_to_do() -> None:
    wiggle = [1.0 + 0.01 * ((i * 7) % 5 - 2) for i in range(20)]
    rs = rounds_of({"baseline": [0.01] * 20, "v": [0.01 * w for w in wiggle]})
    c = derive(rs, "baseline")["v"]
    assert c.verdict == "no significant difference" and c.latency_ratio.contains(1.0)
    assert c.text().startswith("no significant difference")
    wide = [1.0 + 0.4 * ((i * 7) % 5 - 2) / 2 for i in range(20)]
    c = derive(rounds_of({"baseline": [0.01] * 20, "v": [0.01 * w for w in wide]}), "baseline")["v"]
    assert c.verdict == "inconclusive" and "longer budget" in c.note and c.text().startswith("inconclusive")


def test_outside_prediction() -> None:
    pred = {"adjusted_low": 0.4, "adjusted_high": 0.6}
    assert outside_prediction(Interval(0.5, 0.45, 0.55, 10), pred) is False
    assert outside_prediction(Interval(0.2, 0.15, 0.3, 10), pred) is True  # better than predicted
    assert outside_prediction(Interval(1.5, 1.3, 1.7, 10), pred) is True  # slower than predicted or 1
    assert outside_prediction(Interval(0.95, 0.9, 1.0, 10), pred) is False  # overlaps up to 1 (no effect)
    assert outside_prediction(Interval(0.5, 0.45, 0.55, 10), None) is None
    rs = rounds_of({"baseline": [0.01] * 8, "v": [0.002] * 8})
    assert derive(rs, "baseline", predicted={"v": pred})["v"].outside_prediction is True


def test_ready_to_stop_needs_every_interval_tight() -> None:
    steady = rounds_of({"baseline": [0.01] * 12, "a": [0.005] * 12, "b": [0.02] * 12})
    assert ready_to_stop(steady, "baseline", ["a", "b"], 0.03)
    b = [0.02 * (1 + (i % 3) * 0.2) for i in range(12)]
    jumpy = rounds_of({"baseline": [0.01] * 12, "a": [0.005] * 12, "b": b})
    assert not ready_to_stop(jumpy, "baseline", ["a", "b"], 0.03)
    assert not ready_to_stop(steady[:5], "baseline", ["a"], 0.03)  # fewer rounds than a 95 % interval needs
    assert not ready_to_stop(steady[:11], "baseline", ["a"], 0.03)  # the drift check needs two halves of 6


def test_summarize_timing_per_call() -> None:
    rs = rounds_of({"baseline": [0.010] * 8}, items={"baseline": 4}, energy_w={"baseline": 10.0})
    t = summarize_timing(rs, "baseline", energy_method="estimated-tdp")
    assert t.latency_ms_median == pytest.approx(40.0) and t.throughput_per_s == pytest.approx(100.0)
    assert t.energy_j_per_call == pytest.approx(0.4) and t.repeats == 80 and t.rounds == 8
    assert t.calls_per_block == 10 and math.isfinite(t.latency_ms_ci95)


# --- the result model ------------------------------------------------------------------------------------------
def test_run_round_trips_through_its_dict_and_flattens_into_rows() -> None:
    rs = rounds_of({"baseline": [0.010] * 8, "v": [0.005] * 8}, energy_w={"baseline": 10.0, "v": 10.0})
    c = derive(rs, "baseline", energy_method="estimated-tdp")["v"]
    base = TechniqueResult("baseline", "ok", timing=summarize_timing(rs, "baseline", energy_method="estimated-tdp"))
    v = TechniqueResult("v", "ok", timing=summarize_timing(rs, "v", energy_method="estimated-tdp"), comparison=c)
    run = MeasureRun("r1", "finished", base, [v], ["estimate"], {}, None, {"budget_s": 1}, None, rs)
    d = run.to_dict()
    assert d["schema_version"] == 2 and d["kind"] == "measure" and "speedup" not in d["results"][0]
    assert d["results"][0]["comparison"]["latency_ratio"]["median"] == pytest.approx(0.5)
    back = MeasureRun.from_dict(d)
    assert back.results[0].comparison == c and back.rounds == rs and back.baseline.timing == base.timing
    row = result_row(d["results"][0])
    assert row == result_row(v) and row["speedup"] == pytest.approx(2.0) and row["verdict"] == "faster"
    assert row["comparison"] == "2.00x faster (2.00-2.00)" and row["energy_ratio"] == pytest.approx(0.5)
    assert result_row(base)["speedup"] == 1.0 and result_row(base)["verdict"] == "baseline"
    old = {"technique": "v", "status": "ok", "speedup": 1.7, "energy_ratio": 0.6, "timing": {}}  # schema 1
    assert result_row(old)["speedup"] == 1.7 and result_row(old)["energy_ratio"] == 0.6


def test_a_newer_schema_is_refused_with_the_fix() -> None:
    from advisor._errors import MeasurementError

    with pytest.raises(MeasurementError, match="upgrade"):
        MeasureRun.from_dict({"schema_version": 99, "results": []})


def test_comparison_round_trips() -> None:
    c = Comparison(Interval(0.7, 0.68, 0.72, 30), Interval(0.8, 0.7, 0.9, 30), "faster", "less energy", "estimated-tdp")
    assert Comparison.from_dict(c.to_dict()) == c
    assert c.text() == f"{1 / 0.7:.2f}x faster ({1 / 0.72:.2f}-{1 / 0.68:.2f})"
    assert c.energy_text().startswith("energy x0.80 (0.70-0.90), less energy")


# --- busy rounds ------------------------------------------------------------------------------------------
def _with_load(rounds: list[Round], busy: set[int], frac: float = 0.4) -> list[Round]:
    return [Round(r.index, r.group, r.order, r.blocks, {"other_cpu_frac": frac if r.index in busy else 0.01,
                                                         "steal_frac": 0.0}) for r in rounds]  # fmt: skip


def test_busy_rounds_are_set_aside_when_enough_quiet_ones_remain() -> None:
    # 10 quiet rounds at ratio 0.5; 8 busy rounds where contention shifted the ratio to 0.8
    per = {"baseline": [1.0] * 18, "v": [0.5] * 10 + [0.8] * 8}
    rounds = _with_load(rounds_of(per), busy=set(range(10, 18)))
    c = derive(rounds, "baseline")["v"]
    assert c.latency_ratio.median == 0.5 and c.latency_ratio.high == 0.5 and c.latency_ratio.n_rounds == 9
    assert c.rounds_set_aside == 9 and c.verdict == "faster"  # the 8 busy rounds and round 9, next to them
    assert "9 round(s) set aside" in c.note
    assert Comparison.from_dict(c.to_dict()).rounds_set_aside == 9
    # nothing is dropped from the data: the rounds themselves are untouched
    assert len(ratios(rounds, "v", "baseline")) == 18


def test_a_busy_machine_without_enough_quiet_rounds_is_inconclusive() -> None:
    per = {"baseline": [1.0] * 12, "v": [0.5] * 12}
    rounds = _with_load(rounds_of(per), busy=set(range(3, 12)))  # 3 quiet, 9 busy
    c = derive(rounds, "baseline")["v"]
    assert c.verdict == "inconclusive" and c.energy_verdict in (None, "inconclusive")
    assert c.latency_ratio.n_rounds == 12 and c.rounds_set_aside == 0
    assert "busy machine" in c.note and "quieter" in c.note
    assert not ready_to_stop(rounds, "baseline", ["v"], target_rel=0.5)  # keep measuring for quiet rounds
    quiet = _with_load(rounds_of(per), busy=set())
    assert derive(quiet, "baseline")["v"].verdict == "faster" and ready_to_stop(quiet, "baseline", ["v"], 0.5)


def test_one_busy_round_among_few_does_not_make_a_result_inconclusive() -> None:
    per = {"baseline": [1.0] * 12, "v": [0.5] * 12}
    rounds = _with_load(rounds_of(per), busy={0})
    c = derive(rounds, "baseline")["v"]
    assert c.verdict == "faster" and c.rounds_set_aside == 2 and c.latency_ratio.n_rounds == 10


def test_a_round_a_burst_overlapped_partly_is_set_aside_with_its_busy_neighbours() -> None:
    # round 6 is under the busy threshold (6 % of the CPUs) but one of its blocks took the burst's start
    per = {"baseline": [1.0] * 20, "v": [0.5] * 6 + [0.9] + [0.8] * 3 + [0.5] * 10}
    load = {6: 0.06, 7: 0.4, 8: 0.4, 9: 0.4}
    rounds = [Round(r.index, r.group, r.order, r.blocks, {"other_cpu_frac": load.get(r.index, 0.0)})
              for r in rounds_of(per)]  # fmt: skip
    c = derive(rounds, "baseline")["v"]
    assert c.latency_ratio.high == 0.5 and c.rounds_set_aside == 5  # rounds 6-10: busy 7-9 and both neighbours
    from advisor.measurement.engine._derive import select_rounds

    few = rounds[:9]  # rounds 0-8: without neighbours 7 quiet remain, with them 6 (0-5): still enough
    used, aside, contended = select_rounds(few, ("baseline", "v"))
    assert [r.index for r in used] == [0, 1, 2, 3, 4, 5] and aside == 3 and not contended


def test_steal_time_counts_as_busy() -> None:
    from advisor.measurement.engine._derive import is_busy

    r = Round(0, 0, [], {}, {"other_cpu_frac": 0.05, "steal_frac": 0.2})
    assert is_busy(r) and not is_busy(Round(0, 0, [], {}, {"other_cpu_frac": 0.05, "steal_frac": 0.0}))


def test_timing_reports_page_faults_per_call_from_quiet_rounds() -> None:
    rounds = rounds_of({"baseline": [1.0] * 8})
    rounds = [Round(r.index, 0, r.order, {"baseline": Block(10, 10.0, 1, None, 10.0, 50)}, r.load) for r in rounds]
    t = summarize_timing(rounds, "baseline")
    assert t.page_faults_per_call == 5.0 and t.rounds == 8


def test_drift_within_the_run_widens_the_interval_to_both_half_medians() -> None:
    from advisor.measurement.engine._derive import ratio_interval

    n = 40
    per = {"baseline": [1.0] * n, "v": [0.5 + 0.1 * i / n for i in range(n)]}  # the ratio drifts 0.50 -> 0.60
    rounds = rounds_of(per)
    plain = median_interval(ratios(rounds, "v", "baseline"))
    iv, widened = ratio_interval(rounds, "v", "baseline")
    assert widened and iv.low < plain.low and iv.low == pytest.approx(0.5 + 0.1 * 9.5 / n)  # first half's median
    assert iv.high >= plain.high and iv.median == plain.median
    c = derive(rounds, "baseline")["v"]
    assert c.latency_ratio == iv and "drifted" in c.note
    steady = rounds_of({"baseline": [1.0] * n, "v": [0.5] * n})
    assert ratio_interval(steady, "v", "baseline")[1] is False


def test_derive_takes_its_knobs_as_settings_or_keywords() -> None:
    """DeriveSettings and the keywords give the same comparison; a wrong keyword is one ConstraintError."""
    from advisor import ConstraintError
    from advisor.measurement import DeriveSettings

    rs = rounds_of({"baseline": [0.01] * 12, "v": [0.008, 0.0125] * 6})
    loose = derive(rs, "baseline", wide_rel=1.0)["v"]
    assert loose == derive(rs, "baseline", settings=DeriveSettings(wide_rel=1.0))["v"]
    assert (derive(rs, "baseline")["v"].verdict, loose.verdict) == ("inconclusive", "no significant difference")
    with pytest.raises(ConstraintError, match=r"derive\(\).*wide_rels.*wide_rel"):
        derive(rs, "baseline", wide_rels=0.5)
