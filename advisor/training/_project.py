"""Projection from the small runs to the user's full training, with the interval over seeds carried through.

Per seed: the baseline's training energy per sample (energy of its run / samples it processed) times the full
training's samples (dataset size x epochs) is the baseline's full training; a variant's is that times its
energy-to-target ratio in the same seed. Intervals are t intervals over these per-seed figures, on their logs
(so both the baseline's spread and the ratio's are in them); savings are paired by seed (a t interval on the
differences). kWh and CO2e are linear in J.

The assumption, stated with every projection: the energy-to-target ratio measured here transfers to the full
training (the variant saves the same fraction of it), and the baseline's energy grows linearly with samples.
"""

from __future__ import annotations

from typing import Any

from advisor.measurement import Interval
from advisor.training._results import ProjectionRow, VariantResult, seed_interval

__all__ = ["ASSUMPTION", "project"]

ASSUMPTION = (
    "assumes the energy-to-target ratio measured on this small run transfers to the full training (the variant "
    "saves the same fraction of it) and the baseline's energy grows linearly with the samples it processes"
)


def _scale(iv: Interval | None, k: float) -> Interval | None:
    if iv is None:
        return None
    lo, hi = sorted((iv.low * k, iv.high * k))
    return Interval(iv.median * k, lo, hi, iv.n_rounds, iv.confidence)


def _per_seed_full(base: VariantResult, full_samples: int) -> dict[int, float]:
    return {
        s.seed: s.energy_j / s.samples_seen * full_samples
        for s in base.seeds
        if s.samples_seen and s.status != "failed"
    }


def _row(r: VariantResult, base: VariantResult, full_b: dict[int, float], carbon: dict[str, Any]) -> ProjectionRow:
    if r is base:
        per_seed = dict(full_b)
    else:
        b_e = {s.seed: s.energy_j_to_target for s in base.seeds if s.reached}
        per_seed = {
            s.seed: full_b[s.seed] * s.energy_j_to_target / b_e[s.seed]
            for s in r.seeds
            if s.reached and s.seed in b_e and s.seed in full_b and b_e[s.seed]
        }
    energy = seed_interval(list(per_seed.values()), log=True)
    saving = seed_interval([full_b[k] - v for k, v in per_seed.items()]) if r is not base else None
    row = ProjectionRow(r.variant, energy, _scale(energy, 1 / 3.6e6), saving)
    for region, per_j in carbon.items():
        row.co2e_g[region] = _scale(energy, per_j)
        row.saving_co2e_g[region] = _scale(saving, per_j)
    return row


def project(
    base: VariantResult, results: list[VariantResult], full_samples: int, carbon: dict[str, float]
) -> list[ProjectionRow]:
    """One row per variant (the baseline first) for a full training of ``full_samples`` samples.

    Args:
        base: The baseline's result (its seeds give the energy per sample).
        results: The variants' results.
        full_samples: Samples the full training processes (dataset size x epochs).
        carbon: Region id -> gCO2e per J (intensity x PUE / 3.6e6).
    """
    full_b = _per_seed_full(base, full_samples)
    return [_row(r, base, full_b, carbon) for r in [base, *results] if r.status == "ok"]
