"""Batch-size sweep: latency, throughput, energy per item and memory of one model at several batch sizes.

Not a model transform but a deployment choice: larger batches usually cost less energy per item
and more latency per call. Inputs of each size are built from the example batch, repeated or
sliced along dimension 0, so no data is needed beyond the example. The sizes are timed by the same
engine as :func:`advisor.measure`: interleaved, paired rounds, the smallest size as the baseline,
so each larger size gets a per-item time and energy ratio with a 95 % interval and a verdict.

::

    from advisor.measurement import batch_sweep
    rows = batch_sweep(model, x, sizes=(1, 8, 32, 128), budget_s=30)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from advisor._errors import ConstraintError, NotApplicable, ProfileError
from advisor.measurement._common import peak_rss_mib
from advisor.measurement._results import Comparison
from advisor.measurement.energy import EnergyMeter, get_meters
from advisor.measurement.engine import (
    EngineSettings,
    Variant,
    VariantSpec,
    derive,
    device_sync,
    run_engine,
    summarize_timing,
)
from advisor.measurement.harness import idle_power_w

__all__ = ["SweepRow", "batch_sweep", "resize_batch"]


@dataclass(frozen=True)
class SweepRow:
    """One batch size's figures.

    Attributes:
        batch_size: Items per call.
        status: ``ok``, ``out-of-memory``, ``failed`` or ``skipped-budget``.
        reason: Why it is not ``ok``.
        repeats: Timed calls.
        latency_ms_median: Median wall time per call. Units: ms.
        latency_ms_iqr: Inter-quartile range of the per-call times. Units: ms.
        latency_ms_per_item: Median latency / batch size. Units: ms.
        throughput_per_s: Items per second at the median latency.
        energy_j_per_item: Energy per item (None without a meter). Units: J.
        energy_j_per_item_iqr: Spread of the energy per item across energy chunks, if there were several. Units: J.
        energy_method: How the energy was obtained (``measured-rapl``, ``estimated-...``).
        peak_memory_mib: Peak memory (see ``memory_method``). Units: MiB.
        memory_method: ``cuda-max-allocated`` (this size alone) or ``process-peak-rss`` (high-water
            mark of the whole process so far; sizes run in ascending order, so it grows with them).
        activation_mib: Bytes of all leaf-module outputs of one forward pass: an upper bound of the
            activation memory, which grows with the batch. Units: MiB.
        comparison: Time and energy *per item* against the smallest size of the same rounds (ratios
            < 1: cheaper per item), with intervals and verdicts (None for the smallest size).
    """

    batch_size: int
    status: str
    reason: str | None = None
    repeats: int | None = None
    latency_ms_median: float | None = None
    latency_ms_iqr: float | None = None
    latency_ms_per_item: float | None = None
    throughput_per_s: float | None = None
    energy_j_per_item: float | None = None
    energy_j_per_item_iqr: float | None = None
    energy_method: str | None = None
    peak_memory_mib: float | None = None
    memory_method: str | None = None
    activation_mib: float | None = None
    comparison: Comparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        d = asdict(self)
        d["comparison"] = self.comparison.to_dict() if self.comparison else None
        return d


def resize_batch(inputs: tuple[Any, ...], size: int) -> tuple[Any, ...]:
    """Repeat or slice every batched tensor along dim 0 to ``size`` items; other inputs pass unchanged.

    A tensor is batched when its first dimension equals that of the first tensor with one.

    Raises:
        ProfileError: No input tensor has a batch dimension.
    """
    import torch

    batched = [x for x in inputs if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] >= 1]
    if not batched:
        raise ProfileError(
            "example_inputs: expected at least one tensor with a batch dimension (dim 0) to resize, "
            f"got {[type(x).__name__ for x in inputs]}; pass a batch such as torch.randn(8, ...)"
        )
    n = batched[0].shape[0]

    def resize(x: Any) -> Any:
        if not (isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] == n):
            return x
        reps = math.ceil(size / n)
        return (x.repeat(reps, *[1] * (x.dim() - 1)) if reps > 1 else x)[:size].contiguous()

    return tuple(resize(x) for x in inputs)


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return isinstance(exc, torch.cuda.OutOfMemoryError | RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text
    )


def _activation_mib(model: Any, inputs: tuple[Any, ...]) -> float:
    import torch

    total = 0

    def hook(_m: Any, _i: Any, out: Any) -> None:
        nonlocal total
        outs = out if isinstance(out, (tuple, list)) else (out,)
        total += sum(o.numel() * o.element_size() for o in outs if isinstance(o, torch.Tensor))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total / 2**20


def _size_variant(model: Any, inputs: tuple[Any, ...], size: int, cuda: bool, state: dict[str, Any]) -> Variant:
    """Set up one batch size: build its inputs, count activations, record peak memory; OOM ends the sweep."""
    import torch

    if state.get("oom") is not None:
        raise NotApplicable(f"not tried after out-of-memory at batch {state['oom']}")
    try:
        xs = resize_batch(inputs, size)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        act_mib = _activation_mib(model, xs)
    except Exception as exc:
        if _is_oom(exc):
            state["oom"] = size
            return Variant(
                f"batch-{size}", lambda: None, size, failed=f"out-of-memory: {type(exc).__name__}: {str(exc)[:200]}"
            )
        raise

    def call(xs: tuple[Any, ...] = xs) -> Any:
        with torch.no_grad():
            return model(*xs)

    if cuda:
        peak, mem_method = torch.cuda.max_memory_allocated() / 2**20, "cuda-max-allocated"
    else:
        peak, mem_method = peak_rss_mib(), "process-peak-rss"
    return Variant(
        f"batch-{size}",
        call,
        size,
        info={"activation_mib": act_mib, "peak_memory_mib": peak, "memory_method": mem_method},
    )


def _row(
    size: int, status: str, reason: str | None, *, info: dict[str, Any], timing: Any, comparison: Comparison | None
) -> SweepRow:
    if status.startswith("failed") and reason and reason.startswith("out-of-memory: "):
        status, reason = "out-of-memory", reason.removeprefix("out-of-memory: ")
    if status == "not-applicable" and reason and reason.startswith("not tried after out-of-memory"):
        status = "skipped-budget"
    if timing is None:
        return SweepRow(size, status if status != "ok" else "interrupted", reason)
    e, e_iqr = timing.energy_j_per_call, timing.energy_j_per_call_iqr
    return SweepRow(
        batch_size=size,
        status=status,
        reason=reason,
        repeats=timing.repeats,
        latency_ms_median=timing.latency_ms_median,
        latency_ms_iqr=timing.latency_ms_iqr,
        latency_ms_per_item=timing.latency_ms_median / size,
        throughput_per_s=timing.throughput_per_s,
        energy_j_per_item=e / size if e is not None else None,
        energy_j_per_item_iqr=e_iqr / size if e_iqr is not None else None,
        energy_method=timing.energy_method,
        peak_memory_mib=info.get("peak_memory_mib"),
        memory_method=info.get("memory_method"),
        activation_mib=info.get("activation_mib"),
        comparison=comparison,
    )


def batch_sweep(
    model: Any,
    example_inputs: Any,
    sizes: Sequence[int] = (1, 8, 32, 128),
    *,
    budget_s: float = 30.0,
    meters: list[EnergyMeter] | None = None,
    tdp_w: float | None = None,
    progress: bool = False,
    settings: EngineSettings | None = None,
) -> list[SweepRow]:
    """Time the model at each batch size in interleaved, paired rounds within a total budget.

    The smallest size is the baseline: every other size gets a per-item time and energy ratio
    against it with a 95 % interval. A size that runs out of memory is ``out-of-memory`` and the
    larger ones are not tried; a size not set up before the budget ran out is ``skipped-budget``.

    Args:
        model: A ``torch.nn.Module`` (run in eval mode under ``torch.no_grad``; its mode is restored).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``; dim 0 is the batch.
        sizes: Batch sizes to try (positive integers).
        budget_s: Wall-clock budget for the whole sweep. Units: s.
        meters: Energy meters; by default those :func:`advisor.measurement.energy.get_meters` finds.
        tdp_w: CPU TDP for the energy estimate when no counter is readable. Units: W.
        progress: Show a tqdm progress bar.
        settings: The rounds' settings (default :class:`~advisor.measurement.EngineSettings`).

    Returns:
        One :class:`SweepRow` per size, in ascending order of size.

    Raises:
        ConstraintError: A size is not a positive integer, or the budget or TDP is not positive.
        ProfileError: No input tensor has a batch dimension.
    """
    if isinstance(budget_s, bool) or not isinstance(budget_s, int | float) or budget_s <= 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}")
    if tdp_w is not None and not tdp_w > 0:
        raise ConstraintError(f"tdp_w: expected the CPU's TDP in watts (> 0), got {tdp_w!r}")
    bad = [s for s in sizes if not isinstance(s, int) or isinstance(s, bool) or s < 1]
    if bad or not sizes:
        raise ConstraintError(f"sizes: expected positive integers such as (1, 8, 32), got {tuple(sizes)!r}")
    order = sorted(set(sizes))
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    resize_batch(inputs, 1)  # fail early on inputs without a batch dimension
    own_meters = meters is None
    if meters is None:
        meters, _ = get_meters(tdp_w)
    sync = device_sync(model, inputs)
    cuda = sync is not None
    was_training = model.training
    state: dict[str, Any] = {}
    try:
        model.eval()
        idle = idle_power_w(meters, seconds=min(1.0, budget_s * 0.05))
        try:
            base = _size_variant(model, inputs, order[0], cuda, state)
        except Exception as exc:  # noqa: BLE001 - the smallest size itself breaks: nothing to compare
            return [SweepRow(order[0], "failed", f"{type(exc).__name__}: {str(exc)[:300]}")] + [
                SweepRow(s, "skipped-budget", f"not tried: batch {order[0]} failed") for s in order[1:]
            ]
        if base.failed:
            why = f"not tried after out-of-memory at batch {order[0]}"
            return [SweepRow(order[0], "out-of-memory", base.failed.removeprefix("out-of-memory: "))] + [
                SweepRow(s, "skipped-budget", why) for s in order[1:]
            ]
        specs = [VariantSpec(f"batch-{s}", lambda s=s: _size_variant(model, inputs, s, cuda, state)) for s in order[1:]]
        outcome = run_engine(
            base,
            specs,
            meters=meters,
            settings=settings,
            budget_s=budget_s,
            sync=sync,
            progress=progress,
            label=f"sweep {type(model).__name__}",
        )
    finally:
        model.train(was_training)
        if own_meters:
            for m in meters:
                m.close()
    method = "+".join(sorted({m.method for m in meters})) or None
    names = [f"batch-{s}" for s in order[1:] if outcome.setups.get(f"batch-{s}", ("",))[0] == "ok"]
    comps = derive(outcome.rounds, base.name, names, idle_w=idle, energy_method=method)
    stopped = outcome.stopped_by[-1] if outcome.stopped_by else "budget"
    outcome.setups[base.name] = ("ok", None, base.info)
    rows = []
    for s in order:
        name = f"batch-{s}"
        status, reason, info = outcome.setups.get(name, ("interrupted", "interrupted before it was measured", {}))
        timing = (
            summarize_timing(
                outcome.rounds, name, idle_w=idle, energy_method=method, stopped_by=stopped, peak_rss_mib=peak_rss_mib()
            )
            if status == "ok"
            else None
        )
        rows.append(_row(s, status, reason, info=info, timing=timing, comparison=comps.get(name)))
    return rows
