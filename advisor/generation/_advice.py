"""Advice that knows the crossover: rank generation techniques per batch size from a measured run.

Published effects on generation flip with batch size (weight-only 4-bit costs energy at batch 1
and saves it at large batch; speculative decoding shortens a run and may still raise energy), so
the ranking is per batch size and rests only on what was measured here:

- per batch size, every ``ok`` variant ranked by energy per output token (end to end), with its
  speed-up and energy ratio against the baseline of the same rounds and their verdicts;
- the *best* per batch size: the variant with the lowest energy per output token whose energy
  ratio is significantly below 1 (``less energy``) and whose quality does not fail the rule;
  the baseline when none does;
- one sentence per technique that says where it pays off ("pays off here only from batch 8",
  "saves energy at every batch size measured", "never saved energy here"), and for speculative
  variants the acceptance rate ("1.6x faster at 38 % acceptance, energy x0.70");
- the batch-size frontier of the baseline (time per request vs energy per token): batching first.

The quality rule is the one rule, :func:`advisor.measurement.quality.judge_quality`, with generation's limits
(:func:`quality_limits`; also tune's and the benchmark's): with real weights and a tokenizer, the perplexity on
the shipped text may rise at most to :data:`MAX_PERPLEXITY_RATIO` times the baseline's (1.05). Greedy agreement
is reported but does not decide there: one flipped token changes every later one, so a harmless change (bf16) can
agree on 12 % of tokens at the same perplexity.
Real weights without a tokenizer: greedy agreement >= :data:`MIN_GREEDY_AGREEMENT` (the only
signal). Weights and kernels unchanged (prompt lookup, assisted generation, a static cache): quality
is kept by construction. Random weights: quality is not judged (speed and energy only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.generation._results import GenerationResult, GenerationRun
from advisor.measurement.quality import judge_quality

__all__ = [
    "MAX_PERPLEXITY_RATIO",
    "MIN_GREEDY_AGREEMENT",
    "GenerationAdvice",
    "RankedVariant",
    "generation_advice",
    "pareto_frontier",
    "quality_limits",
    "quality_rule_text",
]

MAX_PERPLEXITY_RATIO = 1.05
MIN_GREEDY_AGREEMENT = 0.9


def quality_limits(real_weights: bool) -> dict[str, Any]:
    """The limits generation hands to the one rule, :func:`advisor.measurement.quality.judge_quality`.

    The perplexity ratio at most :data:`MAX_PERPLEXITY_RATIO`; greedy agreement at least
    :data:`MIN_GREEDY_AGREEMENT` with real weights, not judged with random weights. Use as
    ``judge_quality(result.quality, **quality_limits(real_weights))``.

    Args:
        real_weights: The run's weights are trained (``meta["weights"] == "real"``).
    """
    return {
        "max_perplexity_ratio": MAX_PERPLEXITY_RATIO,
        "min_greedy_agreement": MIN_GREEDY_AGREEMENT if real_weights else None,
    }


def quality_rule_text(real_weights: bool, tokenizer: bool) -> str:
    """The quality rule as one sentence for a run's Reporting text."""
    if not real_weights:
        return "Quality: random weights, not judged (logit fidelity is reported); picks rest on speed and energy only."
    if tokenizer:
        return (
            f"Quality rule for a pick: perplexity on data/text/generation_eval.txt at most "
            f"x{MAX_PERPLEXITY_RATIO:g} the baseline's; greedy agreement is reported, not used (one flipped "
            "token changes all later ones)."
        )
    return (
        f"Quality rule for a pick: greedy agreement with the baseline >= {MIN_GREEDY_AGREEMENT:.0%} (no tokenizer: "
        "perplexity not measured; agreement is strict, one flipped token changes all later ones)."
    )


@dataclass(frozen=True)
class RankedVariant:
    """One variant's place at one batch size.

    Attributes:
        technique: Variant id.
        batch_size: Batch size.
        j_per_output_token: Median energy per output token (end to end). Units: J.
        speedup: Baseline time / variant time (end to end, per token), median.
        energy_ratio: Variant / baseline energy per token, median (lower is better).
        verdict: Latency verdict.
        energy_verdict: Energy verdict.
        acceptance_rate: Accepted / proposed tokens (speculative variants).
        quality_ok: The quality verdict's ``ok`` (``judge_quality`` with :func:`quality_limits`: True verified,
            False failed, None unverified).
    """

    technique: str
    batch_size: int
    j_per_output_token: float | None
    speedup: float | None
    energy_ratio: float | None
    verdict: str | None
    energy_verdict: str | None
    acceptance_rate: float | None = None
    quality_ok: bool | None = None


