"""Typed results of training to a target, with ``to_dict``/JSON.

One :class:`SeedRun` per (variant, seed), a :class:`VariantResult` per variant (intervals over seeds, ratios
paired by seed), a :class:`ToTargetRun` per call.

Intervals reuse :class:`advisor.measurement.Interval`: ``median`` is the estimate (for ratios and other positive
figures the geometric mean over seeds, the centre of a t interval on the logs; for savings and metrics the mean
with a t interval), ``n_rounds`` the seeds it rests on and ``confidence`` 0.95 (0.0: one seed, no interval).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from advisor._version import RESULT_SCHEMA_VERSION
from advisor.measurement import Interval

__all__ = [
    "KIND",
    "ProjectionRow",
    "SeedRun",
    "ToTargetRun",
    "VariantResult",
    "outcome_line",
    "paired_ratio",
    "run_from_store",
    "seed_interval",
    "target_text",
    "verdict",
]

KIND = "to-target"
CONFIDENCE = 0.95


def _t_quantile(n: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1))


def seed_interval(values: list[float], *, log: bool = False) -> Interval | None:
    """The mean over seeds with its 95 % t interval (one value: the value, confidence 0; none: None).

    Args:
        values: One figure per seed.
        log: The figures are positive (energy, time, steps): the geometric mean and a t interval on their logs,
            which never crosses zero.
    """
    xs = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not xs:
        return None
    if log:
        iv = seed_interval([math.log(x) for x in xs])
        return Interval(math.exp(iv.median), math.exp(iv.low), math.exp(iv.high), iv.n_rounds, iv.confidence)
    mean = sum(xs) / len(xs)
    if len(xs) == 1:
        return Interval(mean, mean, mean, 1, 0.0)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    h = _t_quantile(len(xs)) * sd / math.sqrt(len(xs))
    return Interval(mean, mean - h, mean + h, len(xs), CONFIDENCE)


def paired_ratio(variant: dict[int, float], base: dict[int, float]) -> Interval | None:
    """Variant / baseline paired by seed: the geometric mean of the ratios with a 95 % t interval on their logs.

    Only seeds where both have a positive figure count (both reached the target). One pair: the ratio with
    confidence 0 (no interval); none: None.
    """
    return seed_interval(
        [variant[s] / base[s] for s in variant if s in base and variant[s] > 0 and base[s] > 0], log=True
    )


def verdict(iv: Interval | None) -> str:
    """The energy verdict of a ratio's interval.

    ``less energy`` / ``more energy`` when it excludes 1, else ``no significant difference``; ``inconclusive``
    without an interval (fewer than two paired seeds).
    """
    if iv is None or iv.confidence == 0.0:
        return "inconclusive"
    if iv.high < 1:
        return "less energy"
    if iv.low > 1:
        return "more energy"
    return "no significant difference"


@dataclass
class SeedRun:
    """One variant trained from a fresh model with one seed, until the target, a stop or a cap.

    Attributes:
        variant: The variant id.
        seed: The seed of the model's initialisation and the data order.
        status: ``reached``, ``not-reached`` (a step or time cap), ``stopped-early`` (patience ran out),
            ``diverged`` (the loss was not finite), ``failed`` (an exception; see ``reason``).
        reason: Why it ended, in words.
        steps_to_target: Optimizer steps until the first evaluation at or above the target (None: not reached).
        energy_j_to_target: Training energy until then, overhead included (warm-up scoring). Units: J.
        time_s_to_target: Training wall time until then, overhead included. Units: s.
        steps: Optimizer steps the run made.
        energy_j: Training energy of the whole run, overhead included (what it spent, reached or not). Units: J.
        time_s: Training wall time of the whole run, overhead included. Units: s.
        overhead_energy_j: Energy of the scoring warm-up (data pruning, curriculum), in the figures above. Units: J.
        overhead_time_s: Its wall time. Units: s.
        eval_energy_j: Energy of the evaluations, not in any figure above. Units: J.
        eval_time_s: Their wall time. Units: s.
        evals: Evaluations made.
        samples_seen: Training samples processed (steps x batch, counted).
        train_samples: Samples in the pool it trained on (fewer after pruning).
        final_metric: The last evaluation's metric.
        best_metric: The best evaluation's metric.
        curve: One point per evaluation: ``step``, ``energy_j``, ``time_s`` (training, overhead included) and
            ``metric``.
        autocast: The autocast dtype seen inside the model's forward (None: none).
        n_params: Parameters of the model it trained.
        lr_last: The learning rate at the end of the run (after its schedule).
    """

    variant: str
    seed: int
    status: str
    reason: str = ""
    steps_to_target: int | None = None
    energy_j_to_target: float | None = None
    time_s_to_target: float | None = None
    steps: int = 0
    energy_j: float = 0.0
    time_s: float = 0.0
    overhead_energy_j: float = 0.0
    overhead_time_s: float = 0.0
    eval_energy_j: float = 0.0
    eval_time_s: float = 0.0
    evals: int = 0
    samples_seen: int = 0
    train_samples: int | None = None
    final_metric: float | None = None
    best_metric: float | None = None
    curve: list[dict[str, float]] = field(default_factory=list)
    autocast: str | None = None
    n_params: int | None = None
    lr_last: float | None = None

    @property
    def reached(self) -> bool:
        """Whether the run reached the target."""
        return self.status == "reached"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeedRun:
        """The run from :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ProjectionRow:
    """One variant's energy for the user's full training, projected from the small run.

    Attributes:
        variant: The variant id.
        energy_j: Projected energy of the full training (an interval over seeds). Units: J.
        energy_kwh: The same in kWh. Units: kWh.
        saving_j: Baseline minus variant, paired by seed. Units: J.
        co2e_g: Projected CO2e per region id (an interval each). Units: gCO2e.
        saving_co2e_g: CO2e saved per region id. Units: gCO2e.
    """

    variant: str
    energy_j: Interval | None
    energy_kwh: Interval | None
    saving_j: Interval | None = None
    co2e_g: dict[str, Interval | None] = field(default_factory=dict)
    saving_co2e_g: dict[str, Interval | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProjectionRow:
        """The row from :meth:`to_dict`."""
        return cls(
            d["variant"],
            Interval.from_dict(d.get("energy_j")),
            Interval.from_dict(d.get("energy_kwh")),
            Interval.from_dict(d.get("saving_j")),
            {k: Interval.from_dict(v) for k, v in (d.get("co2e_g") or {}).items()},
            {k: Interval.from_dict(v) for k, v in (d.get("saving_co2e_g") or {}).items()},
        )


_INTERVALS = (
    "energy_j_to_target",
    "time_s_to_target",
    "steps_to_target",
    "energy_j_spent",
    "final_metric",
    "energy_ratio",
    "time_ratio",
    "steps_ratio",
    "spent_ratio",
)


@dataclass
class VariantResult:
    """One variant over its seeds.

    Attributes:
        variant: The variant id (``baseline``, a technique or an ``a+b`` stack).
        catalog_ids: The catalog entries it implements (empty for the baseline; ``None`` items have no entry).
        status: ``ok``, ``not-applicable`` (``reason`` says why), ``failed`` or ``no-runs`` (the budget ran out first).
        reason: Why it is not ``ok``.
        settings: What its appliers set.
        notes: What to know about its figures (a teacher's cost, an assumption).
        n_seeds: Seeds it was trained with.
        n_reached: Seeds in which it reached the target.
        energy_j_to_target: Training energy to the target over the seeds that reached it (geometric mean, t
            interval on logs). Units: J.
        time_s_to_target: Training time to the target (the same). Units: s.
        steps_to_target: Steps to the target (the same).
        energy_j_spent: Energy of the whole run, reached or not: what early stopping saves (the same). Units: J.
        final_metric: Mean last metric over seeds.
        energy_ratio: Energy to target, variant / baseline, paired by seed (seeds both reached), 95 % interval.
        time_ratio: The same for time.
        steps_ratio: The same for steps.
        spent_ratio: Energy of the whole run, variant / baseline, over every seed both ran.
        verdict: From ``energy_ratio``: ``less energy``, ``more energy``, ``no significant difference``,
            ``inconclusive``.
        energy_method: How energy was obtained (``estimated-default-power``, ``measured-rapl``, ...).
        seeds: Every seed's run.
    """

    variant: str
    catalog_ids: list[str | None] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    n_seeds: int = 0
    n_reached: int = 0
    energy_j_to_target: Interval | None = None
    time_s_to_target: Interval | None = None
    steps_to_target: Interval | None = None
    energy_j_spent: Interval | None = None
    final_metric: Interval | None = None
    energy_ratio: Interval | None = None
    time_ratio: Interval | None = None
    steps_ratio: Interval | None = None
    spent_ratio: Interval | None = None
    verdict: str = "inconclusive"
    energy_method: str | None = None
    seeds: list[SeedRun] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``reached`` (every seed), ``partly`` (some), ``did-not-reach`` (none), or the status when not ``ok``."""
        if self.status != "ok" or not self.n_seeds:
            return self.status if self.status != "ok" else "no-runs"
        if self.n_reached == self.n_seeds:
            return "reached"
        return "partly" if self.n_reached else "did-not-reach"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the outcome included)."""
        d = asdict(self)
        d["outcome"] = self.outcome
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariantResult:
        """The result from :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in _INTERVALS:
            kw[k] = Interval.from_dict(kw.get(k))
        kw["seeds"] = [SeedRun.from_dict(s) for s in kw.get("seeds") or []]
        return cls(**kw)


@dataclass
class ToTargetRun:
    """One call of :func:`advisor.measure_to_target`.

    Attributes:
        run_id: Its id in the results store (None: not stored).
        status: ``finished``, ``interrupted`` (Ctrl-C: finished seeds kept) or ``budget`` (the budget ran out
            before every seed was run).
        target: The metric to reach.
        metric: The metric's name (``accuracy``).
        baseline: The user's set-up trained to the target.
        results: One per technique or stack.
        outcome: One line on the run as a whole (e.g. the baseline never reached the target).
        projection: The user's full training projected from the small runs (None: no size or epochs known).
        projection_note: What the projection assumes, and its inputs.
        teacher: The distillation teacher: how it was obtained and what training it cost (J, s).
        meters: What the energy meters read.
        meta: Settings, machine, versions, seed orders.
    """

    run_id: str | None
    status: str
    target: float
    metric: str
    baseline: VariantResult
    results: list[VariantResult]
    outcome: str = ""
    projection: list[ProjectionRow] | None = None
    projection_note: str = ""
    teacher: dict[str, Any] | None = None
    meters: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def all_results(self) -> list[VariantResult]:
        """The baseline, then every variant."""
        return [self.baseline, *self.results]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "kind": KIND,
            "run_id": self.run_id,
            "status": self.status,
            "target": self.target,
            "metric": self.metric,
            "outcome": self.outcome,
            "baseline": self.baseline.to_dict(),
            "results": [r.to_dict() for r in self.results],
            "projection": [p.to_dict() for p in self.projection] if self.projection is not None else None,
            "projection_note": self.projection_note,
            "teacher": self.teacher,
            "meters": self.meters,
            "meta": self.meta,
        }

    def to_json(self, indent: int = 2) -> str:
        """The run as JSON (non-finite numbers as null)."""
        return json.dumps(_finite(self.to_dict()), indent=indent, default=str)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ToTargetRun:
        """The run from :meth:`to_dict` (or its JSON)."""
        proj = d.get("projection")
        return cls(
            d.get("run_id"),
            d.get("status", "finished"),
            d["target"],
            d.get("metric", "metric"),
            VariantResult.from_dict(d["baseline"]),
            [VariantResult.from_dict(r) for r in d.get("results", [])],
            d.get("outcome", ""),
            [ProjectionRow.from_dict(p) for p in proj] if proj is not None else None,
            d.get("projection_note", ""),
            d.get("teacher"),
            d.get("meters", []),
            d.get("meta", {}),
        )


def run_from_store(d: dict[str, Any]) -> ToTargetRun:
    """A stored run: its whole record, or (a run that ended before it was written) its meta and result rows."""
    if "baseline" in d:
        return ToTargetRun.from_dict(d)
    meta = d.get("meta") or {}
    rows = {r.get("variant") or r.get("technique"): r for r in d.get("results", [])}
    base = rows.pop("baseline", None)
    baseline = VariantResult.from_dict(base) if base else VariantResult("baseline", status="no-runs")
    return ToTargetRun(
        d.get("run_id"),
        d.get("status", "interrupted"),
        meta.get("target", float("nan")),
        meta.get("metric", "metric"),
        baseline,
        [VariantResult.from_dict(r) for r in rows.values()],
        "rebuilt from the stored results (the run ended before its record was written)",
        meters=meta.get("meters", []),
        meta=meta,
    )


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def target_text(target: float, metric: str) -> str:
    """``95 % accuracy`` for a fraction, ``0.3 loss-score`` otherwise."""
    if metric == "accuracy" and 0 < target <= 1:
        return f"{target * 100:g} % {metric}"
    return f"{target:g} {metric}"


def _ratio_text(iv: Interval) -> str:
    if iv.confidence == 0.0:
        return f"x{iv.median:.2f} (one paired seed: no interval)"
    return f"x{iv.median:.2f} ({iv.low:.2f}-{iv.high:.2f})"


def outcome_line(r: VariantResult, target: float, metric: str, baseline: VariantResult | None = None) -> str:
    """One line per variant, e.g. ``energy to 95 % accuracy x0.62 (0.55-0.70), 3/3 seeds reached it``."""
    what = target_text(target, metric)
    if r.status != "ok":
        return f"{r.status}: {r.reason}"
    if not r.n_seeds:
        return "no seed was run (the budget ran out first)"
    if r.n_reached == 0:
        best = max((s.best_metric for s in r.seeds if s.best_metric is not None), default=None)
        best_s = f"; best {best:.4g}" if best is not None else ""
        return f"did not reach {what} in {r.n_seeds} of {r.n_seeds} seeds{best_s}"
    missed = r.n_seeds - r.n_reached
    tail = (
        f"{r.n_reached}/{r.n_seeds} seeds reached it"
        if not missed
        else f"did not reach {what} in {missed} of {r.n_seeds} seeds"
    )
    if baseline is None or r is baseline:
        e = r.energy_j_to_target
        return f"energy to {what} {e.median:.4g} J ({r.energy_method}), {tail}" if e else tail
    if r.energy_ratio is None:
        return f"no seed where both it and the baseline reached {what}; {tail}"
    return f"energy to {what} {_ratio_text(r.energy_ratio)}, {tail}"
