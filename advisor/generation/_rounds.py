"""Generation on the one engine: its windows as the engine's variants, and the rule that settles a batch size.

Every (technique, batch size) set up is **two engine variants**: its *prefill window* (``generate`` with one new
token, per input token) and its *generation window* (``generate`` with N new tokens, per output token). One
engine round (:func:`advisor.measurement.run_engine`) times every window still timed, of every batch size, in an
order shuffled per round, so drift and bursts of load hit every batch size and technique alike and each batch
size gets the same number of rounds. The machine lock (held for stretches of whole rounds, with the engine's
timeout), the budget (``min_rounds`` past the deadline, at most ``hard_budget_factor`` times it; no round started
that would end past it once ``min_rounds`` are done), ``max_rounds`` and Ctrl-C are the engine's.

What is generation's is the rule the engine calls after each round (:class:`Settle`, the engine's ``settle``).
Per batch size:

- **retiring settled variants**: a variant that has run at least :data:`MIN_ROUNDS` rounds beside another variant
  still timed (the baseline included, and only one whose quality is not known to fail the rule) and whose time
  *and* energy per output token are both significantly above that variant's (the 95 % interval of the paired
  per-round ratio lies above 1) leaves the rounds: it cannot be the best, nor the pick, for either objective.
  Its figures rest on the rounds it ran; ``tokens["stopped_by"]`` says ``retired``;
- **stopping**: after ``min_rounds``, when every variant still timed has an end-to-end latency-ratio interval
  within ``target_rel`` (``interval``), or only the baseline is left (``settled``): the batch size's windows all
  leave the rounds. The engine's run ends when no window is left, or by its own budget and ``max_rounds``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from advisor.generation._techniques import GenSetup
from advisor.measurement import MIN_ROUNDS, Block, Round, median_interval, ratios, ready_to_stop

__all__ = ["Batch", "Layout", "Live", "Settle", "collect", "phase_rounds", "plan_meta"]

PHASES = ("prefill", "generation")

# one window pair of one round: (round, prefill calls, prefill s, prefill J, generation calls, generation s, J)
Record = tuple[int, int, float, float | None, int, float, float | None]


@dataclass
class Live:
    """A set-up variant at one batch size.

    Attributes:
        cost_s: One round's expected time for this variant (calls per window x the engine's pilot time per call).
            Units: s.
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
    """One batch size: its set-up variants (baseline first), the results of those not set up, its rounds.

    Attributes:
        stopped: Why its rounds ended (``interval``, ``settled``; else the engine's ``budget``, ``max_rounds``,
            ``interrupted``), None while timed.
    """

    b: int
    in_tokens: int
    live: list[Live] = field(default_factory=list)
    out: dict[str, Any] = field(default_factory=dict)
    rounds: int = 0
    stopped: str | None = None

    def active(self) -> list[Live]:
        """The variants still timed (the baseline first)."""
        return [v for v in self.live if v.retired is None]

    def get(self, name: str) -> Live | None:
        """The set-up variant of that name, or None."""
        return next((v for v in self.live if v.name == name), None)


@dataclass
class Layout:
    """The engine's variants of a generation run: window name -> (batch size, technique, phase).

    Attributes:
        loads: Round index -> the load the engine sampled in it (:func:`collect`).
    """

    batches: list[Batch]
    windows: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    loads: dict[int, dict[str, Any]] = field(default_factory=dict)

    def name(self, tech: str, b: int, phase: str) -> str:
        """The engine variant's name of one window, e.g. ``bfloat16@weights [batch 4] prefill`` (registered)."""
        n = f"{tech} [batch {b}] {phase}"
        self.windows[n] = (b, tech, phase)
        return n

    def batch(self, b: int) -> Batch:
        """The batch of size ``b``."""
        return next(bt for bt in self.batches if bt.b == b)

    def on_round(self, r: Round, user: Callable[[int, int], None] | None) -> None:
        """Count a finished engine round for every batch size it timed; call ``user(batch size, rounds)``."""
        for bt in self.batches:
            if any(self.windows.get(n, (None,))[0] == bt.b for n in r.blocks):
                bt.rounds += 1
                if user:
                    user(bt.b, bt.rounds)


