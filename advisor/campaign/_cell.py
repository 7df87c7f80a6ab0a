"""Run one campaign cell where the hardware is: load the model spec, measure (or tune), describe the node.

This is the code a worker executes, in a Ray task or a local subprocess; it returns plain JSON so
that the driver, possibly on another machine, can write it into its own store.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from advisor._errors import MeasurementError
from advisor.profile import hardware_facts, hardware_fingerprint

__all__ = ["node_hardware", "run_cell"]


def node_hardware(hw: Any) -> dict[str, Any]:
    """A node's record in a campaign: :func:`~advisor.profile.hardware_facts`, their fingerprint, and the extras.

    ``fingerprint`` is :func:`advisor.profile.hardware_fingerprint`, the same name the node's runs
    and knowledge entries carry. The extras (``memory_gib``, ``energy_counters``, ``hostname``,
    ``python``) describe the node in the report but do not identify it.
    """
    return {
        **hardware_facts(hw),
        "fingerprint": hardware_fingerprint(hw),
        "memory_gib": round(hw.memory_gib),
        "energy_counters": [n for n, s in (("rapl", hw.rapl), ("nvml", hw.nvml)) if s.readable],
        "hostname": socket.gethostname(),
        "python": platform.python_version(),
    }


def _techniques_for(task: dict[str, Any]) -> tuple[Any, int]:
    techniques = task["techniques"]
    if isinstance(techniques, dict):
        return "recommended", int(techniques["recommended"])
    return techniques, 5


def _measure(task: dict[str, Any], model: Any, inputs: Any, eval_fn: Any, store_path: str) -> dict[str, Any]:
    from advisor.tuning import measure, tune

    common = {"budget_s": task["budget_s"], "region": task["region"], "pue": task["pue"]}
    if task["techniques"] == "tune":
        plan = tune(
            model, inputs, eval_fn=eval_fn, store=store_path, progress=False, save=False, name=task["model"], **common
        )
        if plan.run is None:  # nothing measurable here: the plan says why; the cell records it as an error
            raise MeasurementError("tune measured nothing on this node: " + "; ".join(plan.notes or ["no candidates"]))
        return {"kind": "tune", "tune": plan.to_dict(), "run": plan.run.to_dict()}
    techniques, top = _techniques_for(task)
    run = measure(
        model,
        inputs,
        techniques,
        eval_fn=eval_fn,
        top=top,
        store=store_path,
        progress=False,
        name=task["model"],
        **common,
    )
    return {"kind": "measure", "run": run.to_dict()}


def _train(task: dict[str, Any], loaded: Any, store_path: str) -> dict[str, Any]:
    """A training cell: the spec's TrainingSetup trained to the target per technique (``measure_to_target``)."""
    import dataclasses

    from advisor.training import DEFAULT_TECHNIQUES, ToTargetSettings, measure_to_target

    train = task["techniques"]["train"]
    spec = loaded
    if task.get("batch_size") and loaded.training is not None:
        spec = dataclasses.replace(loaded, training=dataclasses.replace(loaded.training, batch_size=task["batch_size"]))
    settings = ToTargetSettings(regions=[task["region"]] if task["region"] else [], pue=task["pue"])
    run = measure_to_target(
        spec,
        train.get("target"),
        train.get("techniques") or list(DEFAULT_TECHNIQUES),
        train.get("seeds", 3),
        task["budget_s"],
        store=store_path,
        settings=settings,
    )
    return {"kind": "to-target", "run": run.to_dict()}


def _is_training_cell(task: dict[str, Any]) -> bool:
    return isinstance(task["techniques"], dict) and "train" in task["techniques"]


def run_cell(task: dict[str, Any]) -> dict[str, Any]:
    """Run one cell here and return its outcome as JSON-ready data.

    Returns:
        ``{"status": "ok", "run": ..., "hardware": ..., "wall_s": ...}``, or ``{"status": "error",
        "error": "<one line>", "traceback": "<summary>"}`` when the model spec or the measurement raised
        (a deterministic failure: not retried).
    """
    t0, started_at = time.monotonic(), time.time()
    try:
        from advisor.profile import detect_hardware
        from advisor.profile.spec import load_spec

        hardware = node_hardware(detect_hardware())
        loaded = load_spec(task["spec"])
        with tempfile.TemporaryDirectory(prefix="green-advisor-cell-") as tmp:
            store_path = str(Path(tmp) / "cell.sqlite")
            if _is_training_cell(task):
                outcome = _train(task, loaded, store_path)
            else:
                inputs = loaded.inputs
                if task.get("batch_size"):
                    from advisor.measurement.sweep import resize_batch

                    inputs = resize_batch(inputs, task["batch_size"])
                outcome = _measure(task, loaded.model, inputs, loaded.eval_fn, store_path)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500],
            "traceback": "".join(tb[-6:])[-3000:],
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    return {
        "status": "ok",
        **outcome,
        "hardware": hardware,
        "wall_s": time.monotonic() - t0,
        "pid": os.getpid(),
        "started_at": started_at,
        "finished_at": time.time(),
    }


def main() -> int:
    """``python -m advisor.campaign._cell TASK_JSON OUT_JSON``: run one cell in this process (the local runner)."""
    import json

    task = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    result = run_cell(task)
    Path(sys.argv[2]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
