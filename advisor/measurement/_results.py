"""One typed, versioned result model for every measurement: inference, training and the batch sweep.

The same types are used by :func:`advisor.measure`, :func:`advisor.measure_training`, the SQLite
store, the JSON files and the reports. Every type has ``to_dict()`` and ``from_dict()``; a run's
dict carries ``schema_version``. Ratios are stored with one polarity: ``latency_ratio`` and
``energy_ratio`` are variant / baseline (lower is better); the speed-up (1 / latency ratio) is
derived for display only. :func:`result_row` is the one place that flattens a result into a row.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from advisor._version import RESULT_SCHEMA_VERSION

__all__ = [
    "RESULT_SCHEMA_VERSION",
    "VERDICTS",
    "Block",
    "Comparison",
    "Interval",
    "MeasureRun",
    "Projection",
    "Round",
    "RunRecord",
    "RunToRun",
    "TechniqueResult",
    "Timing",
    "TrainingQuality",
    "TrainingResult",
    "TrainingRun",
    "result_row",
    "run_from_dict",
]

VERDICTS = ("faster", "slower", "no significant difference", "inconclusive")
ENERGY_VERDICTS = ("less energy", "more energy", "no significant difference", "inconclusive")


# Field names before 0.2 said MB/GB for MiB/GiB values; files written then still load.
RENAMED_FIELDS = {
    "peak_rss_mb": "peak_rss_mib",
    "peak_memory_mb": "peak_memory_mib",
    "peak_call_memory_mb": "peak_call_memory_mib",
    "activation_mb": "activation_mib",
}


def _pick(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``d`` that are fields of the dataclass ``cls`` (older or newer files may hold others)."""
    names = {f.name for f in fields(cls)}
    d = {RENAMED_FIELDS.get(k, k): v for k, v in d.items()}
    return {k: v for k, v in d.items() if k in names}


