"""The timing harness: stopping rules, spread, energy per call, idle subtraction, FLOP/s."""

from __future__ import annotations

import time
from typing import Any

import pytest

from advisor.measurement.energy import EnergyMeter, EnergyReading
from advisor.measurement.harness import benchmark


class ConstantPowerMeter(EnergyMeter):
    """A 'measured' meter whose machine draws a constant power (like a replayed recording)."""

    method = "measured-fake"

    def __init__(self, watts: float) -> None:
        self.watts = watts

    def _snapshot(self) -> Any:
        return time.perf_counter()

    def _delta(self, start: Any, end: Any, duration_s: float) -> EnergyReading:
        return EnergyReading(self.watts * (end - start), duration_s, self.method, {"fake": self.watts * (end - start)})


def sleeper(seconds: float):
    return lambda: time.sleep(seconds)


def test_energy_per_call_is_power_times_latency() -> None:
    t = benchmark(sleeper(0.002), meters=[ConstantPowerMeter(50.0)], budget_s=1.0, min_time_s=0.6, warmup=1)
    assert t.energy_method == "measured-fake"
    # A 2 ms sleep draws at least 0.1 J at 50 W; energy per call is the chunk mean, so on a loaded
    # machine it may sit above the median latency, but not by more than a factor of two.
    assert 50.0 * 0.002 * 0.99 <= t.energy_j_per_call <= 2 * 50.0 * t.latency_ms_median / 1000
    assert t.energy_j_per_call_iqr is not None  # several chunks
    assert t.latency_ms_median >= 2.0 and t.latency_ms_iqr >= 0


def test_idle_power_is_subtracted_from_measured_energy() -> None:
    full = benchmark(sleeper(0.002), meters=[ConstantPowerMeter(50.0)], budget_s=0.6, min_time_s=0.5, warmup=1)
    net = benchmark(sleeper(0.002), meters=[ConstantPowerMeter(50.0)], budget_s=0.6, min_time_s=0.5, warmup=1,
                    idle_w=30.0)  # fmt: skip
    assert net.idle_power_w == 30.0 and any("idle power" in n for n in net.notes)
    assert net.energy_j_per_call == pytest.approx(full.energy_j_per_call * 20 / 50, rel=0.3)


def test_budget_stops_a_slow_call() -> None:
    t = benchmark(sleeper(0.05), budget_s=0.2, min_repeats=50, warmup=0)
    assert t.stopped_by == "budget" and 1 <= t.repeats <= 6
    assert t.energy_j_per_call is None and t.energy_method is None


def test_steady_call_stops_on_confidence_interval() -> None:
    t = benchmark(sleeper(0.001), budget_s=5.0, min_time_s=0.05, rel_ci=0.5, warmup=1)
    assert t.stopped_by == "ci" and t.repeats >= 10


def test_throughput_and_gflops() -> None:
    t = benchmark(sleeper(0.001), items_per_call=32, flops_per_call=2e9, budget_s=0.3, min_time_s=0.1, warmup=1)
    assert t.throughput_per_s == pytest.approx(32 / (t.latency_ms_median / 1000))
    assert t.achieved_gflops == pytest.approx(2.0 / (t.latency_ms_median / 1000))


def test_settings_object_equals_keywords_and_a_wrong_keyword_fails() -> None:
    from advisor import ConstraintError
    from advisor.measurement import BenchmarkSettings

    calls: list[int] = []
    s = BenchmarkSettings(warmup=2, min_repeats=100, max_repeats=7, budget_s=1e9, min_time_s=0.0)  # no CI stop
    by_object = benchmark(lambda: calls.append(1), settings=s)
    assert by_object.repeats == 7 and len(calls) == 2 + 7 and by_object.stopped_by == "max_repeats"
    by_keyword = benchmark(lambda: calls.append(1), settings=s, max_repeats=12)  # a keyword overrides the object
    assert by_keyword.repeats == 12
    with pytest.raises(ConstraintError, match="budget_s"):
        benchmark(lambda: None, budget=1.0)
