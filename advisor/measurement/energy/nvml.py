"""GPU energy through NVML (``nvidia-ml-py``, imported as ``pynvml``).

Volta and newer GPUs have a total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ):
it is read at the window's ends. Older GPUs have none: a thread samples power
(``nvmlDeviceGetPowerUsage``, mW) every ``sample_s`` and integrates it (trapezoid rule). A window
shorter than one sample is never reported as zero: it uses the power read at its ends.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from advisor.measurement.energy.base import EnergyMeter, EnergyReading, MeterUnavailable, Ticker

__all__ = ["NvmlMeter"]


def _import_pynvml() -> Any:
    try:
        import pynvml
    except ImportError:
        raise MeterUnavailable("nvidia-ml-py is not installed: pip install nvidia-ml-py") from None
    return pynvml


class NvmlMeter(EnergyMeter):
    """Energy of the visible NVIDIA GPUs.

    Args:
        nvml: The NVML module (defaults to ``pynvml``; tests pass a fake).
        indices: GPU indices to read (default: all).
        sample_s: Power-sampling period for GPUs without an energy counter. Units: s.
    """

    method = "measured-nvml"
    min_block_s = 0.1  # the energy counter updates every few tens of ms; sampled power every sample_s

    def __init__(self, nvml: Any = None, indices: list[int] | None = None, sample_s: float = 0.05) -> None:
        self.nvml = nvml or _import_pynvml()
        try:
            self.nvml.nvmlInit()
            count = self.nvml.nvmlDeviceGetCount()
        except self.nvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML could not start ({exc}): no NVIDIA GPU or driver") from None
        if count == 0:
            raise MeterUnavailable("NVML reports no GPU")
        self.indices = indices if indices is not None else list(range(count))
        self.handles = {i: self.nvml.nvmlDeviceGetHandleByIndex(i) for i in self.indices}
        self.has_counter: dict[int, bool] = {}
        for i, h in self.handles.items():
            try:
                self.nvml.nvmlDeviceGetTotalEnergyConsumption(h)
                self.has_counter[i] = True
            except self.nvml.NVMLError:
                self.has_counter[i] = False
        self._sampled = [i for i, ok in self.has_counter.items() if not ok]
        if self._sampled:
            self.min_block_s = max(0.25, 5 * sample_s)
        self._lock = threading.Lock()
        self._integral_j = dict.fromkeys(self._sampled, 0.0)
        self._last: dict[int, tuple[float, float]] = {}
        self._ticker: Ticker | None = None
        if self._sampled:
            for i in self._sampled:
                self._last[i] = (time.perf_counter(), self._power_w(i))
            self._ticker = Ticker(self._sample, sample_s, "nvml-sampler")

    def _power_w(self, i: int) -> float:
        return self.nvml.nvmlDeviceGetPowerUsage(self.handles[i]) / 1000.0

    def _sample(self) -> None:
        with self._lock:
            for i in self._sampled:
                t, p = time.perf_counter(), self._power_w(i)
                t0, p0 = self._last[i]
                self._integral_j[i] += (t - t0) * (p + p0) / 2
                self._last[i] = (t, p)

    def _snapshot(self) -> dict[int, float]:
        snap: dict[int, float] = {}
        for i, ok in self.has_counter.items():
            if ok:
                snap[i] = self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handles[i]) / 1000.0
        if self._sampled:
            self._sample()  # close the integral at this instant, so short windows are not zero
            with self._lock:
                snap.update(self._integral_j)
        return snap

    def _delta(self, start: dict[int, float], end: dict[int, float], duration_s: float) -> EnergyReading:
        comps = {f"gpu-{i}": end[i] - start[i] for i in end}
        notes = []
        if self._sampled:
            notes.append(f"GPU(s) {self._sampled} have no energy counter: power sampled and integrated")
        notes.append("NVML reads the whole GPU (all processes on it)")
        return EnergyReading(sum(comps.values()), duration_s, self.method, comps, tuple(notes))

    def close(self) -> None:
        """Stop the sampler and shut NVML down."""
        if self._ticker:
            self._ticker.stop()
        with contextlib.suppress(self.nvml.NVMLError):
            self.nvml.nvmlShutdown()

    def describe(self) -> str:
        """What is read."""
        kinds = ["counter" if ok else "sampled power" for ok in self.has_counter.values()]
        return "NVML: " + ", ".join(f"gpu-{i} ({k})" for i, k in zip(self.has_counter, kinds, strict=True))
