"""The user's goal and limits: what to optimise and what they are willing to give up."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from advisor._errors import ConstraintError
from advisor._pydantic import first_error

__all__ = ["DATA_ORDER", "EFFORT_ORDER", "OBJECTIVES", "RETRAINING_ORDER", "Constraints"]

OBJECTIVES = ("energy", "latency", "memory", "model-size", "carbon")
RETRAINING_ORDER = ("none", "fine-tuning", "full")
EFFORT_ORDER = ("low", "medium", "high")
# what each kind of available data can serve: labelled data can also calibrate, and so on
DATA_ORDER = {"none": 0, "calibration": 1, "unlabelled": 2, "labelled": 3}


class Constraints(BaseModel):
    """What the user wants and allows.

    Attributes:
        phase: ``training``, ``inference`` or ``both``.
        objective: ``energy``, ``latency``, ``memory``, ``model-size`` or ``carbon``.
        max_accuracy_drop_pp: Largest accuracy loss accepted, in percentage points (>= 0); a gate in ``tune``
            when an ``eval_fn`` measures accuracy.
        min_fidelity: The fidelity floor (0-1) for a variant's outputs against the original's on held-out
            inputs when no accuracy is measured: top-1 agreement (classifiers), token agreement (decoders),
            cosine similarity (embeddings, hidden states) or 1 - relative error (regression); a gate in ``tune``
            (see ``advisor.measurement.quality.judge_quality``).
        retraining: How much (re)training is allowed: ``none``, ``fine-tuning`` or ``full``.
        data: Data at hand: ``none``, ``calibration``, ``unlabelled`` or ``labelled``.
        target: Where the model runs: ``server``, ``desktop``, ``edge`` or ``mobile``.
        effort: Engineering effort budget: ``low``, ``medium`` or ``high``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    phase: Literal["training", "inference", "both"] = "inference"
    objective: Literal["energy", "latency", "memory", "model-size", "carbon"] = "energy"
    max_accuracy_drop_pp: float = Field(1.0, ge=0, le=100)
    min_fidelity: float = Field(0.99, ge=0, le=1)
    retraining: Literal["none", "fine-tuning", "full"] = "fine-tuning"
    data: Literal["none", "calibration", "unlabelled", "labelled"] = "labelled"
    target: Literal["server", "desktop", "edge", "mobile"] = "server"
    effort: Literal["low", "medium", "high"] = "medium"

    @classmethod
    def make(cls, **values: Any) -> Constraints:
        """Build constraints, turning validation errors into one clear :class:`ConstraintError`.

        ``None`` values are ignored (the default applies), so CLI options can be passed as-is.
        """
        values = {k.replace("-", "_"): v for k, v in values.items() if v is not None}
        try:
            return cls(**values)
        except ValidationError as exc:
            e = first_error(exc)
            raise ConstraintError(
                f"constraint {e.field!r}: expected {e.expected}, got {e.got}. "
                "See `green-advisor recommend --help` for the allowed values."
            ) from None

    @property
    def phases(self) -> set[str]:
        """The phases as a set of ``training`` / ``inference``."""
        return {"training", "inference"} if self.phase == "both" else {self.phase}
