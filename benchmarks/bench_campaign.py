"""Campaign overhead: the same plan run locally (a process per cell) and through a local Ray cluster.

Per cell, the overhead is the campaign's wall time minus the time the workers spent inside their
cells (``wall_s``: loading the spec and measuring), divided by the cells: process start-up and
imports (local), or task scheduling, transfer of the plan's folder and worker start (Ray; the
cluster's own start-up is timed apart as ``cluster_start_s``). Driver memory
is the driver process's peak RSS growth during the campaign (Ray's own daemons are separate
processes and reported separately).

    python benchmarks/bench_campaign.py [--quick] [--cells N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psutil
from _bench_common import add_common_args, machine_info, spread, write_result

PLAN = """
name: bench
models:
{models}
techniques: [inference-mode-and-no-grad]
budget_s: {budget}
retries: 0
node_groups:
  - {{name: group-a, resources: {{group_a: 1}}}}
"""

MODELS = """
import torch


def make():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)).eval()
    return model, torch.randn(8, 64)
"""


def _plan(folder: Path, cells: int, budget: float) -> Path:
    (folder / "models.py").write_text(MODELS)
    models = "\n".join(f"  - {{name: m{i}, spec: models.py:make}}" for i in range(cells))
    path = folder / "campaign.yaml"
    path.write_text(PLAN.format(models=models, budget=budget))
    return path


def _ray_daemons_rss_mib() -> float:
    total = 0
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if any(k in cmd for k in ("raylet", "gcs_server", "ray::", "default_worker.py")):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
    return total / 2**20


def _run(kind: str, plan: Path, store: Path) -> dict:
    from advisor.campaign import SLOT, run_campaign

    cluster_start_s = None
    if kind == "ray":
        import ray

        t0 = time.monotonic()
        ray.init(
            num_cpus=2,
            resources={SLOT: 1, "group_a": 1},
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        cluster_start_s = time.monotonic() - t0
    me = psutil.Process()
    rss0 = me.memory_info().rss
    t0 = time.monotonic()
    result = run_campaign(plan, ray="local" if kind == "ray" else None, store=store, progress=False)
    wall = time.monotonic() - t0
    rss1 = me.memory_info().rss
    cells = result.cells
    inside = sum(c["wall_s"] or 0 for c in cells)
    daemons = _ray_daemons_rss_mib() if kind == "ray" else None
    if kind == "ray":
        import ray

        ray.shutdown()
    return {
        "runner": kind,
        "cells": len(cells),
        "ok": sum(c["status"] == "ok" for c in cells),
        "campaign_wall_s": wall,
        "cell_wall_s": spread([c["wall_s"] for c in cells if c["wall_s"]]),
        "per_cell_overhead_s": (wall - inside) / max(1, len(cells)),
        "cluster_start_s": cluster_start_s,
        "driver_rss_growth_mib": (rss1 - rss0) / 2**20,
        "store_bytes_per_cell": store.stat().st_size / max(1, len(cells)),
        "ray_daemons_rss_mib": daemons,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    add_common_args(ap)
    ap.add_argument("--cells", type=int, default=None, help="cells in the plan (default 8, --quick 2)")
    args = ap.parse_args()
    cells = args.cells or (2 if args.quick else 8)
    budget = 0.5 if args.quick else 1.0
    out = {"benchmark": "campaign", "machine": machine_info(args.shared), "cells": cells, "budget_s_per_cell": budget}
    with tempfile.TemporaryDirectory() as tmp:
        plan = _plan(Path(tmp), cells, budget)
        out["local"] = _run("local", plan, Path(tmp) / "local.sqlite")
        out["ray"] = _run("ray", plan, Path(tmp) / "ray.sqlite")
    lo, ra = out["local"]["per_cell_overhead_s"], out["ray"]["per_cell_overhead_s"]
    out["summary"] = (
        f"{cells} cells: per-cell overhead local {lo:.2f} s (process start-up), Ray {ra:.2f} s (scheduling, "
        f"transfer, worker start; cluster start-up {out['ray']['cluster_start_s']:.1f} s apart); "
        f"campaign wall local {out['local']['campaign_wall_s']:.1f} s, Ray {out['ray']['campaign_wall_s']:.1f} s"
    )
    print(json.dumps(out["summary"]))
    write_result(args.out, "campaign", out)


if __name__ == "__main__":
    main()
