"""Sub-command ``train``: energy to a target accuracy for training techniques, over seeds.

Prints per technique e.g. ``energy to 95 % accuracy x0.62 (0.55-0.70), 3/3 seeds reached it`` or ``did not
reach 95 % accuracy in 2 of 3 seeds``; a target the baseline never reaches is said in one outcome line.
"""

from __future__ import annotations

import argparse
from typing import Any

from advisor.cli._app import command, out, output_path

__all__ = ["add_parsers", "train_text"]


def _ids(text: str | None) -> list[str] | None:
    from advisor._errors import ConstraintError

    if text is None:
        return None
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise ConstraintError(
            f"--techniques: expected technique ids (or a+b stacks) separated by commas, got {text!r}; "
            "e.g. --techniques bf16-training,data-pruning"
        )
    return ids


def _iv(iv: Any, spec: str = ".3g", unit: str = "") -> str:
    if iv is None:
        return "-"
    if iv.confidence == 0.0:
        return f"{iv.median:{spec}}{unit}"
    return f"{iv.median:{spec}}{unit} ({iv.low:{spec}}-{iv.high:{spec}})"


def _ratio(iv: Any) -> str:
    return "-" if iv is None else "x" + _iv(iv, ".2f")


def train_text(run: Any) -> str:
    """The run as lines: per variant its outcome line, steps and time to target, then the run's outcome."""
    from advisor.training import outcome_line, target_text

    what = target_text(run.target, run.metric)
    method = run.baseline.energy_method or "no energy method"
    lines = [
        f"training to {what}: {run.meta.get('model_name', 'model')}, seeds {run.meta.get('seeds')}, energy "
        f"{method}" + (" (an estimate, not a meter reading)" if method.startswith("estimated") else ""),
        f"{'variant':<34} energy to target (variant / baseline, 95 % interval over seeds)",
    ]
    for r in run.all_results():
        lines.append(f"{r.variant:<34} {outcome_line(r, run.target, run.metric, run.baseline)}")
        if r.status == "ok" and r.n_reached:
            rel = "" if r is run.baseline else f"; steps {_ratio(r.steps_ratio)}, time {_ratio(r.time_ratio)}"
            lines.append(
                f"{'':<34} steps {_iv(r.steps_to_target, '.0f')}, {_iv(r.time_s_to_target, '.3g', ' s')} to target"
                f"{rel}; final {run.metric} {_iv(r.final_metric, '.3g')}"
            )
        for note in r.notes:
            lines.append(f"{'':<34} note: {note}")
    lines.append(f"outcome: {run.outcome}")
    if run.status != "finished":
        lines.append(f"status: {run.status} (finished runs kept)")
    lines += _projection_lines(run)
    return "\n".join(lines)


def _projection_lines(run: Any) -> list[str]:
    if not run.projection:
        return [run.projection_note] if run.projection_note else []
    lines = ["projection to the full training:"]
    for p in run.projection:
        co2 = "; ".join(f"{k} {_iv(v, '.3g', ' gCO2e')}" for k, v in p.co2e_g.items())
        save = f", saves {_iv(p.saving_j, '.3g', ' J')}" if p.saving_j is not None else ""
        lines.append(
            f"  {p.variant:<32} {_iv(p.energy_j, '.3g', ' J')} = {_iv(p.energy_kwh, '.3g', ' kWh')}{save}"
            + (f"; {co2}" if co2 else "")
        )
    lines.append(f"  {run.projection_note}")
    return lines


def _settings(args: argparse.Namespace) -> Any:
    from advisor.training import ToTargetSettings

    regions = [r.strip() for r in (args.region or "").split(",") if r.strip()]
    return ToTargetSettings(
        eval_every=args.eval_every,
        max_steps=args.max_steps,
        full_epochs=args.epochs,
        full_dataset_size=args.dataset_size,
        regions=regions,
        pue=args.pue,
        tdp_w=args.tdp_w,
        threads=args.threads,
        progress=args.format == "table",
    )


@command("train")
def _train(args: argparse.Namespace) -> int:
    from advisor.training import DEFAULT_TECHNIQUES, check_ids, measure_to_target, training_setup_of

    ids = _ids(args.techniques) or list(DEFAULT_TECHNIQUES)
    check_ids(ids)  # an unknown id or a bad stack fails before the spec is built
    json_out = output_path(args.out, "--out")
    report_dir = output_path(args.report, "--report", folder=True)
    from advisor.profile.spec import load_spec

    spec = load_spec(args.model)
    training_setup_of(spec)  # a spec without a TrainingSetup is exit 2 here, with what a training spec returns
    run = measure_to_target(
        spec,
        args.target,
        ids,
        args.seeds,
        args.budget_s,
        store=False if args.no_store else args.store,
        settings=_settings(args),
    )
    if json_out:
        json_out.write_text(run.to_json(), encoding="utf-8")
    out(run.to_json() if args.format == "json" else train_text(run))
    if args.format != "json" and run.run_id:
        out(f"run {run.run_id} stored in {run.meta.get('store')}")
    if report_dir:
        from advisor.reports import training_report

        paths = training_report(run, report_dir)
        if args.format != "json":
            out("report: " + ", ".join(str(p) for p in paths))
    return 130 if run.status == "interrupted" else 0


def add_parsers(sub: object, add: object) -> None:
    """Add this group's sub-command parsers."""
    t = add("train", "measure energy to a target accuracy for training techniques, from scratch over seeds")  # type: ignore[operator]
    t.add_argument(
        "--model",
        required=True,
        metavar="SPEC",
        help="'module:factory' or 'file.py:factory' returning a ModelSpec with training=TrainingSetup(...) "
        "or a TrainingSetup; e.g. advisor.examples:digits_training",
    )
    t.add_argument("--target", type=float, metavar="X", help="the metric to reach, e.g. 0.95 (default: the spec's)")
    t.add_argument("--techniques", metavar="A,B", help="technique ids or a+b stacks (default: every technique)")
    t.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds per variant (default: 3)")
    t.add_argument("--budget-s", type=float, default=600.0, metavar="S", help="no new run starts after S seconds")
    t.add_argument("--eval-every", type=int, metavar="N", help="optimizer steps between evaluations")
    t.add_argument("--max-steps", type=int, metavar="N", help="step cap of one run (default: the full training)")
    t.add_argument("--epochs", type=int, metavar="N", help="epochs of your full training, for the projection")
    t.add_argument(
        "--dataset-size", type=int, metavar="N", help="samples of your full training set, for the projection"
    )
    t.add_argument("--region", metavar="R[,R]", help="region ids for the projection's CO2e (see green-advisor regions)")
    t.add_argument("--pue", type=float, default=1.0, help="power usage effectiveness for the CO2e (>= 1)")
    t.add_argument("--tdp-w", type=float, metavar="W", help="CPU TDP for the energy estimate when RAPL is unreadable")
    t.add_argument("--threads", type=int, metavar="N", help="torch threads during the runs (1 on a shared machine)")
    t.add_argument("--out", metavar="FILE", help="also write the results as JSON")
    t.add_argument(
        "--report", metavar="DIR", help="write training.html/.md/.json (metric-vs-energy curves, target line) to DIR"
    )
    t.add_argument("--store", metavar="PATH", help="SQLite results store (default ~/.local/share/green-advisor)")
    t.add_argument("--no-store", action="store_true", help="do not write the run to the results store")
    t.add_argument("--format", choices=["table", "json"], default="table")
