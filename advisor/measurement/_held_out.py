"""Held-out inputs for the quality check: inputs no variant was calibrated on, of the example inputs' shapes.

Static quantizers calibrate on the example inputs when the caller gives no ``calibration_data``; a
fidelity figure measured on that same batch flatters them. So the outputs are compared on:

- the example batch itself when the caller gave ``calibration_data`` (the quantizers never saw it);
- else, when every tensor input has the same batch size of at least :data:`SPLIT_FROM`, its second
  half: the quantizers calibrate on a batch made of the first half's rows (repeated to the full
  batch size, so shapes never change) and only the second half's rows are scored;
- else a few more batches of the same shapes and dtypes, generated with a seeded generator: integer
  token ids uniform in the examples' range (0/1 masks and constant tensors copied), floating-point
  values from a normal with the examples' mean and standard deviation (per channel for images).

Every variant runs the same inputs; :class:`HeldOut` says in words which were used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["SPLIT_FROM", "HeldOut", "held_out", "like"]

SPLIT_FROM = 32  # smallest batch that is split into calibration and held-out halves
TARGET_INPUTS = 64  # generated inputs aimed at (whole batches of the example's size) ...
MAX_BATCHES = 8  # ... in at most this many batches


@dataclass
class HeldOut:
    """The inputs quality is measured on.

    Attributes:
        batches: Input batches (tuples of positional inputs, the example inputs' shapes).
        rows: The rows of each batch that are scored (a slice), or None for all rows.
        calibration: Batches the static quantizers calibrate on instead of the example batch (the split), or None.
        text: What they are, e.g. ``64 held-out inputs, generated like the examples (seed 0)``.
        n: How many inputs are scored.
        how: ``calibration-data``, ``split`` or ``generated``.
    """

    batches: list[tuple[Any, ...]]
    rows: slice | None
    calibration: list[tuple[Any, ...]] | None
    text: str
    n: int
    how: str = "generated"


def _batch_size(inputs: tuple[Any, ...]) -> int | None:
    import torch

    sizes = {int(x.shape[0]) for x in inputs if isinstance(x, torch.Tensor) and x.dim() > 0}
    return sizes.pop() if len(sizes) == 1 else None


def _generate(x: Any, g: Any) -> Any:
    """One tensor like ``x``: same shape, dtype and device, values drawn like ``x``'s (see the module docstring)."""
    import torch

    if not isinstance(x, torch.Tensor) or x.numel() == 0:
        return x
    if x.dtype == torch.bool:
        p = float(x.float().mean())
        return (torch.rand(x.shape, generator=g) < p).to(x.device) if 0 < p < 1 else x.clone()
    if not x.is_floating_point():
        lo, hi = int(x.min()), int(x.max())
        if lo == hi or set(torch.unique(x).tolist()) <= {0, 1}:
            return x.clone()  # attention masks, token-type ids, constants: kept as given
        return torch.randint(lo, hi + 1, x.shape, generator=g, dtype=x.dtype).to(x.device)
    xf = x.detach().float().cpu()
    if x.dim() >= 3:  # images and sequences of features: per-channel statistics (dim 1)
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1] * x.dim()
        shape[1] = x.shape[1]
        mean, std = xf.mean(dim=dims).reshape(shape), xf.std(dim=dims).reshape(shape)
    else:
        mean, std = xf.mean(), xf.std() if xf.numel() > 1 else torch.tensor(0.0)
    std = torch.nan_to_num(std)
    out = mean + std * torch.randn(x.shape, generator=g)
    return out.to(dtype=x.dtype, device=x.device)


def _split_calibration(inputs: tuple[Any, ...], half: int) -> tuple[Any, ...]:
    """The example batch with its rows ``half:`` replaced by rows ``0:`` (cycled): only first-half rows."""
    import torch

    def one(x: Any) -> Any:
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            return x
        idx = torch.arange(x.shape[0]) % half
        return x[idx.to(x.device)]

    return tuple(one(x) for x in inputs)


def held_out(inputs: tuple[Any, ...], calibration_data: Any = None, *, seed: int = 0) -> HeldOut:
    """The inputs to compare each variant with the original on (see the module docstring).

    Args:
        inputs: The example inputs (a tuple of positional inputs).
        calibration_data: The caller's calibration batches, if any (then the example batch is held out).
        seed: Seed of the generator for generated inputs.
    """
    import torch

    n = _batch_size(inputs)
    if calibration_data is not None:
        rows = n or 1
        return HeldOut(
            [inputs],
            None,
            None,
            f"{rows} held-out inputs: the example batch (calibration used your calibration_data)",
            rows,
            "calibration-data",
        )
    if n is not None and n >= SPLIT_FROM:
        half = n // 2
        return HeldOut(
            [inputs],
            slice(half, n),
            [_split_calibration(inputs, half)],
            f"{n - half} held-out inputs: the second half of the example batch (static quantizers "
            "calibrated on the first half)",
            n - half,
            "split",
        )
    per = n or 1
    k = max(1, min(MAX_BATCHES, math.ceil(TARGET_INPUTS / per)))
    g = torch.Generator().manual_seed(seed)
    batches = [tuple(_generate(x, g) for x in inputs) for _ in range(k)]
    return HeldOut(
        batches,
        None,
        None,
        f"{k * per} held-out inputs, generated like the examples (seed {seed})",
        k * per,
        "generated",
    )


def like(new: tuple[Any, ...], given: tuple[Any, ...], applied: tuple[Any, ...]) -> tuple[Any, ...]:
    """``new`` inputs converted the way a variant converted ``given`` into ``applied`` (dtype, device, layout)."""
    import torch

    out = []
    for x, g, a in zip(new, given, applied, strict=False):
        if not isinstance(x, torch.Tensor) or not isinstance(a, torch.Tensor) or a is g:
            out.append(x)
            continue
        y = x.to(device=a.device, dtype=a.dtype)
        if a.dim() == 4 and a.is_contiguous(memory_format=torch.channels_last) and not a.is_contiguous():
            y = y.contiguous(memory_format=torch.channels_last)
        out.append(y)
    return tuple(out)
