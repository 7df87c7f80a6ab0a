"""Tune: recommend, measure the most promising variants here, re-rank on the measurements, and plan.

``advisor.tune(model, example_inputs, ...)`` is :func:`advisor.tuning.tune`; it returns a :class:`TunePlan`. Its knobs
are a :class:`TuneSettings` (with :class:`GenerationOptions` for generative decoders), given whole or as keywords.
``advisor.measure`` is :func:`advisor.tuning.measure`: the engine's measure with ``techniques="recommended"``
resolved by ``recommend`` here, the one place that joins the two.
The knowledge base (every stored measurement, as evidence about the machine it ran on) lives here too:
:func:`knowledge_for` feeds ``recommend(knowledge=...)``; :func:`export_knowledge` and
:func:`import_knowledge` share it between machines.
"""

from advisor.tuning._generation import generation_order, generation_picks
from advisor.tuning._knowledge import (
    KNOWLEDGE_FORMAT,
    KNOWLEDGE_VERSION,
    export_knowledge,
    hardware_fingerprint,
    import_knowledge,
    knowledge_for,
    observations_from_store,
)
from advisor.tuning._measure import RECOMMENDED_CONSTRAINTS, measure, recommended_ids
from advisor.tuning._plan import BatchPick, Candidate, TunePlan, recovery_text
from advisor.tuning._settings import GenerationOptions, TuneSettings
from advisor.tuning._tune import judge, measurable_here, tune

__all__ = [
    "KNOWLEDGE_FORMAT",
    "KNOWLEDGE_VERSION",
    "RECOMMENDED_CONSTRAINTS",
    "BatchPick",
    "Candidate",
    "GenerationOptions",
    "TunePlan",
    "TuneSettings",
    "export_knowledge",
    "generation_order",
    "generation_picks",
    "hardware_fingerprint",
    "import_knowledge",
    "judge",
    "knowledge_for",
    "measurable_here",
    "measure",
    "observations_from_store",
    "recommended_ids",
    "recovery_text",
    "tune",
]
