"""The campaign driver: hand cells to a runner, retry lost workers, write every result as it arrives."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advisor._errors import CampaignError
from advisor.campaign._ledger import DONE, Ledger
from advisor.campaign._plan import Cell, Plan, load_plan
from advisor.campaign._runners import LocalRunner, RayRunner, WorkerLost

__all__ = ["CampaignResult", "resume_campaign", "run_campaign"]


@dataclass
class CampaignResult:
    """What a campaign run left in the store.

    Attributes:
        campaign_id: The campaign's id in the ledger.
        status: ``finished`` or ``interrupted``.
        cells: One record per cell (status ``ok``, ``failed``, ``pending``), with attempts and run id.
        store_path: The SQLite file holding the runs and the ledger.
        runner: ``local`` or ``ray``.
    """

    campaign_id: str
    status: str
    cells: list[dict[str, Any]]
    store_path: str
    runner: str
    wall_s: float = 0.0
    scheduling: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Cells per status."""
        out: dict[str, int] = {}
        for c in self.cells:
            out[c["status"]] = out.get(c["status"], 0) + 1
        return out

    def table(self) -> Any:
        """One row per cell (pandas)."""
        import pandas as pd

        cols = ["cell_id", "status", "attempts", "run_id", "error", "wall_s"]
        return pd.DataFrame([{k: c.get(k) for k in cols} for c in self.cells], columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "campaign_id": self.campaign_id,
            "status": self.status,
            "runner": self.runner,
            "store_path": self.store_path,
            "wall_s": self.wall_s,
            "cells": self.cells,
            "scheduling": self.scheduling,
        }


def _store_path(store: str | Path | None) -> Path:
    from advisor.measurement.store import default_store_path

    return Path(store) if store else default_store_path()


def _typed_run(d: dict[str, Any]) -> Any:
    """The worker's run dict as its typed record: a to-target run, or a forward-pass / per-step one."""
    from advisor.measurement import run_from_dict
    from advisor.training import KIND as TO_TARGET
    from advisor.training import ToTargetRun

    return ToTargetRun.from_dict(d) if d.get("kind") == TO_TARGET else run_from_dict(d)


def _save_run(store_path: Path, outcome: dict[str, Any], cell: Cell, campaign_id: str) -> str:
    """Write the worker's run into the driver's store (a run, its results and the typed record); return its id."""
    from advisor.measurement import ResultStore

    run = outcome["run"]
    meta = dict(run.get("meta") or {})
    meta["campaign"] = {
        "campaign_id": campaign_id,
        "cell_id": cell.cell_id,
        "node_group": cell.group.name,
        "batch_size": cell.batch_size,
        "worker_run_id": run.get("run_id"),
    }
    meta["node_hardware"] = outcome.get("hardware")
    if outcome.get("kind") == "tune":
        meta["tune"] = outcome.get("tune")
    store = ResultStore(store_path)
    try:
        model_name = (meta.get("model") or {}).get("name") or cell.model.name
        run_id = store.start_run(model_name, f"campaign:{cell.model.spec}", meta)
        for r in [run.get("baseline"), *(run.get("results") or [])]:
            if r:  # a to-target run names its variants ``variant``, the engine's ``technique``
                store.add_result(run_id, r.get("technique") or r["variant"], r.get("status", "ok"), r)
        store.finish_run(run_id, run.get("status", "finished"))
        store.save_run(_typed_run({**run, "run_id": run_id, "meta": meta, "store": str(store_path)}))
    finally:
        store.close()
    return run_id


