"""Batch-size sweep: latency, throughput, energy per item and memory of one model at several batch sizes.

Not a model transform but a deployment choice: larger batches usually cost less energy per item
and more latency per call. Inputs of each size are built from the example batch, repeated or
sliced along dimension 0, so no data is needed beyond the example.

::

    from advisor.measurement import batch_sweep
    rows = batch_sweep(model, x, sizes=(1, 8, 32, 128), budget_s=30)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from advisor._errors import ConstraintError, ProfileError
from advisor.measurement.energy import EnergyMeter, get_meters
from advisor.measurement.harness import benchmark, idle_power_w

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
        peak_memory_mb: Peak memory (see ``memory_method``). Units: MiB.
        memory_method: ``cuda-max-allocated`` (this size alone) or ``process-peak-rss`` (high-water
            mark of the whole process so far; sizes run in ascending order, so it grows with them).
        activation_mb: Bytes of all leaf-module outputs of one forward pass: an upper bound of the
            activation memory, which grows with the batch. Units: MiB.
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
    peak_memory_mb: float | None = None
    memory_method: str | None = None
    activation_mb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with unit-suffixed field names."""
        return asdict(self)


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


def _activation_mb(model: Any, inputs: tuple[Any, ...]) -> float:
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


def batch_sweep(
    model: Any,
    example_inputs: Any,
    sizes: Sequence[int] = (1, 8, 32, 128),
    *,
    budget_s: float = 30.0,
    meters: list[EnergyMeter] | None = None,
    tdp_w: float | None = None,
) -> list[SweepRow]:
    """Time the model at each batch size (ascending) within a total budget.

    The sweep stops at the first out-of-memory error or when the budget runs out; what was measured
    is kept, and the sizes not measured are returned with their status.

    Args:
        model: A ``torch.nn.Module`` (run in eval mode under ``torch.no_grad``; its mode is restored).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``; dim 0 is the batch.
        sizes: Batch sizes to try (positive integers).
        budget_s: Wall-clock budget for the whole sweep, shared between the sizes. Units: s.
        meters: Energy meters; by default those :func:`advisor.measurement.energy.get_meters` finds.
        tdp_w: CPU TDP for the energy estimate when no counter is readable. Units: W.

    Returns:
        One :class:`SweepRow` per size, in ascending order of size.

    Raises:
        ConstraintError: A size is not a positive integer, or the budget is not positive.
        ProfileError: No input tensor has a batch dimension.
    """
    import torch

    if budget_s <= 0:
        raise ConstraintError(f"budget_s: expected a positive number of seconds, got {budget_s!r}")
    bad = [s for s in sizes if not isinstance(s, int) or isinstance(s, bool) or s < 1]
    if bad or not sizes:
        raise ConstraintError(f"sizes: expected positive integers such as (1, 8, 32), got {tuple(sizes)!r}")
    order = sorted(set(sizes))
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    resize_batch(inputs, 1)  # fail early on inputs without a batch dimension
    own_meters = meters is None
    if meters is None:
        meters, _ = get_meters(tdp_w)
    cuda = any(isinstance(x, torch.Tensor) and x.is_cuda for x in inputs)
    sync = torch.cuda.synchronize if cuda else None
    was_training = model.training
    t_start = time.perf_counter()
    rows: list[SweepRow] = []
    try:
        model.eval()
        idle = idle_power_w(meters, seconds=min(1.0, budget_s * 0.05))
        for i, size in enumerate(order):
            left = budget_s - (time.perf_counter() - t_start)
            if left <= 0:
                rows += [SweepRow(s, "skipped-budget", f"the {budget_s:g} s budget ran out") for s in order[i:]]
                break
            per_size = left / (len(order) - i)
            try:
                xs = resize_batch(inputs, size)
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                act_mb = _activation_mb(model, xs)

                def call(xs: tuple[Any, ...] = xs) -> Any:
                    with torch.no_grad():
                        return model(*xs)

                t = benchmark(call, meters=meters, items_per_call=size, budget_s=per_size,
                              min_time_s=min(1.0, per_size / 2), warmup=2, idle_w=idle, sync=sync)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - a size that breaks is recorded; OOM ends the sweep
                if _is_oom(exc):
                    rows.append(SweepRow(size, "out-of-memory", f"{type(exc).__name__}: {str(exc)[:200]}"))
                    why = f"not tried after out-of-memory at batch {size}"
                    rows += [SweepRow(s, "skipped-budget", why) for s in order[i + 1 :]]
                    break
                rows.append(SweepRow(size, "failed", f"{type(exc).__name__}: {str(exc)[:300]}"))
                continue
            if cuda:
                peak, mem_method = torch.cuda.max_memory_allocated() / 2**20, "cuda-max-allocated"
            else:
                peak, mem_method = t.peak_rss_mb, "process-peak-rss"
            e, e_iqr = t.energy_j_per_call, t.energy_j_per_call_iqr
            rows.append(
                SweepRow(
                    batch_size=size,
                    status="ok",
                    repeats=t.repeats,
                    latency_ms_median=t.latency_ms_median,
                    latency_ms_iqr=t.latency_ms_iqr,
                    latency_ms_per_item=t.latency_ms_median / size,
                    throughput_per_s=t.throughput_per_s,
                    energy_j_per_item=e / size if e is not None else None,
                    energy_j_per_item_iqr=e_iqr / size if e_iqr is not None else None,
                    energy_method=t.energy_method,
                    peak_memory_mb=peak,
                    memory_method=mem_method,
                    activation_mb=act_mb,
                )
            )
    finally:
        model.train(was_training)
        if own_meters:
            for m in meters:
                m.close()
    return rows
