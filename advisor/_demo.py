"""The main job on an embedded default: a small CNN trained on scikit-learn's digits, then advice.

Nothing is downloaded: the digits (1,797 8x8 images) ship inside scikit-learn. Training takes a
few seconds on a CPU, so the accuracy figures are real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from advisor.examples import digits_model

__all__ = ["digits_model", "run_demo"]


def run_demo(out_dir: Path, seconds: float = 30.0, region: str | None = None) -> int:
    """Train the digits CNN, profile it, recommend, measure, and write the report into ``out_dir``.

    Args:
        out_dir: Folder for report.html/.md/.json, references.bib, advice.json/.md and results.sqlite.
        seconds: Budget for the measurements. Units: s.
        region: Region for CO2e (default ``$GREEN_ADVISOR_REGION``; None leaves CO2e out and says so).
    """
    from advisor.profile.constraints import Constraints
    from advisor.profile.hardware import detect_hardware
    from advisor.profile.model import profile_model
    from advisor.recommendation import recommend

    t0 = time.perf_counter()
    model, inputs, eval_fn = digits_model()
    acc = eval_fn(model)
    train_s = time.perf_counter() - t0
    prof = profile_model(model, inputs, name="digits-cnn")
    hw = detect_hardware()
    constraints = Constraints(phase="inference", objective="energy", max_accuracy_drop_pp=1.0, retraining="none",
                              data="labelled", target="server", effort="medium")  # fmt: skip
    result = recommend(prof, hw, constraints)
    out_dir.mkdir(parents=True, exist_ok=True)
    from advisor.measurement.appliers import REGISTRY
    from advisor.measurement.run import measure

    ids = [r.id for r in result.recommended if r.id in REGISTRY][:4]
    if "post-training-dynamic-quantization" not in ids:
        ids.append("post-training-dynamic-quantization")  # the int8 path, measured on every machine
    print(f"measuring {', '.join(ids)} against the baseline (budget {seconds:g} s) ...")
    run = measure(model, inputs, ids, eval_fn=eval_fn, budget_s=seconds, store=out_dir / "results.sqlite",
                  region=region, name="digits-cnn")  # fmt: skip
    from advisor.reports import report

    paths = report(run, result, out=out_dir, title="green-dl-advisor demo: a CNN on scikit-learn's digits")
    payload = {
        "demo": {"model": "digits-cnn", "test_accuracy_pct": acc, "train_time_s": train_s},
        **result.to_dict(),
        "measurement": run.to_dict(),
    }
    (out_dir / "advice.json").write_text(json.dumps(payload, indent=2, default=list), encoding="utf-8")
    lines = [
        "# green-dl-advisor demo: a CNN on scikit-learn's digits",
        "",
        f"Trained in {train_s:.1f} s; test accuracy {acc:.1f} %.",
        "",
        *[f"- {line}" for line in prof.summary_lines()],
        *[f"- {line}" for line in hw.summary_lines()],
        "",
        "## Recommendations (inference, objective: energy, no retraining, max 1 pp accuracy drop)",
        "",
        result.table(10).to_markdown() if _has_tabulate() else result.table(10).to_string(),
        "",
        "## Why the top three",
        "",
    ]
    for r in result.recommended[:3]:
        lines += ["```", result.explain(r.id), "```", ""]
    lines += ["## Stacks", "", *[f"- {s}" for s in result.stacks()], ""]
    table = run.table()
    lines += [
        "## Measured on this machine",
        "",
        table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False),
        "",
        f"Energy method: {', '.join(run.meters)}.",
        "",
    ]
    (out_dir / "advice.md").write_text("\n".join(lines), encoding="utf-8")
    print(f"digits-cnn: test accuracy {acc:.1f} % after {train_s:.1f} s of training")
    print("\n".join(prof.summary_lines()))
    print(f"\nTop recommendations for less inference energy on this machine ({hw.cpu_model}):")
    for r in result.recommended[:5]:
        print(f"  {r.rank}. {r.id}: {r.expected_text()}")
        for w in r.warnings:
            print(f"       WARNING: {w.text}")
    print(f"\n{len(result.excluded_items)} techniques excluded with reasons (see advice.json).")
    print("\nMeasured here (speed-up and energy ratio against the baseline; energy method per figure):")
    for r in run.results:
        if r.status == "ok":
            acc_txt = (
                f", accuracy change {r.quality.accuracy_change:+.1f} pp"
                if r.quality and r.quality.accuracy_change is not None
                else ""
            )
            energy = f"energy x{r.energy_ratio:.2f} ({r.timing.energy_method})"
            speed = f"{r.speedup:.2f}x faster" if r.speedup >= 1 else f"{1 / r.speedup:.2f}x slower"
            print(f"  {r.technique}: {speed}, {energy}{acc_txt}")
        else:
            print(f"  {r.technique}: {r.status}: {r.reason}")
    if run.meta.get("load", {}).get("note"):
        print("WARNING: " + run.meta["load"]["note"])
    if run.carbon is None or run.carbon.region is None:
        print("CO2e: not computed; give a region, e.g. `green-advisor demo --region FRA` (see `green-advisor regions`)")
    print(f"\nreport: {paths['html'].resolve()}")
    print(f"also: {paths['md'].name}, {paths['json'].name}, {paths['bib'].name}, advice.json, results.sqlite")
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
