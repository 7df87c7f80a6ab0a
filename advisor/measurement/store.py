"""A local SQLite store: every finished measurement is written at once, so nothing is lost.

Three tables: ``runs`` (one row per run: when, status, model, meta), ``results`` (one row per
variant, written as soon as it is known) and ``run_records`` (the whole typed run with its raw
rounds, :meth:`ResultStore.save_run`). :meth:`ResultStore.load_run` reads a run back as a
:class:`~advisor.measurement.MeasureRun` or ``TrainingRun`` (or the type a higher package registered for its
run kind, :func:`register_run_reader`: ``GenerationRun``); for a run that ended before its record was written,
it rebuilds the run from the two other tables.

Default location: ``$GREEN_ADVISOR_STORE`` or ``~/.local/share/green-advisor/results.sqlite``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from advisor._errors import StoreError

__all__ = ["ResultStore", "StoreError", "connect", "default_store_path", "register_run_reader", "run_kind"]

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's write to finish
HISTORY_RUNS = 200  # newest runs the run-to-run spread is learnt from
RUN_READERS: dict[str, Callable[[dict[str, Any]], Any]] = {}  # run kind -> its typed reader (register_run_reader)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at REAL, finished_at REAL, status TEXT,
    model_name TEXT, model_fingerprint TEXT, meta_json TEXT
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT, technique TEXT, status TEXT, created_at REAL, result_json TEXT,
    PRIMARY KEY (run_id, technique)
);
CREATE TABLE IF NOT EXISTS run_records (
    run_id TEXT PRIMARY KEY, schema_version INTEGER, run_json TEXT
);
"""


def run_kind(meta: dict[str, Any]) -> str:
    """What a stored run measured, from its meta: ``measure``, ``training``, ``generation``, ..."""
    return "training" if meta.get("phase") == "training" else meta.get("kind", "measure")


def register_run_reader(kind: str, reader: Callable[[dict[str, Any]], Any]) -> None:
    """Teach :meth:`ResultStore.load_run` a run kind whose result type lives above the measurement layer.

    ``advisor.generation`` registers ``("generation", GenerationRun.from_dict)`` when imported (and importing any
    part of ``advisor`` imports it), so the store never imports the packages that write into it.
    """
    RUN_READERS[kind] = reader


