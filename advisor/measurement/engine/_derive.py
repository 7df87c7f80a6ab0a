"""From recorded rounds to ratios, intervals, verdicts and "outside the prediction": one pure function.

Every ratio is paired: in each round, a variant's time (or energy) per item is divided by the
baseline's in the *same* round, so a burst of load that lasts a round hits both. The estimate is
the median of the per-round ratios; its 95 % interval is the distribution-free interval of a
median from order statistics (the sign-test interval: the k-th smallest and k-th largest ratio,
with k the largest rank whose binomial coverage is still >= 95 %). It needs no resampling, no seed
and no normality, and a few burst-hit rounds move it little. Six rounds are the fewest that give a
95 % interval; with fewer the interval is [min, max] at its lower coverage and the verdict is
``inconclusive``. Speed-up and energy ratio come from the same rounds and this same estimator.

Busy rounds: a round in which other processes (and VM steal) took more than ``BUSY_FRAC`` of the
CPUs is *busy*. Pairing cancels a burst's effect on both blocks only to first order: contention
shifts the ratio itself by a few per cent (memory-bound and compute-bound variants suffer
differently). So when at least ``MIN_ROUNDS`` quiet rounds remain, the estimate rests on the quiet
rounds only and the comparison says how many rounds it set aside (they stay in the data): the busy rounds and
their neighbours in time, which a burst may have overlapped partly (see :func:`select_rounds`).
When fewer quiet rounds remain and more than a tenth of the rounds were busy, the figures describe
a busy machine: the verdict is ``inconclusive`` and the note says why and what to do.

Drift: rounds close in time resemble each other more than rounds far apart (the machine's state
drifts on a scale of seconds), so an interval from consecutive rounds can be narrower than what a
repeat of the run would show. From ``2 * MIN_ROUNDS`` rounds on, the interval is therefore widened
to hold the medians of the run's first and second halves as well (``ratio_interval``); the
stopping rule uses the same interval, so a run that drifts goes on measuring.

Verdicts (in the spirit of Go's benchstat), for latency: ``faster`` when the whole interval is
below 1, ``slower`` when it is above 1, ``no significant difference`` when it contains 1 and is
narrow (half-width <= ``wide_rel`` of the median), else ``inconclusive``. Energy: ``less energy``,
``more energy``, the same two otherwise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from advisor._settings import merged
from advisor.measurement._results import Block, Comparison, Interval, Round, RunToRun, Timing
from advisor.measurement.engine._spread import History, run_to_run, widen

__all__ = [
    "BUSY_FRAC",
    "MIN_ROUNDS",
    "DeriveSettings",
    "derive",
    "energy_verdict",
    "is_busy",
    "median_interval",
    "outside_prediction",
    "ratio_interval",
    "ratios",
    "ready_to_stop",
    "select_rounds",
    "summarize_timing",
    "verdict",
]

CONFIDENCE = 0.95
WIDE_REL = 0.10  # an interval containing 1 and wider than +-10 % says nothing: inconclusive
MIN_ROUNDS = 6  # the fewest rounds whose order-statistic interval of the median covers 95 %
BUSY_FRAC = 0.10  # a round is busy when others took > 10 % of the CPUs (a quiet machine: p90 ~3-4 % here)
CONTENDED_SHARE = 0.10  # more busy rounds than this share, and too few quiet ones: the machine was busy


def median_interval(xs: Sequence[float], confidence: float = CONFIDENCE) -> Interval | None:
    """The median of ``xs`` with its distribution-free interval (see the module docstring).

    Returns None for no values. With too few values for ``confidence``, the interval is
    [min, max] and its ``confidence`` field says the coverage it really has.
    """
    s = sorted(x for x in xs if x is not None and math.isfinite(x))
    n = len(s)
    if n == 0:
        return None
    med = statistics.median(s)
    # largest k (1-based rank) with coverage 1 - 2 P(X <= k-1) >= confidence; the CDF is accumulated as k grows
    k, coverage = 0, 0.0
    tail, term = 0, 1  # sum of C(n, i) for i < cand, and C(n, cand - 1)
    for cand in range(1, n // 2 + 1):
        tail += term
        cov = 1 - 2 * tail / 2**n
        if cov < confidence:
            break
        k, coverage = cand, cov
        term = term * (n - cand + 1) // cand
    if k == 0:
        return Interval(med, s[0], s[-1], n, round(1 - 2 * 0.5**n, 4) if n > 1 else 0.0)
    return Interval(med, s[k - 1], s[n - k], n, round(min(coverage, 1.0), 4) if coverage else confidence)


def _per_item(b: Block, what: str, idle_w: float | None) -> float | None:
    if b.calls <= 0 or b.items_per_call <= 0:
        return None
    items = b.calls * b.items_per_call
    if what == "latency":
        return b.wall_s / items
    if b.energy_j is None:
        return None
    e = max(b.energy_j - idle_w * b.wall_s, 0.0) if idle_w else b.energy_j
    return e / items


def ratios(
    rounds: Iterable[Round], variant: str, baseline: str, what: str = "latency", idle_w: float | None = None
) -> list[float]:
    """Per-round ratios ``variant / baseline`` of time (``latency``) or energy (``energy``) per item.

    Only rounds in which both ran count (each memory group contains the baseline).
    """
    out = []
    for r in rounds:
        v, b = r.blocks.get(variant), r.blocks.get(baseline)
        if v is None or b is None:
            continue
        num, den = _per_item(v, what, idle_w), _per_item(b, what, idle_w)
        if num is not None and den:
            out.append(num / den)
    return out


def ratio_interval(
    rounds: Sequence[Round],
    variant: str,
    baseline: str,
    what: str = "latency",
    *,
    idle_w: float | None = None,
    confidence: float = CONFIDENCE,
) -> tuple[Interval | None, bool]:
    """The median per-round ratio with its interval, widened to hold both half-run medians; and whether it was.

    The rounds are taken in time order; with fewer than ``2 * MIN_ROUNDS`` ratios there is no widening.
    """
    xs = ratios(rounds, variant, baseline, what, idle_w)
    iv = median_interval(xs, confidence)
    if iv is None or len(xs) < 2 * MIN_ROUNDS:
        return iv, False
    h = len(xs) // 2
    m1, m2 = statistics.median(xs[:h]), statistics.median(xs[h:])
    lo, hi = min(iv.low, m1, m2), max(iv.high, m1, m2)
    if (lo, hi) == (iv.low, iv.high):
        return iv, False
    return Interval(iv.median, lo, hi, iv.n_rounds, iv.confidence), True


def is_busy(r: Round, busy_frac: float = BUSY_FRAC) -> bool:
    """True when other processes (plus VM steal) took more than ``busy_frac`` of the CPUs during round ``r``."""
    load = r.load or {}
    return (load.get("other_cpu_frac") or 0.0) + (load.get("steal_frac") or 0.0) > busy_frac


def select_rounds(
    rounds: Sequence[Round], names: Sequence[str], busy_frac: float = BUSY_FRAC
) -> tuple[list[Round], int, bool]:
    """The rounds to estimate from (those holding every one of ``names``), the rounds set aside, contention.

    A burst of load that starts or ends inside a round overlaps it only partly: that round's average load can
    stay under ``busy_frac`` while one of its blocks took the whole burst. So the rounds next to a busy round
    (by round index, i.e. in time) are set aside with it when at least ``MIN_ROUNDS`` rounds remain; failing
    that, only the busy rounds are, when ``MIN_ROUNDS`` quiet ones remain.

    Returns:
        (rounds used, rounds set aside, contended). With fewer than ``MIN_ROUNDS`` quiet rounds every round is
        used, and ``contended`` is True when more than ``CONTENDED_SHARE`` of them were busy.
    """
    mine = [r for r in rounds if all(n in r.blocks for n in names)]
    busy = {r.index for r in mine if is_busy(r, busy_frac)}
    if not busy:
        return mine, 0, False
    near = busy | {i - 1 for i in busy} | {i + 1 for i in busy}
    for aside in (near, busy):
        kept = [r for r in mine if r.index not in aside]
        if len(kept) >= MIN_ROUNDS:
            return kept, len(mine) - len(kept), False
    return mine, 0, len(busy) > CONTENDED_SHARE * len(mine)


def verdict(iv: Interval | None, wide_rel: float = WIDE_REL) -> str:
    """``faster`` / ``slower`` / ``no significant difference`` / ``inconclusive`` for a latency-ratio interval."""
    if iv is None or iv.n_rounds < MIN_ROUNDS:
        return "inconclusive"
    if iv.high < 1.0:
        return "faster"
    if iv.low > 1.0:
        return "slower"
    return "no significant difference" if iv.rel_halfwidth <= wide_rel else "inconclusive"


def energy_verdict(iv: Interval | None, wide_rel: float = WIDE_REL) -> str | None:
    """``less energy`` / ``more energy`` / ``no significant difference`` / ``inconclusive`` (None: no energy)."""
    if iv is None:
        return None
    v = verdict(iv, wide_rel)
    return {"faster": "less energy", "slower": "more energy"}.get(v, v)


def outside_prediction(iv: Interval | None, predicted: dict[str, Any] | None) -> bool | None:
    """True when the measured latency-ratio interval and the predicted range do not overlap.

    The predicted range is ``adjusted_low`` .. ``max(adjusted_high, 1)`` (no effect is never a
    surprise); None when either is missing.
    """
    if iv is None or not predicted or predicted.get("adjusted_low") is None:
        return None
    lo = predicted["adjusted_low"]
    hi = max(predicted.get("adjusted_high") or lo, 1.0)
    return iv.high < lo or iv.low > hi


def _note(
    own: Interval | None,
    v: str,
    target_rel: float,
    *,
    set_aside: int = 0,
    contended: bool = False,
    drift: bool = False,
    spread: RunToRun | None = None,
    wide_rel: float = WIDE_REL,
) -> str | None:
    """The note on a comparison: the rounds' own (from ``own``, the within-run interval), then the spread's."""
    own_verdict = "inconclusive" if contended else verdict(own, wide_rel)
    note = _rounds_note(own, own_verdict, target_rel, set_aside=set_aside, contended=contended, drift=drift)
    if spread is None or own is None or contended:
        return note
    extra = (
        f"widened by the {spread.text()}"
        if spread.spread_log > 0
        else (f"no run-to-run spread beyond the rounds' own ({spread.runs} runs of {spread.source} here)")
    )
    if v == "inconclusive" and own_verdict != "inconclusive":
        extra += ": too wide to tell this difference from none on this machine"
    return f"{note}; {extra}" if note else extra


def _rounds_note(
    iv: Interval | None, v: str, target_rel: float, *, set_aside: int = 0, contended: bool = False, drift: bool = False
) -> str | None:
    if iv is None:
        return None
    if contended:
        return (
            f"other processes took more than {BUSY_FRAC:.0%} of the CPUs in most of the {iv.n_rounds} rounds: "
            "contention shifts ratios by a few per cent, so these figures describe a busy machine; measure "
            "again when it is quieter (or with a longer budget, so that quiet rounds accumulate)"
        )
    aside = f"; {set_aside} round(s) set aside: busy, or next to a busy one (kept in the data)" if set_aside else ""
    if drift:
        aside += "; widened to hold the medians of the run's two halves (the machine drifted)"
    if iv.n_rounds < MIN_ROUNDS:
        return f"only {iv.n_rounds} paired round(s): at least {MIN_ROUNDS} give a 95 % interval; give a longer budget"
    if v == "inconclusive":
        return (
            f"the interval (+-{iv.rel_halfwidth:.0%}) is too wide to tell; give a longer budget or "
            f"measure on a quieter machine{aside}"
        )
    if iv.rel_halfwidth > target_rel:
        return (
            f"interval +-{iv.rel_halfwidth:.0%}, wider than the +-{target_rel:.0%} target: a longer budget "
            f"or a quieter machine tightens it{aside}"
        )
    if set_aside:
        return f"estimated from the {iv.n_rounds} quiet rounds{aside}"
    return aside.removeprefix("; ") or None


@dataclass(frozen=True)
class DeriveSettings:
    """The knobs of :func:`derive`'s statistics.

    Attributes:
        confidence: Interval coverage.
        wide_rel: Half-width (relative) above which an interval containing 1 is inconclusive.
        target_rel: The half-width the run aimed for; a wider interval gets a note.
        busy_frac: Share of the CPUs other processes may take before a round counts as busy.
    """

    confidence: float = CONFIDENCE
    wide_rel: float = WIDE_REL
    target_rel: float = 0.03
    busy_frac: float = BUSY_FRAC


def derive(
    rounds: Sequence[Round],
    baseline: str,
    variants: Iterable[str] | None = None,
    *,
    predicted: dict[str, dict[str, Any] | None] | None = None,
    idle_w: float | None = None,
    energy_method: str | None = None,
    history: History | None = None,
    settings: DeriveSettings | None = None,
    **overrides: Any,
) -> dict[str, Comparison]:
    """Every variant's :class:`Comparison` against ``baseline`` from the recorded rounds (pure).

    Each ratio's interval is first what this run's rounds say (``latency_within_run``); with ``history``
    (earlier runs on this machine) it is widened by the run-to-run spread (``_spread``), and the verdict
    is read from the widened interval.

    Args:
        rounds: The paired rounds.
        baseline: The baseline's name in the rounds' blocks.
        variants: Names to compare (default: every name in the rounds but the baseline).
        predicted: Variant -> predicted latency ratio (``adjusted_low``/``adjusted_high``) for
            "outside the prediction".
        idle_w: Idle power to subtract from *measured* energy per block (None for estimates). Units: W.
        energy_method: The energy method label, carried into each comparison.
        history: Earlier runs' within-run intervals on this machine (None: this run's rounds only).
        settings: The statistics' knobs (:class:`DeriveSettings`; default: its defaults).
        **overrides: Any :class:`DeriveSettings` field by keyword (``target_rel=0.05``).

    Raises:
        ConstraintError: A keyword is not a :class:`DeriveSettings` field.
    """
    s = merged(DeriveSettings, settings, overrides, "derive()")
    confidence, wide_rel, target_rel, busy_frac = s.confidence, s.wide_rel, s.target_rel, s.busy_frac
    if variants is None:
        variants = sorted({k for r in rounds for k in r.blocks if k != baseline})
    out = {}
    for v in variants:
        used, set_aside, contended = select_rounds(rounds, (baseline, v), busy_frac)
        lat_own, drift = ratio_interval(used, v, baseline, "latency", confidence=confidence)
        en_own, _ = ratio_interval(used, v, baseline, "energy", idle_w=idle_w, confidence=confidence)
        lat_rr = None if contended or history is None else _spread_of(history, v, "latency", lat_own, confidence)
        en_rr = None if contended or history is None else _spread_of(history, v, "energy", en_own, confidence)
        lat, en = widen(lat_own, lat_rr), widen(en_own, en_rr)
        verdict_ = "inconclusive" if contended else verdict(lat, wide_rel)
        out[v] = Comparison(
            latency_ratio=lat,
            energy_ratio=en,
            verdict=verdict_,
            energy_verdict="inconclusive" if contended and en is not None else energy_verdict(en, wide_rel),
            energy_method=energy_method if en is not None else None,
            outside_prediction=outside_prediction(lat, (predicted or {}).get(v)),
            note=_note(
                lat_own,
                verdict_,
                target_rel,
                set_aside=set_aside,
                contended=contended,
                drift=drift,
                spread=lat_rr,
                wide_rel=wide_rel,
            ),
            rounds_set_aside=set_aside,
            contended=contended,
            latency_within_run=lat_own,
            energy_within_run=en_own,
            latency_run_to_run=lat_rr,
            energy_run_to_run=en_rr,
        )
    return out


def _spread_of(history: History, variant: str, metric: str, own: Interval | None, confidence: float) -> RunToRun | None:
    return run_to_run(own, history.runs_of(variant, metric), history.pool_for(variant, metric), confidence)


def ready_to_stop(
    rounds: Sequence[Round],
    baseline: str,
    variants: Iterable[str],
    target_rel: float,
    confidence: float = CONFIDENCE,
    *,
    busy_frac: float = BUSY_FRAC,
) -> bool:
    """True when every variant's latency-ratio interval is at most ``target_rel`` wide (half-width) each side.

    The intervals are the run's own as :func:`derive` computes them (busy rounds set aside, widened for drift;
    not for the run-to-run spread, which more rounds of this run cannot narrow); a contended
    variant is never ready, so a busy machine keeps measuring until quiet rounds accumulate or the budget ends.
    At least ``2 * MIN_ROUNDS`` rounds are needed, so that the drift check has two halves to compare.
    """
    for v in variants:
        used, _, contended = select_rounds(rounds, (baseline, v), busy_frac)
        iv, _ = ratio_interval(used, v, baseline, "latency", confidence=confidence)
        if contended or iv is None or iv.n_rounds < 2 * MIN_ROUNDS or iv.rel_halfwidth > target_rel:
            return False
    return True


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def summarize_timing(
    rounds: Sequence[Round],
    name: str,
    *,
    idle_w: float | None = None,
    energy_method: str | None = None,
    notes: tuple[str, ...] = (),
    flops_per_call: float | None = None,
    peak_rss_mib: float = 0.0,
    stopped_by: str = "interval",
) -> Timing | None:
    """One variant's :class:`Timing` from its blocks (per call; medians and IQRs over rounds).

    Busy rounds are set aside as in :func:`derive` (when enough quiet ones remain).
    """
    used, _, _ = select_rounds(rounds, (name,))
    blocks = [r.blocks[name] for r in used if r.blocks[name].calls > 0]
    if not blocks:
        return None
    per_call = [b.wall_s / b.calls for b in blocks]
    med = statistics.median(per_call)
    q1, q3 = _quartiles(per_call)
    iv = median_interval(per_call)
    ci = (iv.high - iv.low) / 2 if iv and iv.n_rounds >= MIN_ROUNDS else math.nan
    calls = sum(b.calls for b in blocks)
    items = blocks[0].items_per_call
    cpu = [b.cpu_s for b in blocks if b.cpu_s is not None]
    faults = [b.minor_faults / b.calls for b in blocks if b.minor_faults is not None]
    energy = [(_per_item(b, "energy", idle_w) or 0.0) * b.items_per_call for b in blocks if b.energy_j is not None]
    e_med = statistics.median(energy) if energy else None
    e_iqr = None
    if len(energy) >= 2:
        e1, e3 = _quartiles(energy)
        e_iqr = e3 - e1
    subtract = bool(idle_w) and bool(energy_method) and energy_method.startswith("measured-")  # type: ignore[union-attr]
    if subtract:
        notes = (*notes, f"idle power {idle_w:.1f} W subtracted")
    return Timing(
        repeats=calls,
        latency_ms_median=med * 1000,
        latency_ms_iqr=(q3 - q1) * 1000,
        latency_ms_ci95=ci * 1000,
        throughput_per_s=items / med if med > 0 else math.inf,
        cpu_time_ms_per_call=sum(cpu) / calls * 1000 if cpu else math.nan,
        peak_rss_mib=peak_rss_mib,
        energy_j_per_call=e_med,
        energy_method=energy_method if energy else None,
        energy_j_per_call_iqr=e_iqr,
        idle_power_w=idle_w if subtract else None,
        achieved_gflops=(flops_per_call / med / 1e9) if flops_per_call and med > 0 else None,
        stopped_by=stopped_by,
        notes=notes,
        rounds=len(blocks),
        calls_per_block=blocks[-1].calls,
        page_faults_per_call=statistics.median(faults) if faults else None,
    )