class _Progress:
    """cells done / running / failed, in the terminal or the notebook (tqdm.auto)."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, desc="campaign", unit="cell")
        self.failed = 0

    def update(self, finished: bool, failed: bool, running: int) -> None:
        self.failed += failed
        if self.bar is not None:
            self.bar.set_postfix(running=running, failed=self.failed)
            if finished:
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Driver:
    def __init__(
        self, plan: Plan, ledger: Ledger, campaign_id: str, store_path: Path, *, runner: Any, on_cell: Any
    ) -> None:
        self.plan, self.ledger, self.campaign_id = plan, ledger, campaign_id
        self.store_path, self.runner, self.on_cell = store_path, runner, on_cell
        self.cells = {c.cell_id: c for c in plan.cells()}
        self.attempts = {c["cell_id"]: c["attempts"] for c in ledger.cells(campaign_id)}
        self.sched: list[float] = []

    def run(self, todo: list[str], progress: _Progress) -> None:
        queue = list(todo)
        started: dict[str, float] = {}
        while queue or self.runner.in_flight():
            while queue and self.runner.in_flight() < self.runner.capacity:
                cell_id = queue.pop(0)
                t0 = time.monotonic()
                self.ledger.mark_started(self.campaign_id, cell_id)
                self.attempts[cell_id] = self.attempts.get(cell_id, 0) + 1
                self.runner.submit(self.cells[cell_id].task())
                self.sched.append(time.monotonic() - t0)
                started[cell_id] = time.monotonic()
            got = self.runner.wait_one()
            if got is None:
                continue
            cell_id, outcome = got
            retry = self._settle(cell_id, outcome, time.monotonic() - started.pop(cell_id, time.monotonic()))
            if retry:
                queue.insert(0, cell_id)
            progress.update(
                finished=not retry, failed=self._status(cell_id) == "failed", running=self.runner.in_flight()
            )

    def _status(self, cell_id: str) -> str:
        return next(c["status"] for c in self.ledger.cells(self.campaign_id) if c["cell_id"] == cell_id)

    def _settle(self, cell_id: str, outcome: dict[str, Any] | WorkerLost, wall_s: float) -> bool:
        """Record the outcome; return True when the cell should be retried."""
        cell = self.cells[cell_id]
        if isinstance(outcome, WorkerLost):
            if self.attempts[cell_id] <= self.plan.retries:
                return True
            error = f"failed: worker died {self.attempts[cell_id]} time(s); last: {outcome.why}"
            self.ledger.mark_done(self.campaign_id, cell_id, run_id=None, hardware=None, error=error, wall_s=wall_s)
        elif outcome.get("status") != "ok":
            error = f"failed: {outcome.get('error')}"
            if outcome.get("traceback"):
                error += "\n" + outcome["traceback"]
            self.ledger.mark_done(self.campaign_id, cell_id, run_id=None, hardware=None, error=error, wall_s=wall_s)
        else:
            run_id = _save_run(self.store_path, outcome, cell, self.campaign_id)
            window = (outcome["started_at"], outcome["finished_at"]) if "started_at" in outcome else None
            self.ledger.mark_done(
                self.campaign_id,
                cell_id,
                run_id=run_id,
                hardware=outcome.get("hardware"),
                error=None,
                wall_s=outcome.get("wall_s", wall_s),
                window=window,
            )
        if self.on_cell is not None:
            self.on_cell(next(c for c in self.ledger.cells(self.campaign_id) if c["cell_id"] == cell_id))
        return False


def _make_runner(plan: Plan, ray: str | None) -> Any:
    if ray is None:
        return LocalRunner(plan.folder)
    return RayRunner(plan, None if ray == "local" else ray)


def _execute(
    plan: Plan, ledger: Ledger, campaign_id: str, store_path: Path, *, ray: str | None, progress: bool, on_cell: Any
) -> CampaignResult:
    todo = [c["cell_id"] for c in ledger.cells(campaign_id) if c["status"] not in DONE]
    runner = _make_runner(plan, ray)
    driver = _Driver(plan, ledger, campaign_id, store_path, runner=runner, on_cell=on_cell)
    bar = _Progress(len(driver.cells), len(driver.cells) - len(todo), progress)
    t0 = time.monotonic()
    status = "finished"
    try:
        driver.run(todo, bar)
    except KeyboardInterrupt:
        status = "interrupted"
        for cell_id in runner.cancel_all():
            ledger.mark_pending(campaign_id, cell_id)
        for c in ledger.cells(campaign_id):
            if c["status"] == "running":
                ledger.mark_pending(campaign_id, c["cell_id"])
    finally:
        bar.close()
        runner.close()
        ledger.finish(campaign_id, status)
    sched = driver.sched
    return CampaignResult(
        campaign_id=campaign_id,
        status=status,
        cells=ledger.cells(campaign_id),
        store_path=str(store_path),
        runner=runner.kind,
        wall_s=time.monotonic() - t0,
        scheduling={"submits": len(sched), "submit_s_median": sorted(sched)[len(sched) // 2] if sched else None},
    )


def run_campaign(
    plan: Plan | str | Path,
    *,
    ray: str | None = None,
    store: str | Path | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> CampaignResult:
    """Measure every cell of a campaign plan and write the results to the store as they arrive.

    Args:
        plan: A :class:`Plan` or the path of a ``campaign.yaml``.
        ray: None runs locally, cell by cell (each in a fresh process); ``"local"`` starts a Ray cluster on
            this machine; otherwise the address of a running cluster (``ray://host:10001`` or ``host:6379``).
        store: The SQLite results store (default: the user's store).
        progress: Show a progress bar of cells done, running and failed.
        on_cell: Called with each cell's record as soon as it is final.

    Returns:
        The campaign's id, status and cells. Ctrl-C stops it with status ``interrupted``: finished cells are
        kept, and :func:`resume_campaign` runs only the missing ones.
    """
    path = ""
    if not isinstance(plan, Plan):
        path = str(Path(plan).resolve())
        plan = load_plan(plan)
    store_path = _store_path(store)
    ledger = Ledger(store_path)
    try:
        campaign_id = ledger.new_campaign(plan, path)
        return _execute(plan, ledger, campaign_id, store_path, ray=ray, progress=progress, on_cell=on_cell)
    finally:
        ledger.close()


def resume_campaign(
    campaign: str | Path | None = None,
    *,
    ray: str | None = None,
    store: str | Path | None = None,
    progress: bool = True,
    on_cell: Any = None,
) -> CampaignResult:
    """Run the cells of an earlier campaign that did not finish (pending or interrupted), keeping the rest.

    Args:
        campaign: A campaign id, the plan file it was run from (its newest campaign), or None for the newest.
        ray: As for :func:`run_campaign`.
        store: As for :func:`run_campaign`.
        progress: As for :func:`run_campaign`.
        on_cell: As for :func:`run_campaign`.
    """
    store_path = _store_path(store)
    ledger = Ledger(store_path)
    try:
        row = _find_campaign(ledger, campaign)
        plan = Plan.model_validate_json(row["plan_json"])
        if row["plan_path"]:
            plan = plan.model_copy(update={"folder": str(Path(row["plan_path"]).parent)})
        return _execute(plan, ledger, row["campaign_id"], store_path, ray=ray, progress=progress, on_cell=on_cell)
    finally:
        ledger.close()


def _find_campaign(ledger: Ledger, campaign: str | Path | None) -> dict[str, Any]:
    if campaign is None:
        row = ledger.latest()
    elif Path(campaign).is_file():
        row = ledger.latest(load_plan(campaign).name)
    else:
        row = ledger.campaign(str(campaign))
    if row is None:
        known = ", ".join(c["campaign_id"] for c in ledger.campaigns(5)) or "none yet"
        raise CampaignError(
            f"no campaign {campaign!r} in {ledger.path}: expected a campaign id or a plan file; known: {known}. "
            "List them with `green-advisor campaign list`."
        )
    return row
