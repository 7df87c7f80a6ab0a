"""Shared helpers of the measurement benchmarks: statistics, machine record, result files.

Imported by the ``bench_*.py`` scripts, which run as plain scripts (``python benchmarks/bench_x.py``),
so this module sits next to them and is imported by its bare name.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The options every measurement benchmark takes: ``--quick``, ``--out``, ``--shared``."""
    ap.add_argument("--quick", action="store_true", help="a ~30 s smoke run with smaller settings")
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result (default: %(default)s)")
    ap.add_argument(
        "--shared",
        action="store_true",
        help="record that other jobs shared the CPU during this run (numbers are noisier)",
    )


def spread(xs: list[float]) -> dict[str, float]:
    """Median, inter-quartile range, min, max, mean, sample standard deviation and CV of ``xs``.

    The CV (coefficient of variation) is the sample standard deviation over the mean; it is 0 for
    fewer than two values.
    """
    if not xs:
        return {"n": 0}
    med = statistics.median(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [med, med, med]
    mean = statistics.fmean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return {
        "n": len(xs),
        "median": med,
        "iqr": q[2] - q[0],
        "min": min(xs),
        "max": max(xs),
        "mean": mean,
        "stdev": sd,
        "cv": sd / mean if mean else float("nan"),
    }


def _cpu_isa() -> list[str]:
    """The vector and matrix extensions that decide which techniques pay (avx2, avx512*, amx*), from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted({f for f in flags if f in ("avx", "avx2", "fma") or f.startswith(("avx512", "amx", "avx_vnni"))})


def machine_info(shared: bool) -> dict[str, Any]:
    """What ran the benchmark: platform, CPU, cores, threads, load, and whether the CPU was shared."""
    import psutil

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_isa": _cpu_isa(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "shared_machine": shared,
        "shared_note": (
            "taken while other jobs shared the CPU cores: timings and energy estimates are noisier than on a "
            "quiet machine; re-run without --shared on an idle machine for reference figures"
            if shared
            else "no other heavy jobs were declared; check load_average"
        ),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - every measurement benchmark needs torch
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions(*modules: str) -> dict[str, str]:
    """Versions of python, green-dl-advisor and the named modules that are importable."""
    from importlib import import_module

    from advisor import __version__

    out = {"python": platform.python_version(), "green-dl-advisor": __version__}
    for name in modules:
        try:
            out[name] = str(getattr(import_module(name), "__version__", "unknown"))
        except ImportError:
            out[name] = "not installed"
    return out


def write_result(out_dir: Path, name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` as ``<out_dir>/<name>.json`` (adding the finish time and load) and print it."""
    result.setdefault("machine", {})["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"]["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))
    print(f"written: {path}")
    return path