def default_store_path() -> Path:
    """Where results go unless told otherwise."""
    env = os.environ.get("GREEN_ADVISOR_STORE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "green-advisor" / "results.sqlite"


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the SQLite file every run, ledger and lock-free reader shares.

    Several processes write one store (CLI, notebooks, the form, campaign cells): WAL lets readers and one
    writer work at once, and a busy timeout makes the other writers wait instead of failing.

    Raises:
        OSError, sqlite3.Error: The folder or file cannot be created or opened (callers word the error).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    db.execute("PRAGMA journal_mode = WAL")
    return db


class ResultStore:
    """Append-only store of measurement runs and their per-technique results."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self._db = connect(self.path)
            self._db.executescript(SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the results store {self.path}: {exc}. Pass a writable path "
                "(--store PATH, store=..., or GREEN_ADVISOR_STORE)."
            ) from None

    def start_run(self, model_name: str, fingerprint: str, meta: dict[str, Any]) -> str:
        """Record a new run; return its id."""
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        self._exec(
            "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?)",
            (run_id, time.time(), model_name, fingerprint, json.dumps(meta, default=str)),
        )
        return run_id

    def add_result(self, run_id: str, technique: str, status: str, result: dict[str, Any]) -> None:
        """Write one technique's result now."""
        self._exec(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
            (run_id, technique, status, time.time(), json.dumps(result, default=str)),
        )

    def finish_run(self, run_id: str, status: str) -> None:
        """Mark a run finished, interrupted or failed."""
        self._exec("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (time.time(), status, run_id))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first, with their result counts."""
        rows = self._db.execute(
            "SELECT r.run_id, r.started_at, r.status, r.model_name, r.model_fingerprint, "
            "(SELECT COUNT(*) FROM results x WHERE x.run_id = r.run_id), r.meta_json "
            "FROM runs r ORDER BY r.started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("run_id", "started_at", "status", "model_name", "model_fingerprint", "n_results")
        out = []
        for row in rows:
            d = dict(zip(keys, row[:-1], strict=True))
            meta = json.loads(row[-1]) if row[-1] else {}
            d["kind"] = run_kind(meta)
            out.append(d)
        return out

    def recent_runs_with_results(self, limit: int = HISTORY_RUNS) -> list[dict[str, Any]]:
        """The newest ``limit`` finished or interrupted runs with their results, newest first.

        Each: ``{"run_id", "model_fingerprint", "meta", "results": [result dicts]}``; what the run-to-run
        spread is learnt from (``_spread.history_from_rows``).
        """
        heads = self._db.execute(
            "SELECT run_id, model_fingerprint, meta_json FROM runs WHERE status IN ('finished', 'interrupted') "
            "ORDER BY started_at DESC LIMIT ?",
            (limit,),
        ).fetchall()
        if not heads:
            return []
        rows = self._db.execute(
            "SELECT x.run_id, x.technique, x.status, x.result_json FROM results x JOIN (SELECT run_id FROM runs "
            "WHERE status IN ('finished', 'interrupted') ORDER BY started_at DESC LIMIT ?) r ON x.run_id = r.run_id",
            (limit,),
        ).fetchall()
        by_run: dict[str, list[dict[str, Any]]] = {}
        for run_id, technique, status, blob in rows:
            by_run.setdefault(run_id, []).append({**json.loads(blob), "technique": technique, "status": status})
        return [
            {
                "run_id": run_id,
                "model_fingerprint": fp,
                "meta": json.loads(meta) if meta else {},
                "results": by_run.get(run_id, []),
            }
            for run_id, fp, meta in heads
        ]

    def results(self, run_id: str) -> list[dict[str, Any]]:
        """The results of one run, in the order they were written."""
        rows = self._db.execute(
            "SELECT technique, status, result_json FROM results WHERE run_id = ? ORDER BY created_at", (run_id,)
        ).fetchall()
        return [{"technique": t, "status": s, **json.loads(j)} for t, s, j in rows]

    def save_run(self, run: Any) -> None:
        """Write the whole typed run (``MeasureRun``/``TrainingRun``, with its rounds) under its run id."""
        if run.run_id is None:
            return
        d = run.to_dict()
        self._exec(
            "INSERT OR REPLACE INTO run_records VALUES (?, ?, ?)",
            (run.run_id, d.get("schema_version"), json.dumps(d, default=str)),
        )

    def load_run(self, run_id: str) -> Any:
        """The run with this id as a ``MeasureRun``, ``TrainingRun`` or ``GenerationRun``.

        Raises:
            StoreError: No run has this id (the message lists the latest ids).
        """
        from advisor.measurement._results import run_from_dict

        row = self._db.execute("SELECT run_json FROM run_records WHERE run_id = ?", (run_id,)).fetchone()
        if row:
            d = json.loads(row[0])
            return RUN_READERS[d["kind"]](d) if d.get("kind") in RUN_READERS else run_from_dict(d)
        head = self._db.execute("SELECT status, meta_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if head is None:
            latest = ", ".join(r["run_id"] for r in self.runs(5)) or "none"
            raise StoreError(
                f"no run {run_id!r} in {self.path}; the latest are: {latest}. List them with `green-advisor history`."
            )
        results = self.results(run_id)
        meta = json.loads(head[1]) if head[1] else {}
        if meta.get("kind") in RUN_READERS:  # e.g. generation, ended before its record: rebuild from its results
            return RUN_READERS[meta["kind"]]({"run_id": run_id, "status": head[0], "meta": meta, "results": results})
        base = next((r for r in results if r["technique"] == "baseline"), None)
        meta = json.loads(head[1]) if head[1] else {}
        d = {
            "schema_version": 1 if not any("comparison" in r for r in results) else 2,
            "run_id": run_id,
            "status": head[0],
            "meta": meta,
            "baseline": base,
            "store": str(self.path),
            "results": [r for r in results if r["technique"] != "baseline"],
            "meters": meta.get("meters", []),
        }
        return run_from_dict(d)

    def _exec(self, sql: str, args: tuple[Any, ...]) -> None:
        try:
            self._db.execute(sql, args)
            self._db.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the results store {self.path}: {exc}") from None

    def close(self) -> None:
        """Close the database."""
        self._db.close()
