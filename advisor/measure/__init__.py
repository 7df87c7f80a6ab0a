"""Live measurement: energy meters (NVML, RAPL, estimate), the harness, appliers and the batch-size sweep.

``advisor.measure`` itself is bound to the :func:`advisor.measure.run.measure` function on the
``advisor`` package; this sub-package is reached with ``from advisor.measure import batch_sweep``.
"""

from advisor.measure.sweep import SweepRow, batch_sweep

__all__ = ["SweepRow", "batch_sweep"]
