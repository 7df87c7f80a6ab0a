"""Live measurement: the engine (interleaved paired rounds), the result model, meters, appliers, store.

The function ``advisor.measure()`` is :func:`advisor.measurement.run.measure`; this package holds
everything behind it::

    from advisor.measurement import Interval, Comparison, TechniqueResult, MeasureRun, derive, batch_sweep

Ratios are stored as variant / baseline (lower is better) with a 95 % interval; the speed-up is
derived for display. See ``docs/measurement.md`` for the engine's design.
"""

from advisor.measurement._derive import derive, median_interval, summarize_timing
from advisor.measurement._engine import EngineSettings, Variant, VariantSpec, load_summary, run_engine
from advisor.measurement._generation import default_generation_ids, measure_generation
from advisor.measurement._generation_advice import (
    MAX_PERPLEXITY_RATIO,
    MIN_GREEDY_AGREEMENT,
    GenerationAdvice,
    RankedVariant,
    generation_advice,
    pareto_frontier,
    quality_ok,
)
from advisor.measurement._generation_results import GenerationFigures, GenerationResult, GenerationRun
from advisor.measurement._generation_techniques import DEFAULT_GENERATION_TECHNIQUES
from advisor.measurement._lock import LockGrant, lock_log, lock_status, machine_lock, wait_listener
from advisor.measurement._results import (
    SCHEMA_VERSION,
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
from advisor.measurement.store import ResultStore
from advisor.measurement.sweep import SweepRow, batch_sweep

__all__ = [
    "DEFAULT_GENERATION_TECHNIQUES",
    "MAX_PERPLEXITY_RATIO",
    "MIN_GREEDY_AGREEMENT",
    "SCHEMA_VERSION",
    "Block",
    "Comparison",
    "EngineSettings",
    "GenerationAdvice",
    "GenerationFigures",
    "GenerationResult",
    "GenerationRun",
    "Interval",
    "LockGrant",
    "MeasureRun",
    "Projection",
    "RankedVariant",
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
    "default_generation_ids",
    "derive",
    "generation_advice",
    "load_summary",
    "lock_log",
    "lock_status",
    "machine_lock",
    "measure_generation",
    "median_interval",
    "pareto_frontier",
    "quality_ok",
    "result_row",
    "run_engine",
    "run_from_dict",
    "summarize_timing",
    "wait_listener",
]
