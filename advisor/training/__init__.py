"""Training to a target: the energy, time and steps each training technique needs to reach the accuracy you need.

``advisor.measure_to_target(spec, target=0.95, techniques=[...], seeds=3)`` is :func:`measure_to_target`: every
variant (the baseline, each technique, ``a+b`` stacks) trains from a fresh model until the spec's ``eval_fn``
reaches the target (evaluated every N steps; evaluation energy counted apart) or a cap, over seeds interleaved
across variants. Ratios to the baseline are paired by seed with 95 % intervals; "did not reach the target in K of
N seeds" is an outcome of its own. See ``docs/training.md``.

The per-step engine (``advisor.measure_training``) stays in :mod:`advisor.measurement.training`.
"""

from advisor.measurement.store import register_run_reader
from advisor.training._project import ASSUMPTION
from advisor.training._results import (
    KIND,
    ProjectionRow,
    SeedRun,
    ToTargetRun,
    VariantResult,
    outcome_line,
    paired_ratio,
    run_from_store,
    seed_interval,
    target_text,
)
from advisor.training._run import ToTargetSettings, aggregate, measure_to_target, training_setup_of
from advisor.training._techniques import DEFAULT_TECHNIQUES, TECHNIQUES, Knobs, Technique, check_ids

register_run_reader(KIND, run_from_store)  # ResultStore.load_run hands to-target runs back typed

__all__ = [
    "ASSUMPTION",
    "DEFAULT_TECHNIQUES",
    "KIND",
    "TECHNIQUES",
    "Knobs",
    "ProjectionRow",
    "SeedRun",
    "Technique",
    "ToTargetRun",
    "ToTargetSettings",
    "VariantResult",
    "aggregate",
    "check_ids",
    "measure_to_target",
    "outcome_line",
    "paired_ratio",
    "run_from_store",
    "seed_interval",
    "target_text",
    "training_setup_of",
]