def collect(layout: Layout, rounds: Sequence[Round]) -> None:
    """Each set-up variant's window pairs (:data:`Record`) and calls per window, from the engine's rounds."""
    names = {(b, t, ph): n for n, (b, t, ph) in layout.windows.items()}
    layout.loads = {r.index: dict(r.load) for r in rounds}
    for bt in layout.batches:
        for v in bt.live:
            pn, fn = names.get((bt.b, v.name, "prefill")), names.get((bt.b, v.name, "generation"))
            v.records = []
            for r in rounds:
                p, f = r.blocks.get(pn or ""), r.blocks.get(fn or "")
                if p is not None and f is not None:
                    v.records.append((r.index, p.calls, p.wall_s, p.energy_j, f.calls, f.wall_s, f.energy_j))
                    v.calls_prefill, v.calls_full = p.calls, f.calls


def phase_rounds(
    live: list[Live], b: int, in_tokens: int, n_new: int, loads: dict[int, dict[str, Any]] | None = None
) -> dict[str, list[Round]]:
    """The recorded windows as per-phase rounds (per-token items), with each round's load, for ``derive``.

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
    return {
        ph: [Round(i, 0, list(blocks), blocks, dict(loads.get(i) or {})) for i, blocks in sorted(rs.items())]
        for ph, rs in by_round.items()
    }


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


@dataclass
class Settle:
    """The engine's ``settle`` for a generation run: retire dominated variants, stop settled batch sizes.

    Attributes:
        layout: The run's windows and batch sizes.
        min_rounds: Rounds before a batch size may stop on its intervals.
        target_rel: Stop a batch size when every end-to-end latency ratio's interval half-width is below this.
        retire: Let dominated variants leave the rounds.
        quality_bad: Whether a variant's quality is known to fail the rule (it may then not retire others).
    """

    layout: Layout
    min_rounds: int
    target_rel: float
    retire: bool = True
    quality_bad: Callable[[Batch, Live], bool] = field(default=lambda _bt, _v: False)

    def __call__(self, rounds: Sequence[Round], names: Sequence[str]) -> dict[str, str]:
        """After an engine round: the windows (still timed) that leave the rounds, and why."""
        collect(self.layout, rounds)
        for bt in self.layout.batches:
            if bt.stopped is None and bt.live:
                if self.retire:
                    retire(self, bt)
                bt.stopped = stop_reason(self, bt)
        return {n: why for n in names if (why := self._why_gone(n)) is not None}

    def _why_gone(self, name: str) -> str | None:
        b, tech, _ = self.layout.windows[name]
        bt = self.layout.batch(b)
        if bt.stopped is not None:
            return f"batch {b}: {bt.stopped}"
        v = bt.get(tech)
        if v is None:
            return f"{tech} at batch {b} is not set up (its other window failed)"
        return v.retired


def retire(rule: Settle, bt: Batch) -> None:
    """Take out of the rounds every variant another one still timed dominates (see the module docstring)."""
    act = bt.active()
    refs = [w for w in act if w is act[0] or not rule.quality_bad(bt, w)]
    for v in act[1:]:
        if len(v.records) < MIN_ROUNDS:
            continue
        w = next((w for w in refs if w is not v and w.retired is None and dominates(w, v)), None)
        if w is not None:
            v.retired = (
                f"retired after {len(v.records)} rounds: significantly slower and costlier per token than "
                f"{w.name} (95 % paired intervals above 1)"
            )


def stop_reason(rule: Settle, bt: Batch) -> str | None:
    """Why this batch size stops now (``settled``, ``interval``), or None to go on (budget: the engine's)."""
    act = bt.active()
    n = len(act[0].records) if act else 0
    if not act or act[0].name != "baseline" or n < rule.min_rounds:
        return None
    if len(act) == 1:
        return "settled" if len(bt.live) > 1 else "interval"
    rounds = phase_rounds(act, bt.b, 1, 2, rule.layout.loads)["end_to_end"]
    return "interval" if ready_to_stop(rounds, act[0].name, [v.name for v in act[1:]], rule.target_rel) else None


def plan_meta(
    batches: list[Batch], setup_s: float, budget_s: float, min_rounds: int, hard_factor: float
) -> dict[str, Any]:
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
        "how": "one engine round times every window of every batch size (so each batch size gets the same number "
        "of rounds); its cost is the sum over variants and batch sizes of calls per window x the pilot time per "
        "call; set-up counts in the budget",
    }
    if afford is not None and afford < min_rounds:
        out["note"] = (
            f"the budget ({budget_s:g} s) affords about {afford} round(s) after {setup_s:.0f} s of "
            f"set-up; {min_rounds} rounds (a 95 % interval) need about {need:.0f} s; the rounds run on "
            f"to {min_rounds} or {hard_factor:g}x the budget"
        )
    return out
