"""One small interface for every energy backend, and the reading it returns.

Every figure says how it was obtained: ``measured-nvml``, ``measured-rapl`` or ``estimated-…``.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor._errors import MeterUnavailable

__all__ = ["EnergyMeter", "EnergyReading", "MeterUnavailable", "Ticker"]


@dataclass(frozen=True)
class EnergyReading:
    """Energy over one measurement window.

    Attributes:
        energy_j: Total energy of the window. Units: J.
        duration_s: Wall-clock length of the window. Units: s.
        method: ``measured-nvml``, ``measured-rapl`` or ``estimated-<model>``.
        components_j: Energy per domain (``package-0``, ``dram-0``, ``gpu-0``, ``cpu``, ``memory``). Units: J.
        notes: Caveats (wrap-arounds handled, power sampled rather than counted, ...).
    """

    energy_j: float
    duration_s: float
    method: str
    components_j: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def mean_power_w(self) -> float:
        """Average power over the window. Units: W."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def measured(self) -> bool:
        """True for counter readings, False for estimates."""
        return self.method.startswith("measured-")


class EnergyMeter(abc.ABC):
    """A source of energy readings. ``begin()`` opens a window, ``end(token)`` closes it.

    Windows may overlap and nest: each ``begin`` returns its own token.
    """

    method: str = "abstract"
    min_block_s: float = 0.02  # shortest window this meter resolves well; the engine's blocks last at least this

    @abc.abstractmethod
    def _snapshot(self) -> Any:
        """The backend's cumulative state now (counters, CPU times, ...)."""

    @abc.abstractmethod
    def _delta(self, start: Any, end: Any, duration_s: float) -> EnergyReading:
        """The reading between two snapshots."""

    def begin(self) -> tuple[float, Any]:
        """Open a window; return its token."""
        return (time.perf_counter(), self._snapshot())

    def end(self, token: tuple[float, Any]) -> EnergyReading:
        """Close the window opened by ``begin`` and return its energy."""
        t0, start = token
        end = self._snapshot()
        return self._delta(start, end, time.perf_counter() - t0)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, library handles)."""

    def describe(self) -> str:
        """One line saying what this meter reads."""
        return self.method


class Ticker:
    """Calls ``fn`` every ``period_s`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, fn: Callable[[], None], period_s: float, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn, period_s), daemon=True, name=name)
        self._thread.start()

    def _run(self, fn: Callable[[], None], period_s: float) -> None:
        while not self._stop.wait(period_s):
            fn()

    def stop(self) -> None:
        """Stop the thread and wait briefly for it."""
        self._stop.set()
        self._thread.join(timeout=2)
