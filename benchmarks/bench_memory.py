"""Benchmark: peak memory of ``advisor.measure()`` on a ~100M-parameter model, relative to the model's size.

A fresh subprocess builds the model (default: a wide MLP of ~96M float32 parameters, ~370 MiB;
``--model encoder`` for a ~85M-parameter transformer encoder), records its resident memory (RSS)
as the pre-run baseline, then runs ``advisor.measure(model, inputs, techniques=[3 appliers],
budget_s=...)`` while a background thread samples RSS every 10 ms. Each step of the run
(profiling, the baseline, every applier and its timing) is wrapped to log RSS at its start and end,
so the peak can be attributed. The kernel's high-water mark (``getrusage`` ``ru_maxrss``) is read
before and after as a cross-check of the sampled peak.

Target: peak RSS during the run minus the pre-run baseline <= 3 x the model's size (parameters and
buffers x bytes per element). Writes ``benchmarks/results/memory.json``.

    python benchmarks/bench_memory.py [--quick] [--model mlp|encoder] [--budget-s S] [--shared]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _bench_common import add_common_args, machine_info, versions, write_result

TECHNIQUES = ["post-training-dynamic-quantization", "inference-mode-and-no-grad", "bfloat16"]
TARGET_RATIO = 3.0
MIB = 2**20


def build(kind: str, quick: bool) -> tuple[Any, Any, str]:
    """The model, its example inputs and a description (random weights, fixed seed)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    if kind == "mlp":
        width, depth, d_in = (2048, 3, 1024) if quick else (4096, 5, 2048)
        layers: list[nn.Module] = [nn.Linear(d_in, width), nn.ReLU()]
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.ReLU()]
        layers.append(nn.Linear(width, 1000))
        return nn.Sequential(*layers).eval(), torch.randn(8, d_in), f"MLP {d_in}->{width}x{depth + 1}->1000, batch 8"
    if kind == "encoder":
        d, n = (384, 4) if quick else (768, 12)

        class Encoder(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                layer = nn.TransformerEncoderLayer(d, 12, 4 * d, dropout=0.0)  # batch_first=False: see bench_int8
                self.encoder = nn.TransformerEncoder(layer, n, enable_nested_tensor=False)
                self.head = nn.Linear(d, 2)

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.head(self.encoder(x.transpose(0, 1)).mean(dim=0))

        desc = f"transformer encoder d_model {d}, {n} layers, seq 128, batch 1"
        return Encoder().eval(), torch.randn(1, 128, d), desc
    raise SystemExit(f"--model: unknown model {kind!r}; expected mlp or encoder")


class RssSampler:
    """Samples this process's RSS every ``period_s`` on a daemon thread; keeps (time, bytes) pairs."""

    def __init__(self, period_s: float = 0.01) -> None:
        import psutil

        self._proc = psutil.Process()
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._period_s = period_s
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def rss(self) -> int:
        """Resident memory now. Units: bytes."""
        return self._proc.memory_info().rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._stop.wait(self._period_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def maxrss_bytes() -> int:
    """The kernel's high-water mark of this process's RSS (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(kind: str, quick: bool, budget_s: float) -> dict[str, Any]:
    """Build the model, run measure() under the sampler, and attribute the peak to the run's steps."""
    import gc
    from importlib import import_module

    import torch

    from advisor.measurement.appliers import REGISTRY
    from advisor.measurement.store import ResultStore

    run_mod = import_module("advisor.measurement.run")  # `advisor.measurement` the attribute is the function
    profile_mod = import_module("advisor.profile.model")
    model, x, desc = build(kind, quick)
    n_params = sum(p.numel() for p in model.parameters())
    model_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    model_bytes += sum(b.numel() * b.element_size() for b in model.buffers())
    sampler = RssSampler()
    events: list[dict[str, Any]] = []

    def mark(step: str, edge: str) -> None:
        events.append({"t": time.perf_counter(), "step": step, "edge": edge, "rss_mib": sampler.rss() / MIB})

    def wrap(step: str, fn: Any) -> Any:
        def wrapped(*a: Any, **kw: Any) -> Any:
            mark(step, "start")
            try:
                return fn(*a, **kw)
            finally:
                mark(step, "end")

        return wrapped

    # attribution only: the same functions, logged at their start and end (run.py is not changed)
    current = ["baseline"]  # the technique whose copy is being timed

    def applier(tid: str) -> Any:
        inner = wrap(f"apply {tid}", REGISTRY[tid])

        def fn(*a: Any, **kw: Any) -> Any:
            current[0] = tid
            return inner(*a, **kw)

        return fn

    for tid in TECHNIQUES:
        REGISTRY[tid] = applier(tid)
    real_bench = run_mod.benchmark

    def bench(fn: Any, **kw: Any) -> Any:
        return wrap(f"time {current[0]}", real_bench)(fn, **kw)

    run_mod.benchmark = bench
    profile_mod.profile_model = wrap("profile_model", profile_mod.profile_model)
    catalog_mod, hardware_mod = import_module("advisor.catalog"), import_module("advisor.profile.hardware")
    catalog_mod.load_catalog = wrap("load_catalog", catalog_mod.load_catalog)
    hardware_mod.detect_hardware = wrap("detect_hardware", hardware_mod.detect_hardware)
    with torch.no_grad():  # one forward first, so the baseline includes torch's first-call allocations
        model(x)
    gc.collect()
    time.sleep(0.2)
    base_rss = sampler.rss()
    maxrss_before = maxrss_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, sampler:
        t0 = time.perf_counter()
        mark("measure()", "start")
        store = ResultStore(Path(tmp) / "r.sqlite")  # never the user's store
        result = run_mod.measure(model, x, techniques=TECHNIQUES, budget_s=budget_s, store=store, progress=False)
        mark("measure()", "end")
        wall = time.perf_counter() - t0
    maxrss_after = maxrss_bytes()
    sampled_peak = max(b for _, b in sampler.samples)
    # the kernel's high-water mark is exact; it speaks for the run only if the run raised it
    peak = max(sampled_peak, maxrss_after) if maxrss_after > maxrss_before else sampled_peak
    peak_t = max(sampler.samples, key=lambda s: s[1])[0]
    steps = step_peaks(events, sampler.samples, base_rss)
    # RSS once the fixed set-up (imports on first use, catalog, profiling) is done, before any timing
    setup_end = next((e for e in events if e["step"] == "time baseline" and e["edge"] == "start"), None)
    post_setup = int(setup_end["rss_mib"] * MIB) if setup_end else base_rss
    statuses = {r.technique: r.status for r in result.results}
    return {
        "model": desc,
        "n_parameters": n_params,
        "model_mib": model_bytes / MIB,
        "budget_s": budget_s,
        "measure_wall_s": wall,
        "techniques": {
            r.technique: (r.status if r.status == "ok" else f"{r.status}: {r.reason}") for r in result.results
        },
        "baseline_rss_mib": base_rss / MIB,
        "peak_rss_mib": peak / MIB,
        "peak_above_baseline_mib": (peak - base_rss) / MIB,
        "ratio_to_model_size": (peak - base_rss) / model_bytes,
        "target_ratio": TARGET_RATIO,
        "meets_target": (peak - base_rss) / model_bytes <= TARGET_RATIO,
        "all_techniques_ran": all(v == "ok" for v in statuses.values()) and len(statuses) == len(TECHNIQUES),
        "setup_overhead_mib": (post_setup - base_rss) / MIB,
        "peak_above_post_setup_mib": (peak - post_setup) / MIB,
        "ratio_above_post_setup": (peak - post_setup) / model_bytes,
        "sampled_peak_rss_mib": sampled_peak / MIB,
        "ru_maxrss_before_mib": maxrss_before / MIB,
        "ru_maxrss_after_mib": maxrss_after / MIB,
        "peak_source": "ru_maxrss (kernel high-water mark)" if peak == maxrss_after else "10 ms RSS samples",
        "peak_step": next((s["step"] for s in steps if s["start_t"] <= peak_t <= s["end_t"]), "between steps"),
        "rss_samples": len(sampler.samples),
        "steps": steps,
    }


def step_peaks(events: list[dict[str, Any]], samples: list[tuple[float, int]], base: int) -> list[dict[str, Any]]:
    """Per logged step: RSS above the baseline at its start and end, and the sampled peak inside it."""
    out = []
    open_: dict[str, dict[str, Any]] = {}
    for e in events:
        if e["edge"] == "start":
            open_[e["step"]] = e
            continue
        s = open_.pop(e["step"], None)
        if s is None or e["step"] == "measure()":
            continue
        inside = [b for t, b in samples if s["t"] <= t <= e["t"]]
        peak = max([*inside, int(s["rss_mib"] * MIB), int(e["rss_mib"] * MIB)])
        out.append({
            "step": e["step"],
            "seconds": e["t"] - s["t"],
            "start_above_baseline_mib": s["rss_mib"] - base / MIB,
            "end_above_baseline_mib": e["rss_mib"] - base / MIB,
            "peak_above_baseline_mib": (peak - base) / MIB,
            "start_t": s["t"],
            "end_t": e["t"],
        })  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--model", choices=["mlp", "encoder"], default="mlp")
    ap.add_argument("--budget-s", type=float, default=None, help="budget_s of measure() (default 60, quick 15)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    budget_s = args.budget_s or (15.0 if args.quick else 60.0)
    if args.child:
        print(json.dumps(child(args.model, args.quick, budget_s)))
        return
    cmd = [sys.executable, __file__, "--child", "--model", args.model, "--budget-s", str(budget_s)]
    if args.quick:
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the measuring subprocess failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    run = json.loads(proc.stdout.strip().splitlines()[-1])
    for s in run["steps"]:
        del s["start_t"], s["end_t"]
    result = {
        "benchmark": "memory",
        "quick": args.quick,
        "settings": {
            "techniques": TECHNIQUES,
            "sampling": "psutil RSS every 10 ms on a background thread, in a fresh subprocess",
            "baseline": "RSS after building the model and one forward pass, before measure()",
            "ratio": "(peak RSS during measure() - baseline RSS) / (parameter + buffer bytes)",
            "ratio_above_post_setup": "the same above the RSS when the baseline's timing starts: leaves out the "
            "fixed set-up cost (modules imported on first use, the catalog), which does not grow with the model",
        },
        **run,
        "versions": versions("torch", "psutil"),
        "machine": machine_info(args.shared),
    }
    write_result(args.out, "memory", result)


if __name__ == "__main__":
    main()
