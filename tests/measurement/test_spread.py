"""The run-to-run spread: fixed earlier runs in, the spread, the widened interval and the verdict out.

Figures are checked by hand: three runs with log medians -0.1, 0, 0.1 and negligible within-run noise have a
sample variance of 0.01, so tau = 0.1; the t quantile with 2 degrees of freedom is 4.303.
"""

from __future__ import annotations

import math

import pytest
import torch

from advisor.measurement import Comparison, Interval, derive
from advisor.measurement.engine._spread import MIN_RUNS, History, history_from_rows, run_to_run, widen
from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore
from tests.measurement.test_derive import rounds_of


def run(median: float, rel: float = 1e-4, n: int = 30) -> Interval:
    """A within-run interval: ``median`` with +-``rel`` (log) either side."""
    return Interval(median, median * math.exp(-rel), median * math.exp(rel), n)


def test_three_runs_give_the_spread_of_their_log_medians() -> None:
    rr = run_to_run(run(math.exp(0.1)), [run(1.0), run(math.exp(-0.1))])
    assert rr is not None and rr.source == "this model" and rr.runs == 3 and rr.df == 2
    assert rr.spread_log == pytest.approx(0.1, rel=1e-3)
    assert rr.quantile == pytest.approx(4.303, abs=1e-3)
    assert rr.spread_rel == pytest.approx(math.exp(0.1) - 1, rel=1e-3)
    assert "3 runs of this model" in rr.text()


def test_within_run_noise_that_explains_the_spread_leaves_none() -> None:
    # medians 1.0 / 1.02 / 0.98 (log sd ~0.02), each run's own interval +-10 %: the runs agree within their noise
    rr = run_to_run(run(1.02, 0.10), [run(1.0, 0.10), run(0.98, 0.10)])
    assert rr is not None and rr.spread_log == 0.0


def test_too_few_runs_of_this_model_pool_the_machine_and_say_so() -> None:
    assert MIN_RUNS == 3
    assert run_to_run(run(1.0), [run(1.1)]) is None  # two runs of this model, nothing else measured here
    other = [run(1.0), run(math.exp(0.1)), run(math.exp(-0.1))]  # another model: tau 0.1 on 2 df
    rr = run_to_run(run(1.0), [run(1.1)], [other, other])
    assert rr is not None and rr.source == "this machine" and rr.df == 4 and rr.runs == 6
    assert rr.spread_log == pytest.approx(0.1, rel=1e-3)
    assert run_to_run(run(1.0), [], [[run(1.0), run(1.1)]]) is None  # 1 degree of freedom is not enough
    assert run_to_run(None, [run(1.0), run(1.1)]) is None


def test_runs_with_too_few_rounds_do_not_count() -> None:
    assert run_to_run(run(1.0), [run(1.3, n=3), run(0.7, n=5)]) is None


def test_widen_adds_the_spread_in_quadrature_on_each_side_and_never_narrows() -> None:
    rr = run_to_run(run(math.exp(0.1)), [run(1.0), run(math.exp(-0.1))])
    iv = Interval(2.0, 1.9, 2.2, 40)
    w = widen(iv, rr)
    b = rr.quantile * rr.spread_log
    assert w.median == 2.0 and w.n_rounds == 40
    assert math.log(2.0 / w.low) == pytest.approx(math.hypot(math.log(2.0 / 1.9), b))
    assert math.log(w.high / 2.0) == pytest.approx(math.hypot(math.log(2.2 / 2.0), b))
    assert w.low < iv.low and w.high > iv.high
    assert widen(iv, None) is iv
    none = run_to_run(run(1.02, 0.10), [run(1.0, 0.10), run(0.98, 0.10)])
    assert widen(iv, none) is iv


