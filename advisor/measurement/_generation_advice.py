"""Advice that knows the crossover: rank generation techniques per batch size from a measured run.

Published effects on generation flip with batch size (weight-only 4-bit costs energy at batch 1
and saves it at large batch; speculative decoding shortens a run and may still raise energy), so
the ranking is per batch size and rests only on what was measured here:

- per batch size, every ``ok`` variant ranked by energy per output token (end to end), with its
  speed-up and energy ratio against the baseline of the same rounds and their verdicts;
- the *best* per batch size: the variant with the lowest energy per output token whose energy
  ratio is significantly below 1 (``less energy``); the baseline when none is;
- one sentence per technique that says where it pays off ("pays off here only from batch 8",
  "saves energy at every batch size measured", "never saved energy here"), and for speculative
  variants the acceptance rate ("1.6x faster at 38 % acceptance, energy x0.70");
- the batch-size frontier of the baseline (time per request vs energy per token): batching first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from advisor.measurement._generation_results import GenerationResult, GenerationRun

__all__ = ["GenerationAdvice", "RankedVariant", "generation_advice", "pareto_frontier"]


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
    """

    technique: str
    batch_size: int
    j_per_output_token: float | None
    speedup: float | None
    energy_ratio: float | None
    verdict: str | None
    energy_verdict: str | None
    acceptance_rate: float | None = None


@dataclass
class GenerationAdvice:
    """Ranking and crossover advice from one generation run.

    Attributes:
        ranking: Batch size -> ranked variants (lowest energy per token first, baseline included).
        best: Batch size -> the variant to use there (``baseline`` when nothing saved energy significantly).
        lines: Sentences, one per technique, plus the batching advice.
        frontier: The baseline's batch sizes on the time-vs-energy frontier (ascending batch size).
    """

    ranking: dict[int, list[RankedVariant]] = field(default_factory=dict)
    best: dict[int, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    frontier: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (batch sizes as string keys)."""
        return {"ranking": {str(b): [asdict(r) for r in rs] for b, rs in self.ranking.items()},
                "best": {str(b): t for b, t in self.best.items()}, "lines": self.lines,
                "frontier": self.frontier}  # fmt: skip


def _ranked(r: GenerationResult) -> RankedVariant:
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
        return (f"{tech}: {speed}{acc}, energy x{v.energy_ratio:.2f} ({v.energy_verdict}) at batch {b}"
                if v.energy_ratio is not None else f"{tech}: {speed}{acc} at batch {b}")  # fmt: skip
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
    return (f"batching first: batch {hi} takes x{j_hi.median / j_lo.median:.2f} the energy per token of batch {lo} "
            f"at x{t_hi.median / t_lo.median:.2f} the time per request; on the frontier: batch "
            f"{', '.join(map(str, frontier))}")  # fmt: skip


def generation_advice(run: GenerationRun) -> GenerationAdvice:
    """Rank the measured variants per batch size and say where each technique pays off (pure).

    Args:
        run: A :class:`GenerationRun` from :func:`advisor.measure_generation`.
    """
    adv = GenerationAdvice()
    batches = run.batch_sizes
    per_tech: dict[str, dict[int, RankedVariant]] = {}
    for b in batches:
        rows = [_ranked(r) for r in run.results if r.batch_size == b and r.status in ("ok", "interrupted")]
        rows = [v for v in rows if v.j_per_output_token is not None or v.speedup is not None]
        rows.sort(key=_sort_key)
        adv.ranking[b] = rows
        winners = [v for v in rows if v.technique == "baseline" or v.energy_verdict == "less energy"]
        adv.best[b] = winners[0].technique if winners else "baseline"
        for v in rows:
            if v.technique != "baseline":
                per_tech.setdefault(v.technique, {})[b] = v
    for tech, rows in per_tech.items():
        line = _technique_line(tech, rows, batches)
        if line:
            adv.lines.append(line)
    base = [r for r in run.results if r.technique == "baseline" and r.figures and r.figures.j_per_output_token]
    pts = [(r.figures.request_latency_s.median, r.figures.j_per_output_token.median) for r in base]
    adv.frontier = sorted(base[i].batch_size for i in pareto_frontier(pts))
    line = _batching_line(run, adv.frontier)
    if line:
        adv.lines.insert(0, line)
    return adv
