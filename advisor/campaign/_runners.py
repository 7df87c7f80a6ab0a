"""Where cells run: a local subprocess per cell (the embedded default) or a Ray task per cell.

Both give the driver the same two things: ``submit(cell)`` and ``wait_one()``, which returns a
finished cell's outcome, or a :class:`WorkerLost` when the process running it died (killed, out of
memory, node lost): the driver retries those, and records everything else as it came.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor._errors import CampaignError, MissingExtraError

__all__ = ["SLOT", "LocalRunner", "RayRunner", "WorkerLost", "pack_folder"]

# Every node offers one of these; every cell asks for one: at most one measuring task per node.
SLOT = "green_advisor_slot"


@dataclass(frozen=True)
class WorkerLost:
    """The worker running a cell died before it answered."""

    why: str


class LocalRunner:
    """Cells one after the other on this machine, each in a fresh Python process (a crash is a retry)."""

    kind = "local"
    capacity = 1

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._tmp = tempfile.TemporaryDirectory(prefix="green-advisor-campaign-")
        self._running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def submit(self, task: dict[str, Any]) -> str:
        """Start the cell's worker process; return its handle (the cell id)."""
        cell_id = task["cell_id"]
        safe = "".join(c if c.isalnum() else "_" for c in cell_id)
        task_file, out_file = Path(self._tmp.name) / f"{safe}.task.json", Path(self._tmp.name) / f"{safe}.out.json"
        out_file.unlink(missing_ok=True)
        task_file.write_text(json.dumps(task), encoding="utf-8")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "advisor.campaign._cell", str(task_file), str(out_file)],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in the terminal reaches the driver, which stops the worker itself
        )
        self._running[cell_id] = (proc, out_file)
        return cell_id

    def wait_one(self, timeout_s: float = 0.5) -> tuple[str, dict[str, Any] | WorkerLost] | None:
        """The next finished cell, or None if none finished within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            for cell_id, (proc, out_file) in list(self._running.items()):
                rc = proc.poll()
                if rc is None:
                    continue
                del self._running[cell_id]
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                if proc.stderr:
                    proc.stderr.close()
                if rc == 0 and out_file.is_file():
                    return cell_id, json.loads(out_file.read_text(encoding="utf-8"))
                how = f"killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
                tail = err.strip().splitlines()[-1:] if err.strip() else []
                return cell_id, WorkerLost(f"worker process {proc.pid} {how}" + (f" ({tail[0][:200]})" if tail else ""))
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def in_flight(self) -> int:
        """Cells running now."""
        return len(self._running)

    def cancel_all(self) -> list[str]:
        """Stop every running worker; return their cell ids."""
        ids = list(self._running)
        for proc, _ in self._running.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in self._running.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        self._running.clear()
        return ids

    def close(self) -> None:
        """Remove the task files."""
        self.cancel_all()
        self._tmp.cleanup()


MAX_FOLDER_MIB = 64


def pack_folder(folder: str) -> bytes:
    """The plan's folder as a gzipped tar (what workers unpack and run the model specs from).

    Raises:
        CampaignError: The folder holds more than ``MAX_FOLDER_MIB`` MiB.
    """
    import io
    import tarfile

    root = Path(folder)
    files = [p for p in root.rglob("*") if p.is_file() and not ({"__pycache__", ".git"} & set(p.parts))]
    size_mib = sum(p.stat().st_size for p in files) / 2**20
    if size_mib > MAX_FOLDER_MIB:
        raise CampaignError(
            f"the plan's folder {folder} holds {size_mib:.0f} MiB, more than the {MAX_FOLDER_MIB} MiB shipped to "
            "workers; keep the plan and its model files in a folder of their own (weights on shared storage)"
        )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in files:
            tar.add(p, arcname=str(p.relative_to(root)))
    return buf.getvalue()


def _ray_cell(task: dict[str, Any], packed: bytes) -> dict[str, Any]:
    """A Ray task: unpack the plan's folder (once per content), run the cell from inside it."""
    import hashlib
    import io
    import tarfile

    from advisor.campaign._cell import run_cell

    digest = hashlib.sha256(packed).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"green-advisor-campaign-{digest}"
    if not folder.is_dir():
        tmp = Path(tempfile.mkdtemp(prefix="green-advisor-unpack-"))
        with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        with contextlib.suppress(OSError):  # another worker won the race: use its copy
            tmp.rename(folder)
    before = Path.cwd()
    os.chdir(folder)
    try:
        return run_cell(task)
    finally:
        os.chdir(before)


