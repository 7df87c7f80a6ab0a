"""The main job on an embedded default: a small CNN trained on scikit-learn's digits, then ``tune``.

Nothing is downloaded: the digits (1,797 8x8 images) ship inside scikit-learn. Training takes a
few seconds on a CPU, so the accuracy figures are real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from advisor.examples import digits_model

__all__ = ["digits_model", "run_demo"]


def run_demo(out_dir: Path, seconds: float = 30.0, region: str | None = None) -> int:
    """Train the digits CNN, then tune it: recommend, measure here, re-rank, save the winner, write the report.

    Args:
        out_dir: Folder for report.html/.md/.json, references.bib, advice.json/.md, results.sqlite and tuned/.
        seconds: Budget for the measurements. Units: s.
        region: Region for CO2e (default ``$GREEN_ADVISOR_REGION``; None leaves CO2e out and says so).
    """
    from advisor.profile.constraints import Constraints
    from advisor.profile.hardware import detect_hardware
    from advisor.tuning import tune

    t0 = time.perf_counter()
    model, inputs, eval_fn = digits_model()
    acc = eval_fn(model)
    train_s = time.perf_counter() - t0
    hw = detect_hardware()
    constraints = Constraints(
        phase="inference",
        objective="energy",
        max_accuracy_drop_pp=1.0,
        retraining="none",
        data="calibration",
        target="server",
        effort="high",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"digits-cnn: test accuracy {acc:.1f} % after {train_s:.1f} s of training")
    print(f"tuning for less inference energy on this machine ({hw.cpu_model}), budget {seconds:g} s ...")
    plan = tune(
        model,
        inputs,
        eval_fn,
        None,
        constraints,
        seconds,
        store=out_dir / "results.sqlite",
        region=region,
        name="digits-cnn",
        hardware=hw,
        save_dir=out_dir / "tuned",
    )
    result = plan.recommendations
    paths = _write(out_dir, plan, result, acc, train_s, hw)
    print("\n" + plan.headline() + "\n")
    print("\n".join(plan.lines()[2:]))
    run = plan.run  # a busy machine is already among the plan's notes
    if run is None or run.carbon is None or run.carbon.region is None:
        print("CO2e: not computed; give a region, e.g. `green-advisor demo --region FRA` (see `green-advisor regions`)")
    if paths:
        print(f"\nreport: {paths['html'].resolve()}")
        print(f"also: {paths['md'].name}, {paths['json'].name}, {paths['bib'].name}, advice.json, results.sqlite")
    return 0


def _write(out_dir: Path, plan: Any, result: Any, acc: float, train_s: float, hw: Any) -> dict[str, Path]:  # noqa: PLR0917
    """The report (when something was measured), advice.json and advice.md."""
    paths: dict[str, Path] = {}
    if plan.run is not None:
        from advisor.reports import report

        paths = report(plan.run, result, out=out_dir, title="green-dl-advisor demo: a CNN on scikit-learn's digits")
    payload = {
        "demo": {"model": "digits-cnn", "test_accuracy_pct": acc, "train_time_s": train_s},
        "tune": plan.to_dict(),
        **result.to_dict(),
        "measurement": plan.run.to_dict() if plan.run is not None else None,
    }
    (out_dir / "advice.json").write_text(json.dumps(payload, indent=2, default=list), encoding="utf-8")
    lines = [
        "# green-dl-advisor demo: a CNN on scikit-learn's digits",
        "",
        f"Trained in {train_s:.1f} s; test accuracy {acc:.1f} %.",
        "",
        *[f"- {line}" for line in result.model.summary_lines()],
        *[f"- {line}" for line in hw.summary_lines()],
        "",
        plan.to_markdown(),
        "## Advice in groups (inference, objective: energy, no retraining, max 1 pp accuracy drop)",
        "",
    ]
    for g in result.groups():
        rows = g.rows()[:6]
        if rows:
            lines += [f"### {g.title}", ""]
            lines += [f"{'  ' * d}- #{r.rank} {r.id}: {r.expected_text()}" for d, r in rows]
            lines.append("")
    if plan.run is not None:
        table = plan.run.table()
        lines += [
            "## Measured on this machine",
            "",
            table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False),
            "",
            f"Energy method: {', '.join(plan.run.meter_descriptions)}.",
            "",
        ]
    (out_dir / "advice.md").write_text("\n".join(lines), encoding="utf-8")
    return paths


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
