"""Text generation: energy per output token, prefill and decode apart, per batch size and technique.

``advisor.measure_generation(model, tokenizer, prompts, ...)`` is :func:`measure_generation`; it returns a
:class:`GenerationRun`. :func:`generation_advice` ranks its variants per batch size (the crossover lines,
the Pareto frontier). Quality is judged by the one rule, :func:`advisor.measurement.quality.judge_quality`, with
generation's limits :func:`quality_limits` (the advice, ``tune`` and the benchmark). ``advisor.generation.models``
holds the decoders the tests and examples use (``advisor.generation.models:tiny_gpt2`` is a model spec for every
command)::

    from advisor.generation import measure_generation, generation_advice, GenerationRun

Inside: ``_measure`` (set-up, windows, the run on the engine, ``run_engine``), ``_rounds`` (the windows as the
engine's variants, the rule it applies after each round: retiring and stopping, the budget plan),
``_techniques`` (the generation variants), ``_results`` (the typed results), ``_quality`` (perplexity,
fidelity), ``_advice`` (ranking, generation's quality limits). See ``docs/generation.md``.
"""

from advisor.generation._advice import (
    MAX_PERPLEXITY_RATIO,
    MIN_GREEDY_AGREEMENT,
    GenerationAdvice,
    RankedVariant,
    generation_advice,
    pareto_frontier,
    quality_limits,
)
from advisor.generation._measure import GenerationSettings, measure_generation
from advisor.generation._results import GenerationFigures, GenerationResult, GenerationRun
from advisor.generation._techniques import (
    DEFAULT_GENERATION_TECHNIQUES,
    default_generation_ids,
    generation_measurable,
    is_generative,
)
from advisor.measurement.store import register_run_reader

register_run_reader("generation", GenerationRun.from_dict)  # ResultStore.load_run hands generation runs back typed

__all__ = [
    "DEFAULT_GENERATION_TECHNIQUES",
    "MAX_PERPLEXITY_RATIO",
    "MIN_GREEDY_AGREEMENT",
    "GenerationAdvice",
    "GenerationFigures",
    "GenerationResult",
    "GenerationRun",
    "GenerationSettings",
    "RankedVariant",
    "default_generation_ids",
    "generation_advice",
    "generation_measurable",
    "is_generative",
    "measure_generation",
    "pareto_frontier",
    "quality_limits",
]
