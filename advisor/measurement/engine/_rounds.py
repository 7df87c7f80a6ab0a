"""The one measurement loop: interleaved, paired rounds that a busy machine cannot fool.

Every variant (the baseline included) is a callable with a set-up and a tear-down. A run:

1. plans memory groups: as many variants as fit in memory at once, each group with the baseline;
2. per group, sets every variant up (apply, check, warm up, size its block so it lasts at least
   ``block_s``), then times **rounds**: each round runs every variant of the group for one block,
   in an order shuffled per round by a seeded RNG, so drift and bursts of load hit every variant
   alike. Energy is read per block from the meters; CPU time of other processes and VM steal time
   are sampled per round. The machine-wide measurement lock is held around every stretch of whole
   rounds (at most ``lock_hold_s``, then released so others can queue);
3. stops when every latency ratio's interval is tight enough (``target_rel``), the budget is
   spent, or ``max_rounds`` is reached; Ctrl-C stops it too and keeps every finished round.

A caller whose comparisons are not "each variant against the baseline" (generation: a prefill and a
generation window per technique and batch size) passes ``settle``: after each round it names the
variants (the baseline too) that leave the rounds, and why; the group stops (``settled``) when none is
left. The lock, the budget, ``max_rounds`` and Ctrl-C stay the engine's.

Ratios, intervals and verdicts are not computed here: :func:`advisor.measurement.engine._derive.derive`
computes them from the recorded rounds. GPU work is synchronised after every call (``sync``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from advisor._settings import merged
from advisor.measurement._results import Block, Round
from advisor.measurement.engine._allocator import minor_faults, steady_allocator
from advisor.measurement.engine._derive import BUSY_FRAC, MIN_ROUNDS, is_busy, ready_to_stop

__all__ = [
    "EngineHooks",
    "EngineOutcome",
    "EngineSettings",
    "LoadSampler",
    "Variant",
    "VariantSpec",
    "device_sync",
    "load_summary",
    "plan_groups",
    "run_engine",
]


@dataclass
class Variant:
    """A set-up variant, ready to time.

    Attributes:
        name: Its id (``baseline``, a variant id, ``batch-32``).
        call: One call (a forward pass, a training step).
        items_per_call: Items one call processes (ratios are per item).
        enter: Re-establishes the process-wide state this variant was set up with (threads,
            quantized engine) before each of its blocks; None when it needs none.
        teardown: Frees the variant (and undoes its process-wide settings).
        info: Whatever the caller wants back (settings, quality).
        failed: Set by a set-up that applied but found the variant broken (the reason); it is torn
            down and recorded as ``failed``.
    """

    name: str
    call: Callable[[], Any]
    items_per_call: int = 1
    enter: Callable[[], None] | None = None
    teardown: Callable[[], None] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None


@dataclass
class VariantSpec:
    """A variant before set-up: ``setup()`` returns the :class:`Variant` or raises.

    ``NotApplicable`` from ``setup`` is recorded as ``not-applicable``, any other exception as
    ``failed``; ``size_bytes`` is the memory it is expected to hold once set up (for the groups).
    ``essential`` variants are set up even after the budget ran out (another baseline: generation's baseline
    at each batch size, without which the variants there cannot be compared).
    """

    name: str
    setup: Callable[[], Variant]
    size_bytes: int = 0
    essential: bool = False


@dataclass(frozen=True)
class EngineSettings:
    """How the rounds are run; recorded in every run's meta as ``harness``.

    Attributes:
        block_s: Shortest block: calls per block are chosen so a block lasts at least this long. Units: s.
        warmup: Untimed calls per variant after set-up.
        min_rounds: Rounds to reach before the interval rule may stop the run.
        max_rounds: Hard cap on rounds per group.
        target_rel: Stop when every latency ratio's interval half-width is below this share of its median.
        confidence: Interval coverage.
        seed: Seed of the per-round shuffle.
        max_calls_per_block: Cap on calls in a block (very fast calls).
        lock_timeout_s: Give up waiting for the machine lock after this long (None: wait). Units: s.
        max_variants_in_memory: Variants set up at once besides the baseline (None: from free memory).
        lock_hold_s: The machine lock is held for stretches of whole rounds of at most about this long,
            then released so other measurements can queue. Units: s.
        steady_allocator: Fix glibc's malloc thresholds before the first round, so page faults that
            depend on what the process ran before do not enter the comparison (see ``_allocator``).
        stop_before_overrun: Once a group has ``min_rounds`` rounds, stop it (``budget``) when its next round,
            as long as its last one, would end past the deadline: a run with enough budget ends within it.
            False: stop after the round that passes the deadline.
        hard_budget_factor: A group short of ``min_rounds`` runs on past its deadline until it has them or
            this multiple of the deadline has passed.
    """

    block_s: float = 0.05
    warmup: int = 3
    min_rounds: int = MIN_ROUNDS
    max_rounds: int = 5000
    target_rel: float = 0.03
    confidence: float = 0.95
    seed: int = 0
    max_calls_per_block: int = 100_000
    lock_timeout_s: float | None = None
    max_variants_in_memory: int | None = None
    lock_hold_s: float = 1.0
    steady_allocator: bool = True
    stop_before_overrun: bool = False
    hard_budget_factor: float = 1.5

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class EngineOutcome:
    """What the engine returns.

    Attributes:
        rounds: Every finished round, all groups.
        setups: Name -> (status, reason, variant info) for every spec; status ``ok``,
            ``not-applicable``, ``failed``, ``skipped-budget`` or ``interrupted``.
        status: ``finished`` or ``interrupted``.
        stopped_by: Per group: ``interval``, ``budget``, ``max_rounds``, ``settled`` (with ``settle``: every
            variant left the rounds) or ``interrupted``.
        lock_waited_s: Total time spent waiting for the machine lock. Units: s.
        groups: The memory groups (names, baseline first).
        block_s: The block length used (the longest of the setting and the meters' resolution). Units: s.
        allocator: What was done to the memory allocator (``_allocator.steady_allocator``), or None.
        retired: With ``settle``: name -> why it left the rounds before its group stopped.
        pilot_s: Name -> the time of one call after warm-up, from which its calls per block were sized. Units: s.
        setup_s: From the call to the first round (set-up and warm-up; lock waits excluded). Units: s.
    """

    rounds: list[Round] = field(default_factory=list)
    setups: dict[str, tuple[str, str | None, dict[str, Any]]] = field(default_factory=dict)
    status: str = "finished"
    stopped_by: list[str] = field(default_factory=list)
    lock_waited_s: float = 0.0
    groups: list[list[str]] = field(default_factory=list)
    block_s: float = 0.05
    allocator: dict[str, Any] | None = None
    retired: dict[str, str] = field(default_factory=dict)
    pilot_s: dict[str, float] = field(default_factory=dict)
    setup_s: float | None = None


# --- pieces --------------------------------------------------------------------------------------------
def plan_groups(
    names: Sequence[str], sizes: Sequence[int], available_bytes: int, max_per_group: int | None = None
) -> list[list[str]]:
    """Split the variants (not the baseline) into groups that fit in memory together (pure).

    Half of the available memory is used; every group holds at least one variant.

    Args:
        names: Variant names in run order.
        sizes: Expected bytes each holds once set up.
        available_bytes: Memory free now.
        max_per_group: A cap on variants per group, if any.
    """
    budget = available_bytes // 2
    groups: list[list[str]] = []
    cur: list[str] = []
    used = 0
    for name, size in zip(names, sizes, strict=True):
        full = (max_per_group is not None and len(cur) >= max_per_group) or (cur and used + size > budget)
        if full:
            groups.append(cur)
            cur, used = [], 0
        cur.append(name)
        used += size
    if cur:
        groups.append(cur)
    return groups


class LoadSampler:
    """CPU time taken by other processes, and VM steal time, between two samples.

    ``other_cpu_frac`` = (all CPUs' busy time - this process's CPU time) / (wall x CPUs);
    ``steal_frac`` = steal time / (wall x CPUs) (0 outside a VM; None where not reported).
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._n = psutil.cpu_count(logical=True) or 1

    def sample(self) -> tuple[float, float, float, float | None]:
        """(wall, system busy CPU s, this process CPU s, steal s)."""
        ct = self._psutil.cpu_times()
        idle = ct.idle + getattr(ct, "iowait", 0.0)
        steal = getattr(ct, "steal", None)
        total = sum(getattr(ct, f) for f in ct._fields if f not in ("guest", "guest_nice"))
        busy = total - idle - (steal or 0.0)
        return time.perf_counter(), busy, time.process_time(), steal

    def delta(
        self, a: tuple[float, float, float, float | None], b: tuple[float, float, float, float | None]
    ) -> dict[str, float | None]:
        """The load between samples ``a`` and ``b``."""
        wall = max(b[0] - a[0], 1e-9)
        other = max((b[1] - a[1]) - (b[2] - a[2]), 0.0)
        steal = (b[3] - a[3]) if a[3] is not None and b[3] is not None else None
        cap = wall * self._n
        return {
            "other_cpu_frac": round(min(other / cap, 1.0), 4),
            "steal_frac": round(min(max(steal, 0.0) / cap, 1.0), 4) if steal is not None else None,
            "wall_s": round(wall, 4),
        }


def load_summary(rounds: Sequence[Round], busy_frac: float = BUSY_FRAC) -> dict[str, Any]:
    """The load seen while measuring: medians and 90th percentiles over rounds, and a warning if high.

    A round is *busy* when other processes (or a hypervisor's steal) took more than ``busy_frac``
    of the CPUs. Nothing is dropped: busy rounds stay in the data; the estimates set them aside when
    enough quiet rounds remain (:func:`advisor.measurement.engine._derive.select_rounds`), and the warning
    says how many there were.
    """
    other = sorted(r.load.get("other_cpu_frac") or 0.0 for r in rounds if r.load)
    steal = sorted(r.load.get("steal_frac") or 0.0 for r in rounds if r.load)
    if not other:
        return {"rounds": 0, "busy_rounds": 0, "note": None}

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    busy = sum(1 for r in rounds if r.load and is_busy(r, busy_frac))
    out: dict[str, Any] = {
        "rounds": len(other),
        "other_cpu_frac_median": pct(other, 0.5),
        "other_cpu_frac_p90": pct(other, 0.9),
        "steal_frac_median": pct(steal, 0.5) if steal else None,
        "steal_frac_p90": pct(steal, 0.9) if steal else None,
        "busy_rounds": busy,
        "busy_threshold": busy_frac,
        "busy": busy > 0.1 * len(other),
        "note": None,
    }
    if out["busy"]:
        out["note"] = (
            f"other processes were busy during {busy} of {len(other)} rounds (they took a median "
            f"{pct(other, 0.5):.0%} and a 90th percentile {pct(other, 0.9):.0%} of the CPUs"
            + (f"; VM steal {pct(steal, 0.9):.0%} at the 90th percentile" if steal and pct(steal, 0.9) > 0.01 else "")
            + "); the estimates set busy rounds aside where at least six quiet ones remained, and say "
            "'inconclusive' where they did not: measure on a quieter machine for figures to publish"
        )
    return out


def device_sync(model: Any = None, inputs: Sequence[Any] = ()) -> Callable[[], None] | None:
    """``torch.cuda.synchronize`` for a model or inputs on a CUDA device, else None."""
    import torch

    def is_cuda(x: Any) -> bool:
        dev = getattr(x, "device", None)
        return getattr(dev, "type", None) == "cuda"

    cuda = any(is_cuda(x) for x in inputs)
    if not cuda and model is not None and hasattr(model, "parameters"):
        cuda = any(is_cuda(p) for p in model.parameters())
    return torch.cuda.synchronize if cuda else None


def _calls_per_block(
    v: Variant, sync: Callable[[], None] | None, warmup: int, block_s: float, cap: int
) -> tuple[int, float]:
    """Warm up, then choose calls per block so a block lasts at least ``block_s``: (calls, time of one call)."""
    times = []
    for _ in range(max(warmup, 1)):
        t0 = time.perf_counter()
        v.call()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    t = min(times[1:] or times)
    return max(1, min(cap, math.ceil(block_s / t) if t > 0 else cap)), t


def _block(v: Variant, calls: int, meters: Sequence[Any], sync: Callable[[], None] | None) -> Block:
    if v.enter:
        v.enter()
    tokens = [m.begin() for m in meters]
    f0 = minor_faults()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(calls):
        v.call()
        if sync:
            sync()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    f1 = minor_faults()
    energy = sum(m.end(tk).energy_j for m, tk in zip(meters, tokens, strict=True)) if meters else None
    faults = f1 - f0 if f0 is not None and f1 is not None else None
    return Block(calls, wall, v.items_per_call, energy, cpu, faults)


@dataclass
class _Ctx:
    meters: Sequence[Any]
    settings: EngineSettings
    sync: Callable[[], None] | None
    label: str
    bar: Any
    on_round: Callable[[Round], None] | None
    lock_path: Any
    sampler: LoadSampler
    outcome: EngineOutcome
    rng: random.Random
    t_start: float
    budget_s: float
    settle: Callable[[Sequence[Round], Sequence[str]], dict[str, str]] | None = None


def _one_round(ctx: _Ctx, group: int, live: list[Variant], calls: dict[str, int]) -> Round:
    """One round, in a shuffled order (the caller holds the machine lock)."""
    order = list(live)
    ctx.rng.shuffle(order)
    a = ctx.sampler.sample()
    blocks = {v.name: _block(v, calls[v.name], ctx.meters, ctx.sync) for v in order}
    b = ctx.sampler.sample()
    return Round(len(ctx.outcome.rounds), group, [v.name for v in order], blocks, ctx.sampler.delta(a, b))


@dataclass
class _Group:
    """The state of one group's rounds."""

    index: int
    live: list[Variant]
    calls: dict[str, int]
    deadline_share: float
    mine: list[Round] = field(default_factory=list)


def _after_round(ctx: _Ctx, g: _Group, r: Round) -> str | None:
    """Record a round; return why the group's rounds stop, or None to go on."""
    s = ctx.settings
    g.mine.append(r)
    ctx.outcome.rounds.append(r)
    n = len(g.mine)
    names = [v.name for v in g.live[1:]]
    if ctx.on_round:
        ctx.on_round(r)
    elapsed = time.perf_counter() - ctx.t_start
    if ctx.bar is not None:
        ctx.bar.n = min(round(elapsed, 1), ctx.bar.total or elapsed)
        ctx.bar.set_postfix(rounds=len(ctx.outcome.rounds), group=g.index, refresh=False)
        ctx.bar.refresh()
    if n >= s.max_rounds:
        return "max_rounds"
    why = _settled(ctx, g, ctx.settle) if ctx.settle is not None else _interval(ctx, g, names)
    return why or _budget(ctx, g, r, elapsed, bool(names))


def _interval(ctx: _Ctx, g: _Group, names: list[str]) -> str | None:
    """The engine's own rule: every latency ratio against the baseline is tight enough."""
    s, n = ctx.settings, len(g.mine)
    if not names and n >= s.min_rounds:
        return "interval"  # nothing to compare with: the baseline's own figures are enough
    if (
        n >= s.min_rounds
        and names
        and n % 3 == 0
        and ready_to_stop(g.mine, g.live[0].name, names, s.target_rel, s.confidence)
    ):
        return "interval"
    return None


def _settled(ctx: _Ctx, g: _Group, settle: Callable[[Sequence[Round], Sequence[str]], dict[str, str]]) -> str | None:
    """The caller's rule: the variants it names leave the rounds; the group stops when none is left."""
    gone = settle(g.mine, [v.name for v in g.live])
    if gone:
        ctx.outcome.retired.update(gone)
        g.live = [v for v in g.live if v.name not in gone]  # a new list: the set-up list is torn down as before
    return "settled" if not g.live else None


def _budget(ctx: _Ctx, g: _Group, r: Round, elapsed: float, compared: bool) -> str | None:
    """Past the group's deadline (with ``min_rounds``, or 1.5x it), or its next round would end past it."""
    s, n = ctx.settings, len(g.mine)
    deadline = ctx.budget_s * g.deadline_share
    if elapsed >= deadline and (n >= s.min_rounds or elapsed >= s.hard_budget_factor * deadline or not compared):
        return "budget"
    last = r.load.get("wall_s") or 0.0
    if s.stop_before_overrun and n >= s.min_rounds and elapsed + last > deadline:
        return "budget"
    return None


def _stretch(ctx: _Ctx, g: _Group) -> str | None:
    """Rounds under one hold of the machine lock (at most ``lock_hold_s``, so others can queue in between)."""
    from advisor.measurement.engine._lock import machine_lock

    elapsed = time.perf_counter() - ctx.t_start  # for the waiters' message: since when, about how long left
    with machine_lock(
        label=ctx.label,
        timeout_s=ctx.settings.lock_timeout_s,
        path=ctx.lock_path,
        expected_s=max(0.0, ctx.budget_s - elapsed),
        since=time.time() - elapsed,
    ) as grant:
        ctx.outcome.lock_waited_s += grant.waited_s
        ctx.t_start += grant.waited_s  # waiting for another measurement does not eat the budget
        held = time.perf_counter()
        while True:
            why = _after_round(ctx, g, _one_round(ctx, g.index, g.live, g.calls))
            if why is not None or time.perf_counter() - held >= ctx.settings.lock_hold_s:
                return why


def _time_group(ctx: _Ctx, group: int, live: list[Variant], deadline_share: float) -> str:
    """Rounds for one group until the interval rule, the budget or max_rounds stops them."""
    s = ctx.settings
    calls = {}
    for v in live:
        calls[v.name], ctx.outcome.pilot_s[v.name] = _calls_per_block(
            v, ctx.sync, s.warmup, ctx.outcome.block_s, s.max_calls_per_block
        )
    if ctx.outcome.setup_s is None:
        ctx.outcome.setup_s = round(time.perf_counter() - ctx.t_start, 3)
    g = _Group(group, live, calls, deadline_share)
    while (why := _stretch(ctx, g)) is None:
        pass
    return why


def _set_up(ctx: _Ctx, spec: VariantSpec) -> Variant | None:
    """Set one variant up; record its status. Returns None when it is not measurable."""
    from advisor._errors import NotApplicable

    try:
        v = spec.setup()
    except NotApplicable as exc:
        ctx.outcome.setups[spec.name] = ("not-applicable", str(exc), {})
        return None
    except Exception as exc:  # noqa: BLE001 - any set-up failure is recorded and the run goes on
        ctx.outcome.setups[spec.name] = ("failed", f"{type(exc).__name__}: {exc}", {})
        return None
    if v.failed is not None:
        ctx.outcome.setups[spec.name] = ("failed", v.failed, v.info)
        if v.teardown:
            v.teardown()
        return None
    ctx.outcome.setups[spec.name] = ("ok", None, v.info)
    return v


def _teardown(live: list[Variant]) -> None:
    for v in reversed(live):
        if v.teardown:
            v.teardown()


def _budget_reason(budget_s: float) -> str:
    if budget_s > 0:
        return f"the {budget_s:g} s budget ran out before its set-up"
    return "the budget was spent before the rounds began (set-up, quality probes): give a larger budget"


def _run_groups(ctx: _Ctx, baseline: Variant, specs: list[VariantSpec], groups: list[list[str]]) -> None:
    by_name = {s.name: s for s in specs}
    done_variants = 0
    total = max(len(specs), 1)
    for gi, group in enumerate(groups):
        live = [baseline]
        try:
            for name in group:
                if time.perf_counter() - ctx.t_start > ctx.budget_s and not by_name[name].essential:
                    ctx.outcome.setups[name] = ("skipped-budget", _budget_reason(ctx.budget_s), {})
                    continue
                v = _set_up(ctx, by_name[name])
                if v is not None:
                    live.append(v)
                if baseline.enter:
                    baseline.enter()  # the next applier starts from the baseline's process state
            done_variants += len(group)
            share = done_variants / total if specs else 1.0
            if len(live) > 1 or gi == 0:
                ctx.outcome.stopped_by.append(_time_group(ctx, gi, live, share))
        finally:
            _teardown(live[1:])
            if baseline.enter:
                baseline.enter()


@dataclass(frozen=True)
class EngineHooks:
    """How :func:`run_engine` talks to its caller and the machine (not the rounds' statistics).

    Attributes:
        sync: Called after every call (``torch.cuda.synchronize`` for CUDA models).
        progress: Show a tqdm bar of the budget's seconds.
        label: What is measured, for the machine lock's waiting message.
        on_round: Called with each finished round.
        lock_path: The machine lock file (default: the lock module's default).
        available_bytes: Free memory for the groups (default: psutil's available memory).
        settle: ``settle(group's rounds, names still timed) -> {name: why}``, called after each round: the named
            variants (the baseline too) leave the rounds (``outcome.retired``); replaces the interval rule; the
            group stops (``settled``) when none is left. None: the engine's interval rule.
    """

    sync: Callable[[], None] | None = None
    progress: bool = False
    label: str = ""
    on_round: Callable[[Round], None] | None = None
    lock_path: Any = None
    available_bytes: int | None = None
    settle: Callable[[Sequence[Round], Sequence[str]], dict[str, str]] | None = None


def _plan(
    outcome: EngineOutcome,
    baseline: Variant,
    specs: list[VariantSpec],
    settings: EngineSettings,
    available_bytes: int | None,
) -> None:
    """The memory groups (each led by the baseline) into ``outcome.groups``."""
    import psutil

    avail = available_bytes if available_bytes is not None else psutil.virtual_memory().available
    sizes = [s.size_bytes for s in specs]
    planned = plan_groups([s.name for s in specs], sizes, avail, settings.max_variants_in_memory)
    outcome.groups = [[baseline.name, *g] for g in planned] if specs else [[baseline.name]]


def _bar(budget_s: float) -> Any:
    """A tqdm bar of the budget's seconds."""
    from tqdm.auto import tqdm

    return tqdm(
        total=round(budget_s, 1),
        desc="measuring (interleaved rounds)",
        unit="s",
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s {postfix}",
    )


def run_engine(
    baseline: Variant,
    specs: Sequence[VariantSpec],
    *,
    meters: Sequence[Any] = (),
    settings: EngineSettings | None = None,
    budget_s: float = 60.0,
    hooks: EngineHooks | None = None,
    **overrides: Any,
) -> EngineOutcome:
    """Set up every variant (in memory groups) and time them in interleaved, paired rounds.

    The budget counts from this call (set-up of variants included; time spent waiting for the
    machine lock excluded). A variant not set up before the budget ran out is ``skipped-budget``.
    Ctrl-C stops the rounds: the outcome keeps every finished round, status ``interrupted``, and
    variants not yet set up are ``interrupted``.

    Args:
        baseline: The set-up baseline (kept for the whole run).
        specs: The other variants, in run order.
        meters: Energy meters read per block.
        settings: Round settings (default :class:`EngineSettings`).
        budget_s: Wall-clock budget. Units: s.
        hooks: Sync, progress, label, callbacks, lock file, memory (:class:`EngineHooks`; default: its defaults).
        **overrides: Any :class:`EngineHooks` field by keyword (``lock_path=...``, ``progress=True``).

    Raises:
        ConstraintError: A keyword is not an :class:`EngineHooks` field.
    """
    h = merged(EngineHooks, hooks, overrides, "run_engine()")
    settings = settings or EngineSettings()
    specs = list(specs)
    resolution = max([getattr(m, "min_block_s", 0.0) for m in meters] or [0.0])
    outcome = EngineOutcome(block_s=max(settings.block_s, resolution))
    if settings.steady_allocator:
        outcome.allocator = steady_allocator()
    _plan(outcome, baseline, specs, settings, h.available_bytes)
    bar = _bar(budget_s) if h.progress else None
    ctx = _Ctx(
        meters,
        settings,
        h.sync,
        h.label or baseline.name,
        bar,
        h.on_round,
        h.lock_path,
        LoadSampler(),
        outcome,
        random.Random(settings.seed),  # noqa: S311 - a seeded round order, not cryptography
        time.perf_counter(),
        budget_s,
        h.settle,
    )
    try:
        _run_groups(ctx, baseline, specs, [g[1:] for g in outcome.groups])
    except KeyboardInterrupt:
        outcome.status = "interrupted"
        outcome.stopped_by.append("interrupted")
        for s in specs:
            outcome.setups.setdefault(s.name, ("interrupted", "interrupted (Ctrl-C) before it was measured", {}))
    finally:
        if bar is not None:
            bar.close()
    return outcome
