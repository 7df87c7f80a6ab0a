"""From a technique's cited evidence to an expected effect on the user's objective.

Each evidence item that speaks to the objective is turned into a *ratio*: the new value of a
lower-is-better quantity divided by the baseline's (0.5 = halved). Direct metrics count first;
when there are none, proxies are used (time for energy, at equal power) with lower confidence.
Absolute figures without a baseline value, and signed ``change`` items, are not converted.
No evidence means no number: the advisor never makes one up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from advisor.catalog import schema as S
from advisor.recommendation._context import CLASS_LABEL, evidence_weight, is_saving

__all__ = ["DIRECT", "PROXY", "Estimate", "accuracy_drops_pp", "estimate", "evidence_ratio"]

# objective -> metrics that measure it directly, and metrics that stand in for it
DIRECT: dict[str, tuple[str, ...]] = {
    "energy": ("energy",),
    "latency": ("latency", "throughput"),
    "memory": ("memory",),
    "model-size": ("model-size", "parameters"),
    "carbon": ("carbon",),
}
PROXY: dict[str, tuple[str, ...]] = {
    "energy": ("latency", "throughput", "training-time", "compute"),
    "latency": ("compute",),
    "memory": ("model-size", "parameters"),
    "model-size": (),
    "carbon": ("energy", "latency", "throughput", "training-time", "compute"),
}
HIGHER_IS_BETTER = {"throughput", "accuracy"}


@dataclass(frozen=True)
class Estimate:
    """Expected effect on the objective, as ratios new/baseline (lower is better).

    Attributes:
        objective: The objective estimated.
        ratio: Central estimate (geometric mean of the items used); None without evidence.
        low: Best case (smallest ratio).
        high: Worst case (largest ratio).
        confidence: ``high`` (2+ direct items), ``medium`` (1 direct, or 3+ proxies),
            ``low`` (1 proxy) or ``none``.
        basis: Indices of the evidence items used.
        proxy: Whether the items are proxies rather than direct measurements.
        adjustments: What was changed for this hardware and model, in words.
        measured: Runs on this machine the figure rests on (``run_id`` values); empty for literature only.
        discount: Weight of the best item's hardware class against this machine (1.0: same class).
    """

    objective: str
    ratio: float | None
    low: float | None
    high: float | None
    confidence: str
    basis: tuple[int, ...] = ()
    proxy: bool = False
    adjustments: tuple[str, ...] = field(default_factory=tuple)
    measured: tuple[str, ...] = field(default_factory=tuple)
    discount: float = 1.0

    @property
    def saving(self) -> float | None:
        """Expected relative saving (0.3 = 30 % less); negative when it gets worse."""
        return None if self.ratio is None else 1.0 - self.ratio

    def scaled(self, fraction: float, why: str) -> Estimate:
        """Amdahl's law: only ``fraction`` of the work (or of the gain) is affected by the technique."""

        def f(r: float | None) -> float | None:
            return None if r is None else 1.0 - fraction * (1.0 - r)

        return replace(self.noted(why), ratio=f(self.ratio), low=f(self.low), high=f(self.high))

    def noted(self, why: str) -> Estimate:
        """The same estimate with one more adjustment note."""
        return replace(self, adjustments=(*self.adjustments, why))


def evidence_ratio(ev: S.Evidence) -> float | None:
    """The evidence item as new/baseline of a lower-is-better quantity, or None if not convertible."""
    if ev.direction == "change" or ev.unit not in ("percent", "x"):
        return None
    lo, hi = ev.magnitude
    mag = math.sqrt(lo * hi) if lo > 0 and hi > 0 else (lo + hi) / 2
    if ev.unit == "x":
        if mag <= 0:
            return None
        better = (ev.direction == "decrease") != (ev.metric in HIGHER_IS_BETTER)
        return 1.0 / mag if better else mag
    # percent
    if ev.metric in HIGHER_IS_BETTER:
        if ev.direction == "increase":
            return 1.0 / (1.0 + mag / 100.0)
        return 1.0 / max(1.0 - mag / 100.0, 0.01)
    if ev.direction == "decrease":
        return max(1.0 - mag / 100.0, 0.001)
    return 1.0 + mag / 100.0


