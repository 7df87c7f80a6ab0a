"""Live measurement: the engine (interleaved paired rounds), the result model, meters, appliers, store.

The function ``advisor.measure()`` calls :func:`advisor.measurement.run.measure` (after turning
``techniques="recommended"`` into ids in ``advisor.tuning``: this package never asks ``recommend``);
this package holds everything behind it::

    from advisor.measurement import Interval, Comparison, TechniqueResult, MeasureRun, derive, batch_sweep

Ratios are stored as variant / baseline (lower is better) with a 95 % interval; the speed-up is
derived for display. See ``docs/measurement.md`` for the engine's design.
"""

from advisor.measurement._held_out import HeldOut, held_out
from advisor.measurement._results import (
    RESULT_SCHEMA_VERSION,
    Block,
    Comparison,
    Interval,
    MeasureRun,
    Projection,
    Round,
    RunRecord,
    RunToRun,
    TechniqueResult,
    Timing,
    TrainingQuality,
    TrainingResult,
    TrainingRun,
    result_row,
    run_from_dict,
)
from advisor.measurement.engine import (
    MIN_ROUNDS,
    DeriveSettings,
    EngineSettings,
    LoadSampler,
    LockGrant,
    Variant,
    VariantSpec,
    derive,
    device_sync,
    load_summary,
    lock_log,
    lock_status,
    machine_lock,
    median_interval,
    ratios,
    ready_to_stop,
    run_engine,
    steady_allocator,
    summarize_timing,
    wait_listener,
)
from advisor.measurement.harness import BenchmarkSettings
from advisor.measurement.run import MeasureSettings
from advisor.measurement.store import ResultStore
from advisor.measurement.sweep import SweepRow, batch_sweep
from advisor.measurement.training import MeasureTrainingSettings

__all__ = [
    "MIN_ROUNDS",
    "RESULT_SCHEMA_VERSION",
    "BenchmarkSettings",
    "Block",
    "Comparison",
    "DeriveSettings",
    "EngineSettings",
    "HeldOut",
    "Interval",
    "LoadSampler",
    "LockGrant",
    "MeasureRun",
    "MeasureSettings",
    "MeasureTrainingSettings",
    "Projection",
    "ResultStore",
    "Round",
    "RunRecord",
    "RunToRun",
    "SweepRow",
    "TechniqueResult",
    "Timing",
    "TrainingQuality",
    "TrainingResult",
    "TrainingRun",
    "Variant",
    "VariantSpec",
    "batch_sweep",
    "derive",
    "device_sync",
    "held_out",
    "load_summary",
    "lock_log",
    "lock_status",
    "machine_lock",
    "median_interval",
    "ratios",
    "ready_to_stop",
    "result_row",
    "run_engine",
    "run_from_dict",
    "steady_allocator",
    "summarize_timing",
    "wait_listener",
]