# --- intervals and comparisons ------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A median with its confidence interval.

    Attributes:
        median: The estimate (median over rounds).
        low: Lower end of the interval.
        high: Upper end of the interval.
        n_rounds: Paired rounds it rests on.
        confidence: Coverage of the interval (0.95; lower when too few rounds allowed no more).
    """

    median: float
    low: float
    high: float
    n_rounds: int
    confidence: float = 0.95

    def contains(self, x: float) -> bool:
        """True when ``x`` lies in [low, high]."""
        return self.low <= x <= self.high

    @property
    def rel_halfwidth(self) -> float:
        """Half the interval's width relative to the median (0.03 = +-3 %)."""
        return (self.high - self.low) / 2 / self.median if self.median > 0 else math.inf

    def inverted(self) -> Interval:
        """1/x of the interval (a latency ratio as a speed-up); the ends swap."""
        return Interval(1 / self.median, 1 / self.high, 1 / self.low, self.n_rounds, self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Interval | None:
        """The interval from :meth:`to_dict` (None stays None)."""
        return cls(**_pick(cls, d)) if d else None


@dataclass(frozen=True)
class RunToRun:
    """How much a ratio moves between runs on this machine, beyond what each run's own interval says.

    Attributes:
        spread_log: Standard deviation of the run effect on the log ratio (``tau``; 0.03 ~ +-3 % per run).
        runs: Runs the estimate rests on (this one included).
        df: Its degrees of freedom.
        quantile: The Student-t quantile the interval was widened with (``quantile * spread_log``).
        source: ``this model`` (earlier runs of the same model, inputs and variant here) or ``this machine``
            (pooled over the other models and variants measured here).
    """

    spread_log: float
    runs: int
    df: int
    quantile: float
    source: str

    @property
    def spread_rel(self) -> float:
        """The run-to-run spread as a relative figure (0.031 = +-3.1 % per run)."""
        return math.exp(self.spread_log) - 1

    def text(self) -> str:
        """E.g. ``run-to-run spread +-3.1 % (4 runs of this model here)``."""
        return f"run-to-run spread +-{self.spread_rel:.1%} ({self.runs} runs of {self.source} here)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RunToRun | None:
        """The spread from :meth:`to_dict` (None stays None)."""
        return cls(**_pick(cls, d)) if d else None


def _range(iv: Interval, spec: str = ".2f") -> str:
    return f"{format(iv.low, spec)}-{format(iv.high, spec)}"


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline of the same rounds.

    Attributes:
        latency_ratio: Time per item of the variant / the baseline's (lower is better), with its interval.
        energy_ratio: Energy per item of the variant / the baseline's, from the same rounds and estimator.
        verdict: ``faster``, ``slower``, ``no significant difference`` or ``inconclusive``.
        energy_verdict: ``less energy``, ``more energy``, ``no significant difference`` or ``inconclusive``.
        energy_method: How the energy was obtained (``measured-rapl``, ``estimated-tdp``, ...).
        outside_prediction: True when the whole latency-ratio interval lies outside the predicted range.
        note: What to do about an inconclusive or wide result, if anything.
        rounds_set_aside: Rounds left out of the estimates because enough others remained: those in which
            other processes took a large share of the CPUs, and their neighbours in time (see
            ``_derive.select_rounds``); they stay in the recorded rounds.
        contended: True when too few quiet rounds remained and the figures describe a busy machine.
        latency_within_run: What this run's rounds alone say about the latency ratio (``latency_ratio`` is
            this widened by the run-to-run spread, when one is known; else the same).
        energy_within_run: The same for the energy ratio.
        latency_run_to_run: The run-to-run spread ``latency_ratio`` was widened by (None: not known yet;
            see ``_spread``).
        energy_run_to_run: The same for the energy ratio.
    """

    latency_ratio: Interval | None
    energy_ratio: Interval | None = None
    verdict: str = "inconclusive"
    energy_verdict: str | None = None
    energy_method: str | None = None
    outside_prediction: bool | None = None
    note: str | None = None
    rounds_set_aside: int = 0
    contended: bool = False
    latency_within_run: Interval | None = None
    energy_within_run: Interval | None = None
    latency_run_to_run: RunToRun | None = None
    energy_run_to_run: RunToRun | None = None

    @property
    def speedup(self) -> Interval | None:
        """The latency ratio as a speed-up (baseline / variant; > 1 is faster), for display."""
        return self.latency_ratio.inverted() if self.latency_ratio else None

    def text(self) -> str:
        """E.g. ``1.42x faster (1.35-1.50)``, ``1.20x slower (1.10-1.31)``, ``no significant difference (...)``."""
        lr = self.latency_ratio
        if lr is None:
            return "not measured"
        s = lr.inverted()
        if self.verdict == "faster":
            return f"{s.median:.2f}x faster ({_range(s)})"
        if self.verdict == "slower":
            return f"{lr.median:.2f}x slower ({_range(lr)})"
        if self.verdict == "no significant difference":
            return f"no significant difference (speed-up {s.median:.2f}, {_range(s)})"
        return f"inconclusive (speed-up {s.median:.2f}, {_range(s)})"

    def energy_text(self) -> str:
        """E.g. ``energy x0.71 (0.66-0.77), less energy [estimated-tdp]``."""
        er = self.energy_ratio
        if er is None:
            return "energy not measured"
        method = f" [{self.energy_method}]" if self.energy_method else ""
        return f"energy x{er.median:.2f} ({_range(er)}), {self.energy_verdict}{method}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with the display text)."""
        d = asdict(self)
        d["text"] = self.text()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Comparison | None:
        """The comparison from :meth:`to_dict`."""
        if not d:
            return None
        kw = _pick(cls, d)
        kw["latency_ratio"] = Interval.from_dict(d.get("latency_ratio"))
        kw["energy_ratio"] = Interval.from_dict(d.get("energy_ratio"))
        for metric in ("latency", "energy"):
            kw[f"{metric}_within_run"] = Interval.from_dict(d.get(f"{metric}_within_run"))
            kw[f"{metric}_run_to_run"] = RunToRun.from_dict(d.get(f"{metric}_run_to_run"))
        return cls(**kw)


