"""Benchmark: energy to a target accuracy for every training technique, on the digits CNN and the sequence task.

For each task (``advisor.examples:digits_training``, target 0.95; ``advisor.examples:sequence_training``,
target 0.90), ``advisor.measure_to_target`` trains the baseline, every technique and two stacks from scratch
over >= 5 seeds (interleaved, shuffled per seed) and reports per variant: the energy-to-target ratio (variant /
baseline, paired by seed, 95 % t interval on log ratios), the steps and time ratios, how many seeds reached the
target, and the benchmark's wall time.

Cross-check against the per-step engine: bf16's per-step energy ratio (``advisor.measure_training`` with
``mixed-precision-training``, which is bf16 autocast on CPU, on one batch of the same model) times bf16's
to-target steps ratio should lie inside bf16's measured to-target energy ratio interval.

Writes ``benchmarks/results/to_target.json`` (``--quick``: ``to_target_quick.json``).

    python benchmarks/bench_to_target.py [--quick] [--seeds N] [--threads N] [--shared]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench_common import add_common_args, machine_info, versions, write_result

TASKS = (("digits", "advisor.examples:digits_training", 0.95), ("sequence", "advisor.examples:sequence_training", 0.9))
STACKS = ("bf16-training+early-stopping", "large-batch-training+bf16-training")


def _iv(iv: Any) -> dict[str, Any] | None:
    """An interval as a dict; ``n`` is the seeds (to target) or the paired rounds (per step) it rests on."""
    return (
        None
        if iv is None
        else {"estimate": iv.median, "low": iv.low, "high": iv.high, "n": iv.n_rounds, "confidence": iv.confidence}
    )


def _row(r: Any, run: Any) -> dict[str, Any]:
    from advisor.training import outcome_line

    return {
        "variant": r.variant,
        "catalog_ids": r.catalog_ids,
        "status": r.status,
        "outcome": r.outcome,
        "line": outcome_line(r, run.target, run.metric, run.baseline),
        "seeds_reached": r.n_reached,
        "seeds_run": r.n_seeds,
        "energy_ratio": _iv(r.energy_ratio),
        "steps_ratio": _iv(r.steps_ratio),
        "time_ratio": _iv(r.time_ratio),
        "spent_ratio": _iv(r.spent_ratio),
        "verdict": r.verdict,
        "energy_j_to_target": _iv(r.energy_j_to_target),
        "steps_to_target": _iv(r.steps_to_target),
        "overhead_energy_j_mean": (sum(s.overhead_energy_j for s in r.seeds) / len(r.seeds)) if r.seeds else None,
        "energy_method": r.energy_method,
        "settings": r.settings,
        "notes": r.notes,
    }


def per_step_bf16(spec_name: str, budget_s: float) -> dict[str, Any]:
    """bf16's per-step energy and time ratios from the per-step engine, on one batch of the task's model."""
    import torch

    from advisor import load_spec, measure_training

    setup = load_spec(spec_name).training
    x, y = setup.train_data
    model = setup.build_model(seed=0)
    b = setup.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        run = measure_training(
            model,
            (x[:b],),
            y[:b],
            torch.nn.functional.cross_entropy,
            ["mixed-precision-training"],
            steps_per_epoch=len(x) // b,
            epochs=setup.full_epochs,
            optimizer_fn=lambda p: torch.optim.Adam(p, lr=setup.lr),
            budget_s=budget_s,
            store=str(Path(tmp) / "s.sqlite"),
            progress=False,
        )
    c = run.results[0].comparison
    return {
        "status": run.results[0].status,
        "settings": run.results[0].settings,
        "energy_ratio": _iv(c.energy_ratio) if c else None,
        "latency_ratio": _iv(c.latency_ratio) if c else None,
        "energy_method": c.energy_method if c else None,
        "rounds": len(run.rounds),
    }


def cross_check(task: dict[str, Any], per_step: dict[str, Any]) -> dict[str, Any]:
    """Per-step energy ratio x to-target steps ratio against the measured to-target energy ratio."""
    bf16 = next(r for r in task["variants"] if r["variant"] == "bf16-training")
    if not (per_step.get("energy_ratio") and bf16["steps_ratio"] and bf16["energy_ratio"]):
        return {"ok": None, "why": "a figure is missing", "per_step": per_step}
    predicted = per_step["energy_ratio"]["estimate"] * bf16["steps_ratio"]["estimate"]
    er = bf16["energy_ratio"]
    return {
        "per_step_energy_ratio": per_step["energy_ratio"],
        "per_step_latency_ratio": per_step["latency_ratio"],
        "per_step_rounds": per_step["rounds"],
        "to_target_steps_ratio": bf16["steps_ratio"],
        "predicted_to_target_energy_ratio": predicted,
        "measured_to_target_energy_ratio": er,
        "within_interval": er["low"] <= predicted <= er["high"],
    }


def run_task(name: str, spec: str, target: float, *, seeds: int, threads: int, budget_s: float) -> dict[str, Any]:
    """Every technique and the stacks to ``target`` on one task."""
    from advisor import measure_to_target
    from advisor.training import DEFAULT_TECHNIQUES, ToTargetSettings

    ids = [*DEFAULT_TECHNIQUES, *STACKS]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = measure_to_target(
            spec,
            target,
            ids,
            seeds,
            budget_s,
            store=str(Path(tmp) / "s.sqlite"),
            settings=ToTargetSettings(threads=threads, progress=True),
        )
    wall = time.perf_counter() - t0
    rows = [_row(r, run) for r in run.all_results()]
    return {
        "task": name,
        "spec": spec,
        "target": target,
        "metric": run.metric,
        "status": run.status,
        "outcome": run.outcome,
        "wall_s": wall,
        "seeds": run.meta["seeds"],
        "caps": run.meta["caps"],
        "teacher": run.teacher,
        "energy_method": run.baseline.energy_method,
        "meters": run.meters,
        "projection_note": run.projection_note,
        "variants": rows,
    }


def main() -> None:
    """Run the benchmark and write its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--seeds", type=int, default=5, help="seeds per variant (>= 5 for the reference figures)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: the cores are shared)")
    ap.add_argument("--budget-s", type=float, default=1200.0, help="per task: no new run starts after this")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)  # the per-step cross-check runs with the same threads
    seeds = 2 if args.quick else args.seeds
    machine = machine_info(args.shared)  # at the start: the load average before the runs
    t0 = time.perf_counter()
    tasks = [run_task(n, s, t, seeds=seeds, threads=args.threads, budget_s=args.budget_s) for n, s, t in TASKS]
    checks = {t["task"]: cross_check(t, per_step_bf16(t["spec"], 15.0 if args.quick else 60.0)) for t in tasks}
    result = {
        "benchmark": "to_target",
        "machine": machine,
        "versions": versions("torch", "scipy"),
        "threads": args.threads,
        "seeds": seeds,
        "tasks": tasks,
        "bf16_cross_check": checks,
        "wall_s": time.perf_counter() - t0,
    }
    write_result(args.out, "to_target_quick" if args.quick else "to_target", result)


if __name__ == "__main__":
    main()
