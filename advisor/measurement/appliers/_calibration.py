"""Calibration batches for the static quantizers: the caller's data, or the example batch (optimistic)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from advisor.measurement.appliers.base import NotApplicable

__all__ = ["EXAMPLE_NOTE", "MAX_BATCHES", "NotedBatches", "calibration_batches"]

MAX_BATCHES = 64
EXAMPLE_NOTE = (
    "calibration: example batch (optimistic): the model was calibrated on the batch it is measured on; "
    "pass calibration_data= (held-out input batches) for an honest fidelity figure"
)


class NotedBatches(list):
    """Calibration batches that carry their own note (e.g. the first half of the example batch, the rest held out).

    Attributes:
        note: What the result's ``calibration`` setting says about them.
    """

    def __init__(self, batches: Iterable[Any], note: str) -> None:
        super().__init__(batches)
        self.note = note


def calibration_batches(
    calibration_data: Iterable[Any] | None, inputs: tuple[Any, ...], *, max_batches: int = MAX_BATCHES
) -> tuple[list[tuple[Any, ...]], str]:
    """The batches to calibrate on (each a tuple of positional inputs) and what the result says about them.

    Args:
        calibration_data: The caller's batches (a tensor or a tuple of tensors each), or None.
        inputs: The example inputs, used when there is no calibration data.
        max_batches: Use at most this many batches.

    Raises:
        NotApplicable: ``calibration_data`` was given but is empty.
    """
    if calibration_data is None:
        return [tuple(inputs)], EXAMPLE_NOTE
    batches: list[tuple[Any, ...]] = []
    for b in calibration_data:
        batches.append(tuple(b) if isinstance(b, (tuple, list)) else (b,))
        if len(batches) >= max_batches:
            break
    if not batches:
        raise NotApplicable("calibration_data is empty: give at least one batch of inputs (a tensor or a tuple)")
    if len(batches[0]) != len(inputs):
        raise NotApplicable(
            f"calibration batches have {len(batches[0])} input(s), the example inputs {len(inputs)}: "
            "each batch must be a tuple of the same positional inputs as example_inputs"
        )
    note = getattr(calibration_data, "note", None)
    return batches, note or f"calibration: caller's calibration_data ({len(batches)} batch(es))"
