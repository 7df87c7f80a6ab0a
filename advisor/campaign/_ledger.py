"""The campaign's ledger: which cells are done, running, failed or missing, kept beside the results store.

Two tables in the same SQLite file as the results store (WAL mode, a busy timeout): ``campaigns``
(one row per campaign: its plan) and ``campaign_cells`` (one row per cell: status, attempts, the
run it produced, the node's hardware, the error). A cell is written the moment its result arrives,
so an interrupted driver loses nothing that finished.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from advisor._errors import StoreError
from advisor.measurement.store import connect

__all__ = ["CellRecord", "Ledger"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id TEXT PRIMARY KEY, name TEXT, plan_path TEXT, plan_json TEXT, plan_digest TEXT,
    created_at REAL, status TEXT
);
CREATE TABLE IF NOT EXISTS campaign_cells (
    campaign_id TEXT, cell_id TEXT, model TEXT, node_group TEXT, batch_size INTEGER,
    status TEXT, attempts INTEGER, run_id TEXT, hardware_json TEXT, error TEXT,
    started_at REAL, finished_at REAL, wall_s REAL,
    PRIMARY KEY (campaign_id, cell_id)
);
"""

# pending: not started or lost with an interrupted driver; ok; failed: <why> after the retries
DONE = ("ok", "failed")

CellRecord = dict[str, Any]


class Ledger:
    """Campaign bookkeeping in the results store's SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._db = connect(self.path)  # the results store's file, opened the store's way
            self._db.executescript(SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the campaign ledger in {self.path}: {exc}; pass a writable --store"
            ) from None

    def _exec(self, sql: str, args: tuple[Any, ...]) -> None:
        try:
            self._db.execute(sql, args)
            self._db.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the campaign ledger {self.path}: {exc}") from None

    def new_campaign(self, plan: Any, plan_path: str) -> str:
        """Record a campaign and all its cells as pending; return its id."""
        campaign_id = f"{plan.name}-" + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:4]
        self._exec(
            "INSERT INTO campaigns VALUES (?, ?, ?, ?, ?, ?, 'running')",
            (campaign_id, plan.name, plan_path, plan.model_dump_json(), plan.digest(), time.time()),
        )
        for cell in plan.cells():
            self._exec(
                "INSERT INTO campaign_cells VALUES (?, ?, ?, ?, ?, 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL)",
                (campaign_id, cell.cell_id, cell.model.name, cell.group.name, cell.batch_size),
            )
        return campaign_id

    def latest(self, name: str | None = None) -> dict[str, Any] | None:
        """The newest campaign (of this name), or None."""
        sql = "SELECT campaign_id, name, plan_path, plan_json, plan_digest, created_at, status FROM campaigns"
        args: tuple[Any, ...] = ()
        if name:
            sql, args = sql + " WHERE name = ?", (name,)
        row = self._db.execute(sql + " ORDER BY created_at DESC LIMIT 1", args).fetchone()
        return self._campaign(row) if row else None

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        """One campaign's row, or None."""
        row = self._db.execute(
            "SELECT campaign_id, name, plan_path, plan_json, plan_digest, created_at, status FROM campaigns "
            "WHERE campaign_id = ?",
            (campaign_id,),
        ).fetchone()
        return self._campaign(row) if row else None

    @staticmethod
    def _campaign(row: tuple[Any, ...]) -> dict[str, Any]:
        keys = ("campaign_id", "name", "plan_path", "plan_json", "plan_digest", "created_at", "status")
        return dict(zip(keys, row, strict=True))

    def campaigns(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest campaigns first."""
        rows = self._db.execute(
            "SELECT campaign_id, name, plan_path, plan_json, plan_digest, created_at, status FROM campaigns "
            "ORDER BY created_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [self._campaign(r) for r in rows]

    def cells(self, campaign_id: str) -> list[CellRecord]:
        """Every cell of a campaign with its status."""
        rows = self._db.execute(
            "SELECT cell_id, model, node_group, batch_size, status, attempts, run_id, hardware_json, error, "
            "started_at, finished_at, wall_s FROM campaign_cells WHERE campaign_id = ? ORDER BY rowid",
            (campaign_id,),
        ).fetchall()
        keys = (
            "cell_id",
            "model",
            "node_group",
            "batch_size",
            "status",
            "attempts",
            "run_id",
            "hardware",
            "error",
            "started_at",
            "finished_at",
            "wall_s",
        )
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for c in out:
            c["hardware"] = json.loads(c["hardware"]) if c["hardware"] else None
        return out

    def mark_started(self, campaign_id: str, cell_id: str) -> None:
        """A worker was given the cell (one more attempt)."""
        self._exec(
            "UPDATE campaign_cells SET status = 'running', attempts = attempts + 1, started_at = ? "
            "WHERE campaign_id = ? AND cell_id = ?",
            (time.time(), campaign_id, cell_id),
        )

    def mark_pending(self, campaign_id: str, cell_id: str) -> None:
        """The cell did not finish (driver interrupted): it stays to be run by ``resume``."""
        self._exec(
            "UPDATE campaign_cells SET status = 'pending' WHERE campaign_id = ? AND cell_id = ?", (campaign_id, cell_id)
        )

    def mark_done(
        self,
        campaign_id: str,
        cell_id: str,
        *,
        run_id: str | None,
        hardware: dict[str, Any] | None,
        error: str | None,
        wall_s: float | None,
        window: tuple[float, float] | None = None,
    ) -> None:
        """The cell's final state: ``ok`` with its run, or ``failed: <why>``.

        ``window`` is (start, end) as the worker saw it (epoch seconds); without it the start stays the
        time the cell was handed out and the end is now.
        """
        status = "ok" if error is None else "failed"
        hw = json.dumps(hardware) if hardware else None
        self._exec(
            "UPDATE campaign_cells SET status = ?, run_id = ?, hardware_json = ?, error = ?, finished_at = ?, "
            "wall_s = ?, started_at = COALESCE(?, started_at) WHERE campaign_id = ? AND cell_id = ?",
            (
                status,
                run_id,
                hw,
                error,
                window[1] if window else time.time(),
                wall_s,
                window[0] if window else None,
                campaign_id,
                cell_id,
            ),
        )

    def finish(self, campaign_id: str, status: str) -> None:
        """Set the campaign's status (``finished``, ``interrupted``)."""
        self._exec("UPDATE campaigns SET status = ? WHERE campaign_id = ?", (status, campaign_id))

    def close(self) -> None:
        """Close the database."""
        self._db.close()
