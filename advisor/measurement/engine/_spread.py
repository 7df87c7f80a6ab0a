"""The run-to-run spread: the part of a ratio's uncertainty that one run cannot see.

A run's interval comes from its own rounds, taken within seconds of each other. On a shared or virtual
machine the ratio itself moves over tens of seconds (host neighbours, memory bandwidth, frequency):
measured on a 2-vCPU VM, channels-last on the digits CNN read 1.49x-1.68x in 3 s windows of one
4-minute run, and a 15 s run's interval held the median of other runs only about two times in three
(``docs/measurement.md``). More rounds inside one run cannot fix that; repeating the run can, which is
what every run stored on this machine already does.

The model is the random-effects model of meta-analysis (DerSimonian & Laird 1986,
doi:10.1016/0197-2456(86)90046-2), as Kalibera & Jones (2013, doi:10.1145/2464157.2464160) use it for
benchmarks: run *j* reads ``log ratio_j = log mu + b_j + e_j`` with a run effect ``b_j ~ N(0, tau^2)``
and within-run noise ``e_j`` whose spread the run's own interval states. From *k* runs of the same
model, variant and inputs on this machine, ``tau^2 = max(0, s^2 - mean(w_j^2))`` (``s^2`` the variance of
the runs' log medians, ``w_j`` each run's within-run standard error from its interval); with fewer than
three such runs, ``tau`` is pooled over every other (model, variant) on this machine that has them. The
interval reported is the run's own, widened on each side in log space to
``sqrt(w^2 + (q tau)^2)``, ``q`` the Student-t quantile with the estimate's degrees of freedom (few runs
give a wide ``q``: 4.30 from three runs, 2.26 from ten).

Pure: :func:`run_to_run` and :func:`widen` take intervals, :func:`history_from_rows` takes the store's
rows; nothing here reads the clock or the disk.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from advisor.measurement._results import Interval, RunToRun
from advisor.measurement.store import run_kind

__all__ = ["MAX_SAME_RUNS", "MIN_RUNS", "History", "history_from_rows", "run_to_run", "widen"]

MIN_RUNS = 3  # runs (this one included) before a spread is estimated: two runs give a t quantile of 12.7
MAX_SAME_RUNS = 20  # newest earlier runs of the same model and variant that count
METRICS = ("latency", "energy")


@dataclass(frozen=True)
class History:
    """Earlier runs on this machine, as within-run intervals (what each run's own rounds said).

    Attributes:
        same: ``(variant, metric)`` -> the newest earlier runs' within-run intervals of this model, inputs
            and variant (``metric`` is ``latency`` or ``energy``).
        machine: ``metric`` -> one list of within-run intervals per other (model, inputs, variant) measured
            here; used only when ``same`` has too few runs.
    """

    same: Mapping[tuple[str, str], Sequence[Interval]] = field(default_factory=dict)
    machine: Mapping[str, Sequence[Sequence[Interval]]] = field(default_factory=dict)

    def runs_of(self, variant: str, metric: str) -> list[Interval]:
        """Earlier runs of this model and variant (newest first)."""
        return list(self.same.get((variant, metric), ()))

    def pool_for(self, variant: str, metric: str) -> list[Sequence[Interval]]:
        """The groups to pool when ``variant`` has too few runs: other models', and this model's other variants."""
        others = [ivs for (v, m), ivs in self.same.items() if m == metric and v != variant]
        return [*self.machine.get(metric, ()), *others]


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf((1 + confidence) / 2)


def _t(df: int, confidence: float) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, (1 + confidence) / 2))


def _within_se(iv: Interval) -> float:
    """The within-run standard error of the log ratio, from the interval's width and coverage."""
    if iv.median <= 0 or iv.low <= 0:
        return 0.0
    half = (math.log(iv.high) - math.log(iv.low)) / 2
    return half / _z(iv.confidence if 0 < iv.confidence < 1 else 0.95)


def _moments(runs: Sequence[Interval]) -> tuple[float, int] | None:
    """``(s^2 - mean w^2, k - 1)`` of one group of runs (the excess may be negative), or None below two runs."""
    logs = [math.log(iv.median) for iv in runs if iv.median > 0]
    if len(logs) < 2:
        return None
    within = statistics.fmean(_within_se(iv) ** 2 for iv in runs)
    return statistics.variance(logs) - within, len(logs) - 1


def _usable(ivs: Iterable[Interval | None]) -> list[Interval]:
    return [iv for iv in ivs if iv is not None and iv.median > 0 and iv.low > 0 and iv.n_rounds >= 6]


def run_to_run(
    current: Interval | None,
    same: Sequence[Interval],
    machine: Sequence[Sequence[Interval]] = (),
    confidence: float = 0.95,
) -> RunToRun | None:
    """The run-to-run spread for a ratio whose within-run interval is ``current``.

    Args:
        current: This run's within-run interval.
        same: Earlier runs' within-run intervals of the same model, inputs and variant on this machine.
        machine: Per other (model, inputs, variant) measured here, its runs' within-run intervals.
        confidence: Coverage of the widened interval.

    Returns:
        The estimate from this model's runs when there are at least ``MIN_RUNS`` (this one included),
        else the machine's pooled estimate when it rests on at least two degrees of freedom, else None.
    """
    if current is None:
        return None
    runs = [*_usable(same[:MAX_SAME_RUNS]), *_usable([current])]
    if len(runs) >= MIN_RUNS:
        excess, df = _moments(runs)  # type: ignore[misc] - >= 2 runs
        return _estimate(max(excess, 0.0), df, len(runs), "this model", confidence)
    parts = [m for m in (_moments(_usable(g)) for g in machine) if m is not None and m[1] >= MIN_RUNS - 1]
    df = sum(d for _, d in parts)
    if df < 2:
        return None
    excess = sum(e * d for e, d in parts) / df
    return _estimate(max(excess, 0.0), df, sum(d + 1 for _, d in parts), "this machine", confidence)


def _estimate(tau2: float, df: int, runs: int, source: str, confidence: float) -> RunToRun:
    tau = math.sqrt(tau2)
    return RunToRun(spread_log=round(tau, 6), runs=runs, df=df, quantile=round(_t(df, confidence), 4), source=source)


def widen(iv: Interval | None, rr: RunToRun | None) -> Interval | None:
    """``iv`` widened on each side, in log space, to ``sqrt(side^2 + (quantile * spread)^2)``."""
    if iv is None or rr is None or rr.spread_log <= 0 or iv.median <= 0 or iv.low <= 0:
        return iv
    b = rr.quantile * rr.spread_log
    lo = math.log(iv.median / iv.low)
    hi = math.log(iv.high / iv.median)
    return Interval(
        iv.median,
        iv.median * math.exp(-math.hypot(lo, b)),
        iv.median * math.exp(math.hypot(hi, b)),
        iv.n_rounds,
        iv.confidence,
    )


# --- from the store's rows ----------------------------------------------------------------------------------
def _key(meta: Mapping[str, Any], model_fingerprint: str | None) -> tuple[Any, ...] | None:
    """What makes two runs' ratios the same quantity: kind, model, inputs, torch version (machine checked apart)."""
    if not model_fingerprint:
        return None
    model = meta.get("model") or {}
    return (
        run_kind(meta),
        model_fingerprint,
        model.get("batch_size"),
        model.get("sequence_length"),
        model.get("forward_flops"),
        (meta.get("versions") or {}).get("torch"),
    )


def _within_intervals(result: Mapping[str, Any]) -> dict[str, Interval]:
    """A stored result's within-run intervals per metric (results stored before widening existed: their own)."""
    comp = result.get("comparison") or {}
    if result.get("status") != "ok" or comp.get("contended"):
        return {}
    out = {}
    for metric in METRICS:
        own = f"{metric}_within_run"
        d = comp.get(own) if own in comp else comp.get(f"{metric}_ratio")  # older runs: no widening then
        iv = Interval.from_dict(d) if d else None
        if iv is not None:
            out[metric] = iv
    return out


def history_from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    fingerprint: str,
    meta: Mapping[str, Any],
    model_fingerprint: str | None,
    machine_of: Any,
    exclude_run_id: str | None = None,
) -> History:
    """The :class:`History` of this run from the store's rows, newest first.

    Args:
        rows: ``{"run_id", "model_fingerprint", "meta", "results": [result dicts]}`` per stored run, newest first.
        fingerprint: This machine's hardware fingerprint.
        meta: This run's meta (model, kind, versions).
        model_fingerprint: This run's model fingerprint.
        machine_of: ``meta -> hardware fingerprint`` of a stored run (None when it has no hardware).
        exclude_run_id: This run's id.
    """
    mine = _key(meta, model_fingerprint)
    same: dict[tuple[str, str], list[Interval]] = {}
    groups: dict[tuple[Any, ...], list[Interval]] = {}
    for row in rows:
        run_meta = row.get("meta") or {}
        if row.get("run_id") == exclude_run_id or machine_of(run_meta) != fingerprint:
            continue
        key = _key(run_meta, row.get("model_fingerprint"))
        if key is None:
            continue
        for result in row.get("results") or ():
            for metric, iv in _within_intervals(result).items():
                if key == mine:
                    same.setdefault((result.get("technique", ""), metric), []).append(iv)
                else:
                    groups.setdefault((*key, result.get("technique"), metric), []).append(iv)
    machine: dict[str, list[list[Interval]]] = {}
    for gkey, ivs in groups.items():
        machine.setdefault(gkey[-1], []).append(ivs[:MAX_SAME_RUNS])
    return History(same, machine)
