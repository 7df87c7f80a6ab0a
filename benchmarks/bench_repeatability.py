"""Benchmark: how repeatable ``advisor.measure()`` is - the same call, run again and again.

For each model - the digits CNN (``advisor._demo.digits_model``) and a small transformer encoder
built in code - ``advisor.measure(model, inputs, techniques=[...], budget_s=...)`` runs ``--runs``
times (default 5) with identical arguments (baseline + dynamic int8 + inference mode). Per
technique it reports the coefficient of variation (CV = sample stdev / mean) across the runs of:

* the median latency,
* the energy per call (the labelled estimate on this machine),
* the speed-up ratio against the same run's baseline (what users act on),

and, since the interleaved engine (issue 9), each run's 95 % interval of the speed-up and its
verdict, and the share of runs whose interval contains the median speed-up of all runs.

Writes ``benchmarks/results/repeatability.json``.

    python benchmarks/bench_repeatability.py [--quick] [--runs N] [--budget-s S] [--shared]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from _bench_common import add_common_args, machine_info, spread, versions, write_result
from torch import nn

from advisor.measurement.run import measure
from advisor.measurement.store import ResultStore

TECHNIQUES = ["post-training-dynamic-quantization", "inference-mode-and-no-grad"]


class TinyEncoder(nn.Module):
    """A small transformer-encoder classifier: ``(batch, seq, d_model)`` floats -> 10 logits.

    ``batch_first=False`` inside (the PyTorch default), so PyTorch's fused fast path is not taken; with
    ``batch_first=True`` the dynamic-int8 applier's forward fails on that fast path (see bench_int8).
    """

    def __init__(self, d_model: int = 128, layers: int = 2, heads: int = 4) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x.transpose(0, 1)).mean(dim=0))


def models(quick: bool) -> dict[str, tuple[nn.Module, torch.Tensor, str]]:
    """The models to measure, with their inputs and a description."""
    from advisor._demo import digits_model

    cnn, x, _ = digits_model(epochs=3 if quick else 15)
    torch.manual_seed(0)
    enc = TinyEncoder().eval()
    return {
        "digits-cnn": (cnn, x, "digits CNN (advisor._demo.digits_model), batch 64 of 1x8x8"),
        "tiny-encoder": (enc, torch.randn(8, 64, 128), "nn.TransformerEncoder d_model 128, 2 layers, seq 64, batch 8"),
    }


def per_technique(runs: list[Any]) -> dict[str, Any]:
    """CVs across runs of median latency, energy per call and speed-up, per technique."""
    out: dict[str, Any] = {}
    names = ["baseline", *TECHNIQUES]
    for name in names:
        lat, energy, speed, statuses, repeats, stopped = [], [], [], [], [], []
        intervals, own, verdicts = [], [], []
        for run in runs:
            r = run.baseline if name == "baseline" else next(x for x in run.results if x.technique == name)
            statuses.append(r.status if r.status == "ok" else f"{r.status}: {r.reason}")
            if r.status != "ok" or r.timing is None:
                continue
            lat.append(r.timing.latency_ms_median)
            repeats.append(r.timing.repeats)
            stopped.append(r.timing.stopped_by)
            if r.timing.energy_j_per_call is not None:
                energy.append(r.timing.energy_j_per_call)
            if r.speedup is not None:
                speed.append(r.speedup)
            if getattr(r, "comparison", None) is not None and r.comparison.speedup is not None:
                iv = r.comparison.speedup
                intervals.append([iv.low, iv.high, iv.n_rounds])
                w = r.comparison.latency_within_run.inverted() if r.comparison.latency_within_run else iv
                own.append([w.low, w.high])
                verdicts.append(r.comparison.verdict)
        s_lat, s_e, s_sp = spread(lat), spread(energy), spread(speed)
        pooled = s_sp.get("median")
        holds = [lo <= pooled <= hi for lo, hi, _ in intervals] if pooled is not None else []
        own_holds = [lo <= pooled <= hi for lo, hi in own] if pooled is not None else []
        out[name] = {
            "runs_ok": len(lat),
            "statuses": sorted(set(statuses)),
            "latency_ms_median": s_lat,
            "energy_j_per_call": s_e,
            "speedup": s_sp,
            "cv_latency": s_lat.get("cv"),
            "cv_energy": s_e.get("cv"),
            "cv_speedup": s_sp.get("cv") if name != "baseline" else None,
            "energy_method": sorted({r.timing.energy_method for r in _all(runs, name) if r.timing}),
            "speedup_intervals_95": intervals,
            "verdicts": verdicts,
            "share_of_intervals_holding_the_median_of_runs": sum(holds) / len(holds) if holds else None,
            "within_run_speedup_intervals_95": own,
            "share_of_within_run_intervals_holding_the_median_of_runs": sum(own_holds) / len(own_holds)
            if own_holds
            else None,
            "harness_repeats_per_run": repeats,
            "stopped_by": stopped,
        }
    return out


def _all(runs: list[Any], name: str) -> list[Any]:
    return [run.baseline if name == "baseline" else next(x for x in run.results if x.technique == name) for run in runs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--runs", type=int, default=None, help="identical measure() calls per model (default 5, quick 3)")
    ap.add_argument("--budget-s", type=float, default=None, help="budget_s of each measure() (default 12, quick 2.5)")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    n_runs = args.runs or (3 if args.quick else 5)
    budget_s = args.budget_s or (2.5 if args.quick else 12.0)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-repeat-") as tmp:
        store = ResultStore(Path(tmp) / "results.sqlite")  # never the user's store
        for name, (model, x, desc) in models(args.quick).items():
            runs, wall = [], []
            for _ in range(n_runs):
                t0 = time.perf_counter()
                runs.append(measure(model, x, techniques=TECHNIQUES, budget_s=budget_s, store=store, progress=False))
                wall.append(time.perf_counter() - t0)
            results[name] = {
                "description": desc,
                "run_wall_s": spread(wall),
                "run_statuses": [r.status for r in runs],
                "techniques": per_technique(runs),
            }
    result = {
        "benchmark": "repeatability",
        "quick": args.quick,
        "settings": {
            "runs_per_model": n_runs,
            "budget_s_per_measure": budget_s,
            "techniques": TECHNIQUES,
            "cv": "sample standard deviation / mean across the runs",
            "torch_threads": torch.get_num_threads(),
            "store": "a temporary SQLite store (not the user's)",
        },
        "models": results,
        "versions": versions("torch"),
        "machine": machine_info(args.shared),
    }
    write_result(args.out, "repeatability", result)


if __name__ == "__main__":
    main()
