"""An energy estimate for machines where no counter can be read.

energy = CPU time of this process x power per hardware thread + resident memory x power per GiB
x wall time.

Power per thread is the CPU's TDP divided by its hardware threads (CPU time is counted per
thread). Give the TDP (``tdp_w``) when you know it; otherwise 4 W per thread is used, the
fallback CodeCarbon documents for CPUs missing from its TDP table, and the method says so
(``estimated-default-power``). The memory model is 0.375 W per GiB (3 W per 8 GB, the figure
CodeCarbon documents for its RAM model). Estimates ignore idle and uncore power and any other
process: they rank alternatives, they are not a meter.
"""

from __future__ import annotations

import os
import time
from typing import Any

from advisor.measurement.energy.base import EnergyMeter, EnergyReading

__all__ = ["DEFAULT_W_PER_THREAD", "MEMORY_W_PER_GIB", "EstimateMeter"]

DEFAULT_W_PER_THREAD = 4.0
MEMORY_W_PER_GIB = 3.0 / 8.0


class EstimateMeter(EnergyMeter):
    """CPU-time x per-thread power plus a memory model (this process only).

    Args:
        tdp_w: The CPU's thermal design power. Units: W. None uses the default per-thread power.
        threads: Hardware threads the TDP is spread over (default: detected).
    """

    def __init__(self, tdp_w: float | None = None, threads: int | None = None) -> None:
        import psutil

        self._proc = psutil.Process(os.getpid())
        n = threads or psutil.cpu_count(logical=True) or 1
        if tdp_w is not None:
            if tdp_w <= 0:
                raise ValueError(f"tdp_w must be positive watts, got {tdp_w!r}")
            self.w_per_thread = tdp_w / n
            self.method = "estimated-tdp"
            self.basis = f"TDP {tdp_w:g} W / {n} threads = {self.w_per_thread:.2f} W per busy thread"
        else:
            self.w_per_thread = DEFAULT_W_PER_THREAD
            self.method = "estimated-default-power"
            self.basis = (
                f"{DEFAULT_W_PER_THREAD:g} W per busy thread (CodeCarbon's fallback for unknown CPUs; "
                "give tdp_w for a better estimate)"
            )

    def _snapshot(self) -> dict[str, Any]:
        # time.process_time() counts every thread of this process with nanosecond resolution (psutil's
        # cpu_times ticks at 10 ms, too coarse for blocks of a few tens of milliseconds)
        return {"cpu_s": time.process_time(), "rss_b": self._proc.memory_info().rss, "t": time.perf_counter()}

    def _delta(self, start: dict[str, Any], end: dict[str, Any], duration_s: float) -> EnergyReading:
        cpu_j = max(end["cpu_s"] - start["cpu_s"], 0.0) * self.w_per_thread
        mem_gib = (start["rss_b"] + end["rss_b"]) / 2 / 2**30
        mem_j = mem_gib * MEMORY_W_PER_GIB * duration_s
        notes = (self.basis, f"memory {MEMORY_W_PER_GIB:g} W/GiB of resident memory", "an estimate, not a measurement")
        return EnergyReading(cpu_j + mem_j, duration_s, self.method, {"cpu": cpu_j, "memory": mem_j}, notes)

    def describe(self) -> str:
        """What the estimate rests on."""
        return f"estimate: {self.basis}"