def _items(
    t: S.Technique, metrics: tuple[str, ...], skip: set[str], machine_class: str | None
) -> list[tuple[int, float, bool, float]]:
    """(index, ratio, up-to, hardware weight) of the end-to-end ``saving`` items on ``metrics``."""
    return [
        (i, r, ev.qualifier == "up-to", evidence_weight(getattr(ev, "hardware_class", None), machine_class))
        for i, ev in enumerate(t.evidence)
        if ev.metric in metrics
        and ev.metric not in skip
        and ev.scope == "end-to-end"
        and is_saving(ev)
        and (r := evidence_ratio(ev)) is not None
    ]


def _discount_note(t: S.Technique, items: list[tuple[int, float, bool, float]], machine_class: str) -> str:
    classes = sorted({getattr(t.evidence[i], "hardware_class", None) or "unstated hardware" for i, *_ in items})
    labels = ", ".join(CLASS_LABEL.get(c, c) for c in classes)
    best = max(w for *_, w in items)
    return (
        f"evidence from {labels}, not {CLASS_LABEL.get(machine_class, machine_class)} like this machine: "
        f"counted at {best:.0%} of its effect"
    )


def estimate(
    t: S.Technique,
    objective: str,
    phases: set[str] | None = None,
    *,
    allow_proxy: bool = True,
    machine_class: str | None = None,
) -> Estimate:
    """Estimate the technique's effect on ``objective`` from its end-to-end evidence.

    Component-level items (one operation, kernel or a hardware peak) are not whole-model savings
    and are left out, as are items whose ``basis`` is not ``saving``. An ``up-to`` figure is a best
    case: it sets the range's best end, but counts with half its (log) effect in the central
    estimate. ``allow_proxy=False`` uses direct metrics only (a speed-up bought with more hardware is
    no energy saving). With ``machine_class`` (see :func:`advisor.recommendation._context.hardware_class_of`),
    items from other hardware classes weigh less, and when none is from this class the effect is
    shrunk by the best item's weight and the confidence drops one step.
    """
    skip = set()
    if phases is not None and "training" not in phases:
        skip.add("training-time")
    plan = [(DIRECT[objective], False)] + ([(PROXY[objective], True)] if allow_proxy else [])
    for metrics, proxy in plan:
        items = _items(t, metrics, skip, machine_class)
        if not items:
            continue
        weights = [w for *_, w in items]
        best = max(weights)
        logs = [math.log(r) * (0.5 if upto else 1.0) * w for _, r, upto, w in items]
        geo = math.exp(sum(logs) / sum(weights) * best)  # weighted mean, shrunk by the best class match
        ratios = [math.exp(math.log(r) * best) for _, r, _, _ in items]
        if proxy:  # a proxy stands in for the objective: one step less sure than a direct figure
            conf = "medium" if len(items) >= 3 else "low"
        else:
            conf = "high" if len(items) >= 2 else "medium"
        notes: tuple[str, ...] = ()
        if best < 1.0 and machine_class is not None:
            conf = {"high": "medium", "medium": "low"}.get(conf, conf)
            notes = (_discount_note(t, items, machine_class),)
        basis = tuple(i for i, *_ in items)
        return Estimate(objective, geo, min(ratios), max([*ratios, geo]), conf, basis, proxy, notes, discount=best)
    return Estimate(objective, None, None, None, "none")


def accuracy_drops_pp(t: S.Technique) -> list[tuple[int, float]]:
    """Reported accuracy losses as (evidence index, percentage points), worst case of each range.

    Items given as a relative ``percent`` are read as points, which is close for scores near
    100 and conservative below.
    """
    out = []
    for i, ev in enumerate(t.evidence):
        if ev.metric != "accuracy" or ev.unit not in ("pp", "percent", "score"):
            continue
        lo, hi = ev.magnitude
        if ev.direction == "decrease":
            out.append((i, hi))
        elif ev.direction == "change" and lo < 0:
            out.append((i, -lo))
    return out
