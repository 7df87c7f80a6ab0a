"""Energy meters: one interface (:class:`EnergyMeter`), one module per backend.

:func:`get_meters` returns what this machine can read: NVML for GPUs and RAPL for CPUs where
readable, and the estimate only when nothing can be read. It never raises; the reasons a backend
is missing are in the returned ``unavailable`` dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor.measurement.energy.base import EnergyMeter, EnergyReading, MeterUnavailable
from advisor.measurement.energy.estimate import EstimateMeter

__all__ = ["EnergyMeter", "EnergyReading", "EstimateMeter", "MeterUnavailable", "get_meters"]


def get_meters(
    tdp_w: float | None = None, *, nvml: Any = None, powercap: str | Path | None = None
) -> tuple[list[EnergyMeter], dict[str, str]]:
    """The meters to use here, and why the others are not.

    Args:
        tdp_w: CPU TDP for the estimate, if it is needed. Units: W.
        nvml: A fake NVML module (tests).
        powercap: A fake powercap root (tests).
    """
    from advisor.measurement.energy.nvml import NvmlMeter
    from advisor.measurement.energy.rapl import POWERCAP, RaplMeter

    meters: list[EnergyMeter] = []
    unavailable: dict[str, str] = {}
    try:
        meters.append(NvmlMeter(nvml=nvml))
    except MeterUnavailable as exc:
        unavailable["nvml"] = str(exc)
    try:
        meters.append(RaplMeter(Path(powercap) if powercap else POWERCAP))
    except MeterUnavailable as exc:
        unavailable["rapl"] = str(exc)
    if not any(m.method == "measured-rapl" for m in meters):
        meters.append(EstimateMeter(tdp_w))  # CPU energy is estimated when RAPL is not readable
    return meters, unavailable
