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
from typing import Any

from advisor.measurement._results import Timing
from advisor.measurement.energy import EnergyMeter, EnergyReading

__all__ = ["CHUNK_S", "Timing", "benchmark", "idle_power_w"]

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


def benchmark(
    fn: Callable[[], Any],
    *,
    meters: list[EnergyMeter] | None = None,
    items_per_call: int = 1,
    flops_per_call: float | None = None,
    warmup: int = 3,
    min_repeats: int = 10,
    max_repeats: int = 100_000,
    budget_s: float = 5.0,
    min_time_s: float = 1.0,
    rel_ci: float = 0.02,
    idle_w: float | None = None,
    sync: Callable[[], None] | None = None,
) -> Timing:
    """Time ``fn`` (see module docstring).

    Args:
        fn: The call to time (e.g. one forward pass on a batch).
        meters: Energy meters to read over the timed block.
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
    import psutil

    proc = psutil.Process()
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    meters = meters or []
    cpu0 = proc.cpu_times()
    times: list[float] = []
    chunks: list[tuple[int, float, float]] = []  # (calls, joules, seconds) per energy chunk
    method: str | None = None
    notes: tuple[str, ...] = ()
    tokens = [m.begin() for m in meters]

    def close_chunk(calls: int, t0: float) -> tuple[int, float, float]:
        nonlocal method, notes
        joules, method, notes = _combine([m.end(tk) for m, tk in zip(meters, tokens, strict=True)])
        return calls, joules, time.perf_counter() - t0

    chunk_calls, chunk_t0 = 0, time.perf_counter()
    start = time.perf_counter()
    stopped = "max_repeats"
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        t1 = time.perf_counter()
        times.append(t1 - t0)
        chunk_calls += 1
        if meters and t1 - chunk_t0 >= CHUNK_S:  # energy in chunks long enough for coarse counters
            chunks.append(close_chunk(chunk_calls, chunk_t0))
            tokens = [m.begin() for m in meters]
            chunk_calls, chunk_t0 = 0, time.perf_counter()
        elapsed = t1 - start
        long_enough = elapsed >= min_time_s or elapsed >= budget_s
        # the CI sorts all times: check it every ~2 % of calls so long runs of fast calls stay linear
        check = len(times) >= min_repeats and long_enough and len(times) % max(1, len(times) // 50) == 0
        if check and _median_ci(times) <= rel_ci * statistics.median(times):
            stopped = "ci"
            break
        if elapsed >= budget_s:
            stopped = "budget"
            break
    if meters and chunk_calls:
        last = close_chunk(chunk_calls, chunk_t0)
        if chunks and last[2] < CHUNK_S / 2:  # too short to stand alone: fold into the previous chunk
            last = tuple(a + b for a, b in zip(chunks.pop(), last, strict=True))  # type: ignore[assignment]
        chunks.append(last)
    wall = time.perf_counter() - start
    cpu1 = proc.cpu_times()
    n = len(times)
    med = statistics.median(times)
    q = statistics.quantiles(times, n=4) if n >= 2 else [med, med, med]
    energy = energy_iqr = None
    idle_used = None
    if chunks:
        subtract = idle_w is not None and method is not None and method.startswith("measured-")
        per_call = []
        total_j = 0.0
        for calls, joules, secs in chunks:
            net = max(joules - idle_w * secs, 0.0) if subtract else joules  # type: ignore[operator]
            total_j += net
            per_call.append(net / calls)
        if subtract:
            idle_used = idle_w
            notes = (*notes, f"idle power {idle_w:.1f} W subtracted over {wall:.2f} s")
        energy = total_j / n
        if len(per_call) >= 2:
            eq = statistics.quantiles(per_call, n=4)
            energy_iqr = eq[2] - eq[0]
    cpu_ms = ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) * 1000 / n
    return Timing(
        repeats=n,
        latency_ms_median=med * 1000,
        latency_ms_iqr=(q[2] - q[0]) * 1000,
        latency_ms_ci95=_median_ci(times) * 1000 if n >= 6 else float("nan"),
        throughput_per_s=items_per_call / med if med > 0 else float("inf"),
        cpu_time_ms_per_call=cpu_ms,
        peak_rss_mib=_peak_rss_mib(),
        energy_j_per_call=energy,
        energy_method=method,
        energy_j_per_call_iqr=energy_iqr,
        idle_power_w=idle_used,
        achieved_gflops=(flops_per_call / med / 1e9) if flops_per_call and med > 0 else None,
        stopped_by=stopped,
        notes=notes,
    )