@dataclass
class GenerationAdvice:
    """Ranking and crossover advice from one generation run.

    Attributes:
        ranking: Batch size -> ranked variants (lowest energy per token first, baseline included).
        best: Batch size -> the variant to use there (``baseline`` when nothing saved energy significantly
            within the quality rule).
        lines: Sentences, one per technique, plus the batching advice.
        frontier: The baseline's batch sizes on the time-vs-energy frontier (ascending batch size).
    """

    ranking: dict[int, list[RankedVariant]] = field(default_factory=dict)
    best: dict[int, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    frontier: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (batch sizes as string keys)."""
        return {
            "ranking": {str(b): [asdict(r) for r in rs] for b, rs in self.ranking.items()},
            "best": {str(b): t for b, t in self.best.items()},
            "lines": self.lines,
            "frontier": self.frontier,
        }


def _ranked(r: GenerationResult, real_weights: bool) -> RankedVariant:
    f = r.figures
    c = r.comparison.get("end_to_end")
    jpt = f.j_per_output_token.median if f and f.j_per_output_token else None
    return RankedVariant(
        r.technique,
        r.batch_size,
        jpt,
        c.speedup.median if c and c.speedup else (1.0 if r.technique == "baseline" else None),
        c.energy_ratio.median if c and c.energy_ratio else (1.0 if r.technique == "baseline" else None),
        c.verdict if c else None,
        c.energy_verdict if c else None,
        (r.acceptance or {}).get("acceptance_rate"),
        None if r.technique == "baseline" else judge_quality(r.quality, **quality_limits(real_weights)).ok,
    )


def _sort_key(v: RankedVariant) -> tuple[float, float]:
    return (v.j_per_output_token if v.j_per_output_token is not None else float("inf"), -(v.speedup or 0.0))


def pareto_frontier(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both lower-is-better)."""
    out = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 <= y) and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            out.append(i)
    return out


def _technique_line(tech: str, rows: dict[int, RankedVariant], batches: list[int]) -> str | None:
    measured = [b for b in batches if b in rows]
    if not measured:
        return None
    saves = [b for b in measured if rows[b].energy_verdict == "less energy"]
    ratios = ", ".join(f"x{rows[b].energy_ratio:.2f} at batch {b}" for b in measured if rows[b].energy_ratio)
    if len(measured) == 1:
        b = measured[0]
        v = rows[b]
        acc = f" at {v.acceptance_rate:.0%} acceptance" if v.acceptance_rate is not None else ""
        speed = f"{v.speedup:.2f}x faster" if v.speedup and v.speedup >= 1 else f"{1 / (v.speedup or 1):.2f}x slower"
        return (
            f"{tech}: {speed}{acc}, energy x{v.energy_ratio:.2f} ({v.energy_verdict}) at batch {b}"
            if v.energy_ratio is not None
            else f"{tech}: {speed}{acc} at batch {b}"
        )
    if not saves:
        return f"{tech} never saved energy significantly here ({ratios})"
    if len(saves) == len(measured):
        return f"{tech} saves energy at every batch size measured ({ratios})"
    if saves == measured[measured.index(saves[0]) :]:
        return f"{tech} pays off here only from batch {saves[0]} ({ratios})"
    if saves == measured[: len(saves)]:
        return f"{tech} pays off here only up to batch {saves[-1]} ({ratios})"
    return f"{tech} saves energy at batch {', '.join(map(str, saves))} only ({ratios})"


def _batching_line(run: GenerationRun, frontier: list[int]) -> str | None:
    base = {r.batch_size: r for r in run.results if r.technique == "baseline" and r.figures}
    if len(base) < 2:
        return None
    lo, hi = min(base), max(base)
    j_lo, j_hi = (base[b].figures.j_per_output_token for b in (lo, hi))
    t_lo, t_hi = (base[b].figures.request_latency_s for b in (lo, hi))
    if not (j_lo and j_hi and t_lo and t_hi):
        return None
    return (
        f"batching first: batch {hi} takes x{j_hi.median / j_lo.median:.2f} the energy per token of batch {lo} "
        f"at x{t_hi.median / t_lo.median:.2f} the time per request; on the frontier: batch "
        f"{', '.join(map(str, frontier))}"
    )


def generation_advice(run: GenerationRun) -> GenerationAdvice:
    """Rank the measured variants per batch size and say where each technique pays off (pure).

    Args:
        run: A :class:`GenerationRun` from :func:`advisor.measure_generation`.
    """
    adv = GenerationAdvice()
    batches = run.batch_sizes
    real = run.meta.get("weights") == "real"
    per_tech: dict[str, dict[int, RankedVariant]] = {}
    for b in batches:
        rows = [_ranked(r, real) for r in run.results if r.batch_size == b and r.status in ("ok", "interrupted")]
        rows = [v for v in rows if v.j_per_output_token is not None or v.speedup is not None]
        rows.sort(key=_sort_key)
        adv.ranking[b] = rows
        winners = [
            v
            for v in rows
            if v.technique == "baseline" or (v.energy_verdict == "less energy" and v.quality_ok is not False)
        ]
        adv.best[b] = winners[0].technique if winners else "baseline"
        for v in rows:
            if v.technique != "baseline":
                per_tech.setdefault(v.technique, {})[b] = v
    for tech, rows in per_tech.items():
        line = _technique_line(tech, rows, batches)
        if line and any(v.quality_ok is False for v in rows.values()):
            line += "; fails the quality rule, never picked"
        if line:
            adv.lines.append(line)
    gated = {r.technique: r.reason for r in run.results if r.status == "skipped-quality"}
    adv.lines += [f"{tech}: {why}" for tech, why in gated.items()]
    base = [
        r
        for r in run.results
        if r.technique == "baseline" and r.figures and r.figures.j_per_output_token and r.figures.request_latency_s
    ]
    pts = [(r.figures.request_latency_s.median, r.figures.j_per_output_token.median) for r in base]
    adv.frontier = sorted(base[i].batch_size for i in pareto_frontier(pts))
    line = _batching_line(run, adv.frontier)
    if line:
        adv.lines.insert(0, line)
    return adv
