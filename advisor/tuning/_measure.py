"""``advisor.measure``: the engine's :func:`~advisor.measurement.run.measure`, with ``"recommended"`` resolved here.

The measurement package measures the variants it is given and never asks ``recommend``; tuning is
the place that joins the two (docs/architecture.md). ``techniques="recommended"`` (the default of
``advisor.measure``, ``green-advisor measure --recommended N`` and campaign cells
``{recommended: N}``) is therefore turned into variant ids here: the top ``top`` recommendations that
have an applier, under :data:`RECOMMENDED_CONSTRAINTS`.
"""

from __future__ import annotations

from typing import Any

from advisor.profile.constraints import Constraints
from advisor.profile.spec import spec_from_call
from advisor.recommendation import recommend

__all__ = ["RECOMMENDED_CONSTRAINTS", "measure", "recommended_ids"]

# what "recommended" measures: inference energy, nothing that needs retraining, any effort, <= 2 pp accuracy
RECOMMENDED_CONSTRAINTS = Constraints(
    phase="inference", objective="energy", retraining="none", effort="high", max_accuracy_drop_pp=2.0
)


def recommended_ids(model: Any, example_inputs: Any = None, top: int = 5, *, name: str | None = None) -> list[str]:
    """The variant ids ``techniques="recommended"`` measures: the best ``top`` recommendations with an applier.

    Args:
        model: The model (or an :class:`advisor.ModelSpec`, then without ``example_inputs``).
        example_inputs: Its inputs, as for :func:`advisor.measure`.
        top: How many.
        name: The model's name for its profile.
    """
    from advisor.catalog import load_catalog
    from advisor.measurement.appliers import REGISTRY
    from advisor.profile import detect_hardware, profile_model

    spec = spec_from_call(model, example_inputs, "measure()")
    prof = profile_model(spec.model, spec.inputs, name=name or spec.name)
    rec = recommend(prof, detect_hardware(), RECOMMENDED_CONSTRAINTS, load_catalog())
    return [r.id for r in rec.recommended if r.id in REGISTRY][:top]


def measure(
    model: Any,
    example_inputs: Any = None,
    techniques: list[str] | str | None = "recommended",
    *,
    top: int = 5,
    **options: Any,
) -> Any:
    """Measure variants of ``model`` against its baseline here: :func:`advisor.measurement.run.measure`.

    Args:
        model: The user's ``torch.nn.Module``, or an :class:`advisor.ModelSpec` (then ``example_inputs`` is left out).
        example_inputs: A tensor or tuple of tensors for ``model(*inputs)``.
        techniques: Variant ids (``torch-compile``, ``torch-compile+bfloat16``, ``openvino-runtime@fp32``),
            or ``"recommended"`` (or None) for the top ``top`` measurable recommendations (:func:`recommended_ids`).
        top: How many recommendations ``"recommended"`` measures.
        **options: The keywords of :func:`advisor.measurement.run.measure`: ``eval_fn``, ``calibration_data``,
            ``name``, ``settings`` (a :class:`advisor.measurement.MeasureSettings`), and any of its fields
            (``budget_s``, ``store``, ``tdp_w``, ``progress``, ``on_result``, ``region``, ``pue``, ``what_if``,
            ``engine``).

    Returns:
        The :class:`advisor.measurement.MeasureRun`.

    Raises:
        ConstraintError: A non-positive budget or TDP, a bad region or PUE.
        UnknownTechniqueError: A technique id that is not in the catalog (with suggestions).
        VariantIdError: A malformed variant id.
    """
    from advisor.measurement.run import measure as measure_variants

    if techniques is None or techniques == "recommended":
        techniques = recommended_ids(model, example_inputs, top, name=options.get("name"))
    return measure_variants(model, example_inputs, techniques, **options)
