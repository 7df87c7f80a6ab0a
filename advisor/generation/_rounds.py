"""The rounds of a generation measurement: batch sizes in turn, a budget plan, and variants retired once settled.

Every variant at every batch size is set up first (warm-up, output, memory, a pilot time per call), so the
cost of one round at each batch size is known before any round runs. Then the batch sizes take **rounds in
turn** (batch 1, batch 4, batch 16, batch 1, ...): whatever the budget, each gets about the same number of
rounds, so the time a batch size receives is proportional to what its rounds cost. A batch size stops when

- ``max_rounds`` rounds ran;
- after ``min_rounds``: every variant still timed has an end-to-end latency-ratio interval within
  ``target_rel`` (``interval``), or only the baseline is left (``settled``);
- it has ``min_rounds`` rounds and its next round would end after the budget (its last round's time, after the
  rounds of the batch sizes before it in the turn) (``budget``), or 1.5x the budget has passed. So a run with
  enough budget ends within it, and one without goes on only until every batch size has ``min_rounds``.

**Retiring settled variants.** After each round, a variant that has run at least :data:`MIN_ROUNDS` rounds
beside another variant still timed (the baseline included, and only one whose quality is not known to fail
the rule) and whose time *and* energy per output token are both significantly above that variant's (the 95 %
interval of the paired per-round ratio lies above 1) leaves the rounds: it cannot be the best, nor the pick,
for either objective, and more rounds would only narrow an interval whose verdict is settled. Its figures and
comparison rest on the rounds it ran; ``tokens["stopped_by"]`` says why it stopped. The time it would have taken
goes to the variants still undecided and to the other batch sizes.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from advisor.generation._results import GenerationResult
from advisor.generation._techniques import GenSetup
from advisor.measurement import MIN_ROUNDS, Block, Round, median_interval, ratios, ready_to_stop

__all__ = ["HARD_BUDGET_FACTOR", "cycle", "phase_rounds", "plan_meta"]

HARD_BUDGET_FACTOR = 1.5  # rounds short of min_rounds may run on until this multiple of the budget

# one window pair of one round: (round, prefill calls, prefill s, prefill J, generation calls, generation s, J)
Record = tuple[int, int, float, float | None, int, float, float | None]


@dataclass
class Live:
    """A set-up variant at one batch size.

    Attributes:
        cost_s: One round's expected time for this variant (pilot: calls per window x time per call). Units: s.
        retired: Why it left the rounds early (None: still timed).
    """

    name: str
    setup: GenSetup
    prefill: Callable[[], Any]
    full: Callable[[], Any]
    calls_prefill: int = 1
    calls_full: int = 1
    records: list[Record] = field(default_factory=list)
    new_tokens: Any = None
    memory: dict[str, Any] = field(default_factory=dict)
    acceptance: dict[str, Any] | None = None
    cost_s: float = 0.0
    retired: str | None = None


@dataclass
class Batch:
    """One batch size: its set-up variants (baseline first), the results of those not set up, its rounds."""

    b: int
    in_tokens: int
    rng: random.Random
    live: list[Live] = field(default_factory=list)
    out: dict[str, GenerationResult] = field(default_factory=dict)
    rounds: int = 0
    stopped: str | None = None
    last_round_s: float = 0.0
    loads: dict[int, dict[str, Any]] = field(default_factory=dict)  # round -> other processes' CPU share, steal

    def active(self) -> list[Live]:
        """The variants still timed (the baseline first)."""
        return [v for v in self.live if v.retired is None]


@dataclass
class Plan:
    """How rounds run: meters, stopping rules, the clock."""

    meters: Sequence[Any]
    sync: Callable[[], None] | None
    min_rounds: int
    max_rounds: int
    target_rel: float
    label: str
    lock_path: Any
    on_round: Callable[[int, int], None] | None
    seed: int
    retire: bool = True
    deadline: float = math.inf
    hard_deadline: float = math.inf
    quality_bad: Callable[[Batch, Live], bool] = field(default=lambda _bt, _v: False)


def _window(fn: Callable[[], Any], calls: int, meters: Sequence[Any], sync: Callable[[], None] | None
            ) -> tuple[float, float | None]:  # fmt: skip
    tokens = [m.begin() for m in meters]
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
        if sync:
            sync()
    wall = time.perf_counter() - t0
    energy = sum(m.end(tk).energy_j for m, tk in zip(meters, tokens, strict=True)) if meters else None
    return wall, energy


def one_round(plan: Plan, bt: Batch) -> None:
    """One round at one batch size: each variant still timed, in a shuffled order, a prefill and a generation window."""
    from advisor.measurement import LoadSampler, machine_lock

    order = bt.active()
    bt.rng.shuffle(order)
    sampler = LoadSampler()
    with machine_lock(label=plan.label, path=plan.lock_path) as grant:
        plan.deadline += grant.waited_s
        plan.hard_deadline += grant.waited_s
        t0 = time.perf_counter()
        a = sampler.sample()
        for v in order:
            pw, pe = _window(v.prefill, v.calls_prefill, plan.meters, plan.sync)
            fw, fe = _window(v.full, v.calls_full, plan.meters, plan.sync)
            v.records.append((bt.rounds, v.calls_prefill, pw, pe, v.calls_full, fw, fe))
        bt.loads[bt.rounds] = sampler.delta(a, sampler.sample())
        bt.last_round_s = time.perf_counter() - t0
    bt.rounds += 1
    if plan.on_round:
        plan.on_round(bt.b, bt.rounds)


def dominates(w: Live, v: Live) -> bool:
    """True when ``v`` is significantly slower *and* costlier per token than ``w`` (95 % paired intervals above 1).

    Needs at least :data:`MIN_ROUNDS` shared rounds; without energy figures, time alone decides. The per-round
    ratios are the engine's (:func:`advisor.measurement.ratios` on the end-to-end windows).
    """
    rounds = phase_rounds([w, v], 1, 1, 2)["end_to_end"]
    t = median_interval(ratios(rounds, v.name, w.name))
    if t is None or t.n_rounds < MIN_ROUNDS or t.low <= 1.0:
        return False
    e_ratios = ratios(rounds, v.name, w.name, "energy")
    if not e_ratios:
        return True
    e = median_interval(e_ratios)
    return e is not None and e.n_rounds >= MIN_ROUNDS and e.low > 1.0


def retire(plan: Plan, bt: Batch) -> None:
    """Take out of the rounds every variant another one still timed dominates (see the module docstring)."""
    act = bt.active()
    refs = [w for w in act if w is act[0] or not plan.quality_bad(bt, w)]
    for v in act[1:]:
        if len(v.records) < MIN_ROUNDS:
            continue
        w = next((w for w in refs if w is not v and w.retired is None and dominates(w, v)), None)
        if w is not None:
            v.retired = (f"retired after {len(v.records)} rounds: significantly slower and costlier per token than "
                         f"{w.name} (95 % paired intervals above 1)")  # fmt: skip


def _ready(live: list[Live], b: int, target_rel: float, loads: dict[int, dict[str, Any]] | None = None) -> bool:
    rounds = phase_rounds(live, b, 1, 2, loads)["end_to_end"]
    return ready_to_stop(rounds, live[0].name, [v.name for v in live[1:]], target_rel)


def stop_reason(plan: Plan, bt: Batch) -> str | None:
    """Why this batch size stops now (``max_rounds``, ``settled``, ``interval``, ``budget``), or None to go on."""
    n, act = bt.rounds, bt.active()
    if n >= plan.max_rounds:
        return "max_rounds"
    if n >= plan.min_rounds and len(act) == 1:
        return "settled" if len(bt.live) > 1 else "interval"
    if n >= plan.min_rounds and _ready(act, bt.b, plan.target_rel, bt.loads):
        return "interval"
    now = time.perf_counter()
    if now >= plan.hard_deadline or (now >= plan.deadline and n >= plan.min_rounds):
        return "budget"
    return None


def stop_before_overrun(plan: Plan, batches: list[Batch]) -> None:
    """Before a turn: a batch size with ``min_rounds`` rounds whose next round would end past the deadline stops.

    The turn's rounds are projected from each batch size's last round, in turn order.
    """
    end = time.perf_counter()
    for bt in batches:
        if not bt.live or bt.stopped is not None:
            continue
        if bt.rounds >= plan.min_rounds and end + bt.last_round_s > plan.deadline:
            bt.stopped = "budget"
            continue
        end += bt.last_round_s


def cycle(plan: Plan, batches: list[Batch]) -> None:
    """Rounds at each batch size in turn until every batch size has stopped (:func:`stop_reason`)."""
    while True:
        stop_before_overrun(plan, batches)
        todo = [bt for bt in batches if bt.live and bt.stopped is None]
        if not todo:
            return
        for bt in todo:
            one_round(plan, bt)
            if plan.retire:
                retire(plan, bt)
            bt.stopped = stop_reason(plan, bt)


def phase_rounds(live: list[Live], b: int, in_tokens: int, n_new: int,
                 loads: dict[int, dict[str, Any]] | None = None) -> dict[str, list[Round]]:  # fmt: skip
    """The recorded windows as the engine's rounds, one list per phase (per-token items), with each round's load.

    With the load, :func:`advisor.measurement.derive` sets busy rounds aside as for any measurement.
    """
    by_round: dict[str, dict[int, dict[str, Block]]] = {"prefill": {}, "decode": {}, "end_to_end": {}}
    for v in live:
        for i, pc, pw, pe, fc, fw, fe in v.records:
            by_round["prefill"].setdefault(i, {})[v.name] = Block(pc, pw, in_tokens, pe)
            by_round["end_to_end"].setdefault(i, {})[v.name] = Block(fc, fw, b * n_new, fe)
            dec_s = max(fw / fc - pw / pc, 1e-9)
            dec_e = max(fe / fc - pe / pc, 0.0) if fe is not None and pe is not None else None
            by_round["decode"].setdefault(i, {})[v.name] = Block(1, dec_s, b * (n_new - 1), dec_e)
    loads = loads or {}
    return {ph: [Round(i, 0, list(blocks), blocks, dict(loads.get(i) or {})) for i, blocks in sorted(rs.items())]
            for ph, rs in by_round.items()}  # fmt: skip


def plan_meta(batches: list[Batch], setup_s: float, budget_s: float, min_rounds: int) -> dict[str, Any]:
    """The budget plan from the pilot times: one round's cost per batch size and the rounds the budget affords."""
    cost = {str(bt.b): round(sum(v.cost_s for v in bt.live), 3) for bt in batches}
    per_cycle = sum(cost.values())
    afford = max(int((budget_s - setup_s) // per_cycle), 0) if per_cycle > 0 else None
    need = round(setup_s + min_rounds * per_cycle, 1)
    out: dict[str, Any] = {
        "setup_s": round(setup_s, 1),
        "round_cost_s": cost,
        "rounds_affordable": afford,
        "budget_for_min_rounds_s": need,
        "how": "batch sizes take rounds in turn (about the same number each); one round's cost is the sum over "
        "variants of calls per window x the pilot time per call; set-up counts in the budget",
    }
    if afford is not None and afford < min_rounds:
        out["note"] = (f"the budget ({budget_s:g} s) affords about {afford} round(s) per batch size after "
                       f"{setup_s:.0f} s of set-up; {min_rounds} rounds (a 95 % interval) need about {need:.0f} s; "
                       f"short batch sizes run on to {min_rounds} rounds or {HARD_BUDGET_FACTOR:g}x the "
                       "budget")  # fmt: skip
    return out
