"""The facts a report shows from a run's ``meta``, read in one place and typed.

A run's ``meta`` is its free-form record (hardware, versions, settings, the generation set-up). The
renderers never read it: :meth:`RunFacts.of` picks the keys a report shows, once, and the renderers
read attributes. A key the run did not record is None.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["RunFacts"]


@dataclass(frozen=True)
class RunFacts:
    """What a run recorded that a report shows (None: not recorded).

    Attributes:
        model: The model's profile (a ``ModelProfile`` dump), or its class name for a generation run.
        hardware: The machine (a ``HardwareProfile`` dump).
        versions: Software versions.
        idle_power_w: Idle power subtracted from measured energy. Units: W.
        budget_s: The run's time budget. Units: s.
        harness: The engine's settings (``engine``, ``block_s``, ``seed``, ``target_rel``, ...).
        parameters: Parameters of a generation run's model.
        weights: ``real`` or ``random`` (generation).
        weights_note: What the weights mean for the quality figures (generation).
        cpu: The CPU a generation run measured on.
        batch_sizes: The batch sizes a generation run measured.
        max_new_tokens: New tokens per prompt (generation).
        energy_method: How a generation run's energy per token was obtained.
        plan: How a generation run's budget was planned (``note``).
        reporting: The run's own Reporting text (generation).
        model_name: The model's name (a to-target run).
        seeds: The seeds a to-target run trained each variant with.
        lock_waited_s: How long the run queued for the machine lock behind another measurement. Units: s.
    """

    model: Any = None
    hardware: dict[str, Any] | None = None
    versions: dict[str, str] | None = None
    idle_power_w: float | None = None
    budget_s: float | None = None
    harness: dict[str, Any] | None = None
    parameters: int | None = None
    weights: str | None = None
    weights_note: str | None = None
    cpu: str | None = None
    batch_sizes: list[int] | None = None
    max_new_tokens: int | None = None
    energy_method: str | None = None
    plan: dict[str, Any] | None = None
    reporting: str | None = None
    model_name: str | None = None
    seeds: list[int] | None = None
    lock_waited_s: float | None = None

    @classmethod
    def of(cls, run: Any) -> RunFacts:
        """The facts of a run (any result type with a ``meta`` dict)."""
        meta = run.meta or {}
        return cls(**{f.name: meta.get(f.name) for f in fields(cls)})

    @property
    def cpu_model(self) -> str | None:
        """The CPU model of the recorded hardware."""
        return self.hardware.get("cpu_model") if isinstance(self.hardware, dict) else None

    @property
    def plan_note(self) -> str | None:
        """The budget plan's note of a generation run."""
        return self.plan.get("note") if isinstance(self.plan, dict) else None
