"""Live measurement: energy meters (NVML, RAPL, estimate), the harness, appliers and the batch-size sweep.

The function ``advisor.measure()`` is :func:`advisor.measurement.run.measure`; this package holds
everything behind it (``from advisor.measurement import batch_sweep``).
"""

from advisor.measurement.sweep import SweepRow, batch_sweep

__all__ = ["SweepRow", "batch_sweep"]
