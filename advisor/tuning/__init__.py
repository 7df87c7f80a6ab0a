"""Tune: recommend, measure the most promising variants here, re-rank on the measurements, and plan.

``advisor.tune(model, example_inputs, ...)`` is :func:`advisor.tuning.tune`; it returns a :class:`TunePlan`.
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
from advisor.tuning._plan import BatchPick, Candidate, TunePlan, recovery_text
from advisor.tuning._tune import judge, measurable_here, tune

__all__ = [
    "KNOWLEDGE_FORMAT",
    "KNOWLEDGE_VERSION",
    "BatchPick",
    "Candidate",
    "TunePlan",
    "export_knowledge",
    "generation_order",
    "generation_picks",
    "hardware_fingerprint",
    "import_knowledge",
    "judge",
    "knowledge_for",
    "measurable_here",
    "observations_from_store",
    "recovery_text",
    "tune",
]
