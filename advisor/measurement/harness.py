"""Timing one callable alone: warm-up, repeats until the estimate is tight, spread, memory, energy.

Comparisons between variants do not use this: they go through the interleaved, paired rounds of
:mod:`advisor.measurement.engine`. :func:`benchmark` stays for timing a single callable.

:func:`benchmark` runs ``fn`` a few times to warm up, then in repeats until the 95 % confidence
interval of the median latency is within ``rel_ci`` of it or ``budget_s`` runs out (at least
``min_repeats``). Each repeat is timed with ``perf_counter``; energy is read over the whole
measured block from the meters (counter-based where possible, else the labelled estimate). Where
energy is *measured* (a counter of the whole package or GPU), the machine's idle power, sampled
beforehand, is subtracted and said so.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from advisor._settings import merged
from advisor.measurement._results import Timing
from advisor.measurement.energy import EnergyMeter, EnergyReading

__all__ = ["CHUNK_S", "BenchmarkSettings", "Timing", "benchmark", "idle_power_w"]

CHUNK_S = 0.25  # energy is read in chunks of at least this long: counters and CPU clocks tick coarsely


def _median_ci(xs: list[float]) -> float:
    """Half-width of a distribution-free 95 % CI of the median (order statistics)."""
    n = len(xs)
    if n < 6:
        return float("inf")
    s = sorted(xs)
    k = max(math.floor((n - 1.96 * math.sqrt(n)) / 2), 0)
    lo, hi = s[k], s[min(n - 1 - k, n - 1)]
    return (hi - lo) / 2


def _peak_rss_mib() -> float:
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / 1024 if os.uname().sysname != "Darwin" else rss / 2**20
    except (ImportError, AttributeError):  # pragma: no cover - non-POSIX
        import psutil

        return psutil.Process().memory_info().rss / 2**20


def idle_power_w(meters: list[EnergyMeter], seconds: float = 1.0) -> float | None:
    """Idle power of the machine from the *measuring* meters (None when only estimates exist)."""
    measuring = [m for m in meters if m.method.startswith("measured-")]
    if not measuring:
        return None
    tokens = [m.begin() for m in measuring]
    time.sleep(seconds)
    readings = [m.end(t) for m, t in zip(measuring, tokens, strict=True)]
    return sum(r.mean_power_w for r in readings)


def _combine(readings: list[EnergyReading]) -> tuple[float, str, tuple[str, ...]]:
    energy = sum(r.energy_j for r in readings)
    methods = sorted({r.method for r in readings})
    notes = tuple(n for r in readings for n in r.notes)
    return energy, "+".join(methods), notes


@dataclass(frozen=True)
class BenchmarkSettings:
    """The knobs of :func:`benchmark` (each may also be passed to it as a keyword).

    Attributes:
        items_per_call: Items (samples) one call processes, for throughput.
        flops_per_call: FLOPs of one call, for achieved GFLOP/s.
        warmup: Untimed calls first.
        min_repeats: At least this many timed calls (if the budget allows one at least).
        max_repeats: At most this many.
        budget_s: Wall-clock budget for the timed calls. Units: s.
        min_time_s: Measure at least this long (so energy chunks and CPU clocks resolve). Units: s.
        rel_ci: Stop when the 95 % CI half-width of the median is below this share of it.
        idle_w: Idle power to subtract from measured energy. Units: W.
        sync: Called after each call (e.g. ``torch.cuda.synchronize``) so GPU work is counted.
    """

    items_per_call: int = 1
    flops_per_call: float | None = None
    warmup: int = 3
    min_repeats: int = 10
    max_repeats: int = 100_000
    budget_s: float = 5.0
    min_time_s: float = 1.0
    rel_ci: float = 0.02
    idle_w: float | None = None
    sync: Callable[[], None] | None = None


class _Chunks:
    """Energy read in chunks of at least :data:`CHUNK_S` over the timed calls: (calls, joules, seconds) each."""

    def __init__(self, meters: list[EnergyMeter]) -> None:
        self.meters = meters
        self.done: list[tuple[int, float, float]] = []
        self.method: str | None = None
        self.notes: tuple[str, ...] = ()
        self._open()

    def _open(self) -> None:
        self.tokens = [m.begin() for m in self.meters]
        self.calls, self.t0 = 0, time.perf_counter()

    def _close(self) -> tuple[int, float, float]:
        readings = [m.end(tk) for m, tk in zip(self.meters, self.tokens, strict=True)]
        joules, self.method, self.notes = _combine(readings)
        return self.calls, joules, time.perf_counter() - self.t0

    def count(self, t1: float) -> None:
        """One more call, ended at ``t1``; closes the chunk once it is long enough for coarse counters."""
        self.calls += 1
        if self.meters and t1 - self.t0 >= CHUNK_S:
            self.done.append(self._close())
            self._open()

    def finish(self) -> None:
        """Close the last chunk; one too short to stand alone is folded into the previous one."""
        if not (self.meters and self.calls):
            return
        last = self._close()
        if self.done and last[2] < CHUNK_S / 2:
            last = tuple(a + b for a, b in zip(self.done.pop(), last, strict=True))  # type: ignore[assignment]
        self.done.append(last)


def _timed_calls(fn: Callable[[], Any], s: BenchmarkSettings, chunks: _Chunks) -> tuple[list[float], str]:
    """Time ``fn`` until the median's interval is tight, the budget ends or ``max_repeats``: (times, stopped_by)."""
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < s.max_repeats:
        t0 = time.perf_counter()
        fn()
        if s.sync:
            s.sync()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        chunks.count(t1)
        elapsed = t1 - start
        long_enough = elapsed >= s.min_time_s or elapsed >= s.budget_s
        # the CI sorts all times: check it every ~2 % of calls so long runs of fast calls stay linear
        check = len(times) >= s.min_repeats and long_enough and len(times) % max(1, len(times) // 50) == 0
        if check and _median_ci(times) <= s.rel_ci * statistics.median(times):
            return times, "ci"
        if elapsed >= s.budget_s:
            return times, "budget"
    return times, "max_repeats"


def _energy_per_call(
    chunks: _Chunks, idle_w: float | None, wall: float, n: int
) -> tuple[float | None, float | None, float | None, tuple[str, ...]]:
    """(energy per call, its IQR over chunks, the idle power subtracted, notes) from the closed chunks."""
    notes = chunks.notes
    if not chunks.done:
        return None, None, None, notes
    method = chunks.method
    subtract = idle_w is not None and method is not None and method.startswith("measured-")
    per_call = []
    total_j = 0.0
    for calls, joules, secs in chunks.done:
        net = max(joules - idle_w * secs, 0.0) if subtract else joules  # type: ignore[operator]
        total_j += net
        per_call.append(net / calls)
    idle_used = None
    if subtract:
        idle_used = idle_w
        notes = (*notes, f"idle power {idle_w:.1f} W subtracted over {wall:.2f} s")
    energy_iqr = None
    if len(per_call) >= 2:
        eq = statistics.quantiles(per_call, n=4)
        energy_iqr = eq[2] - eq[0]
    return total_j / n, energy_iqr, idle_used, notes


def benchmark(
    fn: Callable[[], Any],
    *,
    meters: list[EnergyMeter] | None = None,
    settings: BenchmarkSettings | None = None,
    **overrides: Any,
) -> Timing:
    """Time ``fn`` (see module docstring).

    Args:
        fn: The call to time (e.g. one forward pass on a batch).
        meters: Energy meters to read over the timed block.
        settings: Repeats, budget, stopping rule, idle power, sync (:class:`BenchmarkSettings`; default: its
            defaults).
        **overrides: Any :class:`BenchmarkSettings` field by keyword (``budget_s=1.0``, ``warmup=0``).

    Raises:
        ConstraintError: A keyword is not a :class:`BenchmarkSettings` field.
    """
    import psutil

    s = merged(BenchmarkSettings, settings, overrides, "benchmark()")
    proc = psutil.Process()
    for _ in range(s.warmup):
        fn()
    if s.sync:
        s.sync()
    cpu0 = proc.cpu_times()
    chunks = _Chunks(meters or [])
    start = time.perf_counter()
    times, stopped = _timed_calls(fn, s, chunks)
    chunks.finish()
    wall = time.perf_counter() - start
    cpu1 = proc.cpu_times()
    n = len(times)
    med = statistics.median(times)
    q = statistics.quantiles(times, n=4) if n >= 2 else [med, med, med]
    energy, energy_iqr, idle_used, notes = _energy_per_call(chunks, s.idle_w, wall, n)
    cpu_ms = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / n
    return Timing(
        repeats=n,
        latency_ms_median=med * 1000,
        latency_ms_iqr=(q[2] - q[0]) * 1000,
        latency_ms_ci95=_median_ci(times) * 1000 if n >= 6 else float("nan"),
        throughput_per_s=s.items_per_call / med if med > 0 else float("inf"),
        cpu_time_ms_per_call=cpu_ms,
        peak_rss_mib=_peak_rss_mib(),
        energy_j_per_call=energy,
        energy_method=chunks.method,
        energy_j_per_call_iqr=energy_iqr,
        idle_power_w=idle_used,
        achieved_gflops=(s.flops_per_call / med / 1e9) if s.flops_per_call and med > 0 else None,
        stopped_by=stopped,
        notes=notes,
    )