class RayRunner:
    """One Ray task per cell, pinned to its node group's resources and to one measuring slot per node."""

    kind = "ray"

    def __init__(self, plan: Any, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtraError("ray", "cluster", "Running a campaign on Ray") from None
        self.ray = ray
        self.plan = plan
        self._started_here = False
        if not ray.is_initialized():
            self._init(address)
        self._check_resources()
        # Everything is submitted at once: Ray queues the tasks and the measuring slots let one run per node.
        self.capacity = 1_000_000
        self._refs: dict[Any, str] = {}
        self._remote = ray.remote(_ray_cell)
        self._packed: Any = None

    def _init(self, address: str | None) -> None:
        ray = self.ray
        if address in (None, "local"):
            groups = {r: 1.0 for g in self.plan.node_groups for r in g.resources}
            ray.init(
                num_cpus=max(2, os.cpu_count() or 2),
                resources={SLOT: 1.0, **groups},
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        self._started_here = True

    def _check_resources(self) -> None:
        have = self.ray.cluster_resources()
        missing = [r for r in [SLOT, *(r for g in self.plan.node_groups for r in g.resources)] if r not in have]
        if missing:
            raise CampaignError(
                f"the Ray cluster offers no {', '.join(sorted(set(missing)))} resource; start each node with "
                f'ray start --resources \'{{"{SLOT}": 1, "<group resource>": 1}}\' (one measuring slot per node, '
                "plus the resource its node group selects on); see docs/campaigns.md"
            )

    def submit(self, task: dict[str, Any]) -> Any:
        """Queue the cell as a Ray task; Ray starts it when a node of its group has a free slot."""
        group = next(g for g in self.plan.node_groups if g.name == task["group"])
        options: dict[str, Any] = {
            "num_cpus": 1,
            "resources": {SLOT: 1.0, **group.resources},
            "max_retries": 0,  # the driver retries lost workers itself, so it knows the attempts
        }
        if group.labels:
            options["label_selector"] = dict(group.labels)
        if self._packed is None:
            self._packed = self.ray.put(pack_folder(self.plan.folder))
        ref = self._remote.options(**options).remote(task, self._packed)
        self._refs[ref] = task["cell_id"]
        return ref

    def wait_one(self, timeout_s: float = 0.5) -> tuple[str, dict[str, Any] | WorkerLost] | None:
        """The next finished cell, or None if none finished within ``timeout_s``."""
        if not self._refs:
            return None
        ready, _ = self.ray.wait(list(self._refs), num_returns=1, timeout=timeout_s)
        if not ready:
            return None
        ref = ready[0]
        cell_id = self._refs.pop(ref)
        exc = self.ray.exceptions
        try:
            return cell_id, self.ray.get(ref)
        except exc.RayTaskError as e:  # our code raised despite run_cell's net: report, do not retry
            return cell_id, {"status": "error", "error": str(e).splitlines()[0][:500], "traceback": str(e)[-3000:]}
        except exc.RayError as e:  # worker crashed, node died, OOM-killed: retry
            return cell_id, WorkerLost(f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")

    def in_flight(self) -> int:
        """Cells queued or running."""
        return len(self._refs)

    def cancel_all(self) -> list[str]:
        """Cancel every queued or running cell; return their ids."""
        ids = list(self._refs.values())
        for ref in self._refs:
            with contextlib.suppress(Exception):  # already finished or gone
                self.ray.cancel(ref, force=True)
        self._refs.clear()
        return ids

    def close(self) -> None:
        """Cancel what is left; shut Ray down if this runner started it."""
        self.cancel_all()
        if self._started_here:
            self.ray.shutdown()
