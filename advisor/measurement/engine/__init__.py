"""The engine room: interleaved paired rounds, the statistics derived from them, the machine lock.

What is where (every other room uses this face, never the private modules):

- ``_rounds``: :func:`run_engine` runs the baseline and the variants in interleaved, paired rounds
  (:class:`Variant`, :class:`VariantSpec`, :class:`EngineSettings`, :class:`EngineOutcome`), with the
  load sampler and the device sync.
- ``_derive``: :func:`derive` turns the rounds into ratios with 95 % intervals and verdicts;
  :func:`summarize_timing`, :func:`median_interval`, :func:`ready_to_stop`.
- ``_spread``: run-to-run spread from past runs (:class:`History`), which widens an interval.
- ``_lock``: :func:`machine_lock`, one measurement at a time on a machine.
- ``_allocator``: :func:`steady_allocator`, a steady heap before the first round.

The typed results the rounds produce (``Round``, ``Block``, ``Comparison``) live in the record room,
:mod:`advisor.measurement` (``_results``, ``store``).
"""

from advisor.measurement.engine._allocator import steady_allocator
from advisor.measurement.engine._derive import (
    MIN_ROUNDS,
    DeriveSettings,
    derive,
    median_interval,
    ratios,
    ready_to_stop,
    summarize_timing,
)
from advisor.measurement.engine._lock import LockGrant, lock_log, lock_status, machine_lock, wait_listener
from advisor.measurement.engine._rounds import (
    EngineHooks,
    EngineOutcome,
    EngineSettings,
    LoadSampler,
    Variant,
    VariantSpec,
    device_sync,
    load_summary,
    run_engine,
)
from advisor.measurement.engine._spread import History, history_from_rows

__all__ = [
    "MIN_ROUNDS",
    "DeriveSettings",
    "EngineHooks",
    "EngineOutcome",
    "EngineSettings",
    "History",
    "LoadSampler",
    "LockGrant",
    "Variant",
    "VariantSpec",
    "derive",
    "device_sync",
    "history_from_rows",
    "load_summary",
    "lock_log",
    "lock_status",
    "machine_lock",
    "median_interval",
    "ratios",
    "ready_to_stop",
    "run_engine",
    "steady_allocator",
    "summarize_timing",
    "wait_listener",
]
