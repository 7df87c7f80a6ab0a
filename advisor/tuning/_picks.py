"""What every path of ``tune`` shares: the objective's verdict, the plan's leftovers, storing and saving the plan.

The forward-pass path (``_tune``), the generation path (``_generation``) and the to-target path (``_to_target``)
all import these from here, so none of them imports another (no import circle inside ``advisor.tuning``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor._errors import AdvisorError
from advisor.tuning._plan import Candidate, TunePlan

__all__ = ["better", "finish", "known_no_payoff", "more_effort", "save_winner", "verdict_reason"]


def better(c: Any, objective: str) -> tuple[bool, str | None]:
    """Whether a comparison is significantly better on the objective, and if not, why (one phrase).

    Args:
        c: A comparison with ``verdict``, ``energy_verdict`` and ``energy_ratio``.
        objective: ``latency`` or ``energy`` (energy falls back to time when no energy was measured).
    """
    if objective == "latency" or c.energy_ratio is None:
        v = c.verdict
        return v == "faster", None if v == "faster" else verdict_reason(v, "time")
    v = c.energy_verdict
    return v == "less energy", None if v == "less energy" else verdict_reason(v, "energy")


def verdict_reason(verdict: str | None, what: str) -> str:
    """A verdict that is not a saving as a reason (``slower here``, ``no significant difference in time``)."""
    return {
        "slower": "slower here",
        "more energy": "more energy here",
        "no significant difference": f"no significant difference in {what}",
        "inconclusive": "inconclusive within the budget: the interval is too wide (give more budget)",
    }.get(verdict or "", f"no {what} verdict")


def more_effort(rec: Any) -> list[dict[str, Any]]:
    """The plan's "more effort" rows: the recommendation's groups ``more-effort`` (5) and ``where-you-run`` (2)."""
    rows = rec.in_group("more-effort")[:5] + rec.in_group("where-you-run")[:2]
    out = []
    for r in rows:
        why = next((f.text for f in r.why if f.kind in ("measurement", "evidence")), "")
        out.append(
            {
                "id": r.id,
                "name": r.name,
                "expected": r.expected_text(),
                "group": r.group,
                "why": why[:160] + ("..." if len(why) > 160 else ""),
            }
        )
    return out


def known_no_payoff(rec: Any) -> list[dict[str, str]]:
    """Techniques the recommendation left out because earlier measurements here found them not paying off."""
    return [
        {"id": e.id, "reason": e.reasons[0].text}
        for e in rec.excluded_items
        if e.reasons and e.reasons[0].kind == "measurement"
    ]


def save_winner(
    winner: Candidate, model: Any, inputs: tuple[Any, ...], calibration_data: Any, out: Path
) -> dict[str, Any]:
    """Save the winner as a deployable artifact (the runtimes' ``save_variant``); an error is returned, not raised."""
    from advisor.measurement import appliers

    save_variant = getattr(appliers, "save_variant", None)
    if save_variant is None:
        return {"error": "this version cannot save variants; apply it with the code above"}
    try:
        art = save_variant(winner.variant, model, inputs, out, calibration_data=calibration_data)
    except AdvisorError as exc:
        return {"error": f"not saved: {exc}"}
    files = [str(f) for f in getattr(art, "files", [])]
    return {
        "path": str(getattr(art, "path", out)),
        "format": getattr(art, "format", None),
        "files": files,
        "snippet": str(getattr(art, "snippet", "")),
    }


def finish(  # noqa: PLR0917 - one call per tune path, in the order the plan is built
    plan: TunePlan,
    store: Any,
    prof: Any,
    model: Any,
    inputs: tuple[Any, ...],
    calibration_data: Any,
    save: bool,
    save_dir: str | Path | None,
) -> None:
    """Store the plan, then save the winner under the plan's id (``save``), and mark the plan's run finished."""
    plan.plan_id = store.start_run(
        prof.name,
        "",
        {"kind": "tune", "tune_phase": plan.phase, "model": prof.model_dump(), "measure_runs": plan.run_ids},
    )
    if save and plan.winner is not None:
        from advisor.measurement import held_out

        out = Path(save_dir) if save_dir else Path(store.path).parent / "artifacts" / plan.plan_id
        # calibrated as the measured variant was: the caller's data, else the example batch's first half when it
        # was split into calibration and held-out halves, else the example batch
        calibration = calibration_data if calibration_data is not None else held_out(inputs).calibration
        where = out / plan.winner.variant.replace("@", "_")
        plan.artifact = save_winner(plan.winner, model, inputs, calibration, where)
    store.add_result(plan.plan_id, "plan", "ok", plan.to_dict())
    store.finish_run(plan.plan_id, "finished")