# --- raw rounds --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """One variant's timed block in one round.

    Attributes:
        calls: Calls in the block.
        wall_s: Wall time of the block. Units: s.
        items_per_call: Items one call processes (batch size; 1 for a training step).
        energy_j: Energy of the block from the meters (gross; None without a meter). Units: J.
        cpu_s: CPU time of this process during the block (all threads). Units: s.
        minor_faults: Minor page faults of this process during the block (None where the OS does not say).
    """

    calls: int
    wall_s: float
    items_per_call: int = 1
    energy_j: float | None = None
    cpu_s: float | None = None
    minor_faults: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Round:
    """One round: every variant of a group timed once, in a shuffled order.

    Attributes:
        index: Round number within the run.
        group: Memory group the round belongs to (each group contains the baseline).
        order: The order the variants ran in.
        blocks: Variant name -> its block.
        load: What else the machine did during the round: ``other_cpu_frac`` (CPU time of other
            processes / (wall x CPUs)), ``steal_frac`` (VM steal time, same basis), ``wall_s``.
    """

    index: int
    group: int
    order: list[str]
    blocks: dict[str, Block]
    load: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "index": self.index,
            "group": self.group,
            "order": list(self.order),
            "blocks": {k: b.to_dict() for k, b in self.blocks.items()},
            "load": dict(self.load),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Round:
        """The round from :meth:`to_dict`."""
        blocks = {k: Block(**_pick(Block, b)) for k, b in d["blocks"].items()}
        return cls(d["index"], d.get("group", 0), list(d["order"]), blocks, dict(d.get("load") or {}))


# --- per-variant figures ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """One variant's timing, summarised over its blocks in the paired rounds.

    Attributes:
        repeats: Timed calls in all rounds.
        latency_ms_median: Median over rounds of the time per call. Units: ms.
        latency_ms_iqr: Inter-quartile range over rounds of the time per call. Units: ms.
        latency_ms_ci95: Half-width of the 95 % CI of that median (NaN with fewer than 6 rounds). Units: ms.
        throughput_per_s: Items per second at the median.
        cpu_time_ms_per_call: Process CPU time per call (all threads). Units: ms.
        peak_rss_mib: Peak resident memory of the process after the run. Units: MiB.
        energy_j_per_call: Median over rounds of the energy per call (None if no meter). Units: J.
        energy_method: How the energy was obtained (``measured-rapl``, ``estimated-tdp``, ...).
        energy_j_per_call_iqr: Inter-quartile range over rounds of the energy per call. Units: J.
        idle_power_w: Idle power subtracted from measured energy (None for estimates). Units: W.
        achieved_gflops: FLOPs per call / median time, if FLOPs were given. Units: GFLOP/s.
        stopped_by: Why the rounds ended: ``interval`` (tight enough), ``budget``, ``max_rounds`` or ``interrupted``.
        notes: Caveats carried from the meters.
        rounds: Rounds this variant was timed in.
        calls_per_block: Calls per block (sized so a block lasts at least the block time).
        page_faults_per_call: Median over rounds of this process's minor page faults per call (None
            where the OS does not say); high values mean the allocator maps fresh memory every call.
    """

    repeats: int
    latency_ms_median: float
    latency_ms_iqr: float
    latency_ms_ci95: float
    throughput_per_s: float
    cpu_time_ms_per_call: float
    peak_rss_mib: float
    energy_j_per_call: float | None
    energy_method: str | None
    energy_j_per_call_iqr: float | None = None
    idle_power_w: float | None = None
    achieved_gflops: float | None = None
    stopped_by: str = "interval"
    notes: tuple[str, ...] = field(default_factory=tuple)
    rounds: int | None = None
    calls_per_block: int | None = None
    page_faults_per_call: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Timing | None:
        """The timing from :meth:`to_dict` (a null CI, from JSON's missing NaN, becomes NaN)."""
        if not d:
            return None
        kw = _pick(cls, d)
        kw["notes"] = tuple(kw.get("notes") or ())
        if kw.get("latency_ms_ci95") is None:
            kw["latency_ms_ci95"] = math.nan
        return cls(**kw)


def _quality_from(d: dict[str, Any] | None) -> Any:
    from advisor.measurement.quality import Quality

    return Quality.from_dict(d) if d else None


@dataclass
class TechniqueResult:
    """One variant's outcome (``technique`` is a variant id; ``baseline`` for the unmodified model).

    Attributes:
        technique: The variant id (``torch-compile``, ``torch-compile+bfloat16``, ``openvino-runtime@fp32``).
        status: ``ok``, ``not-applicable``, ``failed``, ``skipped-budget`` or ``interrupted``.
        reason: Why it is not ``ok``.
        timing: Latency, energy (with method) and spread over the rounds.
        comparison: Ratios against the baseline with intervals, and the verdict (None for the baseline).
        quality: Accuracy change or fidelity against the original outputs.
        predicted: The catalog's range and the advisor's adjusted estimate for the latency ratio.
        settings: What the applier did.
        co2e_g_per_call: CO2e of one call in the run's region, with its PUE. Units: gCO2e.
        co2e_g_per_1k_calls: The same for 1000 calls. Units: gCO2e.
        co2e_g_per_call_iqr: Spread of ``co2e_g_per_call`` (from the energy IQR). Units: gCO2e.
        co2e_method: The energy method x the intensity used.
    """

    technique: str
    status: str
    reason: str | None = None
    timing: Timing | None = None
    comparison: Comparison | None = None
    quality: Any = None
    predicted: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    co2e_g_per_call: float | None = None
    co2e_g_per_1k_calls: float | None = None
    co2e_g_per_call_iqr: float | None = None
    co2e_method: str | None = None

    @property
    def speedup(self) -> float | None:
        """Median speed-up (baseline / variant; 1.0 for the baseline), for display."""
        if self.technique == "baseline" and self.status == "ok":
            return 1.0
        c = self.comparison
        return 1 / c.latency_ratio.median if c and c.latency_ratio else None

    @property
    def energy_ratio(self) -> float | None:
        """Median energy ratio (variant / baseline; 1.0 for the baseline)."""
        if self.technique == "baseline" and self.status == "ok" and self.timing and self.timing.energy_j_per_call:
            return 1.0
        c = self.comparison
        return c.energy_ratio.median if c and c.energy_ratio else None

    @property
    def verdict(self) -> str | None:
        """The speed verdict, if compared."""
        return self.comparison.verdict if self.comparison else None

    @property
    def outside_prediction(self) -> bool | None:
        """True when the measured latency-ratio interval lies outside the predicted range."""
        return self.comparison.outside_prediction if self.comparison else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        d = asdict(self)
        d["comparison"] = self.comparison.to_dict() if self.comparison else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TechniqueResult:
        """The result from :meth:`to_dict`."""
        kw = _pick(cls, d)
        kw["timing"] = Timing.from_dict(d.get("timing"))
        kw["comparison"] = Comparison.from_dict(d.get("comparison"))
        kw["quality"] = _quality_from(d.get("quality"))
        kw["settings"] = dict(d.get("settings") or {})
        return cls(**kw)

    def row(self) -> dict[str, Any]:
        """The flat summary of this result (see :func:`result_row`)."""
        return result_row(self)


# --- training ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingQuality:
    """The loss trajectory of a few steps from the same weights, data and seed as the baseline.

    Attributes:
        losses: Loss after each of the first steps (whole-batch loss before that step's update).
        finite: Every loss is finite.
        final_loss: The last loss.
        loss_change: ``final_loss`` minus the baseline's (0 for the baseline; small is good).
        loss_rel_change: ``loss_change`` / abs(baseline final loss).
        error: Why the trajectory could not be obtained, if so.
    """

    losses: list[float] = field(default_factory=list)
    finite: bool | None = None
    final_loss: float | None = None
    loss_change: float | None = None
    loss_rel_change: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Projection:
    """A whole training run: per-step figures x ``steps`` (= steps per epoch x epochs).

    Spreads scale the step's inter-quartile range over rounds (as if every step varied together:
    an upper bound on the run's spread) and, for time, the 95 % CI half-width of the median step.

    Attributes:
        steps: Optimizer steps in the run (effective steps for gradient accumulation).
        time_s: Projected training time. Units: s.
        time_s_iqr: Step-time IQR x steps (None with fewer than 3 rounds). Units: s.
        time_s_ci95: Half-width of the 95 % CI of the median step x steps (None with < 6 rounds). Units: s.
        energy_j: Projected energy (None without a meter). Units: J.
        energy_j_iqr: Energy spread: the per-round energy IQR x steps, or the step-time relative IQR
            applied to the energy when there is none. Units: J.
        energy_method: How the step energy was obtained (``measured-rapl``, ``estimated-default-power``...).
        energy_kwh: ``energy_j`` in kWh. Units: kWh.
        co2e_g: Projected emissions (None without a region or energy). Units: gCO2e.
        co2e_g_iqr: ``energy_j_iqr`` converted the same way. Units: gCO2e.
        co2e_method: The energy method x the annual grid intensity used.
    """

    steps: int
    time_s: float
    time_s_iqr: float | None
    time_s_ci95: float | None
    energy_j: float | None
    energy_j_iqr: float | None
    energy_method: str | None
    energy_kwh: float | None
    co2e_g: float | None
    co2e_g_iqr: float | None
    co2e_method: str | None


@dataclass
class TrainingResult:
    """One training technique's outcome (or the baseline's).

    Attributes:
        technique: Catalog id (``baseline`` for the unmodified step).
        status: ``ok``, ``not-applicable``, ``failed``, ``skipped-budget`` or ``interrupted``.
        reason: Why it is not ``ok`` (for an ``ok`` result: a warning, e.g. a non-finite loss).
        timing: Per-step latency, energy (with method) and spread; one call = one (effective) step.
        comparison: Step-time and step-energy ratios against the baseline with intervals, and the verdict.
        peak_memory_mib: Peak memory one step allocates above what was alive before it. Units: MiB.
        memory_method: ``tensor-accounting`` (CPU) or ``cuda-max-allocated``.
        quality: The loss trajectory and its change against the baseline.
        peak_memory_ratio: This peak memory / the baseline's (< 1 saves memory).
        projection: The whole run with this technique.
        saving: Baseline projection minus this one: ``time_s``, ``energy_j``, ``co2e_g`` and their
            ``*_iqr`` (IQRs combined in quadrature); positive saves.
        settings: What the applier did (dtype, checkpointed modules, micro-batches, optimizer, loss).
    """

    technique: str
    status: str
    reason: str | None = None
    timing: Timing | None = None
    comparison: Comparison | None = None
    peak_memory_mib: float | None = None
    memory_method: str | None = None
    quality: TrainingQuality | None = None
    peak_memory_ratio: float | None = None
    projection: Projection | None = None
    saving: dict[str, float | None] | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    speedup = TechniqueResult.speedup
    energy_ratio = TechniqueResult.energy_ratio
    verdict = TechniqueResult.verdict
    outside_prediction = TechniqueResult.outside_prediction

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        d = asdict(self)
        d["comparison"] = self.comparison.to_dict() if self.comparison else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingResult:
        """The result from :meth:`to_dict`."""
        kw = _pick(cls, d)
        kw["timing"] = Timing.from_dict(d.get("timing"))
        kw["comparison"] = Comparison.from_dict(d.get("comparison"))
        kw["quality"] = TrainingQuality(**_pick(TrainingQuality, d["quality"])) if d.get("quality") else None
        kw["projection"] = Projection(**_pick(Projection, d["projection"])) if d.get("projection") else None
        kw["settings"] = dict(d.get("settings") or {})
        return cls(**kw)

    def row(self) -> dict[str, Any]:
        """The flat summary of this result (see :func:`result_row`)."""
        return result_row(self)


# --- the one flattening ------------------------------------------------------------------------------------
def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _interval_cols(prefix: str, iv: Any) -> dict[str, Any]:
    return {prefix: _get(iv, "median"), f"{prefix}_low": _get(iv, "low"), f"{prefix}_high": _get(iv, "high")}


def _comparison_of(r: Any) -> Comparison | None:
    c = _get(r, "comparison")
    return Comparison.from_dict(c) if isinstance(c, dict) else c


def _speed_cols(r: Any, c: Comparison | None) -> dict[str, Any]:
    """Speed-up, latency and energy ratios with their intervals, verdicts and texts."""
    base = _get(r, "technique") == "baseline" and _get(r, "status") == "ok"
    lr = c.latency_ratio if c else None
    s = lr.inverted() if lr else None
    legacy = _get(r, "speedup") if isinstance(r, dict) and c is None else None  # a schema-1 file
    row: dict[str, Any] = {
        "speedup": s.median if s else (1.0 if base else legacy),
        "speedup_low": s.low if s else None,
        "speedup_high": s.high if s else None,
        **_interval_cols("latency_ratio", lr),
        "verdict": c.verdict if c else ("baseline" if base else None),
        "comparison": c.text() if c else ("baseline" if base else None),
        **_interval_cols("energy_ratio", c.energy_ratio if c else None),
        "energy_verdict": c.energy_verdict if c else None,
        "n_rounds": lr.n_rounds if lr else None,
        "run_to_run_spread_pct": 100 * rr.spread_rel if (rr := c.latency_run_to_run if c else None) else None,
        "run_to_run_runs": rr.runs if rr else None,
        "outside_prediction": c.outside_prediction if c else None,
    }
    if row["energy_ratio"] is None:
        row["energy_ratio"] = 1.0 if base else (_get(r, "energy_ratio") if isinstance(r, dict) else None)
    if row["latency_ratio"] is None and row["speedup"]:
        row["latency_ratio"] = 1 / row["speedup"]
    if row["outside_prediction"] is None and isinstance(r, dict):
        row["outside_prediction"] = r.get("outside_prediction")
    return row


def _accuracy_change(q: Any) -> Any:
    """``accuracy_change_pp`` (``accuracy_change`` in runs stored before it was renamed)."""
    v = _get(q, "accuracy_change_pp")
    return _get(q, "accuracy_change") if v is None else v


def result_row(r: Any) -> dict[str, Any]:
    """One flat row of a result (object or its dict): the one flattening every table, form and report uses.

    Works for :class:`TechniqueResult` and :class:`TrainingResult`, their dicts, and dicts of
    schema 1 (which stored a bare ``speedup``).
    """
    t, q = _get(r, "timing") or {}, _get(r, "quality")
    p = _get(r, "predicted") or {}
    status, reason = _get(r, "status"), _get(r, "reason")
    row: dict[str, Any] = {
        "technique": _get(r, "technique"),
        "status": status if status == "ok" or not reason else f"{status}: {reason}",
        "latency_ms": _get(t, "latency_ms_median"),
        "latency_ms_iqr": _get(t, "latency_ms_iqr"),
        **_speed_cols(r, _comparison_of(r)),
        "energy_j_per_call": _get(t, "energy_j_per_call"),
        "energy_j_per_call_iqr": _get(t, "energy_j_per_call_iqr"),
        "energy_method": _get(t, "energy_method"),
        "repeats": _get(t, "repeats"),
        "stopped_by": _get(t, "stopped_by"),
        "page_faults_per_call": _get(t, "page_faults_per_call"),
        "co2e_g_per_call": _get(r, "co2e_g_per_call"),
        "co2e_g_per_1k_calls": _get(r, "co2e_g_per_1k_calls"),
        "top1_agreement": _get(q, "top1_agreement"),
        "top5_overlap": _get(q, "top5_overlap"),
        "token_agreement": _get(q, "token_agreement"),
        "cosine_similarity": _get(q, "cosine_similarity"),
        "relative_error": _get(q, "relative_error"),
        "fidelity_flag": _get(q, "fidelity_flag"),
        "degenerate": _get(q, "degenerate"),
        "accuracy_change": _accuracy_change(q),
        "quality_status": _get(q, "quality_status"),
        "quality_reason": _get(q, "quality_reason"),
        "quality_inputs": _get(q, "quality_inputs"),
        "loss_change": _get(q, "loss_change"),
        "predicted_latency_ratio": _get(p, "adjusted"),
        "predicted_low": _get(p, "adjusted_low"),
        "predicted_high": _get(p, "adjusted_high"),
    }
    proj = _get(r, "projection")
    if proj is not None or _get(r, "peak_memory_mib") is not None:
        row.update(
            peak_memory_mib=_get(r, "peak_memory_mib"),
            peak_memory_ratio=_get(r, "peak_memory_ratio"),
            projected_time_h=_get(proj, "time_s") / 3600 if proj else None,
            projected_energy_kwh=_get(proj, "energy_kwh") if proj else None,
            projected_co2e_g=_get(proj, "co2e_g") if proj else None,
        )
    return row


# --- runs ----------------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What every measurement run reports (:class:`MeasureRun`, :class:`TrainingRun`).

    Attributes:
        run_id: Its id in the results store (None if the store could not be written).
        status: ``finished``, ``interrupted`` or ``failed``.
        baseline: The unmodified model's result.
        results: One result per variant, in run order.
        meter_descriptions: How each energy meter used reads energy (backend, domains, method).
        unavailable_meters: Meter backend -> why it could not be used.
        store_path: The SQLite results store.
        meta: Hardware, versions, model profile, settings, harness (engine settings), load, lock wait.
        carbon: The run's CO2e block (region, intensity, PUE, what-if).
        rounds: The raw paired rounds every ratio is derived from (see :func:`advisor.measurement.derive`).
    """

    run_id: str | None
    status: str
    baseline: Any
    results: list[Any]
    meter_descriptions: list[str]
    unavailable_meters: dict[str, str]
    store_path: str | None
    meta: dict[str, Any]
    carbon: Any = None
    rounds: list[Round] = field(default_factory=list)

    kind = "measure"
    result_type = None  # set per subclass below (a class attribute, not a field)

    @property
    def meters(self) -> list[str]:
        """Deprecated name of :attr:`meter_descriptions` (they describe meters; they are not meters)."""
        import warnings

        warnings.warn("RunRecord.meters is now meter_descriptions", DeprecationWarning, stacklevel=2)
        return self.meter_descriptions

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``schema_version`` and ``kind``."""
        carbon = self.carbon.to_dict() if hasattr(self.carbon, "to_dict") else self.carbon
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "kind": self.kind,
            "run_id": self.run_id,
            "status": self.status,
            "meter_descriptions": self.meter_descriptions,
            "unavailable_meters": self.unavailable_meters,
            "store": self.store_path,
            "meta": self.meta,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "results": [r.to_dict() for r in self.results],
            "carbon": carbon,
            "rounds": [r.to_dict() for r in self.rounds],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The run as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def all_results(self) -> list[Any]:
        """The baseline (if measured) followed by every variant's result."""
        return [self.baseline, *self.results] if self.baseline else list(self.results)

    def table(self) -> Any:
        """A pandas table: one row per variant (see :func:`result_row`), the baseline first."""
        import pandas as pd

        return pd.DataFrame([result_row(r) for r in self.all_results()])

    def load_warning(self) -> str | None:
        """The warning about other processes' load during the rounds, if it was high."""
        return (self.meta.get("load") or {}).get("note")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunRecord:
        """A run from :meth:`to_dict` (schema 1 files load too, without rounds or intervals).

        Raises:
            MeasurementError: The file was written by a newer schema.
        """
        from advisor._errors import MeasurementError

        version = d.get("schema_version", 1)
        if not isinstance(version, int) or version > RESULT_SCHEMA_VERSION:
            raise MeasurementError(
                f"measurement schema_version {version!r}, expected an integer <= {RESULT_SCHEMA_VERSION}; "
                "it was written by a newer green-dl-advisor: upgrade it (pip install -U green-dl-advisor)"
            )
        rt = cls.result_type
        return cls(
            run_id=d.get("run_id"),
            status=d.get("status", "finished"),
            baseline=rt.from_dict(d["baseline"]) if d.get("baseline") else None,
            results=[rt.from_dict(r) for r in d.get("results") or []],
            meter_descriptions=list(d.get("meter_descriptions") or d.get("meters") or []),
            unavailable_meters=dict(d.get("unavailable_meters") or {}),
            store_path=d.get("store"),
            meta=dict(d.get("meta") or {}),
            carbon=_carbon_from(d.get("carbon")),
            rounds=[Round.from_dict(r) for r in d.get("rounds") or []],
        )


def _carbon_from(d: dict[str, Any] | None) -> Any:
    if not d:
        return None
    from advisor.measurement.carbon import CarbonSummary

    return CarbonSummary(**_pick(CarbonSummary, d))


@dataclass
class MeasureRun(RunRecord):
    """All results of one call to :func:`advisor.measure` (inference)."""

    kind = "measure"
    result_type = TechniqueResult

    def save(self, technique: str, directory: str | Any) -> Any:
        """Save a measured variant as a deployable artifact with a ``load_and_run.py`` beside it.

        Re-applies the variant to the model this run measured (kept on the run object, not stored)
        with the same inputs and calibration data, then writes ONNX, OpenVINO IR, an
        ``ExportedProgram`` or the original model plus the recipe (see ``appliers.save_variant``).

        Args:
            technique: A variant id of this run (e.g. its fastest).
            directory: Folder to write.

        Returns:
            The ``SavedArtifact`` (format, files, snippet path).

        Raises:
            SaveError: The run has no model attached (loaded from the store), or ``technique`` is not one of its
                measured variants.
        """
        from advisor._errors import SaveError
        from advisor.measurement.appliers import save_variant

        source = getattr(self, "_source", None)
        if source is None:
            raise SaveError(
                "this run has no model attached (it was loaded from the store or a file); call "
                "advisor.measurement.appliers.save_variant(variant, model, example_inputs, directory)"
            )
        ok = [r.technique for r in self.results if r.status == "ok"]
        if technique not in ok:
            raise SaveError(
                f"technique: expected a variant this run measured ({', '.join(ok) or 'none'}), got {technique!r}"
            )
        model, inputs, calibration_data = source
        return save_variant(technique, model, inputs, directory, calibration_data=calibration_data)


@dataclass
class TrainingRun(RunRecord):
    """All results of one call to :func:`advisor.measure_training` (fields: see :class:`RunRecord`)."""

    kind = "training"
    result_type = TrainingResult


def run_from_dict(d: dict[str, Any]) -> RunRecord:
    """A :class:`MeasureRun` or :class:`TrainingRun` from its dict (the kind, or a training meta, decides)."""
    training = d.get("kind") == "training" or (d.get("meta") or {}).get("phase") == "training"
    return (TrainingRun if training else MeasureRun).from_dict(d)
