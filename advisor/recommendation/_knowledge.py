"""Measurements on this machine as a prior: plain records in, an estimate that outweighs the literature out.

The caller (the tuning layer) reads the results store, keeps the results measured on a machine with
this hardware fingerprint and passes them here as :class:`Observation` records; this module never
reads the store. An observation counts by how similar the measured model is to the one advised on
(architecture traits, size, batch): see :func:`similarity`. The combined estimate puts at least
:data:`MIN_MEASURED_WEIGHT` of its (log) weight on the measurement, more the more similar the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from advisor.catalog.variant_id import VariantId
from advisor.recommendation.estimate import Estimate

__all__ = ["MIN_SIMILARITY", "Observation", "base_technique", "prior_estimate", "similarity"]

MIN_SIMILARITY = 0.35  # a measurement on a model less similar than this is not used
MIN_MEASURED_WEIGHT = 0.6  # the measurement's share of the combined (log) estimate at MIN_SIMILARITY and above
TRAIT_WEIGHT, SIZE_WEIGHT, BATCH_WEIGHT = 0.5, 0.3, 0.2


@dataclass(frozen=True)
class Observation:
    """One variant measured on this machine, as plain data.

    Attributes:
        technique: The variant id measured (``torch-compile``, ``openvino-runtime@fp32``, ``a+b``).
        latency_ratio: Median time per item of the variant / the baseline's (lower is better).
        latency_low: Lower end of its 95 % interval.
        latency_high: Upper end of its 95 % interval.
        energy_ratio: Median energy ratio (variant / baseline), None if not measured.
        verdict: ``faster``, ``slower``, ``no significant difference`` or ``inconclusive``.
        run_id: The run in the store (or the imported file's run id).
        measured_at: ISO date of the run.
        model_name: The measured model's name.
        architectures: Its architecture traits.
        n_parameters: Its parameter count.
        batch_size: Its batch size.
        phase: ``inference`` or ``training``.
        quality_ok: False when the variant broke accuracy/fidelity; None when unknown.
        energy_method: How the energy was obtained (``estimated-tdp``, ``measured-rapl``, ...).
        fingerprint: The hardware fingerprint of the machine it was measured on.
        basis: What the ratios compare: ``per-item`` (time and energy per forward pass or training step, the
            engine) or ``to-target`` (time and energy to reach a target metric from scratch, paired over seeds:
            :func:`advisor.measure_to_target`).
        target: For ``to-target``: the target in words (``95 % accuracy``), and in how many seeds it was
            reached (``3/3 seeds``).
    """

    technique: str
    latency_ratio: float
    latency_low: float | None = None
    latency_high: float | None = None
    energy_ratio: float | None = None
    verdict: str = "inconclusive"
    run_id: str = ""
    measured_at: str = ""
    model_name: str = "model"
    architectures: tuple[str, ...] = field(default_factory=tuple)
    n_parameters: int | None = None
    batch_size: int | None = None
    phase: str = "inference"
    quality_ok: bool | None = None
    energy_method: str | None = None
    fingerprint: str = ""
    basis: str = "per-item"
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        from dataclasses import asdict

        d = asdict(self)
        d["architectures"] = list(self.architectures)
        return d

    def model_text(self) -> str:
        """E.g. 'convolutional model of 11M parameters, batch 8'."""
        arch = "/".join(self.architectures) or "model"
        size = f" of {self.n_parameters / 1e6:.1f}M parameters" if self.n_parameters else ""
        batch = f", batch {self.batch_size}" if self.batch_size else ""
        return f"{arch} model{size}{batch}"


def base_technique(variant_id: str) -> str:
    """The catalog id a single-technique variant measures: ``openvino-runtime@fp32`` -> ``openvino-runtime``.

    A stack returns its techniques without settings (``a+b@x`` -> ``a+b``): it is evidence about the
    stack, not about one member (:attr:`advisor.VariantId.base`).
    """
    return VariantId.parse(variant_id).base


def _log_closeness(a: float | None, b: float | None, span: float) -> float:
    if not a or not b:
        return 0.5  # unknown: half credit
    return max(0.0, 1.0 - abs(math.log(a / b)) / span)


def similarity(obs: Observation, model: Any) -> float:
    """How alike the measured model and ``model`` (a :class:`ModelProfile`) are, 0-1.

    Half from the architecture traits (Jaccard), 0.3 from the size (1 at equal parameter counts, 0 at
    a factor 100), 0.2 from the batch size (0 at a factor 16).
    """
    mine = set(getattr(model, "architectures", []) or [])
    theirs = set(obs.architectures)
    traits = len(mine & theirs) / len(mine | theirs) if mine and theirs else 0.5 if not (mine or theirs) else 0.0
    size = _log_closeness(obs.n_parameters, getattr(model, "n_parameters", None), math.log(100))
    batch = _log_closeness(obs.batch_size, getattr(model, "batch_size", None), math.log(16))
    return round(TRAIT_WEIGHT * traits + SIZE_WEIGHT * size + BATCH_WEIGHT * batch, 3)


def _similar_words(sim: float) -> str:
    return "a very similar" if sim >= 0.85 else "a similar" if sim >= 0.6 else "a somewhat similar"


def reason_text(obs: Observation, sim: float, objective: str) -> str:
    """E.g. 'measured 0.40x energy (faster) on a similar convolutional model of 11.2M parameters here on ...'."""
    ratio = obs.energy_ratio if objective in ("energy", "carbon") and obs.energy_ratio else obs.latency_ratio
    what = "energy" if ratio is obs.energy_ratio else "time"
    if obs.basis == "to-target":
        what += f" to {obs.target or 'the target'}"
    variant = f" as {obs.technique}" if any(VariantId.parse(obs.technique).settings) else ""
    return (
        f"measured {ratio:.2f}x {what} ({obs.verdict}){variant} on {_similar_words(sim)} {obs.model_text()} "
        f"here on {obs.measured_at or 'an unknown date'}, run {obs.run_id or '?'}"
    )


def prior_estimate(
    technique_id: str, literature: Estimate, observations: list[Observation], model: Any, objective: str
) -> tuple[Estimate, list[tuple[Observation, float]]]:
    """Combine the literature estimate with this machine's measurements of the technique.

    Returns the new estimate and the observations used with their similarity, best first. Without a
    usable observation the literature estimate comes back unchanged. Only ``energy``, ``carbon`` and
    ``latency`` objectives use measurements (the engine measures time and energy).
    """
    if objective not in ("energy", "carbon", "latency"):
        return literature, []
    used = []
    for o in observations:
        if base_technique(o.technique) != technique_id or o.latency_ratio <= 0:
            continue
        sim = similarity(o, model)
        if sim >= MIN_SIMILARITY:
            used.append((o, sim))
    if not used:
        return literature, []
    if any(o.basis == "to-target" for o, _ in used):  # what reaches the accuracy outranks a per-step figure
        used = [(o, sim) for o, sim in used if o.basis == "to-target"]
    used.sort(key=lambda x: x[0].measured_at, reverse=True)  # newest first among equals
    used.sort(key=lambda x: -x[1])
    energy = objective in ("energy", "carbon")
    logs, weights = [], []
    for o, sim in used:
        r = o.energy_ratio if energy and o.energy_ratio else o.latency_ratio
        logs.append(math.log(max(r, 1e-3)) * sim)
        weights.append(sim)
    measured = math.exp(sum(logs) / sum(weights))
    best_sim = used[0][1]
    w = MIN_MEASURED_WEIGHT + (1 - MIN_MEASURED_WEIGHT) * best_sim
    if literature.ratio is None:
        ratio = measured
    else:
        ratio = math.exp(w * math.log(measured) + (1 - w) * math.log(literature.ratio))
    lows = [o.latency_low for o, _ in used if o.latency_low] or [measured]
    highs = [o.latency_high for o, _ in used if o.latency_high] or [measured]
    conf = "high" if best_sim >= 0.6 else "medium"
    note = (
        f"measured here ({len(used)} run{'s' if len(used) > 1 else ''}, best similarity {best_sim:.2f}): "
        f"the measurement weighs {w:.0%}, the literature {1 - w:.0%}"
    )
    est = replace(
        literature,
        ratio=ratio,
        low=min(*lows, ratio) if not energy else min(ratio, measured),
        high=max(*highs, ratio) if not energy else max(ratio, measured),
        confidence=conf,
        adjustments=(*literature.adjustments, note),
        measured=tuple(o.run_id for o, _ in used),
        proxy=energy and all(o.energy_ratio is None for o, _ in used),
    )
    return est, used