def test_derive_reads_the_verdict_from_the_widened_interval_and_keeps_the_runs_own() -> None:
    rounds = rounds_of({"baseline": [1.0 + 0.01 * (i % 3) for i in range(30)],
                        "v": [0.9 + 0.01 * (i % 3) for i in range(30)]})  # fmt: skip
    alone = derive(rounds, "baseline", ["v"])["v"]
    assert alone.verdict == "faster" and alone.latency_within_run == alone.latency_ratio
    assert alone.latency_run_to_run is None
    # earlier runs of this model read 0.75 / 1.0 / 1.2: the machine moves this ratio far more than 10 %
    hist = History(same={("v", "latency"): [run(0.75), run(1.0), run(1.2)]})
    c = derive(rounds, "baseline", ["v"], history=hist)["v"]
    assert c.latency_within_run == alone.latency_ratio
    assert c.latency_ratio.low < 0.9 < 1.0 < c.latency_ratio.high
    assert c.verdict == "inconclusive" and c.latency_run_to_run.runs == 4
    assert "run-to-run spread" in c.note and "too wide to tell" in c.note
    back = Comparison.from_dict(c.to_dict())
    assert back == c


def test_history_from_rows_keeps_this_machine_and_splits_this_model_from_the_others() -> None:
    meta = {"hardware": "A", "model": {"batch_size": 8}, "versions": {"torch": "2.13"}}
    ok = {"technique": "v", "status": "ok",
          "comparison": {"latency_ratio": run(0.5).to_dict(), "latency_within_run": run(0.6).to_dict(),
                         "energy_ratio": run(0.5).to_dict(), "energy_within_run": run(0.55).to_dict()}}  # fmt: skip
    old = {"technique": "v", "status": "ok", "comparison": {"latency_ratio": run(0.7).to_dict()}}  # before widening
    busy = {"technique": "v", "status": "ok", "comparison": {**ok["comparison"], "contended": True}}
    rows = [
        {"run_id": "now", "model_fingerprint": "m1", "meta": meta, "results": [ok]},
        {"run_id": "r1", "model_fingerprint": "m1", "meta": meta, "results": [ok, busy]},
        {"run_id": "r2", "model_fingerprint": "m1", "meta": meta, "results": [old]},
        {"run_id": "r3", "model_fingerprint": "m1", "meta": {**meta, "hardware": "B"}, "results": [ok]},
        {"run_id": "r4", "model_fingerprint": "m2", "meta": meta, "results": [ok]},
        {"run_id": "r5", "model_fingerprint": "m1", "meta": {**meta, "model": {"batch_size": 16}}, "results": [ok]},
    ]  # fmt: skip
    h = history_from_rows(rows, fingerprint="A", meta=meta, model_fingerprint="m1", machine_of=lambda m: m["hardware"],
                          exclude_run_id="now")  # fmt: skip
    assert [iv.median for iv in h.runs_of("v", "latency")] == [0.6, 0.7]  # r1's own, r2's old one; not busy, not B
    assert [iv.median for iv in h.runs_of("v", "energy")] == [0.55]
    assert sorted(len(g) for g in h.machine["latency"]) == [1, 1]  # m2, and m1 at another batch size
    assert h.pool_for("w", "latency")[-1] == h.runs_of("v", "latency")  # this model's other variants pool too


def test_a_third_run_of_a_model_is_widened_by_what_the_first_two_showed(tmp_path) -> None:
    """Real runs into one store: the third run carries the run-to-run spread of the three, and it is stored."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 16, 3))
    x = torch.randn(8, 3, 32, 32)
    store = ResultStore(tmp_path / "r.sqlite")
    runs = [measure(model, x, ["channels-last-memory-format"], budget_s=2.0, store=store, progress=False)
            for _ in range(3)]  # fmt: skip
    firsts = [r.results[0].comparison for r in runs[:2]]
    assert all(c.latency_run_to_run is None and c.latency_ratio == c.latency_within_run for c in firsts)
    c = runs[2].results[0].comparison
    rr = c.latency_run_to_run
    assert rr is not None and rr.runs == 3 and rr.source == "this model" and rr.df == 2
    assert c.latency_ratio.low <= c.latency_within_run.low and c.latency_ratio.high >= c.latency_within_run.high
    assert (rr.spread_log > 0) == (c.latency_ratio != c.latency_within_run)
    again = store.load_run(runs[2].run_id).results[0].comparison
    assert again.latency_run_to_run == rr and again.latency_within_run == c.latency_within_run
